//! Machine-mode CSRs and the Zicsr read-modify-write rules.
//!
//! Privileged spec chapter 3 ("Machine-Level ISA"). Only M-mode exists, so
//! fields that describe S/U (SPP, SIE, MPRV, ...) are read-only zero and
//! mstatus.MPP is read-only 3. Supervisor CSRs, medeleg/mideleg ("should not
//! exist" without S-mode) and everything unlisted raise illegal-instruction.

use crate::hart::PrivMode;
use crate::insn::CsrOp;

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
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
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

/// mstatus bits (privileged spec §3.1.6).
pub mod mstatus {
    pub const MIE: u64 = 1 << 3;
    pub const MPIE: u64 = 1 << 7;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    /// FS (§3.1.6.6 "Extension Context Status"): Off, Initial, Clean, Dirty.
    pub const FS_SHIFT: u32 = 13;
    pub const FS: u64 = 3 << FS_SHIFT;
    pub const FS_DIRTY: u64 = 3 << FS_SHIFT;
    /// SD: read-only summary, set iff FS (or XS/VS, always Off here) is Dirty.
    pub const SD: u64 = 1 << 63;
}

/// mip/mie bits (privileged spec §3.1.9): the bit number is the interrupt code.
pub mod irq {
    pub const MSI: u64 = 1 << 3;
    pub const MTI: u64 = 1 << 7;
    pub const MEI: u64 = 1 << 11;
    pub const M_ALL: u64 = MSI | MTI | MEI;
}

/// misa (§3.1.1): MXL=2 (64-bit) in bits 63:62; extension bits A, C, D, F, I, M.
pub const MISA_VALUE: u64 = (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12);

/// mstatus bits software may change while only M-mode exists.
const MSTATUS_WMASK: u64 = mstatus::MIE | mstatus::MPIE | mstatus::FS;

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
    /// Stored with MPP already set to M; only `MSTATUS_WMASK` bits change.
    mstatus: u64,
    mie: u64,
    /// Only the machine drives these bits (via interrupt pins).
    mip: u64,
    mtvec: u64,
    mepc: u64,
    mcause: u64,
    mtval: u64,
    mscratch: u64,
    mcounteren: u64,
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
}

impl Default for Csrs {
    fn default() -> Self {
        Self::new()
    }
}

impl Csrs {
    /// Reset values (§3.4 "Reset"): MIE=0, mcause=0, everything else 0 here,
    /// including mstatus.FS = Off as in QEMU: firmware enables the FPU.
    pub fn new() -> Self {
        Csrs {
            mstatus: mstatus::MPP,
            mie: 0,
            mip: 0,
            mtvec: 0,
            mepc: 0,
            mcause: 0,
            mtval: 0,
            mscratch: 0,
            mcounteren: 0,
            cycle_offset: 0,
            instret_offset: 0,
            time: 0,
            fflags: 0,
            frm: 0,
        }
    }

    #[inline]
    pub fn mstatus(&self) -> u64 {
        self.mstatus
    }
    pub(crate) fn set_mstatus(&mut self, v: u64) {
        let st = (self.mstatus & !(MSTATUS_WMASK | mstatus::SD)) | (v & MSTATUS_WMASK);
        let sd = if st & mstatus::FS == mstatus::FS_DIRTY { mstatus::SD } else { 0 };
        self.mstatus = st | sd;
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
    #[inline]
    pub fn mip(&self) -> u64 {
        self.mip
    }
    pub(crate) fn set_mip_bits(&mut self, mask: u64, level: bool) {
        if level {
            self.mip |= mask;
        } else {
            self.mip &= !mask;
        }
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
    pub fn time(&self) -> u64 {
        self.time
    }
    pub(crate) fn set_time(&mut self, t: u64) {
        self.time = t;
    }

    /// Record a trap in mepc/mcause/mtval (the status stack is the hart's job).
    pub(crate) fn set_trap(&mut self, epc: u64, cause: u64, tval: u64) {
        self.mepc = epc & !1;
        self.mcause = cause;
        self.mtval = tval;
    }

    /// Trap target for `cause_code` (§3.1.7): direct mode (0) always jumps to
    /// BASE; vectored mode (1) sends interrupts to BASE + 4*cause.
    pub fn trap_vector(&self, interrupt: bool, cause_code: u64) -> u64 {
        let base = self.mtvec & !3;
        if interrupt && self.mtvec & 3 == 1 { base.wrapping_add(4 * cause_code) } else { base }
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
            let new = match op {
                CsrOp::Rw => src,
                CsrOp::Rs => old | src,
                CsrOp::Rc => old & !src,
            };
            self.write(csr, new, ctx)?;
        }
        Ok(if reads { old } else { 0 })
    }

    /// Read a CSR with no side effects. `Err` if it does not exist or the
    /// current mode may not read it.
    pub fn read(&self, csr: u16, ctx: &CsrCtx) -> Result<u64, IllegalCsr> {
        use addr::*;
        let counter_ok = |bit: u16| {
            // §3.1.11: mcounteren gates lower-privilege access to the
            // user counters; M-mode always has access.
            ctx.mode == PrivMode::Machine || (self.mcounteren >> bit) & 1 != 0
        };
        Ok(match csr {
            FFLAGS | FRM | FCSR if self.fs_off() => return Err(IllegalCsr),
            FFLAGS => u64::from(self.fflags),
            FRM => u64::from(self.frm),
            FCSR => u64::from(self.frm) << 5 | u64::from(self.fflags),
            MSTATUS => self.mstatus,
            MISA => MISA_VALUE,
            MIE => self.mie,
            MIP => self.mip,
            MTVEC => self.mtvec,
            MEPC => self.mepc,
            MCAUSE => self.mcause,
            MTVAL => self.mtval,
            MSCRATCH => self.mscratch,
            MCOUNTEREN => self.mcounteren,
            MCYCLE => ctx.retired.wrapping_add(self.cycle_offset),
            MINSTRET => ctx.retired.wrapping_add(self.instret_offset),
            CYCLE | TIME | INSTRET | HPMCOUNTER3..=HPMCOUNTER31 if !counter_ok(csr - CYCLE) => {
                return Err(IllegalCsr);
            }
            CYCLE => ctx.retired.wrapping_add(self.cycle_offset),
            TIME => self.time,
            INSTRET => ctx.retired.wrapping_add(self.instret_offset),
            // Read-only-zero is a legal implementation of these (§3.1.10,
            // §3.7 PMP with zero entries); having them keeps firmware that
            // probes or clears them from trapping.
            HPMCOUNTER3..=HPMCOUNTER31
            | MHPMCOUNTER3..=MHPMCOUNTER31
            | MHPMEVENT3..=MHPMEVENT31
            | MCOUNTINHIBIT
            | MENVCFG
            | PMPADDR0..=PMPADDR63 => 0,
            // On RV64 only the even pmpcfg registers exist.
            PMPCFG0..=PMPCFG15 if csr.is_multiple_of(2) => 0,
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => ctx.hart_id,
            _ => return Err(IllegalCsr),
        })
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
            MIE => self.mie = v & irq::M_ALL,
            // MEIP/MTIP/MSIP are read-only in mip; no writable bits without S-mode.
            MIP => {}
            MTVEC => {
                // MODE >= 2 is reserved: keep the previous (legal) mode.
                let mode = if v & 3 < 2 { v & 3 } else { self.mtvec & 3 };
                self.mtvec = (v & !3) | mode;
            }
            // IALIGN=16: mepc[0] is always zero.
            MEPC => self.mepc = v & !1,
            MCAUSE => self.mcause = v,
            MTVAL => self.mtval = v,
            MSCRATCH => self.mscratch = v,
            MCOUNTEREN => self.mcounteren = v & 0xffff_ffff,
            // "Any CSR write takes effect after the writing instruction has
            // otherwise completed": the write wins over this instruction's own
            // increment, so offset by retired+1.
            MCYCLE => self.cycle_offset = v.wrapping_sub(ctx.retired.wrapping_add(1)),
            MINSTRET => self.instret_offset = v.wrapping_sub(ctx.retired.wrapping_add(1)),
            MHPMCOUNTER3..=MHPMCOUNTER31
            | MHPMEVENT3..=MHPMEVENT31
            | MCOUNTINHIBIT
            | MENVCFG
            | PMPCFG0..=PMPCFG15
            | PMPADDR0..=PMPADDR63 => {}
            _ => return Err(IllegalCsr),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: CsrCtx = CsrCtx { mode: PrivMode::Machine, retired: 100, hart_id: 3 };

    fn rmw(c: &mut Csrs, csr: u16, op: CsrOp, src: u64, rd_x0: bool) -> Result<u64, IllegalCsr> {
        c.rmw(csr, op, src, src != 0, rd_x0, &M)
    }

    #[test]
    fn misa_reports_rv64_imac_and_ignores_writes() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MISA, CsrOp::Rw, 0, true).expect("misa is writable (WARL)");
        let v = rmw(&mut c, addr::MISA, CsrOp::Rs, 0, false).expect("read");
        assert_eq!(v >> 62, 2);
        assert_eq!(v & 0x3ff_ffff, 0b1_0001_0010_1101, "IMAFDC");
    }

    #[test]
    fn mstatus_only_mie_mpie_fs_writable_and_mpp_reads_3() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MSTATUS, CsrOp::Rw, u64::MAX, true).expect("write");
        let v = rmw(&mut c, addr::MSTATUS, CsrOp::Rs, 0, false).expect("read");
        assert_eq!(v, mstatus::MIE | mstatus::MPIE | mstatus::MPP | mstatus::FS | mstatus::SD);
        rmw(&mut c, addr::MSTATUS, CsrOp::Rw, 0, true).expect("write");
        assert_eq!(c.mstatus(), mstatus::MPP);
    }

    #[test]
    fn csrrs_and_csrrc_set_and_clear_bits_returning_old_value() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 0b1010, true).expect("w");
        assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0b0101, false), Ok(0b1010));
        assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rc, 0b0011, false), Ok(0b1111));
        assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0, false), Ok(0b1100));
    }

    #[test]
    fn csrrw_with_rd_x0_returns_nothing_but_writes() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 7, false).expect("w");
        assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 9, true), Ok(0));
        assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0, false), Ok(9));
    }

    #[test]
    fn read_only_csrs_trap_on_any_write_but_not_on_pure_reads() {
        let mut c = Csrs::new();
        assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rs, 0, false), Ok(3));
        assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rc, 0, false), Ok(3));
        assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rw, 3, true), Err(IllegalCsr));
        assert_eq!(rmw(&mut c, addr::CYCLE, CsrOp::Rs, 1, false), Err(IllegalCsr));
        assert_eq!(rmw(&mut c, addr::MVENDORID, CsrOp::Rs, 0, false), Ok(0));
    }

    #[test]
    fn unknown_and_supervisor_csrs_are_illegal() {
        let mut c = Csrs::new();
        for csr in [0x100, 0x180, 0x302, 0x303, 0x7c0, 0x3a1, 0xfff] {
            assert_eq!(rmw(&mut c, csr, CsrOp::Rs, 0, false), Err(IllegalCsr), "{csr:#x}");
            assert_eq!(rmw(&mut c, csr, CsrOp::Rw, 0, true), Err(IllegalCsr), "{csr:#x}");
        }
    }

    #[test]
    fn mip_pending_bits_are_read_only_to_software() {
        let mut c = Csrs::new();
        c.set_mip_bits(irq::MTI, true);
        rmw(&mut c, addr::MIP, CsrOp::Rw, 0, true).expect("write is legal, just ignored");
        rmw(&mut c, addr::MIP, CsrOp::Rs, irq::MSI, false).expect("legal");
        assert_eq!(c.mip(), irq::MTI);
    }

    #[test]
    fn mie_keeps_only_machine_enable_bits() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MIE, CsrOp::Rw, u64::MAX, true).expect("w");
        assert_eq!(c.mie(), irq::M_ALL);
    }

    #[test]
    fn mtvec_keeps_legal_mode_and_vectors_interrupts_only() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x8000_0001, true).expect("w");
        assert_eq!(c.trap_vector(true, 7), 0x8000_001c);
        assert_eq!(c.trap_vector(false, 2), 0x8000_0000);
        rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x9000_0002, true).expect("w");
        assert_eq!(c.mtvec(), 0x9000_0001, "reserved mode 2 keeps the old mode");
        rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x9000_0000, true).expect("w");
        assert_eq!(c.trap_vector(true, 7), 0x9000_0000);
    }

    #[test]
    fn mepc_clears_bit_0() {
        let mut c = Csrs::new();
        rmw(&mut c, addr::MEPC, CsrOp::Rw, 0x1003, true).expect("w");
        assert_eq!(c.mepc(), 0x1002);
    }

    #[test]
    fn counters_follow_retired_and_writes_take_precedence() {
        let mut c = Csrs::new();
        assert_eq!(rmw(&mut c, addr::INSTRET, CsrOp::Rs, 0, false), Ok(100));
        assert_eq!(rmw(&mut c, addr::CYCLE, CsrOp::Rs, 0, false), Ok(100));
        rmw(&mut c, addr::MINSTRET, CsrOp::Rw, 5000, true).expect("w");
        // The writing instruction then retires: retired becomes 101.
        let after = CsrCtx { retired: 101, ..M };
        assert_eq!(c.read(addr::MINSTRET, &after), Ok(5000));
        assert_eq!(c.read(addr::MCYCLE, &after), Ok(101));
        c.set_time(42);
        assert_eq!(c.read(addr::TIME, &after), Ok(42));
    }

    #[test]
    fn raz_wi_csrs_accept_writes_and_read_zero() {
        let mut c = Csrs::new();
        for csr in [addr::MENVCFG, addr::PMPCFG0, addr::PMPADDR0, 0xb03, 0x323] {
            rmw(&mut c, csr, CsrOp::Rw, u64::MAX, true).expect("writable");
            assert_eq!(c.read(csr, &M), Ok(0), "{csr:#x}");
        }
    }

    #[test]
    fn fp_csrs_need_fs_on_and_writes_make_it_dirty() {
        let mut c = Csrs::new();
        assert!(c.fs_off(), "FS resets to Off");
        for csr in [addr::FFLAGS, addr::FRM, addr::FCSR] {
            assert_eq!(rmw(&mut c, csr, CsrOp::Rs, 0, false), Err(IllegalCsr), "{csr:#x} with FS=Off");
        }
        rmw(&mut c, addr::MSTATUS, CsrOp::Rs, 1 << mstatus::FS_SHIFT, true).expect("FS=Initial");
        assert_eq!(c.mstatus() & mstatus::SD, 0);
        assert_eq!(rmw(&mut c, addr::FCSR, CsrOp::Rs, 0, false), Ok(0), "a pure read keeps FS");
        assert_eq!(c.mstatus() & mstatus::FS, 1 << mstatus::FS_SHIFT);
        rmw(&mut c, addr::FCSR, CsrOp::Rw, 0xff_ff, true).expect("write fcsr");
        assert_eq!(c.mstatus() & (mstatus::FS | mstatus::SD), mstatus::FS_DIRTY | mstatus::SD);
        assert_eq!(c.read(addr::FCSR, &M), Ok(0xff), "fcsr is 8 bits: frm[7:5] fflags[4:0]");
        assert_eq!(rmw(&mut c, addr::FRM, CsrOp::Rw, 0b1_0010, false), Ok(7));
        assert_eq!(c.read(addr::FCSR, &M), Ok(0b010_11111));
        assert_eq!(rmw(&mut c, addr::FFLAGS, CsrOp::Rc, 0b00101, false), Ok(0x1f));
        assert_eq!(c.read(addr::FCSR, &M), Ok(0b010_11010));
        // Clearing FS again hides the FPU and drops SD.
        rmw(&mut c, addr::MSTATUS, CsrOp::Rc, mstatus::FS, true).expect("FS=Off");
        assert_eq!(c.mstatus() & (mstatus::FS | mstatus::SD), 0);
        assert_eq!(c.read(addr::FFLAGS, &M), Err(IllegalCsr));
    }
}
