//! The bit-manipulation extensions Zba (address generation), Zbb (basic
//! bit manipulation) and Zbs (single-bit instructions), RV64 forms
//! (unprivileged spec, chapter "B Standard Extension for Bit
//! Manipulation", version 1.0.0).
//!
//! They decode to one `Insn::Bitmanip` so the rest of the hart (the
//! flat-op lowering, the JIT later) can treat them as one group; the
//! semantics are pure functions here.

use crate::insn::{Insn, Reg};

/// One Zba/Zbb/Zbs operation. Immediate forms (`bclri`, `rori`, ...)
/// share the register form's operation with `Src::Imm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitOp {
    // Zba
    Sh1add,
    Sh2add,
    Sh3add,
    AddUw,
    Sh1addUw,
    Sh2addUw,
    Sh3addUw,
    /// `slli.uw` (immediate only).
    SllUw,
    // Zbb
    Andn,
    Orn,
    Xnor,
    Clz,
    Clzw,
    Ctz,
    Ctzw,
    Cpop,
    Cpopw,
    Max,
    Maxu,
    Min,
    Minu,
    SextB,
    SextH,
    ZextH,
    Rol,
    Rolw,
    Ror,
    Rorw,
    OrcB,
    Rev8,
    // Zbs
    Bclr,
    Bext,
    Binv,
    Bset,
}

/// The second operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Src {
    Reg(Reg),
    /// A shift amount / bit index from the instruction.
    Imm(u8),
    /// Unary operations (`clz`, `rev8`, ...).
    None,
}

impl BitOp {
    /// The assembler mnemonic of the register (or only) form.
    pub fn name(self) -> &'static str {
        use BitOp::*;
        match self {
            Sh1add => "sh1add",
            Sh2add => "sh2add",
            Sh3add => "sh3add",
            AddUw => "add.uw",
            Sh1addUw => "sh1add.uw",
            Sh2addUw => "sh2add.uw",
            Sh3addUw => "sh3add.uw",
            SllUw => "slli.uw",
            Andn => "andn",
            Orn => "orn",
            Xnor => "xnor",
            Clz => "clz",
            Clzw => "clzw",
            Ctz => "ctz",
            Ctzw => "ctzw",
            Cpop => "cpop",
            Cpopw => "cpopw",
            Max => "max",
            Maxu => "maxu",
            Min => "min",
            Minu => "minu",
            SextB => "sext.b",
            SextH => "sext.h",
            ZextH => "zext.h",
            Rol => "rol",
            Rolw => "rolw",
            Ror => "ror",
            Rorw => "rorw",
            OrcB => "orc.b",
            Rev8 => "rev8",
            Bclr => "bclr",
            Bext => "bext",
            Binv => "binv",
            Bset => "bset",
        }
    }

    /// The immediate form's mnemonic (`bclri`, `rori`, `roriw`, `slli.uw`).
    pub fn imm_name(self) -> &'static str {
        match self {
            BitOp::Bclr => "bclri",
            BitOp::Bext => "bexti",
            BitOp::Binv => "binvi",
            BitOp::Bset => "bseti",
            BitOp::Ror => "rori",
            BitOp::Rorw => "roriw",
            other => other.name(),
        }
    }
}

fn sext32(v: u32) -> u64 {
    v as i32 as i64 as u64
}

/// The result of `op` on `a` (rs1) and `b` (rs2 or the immediate; unused
/// by unary operations).
pub fn bitmanip(op: BitOp, a: u64, b: u64) -> u64 {
    use BitOp::*;
    let uw = a & 0xffff_ffff;
    let sh = b & 63;
    match op {
        Sh1add => b.wrapping_add(a << 1),
        Sh2add => b.wrapping_add(a << 2),
        Sh3add => b.wrapping_add(a << 3),
        AddUw => b.wrapping_add(uw),
        Sh1addUw => b.wrapping_add(uw << 1),
        Sh2addUw => b.wrapping_add(uw << 2),
        Sh3addUw => b.wrapping_add(uw << 3),
        SllUw => uw << sh,
        Andn => a & !b,
        Orn => a | !b,
        Xnor => !(a ^ b),
        Clz => u64::from(a.leading_zeros()),
        Clzw => u64::from((a as u32).leading_zeros()),
        Ctz => u64::from(a.trailing_zeros()),
        Ctzw => u64::from((a as u32).trailing_zeros()),
        Cpop => u64::from(a.count_ones()),
        Cpopw => u64::from((a as u32).count_ones()),
        Max => (a as i64).max(b as i64) as u64,
        Maxu => a.max(b),
        Min => (a as i64).min(b as i64) as u64,
        Minu => a.min(b),
        SextB => a as i8 as i64 as u64,
        SextH => a as i16 as i64 as u64,
        ZextH => a & 0xffff,
        Rol => a.rotate_left(sh as u32),
        Rolw => sext32((a as u32).rotate_left((b & 31) as u32)),
        Ror => a.rotate_right(sh as u32),
        Rorw => sext32((a as u32).rotate_right((b & 31) as u32)),
        OrcB => (0..8).fold(0, |r, i| if (a >> (i * 8)) & 0xff != 0 { r | (0xff << (i * 8)) } else { r }),
        Rev8 => a.swap_bytes(),
        Bclr => a & !(1 << sh),
        Bext => (a >> sh) & 1,
        Binv => a ^ (1 << sh),
        Bset => a | (1 << sh),
    }
}

fn bit(op: BitOp, i: u32, src: Src) -> Insn {
    Insn::Bitmanip { op, rd: Reg(((i >> 7) & 31) as u8), rs1: Reg(((i >> 15) & 31) as u8), src }
}

fn rs2(i: u32) -> Src {
    Src::Reg(Reg(((i >> 20) & 31) as u8))
}

/// `OP` (0110011) encodings of Zba/Zbb/Zbs, by (funct7, funct3).
pub(crate) fn decode_op(i: u32, funct7: u32, funct3: u32) -> Option<Insn> {
    use BitOp::*;
    let op = match (funct7, funct3) {
        (0b0010000, 0b010) => Sh1add,
        (0b0010000, 0b100) => Sh2add,
        (0b0010000, 0b110) => Sh3add,
        (0b0100000, 0b111) => Andn,
        (0b0100000, 0b110) => Orn,
        (0b0100000, 0b100) => Xnor,
        (0b0000101, 0b110) => Max,
        (0b0000101, 0b111) => Maxu,
        (0b0000101, 0b100) => Min,
        (0b0000101, 0b101) => Minu,
        (0b0110000, 0b001) => Rol,
        (0b0110000, 0b101) => Ror,
        (0b0100100, 0b001) => Bclr,
        (0b0100100, 0b101) => Bext,
        (0b0110100, 0b001) => Binv,
        (0b0010100, 0b001) => Bset,
        _ => return None,
    };
    Some(bit(op, i, rs2(i)))
}

/// `OP-32` (0111011) encodings, by (funct7, funct3).
pub(crate) fn decode_op32(i: u32, funct7: u32, funct3: u32) -> Option<Insn> {
    use BitOp::*;
    let op = match (funct7, funct3) {
        (0b0000100, 0b000) => AddUw,
        (0b0010000, 0b010) => Sh1addUw,
        (0b0010000, 0b100) => Sh2addUw,
        (0b0010000, 0b110) => Sh3addUw,
        (0b0110000, 0b001) => Rolw,
        (0b0110000, 0b101) => Rorw,
        // zext.h is pack with rs2 = x0 (RV64 encoding 0000100 00000 rs1 100 rd 0111011).
        (0b0000100, 0b100) if (i >> 20) & 31 == 0 => return Some(bit(ZextH, i, Src::None)),
        _ => return None,
    };
    Some(bit(op, i, rs2(i)))
}

/// `OP-IMM` (0010011) shift-group encodings (funct3 001 and 101).
pub(crate) fn decode_op_imm(i: u32, funct3: u32) -> Option<Insn> {
    use BitOp::*;
    let shamt = Src::Imm(((i >> 20) & 63) as u8);
    let funct6 = i >> 26;
    let imm12 = i >> 20;
    Some(match funct3 {
        0b001 => match (funct6, imm12) {
            (_, 0x600) => bit(Clz, i, Src::None),
            (_, 0x601) => bit(Ctz, i, Src::None),
            (_, 0x602) => bit(Cpop, i, Src::None),
            (_, 0x604) => bit(SextB, i, Src::None),
            (_, 0x605) => bit(SextH, i, Src::None),
            (0b010010, _) => bit(Bclr, i, shamt),
            (0b011010, _) => bit(Binv, i, shamt),
            (0b001010, _) => bit(Bset, i, shamt),
            _ => return None,
        },
        0b101 => match (funct6, imm12) {
            (_, 0x287) => bit(OrcB, i, Src::None),
            (_, 0x6b8) => bit(Rev8, i, Src::None),
            (0b010010, _) => bit(Bext, i, shamt),
            (0b011000, _) => bit(Ror, i, shamt),
            _ => return None,
        },
        _ => return None,
    })
}

/// `OP-IMM-32` (0011011) encodings (funct3 001 and 101).
pub(crate) fn decode_op_imm32(i: u32, funct3: u32) -> Option<Insn> {
    use BitOp::*;
    let funct7 = i >> 25;
    let imm12 = i >> 20;
    Some(match funct3 {
        0b001 if imm12 == 0x600 => bit(Clzw, i, Src::None),
        0b001 if imm12 == 0x601 => bit(Ctzw, i, Src::None),
        0b001 if imm12 == 0x602 => bit(Cpopw, i, Src::None),
        // slli.uw: 000010 shamt[5:0] rs1 001 rd 0011011
        0b001 if i >> 26 == 0b000010 => bit(SllUw, i, Src::Imm(((i >> 20) & 63) as u8)),
        // roriw: 0110000 shamt[4:0] rs1 101 rd 0011011
        0b101 if funct7 == 0b0110000 => bit(Rorw, i, Src::Imm(((i >> 20) & 31) as u8)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    /// (encoding from binutils' riscv64 `objdump -d`, rs1 value, rs2
    /// value, expected rd) — the encodings and results follow the spec's
    /// pseudo-code.
    #[test]
    fn every_operation_decodes_and_computes_as_the_spec_says() {
        // rd = a0 (x10), rs1 = a1 (x11), rs2 = a2 (x12).
        let a: u64 = 0x8000_0000_f0f0_0f01;
        let b: u64 = 0x0000_0000_0000_0024;
        let cases: &[(u32, &str, u64)] = &[
            (0x20c5a533, "sh1add", b.wrapping_add(a << 1)),
            (0x20c5c533, "sh2add", b.wrapping_add(a << 2)),
            (0x20c5e533, "sh3add", b.wrapping_add(a << 3)),
            (0x08c5853b, "add.uw", b + 0xf0f0_0f01),
            (0x20c5a53b, "sh1add.uw", b + (0xf0f0_0f01u64 << 1)),
            (0x20c5c53b, "sh2add.uw", b + (0xf0f0_0f01u64 << 2)),
            (0x20c5e53b, "sh3add.uw", b + (0xf0f0_0f01u64 << 3)),
            (0x0845951b, "slli.uw", 0xf0f0_0f01u64 << 4),
            (0x40c5f533, "andn", a & !b),
            (0x40c5e533, "orn", a | !b),
            (0x40c5c533, "xnor", !(a ^ b)),
            (0x60059513, "clz", 0),
            (0x6005951b, "clzw", 0),
            (0x60159513, "ctz", 0),
            (0x6015951b, "ctzw", 0),
            (0x60259513, "cpop", u64::from(a.count_ones())),
            (0x6025951b, "cpopw", u64::from((a as u32).count_ones())),
            (0x0ac5e533, "max", b),
            (0x0ac5f533, "maxu", a),
            (0x0ac5c533, "min", a),
            (0x0ac5d533, "minu", b),
            (0x60459513, "sext.b", 1),
            (0x60559513, "sext.h", 0xf01),
            (0x0805c53b, "zext.h", 0xf01),
            (0x60c59533, "rol", a.rotate_left(36)),
            (0x60c5953b, "rolw", (a as u32).rotate_left(4) as i32 as i64 as u64),
            (0x60c5d533, "ror", a.rotate_right(36)),
            (0x60c5d53b, "rorw", (a as u32).rotate_right(4) as i32 as i64 as u64),
            (0x6045d513, "rori", a.rotate_right(4)),
            (0x6045d51b, "roriw", (a as u32).rotate_right(4) as i32 as i64 as u64),
            (0x2875d513, "orc.b", 0xff00_0000_ffff_ffff),
            (0x6b85d513, "rev8", a.swap_bytes()),
            (0x48c59533, "bclr", a),
            (0x48c5d533, "bext", 0),
            (0x68c59533, "binv", a ^ (1 << 36)),
            (0x28c59533, "bset", a | (1 << 36)),
            (0x4bf59513, "bclri", a & !(1 << 63)),
            (0x4bf5d513, "bexti", 1),
            (0x6bf59513, "binvi", a ^ (1 << 63)),
            (0x2bf59513, "bseti", a),
        ];
        for &(raw, name, want) in cases {
            let Insn::Bitmanip { op, rd, rs1, src } = decode(raw).insn else {
                panic!("{raw:#010x} ({name}) did not decode as bit manipulation: {:?}", decode(raw));
            };
            assert_eq!((rd, rs1), (Reg(10), Reg(11)), "{name}");
            let shown = if matches!(src, Src::Imm(_)) { op.imm_name() } else { op.name() };
            assert_eq!(shown, name, "{raw:#010x}");
            let b_val = match src {
                Src::Reg(r) => {
                    assert_eq!(r, Reg(12), "{name}");
                    b
                }
                Src::Imm(n) => u64::from(n),
                Src::None => 0,
            };
            assert_eq!(bitmanip(op, a, b_val), want, "{name} ({raw:#010x})");
        }
    }

    #[test]
    fn word_counts_look_only_at_the_low_word() {
        // A zero low word counts 32 whatever the high word holds (QEMU 7.2
        // returns 33 for ctzw here).
        assert_eq!(bitmanip(BitOp::Ctzw, 1 << 33, 0), 32);
        assert_eq!(bitmanip(BitOp::Clzw, 1 << 33, 0), 32);
        assert_eq!(bitmanip(BitOp::Cpopw, 0xffff_ffff_0000_0001, 0), 1);
        assert_eq!(bitmanip(BitOp::Clzw, 0x8000_0000, 0), 0);
    }

    #[test]
    fn reserved_neighbours_stay_illegal() {
        for raw in [
            0x0605c53b_u32, // zext.h's encoding with rs2 != 0
            0x60359513,     // OP-IMM 0x603: no unary op there
            0x6035951b,     // OP-IMM-32 0x603
            0x6b95d513,     // OP-IMM 101 imm 0x6b9 (not rev8)
            0x6205d51b,     // roriw with shamt[5] set
        ] {
            assert_eq!(decode(raw).insn, Insn::Illegal, "{raw:#010x}");
        }
    }
}
