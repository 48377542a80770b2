//! F and D extensions: LOAD-FP, STORE-FP, the FMA family and OP-FP.
//!
//! Encodings are Vol I chapter 34 ("RV32/64G Instruction Set Listings"),
//! RV32F/RV64F/RV32D/RV64D tables. `fmt` (inst[26:25]) 00 = S, 01 = D;
//! H (10) and Q (11) are not implemented and decode as `Insn::Illegal`, as
//! do the reserved rounding modes 101 and 110 (the spec makes them illegal
//! instructions whatever the operation).

use super::{funct3, imm_i, imm_s, rd, rs1, rs2};
use crate::insn::{FCmpOp, FReg, FmaOp, FpFmt, FpOp, Insn, IntFmt, Reg, Rm, SgnjOp};

#[inline]
fn frd(i: u32) -> FReg {
    FReg(rd(i).0)
}
#[inline]
fn frs1(i: u32) -> FReg {
    FReg(rs1(i).0)
}
#[inline]
fn frs2(i: u32) -> FReg {
    FReg(rs2(i).0)
}
/// R4 format: rs3 = inst[31:27].
#[inline]
fn frs3(i: u32) -> FReg {
    FReg((i >> 27) as u8)
}

/// The `fmt` field at inst[26:25].
fn fmt(i: u32) -> Option<FpFmt> {
    match (i >> 25) & 3 {
        0b00 => Some(FpFmt::S),
        0b01 => Some(FpFmt::D),
        _ => None,
    }
}

/// The `rm` field (funct3 position).
fn rm(i: u32) -> Option<Rm> {
    Some(match funct3(i) {
        0b000 => Rm::Rne,
        0b001 => Rm::Rtz,
        0b010 => Rm::Rdn,
        0b011 => Rm::Rup,
        0b100 => Rm::Rmm,
        0b111 => Rm::Dyn,
        _ => return None,
    })
}

/// LOAD-FP: FLW (funct3 010), FLD (011). Other widths belong to Zfh/Q/V.
pub(super) fn load_fp(i: u32) -> Insn {
    match funct3(i) {
        0b010 => Insn::FLoad { fmt: FpFmt::S, rd: frd(i), rs1: rs1(i), imm: imm_i(i) },
        0b011 => Insn::FLoad { fmt: FpFmt::D, rd: frd(i), rs1: rs1(i), imm: imm_i(i) },
        _ => Insn::Illegal,
    }
}

/// STORE-FP: FSW (funct3 010), FSD (011).
pub(super) fn store_fp(i: u32) -> Insn {
    match funct3(i) {
        0b010 => Insn::FStore { fmt: FpFmt::S, rs1: rs1(i), rs2: frs2(i), imm: imm_s(i) },
        0b011 => Insn::FStore { fmt: FpFmt::D, rs1: rs1(i), rs2: frs2(i), imm: imm_s(i) },
        _ => Insn::Illegal,
    }
}

/// MADD/MSUB/NMSUB/NMADD: rs3 fmt rs2 rs1 rm rd opcode.
pub(super) fn fma(i: u32, op: FmaOp) -> Insn {
    let (Some(fmt), Some(rm)) = (fmt(i), rm(i)) else { return Insn::Illegal };
    Insn::FFma { op, fmt, rd: frd(i), rs1: frs1(i), rs2: frs2(i), rs3: frs3(i), rm }
}

/// OP-FP: funct5[31:27] fmt[26:25] rs2 rs1 funct3/rm rd 1010011.
pub(super) fn op_fp(i: u32) -> Insn {
    let Some(fmt) = fmt(i) else { return Insn::Illegal };
    let f3 = funct3(i);
    let r2 = rs2(i).0;
    let (rd_f, rd_x, rs1_f, rs1_x, rs2_f) = (frd(i), rd(i), frs1(i), rs1(i), frs2(i));
    let with_rm = |make: &dyn Fn(Rm) -> Insn| rm(i).map_or(Insn::Illegal, make);
    match i >> 27 {
        f5 @ 0b00000..=0b00011 => {
            let op = match f5 {
                0b00000 => FpOp::Add,
                0b00001 => FpOp::Sub,
                0b00010 => FpOp::Mul,
                _ => FpOp::Div,
            };
            with_rm(&|rm| Insn::FOp { op, fmt, rd: rd_f, rs1: rs1_f, rs2: rs2_f, rm })
        }
        0b01011 if r2 == 0 => with_rm(&|rm| Insn::FSqrt { fmt, rd: rd_f, rs1: rs1_f, rm }),
        0b00100 => {
            let op = match f3 {
                0b000 => SgnjOp::J,
                0b001 => SgnjOp::Jn,
                0b010 => SgnjOp::Jx,
                _ => return Insn::Illegal,
            };
            Insn::FSgnj { op, fmt, rd: rd_f, rs1: rs1_f, rs2: rs2_f }
        }
        0b00101 if f3 < 2 => Insn::FMinMax { max: f3 == 1, fmt, rd: rd_f, rs1: rs1_f, rs2: rs2_f },
        // FCVT.S.D: fmt=S, rs2=1 (source D); FCVT.D.S: fmt=D, rs2=0.
        0b01000 => match (fmt, r2) {
            (FpFmt::S, 1) | (FpFmt::D, 0) => {
                with_rm(&|rm| Insn::FCvtFp { to: fmt, rd: rd_f, rs1: rs1_f, rm })
            }
            _ => Insn::Illegal,
        },
        0b10100 => {
            let op = match f3 {
                0b010 => FCmpOp::Eq,
                0b001 => FCmpOp::Lt,
                0b000 => FCmpOp::Le,
                _ => return Insn::Illegal,
            };
            Insn::FCmp { op, fmt, rd: rd_x, rs1: rs1_f, rs2: rs2_f }
        }
        0b11000 => match int_fmt(r2) {
            Some(int) => with_rm(&|rm| Insn::FCvtToInt { int, fmt, rd: rd_x, rs1: rs1_f, rm }),
            None => Insn::Illegal,
        },
        0b11010 => match int_fmt(r2) {
            Some(int) => with_rm(&|rm| Insn::FCvtFromInt { int, fmt, rd: rd_f, rs1: rs1_x, rm }),
            None => Insn::Illegal,
        },
        0b11100 if r2 == 0 && f3 == 0 => Insn::FMvToInt { fmt, rd: rd_x, rs1: rs1_f },
        0b11100 if r2 == 0 && f3 == 1 => Insn::FClass { fmt, rd: rd_x, rs1: rs1_f },
        0b11110 if r2 == 0 && f3 == 0 => Insn::FMvFromInt { fmt, rd: rd_f, rs1: rs1_x },
        _ => Insn::Illegal,
    }
}

fn int_fmt(rs2: u8) -> Option<IntFmt> {
    Some(match rs2 {
        0 => IntFmt::W,
        1 => IntFmt::Wu,
        2 => IntFmt::L,
        3 => IntFmt::Lu,
        _ => return None,
    })
}

/// Compressed FP loads/stores (RV64DC; RV64 has no C.FLW/C.FSW, their
/// slots are C.LD/C.SD): same operands as C.LD/C.SD/C.LDSP/C.SDSP.
pub(super) fn c_fld(rd: Reg, rs1: Reg, off: u32) -> Insn {
    Insn::FLoad { fmt: FpFmt::D, rd: FReg(rd.0), rs1, imm: off as i32 }
}
pub(super) fn c_fsd(rs1: Reg, rs2: Reg, off: u32) -> Insn {
    Insn::FStore { fmt: FpFmt::D, rs1, rs2: FReg(rs2.0), imm: off as i32 }
}

#[cfg(test)]
mod tests {
    use crate::decode::decode;
    use crate::insn::*;
    use crate::testutil::asm::*;

    fn d(raw: u32) -> Insn {
        decode(raw).insn
    }
    fn f(n: u8) -> FReg {
        FReg(n)
    }
    fn x(n: u8) -> Reg {
        Reg(n)
    }
    const FMTS: [(u32, FpFmt); 2] = [(0, FpFmt::S), (1, FpFmt::D)];
    const RMS: [(u32, Rm); 6] =
        [(0, Rm::Rne), (1, Rm::Rtz), (2, Rm::Rdn), (3, Rm::Rup), (4, Rm::Rmm), (7, Rm::Dyn)];

    #[test]
    fn loads_and_stores() {
        // flw/fld ft0..: llvm-mc: flw fa0,-4(a1) = 0xffc5a507; fsd fs0,8(sp) = 0x00813427
        assert_eq!(d(0xffc5_a507), Insn::FLoad { fmt: FpFmt::S, rd: f(10), rs1: x(11), imm: -4 });
        assert_eq!(d(0x0081_3427), Insn::FStore { fmt: FpFmt::D, rs1: x(2), rs2: f(8), imm: 8 });
        assert_eq!(d(fload(3, 31, 2, 2047)), Insn::FLoad { fmt: FpFmt::D, rd: f(31), rs1: x(2), imm: 2047 });
        assert_eq!(
            d(fstore(2, 31, 2, -2048)),
            Insn::FStore { fmt: FpFmt::S, rs1: x(2), rs2: f(31), imm: -2048 }
        );
        for f3 in [0, 1, 4, 5, 6, 7] {
            assert_eq!(d(fload(f3, 1, 2, 0)), Insn::Illegal, "LOAD-FP funct3={f3}");
            assert_eq!(d(fstore(f3, 1, 2, 0)), Insn::Illegal, "STORE-FP funct3={f3}");
        }
    }

    #[test]
    fn arithmetic_every_format_and_rounding_mode() {
        let ops = [(0, FpOp::Add), (1, FpOp::Sub), (2, FpOp::Mul), (3, FpOp::Div)];
        for (fv, fmt) in FMTS {
            for (rv, rm) in RMS {
                for (f5, op) in ops {
                    let want = Insn::FOp { op, fmt, rd: f(1), rs1: f(2), rs2: f(3), rm };
                    assert_eq!(d(opfp(f5, fv, 3, 2, rv, 1)), want);
                }
                assert_eq!(d(opfp(0b01011, fv, 0, 2, rv, 1)), Insn::FSqrt { fmt, rd: f(1), rs1: f(2), rm });
                let fmas = [
                    (0b1000011, FmaOp::Madd),
                    (0b1000111, FmaOp::Msub),
                    (0b1001011, FmaOp::Nmsub),
                    (0b1001111, FmaOp::Nmadd),
                ];
                for (opc, op) in fmas {
                    let want = Insn::FFma { op, fmt, rd: f(1), rs1: f(2), rs2: f(3), rs3: f(31), rm };
                    assert_eq!(d(r4(opc, 31, fv, 3, 2, rv, 1)), want);
                }
            }
        }
        // Golden: fadd.d fa0,fa1,fa2 (dyn) = 0x02c5f553; fmadd.s ft0,ft1,ft2,ft3,rtz = 0x18209043
        assert_eq!(
            d(0x02c5_f553),
            Insn::FOp { op: FpOp::Add, fmt: FpFmt::D, rd: f(10), rs1: f(11), rs2: f(12), rm: Rm::Dyn }
        );
        assert_eq!(
            d(0x1820_9043),
            Insn::FFma {
                op: FmaOp::Madd,
                fmt: FpFmt::S,
                rd: f(0),
                rs1: f(1),
                rs2: f(2),
                rs3: f(3),
                rm: Rm::Rtz
            }
        );
    }

    #[test]
    fn sign_injection_min_max_compare_class_and_moves() {
        for (fv, fmt) in FMTS {
            let sg = |op| Insn::FSgnj { op, fmt, rd: f(1), rs1: f(2), rs2: f(3) };
            assert_eq!(d(opfp(0b00100, fv, 3, 2, 0, 1)), sg(SgnjOp::J));
            assert_eq!(d(opfp(0b00100, fv, 3, 2, 1, 1)), sg(SgnjOp::Jn));
            assert_eq!(d(opfp(0b00100, fv, 3, 2, 2, 1)), sg(SgnjOp::Jx));
            let mm = |max| Insn::FMinMax { max, fmt, rd: f(1), rs1: f(2), rs2: f(3) };
            assert_eq!(d(opfp(0b00101, fv, 3, 2, 0, 1)), mm(false));
            assert_eq!(d(opfp(0b00101, fv, 3, 2, 1, 1)), mm(true));
            let cmp = |op| Insn::FCmp { op, fmt, rd: x(1), rs1: f(2), rs2: f(3) };
            assert_eq!(d(opfp(0b10100, fv, 3, 2, 2, 1)), cmp(FCmpOp::Eq));
            assert_eq!(d(opfp(0b10100, fv, 3, 2, 1, 1)), cmp(FCmpOp::Lt));
            assert_eq!(d(opfp(0b10100, fv, 3, 2, 0, 1)), cmp(FCmpOp::Le));
            assert_eq!(d(opfp(0b11100, fv, 0, 2, 1, 1)), Insn::FClass { fmt, rd: x(1), rs1: f(2) });
            assert_eq!(d(opfp(0b11100, fv, 0, 2, 0, 1)), Insn::FMvToInt { fmt, rd: x(1), rs1: f(2) });
            assert_eq!(d(opfp(0b11110, fv, 0, 2, 0, 1)), Insn::FMvFromInt { fmt, rd: f(1), rs1: x(2) });
        }
        // Golden: fmv.x.d a0,fa0 = 0xe2050553; fmv.w.x ft0,a0 = 0xf0050053
        assert_eq!(d(0xe205_0553), Insn::FMvToInt { fmt: FpFmt::D, rd: x(10), rs1: f(10) });
        assert_eq!(d(0xf005_0053), Insn::FMvFromInt { fmt: FpFmt::S, rd: f(0), rs1: x(10) });
    }

    #[test]
    fn conversions() {
        let ints = [(0, IntFmt::W), (1, IntFmt::Wu), (2, IntFmt::L), (3, IntFmt::Lu)];
        for (fv, fmt) in FMTS {
            for (rv, rm) in RMS {
                for (r2, int) in ints {
                    let to = Insn::FCvtToInt { int, fmt, rd: x(1), rs1: f(2), rm };
                    assert_eq!(d(opfp(0b11000, fv, r2, 2, rv, 1)), to);
                    let from = Insn::FCvtFromInt { int, fmt, rd: f(1), rs1: x(2), rm };
                    assert_eq!(d(opfp(0b11010, fv, r2, 2, rv, 1)), from);
                }
            }
        }
        let cvt = |to, rm| Insn::FCvtFp { to, rd: f(1), rs1: f(2), rm };
        assert_eq!(d(opfp(0b01000, 0, 1, 2, 7, 1)), cvt(FpFmt::S, Rm::Dyn)); // fcvt.s.d
        assert_eq!(d(opfp(0b01000, 1, 0, 2, 0, 1)), cvt(FpFmt::D, Rm::Rne)); // fcvt.d.s
        // Golden: fcvt.w.d a0,fa0,rtz = 0xc2051553
        assert_eq!(
            d(0xc205_1553),
            Insn::FCvtToInt { int: IntFmt::W, fmt: FpFmt::D, rd: x(10), rs1: f(10), rm: Rm::Rtz }
        );
    }

    #[test]
    fn reserved_fp_encodings_are_illegal() {
        let illegal = [
            (opfp(0, 2, 3, 2, 0, 1), "fadd.h (fmt=10)"),
            (opfp(0, 3, 3, 2, 0, 1), "fadd.q (fmt=11)"),
            (r4(0b1000011, 1, 2, 3, 2, 0, 1), "fmadd.h"),
            (opfp(0, 0, 3, 2, 5, 1), "rm=101"),
            (opfp(0, 1, 3, 2, 6, 1), "rm=110"),
            (r4(0b1001111, 1, 1, 3, 2, 5, 1), "fnmadd rm=101"),
            (opfp(0b11000, 0, 0, 2, 6, 1), "fcvt.w.s rm=110"),
            (opfp(0b01011, 0, 1, 2, 0, 1), "fsqrt with rs2!=0"),
            (opfp(0b00100, 0, 3, 2, 3, 1), "fsgnj funct3=011"),
            (opfp(0b00101, 1, 3, 2, 2, 1), "fmin funct3=010"),
            (opfp(0b10100, 0, 3, 2, 3, 1), "fcmp funct3=011"),
            (opfp(0b11000, 0, 4, 2, 0, 1), "fcvt.?.s rs2=4"),
            (opfp(0b11010, 1, 5, 2, 0, 1), "fcvt.d.? rs2=5"),
            (opfp(0b01000, 0, 0, 2, 0, 1), "fcvt.s.s"),
            (opfp(0b01000, 1, 1, 2, 0, 1), "fcvt.d.d"),
            (opfp(0b01000, 0, 2, 2, 0, 1), "fcvt.s.h"),
            (opfp(0b11100, 0, 1, 2, 0, 1), "fmv.x.w with rs2!=0"),
            (opfp(0b11100, 0, 0, 2, 2, 1), "OP-FP 11100 funct3=010"),
            (opfp(0b11110, 0, 0, 2, 1, 1), "fmv.w.x funct3!=0"),
            (opfp(0b11110, 1, 1, 2, 0, 1), "fmv.d.x rs2!=0"),
            (opfp(0b00110, 0, 3, 2, 0, 1), "OP-FP funct5=00110"),
            (opfp(0b11111, 1, 0, 2, 0, 1), "OP-FP funct5=11111"),
        ];
        for (raw, what) in illegal {
            assert_eq!(d(raw), Insn::Illegal, "{what}: {raw:#010x}");
        }
    }
}
