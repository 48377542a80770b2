//! Four harts (run with `--smp 4`) increment one shared counter, each
//! 1000 times with `amoadd` and 1000 times with an LR/SC compare-and-swap
//! loop; hart 0 waits for all of them and prints the total (8000 when
//! atomics are atomic across harts), then exits 0, or 1 on a wrong total.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicUsize, Ordering};

use rt::{finisher, println, uart};

const HARTS: usize = 4;
const EACH: usize = 1000;

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static DONE: AtomicUsize = AtomicUsize::new(0);

fn work() {
    for _ in 0..EACH {
        COUNTER.fetch_add(1, Ordering::SeqCst); // amoadd.d
        // compare_exchange_weak compiles to an lr.d/sc.d loop.
        let mut cur = COUNTER.load(Ordering::Relaxed);
        while let Err(now) = COUNTER.compare_exchange_weak(cur, cur + 1, Ordering::SeqCst, Ordering::Relaxed)
        {
            cur = now;
        }
    }
    DONE.fetch_add(1, Ordering::SeqCst);
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(_hartid: usize) {
    work();
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    work();
    while DONE.load(Ordering::SeqCst) < HARTS {}
    let total = COUNTER.load(Ordering::SeqCst);
    println!("smp: {HARTS} harts, counter = {total}");
    finisher::exit(if total == HARTS * 2 * EACH { 0 } else { 1 })
}
