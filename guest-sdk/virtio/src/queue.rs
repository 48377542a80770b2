//! Split virtqueues (virtio 1.1 §2.6): the queue's guest-memory layout,
//! walking descriptor chains (direct and indirect), and returning buffers
//! through the used ring. Every index, length and address comes from the
//! driver and is checked before use; a violation is a [`Fault`].

use serde::{Deserialize, Serialize};
use wemu_device_sdk::dma;

/// Descriptor flags (§2.6.5).
pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
pub const DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver does not want interrupts (§2.6.7).
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Most descriptors an indirect table may hold (QEMU's `VIRTQUEUE_MAX_SIZE`).
pub const MAX_INDIRECT: u32 = 1024;
/// Largest piece one `dma`/`block` call moves (the host's limit is 1 MiB).
pub const MAX_PIECE: u32 = 1 << 20;

const DESC_SIZE: u64 = 16;

/// A driver bug the device cannot serve: the device sets
/// `DEVICE_NEEDS_RESET` and logs the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault(pub String);

impl Fault {
    pub fn new(msg: impl Into<String>) -> Self {
        Fault(msg.into())
    }
    fn dma(what: &str, addr: u64, len: u64, e: dma::DmaError) -> Self {
        Fault(format!("DMA {what} of {len} bytes at {addr:#x} failed: {e:?}"))
    }
}

/// Read guest memory; a refusal is the driver's fault (a bad address).
pub fn dma_read(addr: u64, len: u32, what: &str) -> Result<Vec<u8>, Fault> {
    dma::read(addr, len).map_err(|e| Fault::dma(what, addr, len.into(), e))
}

/// Write guest memory; a refusal is the driver's fault (a bad address).
pub fn dma_write(addr: u64, data: &[u8], what: &str) -> Result<(), Fault> {
    dma::write(addr, data).map_err(|e| Fault::dma(what, addr, data.len() as u64, e))
}

/// A guest-memory buffer named by one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    pub addr: u64,
    pub len: u32,
}

/// One descriptor as laid out in guest memory.
#[derive(Debug, Clone, Copy)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn desc_at(table: &[u8], i: u32) -> Desc {
    let at = i as usize * DESC_SIZE as usize;
    let mut raw = [0u8; 16];
    if let Some(s) = table.get(at..at + 16) {
        raw.copy_from_slice(s);
    }
    Desc {
        addr: u64::from_le_bytes([raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]]),
        len: u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]),
        flags: u16::from_le_bytes([raw[12], raw[13]]),
        next: u16::from_le_bytes([raw[14], raw[15]]),
    }
}

/// A request: the buffers of one descriptor chain, device-readable ones
/// first (the order the spec requires), as one byte stream per direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Index of the head descriptor (the used element's `id`).
    pub head: u16,
    /// Device-readable buffers (driver → device), in order.
    pub readable: Vec<Seg>,
    /// Device-writable buffers (device → driver), in order.
    pub writable: Vec<Seg>,
    /// Descriptors walked, indirect ones included (for work accounting).
    pub descriptors: u32,
}

impl Chain {
    fn new(head: u16) -> Self {
        Chain { head, readable: Vec::new(), writable: Vec::new(), descriptors: 0 }
    }

    fn push(&mut self, d: &Desc) -> Result<(), Fault> {
        self.descriptors += 1;
        let seg = Seg { addr: d.addr, len: d.len };
        if d.flags & DESC_F_WRITE != 0 {
            self.writable.push(seg);
        } else if self.writable.is_empty() {
            self.readable.push(seg);
        } else {
            // §2.6.4.2: writable descriptors come after all readable ones.
            return Err(Fault::new(format!(
                "chain {}: device-readable descriptor after a device-writable one",
                self.head
            )));
        }
        Ok(())
    }

    /// Total bytes the device may read.
    pub fn readable_len(&self) -> u64 {
        self.readable.iter().map(|s| u64::from(s.len)).sum()
    }

    /// Total bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.writable.iter().map(|s| u64::from(s.len)).sum()
    }

    /// The guest-memory pieces holding bytes `[offset, offset+len)` of the
    /// stream `segs`, each at most [`MAX_PIECE`] bytes. Stops early if the
    /// stream is shorter.
    pub fn pieces(segs: &[Seg], offset: u64, len: u64) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut skip = offset;
        let mut left = len;
        for s in segs {
            if left == 0 {
                break;
            }
            let slen = u64::from(s.len);
            if skip >= slen {
                skip -= slen;
                continue;
            }
            let mut addr = s.addr.wrapping_add(skip);
            let mut avail = (slen - skip).min(left);
            skip = 0;
            left -= avail;
            while avail > 0 {
                let n = avail.min(u64::from(MAX_PIECE));
                out.push(Seg { addr, len: n as u32 });
                addr = addr.wrapping_add(n);
                avail -= n;
            }
        }
        out
    }

    /// Read `len` (≤ [`MAX_PIECE`]) bytes of the readable stream at
    /// `offset`; short if the stream ends first.
    pub fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::with_capacity(len.min(MAX_PIECE) as usize);
        for p in Self::pieces(&self.readable, offset, u64::from(len.min(MAX_PIECE))) {
            out.extend_from_slice(&dma_read(p.addr, p.len, "read of a request buffer")?);
        }
        Ok(out)
    }

    /// Write `data` into the writable stream at `offset`; returns how many
    /// bytes fitted.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<u32, Fault> {
        let mut done = 0usize;
        for p in Self::pieces(&self.writable, offset, data.len() as u64) {
            let end = done + p.len as usize;
            dma_write(p.addr, &data[done..end], "write of a request buffer")?;
            done = end;
        }
        Ok(done as u32)
    }
}

/// One virtqueue's registers and the device's private ring state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// `QueueNumMax`.
    pub max: u16,
    /// `QueueNum`: the size the driver chose.
    pub num: u16,
    /// `QueueReady`.
    pub ready: bool,
    /// Descriptor table, driver (available) ring, device (used) ring.
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    /// Next available-ring entry the device will take.
    pub last_avail: u16,
    /// The used ring's `idx` as the device last wrote it.
    pub used_idx: u16,
}

/// What one pass over the available ring found out.
#[derive(Debug, Clone, Copy)]
pub struct AvailView {
    pub flags: u16,
    pub idx: u16,
    /// `used_event` (only meaningful with EVENT_IDX).
    pub used_event: u16,
}

impl Queue {
    pub fn new(max: u16) -> Self {
        Queue { max, num: max, ready: false, desc: 0, avail: 0, used: 0, last_avail: 0, used_idx: 0 }
    }

    /// Back to the state after reset (§4.2.2: QueueReady 0, sizes default).
    pub fn reset(&mut self) {
        *self = Queue::new(self.max);
    }

    /// Check the layout before the queue goes live (§2.6: alignment, a
    /// power-of-2 size no larger than `QueueNumMax`).
    pub fn validate(&self) -> Result<(), Fault> {
        let n = u64::from(self.num);
        if self.num == 0 || !self.num.is_power_of_two() || self.num > self.max {
            return Err(Fault::new(format!(
                "queue size {} is not a power of 2 in 1..={}",
                self.num, self.max
            )));
        }
        let areas = [
            ("descriptor table", self.desc, 16, DESC_SIZE * n),
            ("driver area", self.avail, 2, 6 + 2 * n),
            ("device area", self.used, 4, 6 + 8 * n),
        ];
        for (what, addr, align, size) in areas {
            if !addr.is_multiple_of(align) || addr.checked_add(size).is_none() {
                return Err(Fault::new(format!("{what} at {addr:#x} is misaligned or wraps")));
            }
        }
        Ok(())
    }

    /// Number of entries the driver made available that the device has
    /// not taken yet, with the ring's header.
    pub fn poll(&self, event_idx: bool) -> Result<(AvailView, u16), Fault> {
        let head = dma_read(self.avail, 4, "read of the driver area")?;
        let view = AvailView {
            flags: le16(&head, 0),
            idx: le16(&head, 2),
            used_event: if event_idx {
                le16(&dma_read(self.avail + 4 + 2 * u64::from(self.num), 2, "read of used_event")?, 0)
            } else {
                0
            },
        };
        let pending = view.idx.wrapping_sub(self.last_avail);
        if pending > self.num {
            // §2.6.10: the driver can never be more than a ring ahead.
            return Err(Fault::new(format!(
                "available idx {} is {pending} entries ahead of the device (queue size {})",
                view.idx, self.num
            )));
        }
        Ok((view, pending))
    }

    /// The descriptor table (read once per pass: one DMA call).
    pub fn table(&self) -> Result<Vec<u8>, Fault> {
        dma_read(self.desc, u32::from(self.num) * DESC_SIZE as u32, "read of the descriptor table")
    }

    /// The head index in available-ring slot `self.last_avail`.
    pub fn next_head(&self) -> Result<u16, Fault> {
        let slot = u64::from(self.last_avail % self.num);
        let raw = dma_read(self.avail + 4 + 2 * slot, 2, "read of the available ring")?;
        Ok(le16(&raw, 0))
    }

    /// Walk the chain starting at `head` through `table` (this queue's
    /// descriptor table). `indirect` says whether VIRTIO_F_INDIRECT_DESC
    /// was negotiated.
    pub fn walk(&self, table: &[u8], head: u16, indirect: bool) -> Result<Chain, Fault> {
        let num = u32::from(self.num);
        if u32::from(head) >= num {
            return Err(Fault::new(format!("head index {head} out of range (queue size {num})")));
        }
        let mut chain = Chain::new(head);
        let mut i = u32::from(head);
        let mut count = 0u32;
        loop {
            count += 1;
            if count > num {
                return Err(Fault::new(format!("chain {head} is longer than the queue (a loop?)")));
            }
            let d = desc_at(table, i);
            if d.flags & DESC_F_INDIRECT != 0 {
                if !indirect {
                    return Err(Fault::new(format!(
                        "chain {head}: indirect descriptor without VIRTIO_F_INDIRECT_DESC"
                    )));
                }
                if d.flags & DESC_F_NEXT != 0 {
                    return Err(Fault::new(format!("chain {head}: descriptor is both INDIRECT and NEXT")));
                }
                // §2.6.5.3.2: normal descriptors, then one indirect table, ends the chain.
                walk_indirect(&mut chain, &d)?;
                return Ok(chain);
            }
            chain.push(&d)?;
            if d.flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            if u32::from(d.next) >= num {
                return Err(Fault::new(format!("chain {head}: next index {} out of range", d.next)));
            }
            i = u32::from(d.next);
        }
    }

    /// Return buffer `head` to the driver with `len` bytes written, then
    /// publish the new used index (the element first, as §2.6.8 requires).
    pub fn push_used(&mut self, head: u16, len: u32) -> Result<(), Fault> {
        let slot = u64::from(self.used_idx % self.num);
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        dma_write(self.used + 4 + 8 * slot, &elem, "write of a used element")?;
        self.used_idx = self.used_idx.wrapping_add(1);
        dma_write(self.used + 2, &self.used_idx.to_le_bytes(), "write of the used idx")
    }

    /// With EVENT_IDX: ask to be notified as soon as the driver adds
    /// anything past what the device has taken (`avail_event`, §2.6.7.1).
    pub fn set_avail_event(&self) -> Result<(), Fault> {
        let at = self.used + 4 + 8 * u64::from(self.num);
        dma_write(at, &self.last_avail.to_le_bytes(), "write of avail_event")
    }
}

/// Does a used-index move from `old` to `new` call for an interrupt?
/// (§2.6.7.2: the driver's `used_event`, or its NO_INTERRUPT flag.)
pub fn needs_interrupt(event_idx: bool, view: &AvailView, old: u16, new: u16) -> bool {
    if event_idx {
        new.wrapping_sub(view.used_event).wrapping_sub(1) < new.wrapping_sub(old)
    } else {
        view.flags & AVAIL_F_NO_INTERRUPT == 0
    }
}

fn walk_indirect(chain: &mut Chain, d: &Desc) -> Result<(), Fault> {
    let head = chain.head;
    if d.len == 0 || !u64::from(d.len).is_multiple_of(DESC_SIZE) {
        return Err(Fault::new(format!(
            "chain {head}: indirect table length {} is not a multiple of 16",
            d.len
        )));
    }
    let n = d.len / DESC_SIZE as u32;
    if n > MAX_INDIRECT {
        return Err(Fault::new(format!(
            "chain {head}: indirect table of {n} descriptors (at most {MAX_INDIRECT})"
        )));
    }
    let table = dma_read(d.addr, d.len, "read of an indirect table")?;
    let mut i = 0u32;
    let mut count = 0u32;
    loop {
        count += 1;
        if count > n {
            return Err(Fault::new(format!("chain {head}: indirect chain loops")));
        }
        let e = desc_at(&table, i);
        if e.flags & DESC_F_INDIRECT != 0 {
            return Err(Fault::new(format!("chain {head}: indirect descriptor inside an indirect table")));
        }
        chain.push(&e)?;
        if e.flags & DESC_F_NEXT == 0 {
            return Ok(());
        }
        if u32::from(e.next) >= n {
            return Err(Fault::new(format!("chain {head}: indirect next index {} out of range", e.next)));
        }
        i = u32::from(e.next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_offsets_segments_and_the_piece_limit() {
        let segs = [Seg { addr: 0x1000, len: 16 }, Seg { addr: 0x9000, len: 3 << 20 }];
        assert_eq!(
            Chain::pieces(&segs, 10, 8),
            vec![Seg { addr: 0x100a, len: 6 }, Seg { addr: 0x9000, len: 2 }]
        );
        let big = Chain::pieces(&segs, 16, 3 << 20);
        assert_eq!(big.len(), 3);
        assert!(big.iter().all(|p| p.len == MAX_PIECE));
        assert_eq!(big[2].addr, 0x9000 + (2 << 20));
        assert!(Chain::pieces(&segs, 100 << 20, 1).is_empty(), "past the end");
        assert_eq!(
            Chain::pieces(&segs, 0, u64::MAX).iter().map(|p| u64::from(p.len)).sum::<u64>(),
            16 + (3 << 20)
        );
    }

    #[test]
    fn event_idx_interrupt_rule() {
        let v = |used_event| AvailView { flags: 0, idx: 0, used_event };
        assert!(needs_interrupt(true, &v(4), 4, 5), "crossed used_event");
        assert!(!needs_interrupt(true, &v(9), 4, 5), "not yet");
        assert!(needs_interrupt(true, &v(0xffff), 0xffff, 0), "wraps");
        let flags = AvailView { flags: AVAIL_F_NO_INTERRUPT, idx: 0, used_event: 0 };
        assert!(!needs_interrupt(false, &flags, 0, 1));
        assert!(needs_interrupt(false, &v(0), 0, 1));
    }

    #[test]
    fn layout_checks_refuse_bad_sizes_and_alignment() {
        let mut q = Queue::new(256);
        q.desc = 0x8000_0000;
        q.avail = 0x8000_1000;
        q.used = 0x8000_2000;
        assert_eq!(q.validate(), Ok(()));
        for bad in [0, 3, 512] {
            q.num = bad;
            assert!(q.validate().is_err(), "num {bad}");
        }
        q.num = 8;
        q.desc = 0x8000_0008;
        assert!(q.validate().is_err(), "descriptor table must be 16-aligned");
        q.desc = 0x8000_0000;
        q.used = 0x8000_2002;
        assert!(q.validate().is_err(), "used ring must be 4-aligned");
        q.used = u64::MAX - 3;
        assert!(q.validate().is_err(), "wraps");
    }
}
