//! The same device boundary for a device written in Rust (ns16550a, with
//! `wemu-guest`) and one written in C (crc32-dma, with `guest-sdk/c`):
//! component size, compile and instantiation time, and the cost of one
//! register access through `WasmDevice`, the path the bus takes.
//!
//! Run with `cargo bench -p wemu --bench languages` (release, as `just
//! bench` does) or add `--profile dev` for the unoptimised host; either
//! way the device code is compiled by cranelift at the same opt level.
//! Prints a Markdown table (median of five rounds) for docs.

use std::hint::black_box;
use std::time::Instant;

use wemu::device::{DEFAULT_FUEL, DEFAULT_MEMORY_LIMIT, DeviceState, WasmDevice};
use wemu::loader::search::read_device;
use wemu::loader::{LoadedComponent, Loader, Origin, SearchPath};

/// A side-effect-free register of each device: (name, region offset, size).
const DEVICES: &[(&str, &str, u64, u8)] = &[
    ("ns16550a", "Rust", 7, 1),  // SCR, the scratch register
    ("crc32-dma", "C", 0x04, 4), // SRC_LO, a plain read/write register
];

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

fn instantiate(loader: &Loader, loaded: &LoadedComponent, name: &str) -> WasmDevice {
    let state = DeviceState::new(name, DEFAULT_MEMORY_LIMIT);
    loader.instantiate(loaded, state, DEFAULT_FUEL, vec![]).expect("instantiate")
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    const ROUNDS: usize = 5;
    const ACCESSES: u32 = 200_000;
    println!("| device | language | component | compile | instantiate + create | MMIO read | MMIO write |");
    println!("|---|---|---|---|---|---|---|");
    for &(name, lang, off, size) in DEVICES {
        let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
        let origin = Origin::BuiltIn(name);
        let bytes = read_device(&origin).expect("built-in").into_owned();
        let compile = median_ns(ROUNDS, 1, || {
            black_box(loader.compile(name, origin.clone(), &bytes).expect("compile"));
        });
        let loaded = loader.load(name).expect("load");
        let inst = median_ns(ROUNDS, 500, || drop(black_box(instantiate(&loader, &loaded, name))));
        let mut dev = instantiate(&loader, &loaded, name);
        let mut v = 0u64;
        let mut write = |dev: &mut WasmDevice| {
            v = v.wrapping_add(1);
            dev.write(0, 0, black_box(off), black_box(size), black_box(v & 0xff))
                .expect("no fault")
                .expect("write accepted");
        };
        let read = |dev: &mut WasmDevice| {
            black_box(
                dev.read(0, 0, black_box(off), black_box(size)).expect("no fault").expect("read accepted"),
            );
        };
        let _ = median_ns(1, ACCESSES / 10, || write(&mut dev)); // warm up
        let w = median_ns(ROUNDS, ACCESSES, || write(&mut dev));
        let r = median_ns(ROUNDS, ACCESSES, || read(&mut dev));
        println!(
            "| {name} | {lang} | {:.1} KB | {:.1} ms | {:.1} µs | {r:.0} ns | {w:.0} ns |",
            bytes.len() as f64 / 1000.0,
            compile / 1e6,
            inst / 1e3
        );
    }
}
