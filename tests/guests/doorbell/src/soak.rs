//! Soaks the JavaScript doorbell device (`devices/doorbell-js`) at
//! 0x1002_0000 with MMIO accesses: `ROUNDS` rounds of a SCRATCH write and
//! read-back, a doorbell ring and its acknowledgement (4 accesses each),
//! interrupts masked.
//!
//! The device's engine collects garbage inside whichever access triggers
//! it; under wemu's default limits (64 MiB, 20M fuel per call) that faults
//! after about 175 000 accesses, so this runs well past that. A device
//! fault stops the machine (wemu exits non-zero); a wrong value read back
//! fails a check. Prints progress every 20 000 rounds, exit status 0 when
//! all went through.

#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};

use rt::{check_eq, println, uart};

const BASE: usize = 0x1002_0000;
const SCRATCH: usize = 0x04;
const DOORBELL: usize = 0x08;
const STATUS: usize = 0x0c;
const RINGS: usize = 0x10;

/// 400 000 accesses.
const ROUNDS: u32 = 100_000;

fn rd(off: usize) -> u32 {
    // SAFETY: the device's register window; MMIO has no Rust-visible effects.
    unsafe { read_volatile((BASE + off) as *const u32) }
}

fn wr(off: usize, v: u32) {
    // SAFETY: as `rd`.
    unsafe { write_volatile((BASE + off) as *mut u32, v) }
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("doorbell-js soak: {} rounds of 4 accesses", ROUNDS);
    let mut wrong = 0u32;
    for i in 1..=ROUNDS {
        let v = i.wrapping_mul(0x9e37_79b9);
        wr(SCRATCH, v);
        if rd(SCRATCH) != v {
            wrong += 1;
        }
        // Each ring logs through the host (a string built in JS: garbage).
        wr(DOORBELL, 1);
        wr(STATUS, 1);
        if i % 20_000 == 0 {
            println!("soak: {} accesses", u64::from(i) * 4);
        }
    }
    check_eq!(wrong, 0, "SCRATCH read-backs that differed");
    check_eq!(rd(RINGS), ROUNDS, "RINGS after the soak");
    check_eq!(rd(STATUS), 0, "STATUS after the last acknowledgement");
    rt::check::finish()
}
