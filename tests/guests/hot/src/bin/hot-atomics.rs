//! LR/SC loops and AMOs contending across four harts (run with `--smp
//! 4`), long enough that the machine switches harts many times inside
//! them (wemu runs each hart for a batch of instructions in turn), so
//! some SCs fail because another hart wrote the reserved word in between.
//! Each hart, N times: `amoadd.d` and an `lr.d`/`sc.d` increment on two
//! doublewords, `amoadd.w` and an `lr.w`/`sc.w` increment on two words,
//! and `amomax.d` of `hart << 32 | remaining`. Hart 0 prints every
//! counter (checked exact) and each hart's SC failures (deterministic on
//! wemu, where the interleaving follows retired instructions; different
//! on QEMU).

#![no_std]
#![no_main]

use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rt::{check, check_eq, println, uart};

const HARTS: usize = 4;
const N: usize = 20_000;

/// The shared counters, at the offsets the assembly uses.
#[repr(C)]
struct Shared {
    add_d: AtomicU64,
    lrsc_d: AtomicU64,
    add_w: AtomicU32,
    lrsc_w: AtomicU32,
    max_d: AtomicU64,
}

static SHARED: Shared = Shared {
    add_d: AtomicU64::new(0),
    lrsc_d: AtomicU64::new(0),
    add_w: AtomicU32::new(0),
    lrsc_w: AtomicU32::new(0),
    max_d: AtomicU64::new(0),
};
static FAILED_SC: [AtomicUsize; HARTS] = [const { AtomicUsize::new(0) }; HARTS];
static DONE: AtomicUsize = AtomicUsize::new(0);

// a0 = hart, a1 = iterations, a2 = &SHARED; returns the SCs that failed.
// The instructions between each LR and SC (forward jumps included, as a
// constrained LR/SC loop allows) widen the window in which a hart switch,
// and so another hart's write, can fall.
global_asm!(
    r#"
    .section .text.hot_atomics, "ax"
    .balign 4
    .global hot_atomics_work
hot_atomics_work:
    li      t6, 0
    li      t5, 1
    slli    t4, a0, 32
1:  amoadd.d zero, t5, (a2)
    addi    t0, a2, 8
2:  lr.d    t1, (t0)
    addi    t1, t1, 1
    j       6f
6:  xori    t2, t1, 0x55
    bnez    t5, 7f
7:  add     t2, t2, t1
    sc.d    t3, t1, (t0)
    beqz    t3, 3f
    addi    t6, t6, 1
    j       2b
3:  addi    t0, a2, 16
    amoadd.w zero, t5, (t0)
    addi    t0, a2, 20
4:  lr.w    t1, (t0)
    j       8f
8:  addiw   t1, t1, 1
    sc.w    t3, t1, (t0)
    beqz    t3, 5f
    addi    t6, t6, 1
    j       4b
5:  addi    t0, a2, 24
    or      t2, t4, a1
    amomax.d zero, t2, (t0)
    addi    a1, a1, -1
    bnez    a1, 1b
    mv      a0, t6
    ret
"#
);

unsafe extern "C" {
    fn hot_atomics_work(hart: usize, n: usize, shared: *const Shared) -> usize;
}

fn work(hart: usize) {
    // SAFETY: the assembly only touches SHARED, atomically, and t0-t6.
    let failed = unsafe { hot_atomics_work(hart, N, &raw const SHARED) };
    if let Some(slot) = FAILED_SC.get(hart) {
        slot.store(failed, Ordering::Relaxed);
    }
    DONE.fetch_add(1, Ordering::SeqCst);
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(hartid: usize) {
    work(hartid);
}

#[unsafe(no_mangle)]
extern "C" fn main(hartid: usize) -> ! {
    uart::init();
    work(hartid);
    while DONE.load(Ordering::SeqCst) < HARTS {}
    let total = (HARTS * N) as u64;
    check_eq!(SHARED.add_d.load(Ordering::SeqCst), total, "amoadd.d counter");
    check_eq!(SHARED.lrsc_d.load(Ordering::SeqCst), total, "lr.d/sc.d counter");
    check_eq!(SHARED.add_w.load(Ordering::SeqCst), total, "amoadd.w counter");
    check_eq!(SHARED.lrsc_w.load(Ordering::SeqCst), total, "lr.w/sc.w counter");
    check_eq!(SHARED.max_d.load(Ordering::SeqCst), ((HARTS as u64 - 1) << 32) | N as u64, "amomax.d");
    let failed = FAILED_SC.each_ref().map(|f| f.load(Ordering::Relaxed));
    println!("failed SCs per hart: {failed:?}");
    check!(DONE.load(Ordering::SeqCst) == HARTS, "all {HARTS} harts done");
    rt::check::finish()
}
