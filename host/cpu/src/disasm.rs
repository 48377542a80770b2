//! Disassembler: objdump-style text from the same `Insn` the executor runs.
//!
//! ABI register names and the common assembler aliases objdump prints
//! (`li`, `mv`, `ret`, `j`, `beqz`, `csrr`, ...). Compressed instructions
//! print as their 32-bit expansion. Branch/jump targets print as absolute
//! hex addresses when the pc is known (`disassemble_at`), else relative to
//! the instruction as GNU `as` writes it (`.+16`, `.-8`).

mod fp;

use std::fmt;

use crate::csr::addr;
use crate::decode::decode;
use crate::insn::{AluOp, AluWOp, AmoOp, BranchCond, CsrOp, CsrSrc, Decoded, Insn, Reg, Width};

const ABI: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6",
    "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ABI[self.idx()])
    }
}

/// Disassemble one instruction (only the low 16 bits are used if compressed).
pub fn disassemble(raw: u32) -> String {
    decode(raw).to_string()
}

/// Disassemble with jump/branch targets resolved against `pc`.
pub fn disassemble_at(raw: u32, pc: u64) -> String {
    At { d: &decode(raw), pc: Some(pc) }.to_string()
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        At { d: self, pc: None }.fmt(f)
    }
}

impl fmt::Display for Insn {
    /// Without the encoding, `Illegal` can only print as `illegal`; prefer
    /// displaying the `Decoded`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Decoded { insn: *self, len: 4, raw: 0 };
        match self {
            Insn::Illegal => f.write_str("illegal"),
            _ => At { d: &d, pc: None }.fmt(f),
        }
    }
}

/// A decoded instruction, optionally at a known address.
struct At<'a> {
    d: &'a Decoded,
    pc: Option<u64>,
}

impl At<'_> {
    fn target(&self, f: &mut fmt::Formatter<'_>, off: i32) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "{:#x}", pc.wrapping_add(i64::from(off) as u64)),
            None if off < 0 => write!(f, ".-{}", off.unsigned_abs()),
            None => write!(f, ".+{off}"),
        }
    }
}

fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Sll => "sll",
        AluOp::Slt => "slt",
        AluOp::Sltu => "sltu",
        AluOp::Xor => "xor",
        AluOp::Srl => "srl",
        AluOp::Sra => "sra",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Mul => "mul",
        AluOp::Mulh => "mulh",
        AluOp::Mulhsu => "mulhsu",
        AluOp::Mulhu => "mulhu",
        AluOp::Div => "div",
        AluOp::Divu => "divu",
        AluOp::Rem => "rem",
        AluOp::Remu => "remu",
    }
}

fn alu_w_name(op: AluWOp) -> &'static str {
    match op {
        AluWOp::Add => "add",
        AluWOp::Sub => "sub",
        AluWOp::Sll => "sll",
        AluWOp::Srl => "srl",
        AluWOp::Sra => "sra",
        AluWOp::Mul => "mul",
        AluWOp::Div => "div",
        AluWOp::Divu => "divu",
        AluWOp::Rem => "rem",
        AluWOp::Remu => "remu",
    }
}

fn width_char(w: Width) -> char {
    match w {
        Width::B => 'b',
        Width::H => 'h',
        Width::W => 'w',
        Width::D => 'd',
    }
}

fn ordering(aq: bool, rl: bool) -> &'static str {
    match (aq, rl) {
        (false, false) => "",
        (true, false) => ".aq",
        (false, true) => ".rl",
        (true, true) => ".aqrl",
    }
}

/// FENCE predecessor/successor set as `iorw` letters.
fn fence_set(bits: u8) -> String {
    let s: String = [(8, 'i'), (4, 'o'), (2, 'r'), (1, 'w')]
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, c)| *c)
        .collect();
    if s.is_empty() { "0".to_string() } else { s }
}

/// Name of a CSR the hart implements (or that objdump would name).
pub fn csr_name(csr: u16) -> Option<&'static str> {
    Some(match csr {
        addr::FFLAGS => "fflags",
        addr::FRM => "frm",
        addr::FCSR => "fcsr",
        addr::CYCLE => "cycle",
        addr::TIME => "time",
        addr::INSTRET => "instret",
        addr::MSTATUS => "mstatus",
        addr::MISA => "misa",
        addr::MEDELEG => "medeleg",
        addr::MIDELEG => "mideleg",
        addr::MIE => "mie",
        addr::MTVEC => "mtvec",
        addr::MCOUNTEREN => "mcounteren",
        addr::MENVCFG => "menvcfg",
        addr::MCOUNTINHIBIT => "mcountinhibit",
        addr::MSCRATCH => "mscratch",
        addr::MEPC => "mepc",
        addr::MCAUSE => "mcause",
        addr::MTVAL => "mtval",
        addr::MIP => "mip",
        addr::TSELECT => "tselect",
        addr::TDATA1 => "tdata1",
        addr::TDATA2 => "tdata2",
        addr::TDATA3 => "tdata3",
        addr::TINFO => "tinfo",
        addr::PMPCFG0 => "pmpcfg0",
        addr::PMPADDR0 => "pmpaddr0",
        addr::MCYCLE => "mcycle",
        addr::MINSTRET => "minstret",
        addr::MVENDORID => "mvendorid",
        addr::MARCHID => "marchid",
        addr::MIMPID => "mimpid",
        addr::MHARTID => "mhartid",
        addr::MCONFIGPTR => "mconfigptr",
        addr::SSTATUS => "sstatus",
        addr::SIE => "sie",
        addr::STVEC => "stvec",
        addr::SCOUNTEREN => "scounteren",
        addr::SENVCFG => "senvcfg",
        addr::SSCRATCH => "sscratch",
        addr::SEPC => "sepc",
        addr::SCAUSE => "scause",
        addr::STVAL => "stval",
        addr::SIP => "sip",
        addr::STIMECMP => "stimecmp",
        addr::SATP => "satp",
        _ => return None,
    })
}

struct CsrDisp(u16);

impl fmt::Display for CsrDisp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match csr_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let z = Reg::ZERO;
        match self.d.insn {
            Insn::OpImm { op: AluOp::Add, rd, rs1, imm } => match (rd, rs1, imm) {
                (Reg(0), Reg(0), 0) => f.write_str("nop"),
                (_, Reg(0), _) => write!(f, "li {rd},{imm}"),
                (_, _, 0) => write!(f, "mv {rd},{rs1}"),
                _ => write!(f, "addi {rd},{rs1},{imm}"),
            },
            Insn::OpImm { op: AluOp::Xor, rd, rs1, imm: -1 } => write!(f, "not {rd},{rs1}"),
            Insn::OpImm { op: AluOp::Sltu, rd, rs1, imm: 1 } => write!(f, "seqz {rd},{rs1}"),
            Insn::OpImm { op: AluOp::Sltu, rd, rs1, imm } => write!(f, "sltiu {rd},{rs1},{imm}"),
            Insn::OpImm { op, rd, rs1, imm } => {
                write!(f, "{}i {rd},{rs1},{imm}", alu_name(op))
            }
            Insn::Op { op: AluOp::Sub, rd, rs1, rs2 } if rs1 == z => write!(f, "neg {rd},{rs2}"),
            Insn::Op { op: AluOp::Sltu, rd, rs1, rs2 } if rs1 == z => write!(f, "snez {rd},{rs2}"),
            Insn::Op { op: AluOp::Slt, rd, rs1, rs2 } if rs2 == z => write!(f, "sltz {rd},{rs1}"),
            Insn::Op { op: AluOp::Slt, rd, rs1, rs2 } if rs1 == z => write!(f, "sgtz {rd},{rs2}"),
            Insn::Op { op: AluOp::Add, rd, rs1, rs2 } if rs1 == z => write!(f, "mv {rd},{rs2}"),
            Insn::Op { op, rd, rs1, rs2 } => write!(f, "{} {rd},{rs1},{rs2}", alu_name(op)),
            Insn::Bitmanip { op, rd, rs1, src } => match src {
                crate::bitmanip::Src::Reg(rs2) => write!(f, "{} {rd},{rs1},{rs2}", op.name()),
                crate::bitmanip::Src::Imm(n) => write!(f, "{} {rd},{rs1},{n}", op.imm_name()),
                crate::bitmanip::Src::None => write!(f, "{} {rd},{rs1}", op.name()),
            },
            Insn::Op32 { op: AluWOp::Sub, rd, rs1, rs2 } if rs1 == z => write!(f, "negw {rd},{rs2}"),
            Insn::Op32 { op, rd, rs1, rs2 } => {
                write!(f, "{}w {rd},{rs1},{rs2}", alu_w_name(op))
            }
            Insn::OpImm32 { op: AluWOp::Add, rd, rs1, imm: 0 } => write!(f, "sext.w {rd},{rs1}"),
            Insn::OpImm32 { op, rd, rs1, imm } => {
                write!(f, "{}iw {rd},{rs1},{imm}", alu_w_name(op))
            }
            Insn::Lui { rd, imm } => write!(f, "lui {rd},{:#x}", (imm as u32) >> 12),
            Insn::Auipc { rd, imm } => write!(f, "auipc {rd},{:#x}", (imm as u32) >> 12),
            Insn::Jal { rd, imm } => {
                match rd.0 {
                    0 => f.write_str("j ")?,
                    1 => f.write_str("jal ")?,
                    _ => write!(f, "jal {rd},")?,
                }
                self.target(f, imm)
            }
            Insn::Jalr { rd, rs1, imm } => match (rd.0, rs1.0, imm) {
                (0, 1, 0) => f.write_str("ret"),
                (0, _, 0) => write!(f, "jr {rs1}"),
                (1, _, 0) => write!(f, "jalr {rs1}"),
                _ => write!(f, "jalr {rd},{imm}({rs1})"),
            },
            Insn::Branch { cond, rs1, rs2, imm } => {
                match (cond, rs1 == z, rs2 == z) {
                    (BranchCond::Eq, false, true) => write!(f, "beqz {rs1},")?,
                    (BranchCond::Ne, false, true) => write!(f, "bnez {rs1},")?,
                    (BranchCond::Ge, true, false) => write!(f, "blez {rs2},")?,
                    (BranchCond::Ge, false, true) => write!(f, "bgez {rs1},")?,
                    (BranchCond::Lt, false, true) => write!(f, "bltz {rs1},")?,
                    (BranchCond::Lt, true, false) => write!(f, "bgtz {rs2},")?,
                    _ => {
                        let name = match cond {
                            BranchCond::Eq => "beq",
                            BranchCond::Ne => "bne",
                            BranchCond::Lt => "blt",
                            BranchCond::Ge => "bge",
                            BranchCond::Ltu => "bltu",
                            BranchCond::Geu => "bgeu",
                        };
                        write!(f, "{name} {rs1},{rs2},")?
                    }
                }
                self.target(f, imm)
            }
            Insn::Load { width, signed, rd, rs1, imm } => {
                let u = if signed || width == Width::D { "" } else { "u" };
                write!(f, "l{}{u} {rd},{imm}({rs1})", width_char(width))
            }
            Insn::Store { width, rs1, rs2, imm } => write!(f, "s{} {rs2},{imm}({rs1})", width_char(width)),
            Insn::Amo { op, width, aq, rl, rd, rs1, rs2 } => {
                let name = match op {
                    AmoOp::Swap => "swap",
                    AmoOp::Add => "add",
                    AmoOp::Xor => "xor",
                    AmoOp::And => "and",
                    AmoOp::Or => "or",
                    AmoOp::Min => "min",
                    AmoOp::Max => "max",
                    AmoOp::Minu => "minu",
                    AmoOp::Maxu => "maxu",
                };
                let (w, o) = (width_char(width), ordering(aq, rl));
                write!(f, "amo{name}.{w}{o} {rd},{rs2},({rs1})")
            }
            Insn::Lr { width, aq, rl, rd, rs1 } => {
                write!(f, "lr.{}{} {rd},({rs1})", width_char(width), ordering(aq, rl))
            }
            Insn::Sc { width, aq, rl, rd, rs1, rs2 } => {
                write!(f, "sc.{}{} {rd},{rs2},({rs1})", width_char(width), ordering(aq, rl))
            }
            Insn::Csr { op, rd, src, csr } => fmt_csr(f, op, rd, src, csr),
            Insn::Fence { fm: 8, .. } => f.write_str("fence.tso"),
            Insn::Fence { pred: 0xf, succ: 0xf, .. } => f.write_str("fence"),
            // Zihintpause: PAUSE is FENCE with pred=W, succ=0.
            Insn::Fence { pred: 1, succ: 0, .. } => f.write_str("pause"),
            Insn::Fence { pred, succ, .. } => {
                write!(f, "fence {},{}", fence_set(pred), fence_set(succ))
            }
            Insn::FenceI => f.write_str("fence.i"),
            Insn::Ecall => f.write_str("ecall"),
            Insn::Ebreak => f.write_str("ebreak"),
            Insn::Mret => f.write_str("mret"),
            Insn::Wfi => f.write_str("wfi"),
            Insn::Sret => f.write_str("sret"),
            Insn::SfenceVma { rs1: Reg(0), rs2: Reg(0) } => f.write_str("sfence.vma"),
            Insn::SfenceVma { rs1, rs2: Reg(0) } => write!(f, "sfence.vma {rs1}"),
            Insn::SfenceVma { rs1, rs2 } => write!(f, "sfence.vma {rs1},{rs2}"),
            Insn::FLoad { .. }
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
            | Insn::FMvFromInt { .. } => fp::fmt_fp(f, self.d.insn).map(|_| ()),
            Insn::Illegal => match (self.d.len, self.d.raw) {
                (2, 0) => f.write_str("unimp"),
                (2, raw) => write!(f, ".2byte {raw:#06x}"),
                (_, raw) => write!(f, ".4byte {raw:#010x}"),
            },
        }
    }
}

fn fmt_csr(f: &mut fmt::Formatter<'_>, op: CsrOp, rd: Reg, src: CsrSrc, csr: u16) -> fmt::Result {
    let c = CsrDisp(csr);
    match (op, src) {
        (CsrOp::Rs, CsrSrc::Reg(Reg(0))) => match csr {
            addr::CYCLE => write!(f, "rdcycle {rd}"),
            addr::TIME => write!(f, "rdtime {rd}"),
            addr::INSTRET => write!(f, "rdinstret {rd}"),
            addr::FFLAGS => write!(f, "frflags {rd}"),
            addr::FRM => write!(f, "frrm {rd}"),
            addr::FCSR => write!(f, "frcsr {rd}"),
            _ => write!(f, "csrr {rd},{c}"),
        },
        (CsrOp::Rw, CsrSrc::Reg(r)) if matches!(csr, addr::FFLAGS | addr::FRM | addr::FCSR) => {
            let name = match csr {
                addr::FFLAGS => "fsflags",
                addr::FRM => "fsrm",
                _ => "fscsr",
            };
            if rd.0 == 0 { write!(f, "{name} {r}") } else { write!(f, "{name} {rd},{r}") }
        }
        // The canonical `unimp` (csrrw zero,cycle,zero) traps on purpose.
        (CsrOp::Rw, CsrSrc::Reg(Reg(0))) if rd.0 == 0 && csr == addr::CYCLE => f.write_str("unimp"),
        _ => {
            let name = match op {
                CsrOp::Rw => "w",
                CsrOp::Rs => "s",
                CsrOp::Rc => "c",
            };
            let i = if matches!(src, CsrSrc::Imm(_)) { "i" } else { "" };
            match (rd.0, src) {
                (0, CsrSrc::Reg(r)) => write!(f, "csr{name} {c},{r}"),
                (0, CsrSrc::Imm(u)) => write!(f, "csr{name}i {c},{u}"),
                (_, CsrSrc::Reg(r)) => write!(f, "csrr{name} {rd},{c},{r}"),
                (_, CsrSrc::Imm(u)) => write!(f, "csrr{name}{i} {rd},{c},{u}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::asm::*;

    #[test]
    fn prints_base_instructions_with_abi_names() {
        assert_eq!(disassemble(addi(10, 10, 1)), "addi a0,a0,1");
        assert_eq!(disassemble(add(10, 11, 12)), "add a0,a1,a2");
        assert_eq!(disassemble(subw(5, 6, 7)), "subw t0,t1,t2");
        assert_eq!(disassemble(ld(8, 2, 16)), "ld s0,16(sp)");
        assert_eq!(disassemble(lbu(10, 11, -1)), "lbu a0,-1(a1)");
        assert_eq!(disassemble(sd(1, 2, 8)), "sd ra,8(sp)");
        assert_eq!(disassemble(lui(10, 0x12345)), "lui a0,0x12345");
        assert_eq!(disassemble(slli(10, 10, 63)), "slli a0,a0,63");
        assert_eq!(disassemble(sraiw(10, 11, 3)), "sraiw a0,a1,3");
        assert_eq!(disassemble(mulhu(31, 30, 29)), "mulhu t6,t5,t4");
        assert_eq!(disassemble(sltiu(10, 11, 5)), "sltiu a0,a1,5");
        assert_eq!(disassemble(slti(10, 11, -5)), "slti a0,a1,-5");
    }

    #[test]
    fn prints_common_aliases() {
        assert_eq!(disassemble(addi(0, 0, 0)), "nop");
        assert_eq!(disassemble(addi(10, 0, -5)), "li a0,-5");
        assert_eq!(disassemble(addi(10, 11, 0)), "mv a0,a1");
        assert_eq!(disassemble(jalr(0, 1, 0)), "ret");
        assert_eq!(disassemble(addiw(10, 10, 0)), "sext.w a0,a0");
        assert_eq!(disassemble(csrrs(10, addr::MHARTID, 0)), "csrr a0,mhartid");
        assert_eq!(disassemble(csrrw(0, addr::MTVEC, 5)), "csrw mtvec,t0");
        assert_eq!(disassemble(csrrsi(0, addr::MSTATUS, 8)), "csrsi mstatus,8");
        assert_eq!(disassemble(csrrw(0, addr::CYCLE, 0)), "unimp");
        assert_eq!(disassemble(csrrs(10, 0x7c0, 11)), "csrrs a0,0x7c0,a1");
        assert_eq!(disassemble(csrrs(10, addr::FCSR, 0)), "frcsr a0");
        assert_eq!(disassemble(csrrs(10, addr::FFLAGS, 0)), "frflags a0");
        assert_eq!(disassemble(csrrw(0, addr::FRM, 11)), "fsrm a1");
        assert_eq!(disassemble(csrrw(10, addr::FCSR, 11)), "fscsr a0,a1");
        assert_eq!(disassemble(csrrsi(0, addr::FFLAGS, 1)), "csrsi fflags,1");
        assert_eq!(disassemble(csrrs(10, addr::STIMECMP, 0)), "csrr a0,stimecmp");
        assert_eq!(disassemble(csrrw(0, addr::MEDELEG, 5)), "csrw medeleg,t0");
        assert_eq!(disassemble(csrrw(0, addr::SCOUNTEREN, 5)), "csrw scounteren,t0");
        assert_eq!(disassemble(csrrs(10, addr::SENVCFG, 0)), "csrr a0,senvcfg");
    }

    #[test]
    fn prints_control_flow_relative_or_absolute() {
        assert_eq!(disassemble(jal(0, 16)), "j .+16");
        assert_eq!(disassemble(jal(1, -8)), "jal .-8");
        assert_eq!(disassemble(beq(10, 0, 12)), "beqz a0,.+12");
        assert_eq!(disassemble(bltu(10, 11, -4)), "bltu a0,a1,.-4");
        assert_eq!(disassemble_at(jal(1, 0x10), 0x8000_0000), "jal 0x80000010");
        assert_eq!(disassemble_at(bne(5, 6, -2), 0x8000_0004), "bne t0,t1,0x80000002");
    }

    #[test]
    fn prints_system_atomic_and_fence() {
        assert_eq!(disassemble(ECALL), "ecall");
        assert_eq!(disassemble(EBREAK), "ebreak");
        assert_eq!(disassemble(MRET), "mret");
        assert_eq!(disassemble(WFI), "wfi");
        assert_eq!(disassemble(0x1020_0073), "sret");
        assert_eq!(disassemble(0x1200_0073), "sfence.vma");
        assert_eq!(disassemble(0x1205_0073), "sfence.vma a0");
        assert_eq!(disassemble(0x12b5_0073), "sfence.vma a0,a1");
        assert_eq!(disassemble(FENCE), "fence");
        assert_eq!(disassemble(0x0000_100f), "fence.i");
        assert_eq!(disassemble(0x8330_000f), "fence.tso");
        assert_eq!(disassemble(0x0100_000f), "pause");
        assert_eq!(disassemble(0x0330_000f), "fence rw,rw");
        assert_eq!(disassemble(amo(0b00000, 3, 10, 11, 12) | (3 << 25)), "amoadd.d.aqrl a0,a2,(a1)");
        assert_eq!(disassemble(amo(0b00010, 2, 10, 11, 0)), "lr.w a0,(a1)");
        assert_eq!(disassemble(amo(0b00011, 3, 10, 11, 12)), "sc.d a0,a2,(a1)");
    }

    #[test]
    fn prints_compressed_as_expansion() {
        assert_eq!(disassemble(0x4505), "li a0,1"); // c.li a0,1
        assert_eq!(disassemble(0x8082), "ret"); // c.jr ra
        assert_eq!(disassemble(0x852e), "mv a0,a1"); // c.mv a0,a1
        assert_eq!(disassemble(0x1141), "addi sp,sp,-16"); // c.addi16sp
        assert_eq!(disassemble(0xe406), "sd ra,8(sp)"); // c.sdsp
    }

    #[test]
    fn prints_illegal_as_raw_data() {
        assert_eq!(disassemble(0), "unimp");
        assert_eq!(disassemble(0xffff_ffff), ".4byte 0xffffffff");
        assert_eq!(disassemble(0x9c41), ".2byte 0x9c41"); // Zcb c.mul slot
        assert_eq!(Insn::Illegal.to_string(), "illegal");
    }
}
