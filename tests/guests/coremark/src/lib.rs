//! Runs CoreMark (C, compiled by build.rs) on the Rust runtime: `rt`
//! starts the hart and provides the console, CoreMark's port
//! (port/core_portme.c) prints through [`coremark_putc`] and says whether
//! CoreMark validated its results, and the finisher ends the run: 0 if it
//! did, 1 if not.

#![no_std]

use rt::{finisher, uart};

/// What CoreMark prints through (port/core_portme.c's `ee_printf`).
#[unsafe(no_mangle)]
extern "C" fn coremark_putc(c: u8) {
    uart::putc(c);
}

#[cfg(not(coremark_skipped))]
unsafe extern "C" {
    /// port/core_portme.c: runs CoreMark; 0 if it validated its results.
    fn wemu_coremark(iterations: i32) -> i32;
}

/// Runs CoreMark for `iterations` iterations and exits.
pub fn run(iterations: i32) -> ! {
    uart::init();
    #[cfg(not(coremark_skipped))]
    {
        // SAFETY: the port's entry takes a plain integer and touches only
        // CoreMark's own data (its data block is on this stack).
        let failed = unsafe { wemu_coremark(iterations) };
        finisher::exit(if failed == 0 { 0 } else { 1 })
    }
    #[cfg(coremark_skipped)]
    {
        rt::println!("coremark: not built ({iterations} iterations): WEMU_SKIP_C_DEVICES was set");
        finisher::exit(2)
    }
}
