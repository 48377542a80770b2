//! The sandbox's block backend: an image held in memory, which the fuzzer
//! resets between inputs without I/O, and whose requests it can make fail.

use std::cell::{Cell, RefCell};

use wemu_sandbox::backend::{BlockBackend, BlockError};

/// An image of bytes kept in memory (writes never reach a file).
pub struct MemoryImage {
    data: RefCell<Vec<u8>>,
    /// Whether a write touched the bytes since `take_dirty`.
    dirty: Cell<bool>,
    read_only: bool,
    /// Requests left to fail with `Io` (fault injection: the fuzzer decides
    /// how the backend answers).
    failures: Cell<u32>,
}

impl MemoryImage {
    pub fn new(bytes: Vec<u8>, read_only: bool) -> Self {
        MemoryImage { data: RefCell::new(bytes), dirty: Cell::new(false), read_only, failures: Cell::new(0) }
    }

    /// Make the next `n` requests (read, write or flush) fail with `Io`,
    /// as a failing disk would.
    pub fn fail_next(&self, n: u32) {
        self.failures.set(n);
    }

    /// Requests still to fail (see `fail_next`).
    pub fn failures_pending(&self) -> u32 {
        self.failures.get()
    }

    /// Consume one injected failure, if any is pending.
    fn injected_failure(&self) -> Result<(), BlockError> {
        match self.failures.get() {
            0 => Ok(()),
            n => {
                self.failures.set(n - 1);
                Err(BlockError::Io)
            }
        }
    }

    /// Whether it was written since the last call (and clear that mark).
    pub fn take_dirty(&self) -> bool {
        self.dirty.replace(false)
    }

    /// Whether it was written since `take_dirty`.
    pub fn is_dirty(&self) -> bool {
        self.dirty.get()
    }

    /// Replace its contents with `bytes` (same size; extra bytes are
    /// ignored, missing ones zeroed). Counts as a write.
    pub fn set_contents(&self, bytes: &[u8]) {
        let mut data = self.data.borrow_mut();
        let n = data.len().min(bytes.len());
        data[..n].copy_from_slice(&bytes[..n]);
        data[n..].fill(0);
        self.dirty.set(true);
    }

    /// A copy of its contents.
    pub fn contents(&self) -> Vec<u8> {
        self.data.borrow().clone()
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), BlockError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(BlockError::OutOfRange),
        }
    }
}

impl BlockBackend for MemoryImage {
    fn size(&self) -> u64 {
        self.data.borrow().len() as u64
    }

    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        self.injected_failure()?;
        self.check(offset, u64::from(len))?;
        // In range: checked above against the length.
        Ok(self.data.borrow()[offset as usize..][..len as usize].to_vec())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        self.injected_failure()?;
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        self.check(offset, data.len() as u64)?;
        self.data.borrow_mut()[offset as usize..][..data.len()].copy_from_slice(data);
        self.dirty.set(true);
        Ok(())
    }

    fn flush(&self) -> Result<(), BlockError> {
        self.injected_failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_images_track_writes() {
        let img = MemoryImage::new(vec![0; 1024], false);
        assert!(!img.take_dirty());
        img.write(1020, b"wemu").unwrap();
        assert_eq!(img.read(1020, 4).unwrap(), b"wemu");
        assert_eq!(img.read(1021, 4), Err(BlockError::OutOfRange));
        assert!(img.is_dirty());
        assert!(img.take_dirty());
        assert!(!img.take_dirty(), "the mark is cleared by taking it");
        assert!(!img.is_dirty());
        img.fail_next(2);
        assert_eq!(img.read(0, 4), Err(BlockError::Io));
        assert_eq!(img.write(0, b"x"), Err(BlockError::Io));
        assert_eq!(img.failures_pending(), 0);
        assert_eq!(img.flush(), Ok(()));
        assert!(!img.take_dirty(), "a failed write writes nothing");
        img.set_contents(&[7; 4]);
        assert_eq!(img.contents()[..5], [7, 7, 7, 7, 0]);
        assert!(img.take_dirty());
        assert_eq!(MemoryImage::new(vec![0; 8], true).write(0, b"x"), Err(BlockError::ReadOnly));
    }
}
