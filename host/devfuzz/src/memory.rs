//! The sandbox's RAM: the one DMA window a fuzzed device is granted.

use std::cell::RefCell;

use wemu_sandbox::backend::DmaMemory;

/// `size` zeroed bytes at guest-physical `base`.
pub(crate) struct SandboxRam {
    base: u64,
    bytes: RefCell<Vec<u8>>,
}

impl SandboxRam {
    pub(crate) fn new(base: u64, size: usize) -> Self {
        SandboxRam { base, bytes: RefCell::new(vec![0; size]) }
    }
}

impl DmaMemory for SandboxRam {
    fn offset_of(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        let end = off.checked_add(len)?;
        (end <= self.bytes.borrow().len() as u64).then_some(off as usize)
    }

    fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        let bytes = self.bytes.borrow();
        match off.checked_add(dst.len()).and_then(|end| bytes.get(off..end)) {
            Some(src) => {
                dst.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    fn write(&self, off: usize, src: &[u8]) -> bool {
        let mut bytes = self.bytes.borrow_mut();
        match off.checked_add(src.len()).and_then(|end| bytes.get_mut(off..end)) {
            Some(dst) => {
                dst.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_inside_the_window_only() {
        let ram = SandboxRam::new(0x1000, 16);
        assert!(ram.write(12, b"wemu"));
        let mut buf = [0; 4];
        assert!(ram.read(12, &mut buf));
        assert_eq!(&buf, b"wemu");
        assert!(!ram.write(13, b"wemu"), "runs past the end");
        assert_eq!(ram.offset_of(0x100f, 1), Some(15));
        assert_eq!(ram.offset_of(0x100f, 2), None);
        assert_eq!(ram.offset_of(u64::MAX, 2), None, "no overflow");
    }
}
