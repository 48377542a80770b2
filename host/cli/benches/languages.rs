//! The same device boundary for a device written in Rust (ns16550a, with
//! `wemu-device-sdk`), one in C (crc32-dma, with `guest-sdk/c`) and one in
//! JavaScript (devices/doorbell-js, a componentize-js component embedding
//! SpiderMonkey), measured in one process under the same load: component
//! size, instantiation (cold compile, on-disk cache, `InstancePre`) and one
//! register access through `WasmDevice`, the path the bus takes.
//!
//! Run with `just bench-languages` (builds the JavaScript component first)
//! or `cargo bench -p wemu --bench languages`; without
//! `target/js-devices/doorbell-js.wasm` (`just build-js`) the JavaScript
//! column is left out. Prints a Markdown table for `docs/performance.md`:
//! the median of 5 timed rounds per measurement. `--test` (as `cargo test
//! --benches` passes) runs every measurement once and prints no table.

mod common;

use common::{fmt_ns, median_ns};
use std::hint::black_box;
use std::path::PathBuf;

use wemu_sandbox::device::{DeviceImports, WasmDevice};
use wemu_sandbox::loader::search::read_device;
use wemu_sandbox::loader::{CacheOutcome, CompileCache, LoadedComponent, Loader, Origin, SearchPath};

/// A device under measurement: its register for a side-effect-free
/// access, and how to reach it.
struct Subject {
    name: &'static str,
    language: &'static str,
    origin: Origin,
    bytes: Vec<u8>,
    /// (offset, size) of a scratch register: reads back what was written.
    scratch: (u64, u8),
}

/// The JavaScript device, if it was built (`just build-js`).
fn doorbell_js() -> Option<Subject> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let path = target.join("js-devices/doorbell-js.wasm");
    match std::fs::read(&path) {
        Ok(bytes) => Some(Subject {
            name: "doorbell-js",
            language: "JavaScript",
            origin: Origin::File(path),
            bytes,
            scratch: (0x04, 4),
        }),
        Err(e) => {
            eprintln!(
                "languages: {}: {e}: no JavaScript column (build it with `just build-js`)",
                path.display()
            );
            None
        }
    }
}

fn built_in(name: &'static str, language: &'static str, scratch: (u64, u8)) -> Subject {
    let origin = Origin::BuiltIn(name);
    let bytes = read_device(&origin).expect("built-in device").into_owned();
    Subject { name, language, origin, bytes, scratch }
}

/// The limits docs/device-authoring-js.md recommends for a JS device: its
/// engine lets the heap grow to about 64 MiB before a full collection,
/// and that collection, run inside whichever call triggers it, takes more
/// than the default 20M fuel. The Rust and C devices get the same limits
/// (they do not change their cost).
const MEMORY_LIMIT: u64 = 128 << 20;
const FUEL: u64 = 200_000_000;

fn instantiate(loader: &Loader, loaded: &LoadedComponent) -> WasmDevice {
    loader.instantiate(loaded, DeviceImports::new("dev0", MEMORY_LIMIT), FUEL, vec![]).expect("instantiate")
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
    let mut subjects = vec![
        built_in("ns16550a", "Rust", (7, 1)),  // SCR, the scratch register
        built_in("crc32-dma", "C", (0x04, 4)), // SRC_LO, a plain read/write register
    ];
    subjects.extend(doorbell_js());
    let figures: Vec<Figures> = subjects.iter().map(|s| measure(s, quick)).collect();
    if quick {
        println!("languages: every measurement ran once (no table in test mode)");
        return;
    }
    println!();
    println!(
        "languages summary (median of 5 rounds; instantiation includes drop; ratio: last column / first)"
    );
    let names: Vec<String> = subjects.iter().map(|s| format!("{} ({})", s.name, s.language)).collect();
    println!("| measurement | {} | ratio |", names.join(" | "));
    println!("|---|{}---|", "---|".repeat(subjects.len()));
    let (first, last) = (&figures[0], &figures[figures.len() - 1]);
    let row = |name: &str, f: &dyn Fn(&Figures) -> f64| {
        let cells: Vec<String> = figures.iter().map(|x| fmt_ns(f(x))).collect();
        println!("| {name} | {} | {:.0}× |", cells.join(" | "), f(last) / f(first));
    };
    let sizes: Vec<String> = figures.iter().map(|x| fmt_bytes(x.size)).collect();
    println!("| component size | {} | {:.0}× |", sizes.join(" | "), last.size as f64 / first.size as f64);
    row("instantiate, cold (compile)", &|x| x.cold);
    row("instantiate, on-disk cache", &|x| x.cache);
    row("instantiate, from `InstancePre`", &|x| x.pre);
    row("MMIO write, scratch register", &|x| x.write);
    row("MMIO read, scratch register", &|x| x.read);
    row("no-op export call (`irq-input`)", &|x| x.noop);
}
