//! Supervisor-level CSRs (privileged spec 1.12 chapter 4), the sstatus,
//! sie and sip views of their machine-level registers, trap delegation
//! registers' legal values, and Sstc (stimecmp).
//!
//! satp accepts MODE Bare, Sv39 and Sv48 (translation is in `mmu`).
//! §4.1.11: "If satp is written with an unsupported MODE, the entire write
//! has no effect; no fields in satp are modified."

use super::{CsrCtx, Csrs, IllegalCsr, addr, irq, legal_tvec, mstatus};
use crate::hart::PrivMode;

/// sstatus is "a restricted view of mstatus" (§4.1.1): these fields read
/// through (UXL and SD read-only) ...
const SSTATUS_RMASK: u64 = mstatus::SIE
    | mstatus::SPIE
    | mstatus::SPP
    | mstatus::VS
    | mstatus::FS
    | mstatus::SUM
    | mstatus::MXR
    | mstatus::UXL
    | mstatus::SD;
/// ... and these can be written through it.
const SSTATUS_WMASK: u64 =
    mstatus::SIE | mstatus::SPIE | mstatus::SPP | mstatus::VS | mstatus::FS | mstatus::SUM | mstatus::MXR;

/// medeleg (§3.1.8): every exception that can occur here may be delegated
/// except environment-call-from-M (11), whose bit is read-only zero
/// ("medeleg[11] is read-only zero"); the reserved codes 10 and 14 are
/// read-only zero as well. Page faults (12, 13, 15) are delegable.
pub(super) const MEDELEG_WMASK: u64 = 0x3ff | (1 << 12) | (1 << 13) | (1 << 15);

/// menvcfg (§3.1.18): FIOM (bit 0) and STCE (bit 63, Sstc) are writable;
/// CBIE/CBCFE/CBZE/PBMTE belong to extensions not implemented, so they
/// are read-only zero (WARL).
pub const MENVCFG_FIOM: u64 = 1;
pub const MENVCFG_STCE: u64 = 1 << 63;
pub(super) const MENVCFG_WMASK: u64 = MENVCFG_FIOM | MENVCFG_STCE;
/// senvcfg (§4.1.10): only FIOM is implemented.
const SENVCFG_WMASK: u64 = MENVCFG_FIOM;

/// mcounteren/scounteren bit of `time` (TM): also gates stimecmp (Sstc).
const COUNTEREN_TM: u64 = 1 << 1;

/// Supervisor trap state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SState {
    pub(super) stvec: u64,
    sepc: u64,
    scause: u64,
    stval: u64,
    sscratch: u64,
    pub(super) scounteren: u64,
    senvcfg: u64,
    /// MODE is 0 (Bare), 8 (Sv39) or 9 (Sv48); ASID is 16 bits.
    satp: u64,
    stimecmp: u64,
}

impl Default for SState {
    fn default() -> Self {
        SState {
            stvec: 0,
            sepc: 0,
            scause: 0,
            stval: 0,
            sscratch: 0,
            scounteren: 0,
            senvcfg: 0,
            satp: 0,
            // The reset value is unspecified; all-ones means "never" so
            // enabling STCE before writing stimecmp raises no spurious STIP.
            stimecmp: u64::MAX,
        }
    }
}

impl Csrs {
    pub fn stvec(&self) -> u64 {
        self.s.stvec
    }
    pub fn sepc(&self) -> u64 {
        self.s.sepc
    }
    pub fn scause(&self) -> u64 {
        self.s.scause
    }
    pub fn stval(&self) -> u64 {
        self.s.stval
    }
    pub fn satp(&self) -> u64 {
        self.s.satp
    }
    pub fn stimecmp(&self) -> u64 {
        self.s.stimecmp
    }
    pub fn menvcfg(&self) -> u64 {
        self.menvcfg
    }
    /// Sstc is enabled: STIP is `time >= stimecmp`, not the mip bit.
    pub fn sstc_enabled(&self) -> bool {
        self.menvcfg & MENVCFG_STCE != 0
    }

    /// Record a trap taken into S-mode in sepc/scause/stval (§4.1.7-9).
    pub(crate) fn set_strap(&mut self, epc: u64, cause: u64, tval: u64) {
        self.s.sepc = epc & !1;
        self.s.scause = cause;
        self.s.stval = tval;
    }

    /// Recompute the effective mip from the pins, the software bits and
    /// Sstc. §3.1.9: with Sstc enabled "STIP ... reflects the result of the
    /// stimecmp comparison" and is read-only in mip; SEIP reads as "the
    /// logical-OR of the software-writable bit and the interrupt signal
    /// from the interrupt controller".
    pub(super) fn update_mip(&mut self) {
        let stip = if self.sstc_enabled() {
            if self.time >= self.s.stimecmp { irq::STI } else { 0 }
        } else {
            self.mip_sw & irq::STI
        };
        self.mip = self.mip_pins | (self.mip_sw & (irq::SSI | irq::SEI)) | stip;
    }

    /// mip as a CSRRS/CSRRC sees it: SEIP is only the software bit.
    pub(super) fn mip_rmw_base(&self) -> u64 {
        (self.mip & !irq::SEI) | (self.mip_sw & irq::SEI)
    }

    /// §3.1.9: SSIP and SEIP are writable by M-mode; STIP too unless Sstc
    /// drives it. MEIP/MTIP/MSIP are read-only (driven by pins).
    pub(super) fn write_mip(&mut self, v: u64) {
        let mut w = irq::SSI | irq::SEI;
        if !self.sstc_enabled() {
            w |= irq::STI;
        }
        self.mip_sw = (self.mip_sw & !w) | (v & w);
        self.update_mip();
    }

    pub(super) fn read_supervisor(&self, csr: u16, ctx: &CsrCtx) -> Result<u64, IllegalCsr> {
        use addr::*;
        Ok(match csr {
            SSTATUS => self.mstatus & SSTATUS_RMASK,
            // §4.1.3: sie/sip are "the restricted views" of mie/mip: bits
            // not delegated in mideleg read as zero.
            SIE => self.mie & self.mideleg,
            SIP => self.mip & self.mideleg,
            STVEC => self.s.stvec,
            SCOUNTEREN => self.s.scounteren,
            SENVCFG => self.s.senvcfg,
            SSCRATCH => self.s.sscratch,
            SEPC => self.s.sepc,
            SCAUSE => self.s.scause,
            STVAL => self.s.stval,
            // §3.1.6.5: "When TVM=1, attempts to read or write the satp CSR
            // ... while executing in S-mode will raise an illegal
            // instruction exception."
            SATP if ctx.mode == PrivMode::Supervisor && self.mstatus & mstatus::TVM != 0 => {
                return Err(IllegalCsr);
            }
            SATP => self.s.satp,
            // Sstc: access below M-mode is illegal when menvcfg.STCE=0 or
            // mcounteren.TM=0.
            STIMECMP
                if ctx.mode < PrivMode::Machine
                    && (!self.sstc_enabled() || self.mcounteren & COUNTEREN_TM == 0) =>
            {
                return Err(IllegalCsr);
            }
            STIMECMP => self.s.stimecmp,
            _ => return Err(IllegalCsr),
        })
    }

    pub(super) fn write_supervisor(&mut self, csr: u16, v: u64) -> Result<(), IllegalCsr> {
        use addr::*;
        match csr {
            SSTATUS => self.set_mstatus((self.mstatus & !SSTATUS_WMASK) | (v & SSTATUS_WMASK)),
            SIE => self.mie = (self.mie & !self.mideleg) | (v & self.mideleg),
            // §4.1.3: only SSIP is writable through sip (STIP and SEIP are
            // read-only there), and only when delegated.
            SIP => {
                let w = irq::SSI & self.mideleg;
                self.mip_sw = (self.mip_sw & !w) | (v & w);
                self.update_mip();
            }
            STVEC => self.s.stvec = legal_tvec(v, self.s.stvec),
            SCOUNTEREN => self.s.scounteren = v & 0xffff_ffff,
            SENVCFG => self.s.senvcfg = v & SENVCFG_WMASK,
            SSCRATCH => self.s.sscratch = v,
            SEPC => self.s.sepc = v & !1,
            SCAUSE => self.s.scause = v,
            STVAL => self.s.stval = v,
            // Other MODEs leave satp as is (see the module doc). With
            // MODE=Bare the other fields must be written as zero (§4.1.11:
            // otherwise their value is UNSPECIFIED); they are stored as
            // written, as QEMU does (translation ignores them). ASIDLEN is
            // 16 and the PPN is 44 bits, so every bit is stored.
            SATP => match v >> 60 {
                0 | 8 | 9 => self.s.satp = v,
                _ => {}
            },
            STIMECMP => {
                self.s.stimecmp = v;
                self.update_mip();
            }
            _ => return Err(IllegalCsr),
        }
        Ok(())
    }
}
