//! Integer ALU semantics for RV64I and M, shared by the interpreter and
//! (later) the JIT's helper calls. Pure functions of their operands.

use crate::insn::{AluOp, AluWOp, BranchCond};

/// 64-bit `OP`/`OP-IMM` result. For immediates, pass the sign-extended
/// immediate; shifts use only the low 6 bits of `b` (RV64I).
#[inline]
pub fn alu(op: AluOp, a: u64, b: u64) -> u64 {
    let sa = a as i64;
    let sb = b as i64;
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Sll => a << (b & 63),
        AluOp::Slt => u64::from(sa < sb),
        AluOp::Sltu => u64::from(a < b),
        AluOp::Xor => a ^ b,
        AluOp::Srl => a >> (b & 63),
        AluOp::Sra => (sa >> (b & 63)) as u64,
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Mulh => ((i128::from(sa) * i128::from(sb)) >> 64) as u64,
        AluOp::Mulhsu => ((i128::from(sa) * i128::from(b)) >> 64) as u64,
        AluOp::Mulhu => ((u128::from(a) * u128::from(b)) >> 64) as u64,
        // M §"Division Operations" table: x/0 = -1 (all ones for unsigned),
        // x%0 = x, and MIN/-1 = MIN with remainder 0 (wrapping_* give exactly that).
        AluOp::Div if b == 0 => u64::MAX,
        AluOp::Div => sa.wrapping_div(sb) as u64,
        AluOp::Divu if b == 0 => u64::MAX,
        AluOp::Divu => a / b,
        AluOp::Rem if b == 0 => a,
        AluOp::Rem => sa.wrapping_rem(sb) as u64,
        AluOp::Remu if b == 0 => a,
        AluOp::Remu => a % b,
    }
}

/// 32-bit "W" result: computed on the low 32 bits, sign-extended to 64.
/// Shifts use only the low 5 bits of `b`.
#[inline]
pub fn alu_w(op: AluWOp, a: u64, b: u64) -> u64 {
    let a32 = a as u32;
    let b32 = b as u32;
    let (sa, sb) = (a32 as i32, b32 as i32);
    let r: u32 = match op {
        AluWOp::Add => a32.wrapping_add(b32),
        AluWOp::Sub => a32.wrapping_sub(b32),
        AluWOp::Sll => a32 << (b32 & 31),
        AluWOp::Srl => a32 >> (b32 & 31),
        AluWOp::Sra => (sa >> (b32 & 31)) as u32,
        AluWOp::Mul => a32.wrapping_mul(b32),
        AluWOp::Div if sb == 0 => u32::MAX,
        AluWOp::Div => sa.wrapping_div(sb) as u32,
        AluWOp::Divu if b32 == 0 => u32::MAX,
        AluWOp::Divu => a32 / b32,
        AluWOp::Rem if sb == 0 => a32,
        AluWOp::Rem => sa.wrapping_rem(sb) as u32,
        AluWOp::Remu if b32 == 0 => a32,
        AluWOp::Remu => a32 % b32,
    };
    r as i32 as i64 as u64
}

/// Whether a conditional branch is taken.
#[inline]
pub fn branch_taken(cond: BranchCond, a: u64, b: u64) -> bool {
    match cond {
        BranchCond::Eq => a == b,
        BranchCond::Ne => a != b,
        BranchCond::Lt => (a as i64) < (b as i64),
        BranchCond::Ge => (a as i64) >= (b as i64),
        BranchCond::Ltu => a < b,
        BranchCond::Geu => a >= b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = i64::MIN as u64;
    const NEG1: u64 = u64::MAX;

    #[test]
    fn add_sub_wrap_on_overflow() {
        assert_eq!(alu(AluOp::Add, u64::MAX, 1), 0);
        assert_eq!(alu(AluOp::Add, i64::MAX as u64, 1), MIN);
        assert_eq!(alu(AluOp::Sub, 0, 1), NEG1);
        assert_eq!(alu(AluOp::Sub, MIN, 1), i64::MAX as u64);
    }

    #[test]
    fn slt_is_signed_and_sltu_unsigned() {
        assert_eq!(alu(AluOp::Slt, NEG1, 1), 1);
        assert_eq!(alu(AluOp::Sltu, NEG1, 1), 0);
        assert_eq!(alu(AluOp::Slt, 1, NEG1), 0);
        assert_eq!(alu(AluOp::Sltu, 1, NEG1), 1);
        assert_eq!(alu(AluOp::Slt, 5, 5), 0);
        assert_eq!(alu(AluOp::Sltu, 0, 1), 1);
    }

    #[test]
    fn logic_ops() {
        assert_eq!(alu(AluOp::Xor, 0b1100, 0b1010), 0b0110);
        assert_eq!(alu(AluOp::Or, 0b1100, 0b1010), 0b1110);
        assert_eq!(alu(AluOp::And, 0b1100, 0b1010), 0b1000);
    }

    #[test]
    fn shifts_use_six_bits_of_the_amount() {
        assert_eq!(alu(AluOp::Sll, 1, 63), 1 << 63);
        assert_eq!(alu(AluOp::Sll, 1, 64), 1, "amount 64 masks to 0");
        assert_eq!(alu(AluOp::Srl, MIN, 63), 1);
        assert_eq!(alu(AluOp::Sra, MIN, 63), NEG1);
        assert_eq!(alu(AluOp::Sra, MIN, 65), 0xc000_0000_0000_0000);
        assert_eq!(alu(AluOp::Srl, NEG1, 0), NEG1);
    }

    #[test]
    fn w_forms_sign_extend_32_bit_results() {
        assert_eq!(alu_w(AluWOp::Add, 0x7fff_ffff, 1), 0xffff_ffff_8000_0000);
        assert_eq!(alu_w(AluWOp::Add, 0xdead_0000_0000_0001, 1), 2, "upper bits ignored");
        assert_eq!(alu_w(AluWOp::Sub, 0, 1), NEG1);
        assert_eq!(alu_w(AluWOp::Sll, 1, 31), 0xffff_ffff_8000_0000);
        assert_eq!(alu_w(AluWOp::Sll, 1, 32), 1, "amount masks to 5 bits");
        assert_eq!(alu_w(AluWOp::Srl, 0x8000_0000, 31), 1);
        assert_eq!(alu_w(AluWOp::Srl, 0x8000_0000, 0), 0xffff_ffff_8000_0000);
        assert_eq!(alu_w(AluWOp::Sra, 0x8000_0000, 31), NEG1);
        assert_eq!(alu_w(AluWOp::Sra, 0x1_4000_0000, 30), 1);
    }

    #[test]
    fn mul_variants() {
        assert_eq!(alu(AluOp::Mul, 3, NEG1), (-3i64) as u64);
        assert_eq!(alu(AluOp::Mulh, NEG1, NEG1), 0);
        assert_eq!(alu(AluOp::Mulh, MIN, MIN), 1 << 62);
        assert_eq!(alu(AluOp::Mulhu, NEG1, NEG1), NEG1 - 1);
        assert_eq!(alu(AluOp::Mulhsu, NEG1, NEG1), NEG1, "-1 * (2^64-1) high half");
        assert_eq!(alu(AluOp::Mulhsu, 2, NEG1), 1);
        assert_eq!(alu_w(AluWOp::Mul, 0x1_0000_0002, 0x4000_0000), 0xffff_ffff_8000_0000);
    }

    #[test]
    fn division_by_zero_follows_the_spec_table() {
        assert_eq!(alu(AluOp::Div, 7, 0), NEG1);
        assert_eq!(alu(AluOp::Divu, 7, 0), NEG1);
        assert_eq!(alu(AluOp::Rem, 7, 0), 7);
        assert_eq!(alu(AluOp::Remu, 7, 0), 7);
        assert_eq!(alu_w(AluWOp::Div, 7, 0), NEG1);
        assert_eq!(alu_w(AluWOp::Divu, 7, 0), NEG1, "2^32-1 sign-extended");
        assert_eq!(alu_w(AluWOp::Rem, 0xffff_fff9, 0), (-7i64) as u64);
        assert_eq!(alu_w(AluWOp::Remu, 0x8000_0000, 0), 0xffff_ffff_8000_0000);
    }

    #[test]
    fn signed_overflow_division() {
        assert_eq!(alu(AluOp::Div, MIN, NEG1), MIN);
        assert_eq!(alu(AluOp::Rem, MIN, NEG1), 0);
        assert_eq!(alu_w(AluWOp::Div, 0x8000_0000, NEG1), 0xffff_ffff_8000_0000);
        assert_eq!(alu_w(AluWOp::Rem, 0x8000_0000, NEG1), 0);
    }

    #[test]
    fn division_rounds_toward_zero() {
        assert_eq!(alu(AluOp::Div, (-7i64) as u64, 2), (-3i64) as u64);
        assert_eq!(alu(AluOp::Rem, (-7i64) as u64, 2), NEG1);
        assert_eq!(alu(AluOp::Divu, NEG1, 2), i64::MAX as u64);
        assert_eq!(alu(AluOp::Remu, 7, 3), 1);
        assert_eq!(alu_w(AluWOp::Divu, 0xffff_fffe, 2), 0x7fff_ffff);
        assert_eq!(alu_w(AluWOp::Remu, 0xffff_ffff, 0x10), 0xf);
    }

    #[test]
    fn branch_conditions() {
        assert!(branch_taken(BranchCond::Eq, 4, 4));
        assert!(!branch_taken(BranchCond::Ne, 4, 4));
        assert!(branch_taken(BranchCond::Lt, NEG1, 0));
        assert!(!branch_taken(BranchCond::Ltu, NEG1, 0));
        assert!(branch_taken(BranchCond::Ge, 0, NEG1));
        assert!(branch_taken(BranchCond::Ge, 3, 3));
        assert!(branch_taken(BranchCond::Geu, NEG1, 0));
        assert!(!branch_taken(BranchCond::Geu, 0, 1));
    }
}
