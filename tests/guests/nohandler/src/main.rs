//! Executes an illegal instruction with no trap handler (mtvec = 0, nothing
//! mapped at address 0). The emulator is expected to stop with a clear error
//! rather than spin forever re-faulting at address 0.

#![no_std]
#![no_main]

use core::arch::asm;

use rt::{csr, finisher, println, uart};

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("about to fault");

    // 0 is mtvec's usual reset value, but the spec leaves it implementation
    // defined, so make sure the trap really goes to unmapped address 0.
    // SAFETY: faulting into nothing is the point of this program.
    unsafe { csr::set_mtvec(0) };
    // SAFETY: as above. 0xffffffff is illegal on every RISC-V implementation
    // (it is the reserved >= 192-bit encoding prefix).
    unsafe { asm!(".4byte 0xffffffff") };

    // Only reachable if the emulator ignored the fault.
    println!("still running after an illegal instruction?!");
    finisher::exit(1)
}
