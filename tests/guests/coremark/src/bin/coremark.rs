//! CoreMark, 20 iterations: the integration tests' run
//! (tests/integration/coremark.rs).

#![no_std]
#![no_main]

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    coremark::run(20)
}
