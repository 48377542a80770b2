//! Guest RAM and ROM: one contiguous block per memory region.
//!
//! The CPU and device DMA share a block (`Rc`), so access is by copy
//! through `&self`; no reference into guest memory ever escapes, which is
//! what makes the interior mutability below sound.
//!
//! A block is an anonymous `MAP_NORESERVE` mapping, as QEMU reserves guest
//! RAM: pages are committed when first touched, and a block larger than
//! the host's RAM plus swap can still be reserved (a zeroed `Vec` of that
//! size is refused by the kernel's overcommit check, and the allocator
//! then aborts the process).

use std::ptr::NonNull;
use std::rc::Rc;

use wemu_sandbox::backend::DmaMemory;

/// Why a block of guest memory could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memory '{name}': cannot reserve {size} bytes ({size:#x}) of host memory for it: {reason}")]
pub struct RamError {
    pub name: String,
    pub size: u64,
    pub reason: String,
}

/// A block of guest memory at a fixed physical base.
pub struct Ram {
    name: String,
    base: u64,
    read_only: bool,
    /// Start of the mapping (dangling, never dereferenced, when `len` is 0).
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `Ram` owns its mapping exclusively, as a `Box<[u8]>` owns its
// allocation, so moving it to another thread is sound. It stays !Sync:
// access through `&self` writes the bytes without synchronisation.
unsafe impl Send for Ram {}

impl std::fmt::Debug for Ram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ram({} @ {:#x}, {} bytes)", self.name, self.base, self.len)
    }
}

impl Drop for Ram {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `ptr`/`len` are exactly the mapping `try_new` made, it is
        // unmapped only here, and every `RamWindow` pointing into it holds
        // an `Rc` to this block, so none outlives the mapping.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl Ram {
    /// A zeroed block of `size` bytes at `base`, for host-chosen sizes
    /// (the fuzzer's sandbox, tests); a size from the user goes through
    /// [`Ram::try_new`].
    ///
    /// # Panics
    /// If the host cannot reserve `size` bytes of address space.
    #[cfg(test)]
    pub fn new(name: &str, base: u64, size: usize, read_only: bool) -> Self {
        Self::try_new(name, base, size, read_only).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A zeroed block of `size` bytes at `base`, reserved but not
    /// committed: an error naming the region and the size if the host
    /// refuses the reservation (beyond its address space, or under strict
    /// overcommit accounting, `vm.overcommit_memory = 2`).
    pub fn try_new(name: &str, base: u64, size: usize, read_only: bool) -> Result<Self, RamError> {
        let mut ram = Ram { name: name.to_owned(), base, read_only, ptr: NonNull::dangling(), len: 0 };
        if size == 0 {
            return Ok(ram);
        }
        // SAFETY: a fresh anonymous private mapping at an address of the
        // kernel's choosing: it aliases nothing. MAP_NORESERVE skips swap
        // accounting, so the size is limited by the address space only.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(RamError {
                name: name.to_owned(),
                size: size as u64,
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        ram.ptr = NonNull::new(p.cast()).ok_or_else(|| RamError {
            name: name.to_owned(),
            size: size as u64,
            reason: "the kernel returned a null mapping".to_owned(),
        })?;
        ram.len = size;
        Ok(ram)
    }

    /// A pointer to byte `off` (`off <= len`), with the provenance of the
    /// whole mapping.
    #[inline(always)]
    fn at(&self, off: usize) -> *mut u8 {
        // SAFETY: callers pass `off <= len` (checked against `len` first),
        // so the result is inside the mapping or one past its end.
        unsafe { self.ptr.as_ptr().add(off) }
    }

    pub fn base(&self) -> u64 {
        self.base
    }
    pub fn size(&self) -> u64 {
        self.len as u64
    }
    pub fn read_only(&self) -> bool {
        self.read_only
    }
    /// The host address of the block's first byte (for generated code, see
    /// `Platform::ram_window`). The block is never moved; it is unmapped
    /// when the last `Rc<Ram>` goes, so a user must keep the machine alive.
    pub fn host_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
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
        if off.checked_add(dst.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        if dst.is_empty() {
            return true;
        }
        // SAFETY: the range is in bounds (checked above); the block is
        // !Sync and no reference into it outlives a call, so nothing else
        // accesses these bytes during the copy.
        unsafe { std::ptr::copy_nonoverlapping(self.at(off), dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Copy bytes into guest memory at block offset `off` (ROM included:
    /// this is the loader's and DMA's path; the CPU checks `read_only`).
    #[inline]
    pub fn write(&self, off: usize, src: &[u8]) -> bool {
        if off.checked_add(src.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        if src.is_empty() {
            return true;
        }
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.at(off), src.len()) };
        true
    }

    /// Zero `len` bytes at block offset `off` (an image's bss), in chunks:
    /// no buffer as large as the range.
    pub fn write_zeros(&self, off: usize, len: usize) -> bool {
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            return false;
        }
        let zeros = [0u8; 4096];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(zeros.len());
            self.write(off + done, &zeros[..n]);
            done += n;
        }
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
        if off.checked_add(n).is_none_or(|end| end > self.len) {
            return None;
        }
        // `[off, off+n)` is in bounds (checked above), and the pointer
        // comes from the whole mapping, so it may read all n bytes.
        let p = self.at(off);
        // SAFETY: the n bytes at `p` are in the mapping (above). The block
        // is !Sync and no reference into it outlives a call, so nothing
        // writes these bytes during the read. `read_unaligned` has no
        // alignment requirement.
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
        if off.checked_add(n).is_none_or(|end| end > self.len) {
            return false;
        }
        let p = self.at(off);
        // SAFETY: as in `load`: in bounds, whole-mapping provenance, no
        // reference into the block alive, unaligned writes.
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

    /// Zero the whole block (machine reset). Cheap however large the
    /// block: the pages are handed back to the kernel, and the next touch
    /// of one maps a fresh zero page, so RAM the guest never used costs
    /// nothing here.
    pub fn clear(&self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: the range is exactly our private anonymous mapping; on
        // such memory MADV_DONTNEED drops the pages and later reads see
        // zeros. No reference into the block is alive (see the module
        // comment), and `RamWindow`s keep only the base pointer, which
        // stays valid: the mapping itself is not changed.
        let r = unsafe { libc::madvise(self.ptr.as_ptr().cast(), self.len, libc::MADV_DONTNEED) };
        if r != 0 {
            // Not expected on anonymous memory; zero it by hand then.
            self.write_zeros(0, self.len);
        }
    }
}

/// DMA reaches RAM through the sandbox's trait (not on the hart's path).
impl DmaMemory for Ram {
    fn offset_of(&self, addr: u64, len: u64) -> Option<usize> {
        Ram::offset_of(self, addr, len)
    }
    fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        Ram::read(self, off, dst)
    }
    fn write(&self, off: usize, src: &[u8]) -> bool {
        Ram::write(self, off, src)
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
            ptr: ram.ptr.as_ptr(),
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
    fn a_reservation_beyond_the_address_space_is_an_error_naming_region_and_size() {
        // 2^50 bytes: above the 47-bit user address space of x86-64 and
        // the 39/48-bit ones of AArch64 and RV64, so no mmap can give it.
        let size = 1usize << 50;
        let err = Ram::try_new("bigram", 0x8000_0000, size, false).expect_err("no host maps 1 PiB");
        assert_eq!((err.name.as_str(), err.size), ("bigram", size as u64));
        let msg = err.to_string();
        assert!(msg.contains("'bigram'") && msg.contains(&size.to_string()), "{msg}");
    }

    #[test]
    fn clear_zeroes_what_was_written_and_the_block_stays_usable() {
        let ram = Rc::new(Ram::new("ram", 0x8000_0000, 3 << 20, false));
        let window = RamWindow::new(&ram);
        for off in [0usize, 4095, 1 << 20, (3 << 20) - 8] {
            assert!(ram.store(off, 8, u64::MAX));
        }
        ram.clear();
        for off in [0usize, 4095, 1 << 20, (3 << 20) - 8] {
            assert_eq!(ram.load(off, 8), Some(0), "offset {off:#x}");
        }
        // The window taken before the clear still sees the same block.
        assert_eq!(window.store(0x8000_0010, 4, 0xdead_beef), Some(true));
        assert_eq!(ram.load(0x10, 4), Some(0xdead_beef));
        let empty = Ram::new("empty", 0, 0, false);
        empty.clear();
        assert_eq!(empty.load(0, 1), None);
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
