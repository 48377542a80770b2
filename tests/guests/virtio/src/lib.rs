//! A minimal polled virtio-mmio driver (virtio 1.1 §3.1.1, §4.2.3, §5.2)
//! shared by the `virtio` and `virtio-code` guests: register access, one
//! device with queue 0, virtio-blk requests.
//!
//! Rings and buffers live at fixed addresses above the image (RAM at
//! 0x8000_0000, image and stack in its first MiB).

#![no_std]

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{Ordering, fence};

use rt::{finisher, println};

pub const SLOT0: usize = 0x1000_1000;
pub const SLOTS: usize = 8;
pub const RTC: usize = 0x10_1000;

// virtio-mmio registers (§4.2.2).
const MAGIC: usize = 0x000;
const VERSION: usize = 0x004;
pub const DEVICE_ID: usize = 0x008;
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
pub const CONFIG: usize = 0x100;

const S_ACK: u32 = 1;
const S_DRIVER: u32 = 2;
const S_DRIVER_OK: u32 = 4;
const S_FEATURES_OK: u32 = 8;

const F_VERSION_1: u64 = 1 << 32;
pub const F_BLK_FLUSH: u64 = 1 << 9;
pub const F_BLK_RO: u64 = 1 << 5;

const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;

pub const T_IN: u32 = 0;
pub const T_OUT: u32 = 1;
pub const T_FLUSH: u32 = 4;
pub const T_GET_ID: u32 = 8;

/// Queue size the driver uses (any power of 2 up to QueueNumMax).
const QN: u16 = 8;

/// Guest memory for one device's queue and buffers: slot `n` gets
/// 0x8010_0000 + n * 0x10_0000.
pub const fn area(slot: usize) -> usize {
    0x8010_0000 + slot * 0x10_0000
}

pub fn r32(addr: usize) -> u32 {
    // SAFETY: MMIO registers and RAM at fixed addresses of the virt machine.
    unsafe { read_volatile(addr as *const u32) }
}
pub fn w32(addr: usize, v: u32) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u32, v) }
}
pub fn w16(addr: usize, v: u16) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u16, v) }
}
pub fn r16(addr: usize) -> u16 {
    // SAFETY: as in `r32`.
    unsafe { read_volatile(addr as *const u16) }
}
pub fn w64(addr: usize, v: u64) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u64, v) }
}
pub fn r8(addr: usize) -> u8 {
    // SAFETY: as in `r32`.
    unsafe { read_volatile(addr as *const u8) }
}
pub fn w8(addr: usize, v: u8) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u8, v) }
}

pub fn rdtime() -> u64 {
    let t: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { core::arch::asm!("csrr {0}, time", out(reg) t, options(nomem, nostack)) };
    t
}

pub fn fail(what: &str) -> ! {
    println!("FAIL: {what}");
    finisher::exit(1)
}

/// One virtio device with queue 0 set up, driven by polling.
pub struct Virtio {
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
    pub fn buf(&self) -> usize {
        self.mem + 0x4000
    }

    /// §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0,
    /// DRIVER_OK. `want` are the device-type features to accept if offered.
    pub fn init(base: usize, mem: usize, want: u64) -> (Virtio, u64) {
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
    pub fn request(&mut self, bufs: &[(usize, u32, bool)]) -> u32 {
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

/// The base address of the first virtio-mmio slot holding device `id`
/// (2 = block, 4 = entropy).
pub fn find(id: u32) -> Option<usize> {
    (0..SLOTS).map(|i| SLOT0 + 0x1000 * i).find(|&base| r32(base + DEVICE_ID) == id)
}

/// A virtio-blk request: header, optional data, status. Returns the status.
pub fn blk(dev: &mut Virtio, ty: u32, sector: u64, data: usize, len: u32) -> u8 {
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
