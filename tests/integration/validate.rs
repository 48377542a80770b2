//! `wemu validate`: good components pass with exit 0, each kind of bad one
//! fails with exit 1 and an `error` line naming what is wrong.

use crate::common::{
    Outcome, component_from_wit, contract_text, temp_file, test_device_dir, wasi_contract_text, wemu,
};

fn p(path: &std::path::Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

fn validate(args: &[&str]) -> Outcome {
    let mut all = vec!["validate"];
    all.extend_from_slice(args);
    let out = wemu(&all);
    assert!(!out.stderr.contains("thread 'main' panicked"), "host panic: {}", out.stderr);
    out
}

/// The report line of `check` at `level`, e.g. ("error", "create").
fn line<'a>(out: &'a Outcome, level: &str, check: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(level) && l.get(9..25).map(str::trim) == Some(check))
        .unwrap_or_else(|| panic!("no '{level} {check}' line in:\n{}", out.stdout))
}

fn assert_valid(out: &Outcome) {
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("result: valid:"), "{}", out.stdout);
    assert!(!out.stdout.lines().any(|l| l.starts_with("error")), "{}", out.stdout);
}

fn assert_invalid(out: &Outcome) {
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.contains("result: INVALID:"), "{}", out.stdout);
}

#[test]
fn built_in_devices_are_valid() {
    for name in ["ns16550a", "crc32-dma", "plic", "virtio-blk"] {
        if name == "crc32-dma" && !crate::common::c_devices_built() {
            continue;
        }
        let out = validate(&[name]);
        assert_valid(&out);
        for check in ["contract", "imports", "create", "model", "device tree", "reset", "save", "memory"] {
            line(&out, "ok", check);
        }
    }
}

#[test]
fn report_names_versions_capabilities_and_round_trip() {
    if !crate::common::c_devices_built() {
        return;
    }
    let out = validate(&["crc32-dma"]);
    assert_valid(&out);
    assert!(line(&out, "ok", "contract").contains("wemu:device/device@0.1.0"));
    assert!(line(&out, "ok", "contract").contains("implements wemu:device@0.1.0"));
    let caps = line(&out, "ok", "capabilities");
    assert!(caps.contains("clock") && caps.contains("timers = true") && caps.contains("dma"), "{caps}");
    assert!(line(&out, "ok", "model").contains("crc32-dma 0.1.0"));
    assert!(line(&out, "ok", "mmio").contains("0x43524344"), "the ID register");
    assert!(out.stdout.contains("round-trips"), "{}", out.stdout);
    assert!(out.stdout.contains("refuses foreign bytes"), "{}", out.stdout);
}

#[test]
fn a_component_file_is_validated_too() {
    let file = test_device_dir().join("faulty.wasm");
    assert_valid(&validate(&[&p(&file)]));
}

#[test]
fn a_core_module_is_an_error() {
    let (_dir, file) = temp_file("mod.wasm", b"\0asm\x01\0\0\0");
    let out = validate(&[&p(&file)]);
    assert_invalid(&out);
    assert!(line(&out, "error", "format").contains("core wasm module"));
}

#[test]
fn not_wasm_at_all_is_an_error() {
    let (_dir, file) = temp_file("x.wasm", b"hello");
    let out = validate(&[&p(&file)]);
    assert_invalid(&out);
    assert!(line(&out, "error", "format").contains("magic"));
}

#[test]
fn a_wasi_import_is_an_error() {
    let (_dir, file) = temp_file("w.wasm", &component_from_wit(&wasi_contract_text(), "device-model"));
    let out = validate(&[&p(&file)]);
    assert_invalid(&out);
    let l = line(&out, "error", "imports");
    assert!(l.contains("wasi:cli/stdout@0.2.0") && l.contains("must not use WASI"), "{l}");
    assert!(!out.stdout.contains(" create "), "no instantiation after a refused import:\n{}", out.stdout);
}

#[test]
fn another_contract_version_names_both() {
    let text = contract_text().replace("wemu:device@0.1.0", "wemu:device@0.2.0");
    let (_dir, file) = temp_file("v2.wasm", &component_from_wit(&text, "device-model"));
    let out = validate(&[&p(&file)]);
    assert_invalid(&out);
    let l = line(&out, "error", "contract");
    assert!(l.contains("wemu:device@0.2.0") && l.contains("wemu:device@0.1.0"), "{l}");
}

#[test]
fn a_device_whose_create_traps_is_an_error() {
    let file = test_device_dir().join("faulty.wasm");
    let out = validate(&[&p(&file), "--props", "panic-on-create=true"]);
    assert_invalid(&out);
    assert!(line(&out, "error", "create").contains("trapped"));
    // The panic message follows on the report's continuation lines.
    assert!(out.stdout.contains("asked to panic in create"), "{}", out.stdout);
}

#[test]
fn a_device_with_trapping_exports_is_an_error() {
    // wit-component's dummy module: the right types, every body traps.
    let (_dir, file) = temp_file("dummy.wasm", &component_from_wit(&contract_text(), "device-model"));
    let out = validate(&[&p(&file)]);
    assert_invalid(&out);
    line(&out, "ok", "link");
    assert!(line(&out, "error", "create").contains("trapped"));
}

#[test]
fn refused_properties_are_an_error_with_a_hint() {
    let out = validate(&["ns16550a", "--props", "baud=9600"]);
    assert_invalid(&out);
    let l = line(&out, "error", "create");
    assert!(l.contains("unknown property 'baud'") && l.contains("--props"), "{l}");
}

#[test]
fn an_unknown_name_is_a_setup_error() {
    let out = validate(&["no-such-device"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("no device component named 'no-such-device'"), "{}", out.stderr);
}
