//! Drives `crc32-dma` (devices/crc32-dma, a device written in C): fills a
//! buffer, starts the DMA, sleeps until the device's interrupt arrives,
//! and compares the device's CRC-32 with one computed here. Then points it
//! outside the granted memory and expects the error interrupt.
//!
//! Wiring (tests/integration/c_devices.rs):
//! `--device crc32-dma,addr=0x10030000,irq=hart0.meip,dma=ram,timers=on`
//! (the line drives hart 0's MEIP directly, no PLIC). Exit 0 on success.

#![no_std]
#![no_main]

use core::ptr::{addr_of, read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame, cause};
use rt::{csr, finisher, println, uart};

const BASE: usize = 0x1003_0000;
const ID: usize = 0x00;
const SRC_LO: usize = 0x04;
const SRC_HI: usize = 0x08;
const LEN: usize = 0x0c;
const CTRL: usize = 0x10;
const STATUS: usize = 0x14;
const RESULT: usize = 0x18;
const ERRCODE: usize = 0x1c;

const START: u32 = 1 << 0;
const IRQ_EN: u32 = 1 << 1;
const BUSY: u32 = 1 << 0;
const DONE: u32 = 1 << 1;
const ERROR: u32 = 1 << 2;

/// More than three of the device's 64 KiB chunks.
const N: usize = 200_000;
static mut BUF: [u8; N] = [0; N];

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// STATUS as the handler found it.
static SEEN: AtomicU32 = AtomicU32::new(0);

fn rd(off: usize) -> u32 {
    // SAFETY: a device register in the machine's MMIO space.
    unsafe { read_volatile((BASE + off) as *const u32) }
}

fn wr(off: usize, v: u32) {
    // SAFETY: as above.
    unsafe { write_volatile((BASE + off) as *mut u32, v) }
}

fn on_trap(_frame: &mut TrapFrame) {
    if csr::mcause() != cause::MACHINE_EXTERNAL_INTERRUPT {
        trap::unexpected();
    }
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    let status = rd(STATUS);
    SEEN.store(status, Ordering::Relaxed);
    // Acknowledge: the level-triggered line drops, or this trap would repeat.
    wr(STATUS, status & (DONE | ERROR));
}

/// CRC-32 (IEEE 802.3), bit by bit: nothing shared with the device's table.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = (c >> 1) ^ (0xedb8_8320 & (c & 1).wrapping_neg());
        }
    }
    !c
}

/// Start a transfer of `len` bytes at `addr` and sleep until the interrupt
/// has been taken; returns STATUS as the handler saw it. A long transfer
/// must read BUSY right after START (a short one may already be over: the
/// device works in virtual time, which instructions advance too).
fn transfer(addr: u64, len: u32, long: bool) -> u32 {
    let before = INTERRUPTS.load(Ordering::Relaxed);
    wr(SRC_LO, addr as u32);
    wr(SRC_HI, (addr >> 32) as u32);
    wr(LEN, len);
    csr::disable_interrupts();
    wr(CTRL, START | IRQ_EN);
    let status = rd(STATUS);
    if long && status & BUSY == 0 {
        println!("FAIL: STATUS {status:#x} right after START, expected BUSY");
        finisher::exit(1);
    }
    // Sleep with interrupts masked, so the interrupt cannot slip in between
    // the check and `wfi`; a pending one still wakes it and is taken as
    // soon as they are enabled again.
    while INTERRUPTS.load(Ordering::Relaxed) == before {
        csr::wfi();
        // SAFETY: the handler is installed.
        unsafe { csr::enable_interrupts() };
        csr::disable_interrupts();
    }
    SEEN.load(Ordering::Relaxed)
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    let id = rd(ID);
    println!("crc32-dma id = {id:#x}");
    if id != 0x4352_4344 {
        println!("FAIL: wrong ID");
        finisher::exit(1);
    }
    trap::install(on_trap);
    // SAFETY: the handler is installed.
    unsafe { csr::set_mie(csr::MIE_MEIE) };

    // SAFETY: single hart, and the device only reads BUF while we wait.
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let mut x: u32 = 0x1234_5678;
    for b in buf.iter_mut() {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *b = (x >> 24) as u8;
    }
    let want = crc32(buf);
    let status = transfer(addr_of!(BUF) as u64, N as u32, true);
    let got = rd(RESULT);
    println!("dma crc32 = {got:#010x}, guest crc32 = {want:#010x}, status {status:#x}");
    if got != want || status != DONE {
        println!("FAIL: mismatch");
        finisher::exit(1);
    }

    // Address 0x1000 is neither RAM nor granted: the engine must report it.
    let status = transfer(0x1000, 16, false);
    let code = rd(ERRCODE);
    println!("outside RAM: status {status:#x}, errcode {code}");
    if status != ERROR || code != 1 {
        println!("FAIL: expected ERROR with errcode 1 (denied)");
        finisher::exit(1);
    }
    if rd(STATUS) != 0 {
        println!("FAIL: STATUS not clear after acknowledging");
        finisher::exit(1);
    }
    println!("crc32-dma: ok after {} interrupts", INTERRUPTS.load(Ordering::Relaxed));
    finisher::exit(0)
}
