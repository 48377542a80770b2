//! The fuzzing loop: workers (threads, each with its own instances) share
//! a corpus, a coverage map and the findings.
//!
//! Each worker picks a corpus entry, mutates it, runs it; an input that
//! reaches a new block (or a new hit-count class of one) joins the corpus
//! and is written to the corpus directory; a finding is written to the
//! crashes directory as `KIND-HASH`, once per distinct signature.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::coverage::Virgin;
use super::finding::{Finding, FindingKind};
use super::harness::{Harness, catch_host_panic};
use super::instrument::CmpSite;
use super::mutate::Mutator;
use super::ops::{Codec, FuzzOp, mask};
use super::target::FuzzTarget;

/// How to fuzz.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    pub jobs: usize,
    pub seed: u64,
    /// Stop after this many executions (all workers together).
    pub runs: Option<u64>,
    /// Stop after this long.
    pub time: Option<Duration>,
    pub corpus_dir: PathBuf,
    pub crashes_dir: PathBuf,
    pub ignore: Vec<FindingKind>,
    /// Stop at the first finding.
    pub stop_on_finding: bool,
}

/// The figures of one progress line.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub execs: u64,
    pub elapsed: Duration,
    pub corpus: usize,
    pub blocks_hit: usize,
    /// Value-profile features hit.
    pub features: usize,
    /// Instrumented blocks (`None` without coverage).
    pub blocks: Option<usize>,
    pub findings: usize,
    /// Operations per input, on average.
    pub ops_per_exec: f64,
}

impl Progress {
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.execs as f64 / s } else { 0.0 }
    }
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {:.0} execs/s, corpus {}, ", self.execs, self.rate(), self.corpus)?;
        match self.blocks {
            Some(total) => {
                write!(f, "coverage {}/{} blocks + {} cmp features", self.blocks_hit, total, self.features)?
            }
            None => write!(f, "coverage off")?,
        }
        write!(f, ", findings {}", self.findings)
    }
}

/// What a fuzzing session produced.
#[derive(Debug)]
pub struct Summary {
    pub progress: Progress,
    /// Distinct findings and where their reproducers went.
    pub findings: Vec<(Finding, PathBuf)>,
    /// The fuzzer itself panicked (not while running an input): a wemu bug.
    /// The message and location of the first such panic; the run was
    /// stopped there.
    pub fuzzer_panic: Option<String>,
}

#[derive(Default)]
struct Findings {
    signatures: HashSet<String>,
    list: Vec<(Finding, PathBuf)>,
}

struct Shared {
    corpus: Mutex<Vec<Arc<Vec<u8>>>>,
    virgin: Mutex<Virgin>,
    findings: Mutex<Findings>,
    execs: AtomicU64,
    /// Operations run, all inputs together.
    ops: AtomicU64,
    stop: AtomicBool,
    /// The first panic of the fuzzer itself, where and what.
    fuzzer_panic: Mutex<Option<String>>,
    corpus_dir: PathBuf,
    crashes_dir: PathBuf,
}

/// Lock, shrugging off poisoning: a worker that panicked outside the
/// harness left nothing half-updated behind these locks that matters.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// First 16 hex digits of the sha256 of `data`.
pub fn short_hash(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data)[..8])
}

impl Shared {
    /// Record a finding once per signature; returns the reproducer's path
    /// when it is new.
    fn report(&self, finding: Finding, input: &[u8]) -> Option<PathBuf> {
        let mut f = lock(&self.findings);
        if !f.signatures.insert(finding.signature.clone()) {
            return None;
        }
        let path = self.crashes_dir.join(format!("{}-{}", finding.kind, short_hash(input)));
        if let Err(e) = std::fs::write(&path, input) {
            eprintln!("wemu fuzz: cannot write {}: {e}", path.display());
        }
        eprintln!(
            "wemu fuzz: FOUND after {} execs: {finding}\n  reproducer: {}",
            self.execs.load(Ordering::Relaxed),
            path.display()
        );
        f.list.push((finding, path.clone()));
        Some(path)
    }

    /// The fuzzer itself panicked in `place` (not while running an input,
    /// where the harness catches host panics): report it at once, keep the
    /// first, and stop every worker, which would otherwise run on with
    /// nobody to stop them.
    fn fuzzer_panicked(&self, place: &str, message: &str) {
        self.stop.store(true, Ordering::Relaxed);
        eprintln!(
            "wemu fuzz: INTERNAL ERROR: the fuzzer itself panicked in {place} (a wemu bug, not the \
             device's); stopping the run: {message}"
        );
        let mut first = lock(&self.fuzzer_panic);
        if first.is_none() {
            *first = Some(format!("in {place}: {message}"));
        }
    }

    fn add_to_corpus(&self, input: &[u8]) {
        lock(&self.corpus).push(Arc::new(input.to_vec()));
        let path = self.corpus_dir.join(short_hash(input));
        if !path.exists()
            && let Err(e) = std::fs::write(&path, input)
        {
            eprintln!("wemu fuzz: cannot write {}: {e}", path.display());
        }
    }

    fn progress(&self, started: Instant, blocks: Option<usize>) -> Progress {
        // One lock at a time (temporaries in one expression would hold them
        // all at once).
        let corpus = lock(&self.corpus).len();
        let (blocks_hit, features) = {
            let v = lock(&self.virgin);
            (v.blocks(), v.features())
        };
        let findings = lock(&self.findings).list.len();
        let execs = self.execs.load(Ordering::Relaxed);
        Progress {
            ops_per_exec: self.ops.load(Ordering::Relaxed) as f64 / execs.max(1) as f64,
            execs,
            elapsed: started.elapsed(),
            corpus,
            blocks_hit,
            features,
            blocks,
            findings,
        }
    }
}

/// Files in `dir`, sorted by name (a deterministic start).
fn read_dir_sorted(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().filter_map(|p| wemu_sandbox::file_caps::read_corpus_entry(p)).collect()
}

/// A campaign that could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error("creating {}: {error}", dir.display())]
    CreateDir { dir: std::path::PathBuf, error: std::io::Error },
    #[error("starting a fuzzing thread: {error}")]
    Spawn { error: std::io::Error },
}

/// Fuzz `target`; `on_progress` is called about once a second.
pub fn fuzz(
    target: Arc<FuzzTarget>,
    opts: &FuzzOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, FuzzError> {
    for dir in [&opts.corpus_dir, &opts.crashes_dir] {
        std::fs::create_dir_all(dir).map_err(|error| FuzzError::CreateDir { dir: dir.clone(), error })?;
    }
    let blocks = target.blocks;
    let shared = Arc::new(Shared {
        corpus: Mutex::new(Vec::new()),
        virgin: Mutex::new(Virgin::new(target.counters, blocks.unwrap_or(0))),
        findings: Mutex::new(Findings::default()),
        execs: AtomicU64::new(0),
        ops: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        fuzzer_panic: Mutex::new(None),
        corpus_dir: opts.corpus_dir.clone(),
        crashes_dir: opts.crashes_dir.clone(),
    });
    let started = Instant::now();

    // Seed: the corpus directory, or the empty input. Each seed runs once
    // so its coverage counts.
    let mut seeds = read_dir_sorted(&opts.corpus_dir);
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    let seeded = catch_host_panic(|| {
        let mut h = Harness::new(target.clone(), &opts.ignore);
        for seed in seeds {
            shared.execs.fetch_add(1, Ordering::Relaxed);
            match h.run(&seed, None) {
                Some(f) => {
                    if shared.report(f, &seed).is_some() && opts.stop_on_finding {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                }
                None => {
                    lock(&shared.virgin).merge(&h.hits);
                    lock(&shared.corpus).push(Arc::new(seed));
                }
            }
        }
    });
    if let Err(message) = seeded {
        shared.fuzzer_panicked("the seeding", &message);
    }

    let jobs = opts.jobs.max(1);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for w in 0..jobs {
            let target = target.clone();
            let opts = opts.clone();
            let spawned = std::thread::Builder::new().name(format!("fuzz-{w}")).spawn_scoped(scope, {
                let shared = shared.clone();
                move || {
                    if let Err(message) = catch_host_panic(|| worker(w, &target, &shared, &opts)) {
                        shared.fuzzer_panicked(&format!("worker {w}"), &message);
                    }
                }
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The scope waits for the workers already started.
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(FuzzError::Spawn { error: e });
                }
            }
        }
        // A time too far away to be an `Instant` is no limit.
        let deadline = opts.time.and_then(|t| started.checked_add(t));
        // A panic here must still stop the workers: the scope waits for
        // them, and without a run limit nothing else would.
        let watched = catch_host_panic(|| {
            let mut next_report = Instant::now() + Duration::from_secs(1);
            while handles.iter().any(|h| !h.is_finished()) {
                std::thread::sleep(Duration::from_millis(20));
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    shared.stop.store(true, Ordering::Relaxed);
                }
                if now >= next_report {
                    next_report += Duration::from_secs(1);
                    on_progress(&shared.progress(started, blocks));
                }
            }
        });
        if let Err(message) = watched {
            shared.fuzzer_panicked("the main thread", &message);
        }
        for h in handles {
            // (Workers catch their own panics; this is a panic in that.)
            if h.join().is_err() {
                shared.fuzzer_panicked("a worker", "a panic its own handler did not catch");
            }
        }
        Ok(())
    })?;

    let progress = shared.progress(started, blocks);
    let findings = std::mem::take(&mut lock(&shared.findings).list);
    let fuzzer_panic = lock(&shared.fuzzer_panic).take();
    Ok(Summary { progress, findings, fuzzer_panic })
}

/// How many of the newest corpus entries get half of the picks.
const RECENT: usize = 16;
/// Input-to-state candidates tried per new corpus entry, at most.
const MAX_I2S: usize = 24;

/// With this seed, worker 0 panics at its first input: the tests' way
/// into the fuzzer's own panic handling (test builds only).
#[cfg(test)]
pub(super) const INJECT_WORKER_PANIC_SEED: u64 = 0x0bad_f00d_dead_beef;

fn worker(w: usize, target: &Arc<FuzzTarget>, shared: &Shared, opts: &FuzzOptions) {
    #[cfg(test)]
    if w == 0 && opts.seed == INJECT_WORKER_PANIC_SEED {
        panic!("injected worker panic");
    }
    let mut harness = Harness::new(target.clone(), &opts.ignore);
    let mut mutator = Mutator::new(opts.seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut local = Virgin::new(target.counters, target.blocks.unwrap_or(0));
    local.absorb(&lock(&shared.virgin));
    let coverage = target.blocks.is_some();
    // Input-to-state candidates waiting to run (they go before mutations).
    let mut pending: Vec<Vec<u8>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        if !count_exec(shared, opts) {
            break;
        }
        let (input, ops) = match pending.pop() {
            Some(i) => (i, None),
            None => {
                let (parent, other) = {
                    let corpus = lock(&shared.corpus);
                    // Half the time one of the newest entries: they hold the
                    // frontier (the last blocks and compare values reached).
                    // Otherwise the shorter of two: every run of a long input
                    // costs more, and its children grow longer still.
                    let pick = |m: &mut Mutator| {
                        let n = corpus.len();
                        let i = if m.rng.below(2) == 0 {
                            n - 1 - m.rng.below(n.min(RECENT))
                        } else {
                            let (a, b) = (m.rng.below(n), m.rng.below(n));
                            if corpus.get(b).map(|x| x.len()) < corpus.get(a).map(|x| x.len()) {
                                b
                            } else {
                                a
                            }
                        };
                        corpus.get(i).cloned()
                    };
                    (pick(&mut mutator), pick(&mut mutator))
                };
                match parent {
                    Some(p) => {
                        mutator.mutate_ops(&target.codec, &p, other.as_deref().map_or(&[], |o| o.as_slice()))
                    }
                    None => (mutator.generate(&target.codec), None),
                }
            }
        };
        let finding = match &ops {
            Some(ops) => harness.run_ops(ops, None),
            None => harness.run(&input, None),
        };
        shared.ops.fetch_add(harness.last_ops as u64, Ordering::Relaxed);
        if let Some(f) = finding {
            if shared.report(f, &input).is_some() && opts.stop_on_finding {
                shared.stop.store(true, Ordering::Relaxed);
            }
            continue;
        }
        if !(coverage && local.is_new(&harness.hits)) {
            continue;
        }
        let added = {
            let mut global = lock(&shared.virgin);
            let new = global.merge(&harness.hits);
            local.absorb(&global);
            new
        };
        if !added {
            continue;
        }
        shared.add_to_corpus(&input);
        // Input-to-state: run it again recording what the device compared
        // with constants, and try the inputs whose written values are
        // replaced by those constants (Redqueen's idea: a register value
        // the device tests against a magic number is found in one step).
        if target.sites.is_empty() || !count_exec(shared, opts) {
            continue;
        }
        harness.want_compared = true;
        let again = harness.run(&input, None);
        shared.ops.fetch_add(harness.last_ops as u64, Ordering::Relaxed);
        harness.want_compared = false;
        if again.is_none() {
            let mut candidates = input_to_state(&target.codec, &input, &harness.compared);
            candidates.truncate(MAX_I2S);
            candidates.reverse();
            pending.extend(candidates);
            pending.truncate(4 * MAX_I2S);
        }
    }
}

/// Count one execution; false when the run limit is reached.
fn count_exec(shared: &Shared, opts: &FuzzOptions) -> bool {
    let n = shared.execs.fetch_add(1, Ordering::Relaxed);
    if opts.runs.is_some_and(|r| n >= r) {
        shared.execs.fetch_sub(1, Ordering::Relaxed);
        shared.stop.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Variants of `input` where a written value the device compared with a
/// constant is replaced by that constant.
pub fn input_to_state(codec: &Codec, input: &[u8], compared: &[(CmpSite, u64)]) -> Vec<Vec<u8>> {
    let ops = codec.decode(input);
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (site, x) in compared {
        for (i, op) in ops.iter().enumerate() {
            let FuzzOp::Write { value, size, .. } = op else { continue };
            // The device may compare the value zero-extended or truncated.
            let seen = *value == *x || (!site.wide && *value & 0xffff_ffff == *x);
            let replacement = mask(site.constant, *size);
            if !seen || replacement == *value {
                continue;
            }
            let mut changed = ops.clone();
            if let FuzzOp::Write { value, .. } = &mut changed[i] {
                *value = replacement;
            }
            let bytes = codec.encode(&changed);
            if !out.contains(&bytes) {
                out.push(bytes);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Profile;

    #[test]
    fn input_to_state_replaces_compared_write_values() {
        let codec = Codec::new(Profile { regions: vec![("r".into(), 0x40)], ..Profile::default() });
        let ops = vec![
            FuzzOp::Write { region: 0, offset: 0, size: 4, value: 7 },
            FuzzOp::Write { region: 0, offset: 4, size: 1, value: 9 },
            FuzzOp::Read { region: 0, offset: 8, size: 4 },
        ];
        let input = codec.encode(&ops);
        let site = CmpSite { base: 100, constant: 0x12, wide: true };
        let out = input_to_state(&codec, &input, &[(site, 7)]);
        assert_eq!(out.len(), 1);
        assert_eq!(codec.decode(&out[0])[0], FuzzOp::Write { region: 0, offset: 0, size: 4, value: 0x12 });
        assert_eq!(codec.decode(&out[0])[1..], ops[1..]);
        assert!(input_to_state(&codec, &input, &[(site, 8)]).is_empty(), "8 was never written");
    }
}
