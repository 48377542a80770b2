//! Translation lookaside buffer for Sv39/Sv48 (privileged spec 1.12 §4.3).
//!
//! Direct-mapped, `ENTRIES` entries, shared by fetches and data accesses,
//! indexed by the low bits of the 4 KiB virtual page number. An entry
//! caches the *leaf PTE* (not a permission verdict), so the caller checks
//! R/W/X/U/A/D against the current effective mode, SUM and MXR on every
//! hit: mode or mstatus changes never need a flush. A superpage leaf is
//! cached per 4 KiB page touched, each entry remembering the leaf's level
//! so that `sfence.vma` by address drops every entry the leaf produced.
//!
//! Entries are tagged with the ASID and the global bit (§4.1.11, §4.3.1:
//! G "designates a global mapping ... that exist in all address spaces").
//! Each entry also caches the PMP verdict for its physical page (only S
//! and U translate, and PMP treats them alike), so a hit needs no PMP
//! walk; the hart flushes the TLB on every PMP CSR write.
//!
//! The hart also flushes the whole TLB on every satp write, which the spec
//! allows (it only requires SFENCE.VMA for ordering), so entries never mix
//! Sv39 and Sv48 walks or page-table roots.

/// Number of entries (a power of two).
const ENTRIES: usize = 256;
/// A tag no page can have: VPNs are below 2^36 (see `vpn_of`).
const INVALID: u64 = u64::MAX;

/// The 4 KiB virtual page number used as the TLB tag: VA bits 47:12. For
/// Sv39 the bits above 38 are sign copies (addresses are checked to be
/// canonical before lookup), so the tag is still unique per page.
#[inline]
pub(crate) fn vpn_of(va: u64) -> u64 {
    (va >> 12) & ((1 << 36) - 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TlbEntry {
    /// `vpn_of` the virtual address, or `INVALID`.
    pub(crate) vpn: u64,
    pub(crate) asid: u16,
    /// G was set in the leaf or any PTE above it (§4.3.1).
    pub(crate) global: bool,
    /// The leaf's level: 0 for 4 KiB, 1 for 2 MiB, 2 for 1 GiB, 3 for 512 GiB.
    pub(crate) level: u8,
    /// The leaf PTE as read from memory.
    pub(crate) pte: u64,
    /// The physical 4 KiB page number this virtual page maps to.
    pub(crate) ppn: u64,
    /// PMP permissions of that physical page for S/U (`pmp::cfg` R/W/X
    /// bits), or `pmp::MIXED` when they differ within the page. Valid
    /// because every PMP CSR write flushes the TLB.
    pub(crate) pmp: u8,
}

const EMPTY: TlbEntry = TlbEntry { vpn: INVALID, asid: 0, global: false, level: 0, pte: 0, ppn: 0, pmp: 0 };

#[derive(Clone)]
pub(crate) struct Tlb {
    entries: Box<[TlbEntry]>,
}

impl std::fmt::Debug for Tlb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.iter().filter(|e| e.vpn != INVALID).count();
        write!(f, "Tlb({n} entries)")
    }
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb { entries: vec![EMPTY; ENTRIES].into_boxed_slice() }
    }
}

impl Tlb {
    #[inline]
    fn index(vpn: u64) -> usize {
        (vpn as usize) & (ENTRIES - 1)
    }

    /// The entry for `vpn` valid in address space `asid`, if cached.
    #[inline]
    pub(crate) fn lookup(&self, vpn: u64, asid: u16) -> Option<TlbEntry> {
        let e = *self.entries.get(Self::index(vpn))?;
        (e.vpn == vpn && (e.global || e.asid == asid)).then_some(e)
    }

    pub(crate) fn insert(&mut self, e: TlbEntry) {
        if let Some(slot) = self.entries.get_mut(Self::index(e.vpn)) {
            *slot = e;
        }
    }

    /// Drop whatever is cached for `vpn` (used when a hit fails its
    /// permission check, so the fault is decided by a fresh walk).
    pub(crate) fn invalidate(&mut self, vpn: u64) {
        if let Some(slot) = self.entries.get_mut(Self::index(vpn))
            && slot.vpn == vpn
        {
            *slot = EMPTY;
        }
    }

    pub(crate) fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// SFENCE.VMA (§4.2.1). `va`: `None` for rs1=x0 (all addresses), else
    /// drop the leaf entries "that contain the virtual address", whatever
    /// the page size. `asid`: `None` for rs2=x0 (all address spaces,
    /// global mappings included), else only non-global entries of that
    /// ASID ("except for entries containing global mappings").
    pub(crate) fn sfence(&mut self, va: Option<u64>, asid: Option<u16>) {
        let vpn = va.map(vpn_of);
        for e in self.entries.iter_mut().filter(|e| e.vpn != INVALID) {
            let shift = 9 * u32::from(e.level);
            let addr_hit = vpn.is_none_or(|v| v >> shift == e.vpn >> shift);
            let asid_hit = asid.is_none_or(|a| !e.global && e.asid == a);
            if addr_hit && asid_hit {
                *e = EMPTY;
            }
        }
    }
}
