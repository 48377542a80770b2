//! Transport and virtqueue tests against a small echo device, driven the
//! way a guest driver would (`testing::Driver`).

use serde::{Deserialize, Serialize};
use wemu_device_sdk::log::Level;
use wemu_device_sdk::testing::TestHost;
use wemu_device_sdk::{Device, Props};

use crate::queue::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE};
use crate::testing::{Buf, Driver, RAM_BASE, mem, poke, rd, rings, wr};
use crate::{Backend, Chain, Empty, Fault, VirtioMmio, feature, int, reg, status};

/// Echo: copies the readable stream, reversed, into the writable one.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Echo {
    served: u32,
}

impl Backend for Echo {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "0";
    const DEVICE_ID: u32 = 0x1f;
    const QUEUES: &'static [u16] = &[256];

    fn create(props: &Props) -> Result<Self, String> {
        props.finish()?;
        Ok(Echo::default())
    }
    fn features(&self) -> u64 {
        1 << 3
    }
    fn config(&self) -> Vec<u8> {
        vec![1, 2, 3, 4, 5, 6, 7, 8]
    }
    fn process(&mut self, _queue: u16, chain: &Chain, _features: u64) -> Result<u32, Fault> {
        self.served += 1;
        let mut data = chain.read(0, chain.readable_len() as u32)?;
        data.reverse();
        chain.write(0, &data)
    }
}

type Dev = VirtioMmio<Echo>;

fn dev() -> (Dev, Driver) {
    TestHost::reset();
    let d = Dev::create(&Props::default()).expect("create");
    (d, Driver::new())
}

/// A running echo device with one 256-entry queue and `extra` features.
fn running(extra: u64) -> (Dev, Driver) {
    let (mut d, mut drv) = dev();
    let st = drv.init(&mut d, extra, &[256]);
    assert_eq!(st & status::DRIVER_OK, status::DRIVER_OK);
    (d, drv)
}

fn irq() -> bool {
    TestHost::with(|h| h.irq(0))
}

fn needs_reset(d: &mut Dev) -> bool {
    rd(d, reg::STATUS) & status::DEVICE_NEEDS_RESET != 0
}

fn warned(needle: &str) -> bool {
    TestHost::with(|h| h.logs.iter().any(|(l, m)| *l == Level::Warn && m.contains(needle)))
}

#[test]
fn identification_registers() {
    let (mut d, _) = dev();
    assert_eq!(rd(&mut d, reg::MAGIC_VALUE), 0x7472_6976);
    assert_eq!(rd(&mut d, reg::VERSION), 2);
    assert_eq!(rd(&mut d, reg::DEVICE_ID), 0x1f);
    assert_eq!(rd(&mut d, reg::VENDOR_ID), 0x554d_4551);
    let f = Driver::device_features(&mut d);
    assert_eq!(f, feature::VERSION_1 | feature::INDIRECT_DESC | feature::EVENT_IDX | 1 << 3);
    wr(&mut d, reg::QUEUE_SEL, 0);
    assert_eq!(rd(&mut d, reg::QUEUE_NUM_MAX), 256);
    wr(&mut d, reg::QUEUE_SEL, 1);
    assert_eq!(rd(&mut d, reg::QUEUE_NUM_MAX), 0, "no queue 1");
    let desc = d.describe();
    assert_eq!(desc.regions, vec![("regs".to_owned(), 0x1000)]);
    assert_eq!(desc.irq_outputs, 1);
    assert_eq!(desc.dt_node.expect("node").compatible, vec!["virtio,mmio"]);
}

#[test]
fn an_empty_slot_reads_zero_but_for_its_identification() {
    TestHost::reset();
    let mut e = VirtioMmio::<Empty>::create(&Props::default()).expect("create");
    assert_eq!(rd(&mut e, reg::MAGIC_VALUE), 0x7472_6976);
    assert_eq!(rd(&mut e, reg::VERSION), 2);
    assert_eq!(rd(&mut e, reg::VENDOR_ID), 0x554d_4551);
    assert_eq!(rd(&mut e, reg::DEVICE_ID), 0, "no device");
    wr(&mut e, reg::STATUS, status::ACKNOWLEDGE);
    assert_eq!(rd(&mut e, reg::STATUS), 0, "writes ignored");
    assert_eq!(e.read(0, reg::CONFIG, 4), Ok(0));
    assert_eq!(e.read(0, reg::MAGIC_VALUE, 2), Ok(0x6976), "any width, silently");
    assert!(TestHost::with(|h| h.logs.is_empty()));
}

#[test]
fn features_ok_requires_version_1_and_only_offered_bits() {
    let (mut d, mut drv) = dev();
    assert_eq!(drv.negotiate(&mut d, 0) & status::FEATURES_OK, 0, "legacy driver refused");
    assert!(warned("refusing FEATURES_OK"));
    assert_eq!(drv.negotiate(&mut d, feature::VERSION_1 | 1 << 40) & status::FEATURES_OK, 0, "unoffered bit");
    let st = drv.negotiate(&mut d, feature::VERSION_1 | 1 << 3);
    assert_ne!(st & status::FEATURES_OK, 0);
    // Features are frozen once FEATURES_OK is set.
    wr(&mut d, reg::DRIVER_FEATURES_SEL, 0);
    wr(&mut d, reg::DRIVER_FEATURES, 0);
    assert_eq!(d.driver_features, feature::VERSION_1 | 1 << 3);
    // DRIVER_OK without FEATURES_OK does not take.
    drv.negotiate(&mut d, 0);
    wr(&mut d, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK);
    assert_eq!(rd(&mut d, reg::STATUS) & status::DRIVER_OK, 0);
}

#[test]
fn a_request_is_served_with_used_ring_and_interrupt() {
    let (mut d, mut drv) = running(0);
    let (head, ins) = drv.submit(0, &[Buf::Out(b"abc".to_vec()), Buf::In(8)]);
    assert!(!irq());
    drv.notify(&mut d, 0);
    assert_eq!(drv.used(0), vec![(u32::from(head), 3)]);
    assert_eq!(mem(ins[0].addr, 3), b"cba");
    assert!(irq());
    assert_eq!(rd(&mut d, reg::INTERRUPT_STATUS), int::VRING);
    wr(&mut d, reg::INTERRUPT_ACK, int::VRING);
    assert!(!irq());
    assert_eq!(rd(&mut d, reg::INTERRUPT_STATUS), 0);
}

#[test]
fn many_requests_and_ring_wrap_around() {
    let (mut d, mut drv) = dev();
    drv.init(&mut d, 0, &[4]);
    for round in 0..10u8 {
        let (_, ins) = drv.submit(0, &[Buf::Out(vec![round, 1]), Buf::In(2)]);
        drv.notify(&mut d, 0);
        assert_eq!(drv.used(0).len(), 1, "round {round}");
        assert_eq!(mem(ins[0].addr, 2), [1, round]);
    }
    assert!(!needs_reset(&mut d));
}

#[test]
fn buffers_made_available_before_driver_ok_are_served_at_driver_ok() {
    let (mut d, mut drv) = dev();
    let st = drv.negotiate(&mut d, feature::VERSION_1);
    drv.setup_queue(&mut d, 0, 8);
    drv.submit(0, &[Buf::Out(vec![7]), Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert!(drv.used(0).is_empty(), "not before DRIVER_OK");
    wr(&mut d, reg::STATUS, st | status::DRIVER_OK);
    assert_eq!(drv.used(0).len(), 1);
}

#[test]
fn indirect_descriptors_when_negotiated() {
    let (mut d, mut drv) = running(feature::INDIRECT_DESC);
    let (head, ins) =
        drv.submit_indirect(0, &[Buf::Out(b"xy".to_vec()), Buf::Out(b"z".to_vec()), Buf::In(3)]);
    drv.notify(&mut d, 0);
    assert_eq!(drv.used(0), vec![(u32::from(head), 3)]);
    assert_eq!(mem(ins[0].addr, 3), b"zyx");

    let (mut d, mut drv) = running(0);
    drv.submit_indirect(0, &[Buf::In(3)]);
    drv.notify(&mut d, 0);
    assert!(needs_reset(&mut d), "indirect without the feature");
}

#[test]
fn no_interrupt_flag_and_event_idx_suppress_interrupts() {
    let (mut d, mut drv) = running(0);
    let (_, avail, _) = rings(0);
    poke(avail, &1u16.to_le_bytes()); // VIRTQ_AVAIL_F_NO_INTERRUPT
    drv.submit(0, &[Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert_eq!(drv.used(0).len(), 1);
    assert!(!irq(), "driver asked for no interrupt");

    let (mut d, mut drv) = running(feature::EVENT_IDX);
    let (_, avail, used) = rings(0);
    poke(avail + 4 + 2 * 256, &1u16.to_le_bytes()); // used_event = 1
    drv.submit(0, &[Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert!(!irq(), "used idx 0 -> 1 does not pass used_event 1");
    assert_eq!(mem(used + 4 + 8 * 256, 2), 1u16.to_le_bytes(), "avail_event = next entry");
    drv.submit(0, &[Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert!(irq(), "1 -> 2 passes used_event 1");
}

#[test]
fn config_space_reads_and_access_widths() {
    let (mut d, _) = dev();
    assert_eq!(d.read(0, reg::CONFIG, 1), Ok(1));
    assert_eq!(d.read(0, reg::CONFIG + 2, 2), Ok(0x0403));
    assert_eq!(d.read(0, reg::CONFIG + 4, 4), Ok(0x0807_0605));
    assert_eq!(d.read(0, reg::CONFIG, 8), Ok(0x0807_0605_0403_0201));
    assert_eq!(d.read(0, reg::CONFIG + 6, 4), Ok(0xffff_ffff), "past the end: all ones");
    assert_eq!(d.read(0, reg::MAGIC_VALUE, 2), Ok(0), "control registers are 32-bit only");
    assert!(warned("32-bit only"));
    d.write(0, reg::STATUS, 1, 1).expect("ignored");
    assert_eq!(rd(&mut d, reg::STATUS), 0);
}

#[test]
fn status_zero_resets_queues_and_lowers_the_line() {
    let (mut d, mut drv) = running(0);
    drv.submit(0, &[Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert!(irq());
    wr(&mut d, reg::STATUS, 0);
    assert!(!irq());
    assert_eq!(rd(&mut d, reg::STATUS), 0);
    assert_eq!(rd(&mut d, reg::INTERRUPT_STATUS), 0);
    assert_eq!(rd(&mut d, reg::QUEUE_READY), 0);
    assert_eq!(d.driver_features, 0);
    // And the device works again from scratch.
    drv.init(&mut d, 0, &[16]);
    drv.submit(0, &[Buf::Out(vec![5]), Buf::In(1)]);
    drv.notify(&mut d, 0);
    assert_eq!(drv.used(0), vec![(0, 1)]);
}

#[test]
fn queue_registers_are_frozen_while_ready_and_bad_layouts_refused() {
    let (mut d, _drv) = running(0);
    wr(&mut d, reg::QUEUE_SEL, 0);
    wr(&mut d, reg::QUEUE_NUM, 8);
    wr(&mut d, reg::QUEUE_DESC_LOW, 0x1234);
    assert_eq!(d.queues[0].num, 256);
    assert_eq!(d.queues[0].desc, rings(0).0);

    let (mut d, mut drv) = dev();
    drv.negotiate(&mut d, feature::VERSION_1);
    wr(&mut d, reg::QUEUE_SEL, 0);
    wr(&mut d, reg::QUEUE_NUM, 100); // not a power of 2
    wr(&mut d, reg::QUEUE_READY, 1);
    assert_eq!(rd(&mut d, reg::QUEUE_READY), 0);
    assert!(needs_reset(&mut d));
    assert!(warned("not a power of 2"));
}

/// Publish `head` after writing raw descriptors, kick, and expect
/// DEVICE_NEEDS_RESET with a configuration interrupt and `why` logged.
fn expect_rejected(d: &mut Dev, drv: &mut Driver, head: u16, why: &str) {
    drv.publish(0, head);
    drv.notify(d, 0);
    assert!(needs_reset(d), "{why}: no DEVICE_NEEDS_RESET");
    assert!(warned(why), "{why}: not logged; logs: {:?}", TestHost::with(|h| h.logs.clone()));
    assert_eq!(rd(d, reg::INTERRUPT_STATUS) & int::CONFIG, int::CONFIG);
    assert!(irq());
    assert!(drv.used(0).is_empty(), "{why}: nothing used");
}

#[test]
fn malicious_chains_set_needs_reset_and_never_trap() {
    const BUF: u64 = RAM_BASE + 0x10_0000;
    type Setup = fn(&Driver);
    let cases: &[(&str, u16, Setup)] = &[
        ("longer than the queue", 0, |drv| {
            drv.put_desc(0, 0, BUF, 1, DESC_F_NEXT, 1);
            drv.put_desc(0, 1, BUF, 1, DESC_F_NEXT, 0); // 0 -> 1 -> 0 -> ...
        }),
        ("head index 300 out of range", 300, |_| {}),
        ("next index 999 out of range", 0, |drv| drv.put_desc(0, 0, BUF, 1, DESC_F_NEXT, 999)),
        ("readable descriptor after a device-writable", 0, |drv| {
            drv.put_desc(0, 0, BUF, 1, DESC_F_WRITE | DESC_F_NEXT, 1);
            drv.put_desc(0, 1, BUF, 1, 0, 0);
        }),
        ("both INDIRECT and NEXT", 0, |drv| drv.put_desc(0, 0, BUF, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1)),
        ("not a multiple of 16", 0, |drv| drv.put_desc(0, 0, BUF, 17, DESC_F_INDIRECT, 0)),
        ("indirect table of 4096", 0, |drv| drv.put_desc(0, 0, BUF, 16 * 4096, DESC_F_INDIRECT, 0)),
        ("indirect descriptor inside an indirect table", 0, |drv| {
            drv.put_desc(0, 0, BUF, 16, DESC_F_INDIRECT, 0);
            let mut inner = [0u8; 16];
            inner[12] = DESC_F_INDIRECT as u8;
            poke(BUF, &inner);
        }),
        ("indirect chain loops", 0, |drv| {
            drv.put_desc(0, 0, BUF, 32, DESC_F_INDIRECT, 0);
            let mut t = [0u8; 32];
            t[12] = DESC_F_NEXT as u8;
            t[14] = 1; // 0 -> 1
            t[28] = DESC_F_NEXT as u8; // 1 -> 0
            poke(BUF, &t);
        }),
        ("read of a request buffer", 0, |drv| drv.put_desc(0, 0, 0x1000, 4, 0, 0)),
        ("read of an indirect table", 0, |drv| drv.put_desc(0, 0, 0x10, 16, DESC_F_INDIRECT, 0)),
    ];
    for (why, head, setup) in cases {
        let (mut d, mut drv) = running(feature::INDIRECT_DESC);
        setup(&drv);
        expect_rejected(&mut d, &mut drv, *head, why);
        // A device that needs a reset ignores further notifications…
        drv.submit(0, &[Buf::In(1)]);
        drv.notify(&mut d, 0);
        assert!(drv.used(0).is_empty(), "{why}: served after the error");
        // …until the driver resets it.
        drv.init(&mut d, 0, &[8]);
        assert!(!needs_reset(&mut d), "{why}: reset clears the error");
    }
}

#[test]
fn a_driver_far_ahead_of_the_device_is_refused() {
    let (mut d, mut drv) = running(0);
    drv.force_avail_idx(0, 300);
    drv.notify(&mut d, 0);
    assert!(needs_reset(&mut d));
    assert!(warned("entries ahead"));
}

#[test]
fn rings_outside_guest_memory_are_refused() {
    let (mut d, mut drv) = dev();
    drv.negotiate(&mut d, feature::VERSION_1);
    drv.setup_queue(&mut d, 0, 8);
    wr(&mut d, reg::QUEUE_READY, 0);
    wr(&mut d, reg::QUEUE_DRIVER_LOW, 0x2000); // no RAM there
    wr(&mut d, reg::QUEUE_DRIVER_HIGH, 0);
    wr(&mut d, reg::QUEUE_READY, 1);
    let st = rd(&mut d, reg::STATUS);
    wr(&mut d, reg::STATUS, st | status::DRIVER_OK);
    drv.notify(&mut d, 0);
    assert!(needs_reset(&mut d));
    assert!(warned("read of the driver area"));
}

#[test]
fn a_long_burst_continues_from_a_timer() {
    let (mut d, mut drv) = running(0);
    // 256 requests, each one descriptor naming 1 MiB of writable space
    // (17 work units; the echo writes nothing, so the space is never touched).
    for i in 0..256u16 {
        drv.put_desc(0, i, RAM_BASE, 1 << 20, DESC_F_WRITE, 0);
        drv.publish(0, i);
    }
    drv.notify(&mut d, 0);
    let first = drv.used(0).len();
    assert!(first > 0 && first < 256, "served {first} in the first call");
    assert_eq!(TestHost::with(|h| h.timers.get(&0).copied()), Some(0), "continuation armed at now");
    TestHost::with(|h| h.timers.clear());
    d.timer_fired(0);
    assert_eq!(first + drv.used(0).len(), 256);
    assert_eq!(d.backend.served, 256);
}

#[test]
fn restore_asks_again_for_a_pending_continuation() {
    let (mut d, mut drv) = running(0);
    for i in 0..256u16 {
        drv.put_desc(0, i, RAM_BASE, 1 << 20, DESC_F_WRITE, 0);
        drv.publish(0, i);
    }
    drv.notify(&mut d, 0);
    let snap = d.save();
    TestHost::with(|h| h.timers.clear());
    let mut e = Dev::create(&Props::default()).expect("create");
    e.restore(&snap).expect("restore");
    assert_eq!(TestHost::with(|h| h.timers.get(&0).copied()), Some(0));
    e.timer_fired(0);
    assert_eq!(drv.used(0).len(), 256, "all served, before and after the restore");
}

#[test]
fn save_restore_round_trips_and_refuses_bad_shapes() {
    let (mut d, mut drv) = running(0);
    drv.submit(0, &[Buf::In(1)]);
    drv.notify(&mut d, 0);
    let snap = d.save();
    let (mut e, _) = dev();
    e.restore(&snap).expect("restore");
    assert_eq!(e.queues, d.queues);
    assert_eq!(e.backend, d.backend);
    let mut bad = VirtioMmio::new(Echo::default());
    bad.queues[0].num = 512;
    // Not ready: a size as a driver may write it, refused at QueueReady.
    e.restore(&bad.save()).expect("a queue size above the maximum, not ready");
    bad.queues[0].ready = true;
    assert!(e.restore(&bad.save()).is_err(), "a ready queue larger than its maximum");
    let mut other = VirtioMmio::new(Echo::default());
    other.queues[0].max = 128;
    assert!(e.restore(&other.save()).is_err(), "another QueueNumMax: another model");
    assert!(e.restore(b"nope").is_err());
}
