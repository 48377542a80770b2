//! Prints a greeting naming the hart and the value of misa, then exits 0.

#![no_std]
#![no_main]

use rt::{csr, finisher, println, uart};

#[unsafe(no_mangle)]
extern "C" fn main(hartid: usize) -> ! {
    uart::init();
    println!("Hello from wemu! RV64 bare metal, hart {hartid}");
    println!("misa = {:#018x}", csr::misa());

    // The machine must pass the hart id in a0 at entry; a mismatch is an
    // emulator bug worth failing on.
    let mhartid = csr::mhartid();
    if mhartid != hartid {
        println!("a0 = {hartid} but mhartid = {mhartid}");
        finisher::exit(1);
    }
    finisher::exit(0)
}
