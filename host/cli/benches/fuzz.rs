//! Fuzzing throughput: `wemu fuzz ns16550a` with coverage on and off, one
//! worker and one per core, in one invocation. Then the long fuzz campaign
//! of every device built into wemu (`wemu_devfuzz::campaign::SHIPPED`;
//! `just test` runs a short one): each device for
//! `WEMU_BENCH_FUZZ_CAMPAIGN_SECS` (default 30 s) with one worker per core,
//! from its fixed seed and an empty corpus; a finding fails the bench, its
//! reproducer kept and its path printed. (The JavaScript device is not
//! built in: `wemu fuzz doorbell-js --device-path target/js-devices` after
//! `just build-js`.)
//!
//! Run with `cargo bench -p wemu --bench fuzz` (`just bench-fuzz`);
//! `WEMU_BENCH_FUZZ_SECS` sets the length of each throughput run (default
//! 10 s).
//! The reference for the coverage figure is the uninstrumented run of the
//! same build in the same invocation (no other emulator fuzzes a device
//! component alone). The coverage run starts from an empty corpus with
//! seed 0; the uninstrumented run starts from the corpus it grew (blind
//! mutation of an empty corpus would only run one- or two-operation inputs),
//! so both execute inputs of about the same length.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wemu_devfuzz::campaign::SHIPPED;
use wemu_devfuzz::{self as fuzz, FuzzOptions, FuzzTarget, FuzzTargetOptions};
use wemu_sandbox::loader::{Loader, SearchPath};

const DEVICE: &str = "ns16550a";

struct Run {
    label: String,
    jobs: usize,
    progress: fuzz::Progress,
}

/// Fuzz for `secs` with the corpus in `dir` (read at start, grown).
fn run(loader: &Loader, coverage: bool, jobs: usize, secs: u64, dir: &std::path::Path) -> Run {
    let mut opts = FuzzTargetOptions::new(DEVICE);
    opts.coverage = coverage;
    let target = Arc::new(FuzzTarget::load(loader, &opts).expect("load ns16550a"));
    assert!(target.coverage_note.is_none(), "{:?}", target.coverage_note);
    let options = FuzzOptions {
        jobs,
        seed: 0,
        runs: None,
        time: Some(Duration::from_secs(secs)),
        corpus_dir: dir.join("corpus"),
        crashes_dir: dir.join("crashes"),
        ignore: Vec::new(),
        stop_on_finding: false,
    };
    let summary = fuzz::fuzz(target, &options, &mut |_| {}).expect("fuzz");
    assert!(summary.findings.is_empty(), "ns16550a has findings: {:?}", summary.findings);
    let label = if coverage { "coverage on" } else { "coverage off" };
    Run { label: label.into(), jobs, progress: summary.progress }
}

/// Seconds from `var`, else `default` (1 s when `cargo test --benches`
/// runs the bench target with no `--bench`: stay short).
fn secs_from_env(var: &str, default: u64) -> u64 {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or(if bench_mode { default } else { 1 })
}

fn main() {
    let secs = secs_from_env("WEMU_BENCH_FUZZ_SECS", 10);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // No compile cache: every run compiles its (instrumented or not) bytes
    // itself, outside the timed loop.
    let loader = Loader::new(SearchPath::new(&[], "WEMU_DEVICE_PATH"), None).expect("loader");

    let workers: &[usize] = if cores > 1 { &[1, cores] } else { &[1] };
    let mut runs = Vec::new();
    for &jobs in workers {
        let dir = tempfile::tempdir().expect("tempdir");
        let on = run(&loader, true, jobs, secs, dir.path());
        runs.push(run(&loader, false, jobs, secs, dir.path()));
        runs.push(on);
    }

    println!(
        "\nfuzz/{DEVICE}: {secs} s per run, seed 0, {cores} core(s); coverage on starts from an empty corpus, coverage off from the corpus that run grew"
    );
    println!(
        "| run | workers | execs | execs/s | per worker | ops/input | corpus | blocks hit | cmp features |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let p = &r.progress;
        let (blocks, features) = match p.blocks {
            Some(total) => (format!("{}/{}", p.blocks_hit, total), p.features.to_string()),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.1} | {} | {} | {} |",
            r.label,
            r.jobs,
            p.execs,
            p.rate(),
            p.rate() / r.jobs as f64,
            p.ops_per_exec,
            p.corpus,
            blocks,
            features
        );
    }
    for pair in runs.chunks(2) {
        if let [off, on] = pair {
            println!(
                "{} worker(s): coverage on runs at {:.2}x the execs/s of coverage off ({:.2}x per operation)",
                on.jobs,
                on.progress.rate() / off.progress.rate(),
                (on.progress.rate() * on.progress.ops_per_exec)
                    / (off.progress.rate() * off.progress.ops_per_exec)
            );
        }
    }
    campaign(&loader, secs_from_env("WEMU_BENCH_FUZZ_CAMPAIGN_SECS", 30), cores);
}

/// Fuzz every shipped device for `secs` with `jobs` workers; fails on a finding.
fn campaign(loader: &Loader, secs: u64, jobs: usize) {
    fuzz::install_panic_hook();
    println!("\nfuzz campaign: {} built-in devices, {secs} s each, {jobs} worker(s)", SHIPPED.len());
    println!("| device | ignored | execs | execs/s | corpus | blocks hit | cmp features | findings |");
    println!("|---|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut failed = Vec::new();
    for entry in SHIPPED {
        let target = Arc::new(FuzzTarget::load(loader, &FuzzTargetOptions::new(entry.device)).expect("load"));
        let dir = tempfile::tempdir().expect("tempdir");
        let options = FuzzOptions {
            jobs,
            seed: entry.seed,
            runs: None,
            time: Some(Duration::from_secs(secs)),
            corpus_dir: dir.path().join("corpus"),
            crashes_dir: dir.path().join("crashes"),
            ignore: entry.ignore.to_vec(),
            stop_on_finding: false,
        };
        let summary = fuzz::fuzz(target, &options, &mut |_| {}).expect("fuzz");
        let p = &summary.progress;
        let ignored: Vec<&str> = entry.ignore.iter().map(|k| k.name()).collect();
        println!(
            "| {} | {} | {} | {:.0} | {} | {}/{} | {} | {} |",
            entry.device,
            if ignored.is_empty() { "-".to_owned() } else { ignored.join(",") },
            p.execs,
            p.rate(),
            p.corpus,
            p.blocks_hit,
            p.blocks.unwrap_or(0),
            p.features,
            summary.findings.len()
        );
        if !summary.findings.is_empty() || summary.fuzzer_panic.is_some() {
            let kept = dir.keep();
            failed.push(format!(
                "{}: {:?} {:?} (reproducers in {})",
                entry.device,
                summary.findings,
                summary.fuzzer_panic,
                kept.display()
            ));
        }
    }
    println!("campaign: {:.0} s", started.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "the fuzz campaign found bugs:\n{}", failed.join("\n"));
}
