//! Execution of RV64I, M, A and C instructions through `Hart::step`.

use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, TestMem, setup};
use crate::{Hart, StepEvent};

const PC: u64 = RAM_BASE;
const DATA: u64 = RAM_BASE + 0x1000;

/// Execute the single instruction `word` at PC with `regs` preset.
fn exec(word: u32, regs: &[(usize, u64)]) -> (Hart, TestMem) {
    let (mut hart, mut mem) = setup(&[word]);
    for &(r, v) in regs {
        hart.x[r] = v;
    }
    let ev = hart.step(&mut mem).expect("no halt");
    assert_eq!(ev, StepEvent::Retired, "{word:#010x} should retire");
    (hart, mem)
}

/// Execute a 16-bit instruction at PC.
fn exec16(half: u16, regs: &[(usize, u64)]) -> Hart {
    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, half);
    for &(r, v) in regs {
        hart.x[r] = v;
    }
    let ev = hart.step(&mut mem).expect("no halt");
    assert_eq!(ev, StepEvent::Retired);
    assert_eq!(hart.pc, PC + 2, "compressed instructions advance pc by 2");
    hart
}

fn rd_after(word: u32, a: u64, b: u64) -> u64 {
    exec(word, &[(11, a), (12, b)]).0.x[10]
}

const NEG: fn(i64) -> u64 = |v| v as u64;

#[test]
fn register_register_ops() {
    let cases = [
        (add(10, 11, 12), 5, NEG(-7), NEG(-2)),
        (add(10, 11, 12), u64::MAX, 1, 0),
        (sub(10, 11, 12), 0, 1, u64::MAX),
        (sub(10, 11, 12), i64::MIN as u64, 1, i64::MAX as u64),
        (sll(10, 11, 12), 1, 65, 2),
        (slt(10, 11, 12), NEG(-1), 0, 1),
        (sltu(10, 11, 12), NEG(-1), 0, 0),
        (xor(10, 11, 12), 0xff00, 0x0ff0, 0xf0f0),
        (srl(10, 11, 12), 1 << 63, 63, 1),
        (sra(10, 11, 12), 1 << 63, 63, u64::MAX),
        (or(10, 11, 12), 0xf0, 0x0f, 0xff),
        (and(10, 11, 12), 0xf0, 0x3c, 0x30),
    ];
    for (word, a, b, want) in cases {
        assert_eq!(rd_after(word, a, b), want, "{}", crate::disassemble(word));
    }
}

#[test]
fn register_immediate_ops() {
    let cases = [
        (addi(10, 11, -1), 0, u64::MAX),
        (addi(10, 11, 2047), 1, 2048),
        (slti(10, 11, -1), NEG(-2), 1),
        (slti(10, 11, -1), 0, 0),
        (sltiu(10, 11, -1), 5, 1), // imm sign-extends to u64::MAX, then compares unsigned
        (sltiu(10, 11, 1), 0, 1),
        (xori(10, 11, -1), 0x1234, !0x1234),
        (ori(10, 11, -2048), 1, NEG(-2047)),
        (andi(10, 11, -16), 0xff, 0xf0),
        (slli(10, 11, 63), 1, 1 << 63),
        (srli(10, 11, 60), u64::MAX, 0xf),
        (srai(10, 11, 60), 1 << 63, NEG(-8)),
        (srai(10, 11, 0), 5, 5),
    ];
    for (word, a, want) in cases {
        assert_eq!(rd_after(word, a, 0), want, "{}", crate::disassemble(word));
    }
}

#[test]
fn w_forms_truncate_and_sign_extend() {
    let cases = [
        (addw(10, 11, 12), 0x7fff_ffff, 1, 0xffff_ffff_8000_0000),
        (addw(10, 11, 12), 0xffff_ffff_0000_0005, 0x1_0000_0003, 8),
        (subw(10, 11, 12), 0, 1, u64::MAX),
        (sllw(10, 11, 12), 1, 31, 0xffff_ffff_8000_0000),
        (sllw(10, 11, 12), 1, 33, 2),
        (srlw(10, 11, 12), 0xffff_ffff_8000_0000, 4, 0x0800_0000),
        (sraw(10, 11, 12), 0x8000_0000, 4, 0xffff_ffff_f800_0000),
        (mulw(10, 11, 12), 0x10000, 0x10000, 0),
        (divw(10, 11, 12), 0x8000_0000, u64::MAX, 0xffff_ffff_8000_0000),
        (divuw(10, 11, 12), 5, 0, u64::MAX),
        (remw(10, 11, 12), NEG(-7), 2, u64::MAX),
        (remuw(10, 11, 12), 7, 0, 7),
    ];
    for (word, a, b, want) in cases {
        assert_eq!(rd_after(word, a, b), want, "{}", crate::disassemble(word));
    }
    let imm_cases = [
        (addiw(10, 11, 1), 0x7fff_ffff, 0xffff_ffff_8000_0000),
        (addiw(10, 11, 0), 0x1_ffff_ffff, u64::MAX),
        (slliw(10, 11, 31), 3, 0xffff_ffff_8000_0000),
        (srliw(10, 11, 31), 0x8000_0000, 1),
        (srliw(10, 11, 0), 0x8000_0000, 0xffff_ffff_8000_0000),
        (sraiw(10, 11, 31), 0x8000_0000, u64::MAX),
    ];
    for (word, a, want) in imm_cases {
        assert_eq!(rd_after(word, a, 0), want, "{}", crate::disassemble(word));
    }
}

#[test]
fn m_extension_edge_cases() {
    let min = i64::MIN as u64;
    let cases = [
        (mul(10, 11, 12), NEG(-3), 7, NEG(-21)),
        (mulh(10, 11, 12), NEG(-1), NEG(-1), 0),
        (mulhsu(10, 11, 12), NEG(-1), 2, u64::MAX),
        (mulhu(10, 11, 12), u64::MAX, 2, 1),
        (div(10, 11, 12), 42, 0, u64::MAX),
        (divu(10, 11, 12), 42, 0, u64::MAX),
        (rem(10, 11, 12), 42, 0, 42),
        (remu(10, 11, 12), 42, 0, 42),
        (div(10, 11, 12), min, NEG(-1), min),
        (rem(10, 11, 12), min, NEG(-1), 0),
        (div(10, 11, 12), NEG(-9), 2, NEG(-4)),
        (rem(10, 11, 12), NEG(-9), 2, NEG(-1)),
    ];
    for (word, a, b, want) in cases {
        assert_eq!(rd_after(word, a, b), want, "{}", crate::disassemble(word));
    }
}

#[test]
fn writes_to_x0_are_ignored() {
    for word in [addi(0, 0, 5), lui(0, 0x12345), add(0, 11, 12), jal(0, 4), ld(0, 11, 0)] {
        let (hart, _) = exec(word, &[(11, DATA), (12, 1)]);
        assert_eq!(hart.x[0], 0, "{}", crate::disassemble(word));
    }
}

#[test]
fn lui_and_auipc() {
    let (hart, _) = exec(lui(5, 0x80000), &[]);
    assert_eq!(hart.x[5], 0xffff_ffff_8000_0000);
    let (hart, _) = exec(auipc(5, 0xfffff), &[]);
    assert_eq!(hart.x[5], PC - 0x1000);
}

#[test]
fn jal_links_and_jumps() {
    let (hart, _) = exec(jal(1, -16), &[]);
    assert_eq!(hart.x[1], PC + 4);
    assert_eq!(hart.pc, PC - 16);
}

#[test]
fn jalr_clears_bit_0_and_reads_rs1_before_linking() {
    let (hart, _) = exec(jalr(5, 5, 3), &[(5, 0x1000)]);
    assert_eq!(hart.pc, 0x1002);
    assert_eq!(hart.x[5], PC + 4);
}

#[test]
fn branches_taken_and_not_taken() {
    let cases = [
        (beq(11, 12, 8), 1, 1, true),
        (beq(11, 12, 8), 1, 2, false),
        (bne(11, 12, 8), 1, 2, true),
        (blt(11, 12, 8), NEG(-1), 0, true),
        (bltu(11, 12, 8), NEG(-1), 0, false),
        (bge(11, 12, 8), 0, NEG(-1), true),
        (bge(11, 12, 8), 3, 3, true),
        (bgeu(11, 12, 8), 0, NEG(-1), false),
    ];
    for (word, a, b, taken) in cases {
        let (hart, _) = exec(word, &[(11, a), (12, b)]);
        let want = if taken { PC + 8 } else { PC + 4 };
        assert_eq!(hart.pc, want, "{} a={a:#x} b={b:#x}", crate::disassemble(word));
    }
    let (hart, _) = exec(beq(0, 0, -4096), &[]);
    assert_eq!(hart.pc, PC - 4096);
}

#[test]
fn loads_extend_by_width_and_signedness() {
    let pattern = 0x8877_6655_c4b3_a2f1u64;
    let cases = [
        (lb(10, 11, 0), 0xffff_ffff_ffff_fff1),
        (lbu(10, 11, 0), 0xf1),
        (lh(10, 11, 2), 0xffff_ffff_ffff_c4b3),
        (lhu(10, 11, 2), 0xc4b3),
        (lw(10, 11, 0), 0xffff_ffff_c4b3_a2f1),
        (lwu(10, 11, 0), 0xc4b3_a2f1),
        (lw(10, 11, 4), 0xffff_ffff_8877_6655),
        (ld(10, 11, 0), pattern),
        (lb(10, 11, 7), 0xffff_ffff_ffff_ff88),
        (lbu(10, 11, 4), 0x55),
    ];
    for (word, want) in cases {
        let (mut hart, mut mem) = setup(&[word]);
        mem.put64(DATA, pattern);
        hart.x[11] = DATA;
        hart.step(&mut mem).expect("no halt");
        assert_eq!(hart.x[10], want, "{}", crate::disassemble(word));
    }
}

#[test]
fn stores_write_only_their_width_little_endian() {
    let v = 0x1122_3344_5566_7788u64;
    let cases = [
        (sb(12, 11, 1), 0xaaaa_aaaa_aaaa_88aa),
        (sh(12, 11, 2), 0xaaaa_aaaa_7788_aaaa),
        (sw(12, 11, 4), 0x5566_7788_aaaa_aaaa),
        (sd(12, 11, 0), v),
    ];
    for (word, want) in cases {
        let (mut hart, mut mem) = setup(&[word]);
        mem.put64(DATA, 0xaaaa_aaaa_aaaa_aaaa);
        hart.x[11] = DATA;
        hart.x[12] = v;
        hart.step(&mut mem).expect("no halt");
        assert_eq!(mem.get(DATA, 8), want, "{}", crate::disassemble(word));
    }
    let (mut hart, mut mem) = setup(&[sw(12, 11, -4)]);
    hart.x[11] = DATA + 4;
    hart.x[12] = 0xdead_beef;
    hart.step(&mut mem).expect("no halt");
    assert_eq!(mem.get(DATA, 4), 0xdead_beef, "negative offset");
}

#[test]
fn compressed_instructions_execute_as_their_expansion() {
    // c.addi a0,-32
    assert_eq!(exec16(0x1501, &[(10, 40)]).x[10], 8);
    // c.addiw a0,0 sign-extends the low word
    assert_eq!(exec16(0x2501, &[(10, 0x1_8000_0000)]).x[10], 0xffff_ffff_8000_0000);
    // c.lui a0,0xfffe0
    assert_eq!(exec16(0x7501, &[]).x[10], 0xffff_ffff_fffe_0000);
    // c.addi16sp sp,-512
    assert_eq!(exec16(0x7101, &[(2, 0x1000)]).x[2], 0xe00);
    // c.srai a5,1
    assert_eq!(exec16(0x8785, &[(15, NEG(-4))]).x[15], NEG(-2));
    // c.subw s0,a5
    assert_eq!(exec16(0x9c1d, &[(8, 0), (15, 1)]).x[8], u64::MAX);
    // c.mv a0,t6
    assert_eq!(exec16(0x857e, &[(31, 77)]).x[10], 77);
    // c.add s1,sp
    assert_eq!(exec16(0x948a, &[(9, 1), (2, 2)]).x[9], 3);
}

#[test]
fn compressed_jumps_link_pc_plus_2() {
    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, 0x9582); // c.jalr a1
    hart.x[11] = DATA;
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.x[1], PC + 2);
    assert_eq!(hart.pc, DATA);

    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, 0xaffd); // c.j 2046
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.pc, PC + 2046);

    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, 0xeffd); // c.bnez a5,254
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.pc, PC + 2, "a5 == 0: not taken");
}

#[test]
fn compressed_sp_relative_memory() {
    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, 0xffee); // c.sdsp s11,504(sp)
    mem.put16(PC + 2, 0x7dfe); // c.ldsp s11,504(sp)
    mem.put16(PC + 4, 0x50fe); // c.lwsp ra,252(sp)
    hart.x[2] = DATA;
    hart.x[27] = 0x8000_0000_1234_5678;
    hart.step(&mut mem).expect("sdsp");
    assert_eq!(mem.get(DATA + 504, 8), 0x8000_0000_1234_5678);
    hart.x[27] = 0;
    hart.step(&mut mem).expect("ldsp");
    assert_eq!(hart.x[27], 0x8000_0000_1234_5678);
    mem.put32(DATA + 252, 0x8000_0001);
    hart.step(&mut mem).expect("lwsp");
    assert_eq!(hart.x[1], 0xffff_ffff_8000_0001);
    assert_eq!(hart.pc, PC + 6);
}

#[test]
fn mixed_16_and_32_bit_stream() {
    // li a0,1 (c) ; addi a0,a0,2 (32-bit, at a 2-aligned address) ; c.add a0,a0
    let (mut hart, mut mem) = setup(&[]);
    mem.put16(PC, 0x4505);
    mem.put32(PC + 2, addi(10, 10, 2));
    mem.put16(PC + 6, 0x952a); // c.add a0,a0
    for _ in 0..3 {
        hart.step(&mut mem).expect("no halt");
    }
    assert_eq!(hart.x[10], 6);
    assert_eq!(hart.pc, PC + 8);
}

// ---- A extension ----

fn amo_run(word: u32, mem_init: u64, src: u64, size: u8) -> (u64, u64) {
    let (mut hart, mut mem) = setup(&[word]);
    mem.put64(DATA, 0xeeee_eeee_eeee_eeee);
    if size == 4 {
        mem.put32(DATA, mem_init as u32);
    } else {
        mem.put64(DATA, mem_init);
    }
    hart.x[11] = DATA;
    hart.x[12] = src;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    let after = mem.get(DATA, size);
    if size == 4 {
        assert_eq!(mem.get(DATA + 4, 4), 0xeeee_eeee, "word AMO must not touch the next word");
    }
    (hart.x[10], after)
}

#[test]
fn amo_word_ops() {
    let w = |f5| amo(f5, 2, 10, 11, 12);
    let m5 = 0xffff_fffbu64; // -5 as a word
    let cases = [
        (w(0b00001), m5, 7, m5, 7),
        (w(0b00000), 0x7fff_ffff, 1, 0x7fff_ffff, 0x8000_0000),
        (w(0b00100), 0xff00, 0x0ff0, 0xff00, 0xf0f0),
        (w(0b01100), 0xff00, 0x0ff0, 0xff00, 0x0f00),
        (w(0b01000), 0xff00, 0x0ff0, 0xff00, 0xfff0),
        (w(0b10000), m5, 3, m5, m5),                  // amomin.w: -5 < 3
        (w(0b10100), m5, 3, m5, 3),                   // amomax.w
        (w(0b11000), m5, 3, m5, 3),                   // amominu.w: 3 < 0xfffffffb
        (w(0b11100), m5, 0x1_0000_0003, m5, m5),      // amomaxu.w ignores upper src bits
        (w(0b10000), 1, 0xffff_ffff_0000_0002, 1, 1), // min.w sees src as 2
    ];
    for (word, init, src, want_rd_lo, want_mem) in cases {
        let (rd, after) = amo_run(word, init, src, 4);
        let want_rd = want_rd_lo as u32 as i32 as i64 as u64;
        assert_eq!(rd, want_rd, "{} rd", crate::disassemble(word));
        assert_eq!(after, want_mem, "{} mem", crate::disassemble(word));
    }
}

#[test]
fn amo_doubleword_ops() {
    let d = |f5| amo(f5, 3, 10, 11, 12);
    let m5 = NEG(-5);
    let cases = [
        (d(0b00001), m5, 7, 7),
        (d(0b00000), u64::MAX, 2, 1),
        (d(0b00100), 0b1100, 0b1010, 0b0110),
        (d(0b01100), 0b1100, 0b1010, 0b1000),
        (d(0b01000), 0b1100, 0b1010, 0b1110),
        (d(0b10000), m5, 3, m5),
        (d(0b10100), m5, 3, 3),
        (d(0b11000), m5, 3, 3),
        (d(0b11100), m5, 3, m5),
    ];
    for (word, init, src, want_mem) in cases {
        let (rd, after) = amo_run(word, init, src, 8);
        assert_eq!(rd, init, "{} rd", crate::disassemble(word));
        assert_eq!(after, want_mem, "{} mem", crate::disassemble(word));
    }
}

#[test]
fn lr_sc_succeeds_on_reserved_address() {
    let prog = [
        amo(0b00010, 3, 10, 11, 0),  // lr.d a0,(a1)
        amo(0b00011, 3, 13, 11, 12), // sc.d a3,a2,(a1)
        amo(0b00011, 3, 14, 11, 12), // sc.d a4,a2,(a1): reservation gone
    ];
    let (mut hart, mut mem) = setup(&prog);
    mem.put64(DATA, 0x1234);
    hart.x[11] = DATA;
    hart.x[12] = 0x5678;
    hart.x[14] = 99;
    for _ in 0..3 {
        assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    }
    assert_eq!(hart.x[10], 0x1234);
    assert_eq!(hart.x[13], 0, "first sc succeeds");
    assert_eq!(hart.x[14], 1, "second sc fails: sc consumed the reservation");
    assert_eq!(mem.get(DATA, 8), 0x5678);
}

#[test]
fn sc_fails_without_or_with_another_reservation() {
    let (mut hart, mut mem) = setup(&[amo(0b00011, 2, 13, 11, 12)]);
    hart.x[11] = DATA;
    hart.x[12] = 5;
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.x[13], 1);
    assert_eq!(mem.get(DATA, 4), 0, "failed sc does not store");

    let prog = [
        amo(0b00010, 2, 10, 11, 0),  // lr.w a0,(a1)
        amo(0b00011, 2, 13, 14, 12), // sc.w a3,a2,(a4) with a4 != a1
    ];
    let (mut hart, mut mem) = setup(&prog);
    hart.x[11] = DATA;
    hart.x[14] = DATA + 8;
    hart.x[12] = 5;
    hart.step(&mut mem).expect("lr");
    hart.step(&mut mem).expect("sc");
    assert_eq!(hart.x[13], 1);
    assert_eq!(mem.get(DATA + 8, 4), 0);
}

#[test]
fn lr_w_sign_extends() {
    let (mut hart, mut mem) = setup(&[amo(0b00010, 2, 10, 11, 0)]);
    mem.put32(DATA, 0x8000_0000);
    hart.x[11] = DATA;
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.x[10], 0xffff_ffff_8000_0000);
}
