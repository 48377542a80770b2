//! Test programs: a straight-line body of `Item`s between a prologue that
//! loads every register from a table and an epilogue that dumps them and the
//! scratch buffer with Linux `write`, then `exit`s.

use std::fmt;

use super::encode as e;

/// Pinned base register (s0/x8): the scratch buffer. Never written by the body.
pub const BASE: u8 = 8;
/// sp (x2) also points at the scratch buffer (for c.*sp), never written.
pub const SP: u8 = 2;
/// Registers the body may write.
pub const WRITABLE: [u8; 29] = [
    1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31,
];

/// Load address of the single PT_LOAD segment (the usual static-ELF base).
pub const LOAD_ADDR: u64 = 0x1_0000;
/// Offsets in the image / segment.
pub const TABLE_OFF: u64 = 0x100;
pub const DUMP_OFF: u64 = 0x200;
pub const BUF_OFF: u64 = 0x300;
pub const BUF_LEN: usize = 256;
pub const CODE_OFF: u64 = 0x1000;
/// What the epilogue writes to stdout: 32 dump slots (x1..x31, then 8 zero
/// bytes) followed by the scratch buffer.
pub const OUT_LEN: usize = 256 + BUF_LEN;

pub const ABI: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6",
    "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

#[derive(Clone, Copy)]
pub struct ROp(pub usize);
pub struct ROpDef {
    pub name: &'static str,
    pub f7: u32,
    pub f3: u32,
    pub opc: u32,
}
const fn rop(name: &'static str, f7: u32, f3: u32, opc: u32) -> ROpDef {
    ROpDef { name, f7, f3, opc }
}
pub const ROPS: [ROpDef; 50] = [
    rop("add", 0, 0, e::OP),
    rop("sub", 0x20, 0, e::OP),
    rop("sll", 0, 1, e::OP),
    rop("slt", 0, 2, e::OP),
    rop("sltu", 0, 3, e::OP),
    rop("xor", 0, 4, e::OP),
    rop("srl", 0, 5, e::OP),
    rop("sra", 0x20, 5, e::OP),
    rop("or", 0, 6, e::OP),
    rop("and", 0, 7, e::OP),
    rop("mul", 1, 0, e::OP),
    rop("mulh", 1, 1, e::OP),
    rop("mulhsu", 1, 2, e::OP),
    rop("mulhu", 1, 3, e::OP),
    rop("div", 1, 4, e::OP),
    rop("divu", 1, 5, e::OP),
    rop("rem", 1, 6, e::OP),
    rop("remu", 1, 7, e::OP),
    rop("addw", 0, 0, e::OP32),
    rop("subw", 0x20, 0, e::OP32),
    rop("sllw", 0, 1, e::OP32),
    rop("srlw", 0, 5, e::OP32),
    rop("sraw", 0x20, 5, e::OP32),
    rop("mulw", 1, 0, e::OP32),
    rop("divw", 1, 4, e::OP32),
    rop("divuw", 1, 5, e::OP32),
    rop("remw", 1, 6, e::OP32),
    rop("remuw", 1, 7, e::OP32),
    // Zba
    rop("sh1add", 0x10, 2, e::OP),
    rop("sh2add", 0x10, 4, e::OP),
    rop("sh3add", 0x10, 6, e::OP),
    rop("add.uw", 0x04, 0, e::OP32),
    rop("sh1add.uw", 0x10, 2, e::OP32),
    rop("sh2add.uw", 0x10, 4, e::OP32),
    rop("sh3add.uw", 0x10, 6, e::OP32),
    // Zbb
    rop("andn", 0x20, 7, e::OP),
    rop("orn", 0x20, 6, e::OP),
    rop("xnor", 0x20, 4, e::OP),
    rop("max", 0x05, 6, e::OP),
    rop("maxu", 0x05, 7, e::OP),
    rop("min", 0x05, 4, e::OP),
    rop("minu", 0x05, 5, e::OP),
    rop("rol", 0x30, 1, e::OP),
    rop("ror", 0x30, 5, e::OP),
    rop("rolw", 0x30, 1, e::OP32),
    rop("rorw", 0x30, 5, e::OP32),
    // Zbs
    rop("bclr", 0x24, 1, e::OP),
    rop("bext", 0x24, 5, e::OP),
    rop("binv", 0x34, 1, e::OP),
    rop("bset", 0x14, 1, e::OP),
];
impl fmt::Debug for ROp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ROPS[self.0].name)
    }
}
pub fn rop_named(name: &str) -> ROp {
    ROp(ROPS.iter().position(|d| d.name == name).unwrap_or_else(|| panic!("no R op {name}")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IKind {
    Imm12,
    /// 6-bit shamt with funct6 in imm[11:6].
    Sh6(u32),
    /// 5-bit shamt with funct7 in imm[11:5].
    Sh5(u32),
    /// A unary operation: imm[11:0] is fixed (Zbb `clz`, `rev8`, ...).
    Unary(u32),
}
#[derive(Clone, Copy)]
pub struct IOp(pub usize);
pub struct IOpDef {
    pub name: &'static str,
    pub f3: u32,
    pub opc: u32,
    pub kind: IKind,
}
const fn iop(name: &'static str, f3: u32, opc: u32, kind: IKind) -> IOpDef {
    IOpDef { name, f3, opc, kind }
}
pub const IOPS: [IOpDef; 30] = [
    iop("addi", 0, e::OPIMM, IKind::Imm12),
    iop("slti", 2, e::OPIMM, IKind::Imm12),
    iop("sltiu", 3, e::OPIMM, IKind::Imm12),
    iop("xori", 4, e::OPIMM, IKind::Imm12),
    iop("ori", 6, e::OPIMM, IKind::Imm12),
    iop("andi", 7, e::OPIMM, IKind::Imm12),
    iop("slli", 1, e::OPIMM, IKind::Sh6(0)),
    iop("srli", 5, e::OPIMM, IKind::Sh6(0)),
    iop("srai", 5, e::OPIMM, IKind::Sh6(0x10)),
    iop("addiw", 0, e::OPIMM32, IKind::Imm12),
    iop("slliw", 1, e::OPIMM32, IKind::Sh5(0)),
    iop("srliw", 5, e::OPIMM32, IKind::Sh5(0)),
    iop("sraiw", 5, e::OPIMM32, IKind::Sh5(0x20)),
    // Zba, Zbb, Zbs immediate and unary forms
    iop("slli.uw", 1, e::OPIMM32, IKind::Sh6(0x02)),
    iop("rori", 5, e::OPIMM, IKind::Sh6(0x18)),
    iop("roriw", 5, e::OPIMM32, IKind::Sh5(0x30)),
    iop("bclri", 1, e::OPIMM, IKind::Sh6(0x12)),
    iop("bexti", 5, e::OPIMM, IKind::Sh6(0x12)),
    iop("binvi", 1, e::OPIMM, IKind::Sh6(0x1a)),
    iop("bseti", 1, e::OPIMM, IKind::Sh6(0x0a)),
    iop("clz", 1, e::OPIMM, IKind::Unary(0x600)),
    iop("ctz", 1, e::OPIMM, IKind::Unary(0x601)),
    iop("cpop", 1, e::OPIMM, IKind::Unary(0x602)),
    iop("sext.b", 1, e::OPIMM, IKind::Unary(0x604)),
    iop("sext.h", 1, e::OPIMM, IKind::Unary(0x605)),
    iop("orc.b", 5, e::OPIMM, IKind::Unary(0x287)),
    iop("rev8", 5, e::OPIMM, IKind::Unary(0x6b8)),
    iop("clzw", 1, e::OPIMM32, IKind::Unary(0x600)),
    // No ctzw: QEMU 7.2 gets it wrong when the low word is zero (it
    // counts into the high word: ctzw(1 << 33) = 33, the spec says 32);
    // host/cpu/src/bitmanip.rs's unit tests cover it.
    iop("cpopw", 1, e::OPIMM32, IKind::Unary(0x602)),
    // zext.h is R-type with rs2 = x0: imm[11:0] = funct7 0000100, rs2 00000.
    iop("zext.h", 4, e::OP32, IKind::Unary(0x080)),
];
impl fmt::Debug for IOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(IOPS[self.0].name)
    }
}
pub fn iop_named(name: &str) -> IOp {
    IOp(IOPS.iter().position(|d| d.name == name).unwrap_or_else(|| panic!("no I op {name}")))
}

/// Access width of load/store funct3 (lb/lbu 1, lh/lhu 2, lw/lwu 4, ld 8).
fn width_of(f3: u8) -> u32 {
    1 << (f3 & 3)
}
/// An aligned, in-bounds buffer offset for an access of `width` bytes.
pub fn slot_off(slot: u16, width: u32) -> i32 {
    ((u32::from(slot) * width) % BUF_LEN as u32) as i32
}

/// An in-bounds buffer offset for an access of `width` bytes at byte
/// `off`, aligned or not (both emulators complete misaligned accesses).
pub fn byte_off(off: u8, width: u32) -> i32 {
    i32::from(off).min(BUF_LEN as i32 - width as i32)
}

/// A load (funct3 `f3`) into `rd` from `off`(sp or s0).
fn load(f3: u8, rd: u8, sp_base: bool, off: i32) -> Vec<Word> {
    let base = if sp_base { SP } else { BASE };
    vec![Word::w(e::i(off, base, u32::from(f3), rd, e::LOAD))]
}

/// A store (funct3 `f3`) of `rs2` to `off`(sp or s0).
fn store(f3: u8, rs2: u8, sp_base: bool, off: i32) -> Vec<Word> {
    let base = if sp_base { SP } else { BASE };
    vec![Word::w(e::s(off, rs2, base, u32::from(f3), e::STORE))]
}

/// AMO funct5 values.
pub const AMO_OPS: [(&str, u32); 9] = [
    ("amoswap", 0b00001),
    ("amoadd", 0b00000),
    ("amoxor", 0b00100),
    ("amoand", 0b01100),
    ("amoor", 0b01000),
    ("amomin", 0b10000),
    ("amomax", 0b10100),
    ("amominu", 0b11000),
    ("amomaxu", 0b11100),
];

/// One generated unit: one or a few instructions.
#[derive(Clone)]
pub enum Item {
    Op {
        op: ROp,
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Imm {
        op: IOp,
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Lui {
        rd: u8,
        imm20: u32,
    },
    Auipc {
        rd: u8,
        imm20: u32,
    },
    /// `f3` 0..=6 (see LOAD_NAMES); base is sp or s0.
    Load {
        f3: u8,
        rd: u8,
        sp_base: bool,
        slot: u16,
    },
    Store {
        f3: u8,
        rs2: u8,
        sp_base: bool,
        slot: u16,
    },
    /// A load at any byte offset of the buffer: mostly misaligned.
    LoadAt {
        f3: u8,
        rd: u8,
        sp_base: bool,
        off: u8,
    },
    /// A store at any byte offset of the buffer.
    StoreAt {
        f3: u8,
        rs2: u8,
        sp_base: bool,
        off: u8,
    },
    /// `addi t, s0, off; amo<op>.<w|d> rd, rs2, (t)`
    Amo {
        op: u8,
        dword: bool,
        aq: bool,
        rl: bool,
        rd: u8,
        rs2: u8,
        t: u8,
        slot: u16,
    },
    /// `addi t, s0, off; lr rd_lr, (t); [addi t, s0, off2;] sc rd_sc, rs2, (t)`
    LrSc {
        dword: bool,
        t: u8,
        slot: u16,
        rd_lr: u8,
        rd_sc: u8,
        rs2: u8,
        sc_slot: Option<u16>,
    },
    C(CItem),
    /// `b<cond> rs1, rs2, +8` over one 4-byte instruction.
    SkipBranch {
        f3: u8,
        rs1: u8,
        rs2: u8,
        skipped: Box<Item>,
    },
    /// `c.beqz/c.bnez rs1', +4` (or `c.j +4` if `cond` is None) over one
    /// compressed instruction.
    CSkip {
        cond: Option<bool>,
        rs1p: u8,
        skipped: CItem,
    },
    /// A jump over one compressed instruction: `jal rd, +6` (kind 0),
    /// `auipc t, 0; jalr rd, 10(t)` (1), `auipc t, 0; addi t, t, 12;
    /// c.jr t` (2) or `c.jalr t` (3).
    JumpSkip {
        kind: u8,
        rd: u8,
        t: u8,
        skipped: CItem,
    },
}

#[derive(Clone, Debug)]
pub enum CItem {
    Addi { rd: u8, imm: i32 },
    Addiw { rd: u8, imm: i32 },
    Li { rd: u8, imm: i32 },
    Lui { rd: u8, nzimm: i32 },
    Addi4spn { rdp: u8, nzuimm: u32 },
    Srli { rdp: u8, shamt: u32 },
    Srai { rdp: u8, shamt: u32 },
    Andi { rdp: u8, imm: i32 },
    Arith { op: u32, rdp: u8, rs2p: u8 },
    Slli { rd: u8, shamt: u32 },
    Mv { rd: u8, rs2: u8 },
    Add { rd: u8, rs2: u8 },
    Lw { rdp: u8, slot: u16 },
    Ld { rdp: u8, slot: u16 },
    Sw { rs2p: u8, slot: u16 },
    Sd { rs2p: u8, slot: u16 },
    Lwsp { rd: u8, slot: u16 },
    Ldsp { rd: u8, slot: u16 },
    Swsp { rs2: u8, slot: u16 },
    Sdsp { rs2: u8, slot: u16 },
    Nop,
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.encode().iter().map(|w| w.to_string()).collect();
        write!(f, "[{}]", words.join("; "))
    }
}

/// One encoded instruction: raw bits and length (2 or 4).
#[derive(Clone, Copy, Debug)]
pub struct Word {
    pub raw: u32,
    pub len: u8,
}
impl Word {
    pub fn w(raw: u32) -> Word {
        Word { raw, len: 4 }
    }
    pub fn c(raw: u32) -> Word {
        assert!(raw & 3 != 3 && raw <= 0xffff);
        Word { raw, len: 2 }
    }
}
impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 2 {
            write!(f, "{:04x} {}", self.raw, wemu_cpu::disassemble(self.raw))
        } else {
            write!(f, "{:08x} {}", self.raw, wemu_cpu::disassemble(self.raw))
        }
    }
}

impl CItem {
    pub fn encode(&self) -> Word {
        use CItem::*;
        Word::c(match *self {
            Addi { rd, imm } => e::c_addi(rd, imm),
            Addiw { rd, imm } => e::c_addiw(rd, imm),
            Li { rd, imm } => e::c_li(rd, imm),
            Lui { rd, nzimm } => e::c_lui(rd, nzimm),
            Addi4spn { rdp, nzuimm } => e::c_addi4spn(rdp, nzuimm),
            Srli { rdp, shamt } => e::c_srli(rdp, shamt),
            Srai { rdp, shamt } => e::c_srai(rdp, shamt),
            Andi { rdp, imm } => e::c_andi(rdp, imm),
            Arith { op, rdp, rs2p } => e::c_arith(op, rdp, rs2p),
            Slli { rd, shamt } => e::c_slli(rd, shamt),
            Mv { rd, rs2 } => e::c_mv(rd, rs2),
            Add { rd, rs2 } => e::c_add(rd, rs2),
            Lw { rdp, slot } => e::c_lw(rdp, BASE, slot_off(slot, 4) as u32 % 128),
            Ld { rdp, slot } => e::c_ld(rdp, BASE, slot_off(slot, 8) as u32),
            Sw { rs2p, slot } => e::c_sw(rs2p, BASE, slot_off(slot, 4) as u32 % 128),
            Sd { rs2p, slot } => e::c_sd(rs2p, BASE, slot_off(slot, 8) as u32),
            Lwsp { rd, slot } => e::c_lwsp(rd, slot_off(slot, 4) as u32),
            Ldsp { rd, slot } => e::c_ldsp(rd, slot_off(slot, 8) as u32),
            Swsp { rs2, slot } => e::c_swsp(rs2, slot_off(slot, 4) as u32),
            Sdsp { rs2, slot } => e::c_sdsp(rs2, slot_off(slot, 8) as u32),
            Nop => e::C_NOP,
        })
    }
}

impl Item {
    pub fn encode(&self) -> Vec<Word> {
        match self {
            Item::Op { op, rd, rs1, rs2 } => {
                let d = &ROPS[op.0];
                vec![Word::w(e::r(d.f7, *rs2, *rs1, d.f3, *rd, d.opc))]
            }
            Item::Imm { op, rd, rs1, imm } => {
                let d = &IOPS[op.0];
                let imm = match d.kind {
                    IKind::Imm12 => *imm,
                    IKind::Sh6(f6) => ((f6 << 6) | (*imm as u32 & 63)) as i32,
                    IKind::Sh5(f7) => ((f7 << 5) | (*imm as u32 & 31)) as i32,
                    IKind::Unary(fixed) => fixed as i32,
                };
                // Shift encodings put funct6/7 in the top bits: sign-extend the 12-bit field.
                let imm = (imm << 20) >> 20;
                vec![Word::w(e::i(imm, *rs1, d.f3, *rd, d.opc))]
            }
            Item::Lui { rd, imm20 } => vec![Word::w(e::u(*imm20, *rd, e::LUI))],
            Item::Auipc { rd, imm20 } => vec![Word::w(e::u(*imm20, *rd, e::AUIPC))],
            Item::Load { f3, rd, sp_base, slot } => load(*f3, *rd, *sp_base, slot_off(*slot, width_of(*f3))),
            Item::Store { f3, rs2, sp_base, slot } => {
                store(*f3, *rs2, *sp_base, slot_off(*slot, width_of(*f3)))
            }
            Item::LoadAt { f3, rd, sp_base, off } => load(*f3, *rd, *sp_base, byte_off(*off, width_of(*f3))),
            Item::StoreAt { f3, rs2, sp_base, off } => {
                store(*f3, *rs2, *sp_base, byte_off(*off, width_of(*f3)))
            }
            Item::Amo { op, dword, aq, rl, rd, rs2, t, slot } => {
                let w = if *dword { 8 } else { 4 };
                let f3 = if *dword { 3 } else { 2 };
                vec![
                    Word::w(e::addi(*t, BASE, slot_off(*slot, w))),
                    Word::w(e::amo(AMO_OPS[usize::from(*op)].1, *aq, *rl, *rs2, *t, f3, *rd)),
                ]
            }
            Item::LrSc { dword, t, slot, rd_lr, rd_sc, rs2, sc_slot } => {
                let w = if *dword { 8 } else { 4 };
                let f3 = if *dword { 3 } else { 2 };
                // The loaded value must not clobber the address.
                let rd_lr = if rd_lr == t { 0 } else { *rd_lr };
                let mut v = vec![
                    Word::w(e::addi(*t, BASE, slot_off(*slot, w))),
                    Word::w(e::amo(0b00010, false, false, 0, *t, f3, rd_lr)),
                ];
                if let Some(s) = sc_slot {
                    let off = slot_off(*s, w);
                    // A different address, so the SC fails on both.
                    let off = if off == slot_off(*slot, w) { (off + w as i32) % BUF_LEN as i32 } else { off };
                    v.push(Word::w(e::addi(*t, BASE, off)));
                }
                v.push(Word::w(e::amo(0b00011, false, false, *rs2, *t, f3, *rd_sc)));
                v
            }
            Item::C(c) => vec![c.encode()],
            Item::SkipBranch { f3, rs1, rs2, skipped } => {
                let inner = skipped.encode();
                assert!(inner.len() == 1 && inner[0].len == 4, "skipped item must be one 4-byte insn");
                vec![Word::w(e::b(8, *rs2, *rs1, u32::from(*f3))), inner[0]]
            }
            Item::CSkip { cond, rs1p, skipped } => {
                let br = match cond {
                    None => e::c_j(4),
                    Some(bnez) => e::c_bz(*bnez, *rs1p, 4),
                };
                vec![Word::c(br), skipped.encode()]
            }
            Item::JumpSkip { kind, rd, t, skipped } => {
                let mut v = match kind {
                    0 => vec![Word::w(e::jal(*rd, 6))],
                    1 => vec![Word::w(e::u(0, *t, e::AUIPC)), Word::w(e::jalr(*rd, *t, 10))],
                    _ => vec![
                        Word::w(e::u(0, *t, e::AUIPC)),
                        Word::w(e::addi(*t, *t, 12)),
                        Word::c(e::c_jr(*kind == 3, *t)),
                    ],
                };
                v.push(skipped.encode());
                v
            }
        }
    }
}

/// A complete test case.
#[derive(Clone)]
pub struct Case {
    /// Initial x0..x31 (x0, sp and s0 entries are ignored).
    pub init: Vec<u64>,
    /// Initial scratch buffer.
    pub buf: Vec<u8>,
    pub body: Vec<Item>,
}

impl fmt::Debug for Case {
    /// Compact: proptest prints the minimal failing case with this.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Case {{")?;
        let init: Vec<String> = self.init.iter().map(|v| format!("{v:#x}")).collect();
        writeln!(f, "  init: [{}],", init.join(", "))?;
        let buf: String = self.buf.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(f, "  buf: {buf},")?;
        writeln!(f, "  body: [")?;
        for item in &self.body {
            writeln!(f, "    {item:?}")?;
        }
        write!(f, "  ]\n}}")
    }
}

/// The program image, loaded at `LOAD_ADDR` (file offset 0 = LOAD_ADDR).
pub struct Program {
    /// Segment contents (code and data) from LOAD_ADDR.
    pub segment: Vec<u8>,
    pub entry: u64,
    /// Body instructions as (address, word), for failure reports.
    pub listing: Vec<(u64, Word)>,
}

pub fn build(case: &Case) -> Program {
    assert_eq!(case.init.len(), 32);
    assert_eq!(case.buf.len(), BUF_LEN);
    let mut seg = vec![0u8; CODE_OFF as usize];
    for (i, v) in case.init.iter().enumerate() {
        let o = TABLE_OFF as usize + 8 * i;
        seg[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
    seg[BUF_OFF as usize..BUF_OFF as usize + BUF_LEN].copy_from_slice(&case.buf);

    let mut code: Vec<Word> = Vec::new();
    // Prologue: s0 = table (absolute: the ELF is not PIE), load every register.
    let table = LOAD_ADDR + TABLE_OFF;
    code.push(Word::w(e::u((table >> 12) as u32, BASE, e::LUI)));
    code.push(Word::w(e::addi(BASE, BASE, (table & 0xfff) as i32)));
    for r in 1..32u8 {
        if r != BASE && r != SP {
            code.push(Word::w(e::ld(r, BASE, 8 * i32::from(r))));
        }
    }
    code.push(Word::w(e::addi(BASE, BASE, (BUF_OFF - TABLE_OFF) as i32)));
    code.push(Word::w(e::addi(SP, BASE, 0)));
    let body_start = code.len();
    for item in &case.body {
        code.extend(item.encode());
    }
    let body_end = code.len();
    // Epilogue: dump x1..x31 below the buffer, write(1, dump, OUT_LEN), exit(0).
    let dump_rel = DUMP_OFF as i32 - BUF_OFF as i32;
    for r in 1..32u8 {
        code.push(Word::w(e::sd(r, BASE, dump_rel + 8 * (i32::from(r) - 1))));
    }
    code.push(Word::w(e::addi(11, BASE, dump_rel)));
    code.push(Word::w(e::addi(10, 0, 1)));
    code.push(Word::w(e::addi(12, 0, OUT_LEN as i32)));
    code.push(Word::w(e::addi(17, 0, 64)));
    code.push(Word::w(e::ECALL));
    code.push(Word::w(e::addi(10, 0, 0)));
    code.push(Word::w(e::addi(17, 0, 93)));
    code.push(Word::w(e::ECALL));

    let mut listing = Vec::new();
    for (idx, w) in code.iter().enumerate() {
        let addr = LOAD_ADDR + seg.len() as u64;
        if (body_start..body_end).contains(&idx) {
            listing.push((addr, *w));
        }
        seg.extend_from_slice(&w.raw.to_le_bytes()[..usize::from(w.len)]);
    }
    Program { segment: seg, entry: LOAD_ADDR + CODE_OFF, listing }
}

/// A minimal static ELF64 executable: the header, one RWX PT_LOAD mapping
/// the whole file at LOAD_ADDR. The headers live in the (unused) start of
/// the segment's first page.
pub fn elf(p: &Program) -> Vec<u8> {
    let mut f = p.segment.clone();
    let len = f.len() as u64;
    let mut h = Vec::with_capacity(120);
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.extend_from_slice(&2u16.to_le_bytes()); // e_type: EXEC
    h.extend_from_slice(&243u16.to_le_bytes()); // e_machine: RISC-V
    h.extend_from_slice(&1u32.to_le_bytes()); // e_version
    h.extend_from_slice(&p.entry.to_le_bytes()); // e_entry
    h.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.extend_from_slice(&5u32.to_le_bytes()); // e_flags: RVC, double-float ABI
    h.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    h.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    h.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    assert_eq!(h.len(), 64);
    h.extend_from_slice(&1u32.to_le_bytes()); // p_type: LOAD
    h.extend_from_slice(&7u32.to_le_bytes()); // p_flags: RWX
    h.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    h.extend_from_slice(&LOAD_ADDR.to_le_bytes()); // p_vaddr
    h.extend_from_slice(&LOAD_ADDR.to_le_bytes()); // p_paddr
    h.extend_from_slice(&len.to_le_bytes()); // p_filesz
    h.extend_from_slice(&len.to_le_bytes()); // p_memsz
    h.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    assert!(h.len() as u64 <= TABLE_OFF);
    f[..h.len()].copy_from_slice(&h);
    f
}
