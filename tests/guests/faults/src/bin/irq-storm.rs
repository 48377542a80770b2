//! A device whose IRQ line toggles 100,000 times in one register write
//! (the faulty device's command 11), twice. wemu delivers the first 10,000
//! changes of the storm window, then holds the line's changes back and
//! delivers only its latest level at batch boundaries, reporting the storm
//! once. The guest sees:
//!
//! - round 1: the PLIC pended the source (the line rose);
//! - round 2, still within the storm: nothing reaches the PLIC, because the
//!   line ends low where it started (without throttling the first rise
//!   would pend the source again);
//! - a single raise during the storm still arrives, at the next batch.
//!
//! Then it powers off with status 0 (tests/integration/faults.rs).

#![no_std]
#![no_main]

use faults::*;
use rt::{finisher, println, uart};

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("irq-storm guest ready");
    plic_setup();
    w64(CMD, CMD_STORM);
    println!("round 1: pending = {}", pending());
    let source = claim_and_complete();
    println!("claimed source {source}; pending after complete = {}", pending());
    w64(CMD, CMD_STORM);
    wait_us(20);
    println!("round 2: pending = {}", pending());
    w64(CMD, CMD_RAISE);
    wait_us(20);
    println!("single raise: pending = {}", pending());
    println!("irq-storm guest done");
    finisher::exit(0)
}
