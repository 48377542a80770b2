//! The pre-decoded instruction cache: filled once per location, flushed by
//! FENCE.I and `Hart::flush_icache`, and exact for compressed, 32-bit and
//! page-straddling instructions.

use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, TestMem, setup};
use crate::{Exception, Hart, RunExit, StepEvent, TrapCause};

const PC: u64 = RAM_BASE;
const FENCE_I: u32 = 0x0000_100f;

fn step_ok(hart: &mut Hart, mem: &mut TestMem) {
    assert_eq!(hart.step(mem), Ok(StepEvent::Retired), "pc {:#x}", hart.pc);
}

#[test]
fn a_loop_is_fetched_once() {
    // a0 = 5; loop: c.addi a1,1 ; addi a0,a0,-1 ; bnez a0,loop
    let (mut hart, mut mem) = setup(&[addi(10, 0, 5)]);
    mem.put16(PC + 4, 0x0585); // c.addi a1,1
    mem.put32(PC + 6, addi(10, 10, -1));
    mem.put32(PC + 10, bne(10, 0, -6));
    assert_eq!(hart.run(&mut mem, 1 + 3 * 5), RunExit::Budget);
    assert_eq!((hart.x[10], hart.x[11], hart.pc), (0, 5, PC + 14));
    // Every location was fetched on its first execution only: 2 bytes for
    // the compressed one, 2+2 for each 32-bit one.
    let expected =
        vec![(PC, 2), (PC + 2, 2), (PC + 4, 2), (PC + 6, 2), (PC + 8, 2), (PC + 10, 2), (PC + 12, 2)];
    assert_eq!(mem.fetches, expected);
}

#[test]
fn modified_code_runs_after_fence_i_only() {
    let (mut hart, mut mem) = setup(&[addi(10, 10, 1), FENCE_I]);
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 1);

    // Rewrite the instruction behind the hart's back, without a FENCE.I:
    // the stale decoded copy may run (RISC-V allows it; wemu does).
    mem.put32(PC, addi(10, 10, 100));
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 2, "stale instruction without FENCE.I");

    // FENCE.I makes the store visible to instruction fetch.
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.pc, PC + 8);
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 102, "new instruction after FENCE.I");
}

#[test]
fn guest_store_then_fence_i_runs_the_new_code() {
    // The guest patches its own next instruction: sw t1,12(t0); fence.i;
    // then the patched slot (originally addi a0,a0,1) runs as addi a0,a0,7.
    // The slot is executed once first so it is in the cache.
    let patched = addi(10, 10, 7);
    let (mut hart, mut mem) = setup(&[
        jal(0, 12),      // PC+0: skip to the slot once
        sw(6, 5, 12),    // PC+4: sw t1,12(t0)
        FENCE_I,         // PC+8
        addi(10, 10, 1), // PC+12: the slot
        beq(11, 0, 12),  // PC+16: first time through (a1 == 0): to PC+28
        addi(12, 0, 1),  // PC+20: second time: a2 = 1
        jal(0, 0),       // PC+24: park
        addi(11, 0, 1),  // PC+28: a1 = 1
        jal(0, -28),     // PC+32: back to PC+4
    ]);
    hart.x[5] = PC;
    hart.x[6] = u64::from(patched);
    assert_eq!(hart.run(&mut mem, 10), RunExit::Budget);
    assert_eq!(hart.pc, PC + 24);
    assert_eq!((hart.x[10], hart.x[12]), (1 + 7, 1));
}

#[test]
fn flush_icache_forgets_decoded_code() {
    let (mut hart, mut mem) = setup(&[addi(10, 10, 1)]);
    step_ok(&mut hart, &mut mem);
    mem.put32(PC, addi(10, 10, 40));
    hart.flush_icache();
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 41);
}

#[test]
fn thirty_two_bit_instruction_straddling_a_page() {
    let at = RAM_BASE + 0xffe;
    let (mut hart, mut mem) = setup(&[]);
    mem.put32(at, addi(10, 10, 3));
    mem.put16(at + 4, 0x0585); // c.addi a1,1 (second slot of the next page)
    mem.put32(at + 6, jal(0, -6)); // back to `at`
    hart.pc = at;
    assert_eq!(hart.run(&mut mem, 9), RunExit::Budget);
    assert_eq!((hart.x[10], hart.x[11], hart.pc), (9, 3, at));
    assert_eq!(
        mem.fetches,
        vec![(at, 2), (at + 2, 2), (at + 4, 2), (at + 6, 2), (at + 8, 2)],
        "both halves fetched once, from both pages"
    );

    // Jumping to the upper half of the straddling instruction decodes that
    // parcel on its own, in a slot of the second page. addi a0,a0,3 is
    // 0x00350513; its upper parcel 0x0035 is a c.addi x0 hint (a no-op).
    let (mut hart2, mut mem2) = setup(&[]);
    mem2.put32(at, addi(10, 10, 3));
    hart2.pc = at;
    step_ok(&mut hart2, &mut mem2);
    hart2.pc = at + 2;
    let before = hart2.x;
    let ev = hart2.step(&mut mem2);
    assert!(ev.is_ok());
    assert_eq!(hart2.x[10], before[10], "the upper parcel is not the 32-bit addi");
}

#[test]
fn compressed_and_uncompressed_share_a_page_exactly() {
    // The same bytes seen as one 32-bit instruction at PC and, after a jump
    // into its middle, as a compressed one at PC+2 occupy different slots.
    // Here the upper parcel is c.li a0,1 (0x4505).
    let word = (0x4505u32 << 16) | 0x0513; // addi a0,a0,0x450
    let (mut hart, mut mem) = setup(&[word]);
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 0x450);
    hart.pc = PC + 2;
    step_ok(&mut hart, &mut mem);
    assert_eq!((hart.x[10], hart.pc), (1, PC + 4), "c.li a0,1 from the upper parcel");
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!((hart.x[10], hart.pc), (1 + 0x450, PC + 4), "the 32-bit entry is intact");
}

#[test]
fn odd_pc_is_never_a_cache_hit() {
    let (mut hart, mut mem) = setup(&[NOP]);
    mem.put32(RAM_BASE + 0x800, NOP);
    step_ok(&mut hart, &mut mem);
    hart.pc = PC + 1;
    match hart.step(&mut mem) {
        Ok(StepEvent::Trap(rec)) => {
            assert_eq!(rec.cause, TrapCause::Exception(Exception::InstructionAddressMisaligned))
        }
        other => panic!("expected a misaligned-fetch trap, got {other:?}"),
    }
}

/// A hart and memory whose RAM is the hart's RAM window, so the cache
/// keeps copies of the pages it decodes and parks them at FENCE.I.
fn setup_window(words: &[u32]) -> (Hart, TestMem) {
    let (hart, mut mem) = setup(words);
    mem.set_window();
    (hart, mem)
}

#[test]
fn fence_i_keeps_pages_that_did_not_change() {
    // addi a0,a0,1 ; fence.i ; addi a0,a0,1 ; then back to the start.
    let (mut hart, mut mem) = setup_window(&[addi(10, 10, 1), FENCE_I, addi(10, 10, 1), jal(0, -12)]);
    assert_eq!(hart.run(&mut mem, 8), RunExit::Budget);
    assert_eq!(hart.x[10], 4);
    // The first pass decoded each instruction once (2+2 bytes each); the
    // FENCE.I of each pass parked the page and the next fetch found it
    // unchanged, so nothing was fetched again.
    let expected: Vec<_> = (0..8).map(|i| (PC + 2 * i, 2)).collect();
    assert_eq!(mem.fetches, expected);
}

#[test]
fn fence_i_decodes_a_changed_page_again() {
    let (mut hart, mut mem) = setup_window(&[addi(10, 10, 1), FENCE_I]);
    step_ok(&mut hart, &mut mem);
    mem.put32(PC, addi(10, 10, 100));
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 2, "stale instruction without FENCE.I");
    step_ok(&mut hart, &mut mem); // fence.i
    hart.pc = PC;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 102, "new instruction after FENCE.I");
}

#[test]
fn a_page_changed_before_a_later_decode_still_gives_new_code_after_fence_i() {
    // The frame takes the page (and its copy) when PC is decoded. PC+4
    // then changes without a FENCE.I and is decoded as changed: that entry
    // no longer matches the copy, so the frame starts over from memory as
    // it is. PC+4 then changes back, and after a FENCE.I the page equals
    // the first copy again: the original PC+4 must run, not the entry
    // decoded in between.
    let (mut hart, mut mem) = setup_window(&[addi(10, 10, 1), addi(11, 11, 1), FENCE_I]);
    step_ok(&mut hart, &mut mem);
    mem.put32(PC + 4, addi(11, 11, 10));
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[11], 10, "PC+4 decoded from memory as it is now");
    mem.put32(PC + 4, addi(11, 11, 1));
    step_ok(&mut hart, &mut mem); // fence.i
    hart.pc = PC + 4;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[11], 11);
}

#[test]
fn fence_i_sees_a_changed_second_half_of_a_straddling_instruction() {
    // A 32-bit instruction at 0xffe: its first page is unchanged, its upper
    // half in the next page changes; after FENCE.I the new one runs.
    let at = RAM_BASE + 0xffe;
    let (mut hart, mut mem) = setup_window(&[]);
    mem.put32(at, addi(10, 10, 3));
    mem.put32(at + 4, FENCE_I);
    hart.pc = at;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 3);
    // addi a0,a0,3 = 0x00350513 -> addi a0,a0,0x403 = 0x40350513: only the
    // upper parcel (in the second page) differs.
    mem.put16(at + 2, 0x4035);
    step_ok(&mut hart, &mut mem); // fence.i
    hart.pc = at;
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], 3 + 0x403);
}
