//! MMIO and instantiation cost of a wasm device against the same register
//! model called natively.
//!
//! Run with `cargo bench -p wemu --bench mmio`. Criterion prints its own
//! estimates for each benchmark; in bench mode a summary table (median of
//! five timed sample loops per measurement) follows for `docs/performance.md`.
//!
//! Measured:
//! - `mmio/wasm/*`: one access to the ns16550a scratch register (SCR,
//!   offset 7, size 1: no side effects) through `WasmDevice::read`/`write`,
//!   the path the bus takes, per-call fuel reset included; `noop-call` is
//!   an export that does nothing, the floor of any device call.
//! - `mmio/native/*`: the same access on `wemu_dev_ns16550a::Ns16550a`
//!   compiled natively, called through a `Box<dyn Mmio>` trait object.
//! - `instantiate/*`: one device instance (instantiate + `create`) starting
//!   from the component bytes (`cold`: compile), from the on-disk compile
//!   cache (`cache`: read + deserialize + check + link), or from the ready
//!   `InstancePre` (`pre`).

mod common;

use common::{fmt_ns, median_ns};
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use wemu_dev_ns16550a::Ns16550a;
use wemu_device_sdk::{Device, Props};
use wemu_sandbox::device::{DEFAULT_FUEL, DEFAULT_MEMORY_LIMIT, DeviceImports, WasmDevice};
use wemu_sandbox::loader::search::read_device;
use wemu_sandbox::loader::{CacheOutcome, CompileCache, LoadedComponent, Loader, Origin, SearchPath};

const DEVICE: &str = "ns16550a";
/// Scratch register: reads back what was written, raises nothing.
const SCR: u64 = 7;

/// An object-safe MMIO interface (`wemu_device_sdk::Device` is not: `create`
/// returns `Self`), so the native figure includes a dynamic dispatch as a
/// bus holding `Box<dyn …>` devices would pay.
trait Mmio {
    fn read(&mut self, off: u64, size: u8) -> u64;
    fn write(&mut self, off: u64, size: u8, v: u64);
}

impl Mmio for Ns16550a {
    fn read(&mut self, off: u64, size: u8) -> u64 {
        Device::read(self, 0, off, size).expect("native read")
    }
    fn write(&mut self, off: u64, size: u8, v: u64) {
        Device::write(self, 0, off, size, v).expect("native write")
    }
}

fn native_device() -> Box<dyn Mmio> {
    Box::new(Ns16550a::create(&Props::default()).expect("native ns16550a"))
}

fn imports() -> DeviceImports {
    DeviceImports::new("uart0", DEFAULT_MEMORY_LIMIT)
}

fn instantiate(loader: &Loader, loaded: &LoadedComponent) -> WasmDevice {
    loader.instantiate(loaded, imports(), DEFAULT_FUEL, vec![]).expect("instantiate ns16550a")
}

/// The built-in component bytes, as the loader reads them.
fn component_bytes() -> (Origin, Vec<u8>) {
    let origin = Origin::BuiltIn(DEVICE);
    let bytes = read_device(&origin).expect("built-in ns16550a").into_owned();
    (origin, bytes)
}

/// Everything the benchmarks share, built once.
struct Fixture {
    /// Loader without a compile cache, as `Loader::new(.., None)`.
    loader: Loader,
    loaded: std::rc::Rc<LoadedComponent>,
    /// Loader whose cache (in `_cache_dir`) already holds the artefact.
    cached_loader: Loader,
    _cache_dir: tempfile::TempDir,
    origin: Origin,
    bytes: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
        let loaded = loader.load(DEVICE).expect("load ns16550a");
        let (origin, bytes) = component_bytes();

        let cache_dir = tempfile::tempdir().expect("temp dir");
        let cached_loader =
            Loader::new(SearchPath::default(), Some(CompileCache::new(cache_dir.path().into())))
                .expect("loader with cache");
        let warm = cached_loader.compile(DEVICE, origin.clone(), &bytes).expect("warm the cache");
        assert_eq!(warm.cache, CacheOutcome::Miss, "fresh cache dir should miss");
        let f = Fixture { loader, loaded, cached_loader, _cache_dir: cache_dir, origin, bytes };
        assert_eq!(f.via_cache().0.cache, CacheOutcome::Hit, "warmed cache should hit");
        f
    }

    /// (a) compile from the component bytes, then instantiate + create.
    fn cold(&self) -> (LoadedComponent, WasmDevice) {
        let loaded = self.loader.compile(DEVICE, self.origin.clone(), &self.bytes).expect("compile");
        let dev = instantiate(&self.loader, &loaded);
        (loaded, dev)
    }

    /// (b) load from the on-disk cache, then instantiate + create.
    fn via_cache(&self) -> (LoadedComponent, WasmDevice) {
        let loaded =
            self.cached_loader.compile(DEVICE, self.origin.clone(), &self.bytes).expect("cache load");
        let dev = instantiate(&self.cached_loader, &loaded);
        (loaded, dev)
    }

    /// (c) instantiate + create from the ready `InstancePre`.
    fn via_pre(&self) -> WasmDevice {
        instantiate(&self.loader, &self.loaded)
    }
}

fn wasm_write(dev: &mut WasmDevice, v: u64) {
    dev.write(0, 0, black_box(SCR), black_box(1), v).expect("no fault").expect("SCR write accepted");
}

fn wasm_read(dev: &mut WasmDevice) -> u64 {
    dev.read(0, 0, black_box(SCR), black_box(1)).expect("no fault").expect("SCR read accepted")
}

/// The floor of any device call: `irq-input` is a no-op in the SDK for a
/// device without inputs (the machine never sends it one; this is only a
/// reference for how much of an access is the component call itself).
fn wasm_noop(dev: &mut WasmDevice) {
    dev.irq_input(0, black_box(0), false).expect("no fault");
}

fn bench_mmio(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("mmio");

    let mut dev = f.via_pre();
    wasm_write(&mut dev, 0x5a);
    assert_eq!(wasm_read(&mut dev), 0x5a, "SCR reads back");
    let mut v = 0u64;
    g.bench_function("wasm/write", |b| {
        b.iter(|| {
            v = v.wrapping_add(1);
            wasm_write(&mut dev, black_box(v & 0xff));
        })
    });
    g.bench_function("wasm/read", |b| b.iter(|| black_box(wasm_read(&mut dev))));
    g.bench_function("wasm/noop-call", |b| b.iter(|| wasm_noop(&mut dev)));

    let mut native = black_box(native_device());
    native.write(SCR, 1, 0x5a);
    assert_eq!(native.read(SCR, 1), 0x5a, "SCR reads back");
    g.bench_function("native/write", |b| {
        b.iter(|| {
            v = v.wrapping_add(1);
            black_box(&mut native).write(black_box(SCR), black_box(1), black_box(v & 0xff));
        })
    });
    g.bench_function("native/read", |b| {
        b.iter(|| black_box(black_box(&mut native).read(black_box(SCR), black_box(1))))
    });
    g.finish();
}

fn bench_instantiate(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("instantiate");
    // Compiling takes tens of milliseconds: few samples, more time.
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("cold", |b| b.iter(|| f.cold()));
    g.finish();

    // Dropping the store is included: keeping thousands of live instances
    // (each a linear-memory reservation) alive per sample would measure
    // the kernel rather than wemu.
    let mut g = c.benchmark_group("instantiate");
    g.bench_function("cache", |b| b.iter(|| f.via_cache()));
    g.bench_function("pre", |b| b.iter(|| f.via_pre()));
    g.finish();
}

// ---- summary table -------------------------------------------------------

fn summary(f: &Fixture) {
    const ROUNDS: usize = 5;
    const ACCESSES: u32 = 1_000_000;
    let mut dev = f.via_pre();
    let mut native = native_device();
    let mut v = 0u64;

    // Warm both paths before timing.
    let _ = median_ns(1, ACCESSES / 10, || wasm_write(&mut dev, 1));
    let wasm_w = median_ns(ROUNDS, ACCESSES, || {
        v = v.wrapping_add(1);
        wasm_write(&mut dev, black_box(v & 0xff));
    });
    let wasm_r = median_ns(ROUNDS, ACCESSES, || {
        black_box(wasm_read(&mut dev));
    });
    let noop = median_ns(ROUNDS, ACCESSES, || wasm_noop(&mut dev));
    let _ = median_ns(1, ACCESSES, || black_box(&mut native).write(SCR, 1, 1));
    let nat_w = median_ns(ROUNDS, ACCESSES, || {
        v = v.wrapping_add(1);
        black_box(&mut native).write(black_box(SCR), black_box(1), black_box(v & 0xff));
    });
    let nat_r = median_ns(ROUNDS, ACCESSES, || {
        black_box(black_box(&mut native).read(black_box(SCR), black_box(1)));
    });

    let cold = median_ns(ROUNDS, 4, || drop(black_box(f.cold())));
    let cache = median_ns(ROUNDS, 200, || drop(black_box(f.via_cache())));
    let pre = median_ns(ROUNDS, 2_000, || drop(black_box(f.via_pre())));

    let ratio = |w: f64, n: f64| format!("{:.0}×", w / n);
    let met = |ok: bool| if ok { "yes" } else { "no" };
    println!();
    println!("wemu mmio summary (median of {ROUNDS} rounds; instantiation includes drop)");
    println!("| measurement | median | ratio wasm/native | target | met? |");
    println!("|---|---|---|---|---|");
    for (name, w, n) in
        [("MMIO write, SCR, 1 byte", wasm_w, nat_w), ("MMIO read, SCR, 1 byte", wasm_r, nat_r)]
    {
        println!("| {name}, wasm | {} | {} | ≤ 100 ns | {} |", fmt_ns(w), ratio(w, n), met(w <= 100.0));
        println!("| {name}, native `dyn` | {} | 1× | | |", fmt_ns(n));
    }
    println!("| no-op export call (`irq-input`), wasm: call floor | {} | | | |", fmt_ns(noop));
    println!("| instantiate, cold (compile) | {} | | | |", fmt_ns(cold));
    println!("| instantiate, on-disk cache | {} | | ≤ 1 ms | {} |", fmt_ns(cache), met(cache <= 1e6));
    println!("| instantiate, from `InstancePre` | {} | | | |", fmt_ns(pre));
}

/// Criterion runs benchmarks for real only under `--bench` without
/// `--test`/`--list`/`--profile-time`; the summary follows the same rule so
/// `cargo test --benches` stays quick.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |a: &str| args.iter().any(|x| x == a || x.starts_with(&format!("{a}=")));
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

fn main() {
    let fixture = Fixture::new();
    let mut c = Criterion::default().configure_from_args();
    bench_mmio(&mut c, &fixture);
    bench_instantiate(&mut c, &fixture);
    c.final_summary();
    if benchmarking() {
        summary(&fixture);
    }
}
