//! Pre-decoded instruction cache.
//!
//! Decoding is a large share of an interpreter's time, and almost every
//! instruction executed has been executed before. The cache keeps the
//! `Decoded` form of instructions per 4 KiB page of PHYSICAL memory (the
//! executor translates the pc before looking up, see `Hart::fetch` in
//! `exec.rs`, so paging needs no flush here), one
//! slot per halfword (`(pc & 0xfff) >> 1`), filled lazily on first
//! execution. A 32-bit instruction at offset 0xffe, whose second half lies
//! in the next page, is cached in the slot of its first halfword like any
//! other.
//!
//! Pages are direct-mapped onto `WAYS` frames by page number, so memory
//! stays bounded (about `WAYS` × 2048 × `size_of::<Decoded>()`) and lookup
//! is a tag compare, no hashing. A page that loses its frame to another
//! one is simply decoded again later.
//!
//! Coherence: RISC-V only guarantees that instruction fetches see earlier
//! stores after a FENCE.I (Zifencei), and that is when the hart flushes
//! this cache. Code that modifies instructions (or has a device DMA them)
//! without a FENCE.I may execute the stale, previously decoded
//! instructions. The machine flushes the cache itself whenever it writes
//! guest memory behind the hart's back: after loading an image and on
//! reset.

use crate::insn::{Decoded, Insn};

const PAGE_SHIFT: u32 = 12;
/// Slots per page: one per 2-byte parcel (IALIGN = 16 with C).
const SLOTS: usize = 1 << (PAGE_SHIFT - 1);
/// Frames (cached pages). 256 frames cover 1 MiB of contiguous code.
const WAYS: usize = 256;
/// A tag no page can have: page numbers are below 2^52.
const NO_PAGE: u64 = u64::MAX;
/// An empty slot; real entries have `len` 2 or 4.
const EMPTY: Decoded = Decoded { insn: Insn::Illegal, len: 0, raw: 0 };

#[derive(Clone)]
pub(crate) struct ICache {
    /// Page number held by each frame, or `NO_PAGE`.
    tags: Box<[u64]>,
    /// Each frame's slots; allocated on the frame's first use.
    frames: Box<[Option<Box<[Decoded]>>]>,
}

impl std::fmt::Debug for ICache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pages = self.tags.iter().filter(|&&t| t != NO_PAGE).count();
        write!(f, "ICache({pages} pages)")
    }
}

impl Default for ICache {
    fn default() -> Self {
        ICache { tags: vec![NO_PAGE; WAYS].into_boxed_slice(), frames: vec![None; WAYS].into_boxed_slice() }
    }
}

impl ICache {
    #[inline]
    fn frame_of(page: u64) -> usize {
        (page as usize) & (WAYS - 1)
    }

    #[inline]
    fn slot_of(pc: u64) -> usize {
        ((pc as usize) & ((1 << PAGE_SHIFT) - 1)) >> 1
    }

    /// The decoded instruction at `pc`, if cached. An odd `pc` never hits,
    /// so the slow path raises the misaligned-fetch exception.
    #[inline]
    pub(crate) fn get(&self, pc: u64) -> Option<Decoded> {
        let page = pc >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        if self.tags[frame] != page || pc & 1 != 0 {
            return None;
        }
        let d = *self.frames[frame].as_ref()?.get(Self::slot_of(pc))?;
        (d.len != 0).then_some(d)
    }

    /// Remember the instruction decoded at (even) `pc`.
    pub(crate) fn insert(&mut self, pc: u64, d: Decoded) {
        if pc & 1 != 0 {
            return;
        }
        let page = pc >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        let slots = self.frames[frame].get_or_insert_with(|| vec![EMPTY; SLOTS].into_boxed_slice());
        if self.tags[frame] != page {
            // The frame held another page (or none since the last flush).
            slots.fill(EMPTY);
            self.tags[frame] = page;
        }
        if let Some(slot) = slots.get_mut(Self::slot_of(pc)) {
            *slot = d;
        }
    }

    /// Forget everything (FENCE.I, reset, memory written by the machine).
    /// Frames keep their allocation; `insert` clears a frame it reuses.
    pub(crate) fn flush(&mut self) {
        self.tags.fill(NO_PAGE);
    }
}
