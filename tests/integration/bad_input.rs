//! Every bad input gets a clear error naming the culprit and a non-zero
//! exit, never a panic.

use crate::common::{
    component_from_wit, contract_text, guest, temp_file, test_device_dir, wasi_contract_text, wemu,
};

fn p(path: &std::path::Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// `wemu run` that must fail at setup (exit 1) with all `needles` in stderr.
fn fails_with(args: &[&str], needles: &[&str]) {
    let out = wemu(args);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(!out.stderr.contains("thread 'main' panicked"), "host panic: {}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }
}

fn hello() -> String {
    p(&guest("hello"))
}

#[test]
fn broken_wasm_file_is_named() {
    let (dir, file) = temp_file("ns16550a.wasm", b"this is not wasm at all");
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "does not start with the wasm magic bytes"],
    );
}

#[test]
fn core_module_instead_of_component_is_explained() {
    let (dir, file) = temp_file("ns16550a.wasm", b"\0asm\x01\0\0\0");
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "core wasm module"],
    );
}

#[test]
fn truncated_component_is_refused() {
    let bytes = std::fs::read(test_device_dir().join("faulty.wasm")).expect("faulty.wasm");
    let (dir, file) = temp_file("ns16550a.wasm", &bytes[..bytes.len() / 2]);
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "not a valid WebAssembly component"],
    );
}

#[test]
fn device_built_for_another_contract_version_names_both_versions() {
    let text = contract_text().replace("wemu:device@0.1.0", "wemu:device@0.2.0");
    let (dir, file) = temp_file("ns16550a.wasm", &component_from_wit(&text, "device-model"));
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "wemu:device@0.2.0", "wemu:device@0.1.0"],
    );
}

#[test]
fn device_from_a_newer_compatible_release_is_refused_too() {
    let text = contract_text().replace("wemu:device@0.1.0", "wemu:device@0.1.9");
    let (dir, _file) = temp_file("ns16550a.wasm", &component_from_wit(&text, "device-model"));
    fails_with(&["run", "--device-path", &p(dir.path()), "--kernel", &hello()], &["0.1.9", "0.1.0"]);
}

#[test]
fn a_component_that_is_not_a_device_is_named() {
    let text = "package other:thing@1.0.0;\nworld w { export run: func(); }\n";
    let (dir, file) = temp_file("ns16550a.wasm", &component_from_wit(text, "w"));
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "does not export wemu:device/device"],
    );
}

#[test]
fn wasi_imports_are_refused() {
    let (dir, file) = temp_file("ns16550a.wasm", &component_from_wit(&wasi_contract_text(), "device-model"));
    fails_with(
        &["run", "--device-path", &p(dir.path()), "--kernel", &hello()],
        &[&p(&file), "wasi:cli/stdout@0.2.0", "must not use WASI"],
    );
}

#[test]
fn missing_device_names_component_file_and_line() {
    let (_dir, file) = temp_file(
        "board.toml",
        b"extends = \"virt\"\n\n[[device]]\nname = \"gpio0\"\ncomponent = \"no-such-gpio\"\nregions = [0x10060000]\n",
    );
    fails_with(
        &["run", "-M", &p(&file), "--kernel", &hello()],
        &[&format!("{}:3", p(&file)), "no device component named 'no-such-gpio'"],
    );
}

#[test]
fn malformed_machine_file_names_file_and_line() {
    let (_dir, file) = temp_file("board.toml", b"name = \"b\"\n[[memory]\nname = \"ram\"\n");
    fails_with(&["run", "-M", &p(&file), "--kernel", &hello()], &[&format!("{}:2", p(&file))]);
    let (_dir2, file2) =
        temp_file("typo.toml", b"name = \"b\"\n\n[[device]]\nname = \"u\"\ncompnent = \"x\"\n");
    fails_with(&["run", "-M", &p(&file2), "--kernel", &hello()], &[&format!("{}:5", p(&file2)), "compnent"]);
}

#[test]
fn unknown_machine_is_named() {
    fails_with(&["run", "-M", "no-such-board", "--kernel", &hello()], &["no machine named 'no-such-board'"]);
}

#[test]
fn overlapping_regions_name_both() {
    fails_with(
        &["run", "--device", "ns16550a,id=uart1,addr=0x10000080,chardev=null", "--kernel", &hello()],
        &["'uart1.regs' [0x10000080..=0x1000017f]", "'uart0.regs' [0x10000000..=0x100000ff]"],
    );
}

#[test]
fn zero_size_memory_is_refused() {
    let (_dir, file) = temp_file("z.toml", b"[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = 0\n");
    fails_with(
        &["run", "-M", &p(&file), "--kernel", &hello()],
        &[&format!("{}:1", p(&file)), "'ram'", "size 0"],
    );
}

#[test]
fn bad_elf_is_named() {
    let elf = std::fs::read(guest("hello")).expect("hello");
    let (_dir, file) = temp_file("broken.elf", &elf[..200]);
    fails_with(&["run", "--kernel", &p(&file)], &[&p(&file), "ELF"]);
    let mut x86 = elf.clone();
    x86[18] = 62; // e_machine = EM_X86_64
    let (_dir2, file2) = temp_file("x86.elf", &x86);
    fails_with(&["run", "--kernel", &p(&file2)], &[&p(&file2), "not RISC-V"]);
}

#[test]
fn image_outside_memory_is_refused() {
    let (_dir, file) = temp_file("raw.bin", &[0x13, 0, 0, 0]);
    fails_with(&["run", "--kernel", &p(&file), "--kernel-addr", "0x1000"], &[&p(&file), "0x1000"]);
}

#[test]
fn ungranted_capability_names_device_and_capability() {
    let (_dir, file) =
        temp_file("nochar.toml", b"extends = \"virt\"\n[[device]]\nname = \"uart0\"\nchardev = []\n");
    fails_with(
        &["run", "-M", &p(&file), "--kernel", &hello()],
        &["device 'uart0' (ns16550a", "capability 'chardev'", "chardev = \"NAME\""],
    );
}

#[test]
fn a_device_that_traps_in_create_is_named() {
    let dir = test_device_dir();
    fails_with(
        &[
            "run",
            "--device-path",
            &p(&dir),
            "--device",
            "faulty,addr=0x10020000,dma=0x80000000+4K,timers=on,block=/dev/null,panic-on-create=true",
            "--kernel",
            &hello(),
        ],
        &["device 'faulty' (faulty) trapped", "asked to panic in create", "during create"],
    );
}

#[test]
fn unknown_properties_are_refused_by_the_device() {
    fails_with(
        &[
            "run",
            "--device",
            "ns16550a,id=uart1,addr=0x10010000,chardev=null,baud=9600",
            "--kernel",
            &hello(),
        ],
        &["device 'uart1' (ns16550a) refused its properties", "unknown property 'baud'"],
    );
}

#[test]
fn bad_device_option_is_explained() {
    fails_with(&["run", "--device", "ns16550a,addr", "--kernel", &hello()], &["'addr' is not key=value"]);
}

#[test]
fn a_non_rv64_isa_is_refused() {
    let (_dir, file) = temp_file("rv32.toml", b"extends = \"virt\"\n[cpu]\nisa = \"rv32imac\"\n");
    fails_with(&["run", "-M", &p(&file), "--kernel", &hello()], &[&p(&file), "rv32imac", "RV64"]);
}
