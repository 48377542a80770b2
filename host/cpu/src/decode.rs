//! Instruction decoder: raw bits -> `Decoded`.
//!
//! Pure and total: every `u32` decodes to something, and anything reserved,
//! unimplemented (Zfh, Q, Zcb, ...) or malformed becomes `Insn::Illegal`, which
//! the executor turns into an illegal-instruction exception. Spec references
//! are to the RISC-V Unprivileged ISA ("Volume I") chapter 34 opcode map
//! ("RV32/64G Instruction Set Listings") unless noted.

mod fp;
mod rvc;

use crate::bitmanip;
use crate::insn::{AluOp, AluWOp, AmoOp, BranchCond, CsrOp, CsrSrc, Decoded, FmaOp, Insn, Reg, Width};

/// Decode one instruction. If the low two bits are not `11` the instruction
/// is compressed and only the low 16 bits of `raw` are looked at.
pub fn decode(raw: u32) -> Decoded {
    // Vol I §1.5 "Base Instruction-Length Encoding": xxxxxxxxxxxxxxaa with
    // aa != 11 is a 16-bit instruction; bbb11 with bbb != 111 is 32-bit.
    if raw & 0b11 != 0b11 {
        let half = raw & 0xffff;
        return Decoded { insn: rvc::decode16(half as u16), len: 2, raw: half };
    }
    Decoded { insn: decode32(raw), len: 4, raw }
}

// Field extractors for the base formats (Vol I §2.2 "Base Instruction Formats"):
//   R: funct7[31:25] rs2[24:20] rs1[19:15] funct3[14:12] rd[11:7] opcode[6:0]
#[inline]
fn rd(i: u32) -> Reg {
    Reg(((i >> 7) & 31) as u8)
}
#[inline]
fn rs1(i: u32) -> Reg {
    Reg(((i >> 15) & 31) as u8)
}
#[inline]
fn rs2(i: u32) -> Reg {
    Reg(((i >> 20) & 31) as u8)
}
#[inline]
fn funct3(i: u32) -> u32 {
    (i >> 12) & 7
}
#[inline]
fn funct7(i: u32) -> u32 {
    i >> 25
}

// Immediates (Vol I §2.3 "Immediate Encoding Variants"), all sign-extended
// from inst[31].
/// I-type: imm[11:0] = inst[31:20]
#[inline]
fn imm_i(i: u32) -> i32 {
    (i as i32) >> 20
}
/// S-type: imm[11:5] = inst[31:25], imm[4:0] = inst[11:7]
#[inline]
fn imm_s(i: u32) -> i32 {
    (((i as i32) >> 25) << 5) | ((i >> 7) & 0x1f) as i32
}
/// B-type: imm[12|10:5] = inst[31:25], imm[4:1|11] = inst[11:7]
#[inline]
fn imm_b(i: u32) -> i32 {
    (((i as i32) >> 31) << 12)
        | (((i >> 7) & 1) << 11) as i32
        | (((i >> 25) & 0x3f) << 5) as i32
        | (((i >> 8) & 0xf) << 1) as i32
}
/// U-type: imm[31:12] = inst[31:12]
#[inline]
fn imm_u(i: u32) -> i32 {
    (i & 0xffff_f000) as i32
}
/// J-type: imm[20|10:1|11|19:12] = inst[31:12]
#[inline]
fn imm_j(i: u32) -> i32 {
    (((i as i32) >> 31) << 20)
        | (i & 0x000f_f000) as i32
        | (((i >> 20) & 1) << 11) as i32
        | (((i >> 21) & 0x3ff) << 1) as i32
}

fn decode32(i: u32) -> Insn {
    // Opcode map (Vol I table "RISC-V base opcode map", inst[1:0]=11),
    // indexed by inst[6:2].
    match (i >> 2) & 0x1f {
        0b00000 => load(i),
        0b00001 => fp::load_fp(i),
        0b00011 => misc_mem(i),
        0b00100 => op_imm(i),
        0b00101 => Insn::Auipc { rd: rd(i), imm: imm_u(i) },
        0b00110 => op_imm32(i),
        0b01000 => store(i),
        0b01001 => fp::store_fp(i),
        0b01011 => amo(i),
        0b01100 => op(i),
        0b01101 => Insn::Lui { rd: rd(i), imm: imm_u(i) },
        0b01110 => op32(i),
        0b10000 => fp::fma(i, FmaOp::Madd),
        0b10001 => fp::fma(i, FmaOp::Msub),
        0b10010 => fp::fma(i, FmaOp::Nmsub),
        0b10011 => fp::fma(i, FmaOp::Nmadd),
        0b10100 => fp::op_fp(i),
        0b11000 => branch(i),
        // JALR: imm[11:0] rs1 000 rd 1100111
        0b11001 if funct3(i) == 0 => Insn::Jalr { rd: rd(i), rs1: rs1(i), imm: imm_i(i) },
        0b11011 => Insn::Jal { rd: rd(i), imm: imm_j(i) },
        0b11100 => system(i),
        // OP-V, custom-*, and the xx111 rows that encode >=48-bit instructions.
        _ => Insn::Illegal,
    }
}

fn load(i: u32) -> Insn {
    // LB LH LW LD LBU LHU LWU = funct3 000 001 010 011 100 101 110
    let (width, signed) = match funct3(i) {
        0b000 => (Width::B, true),
        0b001 => (Width::H, true),
        0b010 => (Width::W, true),
        0b011 => (Width::D, true),
        0b100 => (Width::B, false),
        0b101 => (Width::H, false),
        0b110 => (Width::W, false),
        _ => return Insn::Illegal, // 111 would be LDU (RV128)
    };
    Insn::Load { width, signed, rd: rd(i), rs1: rs1(i), imm: imm_i(i) }
}

fn store(i: u32) -> Insn {
    // SB SH SW SD = funct3 000 001 010 011
    let width = match funct3(i) {
        0b000 => Width::B,
        0b001 => Width::H,
        0b010 => Width::W,
        0b011 => Width::D,
        _ => return Insn::Illegal,
    };
    Insn::Store { width, rs1: rs1(i), rs2: rs2(i), imm: imm_s(i) }
}

fn misc_mem(i: u32) -> Insn {
    match funct3(i) {
        // FENCE: fm[31:28] pred[27:24] succ[23:20] rs1 000 rd 0001111.
        // "Base implementations shall treat all such reserved configurations
        // [unknown fm, nonzero rs1/rd] as normal fences" (Vol I §2.7).
        0b000 => {
            Insn::Fence { fm: (i >> 28) as u8, pred: ((i >> 24) & 0xf) as u8, succ: ((i >> 20) & 0xf) as u8 }
        }
        // FENCE.I: "base implementations shall ignore these fields
        // [imm, rs1, rd]" (Zifencei).
        0b001 => Insn::FenceI,
        _ => Insn::Illegal,
    }
}

fn op_imm(i: u32) -> Insn {
    let shamt = ((i >> 20) & 0x3f) as i32;
    // RV64I: SLLI/SRLI/SRAI have a 6-bit shamt; imm[11:6] is 000000 or
    // 010000 (SRAI). Anything else is reserved.
    let hi6 = i >> 26;
    let (op, imm) = match funct3(i) {
        0b000 => (AluOp::Add, imm_i(i)),
        0b010 => (AluOp::Slt, imm_i(i)),
        0b011 => (AluOp::Sltu, imm_i(i)),
        0b100 => (AluOp::Xor, imm_i(i)),
        0b110 => (AluOp::Or, imm_i(i)),
        0b111 => (AluOp::And, imm_i(i)),
        0b001 if hi6 == 0 => (AluOp::Sll, shamt),
        0b101 if hi6 == 0 => (AluOp::Srl, shamt),
        0b101 if hi6 == 0b010000 => (AluOp::Sra, shamt),
        f3 => return bitmanip::decode_op_imm(i, f3).unwrap_or(Insn::Illegal),
    };
    Insn::OpImm { op, rd: rd(i), rs1: rs1(i), imm }
}

fn op_imm32(i: u32) -> Insn {
    // ADDIW; SLLIW/SRLIW/SRAIW take a 5-bit shamt with funct7 0000000/0100000
    // ("encodings with imm[5] != 0 are reserved").
    let shamt = ((i >> 20) & 0x1f) as i32;
    let (op, imm) = match (funct3(i), funct7(i)) {
        (0b000, _) => (AluWOp::Add, imm_i(i)),
        (0b001, 0) => (AluWOp::Sll, shamt),
        (0b101, 0) => (AluWOp::Srl, shamt),
        (0b101, 0b0100000) => (AluWOp::Sra, shamt),
        (f3, _) => return bitmanip::decode_op_imm32(i, f3).unwrap_or(Insn::Illegal),
    };
    Insn::OpImm32 { op, rd: rd(i), rs1: rs1(i), imm }
}

fn op(i: u32) -> Insn {
    // OP: funct7 0000000 = base, 0100000 = SUB/SRA, 0000001 = M extension.
    let op = match (funct7(i), funct3(i)) {
        (0, 0b000) => AluOp::Add,
        (0, 0b001) => AluOp::Sll,
        (0, 0b010) => AluOp::Slt,
        (0, 0b011) => AluOp::Sltu,
        (0, 0b100) => AluOp::Xor,
        (0, 0b101) => AluOp::Srl,
        (0, 0b110) => AluOp::Or,
        (0, 0b111) => AluOp::And,
        (0b0100000, 0b000) => AluOp::Sub,
        (0b0100000, 0b101) => AluOp::Sra,
        (1, 0b000) => AluOp::Mul,
        (1, 0b001) => AluOp::Mulh,
        (1, 0b010) => AluOp::Mulhsu,
        (1, 0b011) => AluOp::Mulhu,
        (1, 0b100) => AluOp::Div,
        (1, 0b101) => AluOp::Divu,
        (1, 0b110) => AluOp::Rem,
        (1, 0b111) => AluOp::Remu,
        (f7, f3) => return bitmanip::decode_op(i, f7, f3).unwrap_or(Insn::Illegal),
    };
    Insn::Op { op, rd: rd(i), rs1: rs1(i), rs2: rs2(i) }
}

fn op32(i: u32) -> Insn {
    // OP-32: ADDW SUBW SLLW SRLW SRAW, and M's MULW DIVW DIVUW REMW REMUW.
    let op = match (funct7(i), funct3(i)) {
        (0, 0b000) => AluWOp::Add,
        (0, 0b001) => AluWOp::Sll,
        (0, 0b101) => AluWOp::Srl,
        (0b0100000, 0b000) => AluWOp::Sub,
        (0b0100000, 0b101) => AluWOp::Sra,
        (1, 0b000) => AluWOp::Mul,
        (1, 0b100) => AluWOp::Div,
        (1, 0b101) => AluWOp::Divu,
        (1, 0b110) => AluWOp::Rem,
        (1, 0b111) => AluWOp::Remu,
        (f7, f3) => return bitmanip::decode_op32(i, f7, f3).unwrap_or(Insn::Illegal),
    };
    Insn::Op32 { op, rd: rd(i), rs1: rs1(i), rs2: rs2(i) }
}

fn branch(i: u32) -> Insn {
    // BEQ BNE BLT BGE BLTU BGEU = funct3 000 001 100 101 110 111
    let cond = match funct3(i) {
        0b000 => BranchCond::Eq,
        0b001 => BranchCond::Ne,
        0b100 => BranchCond::Lt,
        0b101 => BranchCond::Ge,
        0b110 => BranchCond::Ltu,
        0b111 => BranchCond::Geu,
        _ => return Insn::Illegal,
    };
    Insn::Branch { cond, rs1: rs1(i), rs2: rs2(i), imm: imm_b(i) }
}

fn amo(i: u32) -> Insn {
    // AMO: funct5[31:27] aq[26] rl[25] rs2 rs1 funct3 rd 0101111,
    // funct3 010 = .W, 011 = .D.
    let width = match funct3(i) {
        0b010 => Width::W,
        0b011 => Width::D,
        _ => return Insn::Illegal,
    };
    let aq = (i >> 26) & 1 != 0;
    let rl = (i >> 25) & 1 != 0;
    let (rd, rs1, rs2) = (rd(i), rs1(i), rs2(i));
    let op = match i >> 27 {
        // LR: rs2 field must be 00000.
        0b00010 if rs2.0 == 0 => {
            return Insn::Lr { width, aq, rl, rd, rs1 };
        }
        0b00011 => {
            return Insn::Sc { width, aq, rl, rd, rs1, rs2 };
        }
        0b00001 => AmoOp::Swap,
        0b00000 => AmoOp::Add,
        0b00100 => AmoOp::Xor,
        0b01100 => AmoOp::And,
        0b01000 => AmoOp::Or,
        0b10000 => AmoOp::Min,
        0b10100 => AmoOp::Max,
        0b11000 => AmoOp::Minu,
        0b11100 => AmoOp::Maxu,
        _ => return Insn::Illegal,
    };
    Insn::Amo { op, width, aq, rl, rd, rs1, rs2 }
}

fn system(i: u32) -> Insn {
    let csr = (i >> 20) as u16;
    let (op, src) = match funct3(i) {
        0b000 => {
            // The privileged instructions are fully fixed encodings; any
            // other bits in rd/rs1/imm are reserved.
            return match i {
                0x0000_0073 => Insn::Ecall,
                0x0010_0073 => Insn::Ebreak,
                // Privileged spec §3.3.2: MRET = 0011000 00010 00000 000 00000 1110011
                0x3020_0073 => Insn::Mret,
                // SRET = 0001000 00010 00000 000 00000 1110011
                0x1020_0073 => Insn::Sret,
                // WFI = 0001000 00101 00000 000 00000 1110011
                0x1050_0073 => Insn::Wfi,
                // SFENCE.VMA = 0001001 rs2 rs1 000 00000 1110011 (§4.2.1)
                _ if i & 0xfe00_7fff == 0x1200_0073 => Insn::SfenceVma { rs1: rs1(i), rs2: rs2(i) },
                _ => Insn::Illegal,
            };
        }
        // Zicsr: CSRRW CSRRS CSRRC CSRRWI CSRRSI CSRRCI = funct3 001..011, 101..111
        0b001 => (CsrOp::Rw, CsrSrc::Reg(rs1(i))),
        0b010 => (CsrOp::Rs, CsrSrc::Reg(rs1(i))),
        0b011 => (CsrOp::Rc, CsrSrc::Reg(rs1(i))),
        0b101 => (CsrOp::Rw, CsrSrc::Imm(rs1(i).0)),
        0b110 => (CsrOp::Rs, CsrSrc::Imm(rs1(i).0)),
        0b111 => (CsrOp::Rc, CsrSrc::Imm(rs1(i).0)),
        _ => return Insn::Illegal, // 100: hypervisor loads/stores
    };
    Insn::Csr { op, rd: rd(i), src, csr }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::insn::*;
    use crate::testutil::asm::*;

    fn x(n: u8) -> Reg {
        Reg(n)
    }
    fn d(raw: u32) -> Insn {
        let dec = decode(raw);
        assert_eq!(dec.len, 4, "{raw:#x} should be a 32-bit instruction");
        dec.insn
    }

    #[test]
    fn r_type_ops_including_m() {
        let cases = [
            (add(1, 2, 3), AluOp::Add),
            (sub(1, 2, 3), AluOp::Sub),
            (sll(1, 2, 3), AluOp::Sll),
            (slt(1, 2, 3), AluOp::Slt),
            (sltu(1, 2, 3), AluOp::Sltu),
            (xor(1, 2, 3), AluOp::Xor),
            (srl(1, 2, 3), AluOp::Srl),
            (sra(1, 2, 3), AluOp::Sra),
            (or(1, 2, 3), AluOp::Or),
            (and(1, 2, 3), AluOp::And),
            (mul(1, 2, 3), AluOp::Mul),
            (mulh(1, 2, 3), AluOp::Mulh),
            (mulhsu(1, 2, 3), AluOp::Mulhsu),
            (mulhu(1, 2, 3), AluOp::Mulhu),
            (div(1, 2, 3), AluOp::Div),
            (divu(1, 2, 3), AluOp::Divu),
            (rem(1, 2, 3), AluOp::Rem),
            (remu(1, 2, 3), AluOp::Remu),
        ];
        for (raw, op) in cases {
            let want = Insn::Op { op, rd: x(1), rs1: x(2), rs2: x(3) };
            assert_eq!(d(raw), want, "{raw:#010x}");
        }
    }

    #[test]
    fn w_ops() {
        let cases = [
            (addw(31, 30, 29), AluWOp::Add),
            (subw(31, 30, 29), AluWOp::Sub),
            (sllw(31, 30, 29), AluWOp::Sll),
            (srlw(31, 30, 29), AluWOp::Srl),
            (sraw(31, 30, 29), AluWOp::Sra),
            (mulw(31, 30, 29), AluWOp::Mul),
            (divw(31, 30, 29), AluWOp::Div),
            (divuw(31, 30, 29), AluWOp::Divu),
            (remw(31, 30, 29), AluWOp::Rem),
            (remuw(31, 30, 29), AluWOp::Remu),
        ];
        for (raw, op) in cases {
            let want = Insn::Op32 { op, rd: x(31), rs1: x(30), rs2: x(29) };
            assert_eq!(d(raw), want, "{raw:#010x}");
        }
        let want = |op, imm| Insn::OpImm32 { op, rd: x(5), rs1: x(6), imm };
        assert_eq!(d(addiw(5, 6, -2048)), want(AluWOp::Add, -2048));
        assert_eq!(d(slliw(5, 6, 31)), want(AluWOp::Sll, 31));
        assert_eq!(d(srliw(5, 6, 0)), want(AluWOp::Srl, 0));
        assert_eq!(d(sraiw(5, 6, 17)), want(AluWOp::Sra, 17));
    }

    #[test]
    fn i_type_immediates_sign_extend() {
        let want = |op, imm| Insn::OpImm { op, rd: x(10), rs1: x(11), imm };
        assert_eq!(d(addi(10, 11, -1)), want(AluOp::Add, -1));
        assert_eq!(d(addi(10, 11, 2047)), want(AluOp::Add, 2047));
        assert_eq!(d(addi(10, 11, -2048)), want(AluOp::Add, -2048));
        assert_eq!(d(slti(10, 11, -5)), want(AluOp::Slt, -5));
        assert_eq!(d(sltiu(10, 11, -1)), want(AluOp::Sltu, -1));
        assert_eq!(d(xori(10, 11, 0x555)), want(AluOp::Xor, 0x555));
        assert_eq!(d(ori(10, 11, -256)), want(AluOp::Or, -256));
        assert_eq!(d(andi(10, 11, 0xff)), want(AluOp::And, 0xff));
        assert_eq!(d(slli(10, 11, 63)), want(AluOp::Sll, 63));
        assert_eq!(d(srli(10, 11, 32)), want(AluOp::Srl, 32));
        assert_eq!(d(srai(10, 11, 63)), want(AluOp::Sra, 63));
    }

    #[test]
    fn upper_immediates_and_jumps() {
        assert_eq!(d(lui(1, 0xfffff)), Insn::Lui { rd: x(1), imm: -4096 });
        assert_eq!(d(auipc(2, 0x12345)), Insn::Auipc { rd: x(2), imm: 0x1234_5000 });
        for imm in [-(1 << 20), (1 << 20) - 2, 2, -2, 0x800, 0x7fe] {
            assert_eq!(d(jal(1, imm)), Insn::Jal { rd: x(1), imm }, "jal {imm}");
        }
        assert_eq!(d(jalr(0, 1, -4)), Insn::Jalr { rd: x(0), rs1: x(1), imm: -4 });
    }

    #[test]
    fn branches_with_extreme_offsets() {
        let cases = [
            (beq as fn(u32, u32, i32) -> u32, BranchCond::Eq),
            (bne, BranchCond::Ne),
            (blt, BranchCond::Lt),
            (bge, BranchCond::Ge),
            (bltu, BranchCond::Ltu),
            (bgeu, BranchCond::Geu),
        ];
        for (enc, cond) in cases {
            for imm in [-4096, 4094, 2, -2, 0x800, 0x7fe] {
                let want = Insn::Branch { cond, rs1: x(3), rs2: x(4), imm };
                assert_eq!(d(enc(3, 4, imm)), want);
            }
        }
    }

    #[test]
    fn loads_and_stores() {
        let cases = [
            (lb(1, 2, -1), Width::B, true),
            (lh(1, 2, -1), Width::H, true),
            (lw(1, 2, -1), Width::W, true),
            (ld(1, 2, -1), Width::D, true),
            (lbu(1, 2, -1), Width::B, false),
            (lhu(1, 2, -1), Width::H, false),
            (lwu(1, 2, -1), Width::W, false),
        ];
        for (raw, width, signed) in cases {
            let want = Insn::Load { width, signed, rd: x(1), rs1: x(2), imm: -1 };
            assert_eq!(d(raw), want);
        }
        let st = |width, imm| Insn::Store { width, rs1: x(2), rs2: x(9), imm };
        assert_eq!(d(sb(9, 2, -2048)), st(Width::B, -2048));
        assert_eq!(d(sh(9, 2, 2047)), st(Width::H, 2047));
        assert_eq!(d(sw(9, 2, -33)), st(Width::W, -33));
        assert_eq!(d(sd(9, 2, 32)), st(Width::D, 32));
    }

    #[test]
    fn atomics() {
        let ops = [
            (0b00001, AmoOp::Swap),
            (0b00000, AmoOp::Add),
            (0b00100, AmoOp::Xor),
            (0b01100, AmoOp::And),
            (0b01000, AmoOp::Or),
            (0b10000, AmoOp::Min),
            (0b10100, AmoOp::Max),
            (0b11000, AmoOp::Minu),
            (0b11100, AmoOp::Maxu),
        ];
        for (f5, op) in ops {
            for (f3, width) in [(2, Width::W), (3, Width::D)] {
                let want = Insn::Amo { op, width, aq: true, rl: false, rd: x(5), rs1: x(6), rs2: x(7) };
                assert_eq!(d(amo(f5, f3, 5, 6, 7) | (1 << 26)), want);
            }
        }
        let lr = Insn::Lr { width: Width::D, aq: false, rl: true, rd: x(5), rs1: x(6) };
        assert_eq!(d(amo(0b00010, 3, 5, 6, 0) | (1 << 25)), lr);
        let sc = Insn::Sc { width: Width::W, aq: false, rl: false, rd: x(5), rs1: x(6), rs2: x(7) };
        assert_eq!(d(amo(0b00011, 2, 5, 6, 7)), sc);
    }

    #[test]
    fn system_and_csr() {
        assert_eq!(d(ECALL), Insn::Ecall);
        assert_eq!(d(EBREAK), Insn::Ebreak);
        assert_eq!(d(MRET), Insn::Mret);
        assert_eq!(d(WFI), Insn::Wfi);
        assert_eq!(d(0x1020_0073), Insn::Sret);
        assert_eq!(d(0x12b5_0073), Insn::SfenceVma { rs1: x(10), rs2: x(11) });
        assert_eq!(d(0x1200_00f3), Insn::Illegal, "sfence.vma with rd != 0 is reserved");
        assert_eq!(
            d(csrrw(1, 0x305, 2)),
            Insn::Csr { op: CsrOp::Rw, rd: x(1), src: CsrSrc::Reg(x(2)), csr: 0x305 }
        );
        assert_eq!(
            d(csrrci(0, 0x300, 8)),
            Insn::Csr { op: CsrOp::Rc, rd: x(0), src: CsrSrc::Imm(8), csr: 0x300 }
        );
        assert_eq!(
            d(csrrs(3, 0xfff, 0)),
            Insn::Csr { op: CsrOp::Rs, rd: x(3), src: CsrSrc::Reg(x(0)), csr: 0xfff }
        );
    }

    #[test]
    fn fences_ignore_reserved_fields() {
        assert_eq!(d(FENCE), Insn::Fence { fm: 0, pred: 0xf, succ: 0xf });
        // FENCE with rd/rs1 set and an unknown fm is still a fence.
        assert!(matches!(d(0x5ff2_8f8f), Insn::Fence { fm: 5, .. }));
        assert_eq!(d(0x0000_100f), Insn::FenceI);
        assert_eq!(d(0xfff2_9f8f), Insn::FenceI, "fence.i with imm/rs1/rd set");
    }

    #[test]
    fn reserved_encodings_are_illegal() {
        let illegal = [
            (slli(1, 2, 0) | (1 << 26), "slli with imm[11:6]=000001"),
            (srai(1, 2, 0) | (1 << 31), "srai with imm[11:6]=110000"),
            (slliw(1, 2, 0) | (1 << 25), "slliw with imm[5]=1"),
            (sraiw(1, 2, 1) | (1 << 25), "sraiw with imm[5]=1"),
            (add(1, 2, 3) | (1 << 26), "OP funct7=0000010"),
            (sub(1, 2, 3) | (1 << 12), "funct7=0100000 with funct3=001"),
            (addw(1, 2, 3) | (2 << 12), "OP-32 funct3=010"),
            (mulw(1, 2, 3) | (1 << 12), "mulhw does not exist"),
            (lb(1, 2, 0) | (7 << 12), "ldu (RV128)"),
            (sb(1, 2, 0) | (4 << 12), "store funct3=100"),
            (beq(1, 2, 0) | (2 << 12), "branch funct3=010"),
            (beq(1, 2, 0) | (3 << 12), "branch funct3=011"),
            (jalr(1, 2, 0) | (1 << 12), "jalr funct3!=0"),
            (ECALL | (1 << 7), "ecall with rd!=0"),
            (EBREAK | (1 << 15), "ebreak with rs1!=0"),
            (0x1020_0073 | (1 << 15), "sret with rs1 set"),
            (0x1200_0073 | (1 << 7), "sfence.vma with rd set"),
            (0x2200_0073, "hfence.vvma (no H)"),
            (csrrw(1, 0x300, 2) & !(7 << 12) | (4 << 12), "SYSTEM funct3=100"),
            (amo(0b00010, 2, 1, 2, 3), "lr with rs2!=0"),
            (amo(0b00101, 2, 1, 2, 3), "unknown AMO funct5"),
            (amo(0b00000, 4, 1, 2, 3), "AMO funct3=100"),
            (0x0000_1007, "flh (Zfh)"),
            (0x0000_4027, "fsq (Q)"),
            (0x0600_0053, "fadd.q"),
            (0x0400_5043, "fmadd.h with rm=101"),
            (0x0000_200f, "MISC-MEM funct3=010 (cbo)"),
            (0x0000_000b, "custom-0"),
            (0x0000_001f, "48-bit encoding"),
            (0xffff_ffff, "all ones"),
        ];
        for (raw, what) in illegal {
            let dec = decode(raw);
            assert_eq!(dec.insn, Insn::Illegal, "{what}: {raw:#010x}");
            assert_eq!(dec.raw, raw);
        }
    }

    #[test]
    fn compressed_parcels_are_len_2_and_ignore_upper_bits() {
        let dec = decode(0xdead_4505); // c.li a0,1 followed by garbage
        assert_eq!(dec.len, 2);
        assert_eq!(dec.raw, 0x4505);
        assert!(dec.is_compressed());
        assert_eq!(dec.insn, Insn::OpImm { op: AluOp::Add, rd: x(10), rs1: x(0), imm: 1 });
    }

    /// xorshift64*: deterministic pseudo-random words without a dependency.
    fn words(n: usize) -> impl Iterator<Item = u32> {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n).map(move |_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
        })
    }

    #[test]
    fn decoder_is_total_on_random_words_and_all_halfwords() {
        let halves = (0..=u16::MAX).map(u32::from);
        // Force the 32-bit path as well as random low bits.
        let sample = words(1 << 20).chain(words(1 << 18).map(|w| w | 3));
        for raw in halves.chain(sample) {
            let dec = decode(raw);
            let compressed = raw & 3 != 3;
            assert_eq!(dec.len, if compressed { 2 } else { 4 });
            assert_eq!(dec.raw, if compressed { raw & 0xffff } else { raw });
            // Registers are always in range and printing never panics.
            let _ = crate::disasm::disassemble(raw);
        }
    }
}
