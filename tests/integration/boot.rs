//! Booting the bundled guests on the default machine through the CLI.

use crate::common::{guest, root, temp_file, test_device_dir, wemu, wemu_interactive};

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn hello_prints_through_the_wasm_uart_and_exits_through_the_finisher() {
    let out = wemu(&["run", "-M", "virt", "--kernel", path(&guest("hello"))]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("Hello from wemu! RV64 bare metal, hart 0"));
    let misa = lines.next().unwrap_or_default();
    assert!(misa.starts_with("misa = 0x8000000000"), "{misa}");
}

#[test]
fn the_guest_exit_status_becomes_wemus() {
    let out = wemu(&["run", "--kernel", path(&guest("exitcode"))]);
    assert_eq!(out.stdout, "exiting with 3\n");
    assert_eq!(out.code, Some(3));
}

#[test]
fn traps_are_delivered_to_the_guest_handler() {
    let out = wemu(&["run", "--kernel", path(&guest("trap"))]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("trap mcause=0x2 "), "{}", out.stdout);
    assert!(out.stdout.contains("trap mcause=0x5 mepc=") && out.stdout.contains("mtval=0x40000000"));
    assert!(out.stdout.ends_with("traps ok\n"), "{}", out.stdout);
}

#[test]
fn a_guest_without_a_trap_handler_stops_with_its_pc() {
    let out = wemu(&["run", "--kernel", path(&guest("nohandler"))]);
    assert_eq!(out.stdout, "about to fault\n");
    assert_eq!(out.code, Some(126), "{out:?}");
    assert!(out.stderr.contains("illegal instruction 0xffffffff"), "{}", out.stderr);
    assert!(out.stderr.contains("at pc 0x8000"), "{}", out.stderr);
}

#[test]
fn stdin_reaches_the_guest_through_the_uart() {
    let out =
        wemu_interactive(&["run", "--kernel", path(&guest("echo"))], Some(("echo ready", b"hello\x04")));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "echo ready\nHELLO\nbye after 5 bytes\n");
}

#[test]
fn a_second_console_device_does_not_steal_input() {
    let out = wemu_interactive(
        &[
            "run",
            "--device",
            "ns16550a,id=uart1,addr=0x10010000,chardev=stdio",
            "--kernel",
            path(&guest("echo")),
        ],
        Some(("echo ready", b"xyz\x04")),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "echo ready\nXYZ\nbye after 3 bytes\n");
}

#[test]
fn uart_interrupts_reach_the_hart_per_ier() {
    let machine = root().join("tests/machines/virt-direct-irq.toml");
    let out = wemu_interactive(
        &["run", "-M", path(&machine), "--kernel", path(&guest("irq-echo"))],
        Some(("irq-echo ready", b"abc\x04")),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("irq-echo ready\nABC\nbye after 3 bytes, "), "{}", out.stdout);
    let n: u32 = out
        .stdout
        .rsplit(", ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(n >= 1, "at least one interrupt: {}", out.stdout);
}

#[test]
fn serial_output_can_go_to_a_file() {
    let (_dir, file) = temp_file("serial.txt", b"");
    let arg = format!("file:{}", path(&file));
    let out = wemu(&["run", "--serial", &arg, "--kernel", path(&guest("hello"))]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "");
    let text = std::fs::read_to_string(&file).expect("serial file");
    assert!(text.starts_with("Hello from wemu!"), "{text}");
}

#[test]
fn mmio_trace_names_device_and_register() {
    let out = wemu(&["run", "-d", "mmio", "--kernel", path(&guest("exitcode"))]);
    assert_eq!(out.code, Some(3));
    assert!(out.stderr.contains("uart0 write region 0 off 0x3"), "{}", out.stderr);
    assert!(out.stderr.contains("test write region 0 off 0x0 size 4 value 0x33333"), "{}", out.stderr);
}

#[test]
fn devices_lists_built_ins_and_the_search_path() {
    let dir = test_device_dir();
    let out = wemu(&["devices", "--device-path", path(&dir)]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for needle in ["ns16550a  [<built-in>/ns16550a]", "sifive-test", "faulty", "contract: wemu:device@0.1.0"]
    {
        assert!(out.stdout.contains(needle), "missing {needle}: {}", out.stdout);
    }
    assert!(out.stdout.contains("capabilities: chardev"), "{}", out.stdout);
    assert!(out.stdout.contains("capabilities: clock, dma, block"), "{}", out.stdout);
}

#[test]
fn machines_lists_virt() {
    let out = wemu(&["machines"]);
    assert!(out.stdout.starts_with("virt "), "{}", out.stdout);
}

#[test]
fn a_device_on_the_search_path_overrides_the_built_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(test_device_dir().join("faulty.wasm"), dir.path().join("ns16550a.wasm")).expect("copy");
    let out = wemu(&["run", "--device-path", path(dir.path()), "--kernel", path(&guest("hello"))]);
    // The impostor needs DMA, which virt does not grant the UART: proof
    // that the file on the search path was the one loaded.
    assert_eq!(out.code, Some(1), "{out:?}");
    let from = format!("from {}", dir.path().join("ns16550a.wasm").display());
    assert!(out.stderr.contains(&from), "{}", out.stderr);
    assert!(out.stderr.contains("'dma' (grant it with"), "{}", out.stderr);
}

#[test]
fn help_documents_every_run_option() {
    let out = wemu(&["run", "--help"]);
    for opt in [
        "--machine",
        "--kernel",
        "--kernel-addr",
        "--device",
        "--serial",
        "--device-path",
        "--machine-path",
        "--trace",
    ] {
        assert!(out.stdout.contains(opt), "missing {opt}");
    }
}

#[test]
fn a_machine_on_the_machine_path_overrides_the_built_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text =
        "description = \"my own virt\"\n[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"1M\"\n";
    std::fs::write(dir.path().join("virt.toml"), text).expect("write");
    let out = wemu(&["machines", "--machine-path", path(dir.path())]);
    assert!(out.stdout.contains("my own virt"), "{}", out.stdout);
    // Without the finisher and UART the hello guest cannot print or stop:
    // it faults on the UART access, with no handler, and wemu says so.
    let run = wemu(&["run", "--machine-path", path(dir.path()), "--kernel", path(&guest("hello"))]);
    assert_eq!(run.code, Some(126), "{run:?}");
}

#[test]
fn htif_programs_print_and_exit_through_tohost() {
    let out = wemu(&["run", "--kernel", path(&guest("htif"))]);
    assert_eq!(out.stdout, "htif console works\n");
    assert_eq!(out.code, Some(5), "{out:?}");
}

#[test]
fn in_asm_trace_disassembles_each_executed_instruction() {
    let out = wemu(&["run", "-d", "in_asm", "--kernel", path(&guest("exitcode"))]);
    assert_eq!(out.code, Some(3), "{out:?}");
    // The image starts at the entry point with `auipc gp, ...` (rt's _start).
    assert!(
        out.stderr.contains("0x0000000080000000: 00001197  auipc gp,0x1"),
        "{}",
        &out.stderr[..400.min(out.stderr.len())]
    );
    assert!(out.stderr.lines().count() > 100);
}

#[test]
fn four_harts_share_atomics() {
    let out = wemu(&["run", "--smp", "4", "--kernel", path(&guest("smp"))]);
    assert_eq!(out.stdout, "smp: 4 harts, counter = 8000\n");
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn runs_are_deterministic_instruction_for_instruction() {
    let trace = || {
        let out = wemu(&["run", "--smp", "4", "-d", "in_asm", "--kernel", path(&guest("smp"))]);
        assert_eq!(out.code, Some(0), "{out:?}");
        // Drop the log timestamps; keep pc, bits and disassembly.
        out.stderr
            .lines()
            .filter_map(|l| l.split_once(" INFO ").map(|(_, rest)| rest.to_owned()))
            .collect::<Vec<_>>()
    };
    let (a, b) = (trace(), trace());
    assert!(a.len() > 10_000, "{} lines", a.len());
    assert!(a == b, "two runs of the same guest diverged");
}

#[test]
fn realtime_clock_runs_the_guest_too() {
    let out = wemu(&["run", "--clock", "realtime", "--kernel", path(&guest("exitcode"))]);
    assert_eq!(out.code, Some(3), "{out:?}");
}

#[test]
fn hart_count_is_validated() {
    let out = wemu(&["run", "--smp", "0", "--kernel", path(&guest("hello"))]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("0 harts requested; wemu runs 1 to 64"), "{}", out.stderr);
}

#[test]
fn pmp_guest_passes_every_check() {
    // The same output as on qemu-system-riscv64 (tests/integration/parity.rs).
    let out = wemu(&["run", "--kernel", path(&guest("pmp"))]);
    assert!(!out.stdout.contains("<-- expected"), "{}", out.stdout);
    assert!(out.stdout.ends_with("pmp: all checks passed\n"), "{}", out.stdout);
    assert!(out.stdout.lines().count() > 80, "{}", out.stdout);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn traps_move_between_m_s_and_u_modes_with_delegation() {
    // The same output as on qemu-system-riscv64 -M virt -bios none.
    let out = wemu(&["run", "--kernel", path(&guest("priv"))]);
    assert_eq!(out.stdout, "priv ok: M2(S) M9(S) S8 M2(U) S8 M9(S)\n");
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn trace_irq_logs_each_line_change_with_its_sink() {
    let machine = root().join("tests/machines/virt-direct-irq.toml");
    let out = wemu_interactive(
        &["run", "-d", "irq", "-M", path(&machine), "--kernel", path(&guest("irq-echo"))],
        Some(("irq-echo ready", b"x\x04")),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("uart0 line 0 -> hart0.meip: 1"), "{}", out.stderr);
    assert!(out.stderr.contains("uart0 line 0 -> hart0.meip: 0"), "{}", out.stderr);
    // On plain virt the CLINT raises MTIP at reset (mtimecmp = 0 <= mtime).
    let out = wemu(&["run", "-d", "irq,mmio", "--kernel", path(&guest("hello"))]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("clint line 1 -> hart0.mtip: 1"), "{}", out.stderr);
}
