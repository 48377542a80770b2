//! Cost of a device written in JavaScript (devices/doorbell-js, a
//! componentize-js component embedding SpiderMonkey) next to the Rust
//! ns16550a, measured in the same process under the same load.
//!
//! Run with `just bench-js` (builds the component first), or
//! `cargo bench -p wemu --bench js_device` once
//! `target/js-devices/doorbell-js.wasm` exists (`just build-js`). Prints a
//! Markdown table for `docs/performance.md`: the median of 5 timed rounds
//! per measurement. `--test` (as `cargo test --benches` passes) runs every
//! measurement once and prints no table.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use wemu::device::{DeviceState, WasmDevice};
use wemu::loader::search::read_device;
use wemu::loader::{CacheOutcome, CompileCache, LoadedComponent, Loader, Origin, SearchPath};

/// A device under measurement: its register for a side-effect-free
/// access, and how to reach it.
struct Subject {
    name: &'static str,
    origin: Origin,
    bytes: Vec<u8>,
    /// (offset, size) of a scratch register: reads back what was written.
    scratch: (u64, u8),
}

fn doorbell_js() -> Subject {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = target.join("js-devices/doorbell-js.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}: build it first with `just build-js` (or run `just bench-js`)", path.display())
    });
    Subject { name: "doorbell-js", origin: Origin::File(path), bytes, scratch: (0x04, 4) }
}

fn ns16550a() -> Subject {
    let origin = Origin::BuiltIn("ns16550a");
    let bytes = read_device(&origin).expect("built-in ns16550a").into_owned();
    Subject { name: "ns16550a", origin, bytes, scratch: (7, 1) }
}

/// The limits docs/device-authoring-js.md recommends for a JS device: its
/// engine lets the heap grow to about 64 MiB before a full collection,
/// and that collection, run inside whichever call triggers it, takes more
/// than the default 20M fuel. The Rust device gets the same limits (they
/// do not change its cost).
const MEMORY_LIMIT: u64 = 128 << 20;
const FUEL: u64 = 200_000_000;

fn instantiate(loader: &Loader, loaded: &LoadedComponent) -> WasmDevice {
    loader.instantiate(loaded, DeviceState::new("dev0", MEMORY_LIMIT), FUEL, vec![]).expect("instantiate")
}

/// Median over `rounds` of the mean time per call of `iters` calls.
fn median_ns(rounds: usize, iters: u32, mut run: impl FnMut()) -> f64 {
    let mut per_call: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                run();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[rounds / 2]
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn fmt_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", n >> 10)
    }
}

/// One row of figures for one device.
struct Figures {
    size: usize,
    cold: f64,
    cache: f64,
    pre: f64,
    write: f64,
    read: f64,
    noop: f64,
}

/// `quick`: one round of one iteration each (a smoke run for `--test`).
fn measure(s: &Subject, quick: bool) -> Figures {
    let (rounds, scale) = if quick { (1, 0) } else { (5, 1) };
    let iters = |n: u32| if scale == 0 { 1 } else { n };

    let loader = Loader::new(SearchPath::default(), None).expect("loader");
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let cached = Loader::new(SearchPath::default(), Some(CompileCache::new(cache_dir.path().into())))
        .expect("loader with cache");
    let warm = cached.compile(s.name, s.origin.clone(), &s.bytes).expect("warm the cache");
    assert_eq!(warm.cache, CacheOutcome::Miss, "fresh cache dir should miss");

    // Compiling the JS engine takes seconds: three rounds of one.
    let cold = median_ns(rounds.min(3), 1, || {
        let loaded = loader.compile(s.name, s.origin.clone(), &s.bytes).expect("compile");
        drop(black_box(instantiate(&loader, &loaded)));
    });
    let cache = median_ns(rounds, iters(20), || {
        let loaded = cached.compile(s.name, s.origin.clone(), &s.bytes).expect("cache load");
        assert_eq!(loaded.cache, CacheOutcome::Hit);
        drop(black_box(instantiate(&cached, &loaded)));
    });
    let loaded = loader.compile(s.name, s.origin.clone(), &s.bytes).expect("compile");
    let pre = median_ns(rounds, iters(200), || drop(black_box(instantiate(&loader, &loaded))));

    let mut dev = instantiate(&loader, &loaded);
    let (off, size) = s.scratch;
    dev.write(0, 0, off, size, 0x5a).expect("no fault").expect("scratch write");
    assert_eq!(
        dev.read(0, 0, off, size).expect("no fault").expect("scratch read"),
        0x5a,
        "scratch reads back"
    );
    let mut v = 0u64;
    let mut write = || {
        v = v.wrapping_add(1);
        dev.write(0, 0, black_box(off), black_box(size), black_box(v & 0xff))
            .expect("no fault")
            .expect("write accepted");
    };
    let _ = median_ns(1, iters(20_000), &mut write);
    let write = median_ns(rounds, iters(200_000), write);
    let read = median_ns(rounds, iters(200_000), || {
        black_box(dev.read(0, 0, black_box(off), black_box(size)).expect("no fault").expect("read accepted"));
    });
    let noop = median_ns(rounds, iters(200_000), || dev.irq_input(0, 0, false).expect("no fault"));
    Figures { size: s.bytes.len(), cold, cache, pre, write, read, noop }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let subjects = [ns16550a(), doorbell_js()];
    let figures: Vec<Figures> = subjects.iter().map(|s| measure(s, quick)).collect();
    if quick {
        println!("js_device: every measurement ran once (no table in test mode)");
        return;
    }
    println!();
    println!("js_device summary (median of 5 rounds; instantiation includes drop)");
    println!("| measurement | {} | {} | ratio |", subjects[0].name, subjects[1].name);
    println!("|---|---|---|---|");
    let (r, j) = (&figures[0], &figures[1]);
    let row =
        |name: &str, a: f64, b: f64| println!("| {name} | {} | {} | {:.0}× |", fmt_ns(a), fmt_ns(b), b / a);
    println!(
        "| component size | {} | {} | {:.0}× |",
        fmt_bytes(r.size),
        fmt_bytes(j.size),
        j.size as f64 / r.size as f64
    );
    row("instantiate, cold (compile)", r.cold, j.cold);
    row("instantiate, on-disk cache", r.cache, j.cache);
    row("instantiate, from `InstancePre`", r.pre, j.pre);
    row("MMIO write, scratch register", r.write, j.write);
    row("MMIO read, scratch register", r.read, j.read);
    row("no-op export call (`irq-input`)", r.noop, j.noop);
}
