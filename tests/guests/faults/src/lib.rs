//! What both fault guests share: the `faulty` test device
//! (tests/devices/faulty), placed at `0x1002_0000` with its IRQ line on
//! PLIC source 12 (`--device faulty,addr=0x10020000,irq=12,timers=on`),
//! and the PLIC's context 0 (hart 0, M-mode), polled with interrupts off.

#![no_std]

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};

/// The faulty device's registers.
pub const DEV: usize = 0x1002_0000;
pub const CMD: usize = DEV;
pub const RESULT: usize = DEV + 8;
pub const SCRATCH: usize = DEV + 0x10;

/// Commands (see tests/devices/faulty).
pub const CMD_PANIC: u64 = 1;
pub const CMD_RAISE: u64 = 6;
pub const CMD_STORM: u64 = 11;
pub const CMD_LONG_TIMER: u64 = 12;

const PLIC: usize = 0x0c00_0000;
pub const SOURCE: usize = 12;
const PENDING: usize = PLIC + 0x1000;
const ENABLE0: usize = PLIC + 0x2000;
const THRESHOLD0: usize = PLIC + 0x20_0000;
const CLAIM0: usize = THRESHOLD0 + 4;

pub fn r8(addr: usize) -> u8 {
    // SAFETY: MMIO registers of the test machine (RAM-free addresses).
    unsafe { read_volatile(addr as *const u8) }
}
pub fn r32(addr: usize) -> u32 {
    // SAFETY: as in `r8`.
    unsafe { read_volatile(addr as *const u32) }
}
pub fn r64(addr: usize) -> u64 {
    // SAFETY: as in `r8`.
    unsafe { read_volatile(addr as *const u64) }
}
pub fn w32(addr: usize, v: u32) {
    // SAFETY: as in `r8`.
    unsafe { write_volatile(addr as *mut u32, v) }
}
pub fn w64(addr: usize, v: u64) {
    // SAFETY: as in `r8`.
    unsafe { write_volatile(addr as *mut u64, v) }
}

/// Source 12 at priority 1, enabled for context 0, threshold 0. Interrupts
/// stay masked (mie.MEIE clear): the guest polls pending and claims.
pub fn plic_setup() {
    w32(PLIC + 4 * SOURCE, 1);
    w32(ENABLE0 + 4 * (SOURCE / 32), 1 << (SOURCE % 32));
    w32(THRESHOLD0, 0);
}

/// Whether source 12 is pending in the PLIC.
pub fn pending() -> u32 {
    (r32(PENDING + 4 * (SOURCE / 32)) >> (SOURCE % 32)) & 1
}

/// Claim the best pending source of context 0 and complete it at once:
/// the PLIC pends a source again on completion while its line is still
/// high, so `pending()` afterwards tells whether the line is high.
pub fn claim_and_complete() -> u32 {
    let source = r32(CLAIM0);
    w32(CLAIM0, source);
    source
}

/// Let `us` microseconds of virtual time pass (`time` ticks at 10 MHz).
pub fn wait_us(us: u64) {
    let start = rdtime();
    while rdtime().wrapping_sub(start) < us * 10 {}
}

fn rdtime() -> u64 {
    let t: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { asm!("rdtime {0}", out(reg) t, options(nomem, nostack)) };
    t
}
