//! Register maps: declare each register's offset, width and bit behaviour
//! once, and let [`RegMap`] decode offsets, merge partial writes and apply
//! read-only, write-1-to-clear and reserved bits.
//!
//! The map is a `const` (the model's "datasheet"); the values live in the
//! device's state as a plain `Vec<u64>`, so they save/restore with serde.
//!
//! ```
//! use wemu_device_sdk::regs::{RegMap, RegSpec};
//! const MAP: RegMap = RegMap::new(&[
//!     RegSpec::new("ctrl", 0x0, 4).writable(0x0000_00ff),   // bits 8.. reserved
//!     RegSpec::new("status", 0x4, 4).w1c(0x3),               // write 1 to clear
//!     RegSpec::new("id", 0x8, 4).reset(0x5745_4d55),         // read-only
//! ]);
//! let mut vals = MAP.reset_values();
//! MAP.write(&mut vals, 0x0, 4, 0xffff_ffff).unwrap();
//! assert_eq!(MAP.read(&vals, 0x0, 4).unwrap().1, 0xff);
//! ```

use crate::AccessError;

/// One register: where it is and how a guest write changes it. Bits that
/// are neither `writable` nor `w1c` are read-only: they keep whatever the
/// model (or `reset`) put there, and reserved bits are read-only bits that
/// stay zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegSpec {
    pub name: &'static str,
    pub offset: u64,
    /// Width in bytes (1, 2, 4 or 8).
    pub width: u8,
    pub reset: u64,
    pub writable: u64,
    pub w1c: u64,
}

impl RegSpec {
    /// A read-only register of `width` bytes at `offset`, reset to 0.
    pub const fn new(name: &'static str, offset: u64, width: u8) -> Self {
        RegSpec { name, offset, width, reset: 0, writable: 0, w1c: 0 }
    }
    /// Value after reset.
    pub const fn reset(mut self, value: u64) -> Self {
        self.reset = value;
        self
    }
    /// Bits a write sets to the written value.
    pub const fn writable(mut self, mask: u64) -> Self {
        self.writable = mask;
        self
    }
    /// Bits a write of 1 clears (a write of 0 leaves them).
    pub const fn w1c(mut self, mask: u64) -> Self {
        self.w1c = mask;
        self
    }
    fn width_mask(&self) -> u64 {
        if self.width >= 8 { u64::MAX } else { (1u64 << (self.width * 8)) - 1 }
    }
    /// The register's value after a guest writes `written` (already merged
    /// to full register width) with byte-enable mask `enabled`.
    pub fn apply_write(&self, current: u64, written: u64, enabled: u64) -> u64 {
        let rw = self.writable & enabled;
        let cleared = self.w1c & enabled & written;
        ((current & !rw) | (written & rw)) & !cleared & self.width_mask()
    }
}

/// A register map: a set of non-overlapping registers.
#[derive(Debug, Clone, Copy)]
pub struct RegMap {
    pub regs: &'static [RegSpec],
}

impl RegMap {
    pub const fn new(regs: &'static [RegSpec]) -> Self {
        RegMap { regs }
    }

    /// The reset value of every register, indexed like `regs`.
    pub fn reset_values(&self) -> Vec<u64> {
        self.regs.iter().map(|r| r.reset).collect()
    }

    /// Index of the register named `name` (for the model's own use).
    pub fn index(&self, name: &str) -> Option<usize> {
        self.regs.iter().position(|r| r.name == name)
    }

    /// Find the register holding `size` bytes at `offset`. An access must
    /// be naturally aligned, no wider than the register, and inside it.
    pub fn decode(&self, offset: u64, size: u8) -> Result<(usize, u32), AccessError> {
        if !matches!(size, 1 | 2 | 4 | 8) || !offset.is_multiple_of(u64::from(size)) {
            return Err(AccessError::InvalidSize);
        }
        let (idx, reg) = self
            .regs
            .iter()
            .enumerate()
            .find(|(_, r)| offset >= r.offset && offset < r.offset + u64::from(r.width))
            .ok_or(AccessError::InvalidOffset)?;
        if size > reg.width {
            return Err(AccessError::InvalidSize);
        }
        Ok((idx, ((offset - reg.offset) * 8) as u32))
    }

    /// Read: returns the register index and the accessed bytes.
    pub fn read(&self, values: &[u64], offset: u64, size: u8) -> Result<(usize, u64), AccessError> {
        let (idx, shift) = self.decode(offset, size)?;
        let v = values.get(idx).copied().ok_or(AccessError::InvalidOffset)?;
        Ok((idx, (v >> shift) & size_mask(size)))
    }

    /// Write: merges a partial write and applies the bit rules; returns the
    /// register index so the model can act on side effects.
    pub fn write(&self, values: &mut [u64], offset: u64, size: u8, value: u64) -> Result<usize, AccessError> {
        let (idx, shift) = self.decode(offset, size)?;
        let spec = &self.regs[idx];
        let enabled = size_mask(size) << shift;
        let slot = values.get_mut(idx).ok_or(AccessError::InvalidOffset)?;
        *slot = spec.apply_write(*slot, (value & size_mask(size)) << shift, enabled);
        Ok(idx)
    }
}

fn size_mask(size: u8) -> u64 {
    if size >= 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: RegMap = RegMap::new(&[
        RegSpec::new("ctrl", 0x0, 4).writable(0xff),
        RegSpec::new("isr", 0x4, 4).w1c(0xf).reset(0xf),
        RegSpec::new("id", 0x8, 4).reset(0x1234_5678),
        RegSpec::new("wide", 0x10, 8).writable(u64::MAX),
    ]);

    #[test]
    fn reserved_bits_stay_zero() {
        let mut v = MAP.reset_values();
        MAP.write(&mut v, 0x0, 4, 0xffff_ffff).unwrap();
        assert_eq!(MAP.read(&v, 0x0, 4).unwrap(), (0, 0xff));
    }

    #[test]
    fn write_one_clears_only_the_written_ones() {
        let mut v = MAP.reset_values();
        MAP.write(&mut v, 0x4, 4, 0b0101).unwrap();
        assert_eq!(MAP.read(&v, 0x4, 4).unwrap().1, 0b1010);
    }

    #[test]
    fn read_only_ignores_writes() {
        let mut v = MAP.reset_values();
        MAP.write(&mut v, 0x8, 4, 0).unwrap();
        assert_eq!(MAP.read(&v, 0x8, 4).unwrap().1, 0x1234_5678);
    }

    #[test]
    fn partial_accesses_hit_the_right_bytes() {
        let mut v = MAP.reset_values();
        assert_eq!(MAP.read(&v, 0xa, 2).unwrap().1, 0x1234);
        MAP.write(&mut v, 0x14, 4, 0xdead_beef).unwrap();
        MAP.write(&mut v, 0x10, 1, 0x11).unwrap();
        assert_eq!(MAP.read(&v, 0x10, 8).unwrap().1, 0xdead_beef_0000_0011);
    }

    #[test]
    fn bad_offsets_and_sizes_are_refused() {
        let v = MAP.reset_values();
        assert_eq!(MAP.read(&v, 0xc, 4), Err(AccessError::InvalidOffset));
        assert_eq!(MAP.read(&v, 0x0, 8), Err(AccessError::InvalidSize));
        assert_eq!(MAP.read(&v, 0x1, 2), Err(AccessError::InvalidSize));
        assert_eq!(MAP.read(&v, 0x0, 3), Err(AccessError::InvalidSize));
    }
}
