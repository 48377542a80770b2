//! Exits through the finisher with a non-zero code, to check that the
//! emulator propagates it as its own exit status.

#![no_std]
#![no_main]

use rt::{finisher, println, uart};

const CODE: u16 = 3;

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("exiting with {CODE}");
    finisher::exit(CODE)
}
