//! Code written into RAM by a device's DMA, then executed: the program
//! writes two versions of a small function to sectors 0 and 1 of a
//! virtio-blk disk, has the device read sector 0 into `CODE`, runs it
//! until it is hot (translated, under the JIT), has the device read
//! sector 1 over it, runs it once without FENCE.I (RISC-V lets the hart
//! run the old or the new instructions; wemu runs what its instruction
//! cache decoded, under both tiers alike: the line says which), then
//! after FENCE.I until hot again. Needs a disk of at least 2 sectors
//! (`tests/machines/virt-virtio.toml` and `--device
//! virtio-blk,id=virtio0,block=IMG`); its contents do not matter.
//!
//! Prints each sum; exit 1 after `FAIL: …` if one is wrong.

#![no_std]
#![no_main]

use rt::enc::{A0, A1, ZERO, addi, bne};
use rt::{finisher, println, uart};
use virtio::{SLOT0, T_IN, T_OUT, Virtio, area, blk, fail, w32};

/// Where the device puts the code (RAM, writable and executable in M-mode).
#[repr(C, align(4096))]
struct Code([u32; 1024]);
#[unsafe(no_mangle)] // found by name by tests/integration/jit_cases.rs
static mut CODE: Code = Code([0; 1024]);

const RET: u32 = 0x0000_8067;
const SECTOR: u32 = 512;

/// Version 1: `a0 += 1`, `a1` times; version 2: `a0 += 3; a0 += 4`,
/// `a1` times. The instructions and how many are used.
fn code(v: u32) -> ([u32; 5], usize) {
    if v == 1 {
        ([addi(A0, A0, 1), addi(A1, A1, -1), bne(A1, ZERO, -8), RET, 0], 4)
    } else {
        ([addi(A0, A0, 3), addi(A0, A0, 4), addi(A1, A1, -1), bne(A1, ZERO, -12), RET], 5)
    }
}

fn call(a0: u64, times: u64) -> u64 {
    // SAFETY: CODE holds a function following the calling convention
    // (reads a0, a1; returns a0), put there by the device.
    let f: extern "C" fn(u64, u64) -> u64 = unsafe { core::mem::transmute(core::ptr::addr_of!(CODE.0)) };
    f(a0, times)
}

fn fence_i() {
    // SAFETY: fence.i has no other effect.
    unsafe { core::arch::asm!("fence.i") };
}

/// Calls the function 5000 times, 3 iterations each.
fn hot() -> u64 {
    (0..5000).fold(0, |sum, _| call(sum, 3))
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    let Some(base) = virtio::find(2) else { fail("no virtio-blk") };
    let (mut disk, _) = Virtio::init(base, area((base - SLOT0) / 0x1000), 0);
    let staging = disk.buf() + 0x1000;
    for v in [1, 2] {
        let (words, len) = code(v);
        for i in 0..SECTOR as usize / 4 {
            w32(staging + 4 * i, words.get(i).filter(|_| i < len).copied().unwrap_or(0));
        }
        if blk(&mut disk, T_OUT, u64::from(v - 1), staging, SECTOR) != 0 {
            fail("writing the code to the disk");
        }
    }
    let code_at = core::ptr::addr_of!(CODE) as usize;

    if blk(&mut disk, T_IN, 0, code_at, SECTOR) != 0 {
        fail("reading version 1 into CODE");
    }
    fence_i();
    let sum = hot();
    println!("version 1, read by DMA: {sum}");
    let mut ok = sum == 15000;

    if blk(&mut disk, T_IN, 1, code_at, SECTOR) != 0 {
        fail("reading version 2 over it");
    }
    let stale = call(0, 10);
    println!("version 2 read over it, without fence.i: {stale} (10 if the old code ran, 70 if the new)");
    ok &= stale == 10 || stale == 70;

    fence_i();
    let sum = hot();
    println!("after fence.i: {sum}");
    ok &= sum == 105_000;
    if !ok {
        fail("a sum is wrong");
    }
    println!("virtio-code ok");
    finisher::exit(0)
}
