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
//!
//! Beside each entry sits a [`FastEntry`] for translated code (docs/jit.md,
//! "Memory"): the permission verdict of that entry for one *regime* (the
//! effective data mode, SUM, MXR) and the host address of its page, so a
//! load or store in generated code is a tag compare and an add. A fast
//! entry never outlives its TLB entry (every change to a slot clears it),
//! so translated code sees exactly the translations the interpreter would.

/// Number of entries (a power of two).
pub(crate) const ENTRIES: usize = 256;
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

/// What generated code probes: an aligned access of `size` bytes at
/// virtual `va` may use host address `va + addend` when
/// `va & (!0xfff | (size - 1))` equals `read` (a load) or `write` (a
/// store). The tags are whole 64-bit page addresses (a non-canonical
/// address never matches) or `INVALID` (no bits a masked address can have).
/// `exec` is the page address when the current mode may fetch from the
/// whole page (PTE and PMP): translated code checks it before jumping
/// through the indirect-jump cache to a region cached for a virtual pc,
/// which is valid only while the pc still maps to the same physical page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct FastEntry {
    pub(crate) read: u64,
    pub(crate) write: u64,
    pub(crate) addend: u64,
    pub(crate) exec: u64,
}

const NO_FAST: FastEntry = FastEntry { read: INVALID, write: INVALID, addend: 0, exec: INVALID };

/// log2 of `size_of::<FastEntry>()`, for generated code's index arithmetic.
pub(crate) const FAST_SHIFT: u32 = 5;
const _: () = assert!(std::mem::size_of::<FastEntry>() == 1 << FAST_SHIFT);

#[derive(Clone)]
pub(crate) struct Tlb {
    entries: Box<[TlbEntry]>,
    /// Indexed as `entries`; generated code reads it through the pointer
    /// (a `Box` of an array is one pointer).
    pub(crate) fast: Box<[FastEntry; ENTRIES]>,
    /// What `fast` was filled under: the regime (`Hart::data_regime`) and
    /// the RAM window (host address, base, length), or `None` if empty.
    fast_key: Option<FastKey>,
}

/// See `Tlb::fast_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FastKey {
    pub(crate) regime: u64,
    pub(crate) window: (u64, u64, u64),
}

impl std::fmt::Debug for Tlb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.iter().filter(|e| e.vpn != INVALID).count();
        write!(f, "Tlb({n} entries)")
    }
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            entries: vec![EMPTY; ENTRIES].into_boxed_slice(),
            fast: Box::new([NO_FAST; ENTRIES]),
            fast_key: None,
        }
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
        let i = Self::index(e.vpn);
        if let Some(slot) = self.entries.get_mut(i) {
            *slot = e;
            self.fast[i] = NO_FAST;
        }
    }

    /// Drop whatever is cached for `vpn` (used when a hit fails its
    /// permission check, so the fault is decided by a fresh walk).
    pub(crate) fn invalidate(&mut self, vpn: u64) {
        let i = Self::index(vpn);
        if let Some(slot) = self.entries.get_mut(i)
            && slot.vpn == vpn
        {
            *slot = EMPTY;
            self.fast[i] = NO_FAST;
        }
    }

    pub(crate) fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
        self.fast.fill(NO_FAST);
    }

    /// Make `fast` hold entries for `key` only: keep it if it was filled
    /// under `key`, else empty it.
    #[inline]
    pub(crate) fn set_fast_key(&mut self, key: FastKey) {
        if self.fast_key != Some(key) {
            self.fast.fill(NO_FAST);
            self.fast_key = Some(key);
        }
    }

    /// The host address for an aligned access of `size` bytes at virtual
    /// `va` (a store if `store`), if the fast entry of its slot allows it:
    /// the probe generated code makes, for the interpreter. The caller has
    /// set the key for the current regime (`set_fast_key`).
    #[inline(always)]
    pub(crate) fn fast_host(&self, va: u64, size: u8, store: bool) -> Option<u64> {
        let e = &self.fast[Self::index(vpn_of(va))];
        let tag = if store { e.write } else { e.read };
        // A misaligned address keeps low bits the tag does not have.
        (va & (!0xfff | (u64::from(size) - 1)) == tag).then(|| va.wrapping_add(e.addend))
    }

    /// Record in the fast entry of `va`'s slot, for the current regime,
    /// that loads (`read`) and stores (`write`) in `va`'s page may go to
    /// `host_page`. Only for the slot's current TLB entry.
    pub(crate) fn set_fast(&mut self, va: u64, read: bool, write: bool, host_page: u64) {
        let i = Self::index(vpn_of(va));
        let page = va & !0xfff;
        if self.entries.get(i).is_some_and(|e| e.vpn == vpn_of(va)) {
            self.fast[i] = FastEntry {
                read: if read { page } else { INVALID },
                write: if write { page } else { INVALID },
                addend: host_page.wrapping_sub(page),
                // Made for this same TLB entry (any change to the slot
                // clears the fast entry), so still right.
                exec: self.fast[i].exec,
            };
        }
    }

    /// Record in the fast entry of `va`'s slot that the current mode may
    /// fetch from `va`'s page. Only for the slot's current TLB entry.
    pub(crate) fn set_fast_exec(&mut self, va: u64) {
        let i = Self::index(vpn_of(va));
        if self.entries.get(i).is_some_and(|e| e.vpn == vpn_of(va)) {
            self.fast[i].exec = va & !0xfff;
        }
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
        self.fast.fill(NO_FAST);
    }
}
