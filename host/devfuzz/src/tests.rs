//! Tests of the fuzzer against the built-in devices (the buggy test device
//! is exercised through the CLI in tests/integration/fuzz.rs).

use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::engine::{FuzzOptions, Progress, Summary, fuzz};
use super::harness::{Harness, catch_host_panic, install_panic_hook};
use super::instrument;
use super::ops::FuzzOp;
use super::target::{FuzzTarget, FuzzTargetOptions};
use wemu_sandbox::loader::{Loader, SearchPath, search};

fn target(name: &str, coverage: bool) -> Arc<FuzzTarget> {
    let loader = Loader::new(SearchPath::default(), None).expect("loader");
    let mut opts = FuzzTargetOptions::new(name);
    opts.coverage = coverage;
    Arc::new(FuzzTarget::load(&loader, &opts).expect("load target"))
}

fn built_in(name: &'static str) -> Vec<u8> {
    search::read_device(&search::Origin::BuiltIn(name)).expect("built-in device").to_vec()
}

#[test]
fn every_built_in_device_instruments_to_a_valid_component() {
    for name in [
        "aclint",
        "goldfish-rtc",
        "ns16550a",
        "plic",
        "sifive-test",
        "virtio-blk",
        "virtio-mmio",
        "virtio-rng",
    ] {
        let original = built_in(name);
        let i = instrument::instrument(&original).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
            .validate_all(&i.component)
            .unwrap_or_else(|e| panic!("{name}: the instrumented component is invalid: {e}"));
        assert!(i.blocks > 100, "{name}: {} blocks", i.blocks);
        assert!(i.counters > i.blocks, "{name}: no comparison features");
        assert!(instrument::instrument(&i.component).is_err(), "{name}: instrumented twice");
    }
}

#[test]
fn the_dictionary_holds_the_constants_a_device_compares_with() {
    let dict = instrument::dictionary(&built_in("sifive-test"));
    // sifive_test's finisher codes: pass, fail, reset.
    for code in [0x5555, 0x3333, 0x7777] {
        assert!(dict.contains(&code), "{code:#x} not in {dict:x?}");
    }
}

/// Writes to the UART (THR, IER, LCR, scratch) and reads back.
fn uart_input(t: &FuzzTarget) -> Vec<u8> {
    t.codec.encode(&[
        FuzzOp::Write { region: 0, offset: 0, size: 1, value: b'h'.into() },
        FuzzOp::Write { region: 0, offset: 1, size: 1, value: 0x0f },
        FuzzOp::Read { region: 0, offset: 2, size: 1 },
        FuzzOp::Input { port: 0, data: b"xy".to_vec() },
        FuzzOp::SaveRestore,
        FuzzOp::Read { region: 0, offset: 5, size: 1 },
        FuzzOp::Read { region: 0, offset: 0, size: 1 },
        FuzzOp::Write { region: 0, offset: 7, size: 1, value: 0x5a },
        FuzzOp::Read { region: 0, offset: 7, size: 1 },
    ])
}

#[test]
fn coverage_is_measured_in_the_device_and_repeats_exactly() {
    let t = target("ns16550a", true);
    let blocks = t.blocks.expect("instrumented");
    let mut h = Harness::new(t.clone(), &[]);
    let input = uart_input(&t);
    assert_eq!(h.run(&input, None), None);
    let first = h.hits.clone();
    assert!(first.iter().filter(|(i, _)| (*i as usize) < blocks).count() > 20, "{first:?}");
    // The instance is reset and reused: the same input, the same blocks
    // (the allocator, whose paths depend on the heap left by earlier
    // inputs, is not counted; the very first run on a fresh instance
    // still differs a little, e.g. in vectors growing for the first time).
    assert_eq!(h.run(&input, None), None);
    let second = h.hits.clone();
    assert_eq!(h.run(&input, None), None);
    assert_eq!(h.hits, second);
    assert_eq!(h.run(&input, None), None);
    assert_eq!(h.hits, second);
    assert_eq!(h.run(&[], None), None);
    assert!(h.hits.len() < second.len(), "an empty input runs less device code");
}

#[test]
fn instrumentation_does_not_change_behaviour() {
    let trace = |coverage| {
        let t = target("ns16550a", coverage);
        let input = uart_input(&t);
        let mut lines = Vec::new();
        let finding = Harness::new(t, &[]).run(&input, Some(&mut |l| lines.push(l)));
        assert_eq!(finding, None);
        lines
    };
    let plain = trace(false);
    assert_eq!(plain, trace(true));
    assert!(plain.iter().any(|l| l.contains("out[0] \"h\"")), "{plain:#?}");
    assert!(plain.iter().any(|l| l.contains("restored")), "{plain:#?}");
}

#[test]
fn input_to_state_sees_the_values_a_device_compares() {
    // sifive_test compares the written value with its finisher codes.
    let t = target("sifive-test", true);
    let mut h = Harness::new(t.clone(), &[]);
    h.want_compared = true;
    let input = t.codec.encode(&[FuzzOp::Write { region: 0, offset: 0, size: 4, value: 0x5554 }]);
    assert_eq!(h.run(&input, None), None);
    assert!(h.compared.iter().any(|(site, x)| site.constant == 0x5555 && *x == 0x5554), "{:x?}", h.compared);
    let candidates = super::engine::input_to_state(&t.codec, &input, &h.compared);
    let fixed = t.codec.encode(&[FuzzOp::Write { region: 0, offset: 0, size: 4, value: 0x5555 }]);
    assert!(candidates.contains(&fixed));
    // And the candidate does what the finisher does: asks to power off.
    let mut lines = Vec::new();
    h.run(&fixed, Some(&mut |l| lines.push(l)));
    assert!(lines[0].contains("power Poweroff(0)"), "{lines:?}");
}

#[test]
fn a_host_panic_is_caught_and_reported_with_its_location() {
    install_panic_hook();
    let caught = catch_host_panic(|| -> u32 { panic!("deliberate host bug") });
    let message = caught.expect_err("the panic is caught");
    assert!(message.contains("deliberate host bug"), "{message}");
    assert!(message.contains("tests.rs"), "the location is kept: {message}");
    assert_eq!(catch_host_panic(|| 7), Ok(7));
}

/// Fuzz sifive-test with `options` in a thread, calling `on_progress`
/// about once a second; the summary, or a failure if it neither returns
/// nor panics within `limit` (a hang must fail the test, not block it).
fn fuzz_within(
    options: FuzzOptions,
    on_progress: impl FnMut(&Progress) + Send + 'static,
    limit: Duration,
) -> Summary {
    let t = target("sifive-test", true);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut on_progress = on_progress;
        let _ = tx.send(fuzz(t, &options, &mut on_progress).map_err(|e| format!("{e:#}")));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(summary)) => summary,
        Ok(Err(e)) => panic!("fuzz failed: {e}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("fuzz panicked instead of returning"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("fuzz did not return within {limit:?} (a hang)"),
    }
}

fn options(
    dir: &std::path::Path,
    seed: u64,
    jobs: usize,
    runs: Option<u64>,
    time: Option<Duration>,
) -> FuzzOptions {
    FuzzOptions {
        jobs,
        seed,
        runs,
        time,
        corpus_dir: dir.join("corpus"),
        crashes_dir: dir.join("crashes"),
        ignore: Vec::new(),
        stop_on_finding: false,
    }
}

#[test]
fn a_time_limit_past_the_end_of_time_is_no_limit() {
    // `Instant + Duration::MAX` overflows: the deadline must be "none".
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 1, 1, Some(200), Some(Duration::from_secs(u64::MAX)));
    let summary = fuzz_within(opts, |_| {}, Duration::from_secs(120));
    assert_eq!(summary.fuzzer_panic, None);
    assert_eq!(summary.progress.execs, 200, "ended by --runs");
    assert!(summary.findings.is_empty(), "{:?}", summary.findings);
}

#[test]
fn a_panic_in_the_fuzzers_main_loop_stops_the_workers_and_is_reported() {
    install_panic_hook();
    // No run or time limit: only the panic can end this run.
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), 2, 2, None, None);
    let summary =
        fuzz_within(opts, |_| panic!("deliberate panic in the progress callback"), Duration::from_secs(120));
    let report = summary.fuzzer_panic.expect("the panic is reported");
    assert!(report.contains("deliberate panic in the progress callback"), "{report}");
    assert!(report.contains("tests.rs"), "the location is kept: {report}");
}

#[test]
fn a_panic_in_a_fuzzing_worker_stops_the_others_and_is_reported() {
    install_panic_hook();
    // Worker 0 panics at its first input (an injection compiled into
    // test builds only); worker 1 has no limit and must be told to stop.
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), super::engine::INJECT_WORKER_PANIC_SEED, 2, None, None);
    let summary = fuzz_within(opts, |_| {}, Duration::from_secs(120));
    let report = summary.fuzzer_panic.expect("the panic is reported");
    assert!(report.contains("injected worker panic"), "{report}");
    assert!(report.contains("engine.rs"), "the location is kept: {report}");
}

/// Write a 32-bit register of region 0.
fn w32(offset: u64, value: u64) -> FuzzOp {
    FuzzOp::Write { region: 0, offset, size: 4, value }
}

fn r32(offset: u64) -> FuzzOp {
    FuzzOp::Read { region: 0, offset, size: 4 }
}

#[test]
fn save_restore_findings_in_shipped_devices_stay_fixed() {
    // What `wemu fuzz` found in the built-in devices, each followed by the
    // accesses that show a restored copy behaving differently.
    let cases: [(&str, Vec<FuzzOp>); 3] = [
        // QueueNum above QueueNumMax (256): restore refused save's state.
        ("virtio-blk", vec![w32(0x38, 0x101), FuzzOp::SaveRestore, w32(0x44, 1), r32(0x44), r32(0x70)]),
        // The same with QueueNumMax 8.
        ("virtio-rng", vec![w32(0x38, 9), FuzzOp::SaveRestore, w32(0x44, 1), r32(0x44), r32(0x70)]),
        // ALARM_HIGH after ALARM_LOW armed the alarm: the copy fired it at
        // restore (ALARM_STATUS 0 and the interrupt pending).
        (
            "goldfish-rtc",
            vec![
                w32(0xc, 0x1fff_e5fe),
                w32(0x8, 0xf),
                w32(0xc, 0xf),
                FuzzOp::SaveRestore,
                r32(0x18),
                w32(0x10, 1),
                FuzzOp::Advance { ns: 1_000_000_000 },
                r32(0x18),
            ],
        ),
    ];
    let mut failed = Vec::new();
    for (name, ops) in cases {
        let t = target(name, false);
        let mut lines = Vec::new();
        if let Some(f) = Harness::new(t, &[]).run_ops(&ops, Some(&mut |l| lines.push(l))) {
            failed.push(format!("{name}: {f}\n{}", lines.join("\n")));
        } else {
            assert!(lines.iter().any(|l| l.contains("restored")), "{name}: {lines:#?}");
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
