//! One device component, fuzzed like `wemu fuzz NAME` but under libFuzzer:
//! the input bytes are the same operation sequences (a `wemu fuzz` corpus
//! or reproducer works here and back), and the device's block and compare
//! coverage is handed to libFuzzer as extra counters next to the host's
//! own SanitizerCoverage.
//!
//! Environment:
//! - `WEMU_FUZZ_DEVICE`: component name or .wasm path (default: its value
//!   when the target was built, else the built-in `ns16550a`); looked up
//!   on `WEMU_DEVICE_PATH`, then built-ins.
//! - `WEMU_FUZZ_PROPS`: its properties, `k=v,k2=v2`.
//! - `WEMU_FUZZ_IGNORE`: finding kinds that do not crash (e.g. `dma`).
//!
//! A finding crashes (libFuzzer saves the input); a host panic is not
//! caught at all, so sanitizers and libFuzzer see it as it happens.

#![no_main]

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wemu_devfuzz::{FindingKind, FuzzTarget, FuzzTargetOptions, Harness, parse_props};
use wemu_sandbox::loader::{Loader, SearchPath};

/// libFuzzer reads (and clears) the 8-bit counters of this ELF section
/// around every input, like its own coverage counters.
const EXTRA: usize = 1 << 16;
#[used]
#[unsafe(link_section = "__libfuzzer_extra_counters")]
static mut EXTRA_COUNTERS: [u8; EXTRA] = [0; EXTRA];

fn setup() -> (Arc<FuzzTarget>, Vec<FindingKind>) {
    // At run time, else as built (one binary per device for OSS-Fuzz).
    let name = std::env::var("WEMU_FUZZ_DEVICE")
        .ok()
        .or(option_env!("WEMU_FUZZ_DEVICE").map(str::to_owned))
        .unwrap_or_else(|| "ns16550a".to_owned());
    let mut opts = FuzzTargetOptions::new(&name);
    opts.props = parse_props(&std::env::var("WEMU_FUZZ_PROPS").unwrap_or_default()).expect("WEMU_FUZZ_PROPS");
    let ignore = std::env::var("WEMU_FUZZ_IGNORE")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("WEMU_FUZZ_IGNORE"))
        .collect();
    let loader = Loader::new(SearchPath::new(&[], "WEMU_DEVICE_PATH"), None).expect("loader");
    let target = FuzzTarget::load(&loader, &opts).unwrap_or_else(|e| panic!("loading {name}: {e:#}"));
    (Arc::new(target), ignore)
}

fn harness() -> Harness {
    static TARGET: OnceLock<(Arc<FuzzTarget>, Vec<FindingKind>)> = OnceLock::new();
    let (target, ignore) = TARGET.get_or_init(setup);
    let mut h = Harness::new(target.clone(), ignore);
    // Host panics go straight to libFuzzer.
    h.catch_panics = false;
    h
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    HARNESS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let h = cell.get_or_insert_with(harness);
        let finding = h.run(data, None);
        let counters = std::ptr::addr_of_mut!(EXTRA_COUNTERS).cast::<u8>();
        for &(i, bucket) in &h.hits {
            // SAFETY: in bounds (modulo the length); libFuzzer only touches
            // the section between inputs, on this same thread.
            unsafe { *counters.add(i as usize % EXTRA) |= bucket };
        }
        if let Some(f) = finding {
            panic!("wemu device finding: {f}");
        }
    });
});
