//! Guest RAM and ROM: one contiguous block per memory region.
//!
//! The CPU and device DMA share a block (`Rc`), so access is by copy
//! through `&self`; no reference into guest memory ever escapes, which is
//! what makes the interior mutability below sound.

use std::cell::UnsafeCell;
use std::rc::Rc;

/// A block of guest memory at a fixed physical base.
pub struct Ram {
    name: String,
    base: u64,
    read_only: bool,
    bytes: Box<[UnsafeCell<u8>]>,
}

impl std::fmt::Debug for Ram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ram({} @ {:#x}, {} bytes)", self.name, self.base, self.bytes.len())
    }
}

impl Ram {
    /// A zeroed block of `size` bytes at `base`.
    pub fn new(name: &str, base: u64, size: usize, read_only: bool) -> Self {
        let zeroed = vec![0u8; size].into_boxed_slice();
        // SAFETY: UnsafeCell<u8> is repr(transparent) over u8, so a boxed
        // [u8] and a boxed [UnsafeCell<u8>] have the same layout.
        let bytes = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<u8>]) };
        Ram { name: name.to_owned(), base, read_only, bytes }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn base(&self) -> u64 {
        self.base
    }
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Offset of `[addr, addr+len)` inside this block, if wholly inside.
    #[inline]
    pub fn offset_of(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        let end = off.checked_add(len)?;
        (end <= self.size()).then_some(off as usize)
    }

    /// Copy bytes out of guest memory at block offset `off`.
    #[inline]
    pub fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        if off.checked_add(dst.len()).is_none_or(|end| end > self.bytes.len()) {
            return false;
        }
        if dst.is_empty() {
            return true;
        }
        // SAFETY: the range is in bounds (checked above); the block is
        // !Sync and no reference into it outlives a call, so nothing else
        // accesses these bytes during the copy.
        unsafe { std::ptr::copy_nonoverlapping(self.bytes[off].get(), dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copy bytes into guest memory at block offset `off` (ROM included:
    /// this is the loader's and DMA's path; the CPU checks `read_only`).
    #[inline]
    pub fn write(&self, off: usize, src: &[u8]) -> bool {
        if off.checked_add(src.len()).is_none_or(|end| end > self.bytes.len()) {
            return false;
        }
        if src.is_empty() {
            return true;
        }
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.bytes[off].get(), src.len()) };
        true
    }

    /// Little-endian load of 1..=8 bytes.
    ///
    /// The CPU's hot path: the power-of-two sizes are single unaligned
    /// reads, not a variable-length copy (which compiles to a `memmove`
    /// call).
    #[inline]
    pub fn load(&self, off: usize, size: u8) -> Option<u64> {
        let n = usize::from(size);
        if off.checked_add(n).is_none_or(|end| end > self.bytes.len()) {
            return None;
        }
        // SAFETY: `[off, off+n)` is in bounds (checked above), and the
        // pointer comes from the whole slice, so it may read all n bytes.
        // The block is !Sync and no reference into it outlives a call, so
        // nothing writes these bytes during the read. `read_unaligned`
        // has no alignment requirement.
        let p = unsafe { UnsafeCell::raw_get(self.bytes.as_ptr().add(off)) };
        // SAFETY: as above, for each size.
        let v = unsafe {
            match n {
                1 => u64::from(p.read()),
                2 => u64::from(u16::from_le(p.cast::<u16>().read_unaligned())),
                4 => u64::from(u32::from_le(p.cast::<u32>().read_unaligned())),
                8 => u64::from_le(p.cast::<u64>().read_unaligned()),
                _ => {
                    let mut buf = [0u8; 8];
                    std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(8));
                    u64::from_le_bytes(buf)
                }
            }
        };
        Some(v)
    }

    /// Little-endian store of 1..=8 bytes (see `load`).
    #[inline]
    pub fn store(&self, off: usize, size: u8, value: u64) -> bool {
        let n = usize::from(size);
        if off.checked_add(n).is_none_or(|end| end > self.bytes.len()) {
            return false;
        }
        // SAFETY: as in `load`: in bounds, whole-slice provenance, no
        // reference into the block alive, unaligned writes.
        let p = unsafe { UnsafeCell::raw_get(self.bytes.as_ptr().add(off)) };
        // SAFETY: as above, for each size.
        unsafe {
            match n {
                1 => p.write(value as u8),
                2 => p.cast::<u16>().write_unaligned((value as u16).to_le()),
                4 => p.cast::<u32>().write_unaligned((value as u32).to_le()),
                8 => p.cast::<u64>().write_unaligned(value.to_le()),
                _ => std::ptr::copy_nonoverlapping(value.to_le_bytes().as_ptr(), p, n.min(8)),
            }
        }
        true
    }

    /// Zero the whole block (machine reset).
    pub fn clear(&self) {
        let zeros = vec![0u8; 1 << 16];
        let mut off = 0;
        while off < self.bytes.len() {
            let n = (self.bytes.len() - off).min(zeros.len());
            self.write(off, &zeros[..n]);
            off += n;
        }
    }
}

/// The CPU's view of the RAM block its last access hit: bounds and data
/// pointer side by side, so a hit is a subtraction, a compare and the
/// access, with no walk through the block list (`Rc<Ram>` → `Ram` → bytes)
/// first. Holds the block alive.
pub struct RamWindow {
    base: u64,
    /// Offsets below this have 8 bytes in the block (size - 7, or 0 for a
    /// block under 8 bytes and the empty window): one compare covers every
    /// access size. Accesses to the last 7 bytes take the slow path.
    fit8: u64,
    writable: bool,
    /// The block's bytes; null (and `size` 0) for the empty window.
    ptr: *mut u8,
    /// Keeps `ptr` valid.
    ram: Option<Rc<Ram>>,
}

impl std::fmt::Debug for RamWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RamWindow({:#x})", self.base)
    }
}

impl RamWindow {
    /// A window that never hits.
    pub fn empty() -> Self {
        RamWindow { base: 0, fit8: 0, writable: false, ptr: std::ptr::null_mut(), ram: None }
    }

    pub fn new(ram: &Rc<Ram>) -> Self {
        RamWindow {
            base: ram.base,
            fit8: ram.size().saturating_sub(7),
            writable: !ram.read_only,
            ptr: UnsafeCell::raw_get(ram.bytes.as_ptr()),
            ram: Some(Rc::clone(ram)),
        }
    }

    /// Make this the window of `ram` (nothing to do if it already is).
    pub fn show(&mut self, ram: &Rc<Ram>) {
        if !self.ram.as_ref().is_some_and(|r| Rc::ptr_eq(r, ram)) {
            *self = RamWindow::new(ram);
        }
    }

    /// Offset of `addr` in the block if 8 bytes from there are inside it
    /// (so any access of `size` <= 8 is).
    #[inline(always)]
    fn offset(&self, addr: u64, size: u8) -> Option<usize> {
        let off = addr.wrapping_sub(self.base);
        (off < self.fit8 && size <= 8).then_some(off as usize)
    }

    /// `Ram::load` at a guest address; `None` outside the block.
    #[inline(always)]
    pub fn load(&self, addr: u64, size: u8) -> Option<u64> {
        let off = self.offset(addr, size)?;
        // SAFETY: `[off, off+size)` lies in the block (checked above; the
        // empty window has `fit8` 0, so it never gets here), `ptr` has the
        // provenance of the whole block and `ram` keeps it allocated.
        // As in `Ram::load`: the block is !Sync and no reference into it
        // outlives a call, so nothing writes these bytes during the read.
        let p = unsafe { self.ptr.add(off) };
        // SAFETY: as above, for each size; unaligned reads.
        Some(unsafe {
            match size {
                1 => u64::from(p.read()),
                2 => u64::from(u16::from_le(p.cast::<u16>().read_unaligned())),
                4 => u64::from(u32::from_le(p.cast::<u32>().read_unaligned())),
                8 => u64::from_le(p.cast::<u64>().read_unaligned()),
                _ => return None,
            }
        })
    }

    /// `Ram::store` at a guest address: `Some(true)` done, `Some(false)`
    /// refused (ROM or an unsupported size), `None` outside the block.
    #[inline(always)]
    pub fn store(&self, addr: u64, size: u8, value: u64) -> Option<bool> {
        let off = self.offset(addr, size)?;
        if !self.writable {
            return Some(false);
        }
        // SAFETY: as in `load`.
        let p = unsafe { self.ptr.add(off) };
        // SAFETY: as in `load`, for each size; unaligned writes.
        unsafe {
            match size {
                1 => p.write(value as u8),
                2 => p.cast::<u16>().write_unaligned((value as u16).to_le()),
                4 => p.cast::<u32>().write_unaligned((value as u32).to_le()),
                8 => p.cast::<u64>().write_unaligned(value.to_le()),
                _ => return Some(false),
            }
        }
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_stores_are_little_endian_and_bounded() {
        let ram = Ram::new("ram", 0x8000_0000, 16, false);
        assert!(ram.store(8, 8, 0x1122_3344_5566_7788));
        assert_eq!(ram.load(8, 2), Some(0x7788));
        assert_eq!(ram.load(12, 4), Some(0x1122_3344));
        assert_eq!(ram.load(9, 8), None, "runs past the end");
        assert!(!ram.store(16, 1, 0));
        assert_eq!(ram.offset_of(0x8000_000f, 1), Some(15));
        assert_eq!(ram.offset_of(0x8000_000f, 2), None);
        assert_eq!(ram.offset_of(0x7fff_ffff, 1), None);
        assert_eq!(ram.offset_of(u64::MAX, 2), None, "no overflow");
    }

    #[test]
    fn window_matches_the_block() {
        let ram = Rc::new(Ram::new("ram", 0x8000_0000, 16, false));
        let w = RamWindow::new(&ram);
        assert_eq!(w.store(0x8000_0008, 8, 0x1122_3344_5566_7788), Some(true));
        assert_eq!(ram.load(8, 8), Some(0x1122_3344_5566_7788));
        assert_eq!(w.load(0x8000_0008, 1), Some(0x88));
        assert_eq!(w.load(0x8000_0009, 8), None, "runs past the end");
        // The last 7 bytes are left to the slow path, whatever the size.
        assert_eq!(w.load(0x8000_000f, 1), None);
        assert_eq!(w.load(0x8000_0009, 1), None);
        assert_eq!(w.load(0x7fff_ffff, 1), None, "below the base");
        assert_eq!(w.load(u64::MAX, 8), None, "no overflow");
        assert_eq!(w.store(0x8000_0010, 1, 0), None);
        let rom = Rc::new(Ram::new("rom", 0x1000, 16, true));
        assert_eq!(RamWindow::new(&rom).store(0x1000, 4, 1), Some(false), "read-only");
        assert_eq!(RamWindow::new(&rom).load(0x1000, 4), Some(0));
        assert_eq!(RamWindow::empty().load(0, 1), None);
        let tiny = Rc::new(Ram::new("tiny", 0, 4, false));
        assert_eq!(RamWindow::new(&tiny).load(0, 1), None, "under 8 bytes: never a hit");
        assert_eq!(RamWindow::empty().store(0, 1, 0), None);
    }

    #[test]
    fn every_size_and_alignment_round_trips() {
        let ram = Ram::new("ram", 0, 32, false);
        for size in [1u8, 2, 3, 4, 8] {
            for off in 0..=(32 - usize::from(size)) {
                let v = 0x0102_0304_0506_0708u64.wrapping_mul(off as u64 + 1);
                let mask = if size == 8 { u64::MAX } else { (1u64 << (8 * size)) - 1 };
                assert!(ram.store(off, size, v));
                assert_eq!(ram.load(off, size), Some(v & mask), "size {size} off {off}");
                let mut bytes = vec![0u8; usize::from(size)];
                assert!(ram.read(off, &mut bytes));
                assert_eq!(bytes, v.to_le_bytes()[..usize::from(size)], "little-endian");
            }
            assert_eq!(ram.load(33 - usize::from(size), size), None);
            assert!(!ram.store(33 - usize::from(size), size, 0));
            assert_eq!(ram.load(usize::MAX, size), None, "no overflow");
        }
    }
}
