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
//! page-fault exception is raised"). No PMP: every physical address that
//! `Memory` accepts is allowed.

use crate::csr::mstatus;
use crate::hart::{Hart, PrivMode};
use crate::tlb::{TlbEntry, vpn_of};
use crate::trap::Access;
use crate::{MemError, Memory};

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
fn walk<M: Memory>(mem: &mut M, satp_val: u64, levels: u8, va: u64) -> Result<Walk, XlateFault> {
    // Step 1: a = satp.ppn × PAGESIZE, i = LEVELS − 1.
    let mut a = (satp_val & satp::PPN_MASK) << 12;
    let mut global = false;
    for i in (0..levels).rev() {
        let shift = 12 + 9 * u32::from(i);
        // Step 2: pte = the PTE at a + va.vpn[i] × PTESIZE.
        let pte_addr = a + ((va >> shift) & 0x1ff) * 8;
        let p = mem.load(pte_addr, 8).map_err(|e| match e {
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

    /// The physical address of an instruction fetch at `pc` below M-mode if
    /// it needs no walk: satp Bare, or a TLB hit that permits the fetch.
    /// `None` sends the caller to the full `translate`.
    #[inline(always)]
    pub(crate) fn cached_fetch_pa(&self, pc: u64) -> Option<u64> {
        let satp_val = self.csrs.satp();
        if satp_val >> satp::MODE_SHIFT == satp::MODE_BARE {
            return Some(pc);
        }
        // A non-canonical pc misses (the tag masks the upper bits) unless
        // it is canonical: check it, as `translate` does.
        let va_bits = if satp_val >> satp::MODE_SHIFT == satp::MODE_SV48 { 48 } else { 39 };
        if (((pc << (64 - va_bits)) as i64) >> (64 - va_bits)) as u64 != pc {
            return None;
        }
        let asid = ((satp_val >> satp::ASID_SHIFT) & satp::ASID_MASK) as u16;
        let e = self.tlb.lookup(vpn_of(pc), asid)?;
        permits(e.pte, Access::Fetch, self.mode, false, false).then_some((e.ppn << 12) | (pc & 0xfff))
    }

    /// Translate virtual address `va` for `access` (AMO and SC are
    /// `Store`). Physical when satp is Bare or the effective mode is M
    /// ("M-mode ... ignores satp", §4.1.11 via §3.1.6.3).
    #[inline(always)]
    pub(crate) fn translate<M: Memory>(
        &mut self,
        mem: &mut M,
        va: u64,
        access: Access,
    ) -> Result<u64, XlateFault> {
        if self.csrs.satp() >> satp::MODE_SHIFT == satp::MODE_BARE {
            return Ok(va);
        }
        self.translate_paged(mem, va, access)
    }

    /// `translate` with satp not Bare; out of line to keep Bare accesses small.
    #[inline(never)]
    fn translate_paged<M: Memory>(
        &mut self,
        mem: &mut M,
        va: u64,
        access: Access,
    ) -> Result<u64, XlateFault> {
        let satp_val = self.csrs.satp();
        let levels = match satp_val >> satp::MODE_SHIFT {
            satp::MODE_SV39 => 3,
            satp::MODE_SV48 => 4,
            _ => return Ok(va),
        };
        if self.mode == PrivMode::Machine
            && (access == Access::Fetch || self.csrs.mstatus() & mstatus::MPRV == 0)
        {
            return Ok(va);
        }
        let st = self.csrs.mstatus();
        let mode = self.effective_mode(access, st);
        if mode == PrivMode::Machine {
            return Ok(va);
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
                return Ok((e.ppn << 12) | (va & 0xfff));
            }
            // The cached PTE may be stale (e.g. software just set D after
            // a fault): let a fresh walk decide.
            self.tlb.invalidate(vpn);
        }
        let w = walk(mem, satp_val, levels, va)?;
        // Step 5 (permissions) and step 7 (A/D, Svade): fault, and cache
        // nothing, so the retry after software fixes the PTE walks again.
        if !permits(w.pte, access, mode, sum, mxr) {
            return Err(XlateFault::Page);
        }
        self.tlb.insert(TlbEntry { vpn, asid, global: w.global, level: w.level, pte: w.pte, ppn: w.ppn });
        Ok((w.ppn << 12) | (va & 0xfff))
    }
}
