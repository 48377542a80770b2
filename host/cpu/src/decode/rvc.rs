//! RV64C: 16-bit instructions, expanded to the `Insn` of their 32-bit
//! equivalents. Tables are Vol I chapter "C" Standard Extension, §"RVC
//! Instruction Set Listings" (quadrants 0, 1, 2). The D loads and stores
//! (C.FLD, C.FSD, C.FLDSP, C.FSDSP) expand to `FLoad`/`FStore`; Zcb (funct3
//! 100 in Q0, the c.mul/c.zext... slots in Q1) is not implemented.

use crate::insn::{AluOp, AluWOp, BranchCond, Insn, Reg, Width};

#[inline]
fn bit(h: u32, n: u32) -> u32 {
    (h >> n) & 1
}
#[inline]
fn bits(h: u32, hi: u32, lo: u32) -> u32 {
    (h >> lo) & ((1 << (hi - lo + 1)) - 1)
}
/// Sign-extend the low `width` bits of `v`.
#[inline]
fn sext(v: u32, width: u32) -> i32 {
    let s = 32 - width;
    ((v << s) as i32) >> s
}

/// Full 5-bit register field at [11:7] (rd/rs1).
#[inline]
fn r_hi(h: u32) -> Reg {
    Reg(bits(h, 11, 7) as u8)
}
/// Full 5-bit register field at [6:2] (rs2).
#[inline]
fn r_lo(h: u32) -> Reg {
    Reg(bits(h, 6, 2) as u8)
}
/// 3-bit "popular register" field rd'/rs1'/rs2' maps to x8..x15.
#[inline]
fn rp(h: u32, lo: u32) -> Reg {
    Reg(8 + bits(h, lo + 2, lo) as u8)
}

/// CI-format 6-bit signed immediate: imm[5] = inst[12], imm[4:0] = inst[6:2].
#[inline]
fn ci_imm(h: u32) -> i32 {
    sext((bit(h, 12) << 5) | bits(h, 6, 2), 6)
}
/// CI-format 6-bit unsigned shift amount, same layout as `ci_imm`.
#[inline]
fn ci_shamt(h: u32) -> i32 {
    ((bit(h, 12) << 5) | bits(h, 6, 2)) as i32
}

/// CJ-format jump offset: offset[11|4|9:8|10|6|7|3:1|5] = inst[12:2].
fn cj_imm(h: u32) -> i32 {
    let v = (bit(h, 12) << 11)
        | (bit(h, 11) << 4)
        | (bits(h, 10, 9) << 8)
        | (bit(h, 8) << 10)
        | (bit(h, 7) << 6)
        | (bit(h, 6) << 7)
        | (bits(h, 5, 3) << 1)
        | (bit(h, 2) << 5);
    sext(v, 12)
}

/// CB-format branch offset: offset[8|4:3] = inst[12:10], offset[7:6|2:1|5] = inst[6:2].
fn cb_imm(h: u32) -> i32 {
    let v = (bit(h, 12) << 8)
        | (bits(h, 11, 10) << 3)
        | (bits(h, 6, 5) << 6)
        | (bits(h, 4, 3) << 1)
        | (bit(h, 2) << 5);
    sext(v, 9)
}

fn addi(rd: Reg, rs1: Reg, imm: i32) -> Insn {
    Insn::OpImm { op: AluOp::Add, rd, rs1, imm }
}

fn load(width: Width, rd: Reg, rs1: Reg, imm: u32) -> Insn {
    Insn::Load { width, signed: true, rd, rs1, imm: imm as i32 }
}

fn store(width: Width, rs1: Reg, rs2: Reg, imm: u32) -> Insn {
    Insn::Store { width, rs1, rs2, imm: imm as i32 }
}

/// Decode one 16-bit parcel (low bits != 11).
pub(super) fn decode16(half: u16) -> Insn {
    let h = u32::from(half);
    match (h & 3, bits(h, 15, 13)) {
        (0b00, f) => quadrant0(h, f),
        (0b01, f) => quadrant1(h, f),
        (0b10, f) => quadrant2(h, f),
        // inst[1:0] = 11 is not a compressed instruction at all.
        _ => Insn::Illegal,
    }
}

fn quadrant0(h: u32, funct3: u32) -> Insn {
    // CL/CS word offsets: uimm[5:3] = inst[12:10], uimm[2|6] = inst[6:5].
    let w_off = (bits(h, 12, 10) << 3) | (bit(h, 6) << 2) | (bit(h, 5) << 6);
    // Doubleword offsets: uimm[5:3] = inst[12:10], uimm[7:6] = inst[6:5].
    let d_off = (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6);
    let rs1 = rp(h, 7);
    let rd = rp(h, 2);
    match funct3 {
        // C.ADDI4SPN: nzuimm[5:4|9:6|2|3] = inst[12:5]; nzuimm=0 is reserved
        // (this also makes the all-zero parcel illegal, as the spec intends).
        0b000 => {
            let imm = (bits(h, 12, 11) << 4) | (bits(h, 10, 7) << 6) | (bit(h, 6) << 2) | (bit(h, 5) << 3);
            if imm == 0 { Insn::Illegal } else { addi(rd, Reg::SP, imm as i32) }
        }
        0b001 => super::fp::c_fld(rd, rs1, d_off), // C.FLD
        0b010 => load(Width::W, rd, rs1, w_off),   // C.LW
        0b011 => load(Width::D, rd, rs1, d_off),   // C.LD (RV64)
        0b110 => store(Width::W, rs1, rd, w_off),  // C.SW (rs2' at [4:2])
        0b101 => super::fp::c_fsd(rs1, rd, d_off), // C.FSD
        0b111 => store(Width::D, rs1, rd, d_off),  // C.SD
        // 100 reserved (Zcb).
        _ => Insn::Illegal,
    }
}

fn quadrant1(h: u32, funct3: u32) -> Insn {
    let rd = r_hi(h);
    match funct3 {
        // C.ADDI (rd=0 is C.NOP or a HINT; both execute as addi x0 = no-op).
        0b000 => addi(rd, rd, ci_imm(h)),
        // C.ADDIW (RV64): rd=0 reserved.
        0b001 if rd.0 == 0 => Insn::Illegal,
        0b001 => Insn::OpImm32 { op: AluWOp::Add, rd, rs1: rd, imm: ci_imm(h) },
        // C.LI: addi rd, x0, imm (rd=0 is a HINT).
        0b010 => addi(rd, Reg::ZERO, ci_imm(h)),
        // C.ADDI16SP: nzimm[9] = inst[12], nzimm[4|6|8:7|5] = inst[6:2]; 0 reserved.
        0b011 if rd.0 == 2 => {
            let v = (bit(h, 12) << 9)
                | (bit(h, 6) << 4)
                | (bit(h, 5) << 6)
                | (bits(h, 4, 3) << 7)
                | (bit(h, 2) << 5);
            if v == 0 { Insn::Illegal } else { addi(Reg::SP, Reg::SP, sext(v, 10)) }
        }
        // C.LUI: nzimm[17] = inst[12], nzimm[16:12] = inst[6:2]; 0 reserved.
        0b011 => {
            let imm = ci_imm(h);
            if imm == 0 { Insn::Illegal } else { Insn::Lui { rd, imm: imm << 12 } }
        }
        0b100 => misc_alu(h),
        // C.J: jal x0, offset
        0b101 => Insn::Jal { rd: Reg::ZERO, imm: cj_imm(h) },
        // C.BEQZ / C.BNEZ: b{eq,ne} rs1', x0, offset
        0b110 | 0b111 => Insn::Branch {
            cond: if funct3 == 0b110 { BranchCond::Eq } else { BranchCond::Ne },
            rs1: rp(h, 7),
            rs2: Reg::ZERO,
            imm: cb_imm(h),
        },
        _ => Insn::Illegal,
    }
}

/// Quadrant 1, funct3 = 100: C.SRLI C.SRAI C.ANDI and the CA-format ALU ops.
fn misc_alu(h: u32) -> Insn {
    let rd = rp(h, 7);
    match bits(h, 11, 10) {
        // RV64C: shamt[5] = inst[12]; shamt = 0 is a HINT (executes as a no-op shift).
        0b00 | 0b01 => Insn::OpImm {
            op: if bits(h, 11, 10) == 0 { AluOp::Srl } else { AluOp::Sra },
            rd,
            rs1: rd,
            imm: ci_shamt(h),
        },
        0b10 => Insn::OpImm { op: AluOp::And, rd, rs1: rd, imm: ci_imm(h) },
        _ => {
            let rs2 = rp(h, 2);
            // inst[12] selects the W forms; funct2 = inst[6:5].
            match (bit(h, 12), bits(h, 6, 5)) {
                (0, f2) => Insn::Op {
                    op: match f2 {
                        0b00 => AluOp::Sub,
                        0b01 => AluOp::Xor,
                        0b10 => AluOp::Or,
                        _ => AluOp::And,
                    },
                    rd,
                    rs1: rd,
                    rs2,
                },
                (_, 0b00) => Insn::Op32 { op: AluWOp::Sub, rd, rs1: rd, rs2 },
                (_, 0b01) => Insn::Op32 { op: AluWOp::Add, rd, rs1: rd, rs2 },
                // 10, 11 with inst[12]=1: reserved (Zcb's c.mul and friends).
                _ => Insn::Illegal,
            }
        }
    }
}

fn quadrant2(h: u32, funct3: u32) -> Insn {
    let rd = r_hi(h);
    let rs2 = r_lo(h);
    match funct3 {
        // C.SLLI: slli rd, rd, shamt (rd=0 or shamt=0: HINT).
        0b000 => Insn::OpImm { op: AluOp::Sll, rd, rs1: rd, imm: ci_shamt(h) },
        // C.FLDSP: as C.LDSP, but f0 is a valid destination.
        0b001 => {
            let off = (bit(h, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6);
            super::fp::c_fld(rd, Reg::SP, off)
        }
        // C.LWSP: uimm[5] = inst[12], uimm[4:2|7:6] = inst[6:2]; rd=0 reserved.
        0b010 if rd.0 != 0 => {
            let off = (bit(h, 12) << 5) | (bits(h, 6, 4) << 2) | (bits(h, 3, 2) << 6);
            load(Width::W, rd, Reg::SP, off)
        }
        // C.LDSP: uimm[5] = inst[12], uimm[4:3|8:6] = inst[6:2]; rd=0 reserved.
        0b011 if rd.0 != 0 => {
            let off = (bit(h, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6);
            load(Width::D, rd, Reg::SP, off)
        }
        0b100 => match (bit(h, 12), rd.0, rs2.0) {
            // C.JR: jalr x0, 0(rs1); rs1=0 reserved.
            (0, 0, 0) => Insn::Illegal,
            (0, _, 0) => Insn::Jalr { rd: Reg::ZERO, rs1: rd, imm: 0 },
            // C.MV: add rd, x0, rs2 (rd=0 HINT).
            (0, _, _) => Insn::Op { op: AluOp::Add, rd, rs1: Reg::ZERO, rs2 },
            // C.EBREAK
            (_, 0, 0) => Insn::Ebreak,
            // C.JALR: jalr x1, 0(rs1)
            (_, _, 0) => Insn::Jalr { rd: Reg::RA, rs1: rd, imm: 0 },
            // C.ADD: add rd, rd, rs2 (rd=0 HINT).
            _ => Insn::Op { op: AluOp::Add, rd, rs1: rd, rs2 },
        },
        // C.FSDSP: as C.SDSP.
        0b101 => {
            let off = (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6);
            super::fp::c_fsd(Reg::SP, rs2, off)
        }
        // C.SWSP: uimm[5:2|7:6] = inst[12:7]
        0b110 => {
            let off = (bits(h, 12, 9) << 2) | (bits(h, 8, 7) << 6);
            store(Width::W, Reg::SP, rs2, off)
        }
        // C.SDSP: uimm[5:3|8:6] = inst[12:7]
        0b111 => {
            let off = (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6);
            store(Width::D, Reg::SP, rs2, off)
        }
        // Reserved rd=0 loads.
        _ => Insn::Illegal,
    }
}

#[cfg(test)]
mod tests {
    //! Golden encodings come from `llvm-mc -triple=riscv64 -mattr=+c
    //! -show-encoding`, an assembler independent of this decoder.

    use super::*;

    fn x(n: u8) -> Reg {
        Reg(n)
    }
    fn opi(op: AluOp, rd: u8, rs1: u8, imm: i32) -> Insn {
        Insn::OpImm { op, rd: x(rd), rs1: x(rs1), imm }
    }
    fn op(op: AluOp, rd: u8, rs1: u8, rs2: u8) -> Insn {
        Insn::Op { op, rd: x(rd), rs1: x(rs1), rs2: x(rs2) }
    }
    fn op32(op: AluWOp, rd: u8, rs1: u8, rs2: u8) -> Insn {
        Insn::Op32 { op, rd: x(rd), rs1: x(rs1), rs2: x(rs2) }
    }
    fn ld(width: Width, rd: u8, rs1: u8, imm: i32) -> Insn {
        Insn::Load { width, signed: true, rd: x(rd), rs1: x(rs1), imm }
    }
    fn st(width: Width, rs2: u8, rs1: u8, imm: i32) -> Insn {
        Insn::Store { width, rs1: x(rs1), rs2: x(rs2), imm }
    }

    #[test]
    fn quadrant0_loads_stores_and_addi4spn() {
        assert_eq!(decode16(0x1fe8), opi(AluOp::Add, 10, 2, 1020)); // c.addi4spn a0,sp,1020
        assert_eq!(decode16(0x0044), opi(AluOp::Add, 9, 2, 4)); // c.addi4spn s1,sp,4
        assert_eq!(decode16(0x5d7c), ld(Width::W, 15, 10, 124)); // c.lw a5,124(a0)
        assert_eq!(decode16(0x7fe0), ld(Width::D, 8, 15, 248)); // c.ld s0,248(a5)
        assert_eq!(decode16(0xdd7c), st(Width::W, 15, 10, 124)); // c.sw a5,124(a0)
        assert_eq!(decode16(0xffe0), st(Width::D, 8, 15, 248)); // c.sd s0,248(a5)
    }

    #[test]
    fn quadrant0_reserved_forms_are_illegal() {
        assert_eq!(decode16(0x0000), Insn::Illegal, "all-zero parcel");
        assert_eq!(decode16(0x0004), Insn::Illegal, "c.addi4spn with nzuimm=0");
        assert_eq!(decode16(0x8000), Insn::Illegal, "reserved (Zcb) funct3=100");
    }

    #[test]
    fn compressed_double_loads_and_stores() {
        use crate::insn::{FReg, FpFmt};
        let fl = |rd, rs1, imm| Insn::FLoad { fmt: FpFmt::D, rd: FReg(rd), rs1: x(rs1), imm };
        let fs = |rs2, rs1, imm| Insn::FStore { fmt: FpFmt::D, rs1: x(rs1), rs2: FReg(rs2), imm };
        assert_eq!(decode16(0x3d28), fl(10, 10, 120)); // c.fld fa0,120(a0)
        assert_eq!(decode16(0x3fe0), fl(8, 15, 248)); // c.fld fs0,248(a5)
        assert_eq!(decode16(0xbd28), fs(10, 10, 120)); // c.fsd fa0,120(a0)
        assert_eq!(decode16(0x2002), fl(0, 2, 0)); // c.fldsp ft0,0(sp)
        assert_eq!(decode16(0x3dfe), fl(27, 2, 504)); // c.fldsp fs11,504(sp)
        assert_eq!(decode16(0xa002), fs(0, 2, 0)); // c.fsdsp ft0,0(sp)
        assert_eq!(decode16(0xbfee), fs(27, 2, 504)); // c.fsdsp fs11,504(sp)
    }

    #[test]
    fn quadrant1_immediates() {
        assert_eq!(decode16(0x0001), opi(AluOp::Add, 0, 0, 0)); // c.nop
        assert_eq!(decode16(0x1501), opi(AluOp::Add, 10, 10, -32)); // c.addi a0,-32
        assert_eq!(decode16(0x02fd), opi(AluOp::Add, 5, 5, 31)); // c.addi t0,31
        let addiw = |imm| Insn::OpImm32 { op: AluWOp::Add, rd: x(10), rs1: x(10), imm };
        assert_eq!(decode16(0x357d), addiw(-1)); // c.addiw a0,-1
        assert_eq!(decode16(0x2501), addiw(0)); // c.addiw a0,0 (sext.w)
        assert_eq!(decode16(0x5301), opi(AluOp::Add, 6, 0, -32)); // c.li t1,-32
        assert_eq!(decode16(0x7101), opi(AluOp::Add, 2, 2, -512)); // c.addi16sp -512
        assert_eq!(decode16(0x617d), opi(AluOp::Add, 2, 2, 496)); // c.addi16sp 496
        assert_eq!(decode16(0x7501), Insn::Lui { rd: x(10), imm: -0x20 << 12 }); // c.lui a0,0xfffe0
        assert_eq!(decode16(0x6405), Insn::Lui { rd: x(8), imm: 1 << 12 }); // c.lui s0,1
    }

    #[test]
    fn quadrant1_reserved_forms_are_illegal() {
        assert_eq!(decode16(0x2001), Insn::Illegal, "c.addiw with rd=0");
        assert_eq!(decode16(0x6101), Insn::Illegal, "c.addi16sp with imm=0");
        assert_eq!(decode16(0x6501), Insn::Illegal, "c.lui with imm=0");
        assert_eq!(decode16(0x9c41), Insn::Illegal, "reserved c.mul slot");
        assert_eq!(decode16(0x9c61), Insn::Illegal, "reserved funct2=11, W");
    }

    #[test]
    fn quadrant1_alu() {
        assert_eq!(decode16(0x90fd), opi(AluOp::Srl, 9, 9, 63)); // c.srli s1,63
        assert_eq!(decode16(0x8785), opi(AluOp::Sra, 15, 15, 1)); // c.srai a5,1
        assert_eq!(decode16(0x997d), opi(AluOp::And, 10, 10, -1)); // c.andi a0,-1
        assert_eq!(decode16(0x8c05), op(AluOp::Sub, 8, 8, 9)); // c.sub s0,s1
        assert_eq!(decode16(0x8d2d), op(AluOp::Xor, 10, 10, 11)); // c.xor a0,a1
        assert_eq!(decode16(0x8e55), op(AluOp::Or, 12, 12, 13)); // c.or a2,a3
        assert_eq!(decode16(0x8f7d), op(AluOp::And, 14, 14, 15)); // c.and a4,a5
        assert_eq!(decode16(0x9c1d), op32(AluWOp::Sub, 8, 8, 15)); // c.subw s0,a5
        assert_eq!(decode16(0x9d25), op32(AluWOp::Add, 10, 10, 9)); // c.addw a0,s1
    }

    #[test]
    fn quadrant1_control_flow() {
        let j = |imm| Insn::Jal { rd: x(0), imm };
        assert_eq!(decode16(0xb001), j(-2048)); // c.j -2048
        assert_eq!(decode16(0xaffd), j(2046)); // c.j 2046
        let br = |cond, rs1, imm| Insn::Branch { cond, rs1: x(rs1), rs2: x(0), imm };
        assert_eq!(decode16(0xd001), br(BranchCond::Eq, 8, -256)); // c.beqz s0,-256
        assert_eq!(decode16(0xeffd), br(BranchCond::Ne, 15, 254)); // c.bnez a5,254
    }

    #[test]
    fn quadrant2() {
        assert_eq!(decode16(0x157e), opi(AluOp::Sll, 10, 10, 63)); // c.slli a0,63
        assert_eq!(decode16(0x50fe), ld(Width::W, 1, 2, 252)); // c.lwsp ra,252(sp)
        assert_eq!(decode16(0x7dfe), ld(Width::D, 27, 2, 504)); // c.ldsp s11,504(sp)
        let jalr = |rd, rs1| Insn::Jalr { rd: x(rd), rs1: x(rs1), imm: 0 };
        assert_eq!(decode16(0x8282), jalr(0, 5)); // c.jr t0
        assert_eq!(decode16(0x857e), op(AluOp::Add, 10, 0, 31)); // c.mv a0,t6
        assert_eq!(decode16(0x9002), Insn::Ebreak); // c.ebreak
        assert_eq!(decode16(0x9582), jalr(1, 11)); // c.jalr a1
        assert_eq!(decode16(0x948a), op(AluOp::Add, 9, 9, 2)); // c.add s1,sp
        assert_eq!(decode16(0xdf86), st(Width::W, 1, 2, 252)); // c.swsp ra,252(sp)
        assert_eq!(decode16(0xffee), st(Width::D, 27, 2, 504)); // c.sdsp s11,504(sp)
    }

    #[test]
    fn quadrant2_reserved_forms_are_illegal() {
        assert_eq!(decode16(0x4002), Insn::Illegal, "c.lwsp with rd=0");
        assert_eq!(decode16(0x6002), Insn::Illegal, "c.ldsp with rd=0");
        assert_eq!(decode16(0x8002), Insn::Illegal, "c.jr with rs1=0");
    }

    #[test]
    fn hints_decode_to_harmless_base_instructions() {
        assert_eq!(decode16(0x0005), opi(AluOp::Add, 0, 0, 1)); // c.addi x0,1 (HINT)
        assert_eq!(decode16(0x0502), opi(AluOp::Sll, 10, 10, 0)); // c.slli a0,0 (HINT)
        assert_eq!(decode16(0x802a), op(AluOp::Add, 0, 0, 10)); // c.mv x0,a0 (HINT)
        assert_eq!(decode16(0x8001), opi(AluOp::Srl, 8, 8, 0)); // c.srli s0,0 (HINT)
    }
}
