//! A device that misbehaves while the machine runs: the machine stops with
//! a report naming the device, the operation and the guest pc, and exits
//! with status 125. The host never panics.

use crate::common::{asm, temp_file, test_device_dir, wemu};

/// Run a raw program that writes `command` to the faulty device's command
/// register, with the device at 0x1002_0000.
fn run_command(command: i32) -> crate::common::Outcome {
    let (_dir, prog) = temp_file("poke.bin", &asm::poke_then_pass(0x10020, command));
    let (_img_dir, img) = temp_file("disk.img", &[0u8; 512]);
    let dev_dir = test_device_dir();
    let device = format!(
        "faulty,addr=0x10020000,irq=5,dma=0x80000000+4K,timers=on,block={},memory-limit=64M,fuel=5000000",
        img.display()
    );
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
