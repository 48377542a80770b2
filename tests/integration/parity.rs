//! The same guest on wemu and on the reference emulator,
//! `qemu-system-riscv64 -M virt -bios none` (Debian's qemu-system-misc;
//! `just setup` installs it): the console output and the exit status must
//! be identical.

use std::process::Command;
use std::time::Duration;

use crate::common::{guest, wemu};

fn qemu(kernel: &str, smp: u32) -> (Option<i32>, String) {
    let bin = std::env::var("QEMU_SYSTEM_RISCV64").unwrap_or_else(|_| "qemu-system-riscv64".into());
    let mut child = Command::new(&bin)
        .args(["-M", "virt", "-bios", "none", "-nographic", "-monitor", "none", "-serial", "stdio"])
        .args(["-smp", &smp.to_string(), "-kernel", kernel])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin} ({e}): install QEMU with `just setup` (Debian package qemu-system-misc)")
        });
    // Drain stdout while it runs: the output is larger than a pipe.
    let mut stdout = child.stdout.take().expect("qemu stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().expect("wait qemu") {
            let out = reader.join().unwrap_or_default();
            return (status.code(), out.replace('\r', ""));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("qemu did not finish {kernel} in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `name` on both; panics on any difference, returns wemu's exit
/// status and output.
fn same_on_both(name: &str, smp: u32) -> (Option<i32>, String) {
    let kernel = guest(name);
    let kernel = kernel.to_str().expect("utf-8 path");
    let (qcode, qout) = qemu(kernel, smp);
    let ours = wemu(&["run", "--smp", &smp.to_string(), "--kernel", kernel]);
    assert!(!qout.is_empty(), "qemu printed nothing for {name}");
    if ours.stdout != qout {
        let (i, (q, w)) = qout
            .lines()
            .zip(ours.stdout.lines())
            .enumerate()
            .find(|(_, (q, w))| q != w)
            .unwrap_or((0, ("(length differs)", "")));
        panic!("{name}: first difference at line {}:\n  qemu: {q}\n  wemu: {w}", i + 1);
    }
    assert_eq!(ours.code, qcode, "{name}: exit status");
    (ours.code, ours.stdout)
}

#[test]
fn floating_point_corner_cases_match_qemu_bit_for_bit() {
    // ~2,100 lines: every rounding mode over signed zeros, infinities,
    // quiet/signaling NaNs, subnormals and boundaries, with fflags.
    same_on_both("fp", 1);
}

#[test]
fn privilege_round_trip_matches_qemu() {
    same_on_both("priv", 1);
}

#[test]
fn pmp_checks_pass_identically_on_qemu() {
    // About 85 checks from M, S and U: NAPOT/NA4/TOR edges, partial matches,
    // priority, AMOs, fetches, MPRV, PTE reads under Sv39, locking.
    let (code, out) = same_on_both("pmp", 1);
    assert!(out.ends_with("pmp: all checks passed\n"), "{out}");
    assert_eq!(code, Some(0));
}

#[test]
fn smp_atomics_match_qemu() {
    same_on_both("smp", 4);
}

#[test]
fn exit_status_matches_qemu() {
    same_on_both("exitcode", 1);
}
