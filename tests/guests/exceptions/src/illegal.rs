//! Illegal-instruction exceptions (cause 2): reserved and unimplemented
//! encodings (32-bit and compressed), FP instructions with FS=Off or an
//! invalid rounding mode, privileged instructions in a mode that may not
//! use them (§3.3, and TSR/TW/TVM of §3.1.6.5), and CSR accesses the CSR
//! rules forbid (§2.1). xtval holds the instruction bits (QEMU 7.2 and
//! wemu both write them; the spec also allows 0).

use rt::enc::{self, A0, A1};
use rt::lower::{self, Code, Mode};

use crate::{Want, expect, expect_no_trap, ms, num};

/// One illegal instruction: where it runs, with which extra mstatus bits
/// (`FS_OFF` clears FS instead) and `frm`, and its encoding.
struct Case {
    name: &'static str,
    mode: Mode,
    status: u64,
    frm: u64,
    insn: Insn,
}

#[derive(Clone, Copy)]
enum Insn {
    Half(u16),
    Word(u32),
}

/// Marker in `Case::status`: run with mstatus.FS = Off.
const FS_OFF: u64 = 1 << 63;

use Insn::{Half, Word};
use Mode::{Machine as M, Supervisor as S, User as U};

const fn case(name: &'static str, mode: Mode, status: u64, insn: Insn) -> Case {
    Case { name, mode, status, frm: 0, insn }
}

const CASES: &[Case] = &[
    // Reserved or unimplemented 32-bit encodings.
    case("all-zero halfword (c.unimp)", M, 0, Half(0x0000)),
    case("all-ones word", M, 0, Word(0xffff_ffff)),
    case("custom-0 opcode", M, 0, Word(0x0005_050b)),
    case("OP funct7=0100000 funct3=001 (no Zbb/Zbs)", M, 0, Word(0x40a5_1533)),
    case("slliw with shamt[5] set", M, 0, Word(0x0205_151b)),
    case("load funct3=111 (ldu is RV128)", M, 0, Word(0x0005_7503)),
    case("store funct3=100", M, 0, Word(0x00b5_4023)),
    case("jalr funct3=001", M, 0, Word(0x0005_1067)),
    case("MISC-MEM funct3=010 (no Zicbom)", M, 0, Word(0x0005_200f)),
    case("AMO funct5=00110", M, 0, Word(0x30b5_352f)),
    case("lr.d with rs2 != x0", M, 0, Word(0x10b5_352f)),
    case("SYSTEM funct3=100 (hlv.b, no H)", M, 0, Word(0x6005_4573)),
    case("ecall with rd != x0", M, 0, Word(0x0000_0573)),
    case("wfi with rs1 != x0", M, 0, Word(0x1055_0073)),
    case("uret (N extension, removed)", M, 0, Word(0x0020_0073)),
    case("dret outside debug mode", M, 0, Word(0x7b20_0073)),
    // Reserved compressed encodings.
    case("c.addi4spn with nzuimm=0", M, 0, Half(0x0004)),
    case("c.lui a0, 0 (nzimm=0)", M, 0, Half(0x6501)),
    case("c.addi16sp with nzimm=0", M, 0, Half(0x6101)),
    case("c.addiw with rd=x0", M, 0, Half(0x2001)),
    case("c.lwsp with rd=x0", M, 0, Half(0x4002)),
    case("c.ldsp with rd=x0", M, 0, Half(0x6002)),
    case("c.jr with rs1=x0", M, 0, Half(0x8002)),
    case("quadrant 0 funct3=100 (no Zcb)", M, 0, Half(0x8000)),
    // FP with FS=Off, and invalid rounding modes.
    case("fadd.d with FS=Off", M, FS_OFF, Word(0x0200_7053)),
    case("fld with FS=Off", U, FS_OFF, Word(0x0005_3007)),
    case("c.fld with FS=Off", S, FS_OFF, Half(0x2100)),
    case("fmv.x.d with FS=Off", M, FS_OFF, Word(0xe200_0553)),
    case("fadd.d rm=101 (reserved)", M, 0, Word(0x0200_5053)),
    case("fadd.d rm=110 (reserved)", M, 0, Word(0x0200_6053)),
    Case { name: "fadd.d rm=dyn with frm=101", mode: M, status: 0, frm: 5, insn: Word(0x0200_7053) },
    Case { name: "fadd.d rm=dyn with frm=111", mode: M, status: 0, frm: 7, insn: Word(0x0200_7053) },
    // xRET, WFI and SFENCE.VMA where they are not allowed.
    case("mret from S", S, 0, Word(enc::MRET)),
    case("mret from U", U, 0, Word(enc::MRET)),
    case("sret from U", U, 0, Word(enc::SRET)),
    case("sret from S with TSR", S, ms::TSR, Word(enc::SRET)),
    case("wfi from U", U, 0, Word(enc::WFI)),
    case("wfi from S with TW", S, ms::TW, Word(enc::WFI)),
    case("sfence.vma from U", U, 0, Word(0x1200_0073)),
    case("sfence.vma from S with TVM", S, ms::TVM, Word(0x12b5_0073)),
    // CSR rules.
    case("csrw mvendorid (read-only) from M", M, 0, Word(0xf115_1073)),
    case("csrr mstatus from S", S, 0, Word(0x3000_2573)),
    case("csrr sstatus from U", U, 0, Word(0x1000_2573)),
    case("csrr satp from S with TVM", S, ms::TVM, Word(0x1800_2573)),
    case("csrr 0x7c0 (unimplemented custom CSR) from M", M, 0, Word(0x7c00_2573)),
    case("csrr fcsr from U with FS=Off", U, FS_OFF, Word(0x0030_2573)),
];

impl Insn {
    fn code(self) -> Code {
        match self {
            Half(h) => Code::new().i16(h),
            Word(w) => Code::new().i32(w),
        }
    }
    fn bits(self) -> usize {
        match self {
            Half(h) => h as usize,
            Word(w) => w as usize,
        }
    }
}

pub fn run() {
    check_encoders();
    for c in CASES {
        let status = if c.status & FS_OFF != 0 { c.status & !FS_OFF } else { c.status | ms::FS_INITIAL };
        lower::m_write(num::FRM, c.frm);
        lower::m_write(num::MSTATUS, status);
        let o = lower::exec(c.mode, &c.insn.code(), [0; 4]);
        lower::m_write(num::MSTATUS, ms::FS_INITIAL);
        lower::m_write(num::FRM, 0);
        let want = Want {
            handler: Mode::Machine,
            from: c.mode,
            cause: 2,
            epc: lower::code_base(),
            tval: c.insn.bits(),
        };
        expect(format_args!("{}", c.name), &o, want);
    }
    legal_counterparts();
}

/// The hand-encoded words above, for the ones the encoders also build.
fn check_encoders() {
    let pairs = [
        (0x10b5_352fu32, enc::amo(2, 3, A0, A0, A1)),
        (0xf115_1073, enc::csrw(num::MVENDORID, A0)),
        (0x3000_2573, enc::csrr(A0, num::MSTATUS)),
        (0x0005_3007, enc::fld(0, A0, 0)),
        (0x0200_7053, enc::fadd_d(0, 0, 0, 7)),
        (0x12b5_0073, enc::sfence_vma(A0, A1)),
    ];
    let bad = pairs.iter().filter(|(a, b)| a != b).count();
    rt::check!(bad == 0, "hand-encoded illegal-instruction table agrees with rt::enc ({bad} differ)");
}

/// The same instructions where they are allowed do not trap.
fn legal_counterparts() {
    let run = |mode, status: u64, insn: u32| {
        lower::m_write(num::MSTATUS, status | ms::FS_INITIAL);
        let o = lower::exec(mode, &Code::new().i32(insn), [0; 4]);
        lower::m_write(num::MSTATUS, ms::FS_INITIAL);
        o
    };
    expect_no_trap(format_args!("sfence.vma from S without TVM"), &run(S, 0, 0x12b5_0073));
    expect_no_trap(format_args!("sfence.vma from M with TVM"), &run(M, ms::TVM, 0x12b5_0073));
    expect_no_trap(format_args!("csrr satp from M with TVM"), &run(M, ms::TVM, 0x1800_2573));
    expect_no_trap(format_args!("fadd.d rm=dyn with frm=0 (FS on)"), &run(U, 0, 0x0200_7053));
    expect_no_trap(format_args!("csrr mvendorid from M"), &run(M, 0, 0xf110_2573));
}
