//! The fast path against the general one: every lowered instruction does
//! what `Hart::execute` does with its `Insn`, and `run` (stretches of
//! cached entries) does what `step` does one instruction at a time, traps,
//! budgets, yields, interrupts and paging included.

use super::RunExit;
use crate::csr::{CsrCtx, addr};
use crate::decode::decode;
use crate::insn::CsrOp;
use crate::mmu::pte;
use crate::pmp::cfg;
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, RAM_SIZE, TestMem, open_pmp};
use crate::uop::{Op, lower};
use crate::{Hart, IrqPin, PrivMode, StepEvent};

/// Deterministic xorshift64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn reg(&mut self) -> u32 {
        self.below(32) as u32
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn set_csr(hart: &mut Hart, csr: u16, v: u64) {
    let ctx = CsrCtx { mode: PrivMode::Machine, ..hart.csr_ctx() };
    hart.csrs.rmw(csr, CsrOp::Rw, v, true, true, &ctx).expect("writable CSR");
}

/// Everything architectural (and the bookkeeping `step` keeps) is equal.
fn assert_same(a: &Hart, b: &Hart, what: &str) {
    assert_eq!(a.x, b.x, "x registers, {what}");
    assert_eq!(a.f, b.f, "f registers, {what}");
    assert_eq!(a.pc, b.pc, "pc, {what}");
    assert_eq!(a.mode, b.mode, "mode, {what}");
    assert_eq!(a.instret(), b.instret(), "instret, {what}");
    assert_eq!(a.csrs, b.csrs, "CSRs, {what}");
    assert_eq!(a.waiting, b.waiting, "WFI, {what}");
    assert_eq!(a.reservation, b.reservation, "reservation, {what}");
    assert_eq!(a.trap_origin, b.trap_origin, "trap origin, {what}");
}

/// A random instruction from the groups that have fast forms (and some
/// that lower to `Nop`), registers and immediates unrestricted.
fn fast_word(rng: &mut Rng) -> u32 {
    let (rd, rs1, rs2) = (rng.reg(), rng.reg(), rng.reg());
    let imm = (rng.next() as i32) >> 20;
    let r_ops = [
        add, sub, sll, slt, sltu, xor, srl, sra, or, and, mul, mulh, mulhsu, mulhu, div, divu, rem, remu,
        addw, subw, sllw, srlw, sraw, mulw, divw, divuw, remw, remuw,
    ];
    let i_ops = [addi, slti, sltiu, xori, ori, andi, addiw, lb, lh, lw, ld, lbu, lhu, lwu, jalr];
    let shifts = [slli, srli, srai];
    let shifts_w = [slliw, srliw, sraiw];
    let s_ops = [sb, sh, sw, sd];
    let b_ops = [beq, bne, blt, bge, bltu, bgeu];
    match rng.below(9) {
        0 | 1 => rng.pick(&r_ops)(rd, rs1, rs2),
        2 | 3 => rng.pick(&i_ops)(rd, rs1, imm),
        4 => rng.pick(&shifts)(rd, rs1, rng.below(64) as u32),
        5 => rng.pick(&shifts_w)(rd, rs1, rng.below(32) as u32),
        6 => rng.pick(&s_ops)(rs2, rs1, imm),
        7 => rng.pick(&b_ops)(rs1, rs2, imm & !1),
        _ => match rng.below(4) {
            0 => lui(rd, rng.next() as u32),
            1 => auipc(rd, rng.next() as u32),
            2 => jal(rd, ((rng.next() as i32) >> 11) & !1),
            _ => FENCE,
        },
    }
}

/// A random A or F/D instruction (they run in place, `Op::General`).
fn general_word(rng: &mut Rng) -> u32 {
    let (rd, rs1, rs2) = (rng.reg(), rng.reg(), rng.reg());
    let imm = (rng.next() as i32) >> 20;
    match rng.below(5) {
        // AMO*/LR/SC .W/.D (funct5 values of the A extension).
        0 => amo(rng.pick(&[0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28]), rng.pick(&[2, 3]), rd, rs1, rs2),
        1 => fload(rng.pick(&[2, 3]), rd, rs1, imm),
        2 => fstore(rng.pick(&[2, 3]), rs2, rs1, imm),
        // fadd/fsub/fmul/fdiv/fsgnj/fmin-max/fcmp (funct5 0..3, 4, 5, 20)
        // with rm = RNE, RTZ or DYN.
        3 => opfp(
            rng.pick(&[0, 1, 2, 3, 4, 5, 20]),
            rng.below(2) as u32,
            rs2,
            rs1,
            rng.pick(&[0, 1, 2, 7]),
            rd,
        ),
        _ => r4(rng.pick(&[0x43, 0x47, 0x4b, 0x4f]), rng.reg(), rng.below(2) as u32, rs2, rs1, 0, rd),
    }
}

#[test]
fn lowering_never_gives_a_writing_op_x0() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let words = (0..=0xffffu32).chain((0..200_000).map(|_| rng.next() as u32 | 3));
    let mut fast = 0;
    for raw in words {
        let d = decode(raw);
        let e = lower(&d);
        assert_eq!((e.raw, e.len), (d.raw, d.len), "{raw:#x}");
        assert!(!e.op.writes_rd() || e.rd != 0, "{raw:#x} lowers to {e:?}");
        assert_ne!(e.op, Op::Fill, "{raw:#x}");
        fast += usize::from(e.op != Op::Slow);
    }
    assert!(fast > 50_000, "many encodings exercised here have fast forms ({fast})");
}

/// Registers: pointers into RAM (aligned or not), small and arbitrary values.
fn random_regs(rng: &mut Rng, hart: &mut Hart) {
    for r in 1..32 {
        hart.x[r] = match rng.below(4) {
            0 => RAM_BASE + 0x8000 + rng.below(0x4000),
            1 => (RAM_BASE + 0x8000 + rng.below(0x4000)) & !7,
            2 => rng.below(64),
            _ => rng.next(),
        };
    }
}

#[test]
fn fast_forms_do_what_the_general_executor_does() {
    let mut rng = Rng(0x0bad_cafe_f00d_1234);
    let pc = RAM_BASE + 0x100;
    let image: Vec<u8> = (0..RAM_SIZE).map(|_| rng.next() as u8).collect();
    let mut checked = 0;
    for case in 0..30_000 {
        // Half of the cases compressed (random parcels), half 32-bit.
        let raw = match case % 3 {
            0 => fast_word(&mut rng),
            1 => general_word(&mut rng),
            _ => (rng.next() as u32) & 0xffff,
        };
        let e = lower(&decode(raw));
        if e.op == Op::Slow {
            continue;
        }
        checked += 1;
        let mut fast = Hart::new(0, pc);
        random_regs(&mut rng, &mut fast);
        if rng.below(2) == 0 {
            // FPU on (mstatus.FS = Initial), f registers random.
            set_csr(&mut fast, addr::MSTATUS, 1 << 13);
            fast.f = std::array::from_fn(|_| rng.next());
        }
        let mut mem = TestMem { bytes: image.clone(), ..TestMem::new(RAM_BASE, RAM_SIZE) };
        mem.put32(pc, raw);
        let mut general = fast.clone();
        let mut general_mem = TestMem { bytes: mem.bytes.clone(), ..TestMem::new(RAM_BASE, RAM_SIZE) };

        let got = fast.step(&mut mem);
        // The general path on the same instruction.
        let want = general.step_general(&mut general_mem, e);
        let what = format!("{raw:#010x} ({e:?})");
        assert_eq!(got, want, "{what}");
        assert_same(&fast, &general, &what);
        assert!(mem.bytes == general_mem.bytes, "memory, {what}");
    }
    assert!(checked > 20_000, "{checked} fast cases");
}

/// Where the random programs live: across a page boundary, so stretches
/// end at page crossings too.
const CODE: u64 = RAM_BASE + 0x0e00;
const CODE_WORDS: u64 = 0x300;
const DATA: u64 = RAM_BASE + 0x8000;
const HANDLER: u64 = RAM_BASE + 0x2000;

/// `run` on one copy and `step` + `yield_requested` on another, in random
/// chunks, comparing the exits and the whole state after every chunk.
fn run_matches_steps(seed: u64, mode: PrivMode) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut mem = TestMem::new(RAM_BASE, RAM_SIZE);
    for i in 0..CODE_WORDS {
        mem.put32(CODE + 4 * i, program_word(&mut rng));
    }
    for i in 0..0x800 {
        mem.put64(DATA + 8 * i, rng.next());
    }
    // A store to this word asks the machine to act (as a device would).
    // (x2 = DATA + 0x800 is a store base).
    mem.yield_on_store = Some(DATA + 0x800 - 0x100 + 8 * rng.below(64));
    let mut hart = Hart::new(0, CODE + 4 * rng.below(CODE_WORDS));
    for r in 1..16 {
        hart.x[r] = rng.next();
    }
    hart.x[2] = DATA + 0x800;
    hart.x[3] = DATA + 0x1000;
    hart.x[5] = CODE;
    // The trap handler resumes at a pseudo-random place in the code
    // (x31 is its scratch register).
    mem.code(
        HANDLER,
        &[csrrs(31, addr::MINSTRET, 0), andi(31, 31, 0x7fc), add(31, 31, 5), csrrw(0, addr::MEPC, 31), MRET],
    );
    set_csr(&mut hart, addr::MTVEC, HANDLER);
    set_csr(&mut hart, addr::MIE, crate::csr::irq::MTI);
    if mode != PrivMode::Machine {
        // Sv39, one identity-mapped 1 GiB page over RAM (root at DATA+0x7000).
        let root = DATA + 0x7000;
        for i in 0..512 {
            mem.put64(root + 8 * i, 0);
        }
        let user = if mode == PrivMode::User { pte::U } else { 0 };
        let leaf = ((RAM_BASE >> 12) << 10) | pte::V | pte::R | pte::W | pte::X | pte::A | pte::D | user;
        mem.put64(root + 8 * (RAM_BASE >> 30), leaf);
        set_csr(&mut hart, addr::SATP, (8 << 60) | (root >> 12));
        hart.mode = mode;
        // Traps from S/U go to M-mode, whose mret returns to `mode`.
        let mpp = (mode as u64) << 11;
        set_csr(&mut hart, addr::MSTATUS, mpp);
    }
    // Firmware's PMP: S and U may access everything (entry 15).
    open_pmp(&mut hart);
    if seed % 3 == 1 {
        // Entry 0 takes every permission from 32 bytes of the code, in
        // M-mode too (locked): the page around them is split by PMP, so
        // `run` must leave it to `step`, which checks each parcel.
        let block = CODE + 32 * rng.below(CODE_WORDS / 8);
        set_csr(&mut hart, addr::PMPADDR0, (block >> 2) | 3);
        set_csr(&mut hart, addr::PMPCFG0, u64::from(cfg::L | cfg::NAPOT));
    }
    // S/U with seed % 3 == 2: entry 0 (unlocked) over 256 bytes of the code
    // gains and loses every permission between chunks, after that code is
    // cached, as an M-mode PMP write would (it drops the cached verdicts).
    let toggled =
        (seed % 3 == 2 && mode != PrivMode::Machine).then(|| CODE + 256 * rng.below(CODE_WORDS / 64));
    if let Some(block) = toggled {
        set_csr(&mut hart, addr::PMPADDR0, (block >> 2) | 31);
        set_csr(&mut hart, addr::PMPCFG0, u64::from(cfg::NAPOT | cfg::RWX));
    }
    if seed.is_multiple_of(2) {
        // FPU on (FS = Initial): F/D instructions execute.
        let st = hart.csrs.mstatus();
        set_csr(&mut hart, addr::MSTATUS, st | (1 << 13));
    }
    let mut fast = (hart.clone(), TestMem { bytes: mem.bytes.clone(), ..TestMem::new(RAM_BASE, RAM_SIZE) });
    fast.1.yield_on_store = mem.yield_on_store;
    let mut slow = (hart, mem);

    for chunk in 0..40 {
        if toggled.is_some() && rng.below(3) == 0 {
            let perms = if rng.below(2) == 0 { 0 } else { cfg::RWX };
            for h in [&mut fast.0, &mut slow.0] {
                set_csr(h, addr::PMPCFG0, u64::from(cfg::NAPOT | perms));
                h.flush_tlb();
            }
        }
        if rng.below(4) == 0 {
            let level = rng.below(2) == 0;
            fast.0.set_irq_pin(IrqPin::MachineTimer, level);
            slow.0.set_irq_pin(IrqPin::MachineTimer, level);
        }
        let budget = match rng.below(3) {
            0 => 1 + rng.below(4),
            1 => 1 + rng.below(100),
            _ => 1 + rng.below(3000),
        };
        let got = fast.0.run(&mut fast.1, budget);
        let want = run_by_steps(&mut slow.0, &mut slow.1, budget);
        let what = format!("seed {seed}, {mode:?}, chunk {chunk}, budget {budget}");
        assert_eq!(got, want, "{what}");
        assert_same(&fast.0, &slow.0, &what);
        assert!(fast.1.bytes == slow.1.bytes, "memory, {what}");
        if matches!(got, RunExit::Halt(_)) {
            break;
        }
    }
}

/// `Hart::run` as it was before stretches: one `step` at a time, polling
/// the memory after each.
fn run_by_steps(hart: &mut Hart, mem: &mut TestMem, max: u64) -> RunExit {
    use crate::Memory;
    let mut n = 0;
    while n < max {
        match hart.step(mem) {
            Ok(StepEvent::Wfi) => return RunExit::Wfi,
            Ok(_) => n += 1,
            Err(h) => return RunExit::Halt(h),
        }
        if mem.yield_requested() {
            return RunExit::Yield;
        }
    }
    RunExit::Budget
}

/// A random instruction for `run_matches_steps`: mostly fast forms whose
/// control flow stays near the code, some CSR and system instructions.
/// x2/x3 (data pointers) and x5 (the code base) are never written.
fn program_word(rng: &mut Rng) -> u32 {
    let rd = rng.pick(&[0, 1, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    let rs = |rng: &mut Rng| rng.below(16) as u32;
    let off = ((rng.below(64) as i32) - 32) & !3;
    match rng.below(42) {
        0..=9 => {
            let ops = [add, sub, sll, slt, sltu, xor, srl, sra, or, and, mul, divu, remw, addw, sraw];
            rng.pick(&ops)(rd, rs(rng), rs(rng))
        }
        10..=15 => {
            let ops = [addi, slti, sltiu, xori, ori, andi, addiw];
            rng.pick(&ops)(rd, rs(rng), (rng.next() as i32) >> 22)
        }
        16 => slli(rd, rs(rng), rng.below(64) as u32),
        17 => lui(rd, rng.next() as u32),
        18 => auipc(rd, rng.next() as u32),
        19..=23 => {
            let ops = [lb, lh, lw, ld, lbu, lhu, lwu];
            let base = rng.pick(&[2, 3, 2, 3, 2, 3, 1]);
            rng.pick(&ops)(rd, base, (rng.below(256) as i32) - 128)
        }
        24..=27 => {
            let ops = [sb, sh, sw, sd];
            let base = rng.pick(&[2, 3]);
            rng.pick(&ops)(rs(rng), base, ((rng.below(512) as i32) - 256) & !rng.pick(&[0, 7]))
        }
        28..=31 => {
            let ops = [beq, bne, blt, bge, bltu, bgeu];
            rng.pick(&ops)(rs(rng), rs(rng), if off == 0 { 8 } else { off })
        }
        32 => jal(rd, ((rng.below(512) as i32) - 256) & !3),
        // Into the code (x5 = CODE), or to a small address that faults.
        33 => jalr(rd, rng.pick(&[5, 5, 0]), (rng.below(2048) as i32) & !3),
        34 => match rng.below(6) {
            0 => csrrs(rd, addr::MSCRATCH, rs(rng)),
            1 => csrrw(0, addr::MSCRATCH, rs(rng)),
            // mstatus.MIE on/off (mie.MTIE is set): the timer pin interrupts.
            2 => csrrsi(rd, addr::MSTATUS, 8),
            3 => csrrci(rd, addr::MSTATUS, 8),
            4 => csrrs(rd, addr::MIE, 0),
            _ => csrrs(rd, addr::INSTRET, 0),
        },
        35 => rng.pick(&[ECALL, EBREAK, MRET, WFI, 0x0000_100f, SFENCE_VMA, 0]),
        // Compressed pairs: c.addi a0,1 ; c.nop, c.mv a1,a0 ; c.li a2,-1.
        36 => rng.pick(&[0x0001_0505, 0x567d_85aa]),
        // AMOs and FP loads/stores on the data pointers, FP arithmetic.
        38 => amo(rng.pick(&[0, 1, 2, 3, 4, 8, 28]), rng.pick(&[2, 3]), rd, rng.pick(&[2, 3]), rs(rng)),
        39 => match rng.below(3) {
            0 => fload(3, rs(rng), rng.pick(&[2, 3]), ((rng.below(256) as i32) - 128) & !7),
            1 => fstore(3, rs(rng), rng.pick(&[2, 3]), ((rng.below(256) as i32) - 128) & !7),
            _ => opfp(rng.pick(&[0, 1, 2, 3]), 1, rs(rng), rs(rng), rng.pick(&[0, 7]), rs(rng)),
        },
        37 => FENCE,
        _ => NOP,
    }
}

#[test]
fn run_matches_step_by_step_in_machine_mode() {
    for seed in 0..150 {
        run_matches_steps(seed, PrivMode::Machine);
    }
}

#[test]
fn run_matches_step_by_step_with_paging() {
    for seed in 0..150 {
        run_matches_steps(seed, PrivMode::Supervisor);
        run_matches_steps(seed, PrivMode::User);
    }
}

#[test]
fn run_follows_the_mapping_from_page_to_page() {
    // Sv39 in S-mode: virtual pages CODE_VA and CODE_VA+0x1000 map to
    // physical pages in reverse order, so a stretch that goes on into the
    // next page must translate it (the physically next page holds zeros,
    // an illegal instruction).
    const CODE_VA: u64 = 0x4000_0000;
    let (root, l1, l0) = (RAM_BASE + 0x8000, RAM_BASE + 0x9000, RAM_BASE + 0xa000);
    let (first, second) = (RAM_BASE + 0x5000, RAM_BASE + 0x3000);
    let mut mem = TestMem::new(RAM_BASE, RAM_SIZE);
    let table = |ppn_of: u64| ((ppn_of >> 12) << 10) | pte::V;
    let leaf = |pa: u64| ((pa >> 12) << 10) | pte::V | pte::R | pte::X | pte::A;
    mem.put64(root + 8 * ((CODE_VA >> 30) & 0x1ff), table(l1));
    mem.put64(l1 + 8 * ((CODE_VA >> 21) & 0x1ff), table(l0));
    mem.put64(l0 + 8 * ((CODE_VA >> 12) & 0x1ff), leaf(first));
    mem.put64(l0 + 8 * (((CODE_VA + 0x1000) >> 12) & 0x1ff), leaf(second));
    // Four addi a2 at the start of the first page, a jump to its end, four
    // addi a0 there, four addi a1 at the start of the second page, then a
    // loop on itself. (Running the first page's start instead of the
    // second page's would count in a2.)
    mem.code(first, &[addi(12, 12, 1), addi(12, 12, 1), addi(12, 12, 1), addi(12, 12, 1), jal(0, 0xfe0)]);
    mem.code(first + 0xff0, &[addi(10, 10, 1); 4]);
    mem.code(second, &[addi(11, 11, 1), addi(11, 11, 1), addi(11, 11, 1), addi(11, 11, 1), jal(0, 0)]);
    let mut hart = Hart::new(0, CODE_VA);
    open_pmp(&mut hart);
    set_csr(&mut hart, addr::SATP, (8 << 60) | (root >> 12));
    hart.mode = PrivMode::Supervisor;
    let mut stepped =
        (hart.clone(), TestMem { bytes: mem.bytes.clone(), ..TestMem::new(RAM_BASE, RAM_SIZE) });

    // Twice: the second time both pages are cached, so the stretch goes
    // from one frame to the next without leaving `run_frame`.
    for round in 0..2 {
        hart.pc = CODE_VA;
        stepped.0.pc = CODE_VA;
        assert_eq!(hart.run(&mut mem, 20), RunExit::Budget);
        assert_eq!(run_by_steps(&mut stepped.0, &mut stepped.1, 20), RunExit::Budget);
        assert_same(&hart, &stepped.0, &format!("round {round}"));
        let n = 4 * (round + 1);
        assert_eq!((hart.x[10], hart.x[11], hart.x[12]), (n, n, n));
        assert_eq!(hart.pc, CODE_VA + 0x1010, "parked on the jal");
    }
}
