//! `wemu fuzz`: the fuzzer finds each planted bug of tests/devices/buggy
//! from a fixed seed within a bounded number of runs, the saved reproducer
//! replays to the same finding, and minimisation shrinks it; ns16550a
//! survives a few thousand runs.

use std::path::{Path, PathBuf};

use crate::common::{Outcome, fuzz_device_dir, root, wemu};

/// `wemu fuzz buggy --props bug=BUG ...` with its corpus and crashes in `dir`.
fn fuzz_buggy(bug: &str, runs: u64, seed: u64, dir: &Path, extra: &[&str]) -> Outcome {
    let devices = fuzz_device_dir();
    let runs = runs.to_string();
    let seed = seed.to_string();
    let props = format!("bug={bug}");
    let mut args = vec![
        "buggy",
        "--device-path",
        devices.to_str().expect("utf-8"),
        "--props",
        &props,
        "--runs",
        &runs,
        "--seed",
        &seed,
    ];
    if bug != "none" {
        args.push("--stop-on-finding");
    }
    args.extend_from_slice(extra);
    fuzz_in(dir, &args)
}

/// `wemu fuzz ARGS` with its corpus and crashes directories in `dir`.
fn fuzz_in(dir: &Path, args: &[&str]) -> Outcome {
    let corpus = dir.join("corpus");
    let crashes = dir.join("crashes");
    let mut all = vec!["fuzz"];
    all.extend_from_slice(args);
    all.extend(["--corpus", corpus.to_str().expect("utf-8"), "--crashes", crashes.to_str().expect("utf-8")]);
    wemu(&all)
}

fn reproducers(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("crashes"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// Replay (or minimize) `file` against buggy with `bug`.
fn again(bug: &str, mode: &str, file: &Path, extra: &[&str]) -> Outcome {
    let devices = fuzz_device_dir();
    let props = format!("bug={bug}");
    let mut args =
        vec!["fuzz", "buggy", "--device-path", devices.to_str().expect("utf-8"), "--props", &props, mode];
    args.push(file.to_str().expect("utf-8"));
    args.extend_from_slice(extra);
    wemu(&args)
}

fn no_host_panic(out: &Outcome) {
    // (A device's own panic message is part of a trap finding.)
    let host = out.stderr.contains("thread '") || out.stderr.contains("host-panic") || out.code == Some(101);
    assert!(!host, "host panic: {}", out.stderr);
}

/// Fuzz for `bug` from `seed` (stopping at the first finding), expect
/// exactly one reproducer of `kind`; replay it.
fn finds(bug: &str, kind: &str, runs: u64, seed: u64, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = fuzz_buggy(bug, runs, seed, dir.path(), extra);
    no_host_panic(&out);
    assert_eq!(out.code, Some(125), "expected a finding within {runs} runs: {out:?}");
    let found = reproducers(dir.path());
    assert_eq!(found.len(), 1, "one distinct finding expected: {found:?}\n{}", out.stderr);
    let name = found[0].file_name().and_then(|n| n.to_str()).expect("name").to_owned();
    assert!(name.starts_with(&format!("{kind}-")), "{name}: expected a {kind} finding\n{}", out.stderr);

    let replayed = again(bug, "--replay", &found[0], extra);
    no_host_panic(&replayed);
    assert_eq!(replayed.code, Some(125), "{replayed:?}");
    assert!(replayed.stdout.contains(&format!("FINDING {kind}")), "{}", replayed.stdout);
    assert!(replayed.stdout.contains("#0 "), "the trace has one line per operation: {}", replayed.stdout);
    (dir, found[0].clone())
}

/// Minimize `file`; the result is no longer and still gives `kind`.
fn minimizes(bug: &str, kind: &str, file: &Path, extra: &[&str]) -> usize {
    let out = again(bug, "--minimize", file, extra);
    no_host_panic(&out);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.stdout.contains(&format!("FINDING {kind}")), "{}", out.stdout);
    let line = out.stdout.lines().find(|l| l.starts_with("minimized ")).expect("summary line");
    let counts: Vec<usize> =
        line.split_whitespace().filter_map(|w| w.parse().ok()).take(2).collect::<Vec<_>>();
    assert!(counts.len() == 2 && counts[1] <= counts[0], "{line}");
    let mut min = file.as_os_str().to_owned();
    min.push(".min");
    let replayed = again(bug, "--replay", Path::new(&min), extra);
    assert_eq!(replayed.code, Some(125), "the minimized input replays: {replayed:?}");
    counts[1]
}

#[test]
fn fuzzing_finds_a_trap_behind_a_register_sequence() {
    let (_dir, file) = finds("trap", "trap", 20_000, 2, &[]);
    let replayed = again("trap", "--replay", &file, &[]);
    assert!(replayed.stdout.contains("the secret sequence reached RESULT"), "{}", replayed.stdout);
    assert!(replayed.stdout.contains("wasm backtrace"), "{}", replayed.stdout);
    // KEY, KEY2, read RESULT.
    assert_eq!(minimizes("trap", "trap", &file, &[]), 3);
}

#[test]
fn fuzzing_finds_an_endless_loop() {
    // A small budget keeps each hanging run short.
    let (_dir, file) = finds("hang", "hang", 20_000, 2, &["--fuel", "2000000"]);
    assert_eq!(minimizes("hang", "hang", &file, &["--fuel", "2000000"]), 2);
}

#[test]
fn fuzzing_finds_a_dma_outside_the_window() {
    let (_dir, file) = finds("dma", "dma", 20_000, 1, &[]);
    assert_eq!(minimizes("dma", "dma", &file, &[]), 2);
}

#[test]
fn fuzzing_finds_state_that_save_leaves_out() {
    let (_dir, file) = finds("save", "save-restore", 20_000, 2, &[]);
    // Write SCRATCH, save-restore, read SCRATCH.
    assert_eq!(minimizes("save", "save-restore", &file, &[]), 3);
}

#[test]
fn fuzzing_finds_a_reset_that_forgets_a_register() {
    let (_dir, file) = finds("reset", "reset", 20_000, 1, &[]);
    assert_eq!(minimizes("reset", "reset", &file, &[]), 1);
}

#[test]
fn fuzzing_finds_an_irq_line_out_of_range() {
    let (_dir, file) = finds("irq", "contract", 20_000, 1, &[]);
    let replayed = again("irq", "--replay", &file, &[]);
    assert!(replayed.stdout.contains("line 5"), "{}", replayed.stdout);
    assert_eq!(minimizes("irq", "contract", &file, &[]), 2);
}

#[test]
fn fuzzing_finds_memory_growth_past_the_limit() {
    let (_dir, file) = finds("memory", "memory", 20_000, 1, &["--memory-limit", "16M"]);
    assert_eq!(minimizes("memory", "memory", &file, &["--memory-limit", "16M"]), 2);
}

#[test]
fn fuzzing_finds_a_device_that_trusts_its_disk() {
    // Only a failing block request (a `block-fail` operation) trips it.
    let (_dir, file) = finds("block", "trap", 20_000, 1, &[]);
    let replayed = again("block", "--replay", &file, &[]);
    assert!(replayed.stdout.contains("sector 0 is always readable"), "{}", replayed.stdout);
    assert_eq!(minimizes("block", "trap", &file, &[]), 3);
    let mut min = file.as_os_str().to_owned();
    min.push(".min");
    let trace = again("block", "--replay", Path::new(&min), &[]);
    assert!(trace.stdout.contains("fail with an I/O error"), "{}", trace.stdout);
}

#[test]
fn a_device_without_bugs_has_no_findings_and_grows_a_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = fuzz_buggy("none", 3000, 1, dir.path(), &[]);
    no_host_panic(&out);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(reproducers(dir.path()).is_empty());
    let corpus = std::fs::read_dir(dir.path().join("corpus")).expect("corpus dir").count();
    assert!(corpus > 3, "coverage feedback keeps inputs that reach new blocks ({corpus})");
    assert!(out.stderr.contains("done: 3000 execs"), "{}", out.stderr);
}

/// `wemu fuzz ARGS` in a scratch directory, which must find nothing.
fn finds_nothing(args: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = fuzz_in(dir.path(), args);
    no_host_panic(&out);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(reproducers(dir.path()).is_empty());
    out
}

#[test]
fn ns16550a_survives_a_few_thousand_runs() {
    let out = finds_nothing(&["ns16550a", "--runs", "4000", "--seed", "3"]);
    assert!(out.stderr.contains("comparisons instrumented"), "{}", out.stderr);
}

#[test]
fn a_time_limit_past_the_end_of_time_ends_by_runs_without_a_panic() {
    // `--time` of u64::MAX seconds overflowed an `Instant` inside the
    // fuzzer (a panic whose message the fuzzer's hook swallowed).
    let out = finds_nothing(&["sifive-test", "--time", "18446744073709551615s", "--runs", "200"]);
    assert!(out.stderr.contains("done: 200 execs"), "{}", out.stderr);
}

/// Reproducers `wemu fuzz` saved (then minimized) for save/restore bugs in
/// shipped devices, under tests/fuzz-regressions/DEVICE/: each, with the
/// operations its trace must show (an input decodes against the device's
/// own dictionary, so a changed device could make it mean something else).
const REPRODUCERS: &[(&str, &str, &[&str])] = &[
    // QueueNum above QueueNumMax, then save: restore refused the state.
    ("virtio-blk", "save-restore-fcc232e3a60c8b43", &["#0 write regs+0x38 size 4 value 0x101 ", "#1 save"]),
    ("virtio-rng", "save-restore-5bf3349e69dc5368", &["#0 write regs+0x38 size 4 value 0x9 ", "#1 save"]),
    // ALARM_HIGH written after ALARM_LOW armed the alarm, then save: the
    // restored copy fired the alarm at once, the original did not.
    (
        "goldfish-rtc",
        "save-restore-a1141c6aae01c4ee",
        &[
            "#2 write regs+0x8 size 4 value 0x10002 ",
            "#3 write regs+0xc size 4 value 0x10000 ",
            "#4 save",
            "#5 reset",
        ],
    ),
    (
        "goldfish-rtc",
        "save-restore-c81c894b882450b4",
        &[
            "#2 write regs+0x8 size 4 value 0x10000 ",
            "#3 write regs+0xc size 4 value 0x800 ",
            "#4 save",
            "#5 write regs+0x0",
        ],
    ),
];

#[test]
fn saved_reproducers_of_shipped_device_bugs_replay_without_a_finding() {
    for (device, file, ops) in REPRODUCERS {
        let path = root().join("tests/fuzz-regressions").join(device).join(file);
        let path = path.to_str().expect("utf-8");
        let out = wemu(&["fuzz", device, "--replay", path]);
        no_host_panic(&out);
        assert_eq!(out.code, Some(0), "{device} {file} gives a finding again:\n{}", out.stdout);
        assert!(out.stdout.contains("no finding"), "{}", out.stdout);
        for op in *ops {
            assert!(out.stdout.contains(op), "{device} {file}: no `{op}` in the trace:\n{}", out.stdout);
        }
    }
}
