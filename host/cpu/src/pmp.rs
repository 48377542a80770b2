//! Physical Memory Protection (privileged spec 1.12 §3.7): 16 entries,
//! granularity G = 0 (4 bytes), as OpenSBI programs them.
//!
//! - `pmpcfg0` and `pmpcfg2` hold the configuration bytes of entries 0–7
//!   and 8–15 (on RV64 the odd pmpcfg registers do not exist and are
//!   illegal). `pmpcfg4`..`pmpcfg14` and `pmpaddr16`..`pmpaddr63` exist
//!   and are read-only zero: "implementations may implement zero, 16, or
//!   64 PMP entries" and "all PMP CSR fields are WARL and may be read-only
//!   zero". (QEMU 7.2 raises illegal-instruction for them instead.)
//! - `pmpaddr` holds bits 55:2 of the address (54 bits; the rest read 0).
//! - Configuration bits 6:5 are reserved (WARL 0) and read as zero. The
//!   reserved R=0/W=1 combination is kept as written, as QEMU 7.2 does: such
//!   an entry grants writes but not reads (so no AMOs).
//! - L locks an entry until reset: writes to its pmpcfg byte and pmpaddr
//!   are ignored, and so are writes to pmpaddr\[i−1\] when entry i is a
//!   locked TOR entry. A locked entry also binds M-mode.
//!
//! Matching (§3.7.1): "The lowest-numbered PMP entry that matches any byte
//! of an access determines whether that access succeeds or fails. The
//! matching PMP entry must match all bytes of an access, or the access
//! fails." With no match M-mode succeeds and S/U fail, also when no entry
//! is active at all (QEMU 7.2 agrees for accesses; it additionally makes
//! an `mret` to S or U illegal while no entry is active, which wemu does
//! not: the first S/U access faults instead).
//!
//! The hart skips PMP altogether while it cannot refuse anything (M-mode
//! without locked entries, see `Csrs::pmp_fetch_free`). Otherwise it asks
//! for the verdict of a whole 4 KiB page once and caches it: in the TLB
//! entry for translated accesses, in `PageVerdicts` for physical ones. A
//! page that an entry covers only partly is `MIXED` and checked access by
//! access (`check`).

/// Configuration byte fields (§3.7.1, Figure "PMP configuration register
/// format").
pub mod cfg {
    pub const R: u8 = 1 << 0;
    pub const W: u8 = 1 << 1;
    pub const X: u8 = 1 << 2;
    pub const RWX: u8 = R | W | X;
    pub const A_SHIFT: u32 = 3;
    pub const A: u8 = 3 << A_SHIFT;
    pub const OFF: u8 = 0;
    pub const TOR: u8 = 1 << A_SHIFT;
    pub const NA4: u8 = 2 << A_SHIFT;
    pub const NAPOT: u8 = 3 << A_SHIFT;
    pub const L: u8 = 1 << 7;
    /// Bits that can be stored (6:5 are reserved, WARL 0).
    pub const WMASK: u8 = L | A | RWX;
}

/// Implemented entries.
pub const ENTRIES: usize = 16;
/// pmpaddr holds address bits 55:2.
const ADDR_MASK: u64 = (1 << 54) - 1;

/// `page_perms` answer for a page that some entry covers only partly:
/// the permission depends on the address, so every access is checked.
pub(crate) const MIXED: u8 = 1 << 7;

/// Entry `i` matched bytes `[lo, hi]` (inclusive; never empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Range {
    lo: u64,
    hi: u64,
}

/// What an address range meets, in priority order.
enum Hit {
    /// Entry with this configuration byte matches every byte.
    All(u8),
    /// The first entry to match any byte does not match them all.
    Partial,
    /// No entry matches any byte.
    None,
}

/// The PMP registers and their decoded form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pmp {
    cfg: [u8; ENTRIES],
    addr: [u64; ENTRIES],
    range: [Range; ENTRIES],
    /// Bit i: entry i is on (A != OFF) and matches at least one byte.
    active: u16,
    /// Bit i: entry i is active and locked, so it binds M-mode too.
    locked: u16,
    /// Some active entry starts or ends at an address that is not a
    /// multiple of 8, so an aligned 8-byte access can straddle it.
    straddle: bool,
}

impl Pmp {
    /// Configuration byte of entry `i` (0 for unimplemented entries).
    pub fn cfg(&self, i: usize) -> u8 {
        self.cfg.get(i).copied().unwrap_or(0)
    }

    /// Address register of entry `i` (0 for unimplemented entries).
    pub fn addr(&self, i: usize) -> u64 {
        self.addr.get(i).copied().unwrap_or(0)
    }

    /// True when no M-mode fetch can fail: no active entry is locked (a
    /// match of an unlocked entry, or no match, grants M everything). A
    /// fetch parcel (2 bytes) never straddles an entry (4-byte granules).
    #[inline]
    pub fn m_fetch_unrestricted(&self) -> bool {
        self.locked == 0
    }

    /// True when no M-mode load or store can fail: as for fetches, and no
    /// naturally aligned access (at most 8 bytes) can match an entry only
    /// partly, which fails "irrespective of the L, R, W, and X bits".
    #[inline]
    pub fn m_data_unrestricted(&self) -> bool {
        self.locked == 0 && !self.straddle
    }

    /// The value of `pmpcfg<n>` (n even; the caller rejects odd n).
    pub(crate) fn read_cfg(&self, n: usize) -> u64 {
        let first = n * 4;
        (0..8).fold(0, |v, b| v | u64::from(self.cfg(first + b)) << (8 * b))
    }

    /// A write to `pmpcfg<n>` (n even): one byte per entry, each ignored
    /// if that entry is locked.
    pub(crate) fn write_cfg(&mut self, n: usize, v: u64) {
        let first = n * 4;
        for b in 0..8 {
            let i = first + b;
            if i < ENTRIES && self.cfg[i] & cfg::L == 0 {
                self.cfg[i] = (v >> (8 * b)) as u8 & cfg::WMASK;
            }
        }
        self.decode();
    }

    /// A write to `pmpaddr<i>`: ignored if entry i is locked, or if entry
    /// i+1 is a locked TOR entry (whose bottom this register is).
    pub(crate) fn write_addr(&mut self, i: usize, v: u64) {
        if i >= ENTRIES || self.cfg[i] & cfg::L != 0 {
            return;
        }
        if let Some(&next) = self.cfg.get(i + 1)
            && next & cfg::L != 0
            && next & cfg::A == cfg::TOR
        {
            return;
        }
        self.addr[i] = v & ADDR_MASK;
        self.decode();
    }

    /// Recompute the ranges and the active/locked masks.
    fn decode(&mut self) {
        self.active = 0;
        self.locked = 0;
        self.straddle = false;
        for i in 0..ENTRIES {
            let a = self.addr[i];
            let range = match self.cfg[i] & cfg::A {
                // "If pmpaddr[i−1] ≥ pmpaddr[i] and pmpcfg[i].A=TOR, then
                // PMP entry i matches no addresses"; entry 0 starts at 0.
                cfg::TOR => {
                    let lo = if i == 0 { 0 } else { self.addr[i - 1] << 2 };
                    let top = a << 2;
                    (top > lo).then(|| Range { lo, hi: top - 1 })
                }
                cfg::NA4 => Some(Range { lo: a << 2, hi: (a << 2) | 3 }),
                // NAPOT: the trailing ones of pmpaddr give the size, 8 bytes
                // for none (§3.7.1 Table "NAPOT range encoding").
                cfg::NAPOT => {
                    let ones = (a << 2) | 3;
                    Some(Range { lo: ones & (ones + 1), hi: ones | (ones + 1) })
                }
                _ => None,
            };
            self.range[i] = range.unwrap_or_default();
            if let Some(r) = range {
                self.straddle |= r.lo & 7 != 0 || r.hi & 7 != 7;
                self.active |= 1 << i;
                if self.cfg[i] & cfg::L != 0 {
                    self.locked |= 1 << i;
                }
            }
        }
    }

    /// The first active entry that matches any byte of `[lo, hi]`.
    #[inline]
    fn hit(&self, lo: u64, hi: u64) -> Hit {
        let mut left = self.active;
        while left != 0 {
            let i = left.trailing_zeros() as usize;
            left &= left - 1;
            let (Some(r), Some(&c)) = (self.range.get(i), self.cfg.get(i)) else {
                break;
            };
            if r.lo <= hi && r.hi >= lo {
                return if r.lo <= lo && r.hi >= hi { Hit::All(c) } else { Hit::Partial };
            }
        }
        Hit::None
    }

    /// The permissions (`cfg::R|W|X` bits) an access of `size` bytes at
    /// `addr` has, for M-mode (`machine`) or S/U. (Out of line: the hart
    /// mostly uses cached page verdicts.)
    #[inline(never)]
    pub(crate) fn check(&self, addr: u64, size: u64, machine: bool) -> u8 {
        match self.hit(addr, addr.wrapping_add(size - 1)) {
            // "If the L bit is clear ... any M-mode access matching the PMP
            // entry will succeed"; locked entries "are also enforced for
            // machine mode".
            Hit::All(c) if machine && c & cfg::L == 0 => cfg::RWX,
            Hit::All(c) => c & cfg::RWX,
            Hit::Partial => 0,
            // "If no PMP entry matches an M-mode access, the access
            // succeeds. If no PMP entry matches an S-mode or U-mode access,
            // but at least one PMP entry is implemented, the access fails."
            Hit::None if machine => cfg::RWX,
            Hit::None => 0,
        }
    }

    /// The permissions of the whole 4 KiB page at `page` (aligned) for
    /// S/U and for M, each `MIXED` when not the same for every byte.
    pub(crate) fn page_verdict(&self, page: u64) -> Verdict {
        match self.hit(page, page | 0xfff) {
            Hit::All(c) if c & cfg::L == 0 => Verdict { su: c & cfg::RWX, m: cfg::RWX },
            Hit::All(c) => Verdict { su: c & cfg::RWX, m: c & cfg::RWX },
            Hit::Partial => Verdict { su: MIXED, m: MIXED },
            Hit::None => Verdict { su: 0, m: cfg::RWX },
        }
    }

    /// The S/U part of `page_verdict`, which the TLB caches (only S and U
    /// translate).
    pub(crate) fn page_perms(&self, page: u64) -> u8 {
        self.page_verdict(page).su
    }
}

/// PMP permissions of one 4 KiB physical page (`cfg` R/W/X bits, or `MIXED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// For S and U (PMP does not tell them apart).
    pub(crate) su: u8,
    /// For M.
    pub(crate) m: u8,
}

/// Pages in `PageVerdicts` (a power of two).
const VERDICT_PAGES: usize = 64;
/// A tag no page has: page numbers are below 2^52.
const NO_PAGE: u64 = u64::MAX;

/// Verdicts for the physical pages that untranslated accesses (satp Bare
/// below M, or M-mode bound by PMP) touched, so those need no walk of the
/// entries either: direct-mapped by page number, flushed on every PMP CSR
/// write. (Translated accesses keep their verdict in the TLB entry.)
/// (An inline array: the masked index needs no bounds check and no
/// pointer is chased on the fetch path.)
#[derive(Debug, Clone)]
pub(crate) struct PageVerdicts {
    slots: [(u64, Verdict); VERDICT_PAGES],
}

impl Default for PageVerdicts {
    fn default() -> Self {
        PageVerdicts { slots: [(NO_PAGE, Verdict::default()); VERDICT_PAGES] }
    }
}

impl PageVerdicts {
    /// The cached verdict for the page holding physical address `pa`.
    #[inline(always)]
    pub(crate) fn get(&self, pa: u64) -> Option<Verdict> {
        let page = pa >> 12;
        let (tag, v) = self.slots[(page as usize) & (VERDICT_PAGES - 1)];
        (tag == page).then_some(v)
    }

    pub(crate) fn insert(&mut self, pa: u64, v: Verdict) {
        let page = pa >> 12;
        self.slots[(page as usize) & (VERDICT_PAGES - 1)] = (page, v);
    }

    pub(crate) fn flush(&mut self) {
        self.slots.fill((NO_PAGE, Verdict::default()));
    }
}

#[cfg(test)]
mod tests;
