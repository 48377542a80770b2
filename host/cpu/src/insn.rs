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

/// A floating-point register number, `f0`..`f31` (F/D extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FReg(pub u8);

impl FReg {
    /// Index into the hart's f registers; always in `0..32`.
    #[inline]
    pub fn idx(self) -> usize {
        usize::from(self.0 & 31)
    }
}

/// Floating-point format (the `fmt` field; H and Q are not implemented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FpFmt {
    /// Single precision (binary32), NaN-boxed in the 64-bit f registers.
    S,
    /// Double precision (binary64).
    D,
}

/// The `rm` field of an instruction (Vol I §"Floating-Point Control and
/// Status Register", table "Rounding mode encoding"). The reserved
/// encodings 101 and 110 decode as `Insn::Illegal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rm {
    /// Round to nearest, ties to even (000).
    Rne,
    /// Round towards zero (001).
    Rtz,
    /// Round down, towards -inf (010).
    Rdn,
    /// Round up, towards +inf (011).
    Rup,
    /// Round to nearest, ties to max magnitude (100).
    Rmm,
    /// Dynamic: use `frm` (111).
    Dyn,
}

/// `OP-FP` arithmetic with two sources and rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FpOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// The fused multiply-add family: `±(rs1*rs2) ± rs3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FmaOp {
    /// rs1*rs2 + rs3
    Madd,
    /// rs1*rs2 - rs3
    Msub,
    /// -(rs1*rs2) + rs3
    Nmsub,
    /// -(rs1*rs2) - rs3
    Nmadd,
}

/// Sign injection: the sign of rs2, its negation, or the XOR of both signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SgnjOp {
    J,
    Jn,
    Jx,
}

/// Floating-point comparisons writing 0/1 to an integer register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FCmpOp {
    /// Quiet: NV only for signaling NaN inputs.
    Eq,
    /// Signaling: NV for any NaN input.
    Lt,
    Le,
}

/// The integer side of an `FCVT` (the `rs2` field of `FCVT.int.fmt` /
/// `FCVT.fmt.int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntFmt {
    W,
    Wu,
    L,
    Lu,
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
    /// Zba/Zbb/Zbs: rd = op(rs1, src) (`bitmanip.rs`).
    Bitmanip {
        op: crate::bitmanip::BitOp,
        rd: Reg,
        rs1: Reg,
        src: crate::bitmanip::Src,
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
    /// Supervisor return (privileged spec §3.3.2).
    Sret,
    Wfi,
    /// `SFENCE.VMA rs1, rs2` (§4.2.1): orders page-table updates against
    /// translation: flushes the TLB (all, by address, by ASID; see `tlb`).
    SfenceVma {
        rs1: Reg,
        rs2: Reg,
    },
    /// `FLW`/`FLD` (and C.FLD/C.FLDSP): f[rd] = M[rs1 + imm].
    FLoad {
        fmt: FpFmt,
        rd: FReg,
        rs1: Reg,
        imm: i32,
    },
    /// `FSW`/`FSD` (and C.FSD/C.FSDSP): M[rs1 + imm] = f[rs2].
    FStore {
        fmt: FpFmt,
        rs1: Reg,
        rs2: FReg,
        imm: i32,
    },
    /// `FADD`/`FSUB`/`FMUL`/`FDIV`.
    FOp {
        op: FpOp,
        fmt: FpFmt,
        rd: FReg,
        rs1: FReg,
        rs2: FReg,
        rm: Rm,
    },
    FSqrt {
        fmt: FpFmt,
        rd: FReg,
        rs1: FReg,
        rm: Rm,
    },
    /// `FMADD`/`FMSUB`/`FNMSUB`/`FNMADD` (R4 format).
    FFma {
        op: FmaOp,
        fmt: FpFmt,
        rd: FReg,
        rs1: FReg,
        rs2: FReg,
        rs3: FReg,
        rm: Rm,
    },
    FSgnj {
        op: SgnjOp,
        fmt: FpFmt,
        rd: FReg,
        rs1: FReg,
        rs2: FReg,
    },
    /// `FMIN`/`FMAX` (`max` selects FMAX).
    FMinMax {
        max: bool,
        fmt: FpFmt,
        rd: FReg,
        rs1: FReg,
        rs2: FReg,
    },
    /// `FEQ`/`FLT`/`FLE`: x[rd] = f[rs1] op f[rs2].
    FCmp {
        op: FCmpOp,
        fmt: FpFmt,
        rd: Reg,
        rs1: FReg,
        rs2: FReg,
    },
    /// `FCLASS`: x[rd] = the one-hot class mask of f[rs1].
    FClass {
        fmt: FpFmt,
        rd: Reg,
        rs1: FReg,
    },
    /// `FCVT.{W,WU,L,LU}.fmt`: x[rd] = f[rs1] converted, saturating.
    FCvtToInt {
        int: IntFmt,
        fmt: FpFmt,
        rd: Reg,
        rs1: FReg,
        rm: Rm,
    },
    /// `FCVT.fmt.{W,WU,L,LU}`: f[rd] = x[rs1] converted.
    FCvtFromInt {
        int: IntFmt,
        fmt: FpFmt,
        rd: FReg,
        rs1: Reg,
        rm: Rm,
    },
    /// `FCVT.S.D` (`to` = S) and `FCVT.D.S` (`to` = D).
    FCvtFp {
        to: FpFmt,
        rd: FReg,
        rs1: FReg,
        rm: Rm,
    },
    /// `FMV.X.W`/`FMV.X.D`: raw bits to an integer register.
    FMvToInt {
        fmt: FpFmt,
        rd: Reg,
        rs1: FReg,
    },
    /// `FMV.W.X`/`FMV.D.X`: raw bits from an integer register.
    FMvFromInt {
        fmt: FpFmt,
        rd: FReg,
        rs1: Reg,
    },
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
