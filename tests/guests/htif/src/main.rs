//! Talks to the host only through HTIF (Spike's tohost/fromhost
//! convention, used by the standard RISC-V test programs): prints a line
//! with the console device, one character per request, then exits with
//! code 5 through device 0. No UART, no finisher.

#![no_std]
#![no_main]

use core::ptr::{addr_of_mut, read_volatile, write_volatile};

// The runtime: `_start`, stack, .bss, panic handler.
use rt as _;

// The host finds these by symbol name in the ELF.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".tohost")]
static mut tohost: u64 = 0;
#[unsafe(no_mangle)]
#[unsafe(link_section = ".tohost")]
static mut fromhost: u64 = 0;

/// One HTIF request: `device << 56 | command << 48 | payload`. Waits for
/// the host's acknowledgement in `fromhost` for requests that get one.
fn request(device: u64, command: u64, payload: u64, wait_ack: bool) {
    // SAFETY: single hart; the host reads and clears these between our
    // stores, which is what the volatile accesses are for.
    unsafe {
        write_volatile(addr_of_mut!(tohost), (device << 56) | (command << 48) | payload);
        if wait_ack {
            while read_volatile(addr_of_mut!(fromhost)) == 0 {}
            write_volatile(addr_of_mut!(fromhost), 0);
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    for &b in b"htif console works\n" {
        request(1, 1, u64::from(b), true);
    }
    // Device 0, command 0, odd payload: exit with payload >> 1.
    request(0, 0, (5 << 1) | 1, false);
    loop {
        core::hint::spin_loop();
    }
}
