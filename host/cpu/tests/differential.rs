//! Differential tests: random straight-line RV64IMAC programs run under
//! QEMU's user-mode emulator (`qemu-riscv64`) and on wemu's hart; the final
//! registers and scratch buffer must match byte for byte.
//!
//! Needs `qemu-riscv64` (`just setup-qemu-user`). Without it the tests
//! follow tests/support/reftool.rs: reported skipped, or failed under CI
//! (`CI=true`). `PROPTEST_CASES` sets the number of random programs
//! (default 64); `QEMU_RISCV64` overrides the emulator's path.

mod difftest;
#[path = "../../../tests/support/reftool.rs"]
mod reftool;

use difftest::program::{
    AMO_OPS, BUF_LEN, CItem, Case, IKind, IOPS, IOp, Item, ROPS, ROp, WRITABLE, iop_named, rop_named,
};
use difftest::run::{compare, compare_tiers, qemu_missing};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

// ---------------------------------------------------------------- strategies

/// Register values biased towards the operands that break ALUs.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u64>(),
        3 => select(vec![
            0u64,
            1,
            2,
            u64::MAX,            // -1
            u64::MAX - 1,        // -2
            1 << 63,             // INT64_MIN
            (1 << 63) - 1,       // INT64_MAX
            0xffff_ffff_8000_0000, // INT32_MIN sign-extended
            0x8000_0000,         // INT32_MIN zero-extended
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            63,
            64,
            31,
            32,
        ]),
        2 => (-64i64..64).prop_map(|v| v as u64),
        2 => any::<i32>().prop_map(|v| i64::from(v) as u64),
    ]
}

fn wreg() -> impl Strategy<Value = u8> {
    select(WRITABLE.to_vec())
}
/// Destination: a writable register, occasionally x0.
fn rd() -> impl Strategy<Value = u8> {
    prop_oneof![20 => wreg(), 1 => Just(0u8)]
}
fn rs() -> impl Strategy<Value = u8> {
    0u8..32
}
/// Writable compressed register (x9..x15; s0 is pinned).
fn wregp() -> impl Strategy<Value = u8> {
    9u8..16
}
fn regp() -> impl Strategy<Value = u8> {
    8u8..16
}
fn slot() -> impl Strategy<Value = u16> {
    0u16..256
}
fn imm12() -> impl Strategy<Value = i32> {
    prop_oneof![3 => -2048i32..2048, 1 => select(vec![0, 1, -1, 2047, -2048, 31, 32, 63])]
}
fn imm6() -> impl Strategy<Value = i32> {
    -32i32..32
}
fn shamt64() -> impl Strategy<Value = u32> {
    prop_oneof![2 => 1u32..64, 1 => select(vec![1u32, 31, 32, 63])]
}

fn rop() -> impl Strategy<Value = ROp> {
    (0..ROPS.len()).prop_map(ROp)
}

fn op_item() -> impl Strategy<Value = Item> {
    (rop(), rd(), rs(), rs()).prop_map(|(op, rd, rs1, rs2)| Item::Op { op, rd, rs1, rs2 })
}

fn imm_item() -> impl Strategy<Value = Item> {
    (0..IOPS.len(), rd(), rs(), imm12(), 0i32..64).prop_map(|(i, rd, rs1, imm, sh)| {
        let imm = if IOPS[i].kind == IKind::Imm12 { imm } else { sh };
        Item::Imm { op: IOp(i), rd, rs1, imm }
    })
}

fn citem() -> impl Strategy<Value = CItem> {
    prop_oneof![
        (wreg(), imm6()).prop_map(|(rd, imm)| CItem::Addi { rd, imm }),
        (wreg(), imm6()).prop_map(|(rd, imm)| CItem::Addiw { rd, imm }),
        (wreg(), imm6()).prop_map(|(rd, imm)| CItem::Li { rd, imm }),
        (wreg(), imm6().prop_filter("c.lui nzimm", |v| *v != 0))
            .prop_map(|(rd, nzimm)| CItem::Lui { rd, nzimm }),
        (wregp(), 1u32..256).prop_map(|(rdp, n)| CItem::Addi4spn { rdp, nzuimm: 4 * n }),
        (wregp(), shamt64()).prop_map(|(rdp, shamt)| CItem::Srli { rdp, shamt }),
        (wregp(), shamt64()).prop_map(|(rdp, shamt)| CItem::Srai { rdp, shamt }),
        (wregp(), imm6()).prop_map(|(rdp, imm)| CItem::Andi { rdp, imm }),
        (0u32..6, wregp(), regp()).prop_map(|(op, rdp, rs2p)| CItem::Arith { op, rdp, rs2p }),
        (wreg(), shamt64()).prop_map(|(rd, shamt)| CItem::Slli { rd, shamt }),
        (wreg(), 1u8..32).prop_map(|(rd, rs2)| CItem::Mv { rd, rs2 }),
        (wreg(), 1u8..32).prop_map(|(rd, rs2)| CItem::Add { rd, rs2 }),
        (wregp(), slot()).prop_map(|(rdp, slot)| CItem::Lw { rdp, slot }),
        (wregp(), slot()).prop_map(|(rdp, slot)| CItem::Ld { rdp, slot }),
        (regp(), slot()).prop_map(|(rs2p, slot)| CItem::Sw { rs2p, slot }),
        (regp(), slot()).prop_map(|(rs2p, slot)| CItem::Sd { rs2p, slot }),
        (wreg(), slot()).prop_map(|(rd, slot)| CItem::Lwsp { rd, slot }),
        (wreg(), slot()).prop_map(|(rd, slot)| CItem::Ldsp { rd, slot }),
        (rs(), slot()).prop_map(|(rs2, slot)| CItem::Swsp { rs2, slot }),
        (rs(), slot()).prop_map(|(rs2, slot)| CItem::Sdsp { rs2, slot }),
        Just(CItem::Nop),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        8 => op_item(),
        6 => imm_item(),
        1 => (rd(), any::<u32>()).prop_map(|(rd, imm20)| Item::Lui { rd, imm20: imm20 & 0xf_ffff }),
        1 => (rd(), any::<u32>()).prop_map(|(rd, imm20)| Item::Auipc { rd, imm20: imm20 & 0xf_ffff }),
        3 => (0u8..7, rd(), any::<bool>(), slot())
            .prop_map(|(f3, rd, sp_base, slot)| Item::Load { f3, rd, sp_base, slot }),
        3 => (0u8..4, rs(), any::<bool>(), slot())
            .prop_map(|(f3, rs2, sp_base, slot)| Item::Store { f3, rs2, sp_base, slot }),
        1 => (0u8..7, rd(), any::<bool>(), any::<u8>())
            .prop_map(|(f3, rd, sp_base, off)| Item::LoadAt { f3, rd, sp_base, off }),
        1 => (0u8..4, rs(), any::<bool>(), any::<u8>())
            .prop_map(|(f3, rs2, sp_base, off)| Item::StoreAt { f3, rs2, sp_base, off }),
        2 => (0..AMO_OPS.len() as u8, any::<bool>(), any::<bool>(), any::<bool>(), rd(), rs(), wreg(), slot())
            .prop_map(|(op, dword, aq, rl, rd, rs2, t, slot)| Item::Amo { op, dword, aq, rl, rd, rs2, t, slot }),
        1 => (any::<bool>(), wreg(), slot(), rd(), rd(), rs(), proptest::option::weighted(0.25, slot()))
            .prop_map(|(dword, t, slot, rd_lr, rd_sc, rs2, sc_slot)| Item::LrSc {
                dword, t, slot, rd_lr, rd_sc, rs2, sc_slot
            }),
        6 => citem().prop_map(Item::C),
        1 => (0u8..8, rs(), rs(), prop_oneof![op_item(), imm_item()])
            .prop_filter("branch funct3 2/3 are reserved", |(f3, ..)| *f3 != 2 && *f3 != 3)
            .prop_map(|(f3, rs1, rs2, skipped)| Item::SkipBranch { f3, rs1, rs2, skipped: Box::new(skipped) }),
        1 => (proptest::option::of(any::<bool>()), regp(), citem())
            .prop_map(|(cond, rs1p, skipped)| Item::CSkip { cond, rs1p, skipped }),
        1 => (0u8..4, rd(), wreg(), citem())
            .prop_map(|(kind, rd, t, skipped)| Item::JumpSkip { kind, rd, t, skipped }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        // Options so that shrinking can drop items below the 20 minimum. The
        // body comes first: tuples shrink left to right.
        proptest::collection::vec(proptest::option::weighted(0.99, item()), 20..=200),
        proptest::collection::vec(value(), 32),
        // Shrinking 256 bytes one by one would burn the shrink budget.
        proptest::collection::vec(any::<u8>(), BUF_LEN).no_shrink(),
    )
        .prop_map(|(body, init, buf)| Case { init, buf, body: body.into_iter().flatten().collect() })
}

fn env_u32(name: &str, default: u32) -> u32 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn random_programs_match_qemu() {
    if qemu_missing() {
        return;
    }
    let config = Config {
        cases: env_u32("PROPTEST_CASES", 64),
        // Each shrink step runs qemu once (~10 ms); the automatic limit
        // (4 x cases) stops long before a 200-item body is minimal.
        max_shrink_iters: env_u32("PROPTEST_MAX_SHRINK_ITERS", 4000),
        // The failing program is printed in full; a regression file keyed to
        // this source would need the proptest! macro.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |c| compare(&c).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("wemu and qemu-riscv64 disagree:\n{e}");
    }
}

/// The JIT against the interpreter (no QEMU needed): the same random
/// programs, every pc translated as soon as it is reached, run in calls of
/// a few instructions so budget ends fall everywhere, with guest registers
/// in host registers or in the hart.
#[test]
fn random_programs_run_the_same_under_the_jit() {
    let config = Config {
        cases: env_u32("PROPTEST_CASES", 64),
        max_shrink_iters: env_u32("PROPTEST_MAX_SHRINK_ITERS", 4000),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // Guest registers in host registers (what M-mode code gets) or kept
    // in the hart (what loop-free regions under translation get).
    let strategy = (case(), prop_oneof![Just(1u64), 2u64..40, Just(10_000u64)], any::<bool>());
    let result = runner.run(&strategy, |(c, chunk, in_memory)| {
        compare_tiers(&c, chunk, Some(in_memory)).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("the JIT and the interpreter disagree:\n{e}");
    }
}

/// Build a case from registers given as (reg, value); others get a pattern.
fn fixed(regs: &[(u8, u64)], body: Vec<Item>) -> Case {
    let mut init: Vec<u64> = (0..32u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
    for &(r, v) in regs {
        init[usize::from(r)] = v;
    }
    let buf = (0..BUF_LEN).map(|i| (i as u8).wrapping_mul(37) ^ 0x80).collect();
    Case { init, buf, body }
}

fn op(name: &str, rd: u8, rs1: u8, rs2: u8) -> Item {
    Item::Op { op: rop_named(name), rd, rs1, rs2 }
}
fn opi(name: &str, rd: u8, rs1: u8, imm: i32) -> Item {
    Item::Imm { op: iop_named(name), rd, rs1, imm }
}
fn c(item: CItem) -> Item {
    Item::C(item)
}

const INT64_MIN: u64 = 1 << 63;
const INT32_MIN_SX: u64 = 0xffff_ffff_8000_0000;
const M1: u64 = u64::MAX;

/// Hand-picked edge sequences; each runs on both and must match.
fn regressions() -> Vec<(&'static str, Case)> {
    let all_rr = |names: &[&str], a: u8, b: u8| -> Vec<Item> {
        names.iter().enumerate().map(|(i, n)| op(n, 9 + (i % 23) as u8, a, b)).collect()
    };
    let m_ops = [
        "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "mulw", "divw", "divuw", "remw",
        "remuw",
    ];
    vec![
        ("division overflow INT64_MIN / -1", fixed(&[(5, INT64_MIN), (6, M1)], all_rr(&m_ops, 5, 6))),
        (
            "32-bit division overflow INT32_MIN / -1",
            fixed(&[(5, INT32_MIN_SX), (6, M1)], all_rr(&m_ops, 5, 6)),
        ),
        (
            "W ops on non-sign-extended inputs",
            fixed(&[(5, 0x1234_5678_8000_0000), (6, 0xdead_beef_ffff_ffff)], all_rr(&m_ops, 5, 6)),
        ),
        ("division by zero (register)", fixed(&[(5, 0x8765_4321), (6, 0)], all_rr(&m_ops, 5, 6))),
        ("division by zero (x0)", fixed(&[(5, INT64_MIN)], all_rr(&m_ops, 5, 0))),
        ("multiply high of extremes", fixed(&[(5, INT64_MIN), (6, INT64_MIN)], all_rr(&m_ops, 5, 6))),
        ("multiply high -1 * -1", fixed(&[(5, M1), (6, M1)], all_rr(&m_ops, 5, 6))),
        (
            "shifts by 63, 64 and 127 (masked)",
            fixed(
                &[(5, 0x8000_0000_0000_0001), (6, 63), (7, 64), (28, 127), (29, 32), (30, 31)],
                vec![
                    op("sll", 9, 5, 6),
                    op("srl", 10, 5, 6),
                    op("sra", 11, 5, 6),
                    op("sll", 12, 5, 7),
                    op("srl", 13, 5, 7),
                    op("sra", 14, 5, 7),
                    op("sll", 15, 5, 28),
                    op("sra", 16, 5, 28),
                    op("sllw", 17, 5, 29),
                    op("srlw", 18, 5, 29),
                    op("sraw", 19, 5, 29),
                    op("sllw", 20, 5, 30),
                    op("srlw", 21, 5, 30),
                    op("sraw", 22, 5, 30),
                    opi("slli", 23, 5, 63),
                    opi("srli", 24, 5, 63),
                    opi("srai", 25, 5, 63),
                    opi("slliw", 26, 5, 31),
                    opi("srliw", 27, 5, 31),
                    opi("sraiw", 31, 5, 31),
                    opi("srliw", 1, 5, 0),
                    opi("sraiw", 3, 5, 0),
                    opi("slliw", 4, 5, 0),
                ],
            ),
        ),
        (
            "sign extension of W results",
            fixed(
                &[(5, 0x7fff_ffff), (6, 1), (7, 0x0000_0001_8000_0000), (28, 0xffff_ffff)],
                vec![
                    op("addw", 9, 5, 6),
                    op("subw", 10, 0, 7),
                    op("mulw", 11, 5, 5),
                    opi("addiw", 12, 7, 0),
                    opi("addiw", 13, 5, 1),
                    opi("addiw", 14, 28, 0),
                    op("sllw", 15, 6, 5),
                    op("srlw", 16, 28, 0),
                    op("sraw", 17, 7, 0),
                    op("divuw", 18, 28, 6),
                    op("remuw", 19, 28, 5),
                    op("remw", 20, 7, 28),
                    Item::Store { f3: 2, rs2: 7, sp_base: false, slot: 0 },
                    Item::Load { f3: 2, rd: 21, sp_base: false, slot: 0 },
                    Item::Load { f3: 6, rd: 22, sp_base: false, slot: 0 },
                    Item::Load { f3: 1, rd: 23, sp_base: false, slot: 1 },
                    Item::Load { f3: 5, rd: 24, sp_base: false, slot: 1 },
                    Item::Load { f3: 0, rd: 25, sp_base: true, slot: 3 },
                    Item::Load { f3: 4, rd: 26, sp_base: true, slot: 3 },
                    Item::Lui { rd: 27, imm20: 0x80000 },
                    Item::Auipc { rd: 29, imm20: 0xfffff },
                ],
            ),
        ),
        (
            "compressed forms",
            fixed(
                &[
                    (9, INT32_MIN_SX),
                    (10, 0x7fff_ffff),
                    (11, M1),
                    (12, 0x1_0000_0000),
                    (13, 5),
                    (14, INT64_MIN),
                ],
                vec![
                    c(CItem::Addiw { rd: 9, imm: 0 }),
                    c(CItem::Addiw { rd: 10, imm: 1 }),
                    c(CItem::Addi { rd: 11, imm: -32 }),
                    c(CItem::Li { rd: 15, imm: -32 }),
                    c(CItem::Li { rd: 16, imm: 31 }),
                    c(CItem::Lui { rd: 17, nzimm: -32 }),
                    c(CItem::Lui { rd: 18, nzimm: 31 }),
                    c(CItem::Srai { rdp: 14, shamt: 63 }),
                    c(CItem::Srli { rdp: 12, shamt: 32 }),
                    c(CItem::Andi { rdp: 11, imm: -1 }),
                    c(CItem::Andi { rdp: 13, imm: 31 }),
                    c(CItem::Arith { op: 4, rdp: 9, rs2p: 10 }),
                    c(CItem::Arith { op: 5, rdp: 10, rs2p: 10 }),
                    c(CItem::Arith { op: 0, rdp: 12, rs2p: 8 }),
                    c(CItem::Slli { rd: 19, shamt: 63 }),
                    c(CItem::Addi4spn { rdp: 15, nzuimm: 1020 }),
                    c(CItem::Mv { rd: 20, rs2: 8 }),
                    c(CItem::Add { rd: 20, rs2: 2 }),
                    c(CItem::Sdsp { rs2: 14, slot: 31 }),
                    c(CItem::Swsp { rs2: 9, slot: 63 }),
                    c(CItem::Ldsp { rd: 21, slot: 31 }),
                    c(CItem::Lwsp { rd: 22, slot: 63 }),
                    c(CItem::Sd { rs2p: 11, slot: 31 }),
                    c(CItem::Sw { rs2p: 12, slot: 31 }),
                    c(CItem::Ld { rdp: 13, slot: 31 }),
                    c(CItem::Lw { rdp: 14, slot: 31 }),
                    Item::CSkip { cond: Some(false), rs1p: 8, skipped: CItem::Li { rd: 23, imm: 1 } },
                    Item::CSkip { cond: Some(true), rs1p: 8, skipped: CItem::Li { rd: 24, imm: 1 } },
                    Item::CSkip { cond: None, rs1p: 8, skipped: CItem::Li { rd: 25, imm: 1 } },
                    Item::JumpSkip { kind: 0, rd: 26, t: 27, skipped: CItem::Li { rd: 28, imm: 1 } },
                    Item::JumpSkip { kind: 1, rd: 27, t: 27, skipped: CItem::Li { rd: 28, imm: 2 } },
                    Item::JumpSkip { kind: 2, rd: 0, t: 29, skipped: CItem::Li { rd: 28, imm: 3 } },
                    Item::JumpSkip { kind: 3, rd: 0, t: 1, skipped: CItem::Li { rd: 28, imm: 4 } },
                    c(CItem::Nop),
                ],
            ),
        ),
        (
            "misaligned loads and stores of every width",
            fixed(
                &[(5, 0x8899_aabb_ccdd_eeff), (6, 0x0123_4567_89ab_cdef)],
                vec![
                    Item::StoreAt { f3: 3, rs2: 5, sp_base: false, off: 1 },
                    Item::StoreAt { f3: 2, rs2: 6, sp_base: true, off: 11 },
                    Item::StoreAt { f3: 1, rs2: 6, sp_base: false, off: 255 },
                    Item::LoadAt { f3: 3, rd: 9, sp_base: false, off: 3 },
                    Item::LoadAt { f3: 2, rd: 10, sp_base: false, off: 5 },
                    Item::LoadAt { f3: 6, rd: 11, sp_base: true, off: 6 },
                    Item::LoadAt { f3: 1, rd: 12, sp_base: false, off: 7 },
                    Item::LoadAt { f3: 5, rd: 13, sp_base: false, off: 13 },
                    Item::LoadAt { f3: 3, rd: 14, sp_base: false, off: 255 },
                ],
            ),
        ),
        (
            "AMO .w sign extension and unsigned compare, LR/SC",
            fixed(
                &[(5, 0xffff_ffff_8000_0000), (6, 0x7fff_ffff), (7, 1)],
                vec![
                    Item::Store { f3: 2, rs2: 5, sp_base: false, slot: 0 },
                    Item::Amo { op: 8, dword: false, aq: false, rl: false, rd: 9, rs2: 6, t: 28, slot: 0 },
                    Item::Amo { op: 5, dword: false, aq: true, rl: false, rd: 10, rs2: 5, t: 28, slot: 0 },
                    Item::Amo { op: 7, dword: false, aq: false, rl: true, rd: 11, rs2: 7, t: 28, slot: 0 },
                    Item::Amo { op: 6, dword: true, aq: true, rl: true, rd: 12, rs2: 5, t: 29, slot: 1 },
                    Item::Amo { op: 1, dword: false, aq: false, rl: false, rd: 13, rs2: 6, t: 29, slot: 3 },
                    Item::LrSc { dword: false, t: 30, slot: 5, rd_lr: 14, rd_sc: 15, rs2: 5, sc_slot: None },
                    Item::LrSc {
                        dword: true,
                        t: 30,
                        slot: 6,
                        rd_lr: 16,
                        rd_sc: 17,
                        rs2: 6,
                        sc_slot: Some(9),
                    },
                    Item::LrSc { dword: true, t: 31, slot: 7, rd_lr: 31, rd_sc: 18, rs2: 31, sc_slot: None },
                ],
            ),
        ),
    ]
}

#[test]
fn regression_sequences_match_qemu() {
    if qemu_missing() {
        return;
    }
    let mut failures = Vec::new();
    for (name, case) in regressions() {
        if let Err(e) = compare(&case) {
            failures.push(format!("--- {name}:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "wemu and qemu-riscv64 disagree:\n{}", failures.join("\n"));
}

/// The harness itself: an empty body must reproduce the initial registers
/// and buffer exactly (guards against both sides agreeing on garbage).
#[test]
fn empty_body_dumps_initial_state() {
    if qemu_missing() {
        return;
    }
    let case = fixed(&[(5, 0x0123_4567_89ab_cdef)], Vec::new());
    let prog = difftest::program::build(&case);
    let out = difftest::run::run_qemu(&difftest::program::elf(&prog)).expect("qemu runs the empty program");
    assert_eq!(out.len(), difftest::program::OUT_LEN);
    let reg = |r: usize| u64::from_le_bytes(out[8 * (r - 1)..8 * r].try_into().expect("8 bytes"));
    assert_eq!(reg(5), 0x0123_4567_89ab_cdef);
    assert_eq!(reg(8), difftest::program::LOAD_ADDR + difftest::program::BUF_OFF);
    assert_eq!(reg(2), reg(8));
    assert_eq!(&out[256..], &case.buf[..]);
    compare(&case).expect("empty body matches");
}

/// The encoder agrees with wemu's disassembler on the mnemonic of every
/// generated 32-bit instruction (a wrong encoding would quietly test
/// something else on both sides).
#[test]
fn encoder_mnemonics() {
    for (i, d) in ROPS.iter().enumerate() {
        let w = Item::Op { op: ROp(i), rd: 5, rs1: 6, rs2: 7 }.encode()[0];
        assert_eq!(wemu_cpu::disassemble(w.raw), format!("{} t0,t1,t2", d.name));
    }
    for (i, d) in IOPS.iter().enumerate() {
        let w = Item::Imm { op: IOp(i), rd: 5, rs1: 6, imm: 7 }.encode()[0];
        let want = match d.kind {
            IKind::Unary(_) => format!("{} t0,t1", d.name),
            _ => format!("{} t0,t1,7", d.name),
        };
        assert_eq!(wemu_cpu::disassemble(w.raw), want);
    }
    for (i, (name, _)) in AMO_OPS.iter().enumerate() {
        let ws = Item::Amo { op: i as u8, dword: true, aq: false, rl: false, rd: 5, rs2: 7, t: 6, slot: 0 }
            .encode();
        assert_eq!(wemu_cpu::disassemble(ws[1].raw), format!("{name}.d t0,t2,(t1)"));
    }
}

/// Same for the compressed encoder, against the disassembler's 32-bit
/// expansions.
#[test]
fn compressed_encoder_expansions() {
    use difftest::encode as e;
    let cases: Vec<(CItem, &str)> = vec![
        (CItem::Addi { rd: 11, imm: -32 }, "addi a1,a1,-32"),
        (CItem::Addiw { rd: 9, imm: 0 }, "sext.w s1,s1"),
        (CItem::Li { rd: 15, imm: 31 }, "li a5,31"),
        (CItem::Lui { rd: 17, nzimm: -32 }, "lui a7,0xfffe0"),
        (CItem::Lui { rd: 18, nzimm: 31 }, "lui s2,0x1f"),
        (CItem::Addi4spn { rdp: 15, nzuimm: 1020 }, "addi a5,sp,1020"),
        (CItem::Addi4spn { rdp: 9, nzuimm: 4 }, "addi s1,sp,4"),
        (CItem::Srli { rdp: 12, shamt: 33 }, "srli a2,a2,33"),
        (CItem::Srai { rdp: 14, shamt: 63 }, "srai a4,a4,63"),
        (CItem::Andi { rdp: 11, imm: -17 }, "andi a1,a1,-17"),
        (CItem::Slli { rd: 19, shamt: 37 }, "slli s3,s3,37"),
        (CItem::Mv { rd: 20, rs2: 8 }, "mv s4,s0"),
        (CItem::Add { rd: 20, rs2: 2 }, "add s4,s4,sp"),
        (CItem::Lw { rdp: 14, slot: 31 }, "lw a4,124(s0)"),
        (CItem::Ld { rdp: 13, slot: 31 }, "ld a3,248(s0)"),
        (CItem::Sw { rs2p: 12, slot: 17 }, "sw a2,68(s0)"),
        (CItem::Sd { rs2p: 11, slot: 21 }, "sd a1,168(s0)"),
        (CItem::Lwsp { rd: 22, slot: 63 }, "lw s6,252(sp)"),
        (CItem::Ldsp { rd: 21, slot: 29 }, "ld s5,232(sp)"),
        (CItem::Swsp { rs2: 9, slot: 45 }, "sw s1,180(sp)"),
        (CItem::Sdsp { rs2: 14, slot: 19 }, "sd a4,152(sp)"),
        (CItem::Nop, "nop"),
    ];
    for (c, want) in &cases {
        let w = c.encode();
        assert_eq!(w.len, 2);
        assert_eq!(wemu_cpu::disassemble(w.raw), *want, "{c:?}");
    }
    for (i, n) in e::C_ARITH_NAMES.iter().enumerate() {
        let want = format!("{} s1,s1,a0", n.trim_start_matches("c."));
        assert_eq!(wemu_cpu::disassemble(e::c_arith(i as u32, 9, 10)), want);
    }
    assert_eq!(wemu_cpu::disassemble(e::c_j(4)), "j .+4");
    assert_eq!(wemu_cpu::disassemble(e::c_bz(false, 9, 4)), "beqz s1,.+4");
    assert_eq!(wemu_cpu::disassemble(e::c_bz(true, 15, 4)), "bnez a5,.+4");
    assert_eq!(wemu_cpu::disassemble(e::b(8, 5, 6, 7)), "bgeu t1,t0,.+8");
    assert_eq!(wemu_cpu::disassemble(e::jal(5, 6)), "jal t0,.+6");
    assert_eq!(wemu_cpu::disassemble(e::jalr(6, 7, 10)), "jalr t1,10(t2)");
    assert_eq!(wemu_cpu::disassemble(e::c_jr(false, 7)), "jr t2");
    assert_eq!(wemu_cpu::disassemble(e::c_jr(true, 7)), "jalr t2");
}
