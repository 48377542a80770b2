//! Virtual memory: Sv39 and Sv48 address translation (privileged spec 1.12
//! §4.3 "Sv32", whose algorithm §4.3.2 Sv39 §4.4 and Sv48 §4.5 reuse).
//!
//! A/D policy (the Svade behaviour, §4.3.1 / §4.3.2 step 7 first option):
//! the hart never writes page tables. "If pte.a = 0, or if the original
//! memory access is a store and pte.d = 0, raise a page-fault exception
//! corresponding to the original access type" and software (Linux does)
//! sets the bits. So the walker only ever *loads* PTEs.
//!
//! PTE bits 63:54 (N, PBMT and the reserved bits) must be zero: Svnapot
//! and Svpbmt are not implemented, so a leaf or non-leaf PTE with any of
//! them set raises a page fault (§4.4.1: "bits 63–54 are reserved for
//! future standard use and ... if any of these bits are set, a
//! page-fault exception is raised").
//!
//! `translate` also applies PMP (`pmp`) to the physical address, and to
//! every PTE the walk reads (as an S-mode load); a refusal is an access
//! fault of the original access type.

use crate::csr::mstatus;
use crate::hart::{Hart, PrivMode};
use crate::pmp::{MIXED, Pmp, Verdict, cfg};
use crate::tlb::{FastKey, TlbEntry, vpn_of};
use crate::trap::Access;
use crate::{AccessInfo, MemError, Memory};

/// PTE fields (§4.3.1 Figure "Sv32 page table entry", §4.4.1 for Sv39).
pub mod pte {
    pub const V: u64 = 1 << 0;
    pub const R: u64 = 1 << 1;
    pub const W: u64 = 1 << 2;
    pub const X: u64 = 1 << 3;
    pub const U: u64 = 1 << 4;
    pub const G: u64 = 1 << 5;
    pub const A: u64 = 1 << 6;
    pub const D: u64 = 1 << 7;
    pub const PPN_SHIFT: u32 = 10;
    /// PPN is bits 53:10 (44 bits).
    pub const PPN_MASK: u64 = (1 << 44) - 1;
    /// Bits 63:54: N (Svnapot), PBMT (Svpbmt) and reserved.
    pub const RESERVED: u64 = !0 << 54;
}

/// satp fields (§4.1.11).
pub mod satp {
    pub const MODE_SHIFT: u32 = 60;
    pub const MODE_BARE: u64 = 0;
    pub const MODE_SV39: u64 = 8;
    pub const MODE_SV48: u64 = 9;
    pub const ASID_SHIFT: u32 = 44;
    /// ASIDLEN = 16: every ASID bit is writable.
    pub const ASID_MASK: u64 = 0xffff;
    pub const PPN_MASK: u64 = (1 << 44) - 1;
}

/// Why a translation failed; the executor turns it into the exception of
/// the original access type with tval = the virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XlateFault {
    /// Page fault (cause 12, 13 or 15).
    Page,
    /// Reading a PTE faulted (§4.3.2 step 2: "If accessing pte violates a
    /// PMA or PMP check, raise an access-fault exception corresponding to
    /// the original access type"): cause 1, 5 or 7.
    Access,
    /// Reading the PTE at this physical address asked the machine to stop.
    Stop(u64),
}

/// Result of a successful walk.
struct Walk {
    pte: u64,
    level: u8,
    global: bool,
    /// Physical 4 KiB page number of the translated address.
    ppn: u64,
}

/// Whether a leaf PTE grants `access` to `mode` (§4.3.1, §3.1.6.3), A/D
/// included (Svade: a clear A, or a clear D on a store, is a fault).
#[inline(always)]
fn permits(p: u64, access: Access, mode: PrivMode, sum: bool, mxr: bool) -> bool {
    let user_page = p & pte::U != 0;
    let mode_ok = match mode {
        // "U-mode software may only access the page when U=1."
        PrivMode::User => user_page,
        // "If the SUM bit in the sstatus register is set, supervisor mode
        // software may also access pages with U=1. However, supervisor
        // code normally operates with the SUM bit clear ... Irrespective
        // of SUM, the supervisor may not execute code on pages with U=1."
        PrivMode::Supervisor => !user_page || (sum && access != Access::Fetch),
        PrivMode::Machine => true,
    };
    let rwx_ok = match access {
        Access::Fetch => p & pte::X != 0,
        // MXR: "loads from pages marked either readable or executable
        // (R=1 or X=1) will succeed" (§3.1.6.3).
        Access::Load => p & pte::R != 0 || (mxr && p & pte::X != 0),
        Access::Store => p & pte::W != 0,
    };
    let ad_ok = p & pte::A != 0 && (access != Access::Store || p & pte::D != 0);
    mode_ok && rwx_ok && ad_ok
}

/// The page-table walk of §4.3.2 for `levels` = 3 (Sv39) or 4 (Sv48).
/// The caller has checked that `va` is canonical.
#[inline(never)]
fn walk<M: Memory>(
    mem: &mut M,
    at: AccessInfo,
    pmp: &Pmp,
    satp_val: u64,
    levels: u8,
    va: u64,
) -> Result<Walk, XlateFault> {
    // Step 1: a = satp.ppn × PAGESIZE, i = LEVELS − 1.
    let mut a = (satp_val & satp::PPN_MASK) << 12;
    let mut global = false;
    for i in (0..levels).rev() {
        let shift = 12 + 9 * u32::from(i);
        // Step 2: pte = the PTE at a + va.vpn[i] × PTESIZE.
        let pte_addr = a + ((va >> shift) & 0x1ff) * 8;
        // "If accessing pte violates a PMA or PMP check, raise an
        // access-fault exception"; §3.7.1: PMP checks "page-table accesses
        // for virtual-address translation, for which the effective
        // privilege mode is S".
        if pmp.check(pte_addr, 8, false) & cfg::R == 0 {
            return Err(XlateFault::Access);
        }
        let p = mem.load(at, pte_addr, 8).map_err(|e| match e {
            MemError::AccessFault => XlateFault::Access,
            MemError::Stop => XlateFault::Stop(pte_addr),
        })?;
        // Step 3: "If pte.v = 0, or if pte.r = 0 and pte.w = 1, or if any
        // bits or encodings that are reserved for future standard use are
        // set within pte, stop and raise a page-fault exception."
        if p & pte::V == 0 || (p & pte::R == 0 && p & pte::W != 0) || p & pte::RESERVED != 0 {
            return Err(XlateFault::Page);
        }
        global |= p & pte::G != 0;
        let ppn = (p >> pte::PPN_SHIFT) & pte::PPN_MASK;
        // Step 4: "Otherwise, the PTE is valid. If pte.r = 1 or pte.x = 1,
        // go to step 5. Otherwise, this PTE is a pointer to the next level
        // ... let i = i − 1. If i < 0, stop and raise a page-fault."
        if p & (pte::R | pte::X) == 0 {
            // §4.3.1: "For non-leaf PTEs, the D, A, and U bits are reserved
            // for future standard use", so step 3 applies (as in Spike).
            if p & (pte::D | pte::A | pte::U) != 0 {
                return Err(XlateFault::Page);
            }
            a = ppn << 12;
            continue;
        }
        // Step 6: "If i > 0 and pte.ppn[i − 1 : 0] ≠ 0, this is a
        // misaligned superpage; stop and raise a page-fault exception."
        let span = (1u64 << (9 * u32::from(i))) - 1;
        if ppn & span != 0 {
            return Err(XlateFault::Page);
        }
        // Step 8: pa.pgoff = va.pgoff; for a superpage pa.ppn[i−1:0] =
        // va.vpn[i−1:0]; pa.ppn[LEVELS−1:i] = pte.ppn[LEVELS−1:i].
        return Ok(Walk { pte: p, level: i, global, ppn: ppn | ((va >> 12) & span) });
    }
    Err(XlateFault::Page)
}

impl Hart {
    /// The privilege that translates and protects an access (§3.1.6.3):
    /// "When MPRV=1, load and store memory addresses are translated and
    /// protected, and endianness is applied, as though the current
    /// privilege mode were set to MPP. Instruction address-translation
    /// and protection are unaffected by the setting of MPRV."
    fn effective_mode(&self, access: Access, st: u64) -> PrivMode {
        if access == Access::Fetch || st & mstatus::MPRV == 0 {
            return self.mode;
        }
        match (st & mstatus::MPP) >> mstatus::MPP_SHIFT {
            0 => PrivMode::User,
            1 => PrivMode::Supervisor,
            _ => PrivMode::Machine,
        }
    }

    /// Whether PMP lets `mode` access `size` bytes at physical `pa` with
    /// the `pmp::cfg` permission bits `need`.
    #[inline]
    pub(crate) fn pmp_ok(&self, pa: u64, size: u8, mode: PrivMode, need: u8) -> bool {
        self.csrs.pmp().check(pa, u64::from(size), mode == PrivMode::Machine) & need == need
    }

    /// `pmp_ok` through the cache of physical page verdicts (a page PMP
    /// splits is checked access by access). Used for untranslated
    /// accesses; translated ones have the verdict in their TLB entry.
    #[inline]
    pub(crate) fn pmp_phys(&mut self, pa: u64, size: u8, mode: PrivMode, need: u8) -> bool {
        let v = match self.pmp_pages.get(pa) {
            Some(v) => v,
            None => self.fill_pmp_page(pa),
        };
        let perms = if mode == PrivMode::Machine { v.m } else { v.su };
        perms & need == need || (perms & MIXED != 0 && self.pmp_ok(pa, size, mode, need))
    }

    #[inline(never)]
    fn fill_pmp_page(&mut self, pa: u64) -> Verdict {
        let v = self.csrs.pmp().page_verdict(pa & !0xfff);
        self.pmp_pages.insert(pa, v);
        v
    }

    /// The physical address of an instruction fetch at `pc` in S/U mode
    /// with paging on (`satp_val` not Bare), if a TLB hit permits it: the
    /// PTE grants execution and PMP grants it for the whole page.
    /// `None` sends the caller to the full `translate`.
    #[inline(always)]
    pub(crate) fn cached_fetch_pa(&self, pc: u64, satp_val: u64) -> Option<u64> {
        // A non-canonical pc misses (the tag masks the upper bits) unless
        // it is canonical: check it, as `translate` does.
        let va_bits = if satp_val >> satp::MODE_SHIFT == satp::MODE_SV48 { 48 } else { 39 };
        if (((pc << (64 - va_bits)) as i64) >> (64 - va_bits)) as u64 != pc {
            return None;
        }
        let asid = ((satp_val >> satp::ASID_SHIFT) & satp::ASID_MASK) as u16;
        let e = self.tlb.lookup(vpn_of(pc), asid)?;
        (permits(e.pte, Access::Fetch, self.mode, false, false) && e.pmp & cfg::X != 0)
            .then_some((e.ppn << 12) | (pc & 0xfff))
    }

    /// Translate virtual address `va` for an `access` of `size` bytes
    /// (AMO and SC are `Store`) and check PMP for the `pmp::cfg` bits
    /// `need` (R|W for an AMO). Physical when satp is Bare or the
    /// effective mode is M ("M-mode ... ignores satp", §4.1.11 via
    /// §3.1.6.3). A PMP refusal is `XlateFault::Access`.
    #[inline(always)]
    pub(crate) fn translate<M: Memory>(
        &mut self,
        mem: &mut M,
        at: AccessInfo,
        va: u64,
        access: Access,
        size: u8,
        need: u8,
    ) -> Result<u64, XlateFault> {
        // The common case, M-mode with no locked PMP entry (and no MPRV for
        // data): nothing to translate or check.
        let free =
            if access == Access::Fetch { self.csrs.pmp_fetch_free() } else { self.csrs.pmp_data_free() };
        if self.mode as u8 == free {
            return Ok(va);
        }
        self.translate_checked(mem, at, va, access, size, need)
    }

    /// `translate` when translation or PMP may apply; out of line to keep
    /// the common case small.
    #[inline(never)]
    fn translate_checked<M: Memory>(
        &mut self,
        mem: &mut M,
        at: AccessInfo,
        va: u64,
        access: Access,
        size: u8,
        need: u8,
    ) -> Result<u64, XlateFault> {
        let st = self.csrs.mstatus();
        let mode = self.effective_mode(access, st);
        let satp_val = self.csrs.satp();
        let levels: u8 = match satp_val >> satp::MODE_SHIFT {
            satp::MODE_SV39 => 3,
            satp::MODE_SV48 => 4,
            _ => 0,
        };
        if mode == PrivMode::Machine || levels == 0 {
            return if self.pmp_phys(va, size, mode, need) { Ok(va) } else { Err(XlateFault::Access) };
        }
        // §4.4.1: "instruction fetch addresses and load and store effective
        // addresses, which are 64 bits, must have bits 63–39 all equal to
        // bit 38, or else a page-fault exception will occur" (63–48 and
        // bit 47 for Sv48, §4.5.1).
        let va_bits = 12 + 9 * u32::from(levels);
        if (((va << (64 - va_bits)) as i64) >> (64 - va_bits)) as u64 != va {
            return Err(XlateFault::Page);
        }
        let (sum, mxr) = (st & mstatus::SUM != 0, st & mstatus::MXR != 0);
        let asid = ((satp_val >> satp::ASID_SHIFT) & satp::ASID_MASK) as u16;
        let vpn = vpn_of(va);
        if let Some(e) = self.tlb.lookup(vpn, asid) {
            if permits(e.pte, access, mode, sum, mxr) {
                return self.pmp_page_ok(e.pmp, (e.ppn << 12) | (va & 0xfff), size, need);
            }
            // The cached PTE may be stale (e.g. software just set D after
            // a fault): let a fresh walk decide.
            self.tlb.invalidate(vpn);
        }
        self.tlb_fill(mem, at, va, access, size, need)
    }

    /// `translate_checked` after a TLB miss (paging on, effective mode S
    /// or U): walk, check, cache. Out of line to keep the hit path small.
    #[inline(never)]
    fn tlb_fill<M: Memory>(
        &mut self,
        mem: &mut M,
        at: AccessInfo,
        va: u64,
        access: Access,
        size: u8,
        need: u8,
    ) -> Result<u64, XlateFault> {
        let st = self.csrs.mstatus();
        let mode = self.effective_mode(access, st);
        let (sum, mxr) = (st & mstatus::SUM != 0, st & mstatus::MXR != 0);
        let satp_val = self.csrs.satp();
        let levels: u8 = if satp_val >> satp::MODE_SHIFT == satp::MODE_SV48 { 4 } else { 3 };
        let asid = ((satp_val >> satp::ASID_SHIFT) & satp::ASID_MASK) as u16;
        let vpn = vpn_of(va);
        let w = walk(mem, at, self.csrs.pmp(), satp_val, levels, va)?;
        // Step 5 (permissions) and step 7 (A/D, Svade): fault, and cache
        // nothing, so the retry after software fixes the PTE walks again.
        if !permits(w.pte, access, mode, sum, mxr) {
            return Err(XlateFault::Page);
        }
        // PMP is checked on the physical address once translation
        // succeeded; its verdict for the page is cached with the PTE.
        let pmp = self.csrs.pmp().page_perms(w.ppn << 12);
        self.tlb.insert(TlbEntry {
            vpn,
            asid,
            global: w.global,
            level: w.level,
            pte: w.pte,
            ppn: w.ppn,
            pmp,
        });
        self.pmp_page_ok(pmp, (w.ppn << 12) | (va & 0xfff), size, need)
    }

    /// PMP for an S/U access at `pa` given its page's cached verdict
    /// (`Pmp::page_perms`): a mixed page is checked access by access.
    #[inline(always)]
    fn pmp_page_ok(&self, page: u8, pa: u64, size: u8, need: u8) -> Result<u64, XlateFault> {
        if page & need == need || (page & MIXED != 0 && self.pmp_ok(pa, size, PrivMode::Supervisor, need)) {
            Ok(pa)
        } else {
            Err(XlateFault::Access)
        }
    }

    /// What the fast TLB's entries (see `tlb`) depend on besides the TLB:
    /// the effective data mode (the mode, or MPP under MPRV), SUM and MXR
    /// (satp and PMP writes flush the TLB instead), and the RAM window
    /// their host addresses point into. Translated code and the
    /// interpreter make the fast TLB hold entries for this key only
    /// (`Tlb::set_fast_key`) whenever they start running code that cannot
    /// change it. Only what decides an access counts: MPP flips at every
    /// trap into M-mode and back, and each change of key empties the table.
    #[inline]
    pub(crate) fn fast_key(&self, window: &crate::RamWindow) -> FastKey {
        let st = self.csrs.mstatus();
        FastKey {
            regime: (st & (mstatus::SUM | mstatus::MXR)) | self.effective_mode(Access::Load, st) as u64,
            window: (window.host as u64, window.base, window.len),
        }
    }

    /// Before translated code caches the region at virtual `pc` for
    /// indirect jumps: record in the fast TLB that the mode may fetch
    /// from `pc`'s page as `fetch` would allow (paging on, S or U, the
    /// PTE's X and U bits, PMP granting X for the whole page). The fast
    /// table must hold entries for the current regime (`fast_key`), whose
    /// mode is the fetch mode in S and U.
    pub(crate) fn fill_fast_exec(&mut self, pc: u64) {
        let Some((mode, _, e)) = self.paged_entry(pc) else { return };
        if mode == self.mode
            && permits(e.pte, Access::Fetch, self.mode, false, false)
            && e.pmp & MIXED == 0
            && e.pmp & cfg::X != 0
        {
            self.tlb.set_fast_exec(pc);
        }
    }

    /// With paging on and the effective data mode S or U (`paged_data`):
    /// that mode, mstatus and the TLB entry cached for `va`, if any.
    fn paged_entry(&self, va: u64) -> Option<(PrivMode, u64, TlbEntry)> {
        let st = self.csrs.mstatus();
        let mode = self.effective_mode(Access::Load, st);
        let satp_val = self.csrs.satp();
        let paged = matches!(satp_val >> satp::MODE_SHIFT, satp::MODE_SV39 | satp::MODE_SV48);
        if mode == PrivMode::Machine || !paged {
            return None;
        }
        let asid = ((satp_val >> satp::ASID_SHIFT) & satp::ASID_MASK) as u16;
        Some((mode, st, self.tlb.lookup(vpn_of(va), asid)?))
    }

    /// Whether data accesses are translated now (paging on and the
    /// effective data mode S or U): where the fast TLB can serve them.
    #[inline]
    pub(crate) fn paged_data(&self) -> bool {
        let st = self.csrs.mstatus();
        self.effective_mode(Access::Load, st) != PrivMode::Machine
            && matches!(self.csrs.satp() >> satp::MODE_SHIFT, satp::MODE_SV39 | satp::MODE_SV48)
    }

    /// After a load or store at virtual `va` completed through `translate`:
    /// record in the fast TLB whether loads and stores in its page may go
    /// straight to RAM `window` under the current regime, as they would
    /// through `translate` (paging on, the PTE and the page's whole PMP
    /// verdict allow it, the page is in the window).
    pub(crate) fn fill_fast(&mut self, va: u64, window: &crate::RamWindow) {
        let Some((mode, st, e)) = self.paged_entry(va) else { return };
        let pa = e.ppn << 12;
        if !window.holds_page(pa) || e.pmp & MIXED != 0 {
            return;
        }
        let (sum, mxr) = (st & mstatus::SUM != 0, st & mstatus::MXR != 0);
        let read = permits(e.pte, Access::Load, mode, sum, mxr) && e.pmp & cfg::R != 0;
        let write = window.writable && permits(e.pte, Access::Store, mode, sum, mxr) && e.pmp & cfg::W != 0;
        let host_page = (window.host as u64).wrapping_add(pa - window.base);
        self.tlb.set_fast_key(self.fast_key(window));
        self.tlb.set_fast(va, read, write, host_page);
    }
}
