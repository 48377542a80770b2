//! Self-modifying code, for the JIT's invalidation rules (docs/jit.md):
//! a function written at run time is called until it is hot (translated,
//! under the JIT), then rewritten.
//!
//! - Without FENCE.I, RISC-V lets the hart run the old or the new
//!   instructions; wemu runs what its instruction cache decoded, under
//!   both tiers alike. The guest prints what it saw (QEMU, whose TCG is
//!   coherent with stores, sees the new code: only wemu's two tiers are
//!   compared on this line).
//! - After FENCE.I the new instructions must run: checked, exit 1 if not.
//!
//! The function holds a loop (so a region with a back edge is translated
//! and invalidated): `a0 += STEP` repeated `a1` times.

#![no_std]
#![no_main]

use rt::{finisher, println, uart};

/// Room for the function, in RAM (writable and executable in M-mode).
#[repr(C, align(4096))]
struct Code([u32; 1024]);
static mut CODE: Code = Code([0; 1024]);

const A0: u32 = 10;
const A1: u32 = 11;

fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    rt::enc::addi(rd, rs1, imm)
}

const RET: u32 = 0x0000_8067;

/// Write `a0 += step; a1 -= 1; bnez a1, loop; ret` at the start of CODE.
fn write(step: i32) {
    let words = [addi(A0, A0, step), addi(A1, A1, -1), rt::enc::bne(A1, 0, -8), RET];
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the only writer; volatile so the stores happen.
        unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(CODE.0[i]), *w) };
    }
}

fn call(a0: u64, times: u64) -> u64 {
    // SAFETY: CODE holds a function following the calling convention
    // (reads a0, a1; returns a0), written by `write`.
    let f: extern "C" fn(u64, u64) -> u64 = unsafe { core::mem::transmute(core::ptr::addr_of!(CODE.0)) };
    f(a0, times)
}

fn fence_i() {
    // SAFETY: fence.i has no other effect.
    unsafe { core::arch::asm!("fence.i") };
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    write(1);
    fence_i();
    // Hot: translated under the JIT at its default threshold.
    let mut sum = 0;
    for _ in 0..5000 {
        sum = call(sum, 3);
    }
    println!("step 1: {sum}");
    let mut ok = sum == 15000;

    write(2);
    let stale = call(0, 10);
    println!("without fence.i: {stale} (10 if the old code ran, 20 if the new)");
    ok &= stale == 10 || stale == 20;

    fence_i();
    let mut sum = 0;
    for _ in 0..5000 {
        sum = call(sum, 3);
    }
    println!("after fence.i: {sum}");
    ok &= sum == 30000;

    println!("smc: {}", if ok { "ok" } else { "FAILED" });
    finisher::exit(if ok { 0 } else { 1 })
}
