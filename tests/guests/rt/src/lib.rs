//! Minimal M-mode runtime for wemu's bare-metal test guests.
//!
//! Provides the `_start` entry point, a polled ns16550a driver with
//! `print!`/`println!`, the sifive_test finisher, CSR helpers, a trap entry
//! that calls back into Rust, a panic handler that reports and exits with
//! code 101, and for the architecture tests: running code in U/S/M-mode
//! and capturing its trap (`lower`) and one-line-per-check reporting
//! (`check`).
//!
//! A program using this crate is `#![no_std] #![no_main]` and defines
//!
//! ```ignore
//! #[unsafe(no_mangle)]
//! extern "C" fn main(hartid: usize) -> ! { ... }
//! ```
//!
//! which `_start` calls with the hart id the machine passed in `a0`.
//!
//! Nothing here may use floating point: the emulator implements RV64IMAC
//! only, although the target (riscv64gc) would allow F/D instructions.

#![no_std]

pub mod check;
pub mod csr;
pub mod enc;
pub mod finisher;
pub mod lower;
pub mod pte;
pub mod trap;
pub mod uart;

use core::arch::global_asm;
use core::fmt::Write;
use core::panic::PanicInfo;

// Entry point, placed first in the image by link.x (`.text.init`).
//
// The machine enters here in M-mode with the hart id in a0 and nothing else
// set up: no stack, .bss not cleared. Only t0/t1 are used as scratch so that
// a0 reaches `main` untouched.
global_asm!(
    r#"
    .section .text.init, "ax"
    .global _start
_start:
    # gp must be loaded without linker relaxation, which would otherwise turn
    # this very instruction into a gp-relative one.
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop

    # Hart 0 boots; the others wait below until it has zeroed .bss.
    csrr    t0, mhartid
    bnez    t0, 3f

    la      sp, _stack_top

    # Zero .bss (8-byte aligned at both ends by link.x).
    la      t0, _bss_start
    la      t1, _bss_end
1:
    bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    # Release the other harts.
    fence   w, w
    la      t0, _boot_done
    li      t1, 1
    sw      t1, 0(t0)
    csrr    a0, mhartid
    call    main
    # `main` never returns; if it somehow does, park.
    j       5f

    # Other harts: wait for hart 0, take a 64 KiB stack above hart 0's
    # (stack top + hartid * 64 KiB) and call `secondary_main(hartid)`,
    # which parks unless the program defines it (link.x PROVIDEs it as
    # `_rt_park`).
3:
    la      t1, _boot_done
4:
    lw      t2, 0(t1)
    beqz    t2, 4b
    la      sp, _stack_top
    slli    t2, t0, 16
    add     sp, sp, t2
    mv      a0, t0
    call    secondary_main
    .global _rt_park
_rt_park:
5:
    wfi
    j       5b

    .section .data
    .balign 8
_boot_done:
    .word   0
"#
);

/// Reports the panic on the UART and exits with code 101 (Rust's
/// conventional "panicked" exit status), so a harness sees a failure
/// instead of a hang.
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    // The panic may come before the program initialised the UART.
    if !uart::is_initialized() {
        uart::init();
    }
    let _ = writeln!(uart::Uart, "panic: {info}");
    finisher::exit(101)
}
