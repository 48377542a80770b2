//! A fuzz input: a sequence of operations on one device, decoded from
//! bytes with `arbitrary::Unstructured` so that any byte string is a valid
//! input (libFuzzer corpora, byte-level mutation and minimisation all
//! work on the same files).
//!
//! The decoding depends on the device (its regions, IRQ inputs and
//! capabilities, and the constants in its code), so a reproducer belongs to
//! a device and its properties. Each operation starts with one byte that
//! selects its kind from a table of the kinds this device can use, then
//! the kind's fields:
//!
//! | kind | bytes | meaning |
//! |------|-------|---------|
//! | read | `a` (size = 1 << (a & 3), region = (a >> 2) mod regions), index (1, 2 or 4 bytes: whatever the region needs) | MMIO read at `index mod (size_of_region / size)` × size |
//! | write | as read, then `m` and a value (mode `m & 7`: raw bytes, small, dictionary constant, single bit, boundary value, DMA address) | MMIO write |
//! | irq | u16 | toggle input line `v mod irq-inputs` |
//! | advance | `e` | advance the clock by `(e & 63)` ns/µs/ms/s (by `e >> 6`), fire due timers |
//! | input | `b`, then `(b & 15) + 1` bytes | offer the bytes on character port `(b >> 4) mod ports` |
//! | reset | — | the device's `reset` |
//! | save-restore | — | `save`, then `restore` into a second instance that shadows the first from here on |
//! | poke | u16 `o`, `l`, then `(l & 63) + 1` bytes | write the bytes to sandbox RAM at `o × 16` (descriptors for DMA devices) |
//!
//! Accesses are always inside a declared region and naturally aligned,
//! because the bus guarantees exactly that to a device (an access the
//! machine can never make is not a finding). Missing bytes at the end read
//! as zeros. At most `MAX_OPS` operations are decoded.

use std::fmt;

use arbitrary::Unstructured;

/// Longest input, in operations.
pub const MAX_OPS: usize = 64;
/// Base of the sandbox RAM (the only DMA window).
pub const RAM_BASE: u64 = 0x8000_0000;
/// Size of the sandbox RAM.
pub const RAM_SIZE: u64 = 1 << 20;

/// One operation on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuzzOp {
    Read {
        region: u32,
        offset: u64,
        size: u8,
    },
    Write {
        region: u32,
        offset: u64,
        size: u8,
        value: u64,
    },
    /// Toggle IRQ input `line`.
    Irq {
        line: u32,
    },
    /// Advance the virtual clock and fire the timers due.
    Advance {
        ns: u64,
    },
    /// Bytes arriving on a character port.
    Input {
        port: u32,
        data: Vec<u8>,
    },
    Reset,
    SaveRestore,
    /// Guest RAM contents (sandbox offset, bytes), for DMA devices.
    Poke {
        offset: u32,
        data: Vec<u8>,
    },
    /// The next `count` block requests fail with an I/O error (how the
    /// backend completes them is the fuzzer's choice).
    BlockFail {
        count: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Irq,
    Advance,
    Input,
    Reset,
    SaveRestore,
    Poke,
    BlockFail,
}

/// What decoding needs to know about the device.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Region names and sizes, as the device described them.
    pub regions: Vec<(String, u64)>,
    pub irq_inputs: u32,
    /// Character ports the device may use (0 without the chardev capability).
    pub ports: u32,
    /// The device imports `clock` (timers).
    pub timers: bool,
    /// The device imports `dma`.
    pub dma: bool,
    /// The device imports `block`.
    pub block: bool,
    /// Integer constants from the device's code (register values).
    pub dictionary: Vec<u64>,
}

/// Values worth trying in any register.
const BOUNDARIES: [u64; 16] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

const UNITS: [u64; 4] = [1, 1_000, 1_000_000, 1_000_000_000];

/// Decodes and encodes operations for one device.
#[derive(Debug, Clone)]
pub struct Codec {
    table: Vec<Kind>,
    profile: Profile,
}

impl Codec {
    pub fn new(profile: Profile) -> Self {
        // Register accesses dominate; each other kind the device can use
        // appears once.
        let mut table = Vec::new();
        if !profile.regions.is_empty() {
            table.extend([Kind::Read; 4]);
            table.extend([Kind::Write; 6]);
        }
        if profile.irq_inputs > 0 {
            table.push(Kind::Irq);
        }
        if profile.timers {
            table.push(Kind::Advance);
        }
        if profile.ports > 0 {
            table.push(Kind::Input);
        }
        table.push(Kind::Reset);
        table.push(Kind::SaveRestore);
        if profile.dma {
            table.push(Kind::Poke);
        }
        if profile.block {
            table.push(Kind::BlockFail);
        }
        Codec { table, profile }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Decode up to `MAX_OPS` operations from `data`.
    pub fn decode(&self, data: &[u8]) -> Vec<FuzzOp> {
        let mut u = Unstructured::new(data);
        // An operation takes 2–4 bytes typically.
        let mut ops = Vec::with_capacity((data.len() / 3).min(MAX_OPS));
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(self.decode_op(&mut u));
        }
        ops
    }

    /// The bytes that decode to `ops` (a canonical form: decoding is
    /// many-to-one). Operations this device cannot have are skipped.
    pub fn encode(&self, ops: &[FuzzOp]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ops.len() * 6);
        for op in ops.iter().take(MAX_OPS) {
            self.encode_op(op, &mut out);
        }
        out
    }

    fn byte(u: &mut Unstructured<'_>) -> u8 {
        u.arbitrary::<u8>().unwrap_or(0)
    }
    fn u16(u: &mut Unstructured<'_>) -> u16 {
        u.arbitrary::<u16>().unwrap_or(0)
    }

    fn bytes(u: &mut Unstructured<'_>, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        // Pads with zeros when the input runs out.
        let _ = u.fill_buffer(&mut buf);
        buf
    }

    /// Size of an access after fitting it into a region smaller than it.
    fn fit_size(region_size: u64, size: u8) -> u8 {
        let mut size = size;
        while size > 1 && u64::from(size) > region_size {
            size /= 2;
        }
        size
    }

    /// Width in bytes of the index of an access of `size` in `region_size`.
    fn index_width(slots: u64) -> usize {
        match slots {
            0..=256 => 1,
            257..=65536 => 2,
            _ => 4,
        }
    }

    fn decode_access(&self, u: &mut Unstructured<'_>) -> (u32, u64, u8) {
        let a = Self::byte(u);
        let regions = self.profile.regions.len().max(1) as u32;
        let region = u32::from(a >> 2) % regions;
        let region_size = self.profile.regions.get(region as usize).map_or(1, |r| r.1.max(1));
        let size = Self::fit_size(region_size, 1 << (a & 3));
        let slots = (region_size / u64::from(size)).max(1);
        let raw = match Self::index_width(slots) {
            1 => u64::from(Self::byte(u)),
            2 => u64::from(Self::u16(u)),
            _ => u64::from(u.arbitrary::<u32>().unwrap_or(0)),
        };
        (region, (raw % slots) * u64::from(size), size)
    }

    fn encode_access(&self, region: u32, offset: u64, size: u8, out: &mut Vec<u8>) {
        let log2 = size.max(1).trailing_zeros() as u8 & 3;
        out.push(log2 | ((region as u8 & 0x3f) << 2));
        let region_size = self.profile.regions.get(region as usize).map_or(1, |r| r.1.max(1));
        let slots = (region_size / u64::from(size.max(1))).max(1);
        let index = offset / u64::from(size.max(1));
        match Self::index_width(slots) {
            1 => out.push(index as u8),
            2 => out.extend_from_slice(&(index as u16).to_le_bytes()),
            _ => out.extend_from_slice(&(index as u32).to_le_bytes()),
        }
    }

    fn decode_value(&self, u: &mut Unstructured<'_>, size: u8) -> u64 {
        let m = Self::byte(u);
        let sel = u64::from(m >> 3);
        let value = match m & 7 {
            0..=2 => {
                let bytes = Self::bytes(u, usize::from(size));
                bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            }
            3 => sel,
            4 => {
                let i = usize::from(Self::u16(u));
                match self.profile.dictionary.len() {
                    0 => sel,
                    n => self.profile.dictionary[i % n],
                }
            }
            5 => 1u64 << (sel % (u64::from(size) * 8)),
            6 => BOUNDARIES[(sel % BOUNDARIES.len() as u64) as usize],
            _ => RAM_BASE + u64::from(Self::u16(u)) * 16,
        };
        mask(value, size)
    }

    fn decode_op(&self, u: &mut Unstructured<'_>) -> FuzzOp {
        let kind = self.table[usize::from(Self::byte(u)) % self.table.len()];
        match kind {
            Kind::Read => {
                let (region, offset, size) = self.decode_access(u);
                FuzzOp::Read { region, offset, size }
            }
            Kind::Write => {
                let (region, offset, size) = self.decode_access(u);
                let value = self.decode_value(u, size);
                FuzzOp::Write { region, offset, size, value }
            }
            Kind::Irq => FuzzOp::Irq { line: u32::from(Self::u16(u)) % self.profile.irq_inputs.max(1) },
            Kind::Advance => {
                let e = Self::byte(u);
                FuzzOp::Advance { ns: u64::from(e & 63) * UNITS[usize::from(e >> 6)] }
            }
            Kind::Input => {
                let b = Self::byte(u);
                let port = u32::from(b >> 4) % self.profile.ports.max(1);
                FuzzOp::Input { port, data: Self::bytes(u, usize::from(b & 15) + 1) }
            }
            Kind::Reset => FuzzOp::Reset,
            Kind::SaveRestore => FuzzOp::SaveRestore,
            Kind::Poke => {
                let offset = u32::from(Self::u16(u)) * 16;
                let len = usize::from(Self::byte(u) & 63) + 1;
                FuzzOp::Poke { offset, data: Self::bytes(u, len) }
            }
            Kind::BlockFail => FuzzOp::BlockFail { count: u32::from(Self::byte(u) & 3) + 1 },
        }
    }

    fn tag(&self, kind: Kind) -> Option<u8> {
        self.table.iter().position(|k| *k == kind).map(|i| i as u8)
    }

    fn encode_op(&self, op: &FuzzOp, out: &mut Vec<u8>) {
        let kind = match op {
            FuzzOp::Read { .. } => Kind::Read,
            FuzzOp::Write { .. } => Kind::Write,
            FuzzOp::Irq { .. } => Kind::Irq,
            FuzzOp::Advance { .. } => Kind::Advance,
            FuzzOp::Input { .. } => Kind::Input,
            FuzzOp::Reset => Kind::Reset,
            FuzzOp::SaveRestore => Kind::SaveRestore,
            FuzzOp::Poke { .. } => Kind::Poke,
            FuzzOp::BlockFail { .. } => Kind::BlockFail,
        };
        let Some(tag) = self.tag(kind) else { return };
        out.push(tag);
        match op {
            FuzzOp::Read { region, offset, size } => self.encode_access(*region, *offset, *size, out),
            FuzzOp::Write { region, offset, size, value } => {
                self.encode_access(*region, *offset, *size, out);
                if *value < 32 {
                    out.push(3 | (*value as u8) << 3); // small
                } else {
                    out.push(0); // raw bytes
                    out.extend_from_slice(&value.to_le_bytes()[..usize::from(*size).min(8)]);
                }
            }
            FuzzOp::Irq { line } => out.extend_from_slice(&(*line as u16).to_le_bytes()),
            FuzzOp::Advance { ns } => out.push(encode_ns(*ns)),
            FuzzOp::Input { port, data } => {
                let len = data.len().clamp(1, 16);
                out.push(((*port as u8 & 15) << 4) | (len as u8 - 1));
                out.extend_from_slice(&data[..len.min(data.len())]);
                out.extend(std::iter::repeat_n(0, len - len.min(data.len())));
            }
            FuzzOp::Reset | FuzzOp::SaveRestore => {}
            FuzzOp::Poke { offset, data } => {
                out.extend_from_slice(&((offset / 16) as u16).to_le_bytes());
                let len = data.len().clamp(1, 64);
                out.push(len as u8 - 1);
                out.extend_from_slice(&data[..len.min(data.len())]);
                out.extend(std::iter::repeat_n(0, len - len.min(data.len())));
            }
            FuzzOp::BlockFail { count } => out.push((count.clamp(&1, &4) - 1) as u8),
        }
    }

    /// A short name for an operation's kind (finding signatures).
    pub fn kind_name(op: &FuzzOp) -> &'static str {
        match op {
            FuzzOp::Read { .. } => "read",
            FuzzOp::Write { .. } => "write",
            FuzzOp::Irq { .. } => "irq",
            FuzzOp::Advance { .. } => "advance",
            FuzzOp::Input { .. } => "input",
            FuzzOp::Reset => "reset",
            FuzzOp::SaveRestore => "save-restore",
            FuzzOp::Poke { .. } => "poke",
            FuzzOp::BlockFail { .. } => "block-fail",
        }
    }

    /// An operation as the trace prints it (region by name).
    pub fn describe(&self, op: &FuzzOp) -> String {
        let region = |r: u32| self.profile.regions.get(r as usize).map_or("?", |x| x.0.as_str()).to_owned();
        match op {
            FuzzOp::Read { region: r, offset, size } => {
                format!("read {}+{offset:#x} size {size}", region(*r))
            }
            FuzzOp::Write { region: r, offset, size, value } => {
                format!("write {}+{offset:#x} size {size} value {value:#x}", region(*r))
            }
            FuzzOp::Irq { line } => format!("irq-input toggle line {line}"),
            FuzzOp::Advance { ns } => format!("advance clock {ns} ns"),
            FuzzOp::Input { port, data } => format!("char-input port {port} {}", Bytes(data)),
            FuzzOp::Reset => "reset".into(),
            FuzzOp::SaveRestore => "save, restore into a shadow instance".into(),
            FuzzOp::Poke { offset, data } => {
                format!("poke ram {:#x} {}", RAM_BASE + u64::from(*offset), Bytes(data))
            }
            FuzzOp::BlockFail { count } => {
                format!("block: the next {count} request(s) fail with an I/O error")
            }
        }
    }
}

/// The smallest encoding byte for `ns` (which decoding produced, so it is
/// a multiple of a unit below 64 units; anything else is rounded down).
fn encode_ns(ns: u64) -> u8 {
    for (i, unit) in UNITS.iter().enumerate() {
        if ns.is_multiple_of(*unit) && ns / unit < 64 {
            return ((i as u8) << 6) | (ns / unit) as u8;
        }
    }
    (3 << 6) | (ns / UNITS[3]).min(63) as u8
}

/// `value` truncated to `size` bytes.
pub fn mask(value: u64, size: u8) -> u64 {
    if size >= 8 { value } else { value & ((1u64 << (u32::from(size) * 8)) - 1) }
}

/// Bytes printed as an escaped string.
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            regions: vec![("regs".into(), 0x40), ("big".into(), 0x10_0000), ("tiny".into(), 2)],
            irq_inputs: 3,
            ports: 2,
            timers: true,
            dma: true,
            block: true,
            dictionary: vec![0x12, 0x34, 0xdead],
        }
    }

    /// Deterministic pseudo-random bytes.
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn any_bytes_decode_to_valid_in_range_aligned_ops() {
        let codec = Codec::new(profile());
        for seed in 1..300 {
            let ops = codec.decode(&noise(seed, 200));
            assert!(!ops.is_empty() && ops.len() <= MAX_OPS);
            for op in &ops {
                if let FuzzOp::Read { region, offset, size } | FuzzOp::Write { region, offset, size, .. } = op
                {
                    let rsize = codec.profile.regions[*region as usize].1;
                    assert!(offset + u64::from(*size) <= rsize, "{op:?} outside its region");
                    assert_eq!(offset % u64::from(*size), 0, "{op:?} misaligned");
                }
                if let FuzzOp::Write { size, value, .. } = op {
                    assert_eq!(mask(*value, *size), *value);
                }
                if let FuzzOp::Irq { line } = op {
                    assert!(*line < 3);
                }
            }
        }
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        let codec = Codec::new(profile());
        for seed in 1..300 {
            let ops = codec.decode(&noise(seed, 300));
            let bytes = codec.encode(&ops);
            assert_eq!(codec.decode(&bytes), ops, "seed {seed}");
        }
    }

    #[test]
    fn a_device_without_capabilities_gets_no_such_ops() {
        let codec = Codec::new(Profile { regions: vec![("r".into(), 16)], ..Profile::default() });
        for seed in 1..50 {
            for op in codec.decode(&noise(seed, 100)) {
                assert!(
                    matches!(
                        op,
                        FuzzOp::Read { .. } | FuzzOp::Write { .. } | FuzzOp::Reset | FuzzOp::SaveRestore
                    ),
                    "{op:?}"
                );
            }
        }
    }

    #[test]
    fn empty_input_is_no_ops_and_short_input_pads_with_zeros() {
        let codec = Codec::new(profile());
        assert!(codec.decode(&[]).is_empty());
        // Kind 4 is a write (after four reads); everything else missing.
        assert_eq!(codec.decode(&[4]), vec![FuzzOp::Write { region: 0, offset: 0, size: 1, value: 0 }]);
    }
}
