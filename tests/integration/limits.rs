//! Every resource a device or an input can consume is bounded: timers,
//! queued IRQ changes, log records, memories and tables together, standard
//! input. Each test here failed before its bound existed (a hang, a
//! fault that never came, unbounded output or memory).

use std::process::Stdio;

use crate::common::{asm, component_from_wit_with, contract_text, temp_file, wemu, wemu_cmd};

/// The faulty device on PLIC source 5 runs `command`, with `extra`
/// appended to its `--device` option, e.g. ",max-timers=500".
fn faulty(command: i32, extra: &str) -> crate::common::Outcome {
    crate::faults::run_command_with(command, &format!(",irq=5{extra}"))
}

fn assert_stops(out: &crate::common::Outcome, needles: &[&str]) {
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "host panic: {}", out.stderr);
    for n in ["device fault: device 'faulty' (faulty)"].iter().chain(needles) {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }
}

#[test]
fn a_timer_rearmed_at_the_current_time_is_a_hang_fault() {
    // Before: `Machine::run` fired the timer forever at one instant (the
    // 60 s limit of `wemu` ended the test).
    let out = faulty(14, "");
    assert_stops(&out, &["hung the machine", "during timer-fired(3)", "without time moving on"]);
}

#[test]
fn a_hung_device_is_handled_by_its_policy() {
    let out = faulty(14, ",on-fault=isolate");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("device 'faulty' isolated"), "{}", out.stderr);
    assert!(out.stderr.contains("hung the machine"), "{}", out.stderr);
}

#[test]
fn a_device_cannot_arm_more_timers_than_its_limit() {
    // 750 timers fit the default limit (1024)…
    let out = faulty(15, "");
    assert_eq!(out.code, Some(0), "{out:?}");
    // …not a limit of 500: the 501st is a contract fault.
    let out = faulty(15, ",max-timers=500");
    assert_stops(
        &out,
        &["broke the device contract: armed timer 600 with 500 timers armed already", "max-timers"],
    );
}

#[test]
fn rearming_one_timer_many_times_in_a_call_is_fine() {
    // A million requests for one timer are one request for the host.
    let out = faulty(16, ",max-timers=1");
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn irq_changes_queued_in_one_call_are_capped() {
    // Command 11 toggles its line 100,000 times in one call.
    let out = faulty(11, ",max-irq-changes=1000");
    assert_stops(&out, &["queued more than 1000 IRQ line changes in one call (max-irq-changes)"]);
    assert_eq!(faulty(11, "").code, Some(0), "within the default");
}

#[test]
fn a_log_flood_is_cut_at_the_limit() {
    // Command 17 logs 5,000 warnings in one call.
    let out = faulty(17, ",log-limit=300");
    assert_eq!(out.code, Some(0), "{out:?}");
    let printed = out.stderr.lines().filter(|l| l.contains("flood record")).count();
    assert_eq!(printed, 300, "{}", out.stderr);
    assert!(out.stderr.contains("further records are dropped"), "{}", out.stderr);
    let out = faulty(17, "");
    let printed = out.stderr.lines().filter(|l| l.contains("flood record")).count();
    assert_eq!(printed, 1000, "the default limit");
}

/// `module` with `count` more memories of `pages` 64 KiB pages each.
fn with_extra_memories(module: &[u8], count: u32, pages: u64) -> Vec<u8> {
    let mut out = wasm_encoder::Module::new();
    let mut had_memory = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.expect("the dummy module parses");
        if let wasmparser::Payload::MemorySection(reader) = &payload {
            had_memory = true;
            let mut section = wasm_encoder::MemorySection::new();
            for m in reader.clone() {
                let m = m.expect("memory type");
                section.memory(wasm_encoder::MemoryType {
                    minimum: m.initial,
                    maximum: m.maximum,
                    memory64: m.memory64,
                    shared: m.shared,
                    page_size_log2: None,
                });
            }
            for _ in 0..count {
                let ty = wasm_encoder::MemoryType {
                    minimum: pages,
                    maximum: None,
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                };
                section.memory(ty);
            }
            out.section(&section);
        } else if let Some((id, range)) = payload.as_section() {
            out.section(&wasm_encoder::RawSection { id, data: &module[range] });
        }
    }
    assert!(had_memory, "the dummy module has a memory section");
    out.finish()
}

/// A device component whose core module holds `count` extra memories of
/// `pages` pages each (its functions trap: only instantiation matters).
fn memory_hog(count: u32, pages: u64) -> Vec<u8> {
    component_from_wit_with(&contract_text(), "device-model", |m| with_extra_memories(&m, count, pages))
}

#[test]
fn the_memory_limit_holds_for_all_memories_together() {
    // Six memories of 62.5 MiB: each under the 64 MiB limit, 375 MiB in all.
    let (dir, file) = temp_file("hog.wasm", &memory_hog(6, 1000));
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, [0u8; 512]).expect("disk image");
    let device =
        format!("hog,addr=0x10020000,timers=on,dma=ram,chardev=null,power=on,block={}", disk.display());
    let out = wemu(&["validate", file.to_str().expect("utf-8")]);
    assert_ne!(out.code, Some(0), "{out:?}");
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(report.contains("tried to grow its memory past the limit of 67108864 bytes"), "{report}");
    assert!(report.contains("its memories and tables together"), "{report}");
    let out = wemu(&[
        "run",
        "--device-path",
        dir.path().to_str().expect("utf-8"),
        "--device",
        &device,
        "--kernel",
        crate::common::guest("hello").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("device 'hog' (hog)"), "{}", out.stderr);
    assert!(
        out.stderr.contains("tried to grow its memory past the limit of 67108864 bytes (to 131072056 bytes"),
        "{}",
        out.stderr
    );
    // With a limit that fits the sum, instantiation gets past the memories
    // (to the dummy `create`, which traps).
    let out = wemu(&["validate", "--memory-limit", "400M", file.to_str().expect("utf-8")]);
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(!report.contains("past the limit"), "{report}");
    assert!(report.contains("trap"), "the dummy `create` ran: {report}");
    drop(dir);
}

#[test]
fn validate_reports_memories_and_tables_together() {
    let out = wemu(&["validate", "ns16550a"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("memories and tables together"), "{}", out.stdout);
}

/// `wfi; j .-4` as a raw program.
fn wfi_program() -> Vec<u8> {
    [0x1050_0073u32, 0xffdf_f06f].iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// `j .` as a raw program.
fn spin_program() -> Vec<u8> {
    asm::SPIN.to_le_bytes().to_vec()
}

#[test]
fn refused_input_does_not_keep_an_idle_machine_alive() {
    // The UART takes one byte (no FIFO); the second waits forever, and
    // so did wemu, although nothing can ever take it.
    let (dir, prog) = temp_file("wfi.bin", &wfi_program());
    let input = dir.path().join("input");
    for (bytes, refused) in
        [(&b"a"[..], ""), (b"ab", " (1 input byte(s) wait that the device does not take)")]
    {
        std::fs::write(&input, bytes).expect("write input");
        let out =
            run_with_stdin(&["run", "--bios", "none", "--kernel", prog.to_str().expect("utf-8")], &input);
        assert_eq!(out.0, Some(126), "{bytes:?}: {}", out.1);
        assert!(out.1.contains(&format!("no timer is armed and no input can arrive{refused}")), "{}", out.1);
    }
}

/// Run wemu with stdin from `input`; (exit status, stderr). Killed after
/// 60 s so a hang fails the test.
fn run_with_stdin(args: &[&str], input: &std::path::Path) -> (Option<i32>, String) {
    let mut child = wemu_cmd(args)
        .stdin(std::fs::File::open(input).expect("open input"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wemu");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wemu {args:?} did not finish in 60 s: {}", reader.join().unwrap_or_default());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap_or_default())
}

fn peak_mib(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("wemu: stats: peak host memory (resident) "))
        .and_then(|l| l.strip_suffix(" MiB"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory line in: {stderr}"))
}

#[test]
fn endless_standard_input_is_read_only_as_fast_as_the_device_takes_it() {
    // `cat /dev/zero | wemu run …` with a guest that never reads its UART:
    // before, the stdin reader buffered everything (gigabytes in seconds).
    let (_dir, prog) = temp_file("spin.bin", &spin_program());
    let args = [
        "run",
        "--bios",
        "none",
        "--stats",
        "--max-insns",
        "30000000",
        "--kernel",
        prog.to_str().expect("utf-8"),
    ];
    let (quiet_code, quiet) = run_with_stdin(&args, std::path::Path::new("/dev/null"));
    assert_eq!(quiet_code, Some(0), "{quiet}");
    let (code, flooded) = run_with_stdin(&args, std::path::Path::new("/dev/zero"));
    assert_eq!(code, Some(0), "{flooded}");
    let (base, peak) = (peak_mib(&quiet), peak_mib(&flooded));
    assert!(peak < base + 64, "peak {peak} MiB with endless input, {base} MiB without");
}
