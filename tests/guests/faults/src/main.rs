//! A device that faults while the guest uses it, under whatever
//! `--on-device-fault` / `on-fault` policy the test chose. The guest
//! prints what it sees, keeps using the UART and powers off with status 0:
//!
//! - isolate: after the fault every read of the device is all-ones of the
//!   access size and writes are dropped; its IRQ line went low (the PLIC
//!   does not pend it again after a claim); its timer never fires;
//! - reset: the registers are back at their power-on values and writable,
//!   the line is low, the old instance's timer is gone; four more faults
//!   in quick succession use up the resets (3 per second) and the device
//!   ends isolated;
//! - stop: the machine stops at the first fault (exit status 125).
//!
//! The exact lines are checked by tests/integration/faults.rs.

#![no_std]
#![no_main]

use faults::*;
use rt::{finisher, println, uart};

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("faults guest ready");
    plic_setup();
    w64(SCRATCH, 0x1111);
    println!("scratch = {:#x}", r64(SCRATCH));
    w64(CMD, CMD_RAISE);
    println!("irq pending = {}", pending());
    // A timer that would fire 20 us from now, then the fault.
    w64(CMD, CMD_LONG_TIMER);
    w64(CMD, CMD_PANIC);
    println!("after fault: scratch = {:#x}", r64(SCRATCH));
    println!("after fault: scratch as u32 = {:#x}", r32(SCRATCH));
    println!("after fault: result as u8 = {:#x}", r8(RESULT));
    w64(SCRATCH, 0x2222);
    println!("after write: scratch = {:#x}", r64(SCRATCH));
    let source = claim_and_complete();
    println!("claimed source {source}; pending after complete = {}", pending());
    wait_us(100);
    println!("after 100 us: pending = {}", pending());
    for i in 1..=4u64 {
        w64(SCRATCH, i);
        w64(CMD, CMD_PANIC);
        println!("fault {i}: scratch = {:#x}", r64(SCRATCH));
    }
    println!("faults guest done");
    finisher::exit(0)
}
