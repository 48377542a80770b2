//! A device that misbehaves while the machine runs: the machine stops with
//! a report naming the device, the operation and the guest pc, and exits
//! with status 125. The host never panics.

use crate::common::{asm, guest, temp_file, test_device_dir, wemu};

/// Run a raw program that writes `command` to the faulty device's command
/// register, with the device at 0x1002_0000 and its line on PLIC source 5.
fn run_command(command: i32) -> crate::common::Outcome {
    run_command_wired(command, ",irq=5")
}

/// `run_command` with `irq` (e.g. ",irq=5", or "" to leave the line unwired).
fn run_command_wired(command: i32, irq: &str) -> crate::common::Outcome {
    run_command_with(command, &format!("{irq},memory-limit=64M,fuel=5000000"))
}

/// Run a raw program that writes `command` to the faulty device (at
/// 0x1002_0000, granted timers, 4 KiB of DMA and a disk) with `options`
/// appended to its `--device` option (later keys win).
pub fn run_command_with(command: i32, options: &str) -> crate::common::Outcome {
    let (_dir, prog) = temp_file("poke.bin", &asm::poke_then_pass(0x10020, command));
    let (_img_dir, img) = temp_file("disk.img", &[0u8; 512]);
    let dev_dir = test_device_dir();
    let device =
        format!("faulty,addr=0x10020000,dma=0x80000000+4K,timers=on,block={}{options}", img.display());
    wemu(&[
        "run",
        "--device-path",
        dev_dir.to_str().expect("utf-8"),
        "--device",
        &device,
        "--kernel",
        prog.to_str().expect("utf-8"),
    ])
}

fn assert_fault(out: &crate::common::Outcome, needles: &[&str]) {
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(!out.stderr.contains("thread 'main' panicked"), "host panic: {}", out.stderr);
    let common = [
        "device fault: device 'faulty' (faulty)",
        "during write(region 0, offset 0x0, size 8",
        "(guest pc 0x80000008)",
    ];
    for n in common.iter().chain(needles) {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }
}

#[test]
fn a_well_behaved_command_runs_to_completion() {
    let out = run_command(6); // raise its (unconnected) IRQ line 0
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn a_storm_is_reported_only_on_a_wired_line() {
    let wired = run_command(11);
    assert_eq!(wired.code, Some(0), "{wired:?}");
    assert_eq!(
        warnings_with(&wired.stderr, "IRQ storm: device 'faulty' (faulty) line 0"),
        1,
        "{}",
        wired.stderr
    );
    // Unwired, the changes go nowhere: nothing to throttle or report.
    let unwired = run_command_wired(11, "");
    assert_eq!(unwired.code, Some(0), "{unwired:?}");
    assert!(!unwired.stderr.contains("IRQ storm"), "{}", unwired.stderr);
}

#[test]
fn a_trap_stops_the_machine_with_the_panic_message() {
    let out = run_command(1);
    assert_fault(&out, &["trapped", "command 1: deliberate panic"]);
}

#[test]
fn an_endless_loop_exhausts_the_fuel_budget() {
    let out = run_command(2);
    assert_fault(&out, &["exceeded its budget of 5000000 fuel units"]);
}

#[test]
fn growing_past_the_memory_limit_is_a_fault() {
    let out = run_command(3);
    assert_fault(&out, &["memory past the limit of 67108864 bytes"]);
}

#[test]
fn an_irq_line_it_does_not_have_breaks_the_contract() {
    let out = run_command(4);
    assert_fault(&out, &["broke the device contract", "irq.set on line 7", "declared 1 output line"]);
}

// --- Fault policies in a running machine (the `faults` and `irq-storm`
// guests, tests/guests/faults) ---------------------------------------------

/// A disk image for the faulty device's `block` grant (it imports the
/// capability; the guests never use it).
fn disk() -> (tempfile::TempDir, String) {
    let (dir, img) = temp_file("disk.img", &[0u8; 512]);
    let path = img.to_str().expect("utf-8").to_owned();
    (dir, path)
}

/// Run guest `name` on virt with the faulty device as the `faults` guests
/// expect it, plus `device_extra` (e.g. ",on-fault=isolate"), and `args`.
fn run_guest(name: &str, device_extra: &str, args: &[&str]) -> crate::common::Outcome {
    let dev_dir = test_device_dir();
    let kernel = guest(name);
    let (_disk_dir, img) = disk();
    let device = format!("faulty,addr=0x10020000,irq=12,timers=on,dma=ram,block-ro={img}{device_extra}");
    let mut all = vec![
        "run",
        "--device-path",
        dev_dir.to_str().expect("utf-8"),
        "--device",
        &device,
        "--kernel",
        kernel.to_str().expect("utf-8"),
    ];
    all.extend_from_slice(args);
    wemu(&all)
}

const BEFORE_FAULT: &str = "faults guest ready\nscratch = 0x1111\nirq pending = 1\n";
const ONES: &str = "0xffffffffffffffff";

/// What the `faults` guest prints when the device is isolated at the first fault.
fn isolated_output() -> String {
    let mut s = BEFORE_FAULT.to_owned();
    s += &format!(
        "after fault: scratch = {ONES}\nafter fault: scratch as u32 = 0xffffffff\n\
         after fault: result as u8 = 0xff\nafter write: scratch = {ONES}\n\
         claimed source 12; pending after complete = 0\nafter 100 us: pending = 0\n"
    );
    for i in 1..=4 {
        s += &format!("fault {i}: scratch = {ONES}\n");
    }
    s + "faults guest done\n"
}

/// What it prints when each fault resets the device, until the limit.
fn reset_output() -> String {
    BEFORE_FAULT.to_owned()
        + "after fault: scratch = 0x5eed\nafter fault: scratch as u32 = 0x5eed\n\
           after fault: result as u8 = 0x0\nafter write: scratch = 0x2222\n\
           claimed source 12; pending after complete = 0\nafter 100 us: pending = 0\n\
           fault 1: scratch = 0x5eed\nfault 2: scratch = 0x5eed\n"
        + &format!("fault 3: scratch = {ONES}\nfault 4: scratch = {ONES}\nfaults guest done\n")
}

/// The guest pc of the first fault report in `stderr`.
fn fault_pc(stderr: &str) -> String {
    let at = stderr.find("(guest pc 0x").unwrap_or_else(|| panic!("no guest pc in:\n{stderr}"));
    let rest = &stderr[at + "(guest pc ".len()..];
    rest[..rest.find(')').expect("closing parenthesis")].to_owned()
}

fn assert_no_host_panic(out: &crate::common::Outcome) {
    assert!(!out.stderr.contains("thread 'main' panicked"), "host panic: {}", out.stderr);
}

/// Lines of stderr that are `wemu::fault` warnings containing `needle`.
fn warnings_with(stderr: &str, needle: &str) -> usize {
    stderr.lines().filter(|l| l.contains("WARN") && l.contains(needle)).count()
}

#[test]
fn the_stop_policy_ends_the_run_at_the_first_fault_with_a_report() {
    let out = run_guest("faults", "", &[]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert_no_host_panic(&out);
    assert_eq!(out.stdout, BEFORE_FAULT);
    for n in [
        "wemu: device fault: device 'faulty' (faulty) trapped",
        "command 1: deliberate panic",
        "wasm backtrace: <wemu_test_faulty::Faulty as wemu_device_sdk::device::Device>::write",
        "during write(region 0, offset 0x0, size 8, value 0x1) (guest pc 0x8",
    ] {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }
}

#[test]
fn isolate_fences_the_device_and_the_guest_goes_on() {
    let out = run_guest("faults", "", &["--on-device-fault", "isolate"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_no_host_panic(&out);
    assert_eq!(out.stdout, isolated_output());
    // One warning, naming device, operation and guest pc, when it happens;
    // the same report in the summary at exit. Later accesses never fault.
    let isolated = "device 'faulty' isolated (on-fault = \"isolate\": its reads return all-ones";
    assert_eq!(warnings_with(&out.stderr, isolated), 1, "{}", out.stderr);
    // The device panicked once: the guest's four later panic commands were dropped.
    assert_eq!(out.stderr.matches("ERROR panic: panicked at").count(), 1, "{}", out.stderr);
    for n in [
        "after a fault: device 'faulty' (faulty) trapped",
        "during write(region 0, offset 0x0, size 8, value 0x1) (guest pc 0x8",
        &format!("wemu: 1 device incident(s) during the run:\n  - {isolated}"),
    ] {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}: {}", out.stderr);
    }
    // The pc is the faulting store's, as the stop policy reports it.
    let stopped = run_guest("faults", "", &[]);
    assert_eq!(fault_pc(&out.stderr), fault_pc(&stopped.stderr));
}

#[test]
fn reset_gives_the_guest_a_power_on_device_until_the_reset_limit() {
    let out = run_guest("faults", "", &["--on-device-fault", "reset"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_no_host_panic(&out);
    assert_eq!(out.stdout, reset_output());
    for n in ["reset 1 of at most 3 per second", "reset 2 of", "reset 3 of"] {
        assert_eq!(warnings_with(&out.stderr, n), 1, "{n}: {}", out.stderr);
    }
    let limit = "device 'faulty' isolated instead of reset: it was reset 3 times within a second";
    assert_eq!(warnings_with(&out.stderr, limit), 1, "{}", out.stderr);
    assert!(out.stderr.contains("wemu: 4 device incident(s) during the run:"), "{}", out.stderr);
}

#[test]
fn a_device_on_fault_overrides_the_command_line_policy() {
    // --device on-fault beats --on-device-fault.
    let out = run_guest("faults", ",on-fault=isolate", &["--on-device-fault", "reset"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), isolated_output().as_str()), "{}", out.stderr);

    // So does the machine file's `on-fault`; and --device id=… changes it again.
    let dev_dir = test_device_dir();
    let (_disk_dir, img) = disk();
    let board = format!(
        "extends = \"virt\"\n\n[[device]]\nname = \"bad\"\ncomponent = \"faulty\"\n\
         regions = [0x10020000]\nirqs = [12]\ntimers = true\ndma = [{{ memory = \"ram\" }}]\n\
         block = {{ file = {img:?}, readonly = true }}\non-fault = \"reset\"\n"
    );
    let (_dir, file) = temp_file("board.toml", board.as_bytes());
    let kernel = guest("faults");
    let base = [
        "run",
        "--device-path",
        dev_dir.to_str().expect("utf-8"),
        "-M",
        file.to_str().expect("utf-8"),
        "--kernel",
        kernel.to_str().expect("utf-8"),
    ];
    let out = wemu(&[&base[..], &["--on-device-fault", "isolate"]].concat());
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, reset_output().replace("'faulty'", "'bad'"));
    assert!(out.stderr.contains("device 'bad' reset"), "{}", out.stderr);
    let out = wemu(
        &[&base[..], &["--on-device-fault", "isolate", "--device", "faulty,id=bad,on-fault=stop"]].concat(),
    );
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.stderr.contains("wemu: device fault: device 'bad' (faulty) trapped"), "{}", out.stderr);
}

#[test]
fn an_unknown_fault_policy_is_a_setup_error() {
    let out = run_guest("faults", ",on-fault=restart", &[]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("on-fault 'restart': expected one of stop, isolate, reset"),
        "{}",
        out.stderr
    );
    let out = run_guest("faults", "", &["--on-device-fault", "ignore"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("expected one of stop, isolate, reset"), "{}", out.stderr);
}

#[test]
fn an_irq_storm_is_throttled_and_reported_once_while_the_guest_finishes() {
    let out = run_guest("irq-storm", "", &["--stats"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_no_host_panic(&out);
    assert_eq!(
        out.stdout,
        "irq-storm guest ready\nround 1: pending = 1\nclaimed source 12; pending after complete = 0\n\
         round 2: pending = 0\nsingle raise: pending = 1\nirq-storm guest done\n"
    );
    let report = "IRQ storm: device 'faulty' (faulty) line 0 changed level more than 10000 times within 1 ms";
    assert_eq!(warnings_with(&out.stderr, report), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("wemu: 1 device incident(s) during the run:\n  - {report}")),
        "{}",
        out.stderr
    );
    // Both rounds were counted: 100,000 changes each, one window.
    assert!(
        out.stderr.contains("busiest IRQ line: 'faulty' line 0, 200001 level changes within 1 ms"),
        "{}",
        out.stderr
    );
}

/// Raw program for a fault further down an interrupt chain: set the
/// scratch register of the device at 0x1002_0000 to 3, send it command 13
/// (scratch = scratch * 2 + 1, raise its line, which another device's
/// input takes and panics on) from pc 0x8000_0010, then exit with the
/// scratch register as status: 7 if the command ran once, 15 if the
/// interrupted store reached the device twice.
fn cascade_program() -> Vec<u8> {
    use asm::*;
    let words = [
        lui(T0, 0x10020),
        addi(T1, 0, 3),
        sd(T1, T0, 16),
        addi(T1, 0, 13),
        sd(T1, T0, 0),
        ld(T2, T0, 16),
        slli(T2, T2, 16),
        lui(T1, 0x3),
        addi(T1, T1, 0x333),
        or(T2, T2, T1),
        lui(T0, 0x100),
        sw(T2, T0, 0),
        SPIN,
    ];
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn a_fault_down_an_interrupt_chain_follows_the_faulting_devices_policy() {
    let (_dir, prog) = temp_file("cascade.bin", &cascade_program());
    let (_disk_dir, img) = disk();
    let dev_dir = test_device_dir();
    let grants = format!("timers=on,dma=ram,block-ro={img}");
    let source = format!("faulty,id=src,addr=0x10020000,irq=victim.0,{grants}");
    let run = |policy: &str| {
        let victim = format!("faulty,id=victim,addr=0x10030000,panic-on-irq-input=true,{grants}{policy}");
        let args = [
            "run",
            "--device-path",
            dev_dir.to_str().expect("utf-8"),
            "--device",
            &victim,
            "--device",
            &source,
            "--kernel",
            prog.to_str().expect("utf-8"),
        ];
        wemu(&args)
    };
    let op = "during irq-input(line 0, level true) (guest pc 0x80000010)";

    let out = run("");
    assert_eq!(out.code, Some(125), "{out:?}");
    for n in [
        "wemu: device fault: device 'victim' (faulty) trapped",
        "irq input 0 went to true: deliberate panic",
        op,
    ] {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}:\n{}", out.stderr);
    }

    // The store completes once: the source device is not called again when
    // the instruction it interrupted runs on.
    for (policy, action) in
        [(",on-fault=isolate", "device 'victim' isolated"), (",on-fault=reset", "device 'victim' reset")]
    {
        let out = run(policy);
        assert_eq!(out.code, Some(7), "{policy}: {out:?}");
        assert_no_host_panic(&out);
        assert_eq!(warnings_with(&out.stderr, action), 1, "{policy}: {}", out.stderr);
        assert!(out.stderr.contains(op), "{policy}: {}", out.stderr);
    }
}
