//! Drives the JavaScript doorbell device (`devices/doorbell-js`) at
//! 0x1002_0000, its interrupt line wired straight to hart 0's MEIP:
//!
//! `wemu run --device-path DIR --device doorbell-js,addr=0x10020000,irq=hart0.meip,scratch=0x1234`
//!
//! Checks the ID, the `scratch` property's reset value, scratch
//! read-back, that a byte access faults (the device refuses the size), a
//! doorbell taken as an interrupt whose handler acknowledges it, and the
//! line's level seen in `mip` with interrupts masked. Exit status 0; 1 if
//! a check fails, 13 on an unexpected trap.

#![no_std]
#![no_main]

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame, cause};
use rt::{check, check_eq, csr, println, uart};

const BASE: usize = 0x1002_0000;
const ID: usize = 0x00;
const SCRATCH: usize = 0x04;
const DOORBELL: usize = 0x08;
const STATUS: usize = 0x0c;
const RINGS: usize = 0x10;

const MIP_MEIP: usize = 1 << 11;

fn rd(off: usize) -> u32 {
    // SAFETY: the device's register window; MMIO has no Rust-visible effects.
    unsafe { read_volatile((BASE + off) as *const u32) }
}

fn wr(off: usize, v: u32) {
    // SAFETY: as `rd`.
    unsafe { write_volatile((BASE + off) as *mut u32, v) }
}

fn mip() -> usize {
    let v: usize;
    // SAFETY: reading mip has no side effects.
    unsafe { asm!("csrr {0}, mip", out(reg) v, options(nomem, nostack)) };
    v
}

/// External interrupts taken, and the STATUS each one saw.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
static SEEN: AtomicU32 = AtomicU32::new(0);
/// Load access faults taken (each skips the faulting load).
static LOAD_FAULTS: AtomicUsize = AtomicUsize::new(0);

fn on_trap(_frame: &mut TrapFrame) {
    match csr::mcause() {
        cause::MACHINE_EXTERNAL_INTERRUPT => {
            INTERRUPTS.fetch_add(1, Ordering::Relaxed);
            let status = rd(STATUS);
            SEEN.store(status, Ordering::Relaxed);
            // Acknowledge: STATUS is write-1-to-clear and the line is
            // level-triggered, so it drops before mret.
            wr(STATUS, status);
        }
        cause::LOAD_ACCESS_FAULT => {
            LOAD_FAULTS.fetch_add(1, Ordering::Relaxed);
            trap::skip_faulting_instruction();
        }
        _ => trap::unexpected(),
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("doorbell-js guest");
    trap::install(on_trap);

    check_eq!(rd(ID), 0x4a53_4442, "ID");
    check_eq!(rd(SCRATCH), 0x1234, "SCRATCH after reset (property scratch=0x1234)");
    wr(SCRATCH, 0xdead_beef);
    check_eq!(rd(SCRATCH), 0xdead_beef, "SCRATCH after write");
    check_eq!(rd(STATUS), 0, "STATUS after reset");
    check_eq!(rd(RINGS), 0, "RINGS after reset");

    // SAFETY: a byte read of a device register; the device refuses the
    // size and the handler skips the faulting load.
    let _ = unsafe { read_volatile((BASE + ID) as *const u8) };
    check_eq!(LOAD_FAULTS.load(Ordering::Relaxed), 1, "load access faults after a byte read");

    // A ring with interrupts enabled is taken at once and acknowledged
    // by the handler.
    // SAFETY: the handler is installed.
    unsafe {
        csr::set_mie(csr::MIE_MEIE);
        csr::enable_interrupts();
    }
    wr(DOORBELL, 0x5);
    csr::disable_interrupts();
    check_eq!(INTERRUPTS.load(Ordering::Relaxed), 1, "interrupts after ringing 0x5");
    check_eq!(SEEN.load(Ordering::Relaxed), 0x5, "STATUS seen by the handler");
    check_eq!(rd(STATUS), 0, "STATUS after the handler's acknowledge");
    check_eq!(rd(RINGS), 1, "RINGS after one ring");

    // With interrupts masked the line is visible in mip until acknowledged.
    wr(DOORBELL, 0x2);
    wr(DOORBELL, 0x8);
    wr(DOORBELL, 0); // a zero write is not a ring
    check!(mip() & MIP_MEIP != 0, "mip.MEIP set while STATUS = {:#x}", rd(STATUS));
    check_eq!(rd(STATUS), 0xa, "STATUS after ringing 0x2 and 0x8");
    wr(STATUS, 0x2);
    check!(mip() & MIP_MEIP != 0, "mip.MEIP still set with STATUS = {:#x}", rd(STATUS));
    wr(STATUS, 0x8);
    check!(mip() & MIP_MEIP == 0, "mip.MEIP clear once STATUS = {:#x}", rd(STATUS));
    check_eq!(rd(RINGS), 3, "RINGS after three rings");
    check_eq!(INTERRUPTS.load(Ordering::Relaxed), 1, "no interrupt taken while masked");

    rt::check::finish()
}
