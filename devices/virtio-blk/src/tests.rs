use wemu_device_sdk::testing::TestHost;
use wemu_device_sdk::{Device, PropValue, Props};
use wemu_device_virtio::testing::{Buf, Driver, mem, rd, wr};
use wemu_device_virtio::{feature, reg, status};

use super::*;

/// A 64 KiB image whose sector `n` is filled with byte `n`.
fn image() -> Vec<u8> {
    (0..128u32).flat_map(|s| vec![s as u8; SECTOR as usize]).collect()
}

fn device_with(img: Option<(Vec<u8>, bool)>, props: &[(&str, PropValue)]) -> (VirtioBlk, Driver) {
    TestHost::reset();
    if let Some(i) = img {
        TestHost::with(|h| h.blocks.insert(0, i));
    }
    let props = Props::new(props.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect());
    let d = VirtioBlk::create(&props).expect("create");
    (d, Driver::new())
}

fn running(img: Option<(Vec<u8>, bool)>, props: &[(&str, PropValue)]) -> (VirtioBlk, Driver) {
    let (mut d, mut drv) = device_with(img, props);
    let offered = Driver::device_features(&mut d) & !feature::VERSION_1;
    drv.init(&mut d, offered, &[QUEUE_SIZE]);
    (d, drv)
}

fn header(ty: u32, sector: u64) -> Vec<u8> {
    let mut h = vec![0u8; 16];
    h[..4].copy_from_slice(&ty.to_le_bytes());
    h[8..].copy_from_slice(&sector.to_le_bytes());
    h
}

/// Submit `bufs`, kick, return (used len, writable bytes after the request).
fn run(d: &mut VirtioBlk, drv: &mut Driver, bufs: &[Buf]) -> (u32, Vec<u8>) {
    let (head, ins) = drv.submit(0, bufs);
    drv.notify(d, 0);
    let used = drv.used(0);
    assert_eq!(used.len(), 1, "one completion");
    assert_eq!(used[0].0, u32::from(head));
    (used[0].1, ins.iter().flat_map(|s| mem(s.addr, s.len as usize)).collect())
}

fn disk() -> Vec<u8> {
    TestHost::with(|h| h.blocks[&0].0.clone())
}

#[test]
fn probes_with_capacity_and_features() {
    let (mut d, _) = device_with(Some((image(), false)), &[]);
    assert_eq!(rd(&mut d, reg::DEVICE_ID), 2);
    assert_eq!(d.read(0, reg::CONFIG, 8), Ok(128), "capacity in sectors");
    assert_eq!(d.read(0, reg::CONFIG + 12, 4), Ok(254), "seg_max");
    assert_eq!(d.read(0, reg::CONFIG + 20, 4), Ok(512), "blk_size");
    let f = Driver::device_features(&mut d);
    assert_eq!(f & (F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_RO), F_SEG_MAX | F_BLK_SIZE | F_FLUSH);
    assert_eq!(d.describe().name, "virtio-blk");
}

#[test]
fn reads_sectors_into_guest_memory() {
    let (mut d, mut drv) = running(Some((image(), false)), &[]);
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_IN, 3)), Buf::In(1024), Buf::In(1)]);
    assert_eq!(len, 1025);
    assert!(out[..512].iter().all(|&b| b == 3) && out[512..1024].iter().all(|&b| b == 4));
    assert_eq!(out[1024], S_OK);
}

#[test]
fn data_split_across_descriptors_and_sharing_the_status_buffer() {
    let (mut d, mut drv) = running(Some((image(), false)), &[]);
    // 512 bytes in a 100-byte and a 413-byte buffer, whose last byte is the status.
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_IN, 9)), Buf::In(100), Buf::In(413)]);
    assert_eq!(len, 513);
    assert!(out[..512].iter().all(|&b| b == 9));
    assert_eq!(out[512], S_OK);
}

#[test]
fn writes_reach_the_image_and_flush_succeeds() {
    let (mut d, mut drv) = running(Some((image(), false)), &[]);
    let mut req = header(T_OUT, 5);
    req.extend(vec![0xab; 512]); // header and data in one buffer
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(req), Buf::In(1)]);
    assert_eq!((len, out[0]), (1, S_OK));
    let img = disk();
    assert!(img[5 * 512..6 * 512].iter().all(|&b| b == 0xab));
    assert!(img[4 * 512..5 * 512].iter().all(|&b| b == 4), "neighbours untouched");
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_FLUSH, 0)), Buf::In(1)]);
    assert_eq!((len, out[0]), (1, S_OK));
}

#[test]
fn get_id_returns_the_serial_zero_padded() {
    let (mut d, mut drv) = running(Some((image(), false)), &[("serial", PropValue::Text("disk-7".into()))]);
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_GET_ID, 0)), Buf::In(20), Buf::In(1)]);
    assert_eq!(len, 21);
    assert_eq!(&out[..6], b"disk-7");
    assert!(out[6..20].iter().all(|&b| b == 0));
    assert_eq!(out[20], S_OK);
    // A short buffer gets what fits.
    let (len, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_GET_ID, 0)), Buf::In(5)]);
    assert_eq!((len, &out[..4], out[4]), (5, &b"disk"[..], S_OK));
}

#[test]
fn read_only_images_advertise_ro_and_refuse_writes() {
    for (img, props) in [
        ((image(), true), vec![]), // the backend refuses writes
        ((image(), false), vec![("readonly", PropValue::Bool(true))]), // the machine says so
    ] {
        let (mut d, mut drv) = running(Some(img), &props);
        assert_ne!(Driver::device_features(&mut d) & F_RO, 0, "{props:?}");
        let mut req = header(T_OUT, 0);
        req.extend(vec![0xff; 512]);
        let (_, out) = run(&mut d, &mut drv, &[Buf::Out(req), Buf::In(1)]);
        assert_eq!(out[0], S_IOERR, "{props:?}");
        assert_eq!(disk(), image(), "image untouched");
        let (_, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_IN, 1)), Buf::In(512), Buf::In(1)]);
        assert_eq!(out[512], S_OK, "reads still work");
    }
}

#[test]
fn bad_requests_complete_with_ioerr_or_unsupp() {
    let (mut d, mut drv) = running(Some((image(), false)), &[]);
    let cases: [(&str, u32, u64, u32, u8); 5] = [
        ("past the end", T_IN, 127, 1024, S_IOERR),
        ("sector overflow", T_IN, u64::MAX / 2, 512, S_IOERR),
        ("not a multiple of 512", T_IN, 0, 100, S_IOERR),
        ("discard", 11, 0, 0, S_UNSUPP),
        ("unknown type", 0x7777, 0, 0, S_UNSUPP),
    ];
    for (why, ty, sector, len, want) in cases {
        let mut bufs = vec![Buf::Out(header(ty, sector))];
        if len > 0 {
            bufs.push(Buf::In(len));
        }
        bufs.push(Buf::In(1));
        let (_, out) = run(&mut d, &mut drv, &bufs);
        assert_eq!(out[len as usize], want, "{why}");
    }
    assert_eq!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0, "errors are per request");
}

#[test]
fn without_a_backend_it_probes_empty() {
    let (mut d, mut drv) = running(None, &[]);
    assert_eq!(d.read(0, reg::CONFIG, 8), Ok(0));
    assert_eq!(rd(&mut d, reg::STATUS) & status::DRIVER_OK, status::DRIVER_OK);
    let (_, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_IN, 0)), Buf::In(512), Buf::In(1)]);
    assert_eq!(out[512], S_IOERR);
    let (_, out) = run(&mut d, &mut drv, &[Buf::Out(header(T_FLUSH, 0)), Buf::In(1)]);
    assert_eq!(out[0], S_OK);
}

#[test]
fn malformed_requests_need_a_reset() {
    for bufs in [vec![Buf::Out(header(T_IN, 0))], vec![Buf::Out(vec![0; 8]), Buf::In(1)]] {
        let (mut d, mut drv) = running(Some((image(), false)), &[]);
        drv.submit(0, &bufs);
        drv.notify(&mut d, 0);
        assert!(drv.used(0).is_empty());
        assert_ne!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }
}

#[test]
fn indirect_requests_work() {
    let (mut d, mut drv) = running(Some((image(), false)), &[]);
    let (_, ins) = drv.submit_indirect(0, &[Buf::Out(header(T_IN, 2)), Buf::In(512), Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert_eq!(drv.used(0).len(), 1);
    assert!(mem(ins[0].addr, 512).iter().all(|&b| b == 2));
}

#[test]
fn properties_are_checked() {
    TestHost::reset();
    let long = Props::new(vec![("serial".into(), PropValue::Text("x".repeat(21)))]);
    assert!(VirtioBlk::create(&long).expect_err("too long").contains("serial"));
    let unknown = Props::new(vec![("type".into(), PropValue::Text("blk".into()))]);
    assert!(VirtioBlk::create(&unknown).is_err());
}

#[test]
fn a_queue_num_above_the_maximum_survives_save_and_restore() {
    // `wemu fuzz` found QueueNum 0x101 (QueueNumMax is 256) then save:
    // restore refused the state save had just produced.
    let (mut d, _) = device_with(Some((image(), false)), &[]);
    wr(&mut d, reg::QUEUE_SEL, 0);
    wr(&mut d, reg::QUEUE_NUM, 0x101);
    let (mut copy, _) = device_with(Some((image(), false)), &[]);
    copy.restore(&d.save()).expect("restore takes what save gave");
    // The copy goes on as the original: the size is refused at QueueReady.
    for dev in [&mut d, &mut copy] {
        wr(dev, reg::QUEUE_READY, 1);
        assert_eq!(rd(dev, reg::QUEUE_READY), 0);
        assert_eq!(rd(dev, reg::STATUS) & status::DEVICE_NEEDS_RESET, status::DEVICE_NEEDS_RESET);
    }
}
