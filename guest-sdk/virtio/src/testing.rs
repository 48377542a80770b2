//! A scripted virtio driver for native unit tests: it lays out rings and
//! buffers in the [`TestHost`]'s DMA memory and talks to a device through
//! its MMIO registers, as a guest driver would.
//!
//! Queue `q` lives at `RAM_BASE + q * 0x4000` (descriptor table at +0,
//! driver area at +0x1000, device area at +0x2000; sizes up to 256).
//! Buffers are allocated upwards from `RAM_BASE + 1 MiB`.

use wemu_device_sdk::Device;
use wemu_device_sdk::testing::TestHost;

use crate::queue::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, Seg};
use crate::{feature, reg, status};

pub const RAM_BASE: u64 = 0x8000_0000;
pub const RAM_SIZE: usize = 4 << 20;

/// One buffer of a request: bytes for the device, or room for its answer.
#[derive(Debug, Clone)]
pub enum Buf {
    Out(Vec<u8>),
    In(u32),
}

/// Where queue `q`'s descriptor table, driver area and device area are.
pub fn rings(q: u16) -> (u64, u64, u64) {
    let base = RAM_BASE + u64::from(q) * 0x4000;
    (base, base + 0x1000, base + 0x2000)
}

/// The driver side of one device.
#[derive(Debug, Default)]
pub struct Driver {
    nums: Vec<u16>,
    next_desc: Vec<u16>,
    avail_idx: Vec<u16>,
    used_seen: Vec<u16>,
    next_buf: u64,
}

/// Read a 32-bit register.
pub fn rd<D: Device>(dev: &mut D, off: u64) -> u32 {
    dev.read(0, off, 4).expect("register read") as u32
}

/// Write a 32-bit register.
pub fn wr<D: Device>(dev: &mut D, off: u64, v: u32) {
    dev.write(0, off, 4, u64::from(v)).expect("register write");
}

/// Guest memory.
pub fn mem(addr: u64, len: usize) -> Vec<u8> {
    TestHost::with(|h| {
        let at = (addr - h.dma_base) as usize;
        h.dma_mem[at..at + len].to_vec()
    })
}

/// Write guest memory.
pub fn poke(addr: u64, bytes: &[u8]) {
    TestHost::with(|h| {
        let at = (addr - h.dma_base) as usize;
        h.dma_mem[at..at + bytes.len()].copy_from_slice(bytes);
    });
}

fn le16(addr: u64) -> u16 {
    let b = mem(addr, 2);
    u16::from_le_bytes([b[0], b[1]])
}

impl Driver {
    /// A driver with fresh guest RAM in the TestHost (other TestHost state,
    /// e.g. block images, is kept).
    pub fn new() -> Self {
        TestHost::with(|h| {
            h.dma_base = RAM_BASE;
            h.dma_mem = vec![0; RAM_SIZE];
        });
        Driver { next_buf: RAM_BASE + (1 << 20), ..Default::default() }
    }

    /// Reset, ACKNOWLEDGE, DRIVER, write `features`, FEATURES_OK; returns
    /// the status read back (FEATURES_OK is clear if the device refused).
    pub fn negotiate<D: Device>(&mut self, dev: &mut D, features: u64) -> u32 {
        wr(dev, reg::STATUS, 0);
        wr(dev, reg::STATUS, status::ACKNOWLEDGE);
        wr(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        wr(dev, reg::DRIVER_FEATURES_SEL, 0);
        wr(dev, reg::DRIVER_FEATURES, features as u32);
        wr(dev, reg::DRIVER_FEATURES_SEL, 1);
        wr(dev, reg::DRIVER_FEATURES, (features >> 32) as u32);
        wr(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        rd(dev, reg::STATUS)
    }

    /// The device's offered features.
    pub fn device_features<D: Device>(dev: &mut D) -> u64 {
        wr(dev, reg::DEVICE_FEATURES_SEL, 0);
        let lo = rd(dev, reg::DEVICE_FEATURES);
        wr(dev, reg::DEVICE_FEATURES_SEL, 1);
        let hi = rd(dev, reg::DEVICE_FEATURES);
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// Program queue `q` with `num` entries at [`rings`] and make it ready.
    /// The rings are zeroed first, as a driver allocating them would.
    pub fn setup_queue<D: Device>(&mut self, dev: &mut D, q: u16, num: u16) {
        let (desc, avail, used) = rings(q);
        poke(desc, &[0; 0x4000]);
        wr(dev, reg::QUEUE_SEL, u32::from(q));
        wr(dev, reg::QUEUE_NUM, u32::from(num));
        for (lo, addr) in
            [(reg::QUEUE_DESC_LOW, desc), (reg::QUEUE_DRIVER_LOW, avail), (reg::QUEUE_DEVICE_LOW, used)]
        {
            wr(dev, lo, addr as u32);
            wr(dev, lo + 4, (addr >> 32) as u32);
        }
        wr(dev, reg::QUEUE_READY, 1);
        let qi = q as usize;
        if self.nums.len() <= qi {
            for v in [&mut self.nums, &mut self.next_desc, &mut self.avail_idx, &mut self.used_seen] {
                v.resize(qi + 1, 0);
            }
        }
        self.nums[qi] = num;
        self.next_desc[qi] = 0;
        self.avail_idx[qi] = 0;
        self.used_seen[qi] = 0;
    }

    /// The whole initialisation (§3.1.1) with queues of the given sizes and
    /// VERSION_1 plus `extra` features; returns the final status.
    pub fn init<D: Device>(&mut self, dev: &mut D, extra: u64, queues: &[u16]) -> u32 {
        let st = self.negotiate(dev, feature::VERSION_1 | extra);
        assert_ne!(st & status::FEATURES_OK, 0, "device refused features {extra:#x}");
        for (q, &num) in queues.iter().enumerate() {
            self.setup_queue(dev, q as u16, num);
        }
        wr(dev, reg::STATUS, st | status::DRIVER_OK);
        rd(dev, reg::STATUS)
    }

    /// Allocate `len` bytes of guest memory (16-byte aligned).
    pub fn alloc(&mut self, len: u64) -> u64 {
        let at = self.next_buf;
        self.next_buf = (at + len.max(1) + 15) & !15;
        assert!(self.next_buf <= RAM_BASE + RAM_SIZE as u64, "test RAM exhausted");
        at
    }

    /// Write descriptor `i` of queue `q` directly (for malformed chains).
    pub fn put_desc(&self, q: u16, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let (desc, _, _) = rings(q);
        put_desc_at(desc + 16 * u64::from(i), addr, len, flags, next);
    }

    /// Make descriptor `head` available on queue `q`.
    pub fn publish(&mut self, q: u16, head: u16) {
        let qi = q as usize;
        let (_, avail, _) = rings(q);
        let idx = self.avail_idx[qi];
        poke(avail + 4 + 2 * u64::from(idx % self.nums[qi]), &head.to_le_bytes());
        self.avail_idx[qi] = idx.wrapping_add(1);
        poke(avail + 2, &self.avail_idx[qi].to_le_bytes());
    }

    /// Set the driver area's `avail.idx` to anything (for malformed rings).
    pub fn force_avail_idx(&mut self, q: u16, idx: u16) {
        let (_, avail, _) = rings(q);
        self.avail_idx[q as usize] = idx;
        poke(avail + 2, &idx.to_le_bytes());
    }

    fn buffers(&mut self, bufs: &[Buf]) -> Vec<(u64, u32, u16)> {
        bufs.iter()
            .map(|b| match b {
                Buf::Out(bytes) => {
                    let at = self.alloc(bytes.len() as u64);
                    poke(at, bytes);
                    (at, bytes.len() as u32, 0)
                }
                Buf::In(len) => (self.alloc(u64::from(*len)), *len, DESC_F_WRITE),
            })
            .collect()
    }

    /// Build a chain of direct descriptors for `bufs` and publish it.
    /// Returns the head and the device-writable buffers.
    pub fn submit(&mut self, q: u16, bufs: &[Buf]) -> (u16, Vec<Seg>) {
        let qi = q as usize;
        let num = self.nums[qi];
        let placed = self.buffers(bufs);
        let first = self.next_desc[qi];
        for (k, &(addr, len, flags)) in placed.iter().enumerate() {
            let i = (first + k as u16) % num;
            let last = k + 1 == placed.len();
            let next = (i + 1) % num;
            self.put_desc(q, i, addr, len, flags | if last { 0 } else { DESC_F_NEXT }, next);
        }
        self.next_desc[qi] = (first + placed.len() as u16) % num;
        self.publish(q, first);
        (first, writable(&placed))
    }

    /// Like [`Driver::submit`], through one indirect table.
    pub fn submit_indirect(&mut self, q: u16, bufs: &[Buf]) -> (u16, Vec<Seg>) {
        let qi = q as usize;
        let placed = self.buffers(bufs);
        let table = self.alloc(16 * placed.len() as u64);
        for (k, &(addr, len, flags)) in placed.iter().enumerate() {
            let last = k + 1 == placed.len();
            put_desc_at(
                table + 16 * k as u64,
                addr,
                len,
                flags | if last { 0 } else { DESC_F_NEXT },
                k as u16 + 1,
            );
        }
        let head = self.next_desc[qi];
        self.put_desc(q, head, table, 16 * placed.len() as u32, DESC_F_INDIRECT, 0);
        self.next_desc[qi] = (head + 1) % self.nums[qi];
        self.publish(q, head);
        (head, writable(&placed))
    }

    /// Kick queue `q`.
    pub fn notify<D: Device>(&self, dev: &mut D, q: u16) {
        wr(dev, reg::QUEUE_NOTIFY, u32::from(q));
    }

    /// Used elements `(id, len)` added since the last call.
    pub fn used(&mut self, q: u16) -> Vec<(u32, u32)> {
        let qi = q as usize;
        let (_, _, used) = rings(q);
        let idx = le16(used + 2);
        let mut out = Vec::new();
        while self.used_seen[qi] != idx {
            let at = used + 4 + 8 * u64::from(self.used_seen[qi] % self.nums[qi]);
            let e = mem(at, 8);
            out.push((
                u32::from_le_bytes([e[0], e[1], e[2], e[3]]),
                u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            ));
            self.used_seen[qi] = self.used_seen[qi].wrapping_add(1);
        }
        out
    }
}

fn writable(placed: &[(u64, u32, u16)]) -> Vec<Seg> {
    placed.iter().filter(|p| p.2 & DESC_F_WRITE != 0).map(|&(addr, len, _)| Seg { addr, len }).collect()
}

fn put_desc_at(at: u64, addr: u64, len: u32, flags: u16, next: u16) {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&flags.to_le_bytes());
    d[14..].copy_from_slice(&next.to_le_bytes());
    poke(at, &d);
}
