//! CoreMark for `just bench-cpu` (tests/bench/cpu.sh): enough iterations
//! for about 1-2 s on QEMU.

#![no_std]
#![no_main]

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    coremark::run(6000)
}
