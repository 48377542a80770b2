//! Drives virt's virtio-mmio slots and goldfish RTC by polling, as a
//! minimal driver would (virtio 1.1 §3.1.1, §4.2.3, §5.2, §5.4): lists the
//! device ID of every slot, then on the first virtio-blk negotiates
//! features, sets up a queue, reads sector 0 and prints it, asks for the
//! serial, writes sector 1, flushes, reads it back, and times 4 KiB reads;
//! reads entropy from the first virtio-rng (if any); and reads the
//! RTC before and after. Ends with `virtio ok` and exit 0, or a line
//! saying what failed and exit 1. The driver is this crate's library.

#![no_std]
#![no_main]

use rt::{finisher, println, uart};
use virtio::{
    CONFIG, DEVICE_ID, F_BLK_FLUSH, F_BLK_RO, RTC, SLOT0, SLOTS, T_FLUSH, T_GET_ID, T_IN, T_OUT, Virtio,
    area, blk, fail, r8, r32, rdtime, w8,
};

fn print_str(addr: usize, max: usize) {
    for i in 0..max {
        let c = r8(addr + i);
        if c == 0 {
            break;
        }
        uart::putc(c);
    }
}

fn rtc_ns() -> u64 {
    let lo = r32(RTC); // latches TIME_HIGH
    (u64::from(r32(RTC + 4)) << 32) | u64::from(lo)
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("virtio guest ready");
    let t0 = rtc_ns();
    println!("rtc: {}.{:09}", t0 / 1_000_000_000, t0 % 1_000_000_000);

    let mut ids = [0u32; SLOTS];
    for (i, id) in ids.iter_mut().enumerate() {
        *id = r32(SLOT0 + 0x1000 * i + DEVICE_ID);
        println!("slot {i} @ {:#x}: device id {id}", SLOT0 + 0x1000 * i);
    }

    // The first slot holding a virtio-blk (wemu's test board: slot 0;
    // QEMU plugs `-device`s in from the last slot down).
    let Some(b) = ids.iter().position(|&id| id == 2) else { fail("no virtio-blk") };
    let blk_base = SLOT0 + 0x1000 * b;
    let (mut disk, offered) = Virtio::init(blk_base, area(b), F_BLK_FLUSH);
    println!("blk: features {offered:#x}");
    let capacity = u64::from(r32(blk_base + CONFIG)) | (u64::from(r32(blk_base + CONFIG + 4)) << 32);
    println!("blk: capacity {capacity} sectors{}", if offered & F_BLK_RO != 0 { ", read-only" } else { "" });

    let data = disk.buf() + 0x1000;
    if blk(&mut disk, T_IN, 0, data, 512) != 0 {
        fail("reading sector 0");
    }
    uart::puts("blk: sector 0: ");
    print_str(data, 512);
    println!();

    if blk(&mut disk, T_GET_ID, 0, data, 20) != 0 {
        fail("GET_ID");
    }
    uart::puts("blk: serial ");
    print_str(data, 20);
    println!();

    let msg = b"written by the virtio guest";
    for i in 0..512 {
        w8(data + i, msg.get(i).copied().unwrap_or(i as u8));
    }
    let st = blk(&mut disk, T_OUT, 1, data, 512);
    let flush = blk(&mut disk, T_FLUSH, 0, 0, 0);
    println!("blk: write sector 1 status {st}, flush status {flush}");
    for i in 0..512 {
        w8(data + i, 0);
    }
    if blk(&mut disk, T_IN, 1, data, 512) != 0 {
        fail("reading sector 1 back");
    }
    let same = (0..512).all(|i| r8(data + i) == msg.get(i).copied().unwrap_or(i as u8));
    println!("blk: read back sector 1: {}", if same { "same" } else { "DIFFERENT" });
    println!("blk: read past the end: status {}", blk(&mut disk, T_IN, capacity, data, 512));
    println!("blk: unsupported request: status {}", blk(&mut disk, 0x7777, 0, 0, 0));

    const READS: u64 = 100;
    let start = rdtime();
    for _ in 0..READS {
        if blk(&mut disk, T_IN, 8, data, 4096) != 0 {
            fail("4 KiB read");
        }
    }
    let ticks = rdtime() - start;
    // timebase 10 MHz: one tick is 100 ns of virtual time.
    println!("blk: {READS} reads of 4 KiB took {} ns of virtual time", ticks * 100);

    if let Some(r) = ids.iter().position(|&id| id == 4) {
        let (mut rng, _) = Virtio::init(SLOT0 + 0x1000 * r, area(r), 0);
        let buf = rng.buf();
        let got = rng.request(&[(buf, 16, true)]);
        uart::puts("rng:");
        for i in 0..got as usize {
            rt::print!(" {:02x}", r8(buf + i));
        }
        println!();
    }

    let t1 = rtc_ns();
    println!("rtc: {}.{:09}", t1 / 1_000_000_000, t1 % 1_000_000_000);
    if t1 <= t0 {
        fail("RTC did not advance");
    }
    println!("virtio ok");
    finisher::exit(0)
}
