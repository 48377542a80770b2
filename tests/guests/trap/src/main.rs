//! Takes three synchronous traps and resumes after each:
//!   (a) an illegal instruction (4 bytes),
//!   (b) a load from 0x4000_0000, where nothing is mapped (a compressed
//!       `c.ld`, so the handler's 2-byte skip is exercised too; the `qemu`
//!       feature picks another address, see `UNMAPPED`),
//!   (c) an `ecall` from M-mode.
//! The handler prints one line per trap and advances mepc past the trapping
//! instruction. If the causes seen are exactly the expected three, prints
//! "traps ok" and exits 0; otherwise reports them and exits 1.

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame, cause};
use rt::{csr, finisher, println, uart};

/// Address with nothing mapped in wemu's test machine.
#[cfg(not(feature = "qemu"))]
const UNMAPPED: usize = 0x4000_0000;
/// QEMU's virt machine has its PCIe MMIO window at 0x4000_0000 (loads there
/// succeed), so use a hole in its memory map instead.
#[cfg(feature = "qemu")]
const UNMAPPED: usize = 0x0800_0000;

const EXPECTED: [usize; 3] = [cause::ILLEGAL_INSTRUCTION, cause::LOAD_ACCESS_FAULT, cause::ECALL_FROM_M];

/// Causes recorded by the handler, in order. Atomics only to share them with
/// the handler without `static mut`; there is a single hart and traps do not
/// nest, so plain loads and stores suffice.
static SEEN: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn on_trap(_frame: &mut TrapFrame) {
    let mcause = csr::mcause();
    println!("trap mcause={:#x} mepc={:#x} mtval={:#x}", mcause, csr::mepc(), csr::mtval());
    let n = COUNT.load(Ordering::Relaxed);
    if let Some(slot) = SEEN.get(n) {
        slot.store(mcause, Ordering::Relaxed);
    }
    COUNT.store(n + 1, Ordering::Relaxed);
    if mcause & cause::INTERRUPT != 0 {
        // Nothing enables interrupts here; returning would not clear it.
        trap::unexpected();
    }
    trap::skip_faulting_instruction();
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    trap::install(on_trap);

    // SAFETY: each instruction traps and the handler resumes after it; no
    // registers or memory are changed except the load's destination, which
    // is declared as an output.
    unsafe {
        // (a) 0xffffffff is illegal on every RISC-V implementation.
        asm!(".4byte 0xffffffff");

        // (b) a0 is both base and destination so the assembler can use the
        // compressed c.ld encoding (registers x8-x15, offset 0).
        let _value: usize;
        asm!("ld a0, 0(a0)", inlateout("a0") UNMAPPED => _value);

        // (c) environment call from M-mode.
        asm!("ecall");
    }

    let count = COUNT.load(Ordering::Relaxed);
    let seen = SEEN.each_ref().map(|slot| slot.load(Ordering::Relaxed));
    if count == EXPECTED.len() && seen[..count] == EXPECTED {
        println!("traps ok");
        finisher::exit(0)
    }
    println!(
        "traps FAILED: expected causes {:?}, saw {} traps: {:?}",
        EXPECTED,
        count,
        &seen[..count.min(seen.len())]
    );
    finisher::exit(1)
}
