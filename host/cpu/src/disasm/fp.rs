//! F/D instructions in objdump's syntax: FP ABI register names, `.s`/`.d`
//! suffixes, a trailing rounding mode only when it is not `dyn` (and, for
//! the conversions that are always exact, only when it is not `rne`, the
//! value assemblers emit), and the `fmv`/`fneg`/`fabs` aliases of sign
//! injection.

use std::fmt;

use crate::insn::{FCmpOp, FReg, FmaOp, FpFmt, FpOp, Insn, IntFmt, Rm, SgnjOp};

const FABI: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4",
    "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8",
    "ft9", "ft10", "ft11",
];

impl fmt::Display for FReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FABI[self.idx()])
    }
}

fn sfx(fmt: FpFmt) -> char {
    match fmt {
        FpFmt::S => 's',
        FpFmt::D => 'd',
    }
}

fn int_sfx(int: IntFmt) -> &'static str {
    match int {
        IntFmt::W => "w",
        IntFmt::Wu => "wu",
        IntFmt::L => "l",
        IntFmt::Lu => "lu",
    }
}

/// `,rm` as objdump appends it; `exact` ops omit the default `rne` too.
struct RmSuffix(Rm, bool);

impl fmt::Display for RmSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.0 {
            Rm::Dyn => return Ok(()),
            Rm::Rne if self.1 => return Ok(()),
            Rm::Rne => "rne",
            Rm::Rtz => "rtz",
            Rm::Rdn => "rdn",
            Rm::Rup => "rup",
            Rm::Rmm => "rmm",
        };
        write!(f, ",{s}")
    }
}

/// Print an FP instruction; `false` if `insn` is not one.
pub(super) fn fmt_fp(f: &mut fmt::Formatter<'_>, insn: Insn) -> Result<bool, fmt::Error> {
    match insn {
        Insn::FLoad { fmt, rd, rs1, imm } => {
            write!(f, "fl{} {rd},{imm}({rs1})", if fmt == FpFmt::S { 'w' } else { 'd' })?
        }
        Insn::FStore { fmt, rs1, rs2, imm } => {
            write!(f, "fs{} {rs2},{imm}({rs1})", if fmt == FpFmt::S { 'w' } else { 'd' })?
        }
        Insn::FOp { op, fmt, rd, rs1, rs2, rm } => {
            let name = match op {
                FpOp::Add => "add",
                FpOp::Sub => "sub",
                FpOp::Mul => "mul",
                FpOp::Div => "div",
            };
            write!(f, "f{name}.{} {rd},{rs1},{rs2}{}", sfx(fmt), RmSuffix(rm, false))?
        }
        Insn::FSqrt { fmt, rd, rs1, rm } => {
            write!(f, "fsqrt.{} {rd},{rs1}{}", sfx(fmt), RmSuffix(rm, false))?
        }
        Insn::FFma { op, fmt, rd, rs1, rs2, rs3, rm } => {
            let name = match op {
                FmaOp::Madd => "fmadd",
                FmaOp::Msub => "fmsub",
                FmaOp::Nmsub => "fnmsub",
                FmaOp::Nmadd => "fnmadd",
            };
            write!(f, "{name}.{} {rd},{rs1},{rs2},{rs3}{}", sfx(fmt), RmSuffix(rm, false))?
        }
        Insn::FSgnj { op, fmt, rd, rs1, rs2 } => {
            let (alias, name) = match op {
                SgnjOp::J => ("fmv", "fsgnj"),
                SgnjOp::Jn => ("fneg", "fsgnjn"),
                SgnjOp::Jx => ("fabs", "fsgnjx"),
            };
            if rs1 == rs2 {
                write!(f, "{alias}.{} {rd},{rs1}", sfx(fmt))?
            } else {
                write!(f, "{name}.{} {rd},{rs1},{rs2}", sfx(fmt))?
            }
        }
        Insn::FMinMax { max, fmt, rd, rs1, rs2 } => {
            write!(f, "f{}.{} {rd},{rs1},{rs2}", if max { "max" } else { "min" }, sfx(fmt))?
        }
        Insn::FCmp { op, fmt, rd, rs1, rs2 } => {
            let name = match op {
                FCmpOp::Eq => "feq",
                FCmpOp::Lt => "flt",
                FCmpOp::Le => "fle",
            };
            write!(f, "{name}.{} {rd},{rs1},{rs2}", sfx(fmt))?
        }
        Insn::FClass { fmt, rd, rs1 } => write!(f, "fclass.{} {rd},{rs1}", sfx(fmt))?,
        Insn::FCvtToInt { int, fmt, rd, rs1, rm } => {
            write!(f, "fcvt.{}.{} {rd},{rs1}{}", int_sfx(int), sfx(fmt), RmSuffix(rm, false))?
        }
        Insn::FCvtFromInt { int, fmt, rd, rs1, rm } => {
            // Exact unless the integer is wider than the significand.
            let exact = matches!((fmt, int), (FpFmt::D, IntFmt::W | IntFmt::Wu));
            write!(f, "fcvt.{}.{} {rd},{rs1}{}", sfx(fmt), int_sfx(int), RmSuffix(rm, exact))?
        }
        Insn::FCvtFp { to, rd, rs1, rm } => {
            let (from, exact) = if to == FpFmt::S { ('d', false) } else { ('s', true) };
            write!(f, "fcvt.{}.{from} {rd},{rs1}{}", sfx(to), RmSuffix(rm, exact))?
        }
        Insn::FMvToInt { fmt, rd, rs1 } => {
            write!(f, "fmv.x.{} {rd},{rs1}", if fmt == FpFmt::S { 'w' } else { 'd' })?
        }
        Insn::FMvFromInt { fmt, rd, rs1 } => {
            write!(f, "fmv.{}.x {rd},{rs1}", if fmt == FpFmt::S { 'w' } else { 'd' })?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use crate::disasm::disassemble;
    use crate::testutil::asm::*;

    #[test]
    fn prints_fp_instructions_like_objdump() {
        assert_eq!(disassemble(0x02c5_f553), "fadd.d fa0,fa1,fa2");
        assert_eq!(disassemble(opfp(0, 1, 12, 11, 1, 10)), "fadd.d fa0,fa1,fa2,rtz");
        assert_eq!(disassemble(opfp(3, 0, 2, 1, 0, 0)), "fdiv.s ft0,ft1,ft2,rne");
        assert_eq!(disassemble(opfp(0b01011, 1, 0, 8, 7, 9)), "fsqrt.d fs1,fs0");
        assert_eq!(disassemble(0x1820_9043), "fmadd.s ft0,ft1,ft2,ft3,rtz");
        assert_eq!(disassemble(r4(0b1001111, 31, 1, 30, 29, 7, 28)), "fnmadd.d ft8,ft9,ft10,ft11");
        assert_eq!(disassemble(0xffc5_a507), "flw fa0,-4(a1)");
        assert_eq!(disassemble(0x0081_3427), "fsd fs0,8(sp)");
        assert_eq!(disassemble(opfp(0b00100, 1, 11, 11, 0, 10)), "fmv.d fa0,fa1");
        assert_eq!(disassemble(opfp(0b00100, 0, 11, 11, 1, 10)), "fneg.s fa0,fa1");
        assert_eq!(disassemble(opfp(0b00100, 1, 11, 11, 2, 10)), "fabs.d fa0,fa1");
        assert_eq!(disassemble(opfp(0b00100, 1, 12, 11, 2, 10)), "fsgnjx.d fa0,fa1,fa2");
        assert_eq!(disassemble(opfp(0b00101, 0, 12, 11, 1, 10)), "fmax.s fa0,fa1,fa2");
        assert_eq!(disassemble(opfp(0b10100, 1, 12, 11, 1, 10)), "flt.d a0,fa1,fa2");
        assert_eq!(disassemble(opfp(0b11100, 1, 0, 11, 1, 10)), "fclass.d a0,fa1");
        assert_eq!(disassemble(0xc205_1553), "fcvt.w.d a0,fa0,rtz");
        assert_eq!(disassemble(opfp(0b11000, 0, 3, 10, 7, 10)), "fcvt.lu.s a0,fa0");
        assert_eq!(disassemble(opfp(0b11010, 1, 0, 10, 0, 10)), "fcvt.d.w fa0,a0");
        assert_eq!(disassemble(opfp(0b11010, 1, 2, 10, 0, 10)), "fcvt.d.l fa0,a0,rne");
        assert_eq!(disassemble(opfp(0b01000, 1, 0, 10, 0, 10)), "fcvt.d.s fa0,fa0");
        assert_eq!(disassemble(opfp(0b01000, 0, 1, 10, 7, 10)), "fcvt.s.d fa0,fa0");
        assert_eq!(disassemble(0xe205_0553), "fmv.x.d a0,fa0");
        assert_eq!(disassemble(0xf005_0053), "fmv.w.x ft0,a0");
        assert_eq!(disassemble(0x3d28), "fld fa0,120(a0)"); // c.fld
        assert_eq!(disassemble(0xbfee), "fsd fs11,504(sp)"); // c.fsdsp
    }
}
