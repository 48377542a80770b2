//! The executable form of a decoded instruction, as the instruction cache
//! keeps it.
//!
//! `Insn` groups instructions by format (`Op { op: AluOp, .. }`), so
//! executing one from it takes two dispatches: the variant, then the
//! operation. When an instruction enters the cache it is *lowered* once to
//! an [`Entry`]: one flat [`Op`] per operation, register numbers as plain
//! indices and the immediate sign-extended, so the interpreter's hot loop
//! is a single `match` on `Op` (see `exec/fast.rs`).
//!
//! Only the frequent integer instructions get their own `Op`. Everything
//! else runs through the general executor `Hart::execute` on
//! `decode(raw)`: `Op::General` (AMO, floating point) in place,
//! `Op::Slow` (CSR, system, and any `Insn` added later) through
//! `Hart::step`. Lowering is an optimisation: `Insn` stays the single
//! definition of what an instruction does.

use crate::insn::{AluOp, AluWOp, BranchCond, Decoded, Insn, Reg, Width};

/// One executable operation. `Fill` must stay 0 (an all-zero `Entry` is an
/// empty cache slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    /// Empty slot: nothing decoded here yet.
    Fill = 0,
    /// No fast form, and may change what `Hart::run` checks only between
    /// stretches (CSR and system instructions, anything unknown): run
    /// through `Hart::step`.
    Slow,
    /// No fast form, but changes nothing `run` relies on (the A and F/D
    /// instructions): `Hart::execute(decode(raw))` in place.
    General,
    /// Retires with no effect: an ALU result written to x0, FENCE.
    Nop,
    // OP (rd = rs1 op rs2), rd != 0.
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
    // OP-IMM (rd = rs1 op imm), rd != 0.
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    // OP-32 and OP-IMM-32, rd != 0.
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    // rd != 0.
    Lui,
    Auipc,
    // Jumps: with a link register (rd != 0), and without (`j`, `ret`).
    Jal,
    Jalr,
    J,
    Jr,
    // Branches.
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    // Loads (rd != 0; a load into x0 still accesses memory and is slow)
    // and stores.
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
}

/// A cached instruction: what to do and its operands. 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Entry {
    pub(crate) op: Op,
    pub(crate) rd: u8,
    pub(crate) rs1: u8,
    pub(crate) rs2: u8,
    /// Sign-extended by the user (`i64::from`); already shifted into place
    /// as in `Insn`. For `Op::General`, the instruction bits (= `raw`).
    pub(crate) imm: i32,
    /// The instruction bits (`Decoded::raw`): what `Op::Slow` decodes and
    /// what mtval reports.
    pub(crate) raw: u32,
    /// 2 or 4; 0 only in an empty slot.
    pub(crate) len: u8,
}

// The cache's memory bound and the executor's indexing assume this.
const _: () = assert!(std::mem::size_of::<Entry>() == 16);

impl Entry {
    /// An empty cache slot.
    pub(crate) const EMPTY: Entry = Entry { op: Op::Fill, rd: 0, rs1: 0, rs2: 0, imm: 0, raw: 0, len: 0 };
}

/// Lower a decoded instruction to its cache entry.
///
/// Invariant the executor relies on: no `Op` that writes `rd` is produced
/// with `rd` = 0, so it can write the register file without a check.
pub(crate) fn lower(d: &Decoded) -> Entry {
    let (op, rd, rs1, rs2, imm) = match d.insn {
        Insn::Op { op, rd, rs1, rs2 } => (alu_op(op), rd, rs1, rs2, 0),
        Insn::OpImm { op, rd, rs1, imm } => match alu_imm_op(op) {
            Some(op) => (op, rd, rs1, Reg(0), imm),
            None => return slow(d),
        },
        Insn::Op32 { op, rd, rs1, rs2 } => (alu_w_op(op), rd, rs1, rs2, 0),
        Insn::OpImm32 { op, rd, rs1, imm } => match op {
            AluWOp::Add => (Op::Addiw, rd, rs1, Reg(0), imm),
            AluWOp::Sll => (Op::Slliw, rd, rs1, Reg(0), imm),
            AluWOp::Srl => (Op::Srliw, rd, rs1, Reg(0), imm),
            AluWOp::Sra => (Op::Sraiw, rd, rs1, Reg(0), imm),
            _ => return slow(d),
        },
        Insn::Lui { rd, imm } => (Op::Lui, rd, Reg(0), Reg(0), imm),
        Insn::Auipc { rd, imm } => (Op::Auipc, rd, Reg(0), Reg(0), imm),
        Insn::Jal { rd, imm } => (Op::Jal, rd, Reg(0), Reg(0), imm),
        Insn::Jalr { rd, rs1, imm } => (Op::Jalr, rd, rs1, Reg(0), imm),
        Insn::Branch { cond, rs1, rs2, imm } => (branch_op(cond), Reg(0), rs1, rs2, imm),
        Insn::Load { width, signed, rd, rs1, imm } => {
            let op = match (width, signed) {
                (Width::B, true) => Op::Lb,
                (Width::H, true) => Op::Lh,
                (Width::W, true) => Op::Lw,
                (Width::D, _) => Op::Ld,
                (Width::B, false) => Op::Lbu,
                (Width::H, false) => Op::Lhu,
                (Width::W, false) => Op::Lwu,
            };
            (op, rd, rs1, Reg(0), imm)
        }
        Insn::Store { width, rs1, rs2, imm } => {
            let op = match width {
                Width::B => Op::Sb,
                Width::H => Op::Sh,
                Width::W => Op::Sw,
                Width::D => Op::Sd,
            };
            (op, Reg(0), rs1, rs2, imm)
        }
        // One in-order hart: every fence is a no-op (see `Hart::execute`).
        Insn::Fence { .. } => (Op::Nop, Reg(0), Reg(0), Reg(0), 0),
        _ if runs_in_place(&d.insn) => {
            // The bits go in `imm` too: the executor reads them from there,
            // so no arm of its hot loop reads `raw`.
            return Entry { op: Op::General, imm: d.raw as i32, raw: d.raw, len: d.len, ..Entry::EMPTY };
        }
        _ => return slow(d),
    };
    let rd = rd.idx() as u8;
    let op = if rd == 0 && op.writes_rd() {
        match op {
            Op::Jal => Op::J,
            Op::Jalr => Op::Jr,
            // The access must still happen (it may fault); rare enough.
            Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu => return slow(d),
            // ALU results, LUI/AUIPC: nothing else happens (this is where
            // `nop` and the HINT encodings go).
            _ => Op::Nop,
        }
    } else {
        op
    };
    Entry { op, rd, rs1: rs1.idx() as u8, rs2: rs2.idx() as u8, imm, raw: d.raw, len: d.len }
}

/// What kind of operation an `Op` is: how control leaves it and what it
/// touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not executable from the cache (`Fill`, `Slow`).
    NoFastForm,
    /// `Op::General`: the general executor, in place.
    General,
    /// Register (and immediate) arithmetic; falls through.
    Alu,
    /// A load of `Facts::width` bytes; falls through or faults.
    Load,
    /// A store of `Facts::width` bytes; falls through or faults.
    Store,
    /// A conditional branch to pc + imm.
    Branch,
    /// A jump to pc + imm.
    Jump,
    /// A jump to (rs1 + imm) & !1.
    JumpReg,
}

/// The facts about an `Op` its consumers share: the interpreter's
/// lowering, the JIT's region former and translator. One table, so they
/// cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) kind: Kind,
    pub(crate) reads_rs1: bool,
    pub(crate) reads_rs2: bool,
    /// Writes `Entry::rd` (never x0: `lower` guarantees it).
    pub(crate) writes_rd: bool,
    /// Bytes a load or store accesses (0 otherwise).
    pub(crate) width: u8,
}

impl Op {
    /// The facts about this operation.
    pub(crate) const fn facts(self) -> Facts {
        const fn f(kind: Kind, reads_rs1: bool, reads_rs2: bool, writes_rd: bool, width: u8) -> Facts {
            Facts { kind, reads_rs1, reads_rs2, writes_rd, width }
        }
        use Kind::*;
        match self {
            Op::Fill | Op::Slow => f(NoFastForm, false, false, false, 0),
            Op::General => f(General, false, false, false, 0),
            Op::Nop => f(Alu, false, false, false, 0),
            Op::Add
            | Op::Sub
            | Op::Sll
            | Op::Slt
            | Op::Sltu
            | Op::Xor
            | Op::Srl
            | Op::Sra
            | Op::Or
            | Op::And
            | Op::Mul
            | Op::Mulh
            | Op::Mulhsu
            | Op::Mulhu
            | Op::Div
            | Op::Divu
            | Op::Rem
            | Op::Remu
            | Op::Addw
            | Op::Subw
            | Op::Sllw
            | Op::Srlw
            | Op::Sraw
            | Op::Mulw
            | Op::Divw
            | Op::Divuw
            | Op::Remw
            | Op::Remuw => f(Alu, true, true, true, 0),
            Op::Addi
            | Op::Slti
            | Op::Sltiu
            | Op::Xori
            | Op::Ori
            | Op::Andi
            | Op::Slli
            | Op::Srli
            | Op::Srai
            | Op::Addiw
            | Op::Slliw
            | Op::Srliw
            | Op::Sraiw => f(Alu, true, false, true, 0),
            Op::Lui | Op::Auipc => f(Alu, false, false, true, 0),
            Op::Jal => f(Jump, false, false, true, 0),
            Op::J => f(Jump, false, false, false, 0),
            Op::Jalr => f(JumpReg, true, false, true, 0),
            Op::Jr => f(JumpReg, true, false, false, 0),
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => f(Branch, true, true, false, 0),
            Op::Lb | Op::Lbu => f(Load, true, false, true, 1),
            Op::Lh | Op::Lhu => f(Load, true, false, true, 2),
            Op::Lw | Op::Lwu => f(Load, true, false, true, 4),
            Op::Ld => f(Load, true, false, true, 8),
            Op::Sb => f(Store, true, true, false, 1),
            Op::Sh => f(Store, true, true, false, 2),
            Op::Sw => f(Store, true, true, false, 4),
            Op::Sd => f(Store, true, true, false, 8),
        }
    }

    /// Whether the operation writes `Entry::rd`.
    pub(crate) fn writes_rd(self) -> bool {
        self.facts().writes_rd
    }
}

/// Instructions without a fast form that `Hart::run` may execute in the
/// middle of a stretch: they touch registers, fcsr, mstatus.FS (and SD)
/// and memory, nothing that decides interrupts, translation or the
/// instruction cache (see `exec/fast.rs`).
pub(crate) fn runs_in_place(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Bitmanip { .. }
            | Insn::Amo { .. }
            | Insn::Lr { .. }
            | Insn::Sc { .. }
            | Insn::FLoad { .. }
            | Insn::FStore { .. }
            | Insn::FOp { .. }
            | Insn::FSqrt { .. }
            | Insn::FFma { .. }
            | Insn::FSgnj { .. }
            | Insn::FMinMax { .. }
            | Insn::FCmp { .. }
            | Insn::FClass { .. }
            | Insn::FCvtToInt { .. }
            | Insn::FCvtFromInt { .. }
            | Insn::FCvtFp { .. }
            | Insn::FMvToInt { .. }
            | Insn::FMvFromInt { .. }
    )
}

/// The entry that sends `d` through `Hart::step`'s general executor.
pub(crate) fn slow(d: &Decoded) -> Entry {
    Entry { op: Op::Slow, raw: d.raw, len: d.len, ..Entry::EMPTY }
}

fn alu_op(op: AluOp) -> Op {
    match op {
        AluOp::Add => Op::Add,
        AluOp::Sub => Op::Sub,
        AluOp::Sll => Op::Sll,
        AluOp::Slt => Op::Slt,
        AluOp::Sltu => Op::Sltu,
        AluOp::Xor => Op::Xor,
        AluOp::Srl => Op::Srl,
        AluOp::Sra => Op::Sra,
        AluOp::Or => Op::Or,
        AluOp::And => Op::And,
        AluOp::Mul => Op::Mul,
        AluOp::Mulh => Op::Mulh,
        AluOp::Mulhsu => Op::Mulhsu,
        AluOp::Mulhu => Op::Mulhu,
        AluOp::Div => Op::Div,
        AluOp::Divu => Op::Divu,
        AluOp::Rem => Op::Rem,
        AluOp::Remu => Op::Remu,
    }
}

/// The OP-IMM operations the ISA has (the decoder produces no others).
fn alu_imm_op(op: AluOp) -> Option<Op> {
    Some(match op {
        AluOp::Add => Op::Addi,
        AluOp::Slt => Op::Slti,
        AluOp::Sltu => Op::Sltiu,
        AluOp::Xor => Op::Xori,
        AluOp::Or => Op::Ori,
        AluOp::And => Op::Andi,
        AluOp::Sll => Op::Slli,
        AluOp::Srl => Op::Srli,
        AluOp::Sra => Op::Srai,
        _ => return None,
    })
}

fn alu_w_op(op: AluWOp) -> Op {
    match op {
        AluWOp::Add => Op::Addw,
        AluWOp::Sub => Op::Subw,
        AluWOp::Sll => Op::Sllw,
        AluWOp::Srl => Op::Srlw,
        AluWOp::Sra => Op::Sraw,
        AluWOp::Mul => Op::Mulw,
        AluWOp::Div => Op::Divw,
        AluWOp::Divu => Op::Divuw,
        AluWOp::Rem => Op::Remw,
        AluWOp::Remu => Op::Remuw,
    }
}

fn branch_op(cond: BranchCond) -> Op {
    match cond {
        BranchCond::Eq => Op::Beq,
        BranchCond::Ne => Op::Bne,
        BranchCond::Lt => Op::Blt,
        BranchCond::Ge => Op::Bge,
        BranchCond::Ltu => Op::Bltu,
        BranchCond::Geu => Op::Bgeu,
    }
}
