//! Host cost of one 4 KiB virtio-blk read, as a polling driver issues it.
//!
//! Run with `cargo bench -p wemu --bench virtio`. Builds `virt` with a
//! virtio-blk (a 1 MiB image in a temp dir) in slot virtio0, sets up queue
//! 0 through the bus, and times rounds of requests. One request is what
//! the driver does per read: write the available-ring entry and index
//! (RAM), write QueueNotify (the device walks the chain, reads 4 KiB from
//! the image into guest RAM, writes the status and the used ring), read
//! InterruptStatus and write InterruptACK. Guest instructions are not
//! included. Prints the median of 5 rounds of 20,000 requests, the same
//! for the notify write alone, and for a notify with nothing to do.

use std::time::Instant;

use wemu_cpu::{AccessInfo, Memory};
use wemu_machine::machine::{Machine, Options, config};
use wemu_sandbox::loader::{Loader, SearchPath};

const VIRTIO0: u64 = 0x1000_1000;
const QUEUE: u64 = 0x8100_0000;
const HDR: u64 = QUEUE + 0x10_000;
const DATA: u64 = QUEUE + 0x11_000;
const STATUS: u64 = QUEUE + 0x12_000;
const ROUNDS: usize = 5;
const PER_ROUND: u32 = 20_000;

fn st(m: &mut Machine, addr: u64, size: u8, v: u64) {
    m.platform.store(AccessInfo::HOST, addr, size, v).expect("store");
}

fn machine(dir: &std::path::Path) -> Machine {
    let img = dir.join("disk.img");
    std::fs::write(&img, vec![0x5a; 1 << 20]).expect("image");
    let mut spec = config::load(&SearchPath::default(), "virt").expect("virt");
    config::apply_device_option(&mut spec, &format!("virtio-blk,id=virtio0,block={}", img.display()))
        .expect("--device");
    let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
    let opts =
        Options { serials: vec![wemu_machine::backend::chardev::ChardevSpec::Null], ..Default::default() };
    let mut m = Machine::build(spec, &mut loader, &opts).expect("machine");
    // Negotiate VERSION_1, queue 0 of 256 entries, DRIVER_OK.
    for (off, v) in [(0x70, 0), (0x70, 3), (0x24, 1), (0x20, 1), (0x70, 11), (0x30, 0), (0x38, 256)] {
        st(&mut m, VIRTIO0 + off, 4, v);
    }
    for (off, addr) in [(0x80, QUEUE), (0x90, QUEUE + 0x1000), (0xa0, QUEUE + 0x2000)] {
        st(&mut m, VIRTIO0 + off, 4, addr & 0xffff_ffff);
        st(&mut m, VIRTIO0 + off + 4, 4, addr >> 32);
    }
    st(&mut m, VIRTIO0 + 0x44, 4, 1);
    st(&mut m, VIRTIO0 + 0x70, 4, 15);
    // One chain, reused: header (T_IN, sector 8), 4 KiB, status.
    st(&mut m, HDR, 8, 0);
    st(&mut m, HDR + 8, 8, 8);
    for (i, (addr, len, flags)) in [(HDR, 16, 1), (DATA, 4096, 3), (STATUS, 1, 2)].into_iter().enumerate() {
        let d = QUEUE + 16 * i as u64;
        st(&mut m, d, 8, addr);
        st(&mut m, d + 8, 4, len);
        st(&mut m, d + 12, 2, flags);
        st(&mut m, d + 14, 2, i as u64 + 1);
    }
    m
}

/// Time `PER_ROUND` QueueNotify writes with nothing available: the floor
/// of a notify (the MMIO call and one DMA read of the ring header).
fn empty_round(m: &mut Machine) -> f64 {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        st(m, VIRTIO0 + 0x50, 4, 0);
    }
    start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
}

/// Time `PER_ROUND` requests; returns ns per request.
fn round(m: &mut Machine, idx: &mut u16, full: bool) -> f64 {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        st(m, QUEUE + 0x1000 + 4 + 2 * u64::from(*idx % 256), 2, 0);
        *idx = idx.wrapping_add(1);
        st(m, QUEUE + 0x1000 + 2, 2, u64::from(*idx));
        st(m, VIRTIO0 + 0x50, 4, 0);
        if full {
            let isr = m.platform.load(AccessInfo::HOST, VIRTIO0 + 0x60, 4).expect("isr");
            st(m, VIRTIO0 + 0x64, 4, isr);
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND);
    assert_eq!(
        m.platform.load(AccessInfo::HOST, QUEUE + 0x2000 + 2, 2),
        Ok(u64::from(*idx)),
        "every request used"
    );
    assert_eq!(m.platform.load(AccessInfo::HOST, STATUS, 1), Ok(0), "VIRTIO_BLK_S_OK");
    assert_eq!(m.platform.load(AccessInfo::HOST, DATA + 4095, 1), Ok(0x5a), "data arrived");
    ns
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with `--test`: one short round only.
    let quick = std::env::args().any(|a| a == "--test");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let mut idx = 0u16;
    round(&mut m, &mut idx, true); // warm-up
    if quick {
        return;
    }
    let full = median((0..ROUNDS).map(|_| round(&mut m, &mut idx, true)).collect());
    let notify = median((0..ROUNDS).map(|_| round(&mut m, &mut idx, false)).collect());
    let empty = median((0..ROUNDS).map(|_| empty_round(&mut m)).collect());
    println!("| measurement | median |");
    println!("|---|---|");
    println!("| 4 KiB virtio-blk read: ring update + QueueNotify + ISR read + ACK | {full:.0} ns |");
    println!("| 4 KiB virtio-blk read: QueueNotify write alone | {notify:.0} ns |");
    println!("| QueueNotify with nothing available | {empty:.0} ns |");
}
