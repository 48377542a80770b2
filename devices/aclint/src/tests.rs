use super::*;
use wemu_device_sdk::PropValue;
use wemu_device_sdk::testing::TestHost;

const MSIP0: u64 = 0;
const CMP0: u64 = MTIMECMP_BASE;

fn clint_with(props: &[(&str, PropValue)]) -> Aclint {
    TestHost::reset();
    let props = Props::new(props.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect());
    Aclint::create(&props).expect("create")
}

fn clint() -> Aclint {
    clint_with(&[])
}

fn line(n: u32) -> bool {
    TestHost::with(|h| h.irq(n))
}

fn set_now(ns: u64) {
    TestHost::with(|h| h.now_ns = ns);
}

fn timer(id: u32) -> Option<u64> {
    TestHost::with(|h| h.timers.get(&id).copied())
}

/// What the host does when a timer's deadline passes: advance the clock,
/// disarm it, call `timer_fired`.
fn fire(c: &mut Aclint, id: u32) {
    let deadline = timer(id).expect("armed");
    TestHost::with(|h| {
        h.now_ns = h.now_ns.max(deadline);
        h.timers.remove(&id);
    });
    c.timer_fired(id);
}

/// The host's `time` CSR for this virtual time (host/machine/src/machine/run.rs).
fn host_time(now_ns: u64, timebase_frequency: u64) -> u64 {
    now_ns / (1_000_000_000 / timebase_frequency.max(1)).max(1)
}

#[test]
fn describes_qemu_virt_clint() {
    let d = clint_with(&[("harts", PropValue::Int(3))]).describe();
    assert_eq!(d.regions, vec![("regs".to_owned(), 0x10000)]);
    assert_eq!((d.irq_outputs, d.irq_inputs), (6, 0));
    let node = d.dt_node.expect("dt node");
    assert_eq!(node.name, "clint");
    assert_eq!(node.compatible, vec!["sifive,clint0", "riscv,clint0"]);
    assert!(node.properties.is_empty());
}

#[test]
fn mtip_is_pending_from_power_on_like_qemu() {
    let _c = clint_with(&[("harts", PropValue::Int(2))]);
    assert!(line(1) && line(3), "mtimecmp = 0 <= mtime = 0");
    assert!(!line(0) && !line(2), "no software interrupt");
}

#[test]
fn mtime_matches_the_hosts_time_csr() {
    for tbf in [10_000_000, 1_000_000, 3, 7_000_000, 1_000_000_000] {
        let mut c = clint_with(&[("timebase-frequency", PropValue::Int(tbf))]);
        for now in [0, 1, 99, 100, 101, 12_345_678_901, u64::MAX / 3] {
            set_now(now);
            assert_eq!(c.read(0, MTIME, 8), Ok(host_time(now, tbf as u64)), "tbf {tbf} now {now}");
        }
    }
}

#[test]
fn mtime_halves_and_widths() {
    let mut c = clint();
    let t = 0x0123_4567_89ab_cdefu64;
    set_now(t * 100);
    assert_eq!(c.read(0, MTIME, 8), Ok(t));
    assert_eq!(c.read(0, MTIME, 4), Ok(t & 0xffff_ffff));
    assert_eq!(c.read(0, MTIME + 4, 4), Ok(t >> 32));
    assert_eq!(c.read(0, MTIME, 2), Err(AccessError::InvalidSize));
    assert_eq!(c.read(0, MTIME, 1), Err(AccessError::InvalidSize));
}

#[test]
fn a_future_compare_lowers_mtip_and_arms_the_exact_deadline() {
    let mut c = clint();
    set_now(1_050); // mtime = 10 (100 ns per tick)
    c.write(0, CMP0, 8, 25).expect("write");
    assert!(!line(1));
    assert_eq!(timer(0), Some(2_500), "first nanosecond where mtime = 25");
    set_now(2_499);
    assert_eq!(c.read(0, MTIME, 8), Ok(24));
    fire(&mut c, 0);
    assert!(line(1), "fired at 2500 ns: mtime = 25 >= 25");
    assert_eq!(c.read(0, MTIME, 8), Ok(25));
    assert_eq!(timer(0), None, "nothing left to wait for");
}

#[test]
fn a_timer_that_fires_early_is_re_armed() {
    let mut c = clint();
    c.write(0, CMP0, 8, 100).expect("write");
    assert_eq!(timer(0), Some(10_000));
    set_now(5_000);
    c.timer_fired(0);
    assert!(!line(1));
    assert_eq!(timer(0), Some(10_000));
}

#[test]
fn a_past_compare_raises_at_once_and_max_never_fires() {
    let mut c = clint();
    set_now(1_000_000);
    c.write(0, CMP0, 8, 5).expect("write");
    assert!(line(1));
    assert_eq!(timer(0), None);
    c.write(0, CMP0, 8, u64::MAX).expect("write");
    assert!(!line(1));
    assert_eq!(timer(0), None, "u64::MAX ticks is beyond the clock: no timer");
}

#[test]
fn mtimecmp_halves_merge_like_qemu() {
    let mut c = clint();
    c.write(0, CMP0, 4, 0x1234).expect("lo");
    assert_eq!(c.read(0, CMP0, 8), Ok(0x1234));
    c.write(0, CMP0 + 4, 4, 5).expect("hi");
    assert_eq!(c.read(0, CMP0, 8), Ok(0x5_0000_1234));
    assert_eq!(c.read(0, CMP0 + 4, 4), Ok(5));
    assert_eq!(c.read(0, CMP0, 4), Ok(0x1234));
    assert_eq!(c.write(0, CMP0, 2, 1), Err(AccessError::InvalidSize));
    // The usual RV32 sequence to a later value never raises MTIP early.
    c.write(0, CMP0 + 4, 4, 0xffff_ffff).expect("hi");
    c.write(0, CMP0, 4, 0x10).expect("lo");
    c.write(0, CMP0 + 4, 4, 0).expect("hi");
    assert_eq!(c.read(0, CMP0, 8), Ok(0x10));
    assert_eq!(timer(0), Some(0x10 * 100));
}

#[test]
fn msip_drives_the_software_line() {
    let mut c = clint_with(&[("harts", PropValue::Int(2))]);
    c.write(0, MSIP0 + 4, 4, 3).expect("write");
    assert!(line(2) && !line(0), "hart 1's line only");
    assert_eq!(c.read(0, MSIP0 + 4, 4), Ok(1), "bit 0 only");
    c.write(0, MSIP0 + 4, 4, 2).expect("write");
    assert!(!line(2));
    for size in [1, 2, 8] {
        assert_eq!(c.read(0, MSIP0, size), Err(AccessError::InvalidSize));
        assert_eq!(c.write(0, MSIP0, size, 1), Err(AccessError::InvalidSize));
    }
    assert!(!line(0));
}

#[test]
fn per_hart_compare_registers() {
    let mut c = clint_with(&[("harts", PropValue::Int(2))]);
    c.write(0, CMP0 + 8, 8, 50).expect("write");
    assert!(line(1), "hart 0 still at compare 0");
    assert!(!line(3));
    assert_eq!(timer(1), Some(5_000));
    assert_eq!(timer(0), None);
}

#[test]
fn empty_and_undecoded_offsets() {
    let mut c = clint();
    assert_eq!(c.read(0, MSIP0 + 4, 4), Ok(0), "no hart 1");
    c.write(0, MSIP0 + 4, 4, 1).expect("ignored");
    assert_eq!(c.read(0, 0x3ffc, 4), Ok(0));
    assert_eq!(c.read(0, CMP0 + 8, 8), Ok(0), "no hart 1");
    assert_eq!(c.read(0, 0x8000, 4), Ok(0));
    assert_eq!(c.read(0, 0xbff0, 8), Ok(0));
    c.write(0, 0xbff0, 8, 1).expect("ignored");
    assert_eq!(c.read(0, MTIMER_END, 4), Err(AccessError::InvalidOffset));
    assert_eq!(c.read(0, WINDOW - 4, 4), Err(AccessError::InvalidOffset));
    assert_eq!(c.write(0, MTIMER_END, 4, 0), Err(AccessError::InvalidOffset));
    assert_eq!(TestHost::with(|h| h.irq_calls.len()), 1, "only the power-on MTIP");
}

#[test]
fn mtime_writes_keep_an_offset_and_re_evaluate() {
    let mut c = clint();
    set_now(1_000); // raw 10
    c.write(0, CMP0, 8, 1_000).expect("cmp");
    assert!(!line(1));
    c.write(0, MTIME, 8, 2_000).expect("mtime");
    assert!(line(1), "mtime jumped past the compare value");
    assert_eq!(c.read(0, MTIME, 8), Ok(2_000));
    set_now(2_000);
    assert_eq!(c.read(0, MTIME, 8), Ok(2_010), "keeps counting from the new value");
    c.write(0, MTIME, 8, 0).expect("mtime");
    assert!(!line(1));
    assert_eq!(timer(0), Some((20 + 1_000) * 100), "raw 20 + 1000 ticks");
    // Halves, as QEMU 7.2: the other half comes from the raw count.
    c.write(0, MTIME + 4, 4, 7).expect("hi");
    assert_eq!(c.read(0, MTIME, 8), Ok((7 << 32) | 20));
    c.write(0, MTIME, 4, 3).expect("lo");
    assert_eq!(c.read(0, MTIME, 8), Ok(3));
}

#[test]
fn bad_properties_are_named() {
    TestHost::reset();
    let create = |items: &[(&str, PropValue)]| {
        Aclint::create(&Props::new(items.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()))
            .expect_err("refused")
    };
    assert!(create(&[("harts", PropValue::Int(0))]).contains("'harts'"));
    assert!(create(&[("harts", PropValue::Int(5000))]).contains("'harts'"));
    assert!(create(&[("timebase-frequency", PropValue::Int(0))]).contains("'timebase-frequency'"));
    assert!(create(&[("timebase-frequency", PropValue::Int(2_000_000_000))]).contains("1000000000"));
    assert!(create(&[("harts", PropValue::Text("$harts".into()))]).contains("must be an integer"));
    assert!(create(&[("mtime", PropValue::Int(1))]).contains("'mtime'"));
}

#[test]
fn reset_restores_power_on_state() {
    let mut c = clint();
    c.write(0, MSIP0, 4, 1).expect("msip");
    c.write(0, CMP0, 8, 500).expect("cmp");
    c.write(0, MTIME, 8, 77).expect("mtime");
    assert!(line(0) && !line(1));
    c.reset();
    assert!(!line(0));
    assert!(line(1), "compare back to 0: MTIP pending again");
    assert_eq!(c.read(0, CMP0, 8), Ok(0));
    assert_eq!(c.read(0, MTIME, 8), Ok(0), "offset dropped: mtime is the time CSR again");
    assert_eq!(timer(0), None);
}

#[test]
fn save_restore_round_trips() {
    let mut c = clint();
    set_now(100);
    c.write(0, CMP0, 8, 40).expect("cmp");
    c.write(0, MSIP0, 4, 1).expect("msip");
    let snap = c.save();
    let mut d = clint();
    set_now(100);
    d.restore(&snap).expect("restore");
    assert_eq!(c, d);
    assert!(line(0) && !line(1));
    assert_eq!(timer(0), Some(4_000), "the deadline is armed again");
    assert!(d.restore(b"junk").is_err());
    let mut two = clint_with(&[("harts", PropValue::Int(2))]);
    assert!(two.restore(&snap).is_err());
}
