//! Drives virt's virtio-mmio slots and goldfish RTC by polling, as a
//! minimal driver would (virtio 1.1 §3.1.1, §4.2.3, §5.2, §5.4): lists the
//! device ID of every slot, then on the first virtio-blk negotiates
//! features, sets up a queue, reads sector 0 and prints it, asks for the
//! serial, writes sector 1, flushes, reads it back, and times 4 KiB reads;
//! reads entropy from the first virtio-rng (if any); and reads the
//! RTC before and after. Ends with `virtio ok` and exit 0, or a line
//! saying what failed and exit 1.
//!
//! Rings and buffers live at fixed addresses above the image (RAM at
//! 0x8000_0000, image and stack in its first MiB).

#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{Ordering, fence};

use rt::{finisher, println, uart};

const SLOT0: usize = 0x1000_1000;
const SLOTS: usize = 8;
const RTC: usize = 0x10_1000;

// virtio-mmio registers (§4.2.2).
const MAGIC: usize = 0x000;
const VERSION: usize = 0x004;
const DEVICE_ID: usize = 0x008;
const DEVICE_FEATURES: usize = 0x010;
const DEVICE_FEATURES_SEL: usize = 0x014;
const DRIVER_FEATURES: usize = 0x020;
const DRIVER_FEATURES_SEL: usize = 0x024;
const QUEUE_SEL: usize = 0x030;
const QUEUE_NUM_MAX: usize = 0x034;
const QUEUE_NUM: usize = 0x038;
const QUEUE_READY: usize = 0x044;
const QUEUE_NOTIFY: usize = 0x050;
const INTERRUPT_STATUS: usize = 0x060;
const INTERRUPT_ACK: usize = 0x064;
const STATUS: usize = 0x070;
const QUEUE_DESC: usize = 0x080;
const QUEUE_DRIVER: usize = 0x090;
const QUEUE_DEVICE: usize = 0x0a0;
const CONFIG: usize = 0x100;

const S_ACK: u32 = 1;
const S_DRIVER: u32 = 2;
const S_DRIVER_OK: u32 = 4;
const S_FEATURES_OK: u32 = 8;

const F_VERSION_1: u64 = 1 << 32;
const F_BLK_FLUSH: u64 = 1 << 9;
const F_BLK_RO: u64 = 1 << 5;

const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

/// Queue size the driver uses (any power of 2 up to QueueNumMax).
const QN: u16 = 8;

/// Guest memory for one device's queue and buffers: slot `n` gets
/// 0x8010_0000 + n * 0x10_0000.
const fn area(slot: usize) -> usize {
    0x8010_0000 + slot * 0x10_0000
}

fn r32(addr: usize) -> u32 {
    // SAFETY: MMIO registers and RAM at fixed addresses of the virt machine.
    unsafe { read_volatile(addr as *const u32) }
}
fn w32(addr: usize, v: u32) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u32, v) }
}
fn w16(addr: usize, v: u16) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u16, v) }
}
fn r16(addr: usize) -> u16 {
    // SAFETY: as in `r32`.
    unsafe { read_volatile(addr as *const u16) }
}
fn w64(addr: usize, v: u64) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u64, v) }
}
fn r8(addr: usize) -> u8 {
    // SAFETY: as in `r32`.
    unsafe { read_volatile(addr as *const u8) }
}
fn w8(addr: usize, v: u8) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u8, v) }
}

fn rdtime() -> u64 {
    let t: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { core::arch::asm!("csrr {0}, time", out(reg) t, options(nomem, nostack)) };
    t
}

fn fail(what: &str) -> ! {
    println!("FAIL: {what}");
    finisher::exit(1)
}

/// One virtio device with queue 0 set up, driven by polling.
struct Virtio {
    base: usize,
    mem: usize,
    avail_idx: u16,
    used_seen: u16,
}

impl Virtio {
    fn desc(&self) -> usize {
        self.mem
    }
    fn avail(&self) -> usize {
        self.mem + 0x1000
    }
    fn used(&self) -> usize {
        self.mem + 0x2000
    }
    /// Scratch buffers start here.
    fn buf(&self) -> usize {
        self.mem + 0x4000
    }

    /// §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0,
    /// DRIVER_OK. `want` are the device-type features to accept if offered.
    fn init(base: usize, mem: usize, want: u64) -> (Virtio, u64) {
        let reg = |off| base + off;
        if r32(reg(MAGIC)) != 0x7472_6976 || r32(reg(VERSION)) != 2 {
            fail("not a virtio-mmio version 2 device");
        }
        w32(reg(STATUS), 0);
        w32(reg(STATUS), S_ACK);
        w32(reg(STATUS), S_ACK | S_DRIVER);
        w32(reg(DEVICE_FEATURES_SEL), 0);
        let lo = r32(reg(DEVICE_FEATURES));
        w32(reg(DEVICE_FEATURES_SEL), 1);
        let offered = (u64::from(r32(reg(DEVICE_FEATURES))) << 32) | u64::from(lo);
        let accept = offered & (want | F_VERSION_1);
        w32(reg(DRIVER_FEATURES_SEL), 0);
        w32(reg(DRIVER_FEATURES), accept as u32);
        w32(reg(DRIVER_FEATURES_SEL), 1);
        w32(reg(DRIVER_FEATURES), (accept >> 32) as u32);
        w32(reg(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
        if r32(reg(STATUS)) & S_FEATURES_OK == 0 {
            fail("device refused FEATURES_OK");
        }
        let dev = Virtio { base, mem, avail_idx: 0, used_seen: 0 };
        for off in (0..0x4000).step_by(8) {
            w64(mem + off, 0);
        }
        w32(reg(QUEUE_SEL), 0);
        if r32(reg(QUEUE_NUM_MAX)) < u32::from(QN) {
            fail("queue too small");
        }
        w32(reg(QUEUE_NUM), u32::from(QN));
        for (off, addr) in [(QUEUE_DESC, dev.desc()), (QUEUE_DRIVER, dev.avail()), (QUEUE_DEVICE, dev.used())]
        {
            w32(reg(off), addr as u32);
            w32(reg(off + 4), (addr as u64 >> 32) as u32);
        }
        w32(reg(QUEUE_READY), 1);
        w32(reg(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        (dev, offered)
    }

    /// Post a chain of `(addr, len, device-writable)` buffers, kick, and
    /// poll until it is used; returns the used length.
    fn request(&mut self, bufs: &[(usize, u32, bool)]) -> u32 {
        for (i, &(addr, len, writable)) in bufs.iter().enumerate() {
            let d = self.desc() + 16 * i;
            let more = i + 1 < bufs.len();
            w64(d, addr as u64);
            w32(d + 8, len);
            w16(d + 12, if writable { DESC_F_WRITE } else { 0 } | if more { DESC_F_NEXT } else { 0 });
            w16(d + 14, i as u16 + 1);
        }
        w16(self.avail() + 4 + 2 * usize::from(self.avail_idx % QN), 0);
        fence(Ordering::SeqCst); // ring entry before idx (§2.6.13)
        self.avail_idx = self.avail_idx.wrapping_add(1);
        w16(self.avail() + 2, self.avail_idx);
        fence(Ordering::SeqCst);
        w32(self.base + QUEUE_NOTIFY, 0);
        let mut spins = 0u32;
        while r16(self.used() + 2) == self.used_seen {
            spins += 1;
            if spins > 200_000_000 {
                fail("request never completed");
            }
        }
        fence(Ordering::SeqCst);
        let elem = self.used() + 4 + 8 * usize::from(self.used_seen % QN);
        self.used_seen = self.used_seen.wrapping_add(1);
        let isr = r32(self.base + INTERRUPT_STATUS);
        if isr & 1 == 0 {
            fail("no used-buffer interrupt status");
        }
        w32(self.base + INTERRUPT_ACK, isr);
        r32(elem + 4)
    }
}

/// A virtio-blk request: header, optional data, status. Returns the status.
fn blk(dev: &mut Virtio, ty: u32, sector: u64, data: usize, len: u32) -> u8 {
    let hdr = dev.buf();
    let status = hdr + 16;
    w32(hdr, ty);
    w32(hdr + 4, 0);
    w64(hdr + 8, sector);
    w8(status, 0xff);
    let dev_writes = ty != T_OUT;
    let used = if len > 0 {
        dev.request(&[(hdr, 16, false), (data, len, dev_writes), (status, 1, true)])
    } else {
        dev.request(&[(hdr, 16, false), (status, 1, true)])
    };
    let expect = if dev_writes { len + 1 } else { 1 };
    let st = r8(status);
    if st == 0 && used != expect {
        println!("used len {used}, expected {expect}");
        fail("wrong used length");
    }
    st
}

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
