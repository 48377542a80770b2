//! Pre-decoded instruction cache.
//!
//! Decoding is a large share of an interpreter's time, and almost every
//! instruction executed has been executed before. The cache keeps
//! instructions decoded and lowered to their executable form
//! (`uop::Entry`) per 4 KiB page of PHYSICAL memory (the
//! executor translates the pc before looking up, see `Hart::fetch` in
//! `exec.rs`, so paging needs no flush here), one
//! slot per halfword (`(pc & 0xfff) >> 1`), filled lazily on first
//! execution. A 32-bit instruction at offset 0xffe, whose second half lies
//! in the next page, is cached in the slot of its first halfword as
//! `Op::Slow`, so only `Hart::step` runs it, after checking the fetch of
//! both halves (`Hart::run` checks fetch permission once per page).
//!
//! Pages are direct-mapped onto `WAYS` frames by page number, so memory
//! stays bounded (`WAYS` × 2048 entries of 16 bytes and a 4 KiB copy,
//! 36 MiB, allocated as frames are first used) and lookup
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
//!
//! A flush parks frames instead of forgetting them. Linux runs FENCE.I
//! hundreds of times while booting (each time it maps an executable user
//! page), and decoding everything again after each one took a third of
//! the interpreter's time. A frame of a RAM page keeps a copy of the
//! page's bytes taken when it started holding the page (`snaps`); every
//! entry decoded into it afterwards is checked against that copy (a
//! mismatch means the page changed without a FENCE.I: the frame starts
//! afresh from memory as it is now). After a flush, a parked frame comes
//! back (`restore`) only if the page's bytes still equal the copy, so it
//! holds exactly what decoding the page now would give.

use crate::uop::Entry;

pub(crate) const PAGE_SHIFT: u32 = 12;
/// Slots per page: one per 2-byte parcel (IALIGN = 16 with C).
pub(crate) const SLOTS: usize = 1 << (PAGE_SHIFT - 1);
/// Frames (cached pages). 1024 frames cover 4 MiB of contiguous code: a
/// Linux boot's kernel and user code fit without many conflicts (with
/// 256 it decoded 4.5 times as many instructions, docs/performance.md).
const WAYS: usize = 1024;
/// A tag no page can have: page numbers are below 2^52.
const NO_PAGE: u64 = u64::MAX;

/// The entries of one cached page, indexed by `slot_of`.
pub(crate) type Frame = Box<[Entry; SLOTS]>;

#[derive(Clone)]
pub(crate) struct ICache {
    /// Page number held by each frame, or `NO_PAGE`.
    tags: Box<[u64; WAYS]>,
    /// Each frame's slots; allocated on the frame's first use, and `None`
    /// while `Hart::run` executes from it (see `take`).
    frames: Box<[Option<Frame>; WAYS]>,
    /// Bumped whenever a frame starts holding a page: translations built
    /// from a frame are valid while its tag and generation are unchanged
    /// (entries of a frame only ever go from empty to decoded).
    generations: Box<[u64; WAYS]>,
    /// Bumped whenever any frame changes page or the cache is flushed:
    /// what the JIT's indirect-jump cache was filled under holds while it
    /// is unchanged.
    epoch: u64,
    /// Per frame, the bytes of its RAM page when the frame started
    /// holding it (`None` for a page outside RAM: a flush drops it).
    snaps: Box<[Option<Box<[u8; PAGE]>>; WAYS]>,
    /// Per frame, the page it held before the last flush, if `restore`
    /// may bring it back, else `NO_PAGE`.
    parked: Box<[u64; WAYS]>,
}

/// Bytes per page.
pub(crate) const PAGE: usize = 1 << PAGE_SHIFT;

impl std::fmt::Debug for ICache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pages = self.tags.iter().filter(|&&t| t != NO_PAGE).count();
        write!(f, "ICache({pages} pages)")
    }
}

impl Default for ICache {
    fn default() -> Self {
        ICache {
            tags: Box::new([NO_PAGE; WAYS]),
            frames: Box::new([const { None }; WAYS]),
            generations: Box::new([0; WAYS]),
            epoch: 0,
            snaps: Box::new([const { None }; WAYS]),
            parked: Box::new([NO_PAGE; WAYS]),
        }
    }
}

/// A generation no frame of any cache had before: a translation made
/// from one hart's cache can never pass for current in a new cache (a
/// hart made afresh on reset).
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The slot of (physical or virtual: pages are 4 KiB either way) `pc`.
#[inline(always)]
pub(crate) fn slot_of(pc: u64) -> usize {
    ((pc as usize) & ((1 << PAGE_SHIFT) - 1)) >> 1
}

fn empty_frame() -> Frame {
    let slots: Box<[Entry]> = vec![Entry::EMPTY; SLOTS].into_boxed_slice();
    match slots.try_into() {
        Ok(frame) => frame,
        Err(_) => unreachable!("the vector has SLOTS entries"),
    }
}

impl ICache {
    #[inline(always)]
    fn frame_of(page: u64) -> usize {
        (page as usize) & (WAYS - 1)
    }

    /// The entry at `pc`, if decoded. An odd `pc` never hits, so the slow
    /// path raises the misaligned-fetch exception.
    #[inline]
    pub(crate) fn get(&self, pc: u64) -> Option<Entry> {
        let page = pc >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        if self.tags[frame] != page || pc & 1 != 0 {
            return None;
        }
        let e = self.frames[frame].as_ref()?[slot_of(pc)];
        (e.len != 0).then_some(e)
    }

    /// Remember the entry for (even) physical `pc`, decoded from `bytes`
    /// (its page's bytes now, when the page is RAM).
    pub(crate) fn insert(&mut self, pc: u64, e: Entry, bytes: Option<&[u8; PAGE]>) {
        if pc & 1 != 0 {
            return;
        }
        let page = pc >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        let off = (pc as usize) & (PAGE - 1);
        // What of the instruction lies in this page.
        let end = (off + usize::from(e.len).max(2)).min(PAGE);
        let same = match (&self.snaps[frame], bytes) {
            (Some(snap), Some(now)) => snap.get(off..end) == now.get(off..end),
            (None, None) => true,
            _ => false,
        };
        if self.tags[frame] != page || !same {
            // The frame held another page (or none since the last flush),
            // or its page changed since the frame took it.
            self.frames[frame].get_or_insert_with(empty_frame).fill(Entry::EMPTY);
            self.tags[frame] = page;
            self.generations[frame] = next_generation();
            self.epoch = self.epoch.wrapping_add(1);
            self.parked[frame] = NO_PAGE;
            self.snaps[frame] = bytes.map(|b| match self.snaps[frame].take() {
                Some(mut snap) => {
                    snap.copy_from_slice(b);
                    snap
                }
                None => Box::new(*b),
            });
        }
        let slots = self.frames[frame].get_or_insert_with(empty_frame);
        slots[slot_of(pc)] = e;
    }

    /// Whether physical page `pa >> PAGE_SHIFT` is parked (see `restore`).
    #[inline]
    pub(crate) fn is_parked(&self, pa: u64) -> bool {
        let page = pa >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        self.tags[frame] == NO_PAGE && self.parked[frame] == page
    }

    /// After a flush: bring back the frame of physical page
    /// `pa >> PAGE_SHIFT` if it was parked and the page's `bytes` are
    /// still those it was decoded from. Its generation is kept, so what
    /// the JIT translated from it stays valid, except when its last slot
    /// holds a 32-bit instruction, half of which is in the next page.
    pub(crate) fn restore(&mut self, pa: u64, bytes: &[u8; PAGE]) -> bool {
        let page = pa >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        if self.tags[frame] != NO_PAGE
            || self.parked[frame] != page
            || self.snaps[frame].as_deref() != Some(bytes)
        {
            return false;
        }
        let Some(slots) = self.frames[frame].as_mut() else { return false };
        if let Some(last) = slots.last_mut()
            && last.len == 4
        {
            *last = Entry::EMPTY;
            self.generations[frame] = next_generation();
        }
        self.tags[frame] = page;
        self.parked[frame] = NO_PAGE;
        true
    }

    /// Lend out the frame holding physical page `pa >> PAGE_SHIFT`, if it is
    /// cached: `Hart::run` executes from it while it needs `&mut` access to
    /// the rest of the hart. The caller gives it back with `put` (until
    /// then the page is simply not cached).
    #[inline]
    pub(crate) fn take(&mut self, pa: u64) -> Option<(usize, Frame)> {
        let page = pa >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        if self.tags[frame] != page {
            return None;
        }
        Some((frame, self.frames[frame].take()?))
    }

    /// Give back a frame lent by `take`.
    #[inline]
    pub(crate) fn put(&mut self, frame: usize, slots: Frame) {
        self.frames[frame & (WAYS - 1)] = Some(slots);
    }

    /// The frame holding physical page `pa >> PAGE_SHIFT` (not lent out),
    /// with its index and generation.
    pub(crate) fn frame_ref(&self, pa: u64) -> Option<(usize, u64, &Frame)> {
        let page = pa >> PAGE_SHIFT;
        let frame = Self::frame_of(page);
        if self.tags[frame] != page {
            return None;
        }
        Some((frame, self.generations[frame], self.frames[frame].as_ref()?))
    }

    /// See the field.
    pub(crate) fn epoch(&self) -> &u64 {
        &self.epoch
    }

    /// Whether `frame` still holds `page` as it did at `generation`.
    #[inline]
    pub(crate) fn is_current(&self, frame: usize, page: u64, generation: u64) -> bool {
        let frame = frame & (WAYS - 1);
        self.tags[frame] == page && self.generations[frame] == generation
    }

    /// Forget everything (FENCE.I, reset, memory written by the machine).
    /// Frames keep their allocation; `insert` clears a frame it reuses.
    pub(crate) fn flush(&mut self) {
        for (frame, tag) in self.tags.iter_mut().enumerate() {
            let keep = *tag != NO_PAGE && self.snaps[frame].is_some();
            self.parked[frame] = if keep { *tag } else { NO_PAGE };
            *tag = NO_PAGE;
        }
        self.epoch = self.epoch.wrapping_add(1);
    }
}
