//! Feeds arbitrary bytes to the hart as code and data: the host must never
//! panic, whatever the guest does (halts and traps are fine).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wemu_cpu::{AccessInfo, RangeKind, Hart, MemError, Memory, RunExit};

const BASE: u64 = 0x8000_0000;

struct Mem(Vec<u8>);

impl Memory for Mem {
    fn load(&mut self, _at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        let off = addr.checked_sub(BASE).ok_or(MemError::AccessFault)? as usize;
        let bytes = self.0.get(off..off.saturating_add(usize::from(size))).ok_or(MemError::AccessFault)?;
        Ok(bytes.iter().rev().fold(0, |a, b| (a << 8) | u64::from(*b)))
    }
    fn store(&mut self, _at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        let off = addr.checked_sub(BASE).ok_or(MemError::AccessFault)? as usize;
        let bytes = self.0.get_mut(off..off.saturating_add(usize::from(size))).ok_or(MemError::AccessFault)?;
        bytes.copy_from_slice(&value.to_le_bytes()[..usize::from(size)]);
        Ok(())
    }
    fn fetch(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        self.load(at, addr, size)
    }
    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let end = addr.checked_sub(BASE).and_then(|o| o.checked_add(len));
        match end {
            Some(end) if end <= self.0.len() as u64 => RangeKind::Memory { writable: true },
            _ => RangeKind::Nothing,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes seed a0..a7 pointers; the rest is the image.
    let (regs, image) = data.split_at(data.len().min(8));
    let mut mem = Mem(image.to_vec());
    mem.0.resize(4096.max(image.len()), 0);
    let mut hart = Hart::new(0, BASE);
    for (i, b) in regs.iter().enumerate() {
        hart.x[10 + i] = BASE + u64::from(*b) * 8;
    }
    if let RunExit::Halt(h) = hart.run(&mut mem, 10_000) {
        let _ = h.to_string();
    }
});
