//! The decoded instruction.
//!
//! One `Insn` variant per instruction *format/behaviour group*, so that the
//! interpreter (`exec.rs`), the disassembler (`disasm.rs`) and later the JIT
//! each need exactly one arm per variant. Compressed instructions decode to
//! the same variants as their 32-bit expansions; only `Decoded::len` differs.

/// An integer register number, `x0`..`x31`.
///
/// The decoder only ever builds values below 32; the executor masks with 31
/// anyway so a hand-built `Reg(40)` cannot index out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reg(pub u8);

impl Reg {
    pub const ZERO: Reg = Reg(0);
    pub const RA: Reg = Reg(1);
    pub const SP: Reg = Reg(2);

    /// Index into `Hart::x`; always in `0..32`.
    #[inline]
    pub fn idx(self) -> usize {
        usize::from(self.0 & 31)
    }
}

/// Register-register and register-immediate integer operations (RV64I + M).
///
/// The same enum serves `Op` and `OpImm`; the decoder only produces the
/// combinations the ISA defines (e.g. no `OpImm` with `Sub` or `Mul`), but
/// every combination has well-defined semantics so the executor stays total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
}

/// Operations that exist in the 32-bit "W" forms (`OP-32`, `OP-IMM-32`):
/// they compute on the low 32 bits and sign-extend the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluWOp {
    Add,
    Sub,
    Sll,
    Srl,
    Sra,
    Mul,
    Div,
    Divu,
    Rem,
    Remu,
}

/// Conditional branch comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BranchCond {
    Eq,
    Ne,
    Lt,
    Ge,
    Ltu,
    Geu,
}

/// Memory access width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    B,
    H,
    W,
    D,
}

impl Width {
    /// Size in bytes (the `size` argument of `Memory`).
    #[inline]
    pub fn bytes(self) -> u8 {
        match self {
            Width::B => 1,
            Width::H => 2,
            Width::W => 4,
            Width::D => 8,
        }
    }
}

/// Read-modify-write operations of the A extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmoOp {
    Swap,
    Add,
    Xor,
    And,
    Or,
    Min,
    Max,
    Minu,
    Maxu,
}

/// Zicsr operation: read-write, read-set, read-clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsrOp {
    Rw,
    Rs,
    Rc,
}

/// Source operand of a CSR instruction: `rs1` or the 5-bit `uimm` of the
/// `csrr*i` forms (which occupies the rs1 field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsrSrc {
    Reg(Reg),
    Imm(u8),
}

impl CsrSrc {
    /// The raw 5-bit field; Zicsr's "does it write?" rule is `field != 0`
    /// for both forms.
    #[inline]
    pub fn field(self) -> u8 {
        match self {
            CsrSrc::Reg(r) => r.0,
            CsrSrc::Imm(i) => i,
        }
    }
}

/// A decoded instruction. Immediates are already sign-extended and shifted
/// into place (e.g. `Lui::imm` is `imm20 << 12`, branch offsets are in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `OP`: rd = rs1 op rs2.
    Op {
        op: AluOp,
        rd: Reg,
        rs1: Reg,
        rs2: Reg,
    },
    /// `OP-IMM`: rd = rs1 op imm (shifts: imm is the shift amount).
    OpImm {
        op: AluOp,
        rd: Reg,
        rs1: Reg,
        imm: i32,
    },
    /// `OP-32`: W forms.
    Op32 {
        op: AluWOp,
        rd: Reg,
        rs1: Reg,
        rs2: Reg,
    },
    /// `OP-IMM-32`: W forms with an immediate.
    OpImm32 {
        op: AluWOp,
        rd: Reg,
        rs1: Reg,
        imm: i32,
    },
    Lui {
        rd: Reg,
        imm: i32,
    },
    Auipc {
        rd: Reg,
        imm: i32,
    },
    Jal {
        rd: Reg,
        imm: i32,
    },
    Jalr {
        rd: Reg,
        rs1: Reg,
        imm: i32,
    },
    Branch {
        cond: BranchCond,
        rs1: Reg,
        rs2: Reg,
        imm: i32,
    },
    Load {
        width: Width,
        signed: bool,
        rd: Reg,
        rs1: Reg,
        imm: i32,
    },
    Store {
        width: Width,
        rs1: Reg,
        rs2: Reg,
        imm: i32,
    },
    /// `AMO*.{W,D}`: `rd = M[rs1]; M[rs1] = M[rs1] op rs2`.
    Amo {
        op: AmoOp,
        width: Width,
        aq: bool,
        rl: bool,
        rd: Reg,
        rs1: Reg,
        rs2: Reg,
    },
    Lr {
        width: Width,
        aq: bool,
        rl: bool,
        rd: Reg,
        rs1: Reg,
    },
    Sc {
        width: Width,
        aq: bool,
        rl: bool,
        rd: Reg,
        rs1: Reg,
        rs2: Reg,
    },
    Csr {
        op: CsrOp,
        rd: Reg,
        src: CsrSrc,
        csr: u16,
    },
    /// `FENCE`; `fm` is 0b1000 for `FENCE.TSO`. A single in-order hart
    /// needs no ordering work, so all fences execute as no-ops.
    Fence {
        fm: u8,
        pred: u8,
        succ: u8,
    },
    FenceI,
    Ecall,
    Ebreak,
    Mret,
    Wfi,
    /// Anything the decoder does not implement or the ISA reserves.
    Illegal,
}

/// A decoded instruction together with its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decoded {
    pub insn: Insn,
    /// Instruction length in bytes: 2 (compressed) or 4.
    pub len: u8,
    /// The instruction bits: the 16-bit parcel for compressed instructions
    /// (upper half zero), else all 32 bits. This is what `mtval` reports
    /// for an illegal instruction.
    pub raw: u32,
}

impl Decoded {
    #[inline]
    pub fn is_compressed(&self) -> bool {
        self.len == 2
    }
}
