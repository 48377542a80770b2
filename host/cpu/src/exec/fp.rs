//! Execution of the F and D instructions: the hart-side rules (mstatus.FS,
//! rounding-mode resolution, fflags accrual, register writes). The IEEE
//! arithmetic itself is in `crate::fpu`.

use super::{ExecResult, illegal, sext};
use crate::Memory;
use crate::fpu::{self, Round};
use crate::hart::Hart;
use crate::insn::{Decoded, FReg, FpFmt, Insn, Rm, Width};

impl Hart {
    /// Execute one F/D instruction (`d.insn` is one of the FP variants).
    ///
    /// Privileged spec §3.1.6.6: with mstatus.FS = Off, "attempts to read
    /// or write the corresponding state will cause an illegal instruction
    /// exception". Any f-register or fflags write sets FS to Dirty.
    pub(super) fn execute_fp<M: Memory>(&mut self, d: &Decoded, mem: &mut M) -> ExecResult<()> {
        if self.csrs.fs_off() {
            return Err(illegal(d));
        }
        // Resolve `rm` up front: reserved values never decode, but DYN with
        // an invalid frm (101..111) is an illegal instruction (Vol I
        // §"Floating-Point Control and Status Register").
        let round = |rm: Rm| -> ExecResult<Round> {
            let bits = match rm {
                Rm::Rne => 0,
                Rm::Rtz => 1,
                Rm::Rdn => 2,
                Rm::Rup => 3,
                Rm::Rmm => 4,
                Rm::Dyn => self.csrs.frm(),
            };
            Round::from_bits(bits).ok_or_else(|| illegal(d))
        };
        match d.insn {
            Insn::FLoad { fmt, rd, rs1, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                let v = match fmt {
                    FpFmt::S => fpu::box_s(self.load(mem, self.pc, addr, Width::W)? as u32),
                    FpFmt::D => self.load(mem, self.pc, addr, Width::D)?,
                };
                self.set_freg(rd, v);
            }
            Insn::FStore { fmt, rs1, rs2, imm } => {
                // FSW stores the low 32 bits as they are, boxed or not
                // (Vol I §"NaN Boxing of Narrower Values").
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                let width = if fmt == FpFmt::S { Width::W } else { Width::D };
                self.store(mem, self.pc, addr, width, self.freg(rs2))?;
            }
            Insn::FOp { op, fmt, rd, rs1, rs2, rm } => {
                let r = fpu::arith(op, fmt, self.freg(rs1), self.freg(rs2), round(rm)?);
                self.set_freg_flags(rd, r);
            }
            Insn::FSqrt { fmt, rd, rs1, rm } => {
                let r = fpu::sqrt(fmt, self.freg(rs1), round(rm)?);
                self.set_freg_flags(rd, r);
            }
            Insn::FFma { op, fmt, rd, rs1, rs2, rs3, rm } => {
                let (a, b, c) = (self.freg(rs1), self.freg(rs2), self.freg(rs3));
                let r = fpu::fma(op, fmt, a, b, c, round(rm)?);
                self.set_freg_flags(rd, r);
            }
            Insn::FSgnj { op, fmt, rd, rs1, rs2 } => {
                let v = fpu::sgnj(op, fmt, self.freg(rs1), self.freg(rs2));
                self.set_freg(rd, v);
            }
            Insn::FMinMax { max, fmt, rd, rs1, rs2 } => {
                let r = fpu::min_max(max, fmt, self.freg(rs1), self.freg(rs2));
                self.set_freg_flags(rd, r);
            }
            Insn::FCmp { op, fmt, rd, rs1, rs2 } => {
                let (v, fl) = fpu::compare(op, fmt, self.freg(rs1), self.freg(rs2));
                self.accrue(fl);
                self.set_reg(rd, v);
            }
            Insn::FClass { fmt, rd, rs1 } => self.set_reg(rd, fpu::classify(fmt, self.freg(rs1))),
            Insn::FCvtToInt { int, fmt, rd, rs1, rm } => {
                let (v, fl) = fpu::to_int(int, fmt, self.freg(rs1), round(rm)?);
                self.accrue(fl);
                self.set_reg(rd, v);
            }
            Insn::FCvtFromInt { int, fmt, rd, rs1, rm } => {
                let r = fpu::from_int(int, fmt, self.reg(rs1), round(rm)?);
                self.set_freg_flags(rd, r);
            }
            Insn::FCvtFp { to, rd, rs1, rm } => {
                let r = fpu::convert(to, self.freg(rs1), round(rm)?);
                self.set_freg_flags(rd, r);
            }
            // FMV.X.W: the low 32 bits as they are, sign-extended; no
            // NaN-boxing check (it is a bit transfer, not an operation).
            Insn::FMvToInt { fmt: FpFmt::S, rd, rs1 } => {
                self.set_reg(rd, i64::from(self.freg(rs1) as i32) as u64);
            }
            Insn::FMvToInt { fmt: FpFmt::D, rd, rs1 } => self.set_reg(rd, self.freg(rs1)),
            Insn::FMvFromInt { fmt: FpFmt::S, rd, rs1 } => {
                self.set_freg(rd, fpu::box_s(self.reg(rs1) as u32));
            }
            Insn::FMvFromInt { fmt: FpFmt::D, rd, rs1 } => self.set_freg(rd, self.reg(rs1)),
            // Only the FP variants are routed here.
            _ => return Err(illegal(d)),
        }
        Ok(())
    }

    #[inline]
    pub(super) fn freg(&self, r: FReg) -> u64 {
        self.f[r.idx()]
    }

    /// Write an f register; FS becomes Dirty.
    pub(super) fn set_freg(&mut self, r: FReg, v: u64) {
        self.f[r.idx()] = v;
        self.csrs.set_fs_dirty();
    }

    /// Accrue exception flags; a change to fflags makes FS Dirty.
    fn accrue(&mut self, flags: u8) {
        if flags != 0 {
            self.csrs.accrue_fflags(flags);
            self.csrs.set_fs_dirty();
        }
    }

    fn set_freg_flags(&mut self, rd: FReg, (v, flags): fpu::WithFlags<u64>) {
        self.accrue(flags);
        self.set_freg(rd, v);
    }
}
