//! The CSR file and the Zicsr read-modify-write rules.
//!
//! Privileged spec 1.12 chapter 3 ("Machine-Level ISA") lives here; the
//! supervisor CSRs, the sstatus/sie/sip views, delegation and Sstc are in
//! `csr/supervisor.rs` (chapter 4). The hart implements M, S and U modes
//! with Sv39/Sv48 (satp accepts MODE Bare, Sv39 and Sv48; a write selecting
//! another MODE is ignored, which the WARL field allows, §4.1.11; the
//! translation itself is in `mmu`), and Sdtrig's trigger CSRs
//! (`csr/trigger.rs`). Everything unlisted raises illegal-instruction.

use crate::hart::PrivMode;
use crate::insn::CsrOp;
use crate::pmp::Pmp;

mod supervisor;
mod trigger;

pub use trigger::TRIGGERS;

/// CSR numbers (privileged spec §2.2 "CSR Listing").
pub mod addr {
    /// F/D: accrued exceptions, dynamic rounding mode, and both together
    /// (Vol I §"Floating-Point Control and Status Register").
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const HPMCOUNTER3: u16 = 0xc03;
    pub const HPMCOUNTER31: u16 = 0xc1f;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    /// Sstc (the "stimecmp/vstimecmp" extension).
    pub const STIMECMP: u16 = 0x14d;
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MHPMEVENT3: u16 = 0x323;
    pub const MHPMEVENT31: u16 = 0x33f;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    /// Sdtrig's trigger CSRs (see `csr/trigger.rs`).
    pub const TSELECT: u16 = 0x7a0;
    pub const TDATA1: u16 = 0x7a1;
    pub const TDATA2: u16 = 0x7a2;
    pub const TDATA3: u16 = 0x7a3;
    pub const TINFO: u16 = 0x7a4;
    pub const PMPCFG0: u16 = 0x3a0;
    pub const PMPCFG15: u16 = 0x3af;
    pub const PMPADDR0: u16 = 0x3b0;
    pub const PMPADDR63: u16 = 0x3ef;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const MHPMCOUNTER3: u16 = 0xb03;
    pub const MHPMCOUNTER31: u16 = 0xb1f;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
}

/// mstatus bits (privileged spec §3.1.6); sstatus is a view of the same
/// register (§4.1.1).
pub mod mstatus {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    /// VS (vector context status). There is no V extension, but with
    /// S-mode present VS "may optionally be read-only zero" (§3.1.6.6);
    /// it is a plain writable field, as in QEMU, and counts for SD.
    pub const VS: u64 = 3 << 9;
    pub const VS_DIRTY: u64 = 3 << 9;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    /// FS (§3.1.6.6 "Extension Context Status"): Off, Initial, Clean, Dirty.
    pub const FS_SHIFT: u32 = 13;
    pub const FS: u64 = 3 << FS_SHIFT;
    pub const FS_DIRTY: u64 = 3 << FS_SHIFT;
    /// §3.1.6.3 "Memory Privilege in mstatus Register".
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    /// §3.1.6.5 "Virtualization Support in mstatus Register".
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    /// UXL/SXL (§3.1.6.2): read-only 2 (XLEN=64) for both lower modes.
    pub const UXL: u64 = 3 << 32;
    pub const SXL: u64 = 3 << 34;
    pub const XL_64: u64 = (2 << 32) | (2 << 34);
    /// SD: read-only summary, set iff FS or VS is Dirty (XS is always Off).
    pub const SD: u64 = 1 << 63;
}

/// mip/mie bits (privileged spec §3.1.9): the bit number is the interrupt code.
pub mod irq {
    pub const SSI: u64 = 1 << 1;
    pub const MSI: u64 = 1 << 3;
    pub const STI: u64 = 1 << 5;
    pub const MTI: u64 = 1 << 7;
    pub const SEI: u64 = 1 << 9;
    pub const MEI: u64 = 1 << 11;
    pub const M_ALL: u64 = MSI | MTI | MEI;
    pub const S_ALL: u64 = SSI | STI | SEI;
}

/// misa (§3.1.1): MXL=2 (64-bit) in bits 63:62; extensions A, C, D, F, I,
/// M, S (supervisor mode) and U (user mode).
pub const MISA_VALUE: u64 =
    (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

/// mstatus bits software may change directly (MPP is legalised separately).
const MSTATUS_WMASK: u64 = mstatus::SIE
    | mstatus::MIE
    | mstatus::SPIE
    | mstatus::MPIE
    | mstatus::SPP
    | mstatus::VS
    | mstatus::FS
    | mstatus::MPRV
    | mstatus::SUM
    | mstatus::MXR
    | mstatus::TVM
    | mstatus::TW
    | mstatus::TSR;

/// The CSR instruction was illegal (unknown CSR, privilege, or a write to a
/// read-only CSR): the caller raises an illegal-instruction exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalCsr;

/// Hart state a CSR access needs but the CSR file does not own.
#[derive(Debug, Clone, Copy)]
pub struct CsrCtx {
    pub mode: PrivMode,
    /// Instructions retired before the current one (see `Hart::instret`).
    pub retired: u64,
    pub hart_id: u64,
}

/// The CSR file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csrs {
    /// UXL/SXL are stored (read-only 2); SD is kept in sync with FS.
    mstatus: u64,
    mie: u64,
    /// The effective mip, recomputed by `update_mip` from `mip_pins`,
    /// `mip_sw` and Sstc whenever one of them changes (it is read on
    /// every step, so it is cached rather than composed).
    mip: u64,
    /// Levels driven by the machine: MEIP/MTIP/MSIP and the SEIP line.
    mip_pins: u64,
    /// Software-writable bits: SSIP, STIP (ignored while Sstc drives it)
    /// and the software-writable SEIP bit (§3.1.9).
    mip_sw: u64,
    mtvec: u64,
    mepc: u64,
    mcause: u64,
    mtval: u64,
    mscratch: u64,
    mcounteren: u64,
    medeleg: u64,
    mideleg: u64,
    menvcfg: u64,
    /// Supervisor trap state (chapter 4).
    s: supervisor::SState,
    /// mcycle/minstret are `retired + offset`, so a guest write moves only
    /// its own view and `Hart::instret` stays monotonic for the machine.
    cycle_offset: u64,
    instret_offset: u64,
    /// Value of the `time` CSR, set by the machine.
    time: u64,
    /// fcsr fields: fflags (5 bits) and frm (3 bits, any value storable;
    /// an invalid one only traps when an instruction uses it).
    fflags: u8,
    frm: u8,
    pmp: Pmp,
    /// Sdtrig's trigger module.
    triggers: trigger::Triggers,
    /// The privilege mode (as `u8`) whose instruction fetches skip
    /// translation and PMP: M while no PMP check can refuse an M fetch
    /// (`Pmp::m_fetch_unrestricted`), else `NO_MODE`. Recomputed on every PMP and mstatus write, so the hot
    /// path costs one compare against the current mode.
    pmp_fetch_free: u8,
    /// The same for loads and stores (`Pmp::m_data_unrestricted`), which
    /// also need MPRV off (or MPP = M).
    pmp_data_free: u8,
}

/// No privilege mode has this value.
const NO_MODE: u8 = 0xff;

impl Default for Csrs {
    fn default() -> Self {
        Self::new()
    }
}

impl Csrs {
    /// Reset values (§3.4 "Reset"): MIE=0, MPRV=0, mcause=0, everything
    /// else 0 here (MPP resets to M so an mret before any write stays in
    /// M), including mstatus.FS = Off as in QEMU: firmware enables the FPU.
    pub fn new() -> Self {
        Csrs {
            mstatus: mstatus::MPP | mstatus::XL_64,
            mie: 0,
            mip: 0,
            mip_pins: 0,
            mip_sw: 0,
            mtvec: 0,
            mepc: 0,
            mcause: 0,
            mtval: 0,
            mscratch: 0,
            mcounteren: 0,
            medeleg: 0,
            mideleg: 0,
            menvcfg: 0,
            s: supervisor::SState::default(),
            cycle_offset: 0,
            instret_offset: 0,
            time: 0,
            fflags: 0,
            frm: 0,
            pmp: Pmp::default(),
            triggers: trigger::Triggers::default(),
            pmp_fetch_free: PrivMode::Machine as u8,
            pmp_data_free: PrivMode::Machine as u8,
        }
    }

    /// The PMP registers.
    pub fn pmp(&self) -> &Pmp {
        &self.pmp
    }
    /// See the field: the mode whose fetches are neither translated nor checked.
    #[inline(always)]
    pub(crate) fn pmp_fetch_free(&self) -> u8 {
        self.pmp_fetch_free
    }
    /// See the field: the mode whose loads and stores are neither
    /// translated nor checked.
    #[inline(always)]
    pub(crate) fn pmp_data_free(&self) -> u8 {
        self.pmp_data_free
    }
    /// Recompute the two fields above (after a PMP or mstatus change).
    fn update_pmp_free(&mut self) {
        let st = self.mstatus;
        let data_in_m = st & mstatus::MPRV == 0 || st & mstatus::MPP == mstatus::MPP;
        let m = PrivMode::Machine as u8;
        self.pmp_fetch_free = if self.pmp.m_fetch_unrestricted() { m } else { NO_MODE };
        self.pmp_data_free = if self.pmp.m_data_unrestricted() && data_in_m { m } else { NO_MODE };
    }

    #[inline]
    pub fn mstatus(&self) -> u64 {
        self.mstatus
    }
    /// Write mstatus as software would: only `MSTATUS_WMASK` bits change,
    /// MPP is WARL over {U, S, M} (§3.1.6.1: an illegal value such as 2
    /// leaves the previous, legal value), SD follows FS and VS.
    pub(crate) fn set_mstatus(&mut self, v: u64) {
        let mpp = match (v & mstatus::MPP) >> mstatus::MPP_SHIFT {
            2 => self.mstatus & mstatus::MPP,
            _ => v & mstatus::MPP,
        };
        let keep = !(MSTATUS_WMASK | mstatus::MPP | mstatus::SD);
        let st = (self.mstatus & keep) | (v & MSTATUS_WMASK) | mpp;
        let dirty = st & mstatus::FS == mstatus::FS_DIRTY || st & mstatus::VS == mstatus::VS_DIRTY;
        let sd = if dirty { mstatus::SD } else { 0 };
        self.mstatus = st | sd;
        self.update_pmp_free();
    }
    /// mstatus.FS == Off: every F/D instruction and fcsr access is illegal.
    pub fn fs_off(&self) -> bool {
        self.mstatus & mstatus::FS == 0
    }
    /// An instruction wrote an f register or fflags: FS becomes Dirty.
    pub(crate) fn set_fs_dirty(&mut self) {
        self.mstatus |= mstatus::FS_DIRTY | mstatus::SD;
    }
    pub fn fflags(&self) -> u8 {
        self.fflags
    }
    /// OR exception flags into fflags (they accrue until software clears them).
    pub(crate) fn accrue_fflags(&mut self, f: u8) {
        self.fflags |= f & 0x1f;
    }
    pub fn frm(&self) -> u8 {
        self.frm
    }
    #[inline]
    pub fn mie(&self) -> u64 {
        self.mie
    }
    /// The effective pending bits: pins, software bits and Sstc's STIP.
    #[inline]
    pub fn mip(&self) -> u64 {
        self.mip
    }
    /// Drive interrupt lines (`mask` is one or more mip bits).
    pub(crate) fn set_mip_bits(&mut self, mask: u64, level: bool) {
        if level {
            self.mip_pins |= mask;
        } else {
            self.mip_pins &= !mask;
        }
        self.update_mip();
    }
    pub fn mtvec(&self) -> u64 {
        self.mtvec
    }
    pub fn mepc(&self) -> u64 {
        self.mepc
    }
    pub fn mcause(&self) -> u64 {
        self.mcause
    }
    pub fn mtval(&self) -> u64 {
        self.mtval
    }
    pub fn medeleg(&self) -> u64 {
        self.medeleg
    }
    pub fn mideleg(&self) -> u64 {
        self.mideleg
    }
    pub fn time(&self) -> u64 {
        self.time
    }
    /// Sstc: STIP follows `time >= stimecmp`, so a new time re-evaluates it.
    pub(crate) fn set_time(&mut self, t: u64) {
        self.time = t;
        self.update_mip();
    }

    /// Record a trap in mepc/mcause/mtval (the status stack is the hart's job).
    pub(crate) fn set_trap(&mut self, epc: u64, cause: u64, tval: u64) {
        self.mepc = epc & !1;
        self.mcause = cause;
        self.mtval = tval;
    }

    /// Trap target for `cause_code` in M-mode (§3.1.7): direct mode (0)
    /// always jumps to BASE; vectored mode (1) sends interrupts to
    /// BASE + 4*cause.
    pub fn trap_vector(&self, interrupt: bool, cause_code: u64) -> u64 {
        tvec_target(self.mtvec, interrupt, cause_code)
    }

    /// Trap target for a trap taken into `mode` (M or S).
    pub fn trap_vector_for(&self, mode: PrivMode, interrupt: bool, cause_code: u64) -> u64 {
        match mode {
            PrivMode::Machine => self.trap_vector(interrupt, cause_code),
            _ => tvec_target(self.s.stvec, interrupt, cause_code),
        }
    }

    /// Execute one Zicsr instruction against this CSR file and return the
    /// value for rd (0 when the CSR was not read).
    ///
    /// - `src` is the value of rs1 or the zero-extended uimm, and
    ///   `src_field_nonzero` whether that 5-bit field was nonzero: csrrs/csrrc
    ///   with rs1=x0 (or uimm=0) do not write, so they are legal on
    ///   read-only CSRs.
    /// - `rd_is_x0`: csrrw/csrrwi with rd=x0 "shall not read the CSR".
    pub fn rmw(
        &mut self,
        csr: u16,
        op: CsrOp,
        src: u64,
        src_field_nonzero: bool,
        rd_is_x0: bool,
        ctx: &CsrCtx,
    ) -> Result<u64, IllegalCsr> {
        let writes = op == CsrOp::Rw || src_field_nonzero;
        let reads = !(op == CsrOp::Rw && rd_is_x0);
        // §2.1 "CSR Address Mapping Conventions": csr[11:10]=11 is read-only;
        // csr[9:8] is the lowest privilege level that may access it.
        if writes && csr >> 10 == 0b11 {
            return Err(IllegalCsr);
        }
        if (ctx.mode as u16) < (csr >> 8) & 3 {
            return Err(IllegalCsr);
        }
        // Read even when the result is discarded so that the existence check
        // happens once, in one place (no CSR here has read side effects).
        let old = self.read(csr, ctx)?;
        if writes {
            // §3.1.9: "Only the software-writable SEIP bit participates in
            // the read-modify-write sequence of a CSRRS or CSRRC
            // instruction", not the external line OR'ed into the value read.
            let base = match csr {
                addr::MIP => self.mip_rmw_base(),
                addr::SIP => self.mip_rmw_base() & self.mideleg,
                _ => old,
            };
            let new = match op {
                CsrOp::Rw => src,
                CsrOp::Rs => base | src,
                CsrOp::Rc => base & !src,
            };
            self.write(csr, new, ctx)?;
        }
        Ok(if reads { old } else { 0 })
    }

    /// Read a CSR with no side effects. `Err` if it does not exist or the
    /// current mode may not read it.
    pub fn read(&self, csr: u16, ctx: &CsrCtx) -> Result<u64, IllegalCsr> {
        use addr::*;
        Ok(match csr {
            FFLAGS | FRM | FCSR if self.fs_off() => return Err(IllegalCsr),
            FFLAGS => u64::from(self.fflags),
            FRM => u64::from(self.frm),
            FCSR => u64::from(self.frm) << 5 | u64::from(self.fflags),
            MSTATUS => self.mstatus,
            MISA => MISA_VALUE,
            MEDELEG => self.medeleg,
            MIDELEG => self.mideleg,
            MIE => self.mie,
            MIP => self.mip,
            MTVEC => self.mtvec,
            MEPC => self.mepc,
            MCAUSE => self.mcause,
            MTVAL => self.mtval,
            MSCRATCH => self.mscratch,
            MCOUNTEREN => self.mcounteren,
            MENVCFG => self.menvcfg,
            MCYCLE => ctx.retired.wrapping_add(self.cycle_offset),
            MINSTRET => ctx.retired.wrapping_add(self.instret_offset),
            CYCLE | TIME | INSTRET | HPMCOUNTER3..=HPMCOUNTER31
                if !self.counter_ok(csr - CYCLE, ctx.mode) =>
            {
                return Err(IllegalCsr);
            }
            CYCLE => ctx.retired.wrapping_add(self.cycle_offset),
            TIME => self.time,
            INSTRET => ctx.retired.wrapping_add(self.instret_offset),
            // Read-only-zero is a legal implementation of these (§3.1.10);
            // having them keeps firmware that probes or clears them from
            // trapping.
            HPMCOUNTER3..=HPMCOUNTER31
            | MHPMCOUNTER3..=MHPMCOUNTER31
            | MHPMEVENT3..=MHPMEVENT31
            | MCOUNTINHIBIT => 0,
            // §3.7: 16 entries; pmpaddr16..63 and the pmpcfg registers
            // beyond pmpcfg2 read as zero (see `pmp`).
            PMPADDR0..=PMPADDR63 => self.pmp.addr(usize::from(csr - PMPADDR0)),
            // On RV64 only the even pmpcfg registers exist.
            PMPCFG0..=PMPCFG15 if csr.is_multiple_of(2) => self.pmp.read_cfg(usize::from(csr - PMPCFG0)),
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => ctx.hart_id,
            _ if trigger::Triggers::has(csr) => self.triggers.read(csr),
            _ => return self.read_supervisor(csr, ctx),
        })
    }

    /// §3.1.11 "Machine Counter-Enable Register" and §4.1.5: mcounteren
    /// gates S- and U-mode reads of the user counters, scounteren further
    /// gates U-mode; M-mode always has access.
    fn counter_ok(&self, bit: u16, mode: PrivMode) -> bool {
        let m = (self.mcounteren >> bit) & 1 != 0;
        let s = (self.s.scounteren >> bit) & 1 != 0;
        match mode {
            PrivMode::Machine => true,
            PrivMode::Supervisor => m,
            PrivMode::User => m && s,
        }
    }

    /// Write a CSR (WARL fields are legalised here). The caller has already
    /// checked the read-only and privilege rules; `read` checked existence.
    fn write(&mut self, csr: u16, v: u64, ctx: &CsrCtx) -> Result<(), IllegalCsr> {
        use addr::*;
        match csr {
            FFLAGS | FRM | FCSR => {
                if csr != FRM {
                    self.fflags = (v & 0x1f) as u8;
                }
                match csr {
                    FRM => self.frm = (v & 7) as u8,
                    FCSR => self.frm = ((v >> 5) & 7) as u8,
                    _ => {}
                }
                self.set_fs_dirty();
            }
            MSTATUS => self.set_mstatus(v),
            // WARL; a fixed misa is a legal implementation.
            MISA => {}
            MEDELEG => self.medeleg = v & supervisor::MEDELEG_WMASK,
            MIDELEG => self.mideleg = v & irq::S_ALL,
            MIE => self.mie = v & (irq::M_ALL | irq::S_ALL),
            MIP => self.write_mip(v),
            MTVEC => self.mtvec = legal_tvec(v, self.mtvec),
            // IALIGN=16: mepc[0] is always zero.
            MEPC => self.mepc = v & !1,
            MCAUSE => self.mcause = v,
            MTVAL => self.mtval = v,
            MSCRATCH => self.mscratch = v,
            MCOUNTEREN => self.mcounteren = v & 0xffff_ffff,
            MENVCFG => {
                self.menvcfg = v & supervisor::MENVCFG_WMASK;
                self.update_mip();
            }
            // "Any CSR write takes effect after the writing instruction has
            // otherwise completed": the write wins over this instruction's own
            // increment, so offset by retired+1.
            MCYCLE => self.cycle_offset = v.wrapping_sub(ctx.retired.wrapping_add(1)),
            MINSTRET => self.instret_offset = v.wrapping_sub(ctx.retired.wrapping_add(1)),
            MHPMCOUNTER3..=MHPMCOUNTER31 | MHPMEVENT3..=MHPMEVENT31 | MCOUNTINHIBIT => {}
            // `read` already refused the odd pmpcfg registers.
            PMPCFG0..=PMPCFG15 => {
                self.pmp.write_cfg(usize::from(csr - PMPCFG0), v);
                self.update_pmp_free();
            }
            PMPADDR0..=PMPADDR63 => {
                self.pmp.write_addr(usize::from(csr - PMPADDR0), v);
                self.update_pmp_free();
            }
            _ if trigger::Triggers::has(csr) => self.triggers.write(csr, v),
            _ => return self.write_supervisor(csr, v),
        }
        Ok(())
    }
}

/// xtvec MODE >= 2 is reserved (§3.1.7, WARL). Such a write leaves the
/// register as it was, BASE included: the WARL rules allow that and it is
/// what QEMU does (keeping MODE but taking BASE would be legal too).
fn legal_tvec(v: u64, old: u64) -> u64 {
    if v & 3 < 2 { v } else { old }
}

fn tvec_target(tvec: u64, interrupt: bool, cause_code: u64) -> u64 {
    let base = tvec & !3;
    if interrupt && tvec & 3 == 1 { base.wrapping_add(4 * cause_code) } else { base }
}

#[cfg(test)]
mod tests;
