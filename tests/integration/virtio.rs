//! virtio-blk, virtio-rng and the goldfish RTC on `virt`, driven by the
//! `virtio` guest (tests/guests/virtio) and, for hostile rings, straight
//! through the bus.

use wemu_cpu::{AccessInfo, Memory};
use wemu_machine::machine::{Machine, Options, config};
use wemu_sandbox::loader::{Loader, SearchPath};

use crate::common::{guest, root, target_dir, wemu};

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const SECTOR: usize = 512;

/// A 64 KiB image: a greeting in sector 0, 0xee in sector 1, 0x22 after.
fn image() -> Vec<u8> {
    let mut img = vec![0x22u8; 128 * SECTOR];
    img[..SECTOR].fill(0);
    img[..26].copy_from_slice(b"wemu virtio-blk test image");
    img[SECTOR..2 * SECTOR].fill(0xee);
    img
}

fn run_guest(block_key: &str, img: &std::path::Path) -> crate::common::Outcome {
    let machine = root().join("tests/machines/virt-virtio.toml");
    let drive = format!("virtio-blk,id=virtio0,{block_key}={}", path(img));
    wemu(&["run", "-M", path(&machine), "--device", &drive, "--kernel", path(&guest("virtio"))])
}

#[test]
fn the_guest_reads_writes_and_flushes_a_virtio_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, image()).expect("image");
    let out = run_guest("block", &img);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let expected_start = [
        "virtio guest ready",
        "rtc: 1704067200.000000000",
        "slot 0 @ 0x10001000: device id 2",
        "slot 1 @ 0x10002000: device id 4",
        "slot 2 @ 0x10003000: device id 0",
        "slot 3 @ 0x10004000: device id 0",
        "slot 4 @ 0x10005000: device id 0",
        "slot 5 @ 0x10006000: device id 0",
        "slot 6 @ 0x10007000: device id 0",
        "slot 7 @ 0x10008000: device id 0",
        // VERSION_1, EVENT_IDX, INDIRECT_DESC, FLUSH, BLK_SIZE, SEG_MAX
        "blk: features 0x130000244",
        "blk: capacity 128 sectors",
        "blk: sector 0: wemu virtio-blk test image",
        "blk: serial wemu-test-disk",
        "blk: write sector 1 status 0, flush status 0",
        "blk: read back sector 1: same",
        "blk: read past the end: status 1",
        "blk: unsupported request: status 2",
    ];
    assert_eq!(&lines[..expected_start.len()], expected_start, "{}", out.stdout);
    assert!(lines.iter().any(|l| l.starts_with("blk: 100 reads of 4 KiB took ")), "{}", out.stdout);
    let rng = lines.iter().find(|l| l.starts_with("rng:")).expect("rng line");
    assert_eq!(rng.split_whitespace().count(), 17, "16 bytes: {rng}");
    assert!(lines.iter().rev().nth(1).is_some_and(|l| l.starts_with("rtc: 1704067200.")), "{}", out.stdout);
    assert_eq!(lines.last(), Some(&"virtio ok"));

    let after = std::fs::read(&img).expect("image after");
    let msg = b"written by the virtio guest";
    assert_eq!(&after[SECTOR..SECTOR + msg.len()], msg);
    assert!((msg.len()..SECTOR).all(|i| after[SECTOR + i] == i as u8), "rest of sector 1");
    assert_eq!(after[..SECTOR], image()[..SECTOR], "sector 0 untouched");
    assert_eq!(after[2 * SECTOR..], image()[2 * SECTOR..], "sectors 2.. untouched");

    // Virtual time, the RTC and the entropy are deterministic: a second run
    // on the same (now written) image prints exactly the same.
    let again = run_guest("block", &img);
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn a_read_only_image_is_offered_read_only_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, image()).expect("image");
    let out = run_guest("block-ro", &img);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("blk: capacity 128 sectors, read-only\n"), "{}", out.stdout);
    assert!(out.stdout.contains("blk: write sector 1 status 1, flush status 0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("blk: read back sector 1: DIFFERENT\n"), "{}", out.stdout);
    assert_eq!(std::fs::read(&img).expect("image after"), image());
}

#[test]
fn plain_virt_has_empty_slots_and_the_rtc() {
    let out = wemu(&["run", "-M", "virt", "--kernel", path(&guest("virtio"))]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.contains("rtc: 1704067200.000000000\n"), "{}", out.stdout);
    assert!(out.stdout.contains("slot 0 @ 0x10001000: device id 0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("slot 7 @ 0x10008000: device id 0\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with("FAIL: no virtio-blk\n"), "{}", out.stdout);
}

const VIRTIO0: u64 = 0x1000_1000;
const QUEUE: u64 = 0x8100_0000;

/// virt with virtio-blk in slot 0 on a sparse image of `size` bytes.
fn blk_machine(size: u64) -> (tempfile::TempDir, Machine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img).and_then(|f| f.set_len(size)).expect("image");
    let mut spec = config::load(&SearchPath::default(), "virt").expect("virt");
    // Half the default fuel per call: the work budget must leave a margin
    // (measured: the worst slice below needs 2.5–3.5 M units of the 20 M).
    config::apply_device_option(
        &mut spec,
        &format!("virtio-blk,id=virtio0,block={},fuel=10000000", path(&img)),
    )
    .expect("--device");
    // The CLI tests' compile cache: compiling the components in a debug
    // build takes seconds.
    let cache = wemu_sandbox::loader::CompileCache::new(target_dir().join("test-cache"));
    let mut loader = Loader::new(SearchPath::default(), Some(cache)).expect("loader");
    let opts =
        Options { serials: vec![wemu_machine::backend::chardev::ChardevSpec::Null], ..Default::default() };
    (dir, Machine::build(spec, &mut loader, &opts).expect("machine"))
}

fn reg(m: &mut Machine, off: u64) -> u64 {
    m.platform.load(AccessInfo::HOST, VIRTIO0 + off, 4).expect("register read")
}
fn set(m: &mut Machine, off: u64, v: u64) {
    m.platform.store(AccessInfo::HOST, VIRTIO0 + off, 4, v).expect("register write");
}
fn poke(m: &mut Machine, addr: u64, size: u8, v: u64) {
    m.platform.store(AccessInfo::HOST, addr, size, v).expect("RAM write");
}

/// Negotiate and set up queue 0 (256 entries at QUEUE), DRIVER_OK.
fn start(m: &mut Machine) {
    set(m, 0x70, 0);
    set(m, 0x70, 3);
    set(m, 0x24, 1);
    set(m, 0x20, 1); // VERSION_1
    set(m, 0x70, 11);
    set(m, 0x30, 0);
    set(m, 0x38, 256);
    for (off, addr) in [(0x80, QUEUE), (0x90, QUEUE + 0x1000), (0xa0, QUEUE + 0x2000)] {
        set(m, off, addr & 0xffff_ffff);
        set(m, off + 4, addr >> 32);
    }
    set(m, 0x44, 1);
    set(m, 0x70, 15);
    assert_eq!(reg(m, 0x70), 15, "DRIVER_OK");
}

#[test]
fn a_heavy_ring_neither_faults_the_device_nor_stalls_it() {
    // 32 available entries all name the same maximal chain: a read header,
    // 254 writable descriptors of 4 KiB and a status byte: 256 descriptors,
    // the queue size, and 508 host calls per request. One call cannot
    // serve them all within its fuel; the device serves a slice and
    // continues from a timer.
    let (_d, mut m) = blk_machine(1 << 20);
    start(&mut m);
    let hdr = QUEUE + 0x10_0000;
    let data = QUEUE + 0x20_0000;
    let status = QUEUE + 0x30_0000;
    poke(&mut m, hdr, 8, 0); // T_IN, sector 0
    poke(&mut m, hdr + 8, 8, 0);
    poke(&mut m, status, 1, 0xff);
    for i in 0..256u64 {
        let (addr, len, flags) = match i {
            0 => (hdr, 16, 1),      // NEXT
            255 => (status, 1, 2),  // WRITE
            _ => (data, 0x1000, 3), // WRITE | NEXT
        };
        let d = QUEUE + 16 * i;
        poke(&mut m, d, 8, addr);
        poke(&mut m, d + 8, 4, len);
        poke(&mut m, d + 12, 2, flags);
        poke(&mut m, d + 14, 2, i + 1);
    }
    for i in 0..32 {
        poke(&mut m, QUEUE + 0x1000 + 4 + 2 * i, 2, 0); // ring[i] = head 0
    }
    poke(&mut m, QUEUE + 0x1000 + 2, 2, 32); // avail.idx
    set(&mut m, 0x50, 0);
    let first = m.platform.load(AccessInfo::HOST, QUEUE + 0x2000 + 2, 2).expect("used idx");
    assert!(first > 0 && first < 32, "first call served {first}");
    let prog = crate::common::asm::SPIN.to_le_bytes();
    m.load_image(wemu_machine::image::parse(&prog, 0x8000_0000).expect("raw"), "spin").expect("load");
    m.run(Some(100_000)).expect("no device fault");
    assert_eq!(m.platform.load(AccessInfo::HOST, QUEUE + 0x2000 + 2, 2), Ok(32), "the rest, from the timer");
    assert_eq!(reg(&mut m, 0x70), 15, "no DEVICE_NEEDS_RESET: the chain is legal");
    assert_eq!(
        m.platform.load(AccessInfo::HOST, QUEUE + 0x2000 + 4 + 4, 4),
        Ok(254 * 0x1000 + 1),
        "used len"
    );
    assert_eq!(m.platform.load(AccessInfo::HOST, status, 1), Ok(0), "VIRTIO_BLK_S_OK");
}
