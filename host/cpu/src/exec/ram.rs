//! Guest RAM reached directly through the memory's RAM window
//! (`Memory::ram_window`), past `Memory::load`/`store`: data accesses under
//! address translation that hit the fast TLB (`tlb::FastEntry`, the probe
//! translated code makes too), and the page copies the instruction cache
//! keeps to survive FENCE.I (`icache`).

use super::ExecResult;
use crate::hart::Hart;
use crate::icache::PAGE;
use crate::insn::Width;
use crate::{Memory, RamWindow};

impl Hart {
    /// `load` in a stretch under address translation (`run_frame`), where
    /// the fast TLB holds entries for the current regime and RAM `window`:
    /// a hit reads RAM directly, as translated code does; a miss takes the
    /// full path and records the page for the next access.
    #[inline(always)]
    pub(crate) fn load_paged<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        addr: u64,
        width: Width,
        window: &RamWindow,
    ) -> ExecResult<u64> {
        match self.tlb.fast_host(addr, width.bytes(), false) {
            // SAFETY: a fast entry holds only for a page inside `window`
            // (`fill_fast`), whose host memory lives as long as the memory;
            // the access is aligned (the tag has the low bits clear), so it
            // stays in the page.
            Some(host) => Ok(unsafe { read_host(host as *const u8, width) }),
            None => self.paged_miss(mem, pc, addr, width, None, window),
        }
    }

    /// `store` as `load_paged` does loads.
    #[inline(always)]
    pub(crate) fn store_paged<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        addr: u64,
        width: Width,
        v: u64,
        window: &RamWindow,
    ) -> ExecResult<()> {
        match self.tlb.fast_host(addr, width.bytes(), true) {
            Some(host) => {
                // SAFETY: as in `load_paged`; the entry allows stores only
                // if the window is writable.
                unsafe { write_host(host as *mut u8, width, v) };
                Ok(())
            }
            None => self.paged_miss(mem, pc, addr, width, Some(v), window).map(drop),
        }
    }

    /// A load (`store` = `None`) or a store of the value the fast TLB
    /// missed, on the full path, then the page's fast entry filled.
    #[inline(never)]
    fn paged_miss<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        addr: u64,
        width: Width,
        store: Option<u64>,
        window: &RamWindow,
    ) -> ExecResult<u64> {
        let v = match store {
            Some(v) => self.store(mem, pc, addr, width, v).map(|()| 0)?,
            None => self.load(mem, pc, addr, width)?,
        };
        self.fill_fast(addr, window);
        Ok(v)
    }
}

/// Call `f` with the bytes of physical page `pa >> 12` if it lies in the
/// memory's RAM window (for the instruction cache's copies, see `icache`).
pub(super) fn with_ram_page<M: Memory, R>(mem: &M, pa: u64, f: impl FnOnce(Option<&[u8; PAGE]>) -> R) -> R {
    let page = pa & !(PAGE as u64 - 1);
    let w = mem.ram_window().filter(|w| w.holds_page(page));
    match w {
        Some(w) => {
            // SAFETY: the page lies in the window (checked above), whose
            // host memory lives as long as `mem`; the hart's thread is the
            // only one writing guest RAM, and it does not while `f` runs
            // (`f` only reads the bytes).
            let bytes = unsafe { &*w.host.add((page - w.base) as usize).cast::<[u8; PAGE]>() };
            f(Some(bytes))
        }
        None => f(None),
    }
}

/// Read a little-endian value of `width` at host address `p`.
///
/// # Safety
/// `p` must be valid for reading `width` bytes.
#[inline(always)]
unsafe fn read_host(p: *const u8, width: Width) -> u64 {
    // SAFETY: the caller's contract; unaligned reads are allowed.
    unsafe {
        match width {
            Width::B => u64::from(p.read()),
            Width::H => u64::from(u16::from_le(p.cast::<u16>().read_unaligned())),
            Width::W => u64::from(u32::from_le(p.cast::<u32>().read_unaligned())),
            Width::D => u64::from_le(p.cast::<u64>().read_unaligned()),
        }
    }
}

/// Write the low `width` bytes of `v`, little-endian, at host address `p`.
///
/// # Safety
/// `p` must be valid for writing `width` bytes, and no reference may
/// cover them.
#[inline(always)]
unsafe fn write_host(p: *mut u8, width: Width, v: u64) {
    // SAFETY: the caller's contract; unaligned writes are allowed.
    unsafe {
        match width {
            Width::B => p.write(v as u8),
            Width::H => p.cast::<u16>().write_unaligned((v as u16).to_le()),
            Width::W => p.cast::<u32>().write_unaligned((v as u32).to_le()),
            Width::D => p.cast::<u64>().write_unaligned(v.to_le()),
        }
    }
}
