//! Inputs that could exhaust the host: every file wemu reads is capped
//! (a device like `/dev/zero` is an error naming it, not a host filling
//! its memory), guest RAM larger than the host is reserved or refused
//! cleanly, never an abort, and a machine file with very many entries
//! builds in n log n.

use std::path::Path;
use std::time::Duration;

use crate::common::{Outcome, guest, temp_file, wemu_within};

const ZERO: &str = "/dev/zero";

fn p(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

fn hello() -> String {
    p(&guest("hello"))
}

/// `wemu ARGS` (killed, and the test failed, after `secs` seconds: a read
/// without a cap never ends on /dev/zero).
fn wemu_for(secs: u64, args: &[&str]) -> Outcome {
    wemu_within(args, None, Duration::from_secs(secs))
}

/// A failure (not a signal) with every needle on stderr.
fn refused(out: &Outcome, needles: &[&str]) {
    assert!(matches!(out.code, Some(c) if c != 0), "expected a non-zero exit status: {out:?}");
    assert!(!out.stderr.contains("panicked"), "host panic: {}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }
}

#[test]
fn a_machine_file_that_is_dev_zero_is_refused_by_name() {
    let out = wemu_for(60, &["run", "-M", ZERO, "--kernel", &hello()]);
    refused(&out, &[ZERO, "16777216 bytes", "machine file"]);
}

#[test]
fn kernel_firmware_and_initrd_from_dev_zero_are_refused_by_name() {
    let out = wemu_for(60, &["run", "--bios", "none", "--kernel", ZERO]);
    refused(&out, &["kernel /dev/zero", "larger than the 134217728 bytes"]);
    let out = wemu_for(60, &["run", "--bios", ZERO, "--kernel", &hello()]);
    refused(&out, &["firmware /dev/zero", "larger than the 134217728 bytes"]);
    let out = wemu_for(60, &["run", "--bios", "none", "--kernel", &hello(), "--initrd", ZERO]);
    refused(&out, &["initrd /dev/zero", "does not fit in RAM"]);
}

#[test]
fn an_elf_far_larger_than_ram_still_loads_its_segments() {
    // The hello guest followed by 1 GiB of nothing (a sparse file, as debug
    // sections would be): only the loadable segments go to the 128 MiB RAM.
    let elf = std::fs::read(guest("hello")).expect("hello");
    let (_dir, file) = temp_file("debug.elf", &elf);
    let f = std::fs::OpenOptions::new().write(true).open(&file).expect("open");
    f.set_len(elf.len() as u64 + (1 << 30)).expect("grow the file");
    let out = wemu_for(60, &["run", "--kernel", &p(&file)]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("Hello from wemu!"), "{out:?}");
}

#[test]
fn kernel_addr_with_an_elf_is_refused() {
    let out = wemu_for(60, &["run", "--kernel", &hello(), "--kernel-addr", "0x80200000"]);
    refused(&out, &["--kernel-addr 0x80200000", &hello(), "ELF"]);
}

#[test]
fn components_from_dev_zero_are_refused_by_name_everywhere() {
    let limit = "268435456 bytes";
    let dir = tempfile::tempdir().expect("tempdir");
    // Found by name on the search path, which lists regular files only (a
    // symlink to /dev/zero is passed over): a sparse file over the cap.
    let big = dir.path().join("ns16550a.wasm");
    std::fs::File::create(&big).and_then(|f| f.set_len(300 << 20)).expect("sparse component");
    let out = wemu_for(60, &["run", "--device-path", &p(dir.path()), "--kernel", &hello()]);
    refused(&out, &["ns16550a.wasm", limit]);
    // A path in --device and in a machine file.
    let out = wemu_for(60, &["run", "--device", "/dev/zero,id=z", "--kernel", &hello()]);
    refused(&out, &[ZERO, limit]);
    let (_d, board) =
        temp_file("board.toml", b"extends = \"virt\"\n[[device]]\nname = \"z\"\ncomponent = \"/dev/zero\"\n");
    let out = wemu_for(60, &["run", "-M", &p(&board), "--kernel", &hello()]);
    refused(&out, &[&format!("{}:2", p(&board)), ZERO, limit]);
    let out = wemu_for(60, &["validate", ZERO]);
    refused(&out, &[ZERO, limit]);
    let out_file = dir.path().join("out.wasm");
    let out = wemu_for(60, &["componentize", ZERO, "-o", &p(&out_file)]);
    refused(&out, &[ZERO, limit]);
    assert!(!out_file.exists(), "nothing written");
    let out = wemu_for(60, &["fuzz", ZERO, "--runs", "1"]);
    refused(&out, &[ZERO, limit]);
}

#[test]
fn fuzz_inputs_from_dev_zero_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = p(&dir.path().join("corpus"));
    let crashes = p(&dir.path().join("crashes"));
    for mode in ["--replay", "--minimize"] {
        let out = wemu_for(120, &["fuzz", "sifive-test", "--runs", "1", mode, ZERO]);
        refused(&out, &[ZERO, "1048576 bytes", "fuzz input"]);
    }
    // A corpus entry over the cap (sparse: no disk used) is skipped, named.
    std::fs::create_dir_all(&corpus).expect("corpus dir");
    let big = dir.path().join("corpus").join("big");
    std::fs::File::create(&big).and_then(|f| f.set_len(1 << 30)).expect("sparse corpus file");
    let out = wemu_for(
        120,
        &["fuzz", "sifive-test", "--runs", "20", "--no-coverage", "--corpus", &corpus, "--crashes", &crashes],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains(&p(&big)) && out.stderr.contains("1048576 bytes"), "{}", out.stderr);
}

/// MemTotal + SwapTotal of this host, in bytes.
fn host_memory() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let kib = |key: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("/proc/meminfo has no {key}"))
    };
    (kib("MemTotal:") + kib("SwapTotal:")) * 1024
}

#[test]
fn ram_larger_than_the_host_is_reserved_or_refused_never_an_abort() {
    // Twice the host's RAM plus swap, in whole GiB, at most the 64 GiB a
    // memory region may have (on a host with more than 32 GiB this no
    // longer exceeds it, and the test checks the 64 GiB case only).
    let gib = (2 * host_memory()).div_ceil(1 << 30).min(64);
    let size = format!("{gib}G");
    let bytes = (gib << 30).to_string();
    let (_dir, board) = temp_file(
        "big.toml",
        format!("extends = \"virt\"\n[[memory]]\nname = \"ram\"\nsize = \"{size}\"\n").as_bytes(),
    );
    for args in [
        vec!["run", "-m", &size, "--bios", "none", "--kernel", &hello()],
        vec!["run", "-M", &p(&board), "--bios", "none", "--kernel", &hello()],
    ] {
        let out = wemu_for(120, &args);
        match out.code {
            // MAP_NORESERVE: reserved, and only touched pages cost memory.
            Some(0) => assert!(out.stdout.contains("Hello from wemu!"), "{out:?}"),
            // Strict overcommit (vm.overcommit_memory = 2): a clear error.
            Some(_) => refused(&out, &["memory 'ram'", &bytes]),
            None => panic!("wemu {args:?} was killed by a signal (an abort?): {out:?}"),
        }
    }
}

#[test]
fn memory_beyond_the_largest_region_is_named() {
    let out = wemu_for(60, &["run", "-m", "65G", "--bios", "none", "--kernel", &hello()]);
    refused(&out, &["memory 'ram' is too large", "0x1040000000"]);
}

/// A machine file with `n` 4 KiB memory regions besides virt's.
fn many_regions(n: usize) -> String {
    let mut text = String::from("extends = \"virt\"\n");
    for i in 0..n {
        let base = 0x1_0000_0000u64 + 0x1000 * i as u64;
        text.push_str(&format!("\n[[memory]]\nname = \"m{i}\"\nbase = {base:#x}\nsize = \"4K\"\n"));
    }
    text
}

#[test]
fn a_machine_with_100000_memory_regions_builds() {
    // Quadratic merging took minutes here; n log n takes seconds even in a
    // debug build. The limit only catches the quadratic case.
    let (_dir, board) = temp_file("many.toml", many_regions(100_000).as_bytes());
    let out = wemu_for(180, &["run", "-M", &p(&board), "--bios", "none", "--kernel", &hello()]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("Hello from wemu!"), "{out:?}");
}

#[test]
fn duplicate_names_in_one_file_name_both_lines() {
    let (_dir, board) = temp_file(
        "dup.toml",
        b"extends = \"virt\"\n\n[[memory]]\nname = \"flash\"\nbase = 0x20000000\nsize = \"1M\"\n\n\
          [[memory]]\nname = \"flash\"\nbase = 0x30000000\nsize = \"1M\"\n",
    );
    let out = wemu_for(60, &["run", "-M", &p(&board), "--kernel", &hello()]);
    let (first, second) = (format!("{}:3", p(&board)), format!("{}:8", p(&board)));
    refused(&out, &["memory 'flash' is defined twice", &first, &second]);
    let (_dir2, board2) = temp_file(
        "dupdev.toml",
        b"extends = \"virt\"\n[[device]]\nname = \"u\"\ncomponent = \"ns16550a\"\nregions = [0x10010000]\n\
          [[device]]\nname = \"u\"\ncomponent = \"ns16550a\"\nregions = [0x10020000]\n",
    );
    let out = wemu_for(60, &["run", "-M", &p(&board2), "--kernel", &hello()]);
    refused(
        &out,
        &["device 'u' is defined twice", &format!("{}:2", p(&board2)), &format!("{}:6", p(&board2))],
    );
}

#[test]
fn dma_windows_that_wrap_or_sit_on_devices_are_refused() {
    let out = wemu_for(
        60,
        &["run", "--device", "virtio-mmio,id=virtio0,dma=0xfffffffffffff000+0x2000", "--kernel", &hello()],
    );
    refused(&out, &["device 'virtio0'", "0xfffffffffffff000", "wraps"]);
    // uart0's registers, not memory.
    let out = wemu_for(
        60,
        &["run", "--device", "virtio-mmio,id=virtio0,dma=0x10000000+0x1000", "--kernel", &hello()],
    );
    refused(&out, &["device 'virtio0'", "[0x10000000..=0x10000fff]", "'uart0.regs'"]);
}
