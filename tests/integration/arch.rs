//! The architecture guests (tests/guests `csrs`, `exceptions`, `paging`):
//! each prints one line per check and exits 0 only if all passed.
//!
//! On wemu every check must pass, including the `spec ok`/`spec FAIL`
//! lines: requirements of the privileged spec that QEMU 7.2 does not meet
//! (they do not count towards the guest's exit status, so the same binary
//! passes on QEMU). On `qemu-system-riscv64 -M virt -bios none` the same
//! guest must print the same `ok`/`FAIL` lines and exit the same way.
//! Skipped in the comparison: `info:` lines (behaviour the spec leaves
//! open, e.g. QEMU sets PTE A/D bits in hardware where wemu page-faults as
//! Svade does, or splits misaligned device accesses where wemu traps) and `spec`
//! lines. Without QEMU the wemu half runs, then the test follows
//! `reftool`'s rule: reported skipped, or failed under CI (`CI=true`).
//!
//! wemu runs them under the JIT with every pc translated at once
//! (`parity::TRANSLATE_ALL`); jit.rs shows the
//! interpreter prints the same.

use crate::common::{guest, wemu};
use crate::parity::{TRANSLATE_ALL, qemu, qemu_missing};

/// QEMU's `rv64` CPU with the extensions wemu's hart lacks turned off, so
/// both offer the same CSRs and encodings: no hypervisor (H), no bit
/// manipulation (Zba/Zbb/Zbc/Zbs). The debug triggers (Sdtrig: tselect,
/// tdata1-3, tinfo) stay on: `csrs` compares them.
const QEMU_CPU: &str = "rv64,h=false,debug=true,zba=false,zbb=false,zbc=false,zbs=false";

/// The lines both emulators must print identically.
fn compared(out: &str) -> Vec<&str> {
    out.lines().filter(|l| !l.starts_with("info: ") && !l.starts_with("spec ")).collect()
}

fn arch_guest(name: &str) {
    let kernel = guest(name);
    let kernel = kernel.to_str().expect("utf-8 path");
    let ours = wemu(&[&["run", "--kernel", kernel][..], &TRANSLATE_ALL].concat());
    let failed: Vec<&str> =
        ours.stdout.lines().filter(|l| l.starts_with("FAIL ") || l.starts_with("spec FAIL ")).collect();
    assert!(failed.is_empty(), "{name} on wemu: failed checks:\n{}", failed.join("\n"));
    let summary = ours.stdout.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with(" checks, 0 failed"),
        "{name} on wemu ended with {summary:?}; stderr: {}",
        ours.stderr
    );
    assert_eq!(ours.code, Some(0), "{name} on wemu: exit status; stderr: {}", ours.stderr);

    if qemu_missing() {
        return;
    }
    let (qcode, qout) = qemu(kernel, 1, &["-cpu", QEMU_CPU]);
    let (q, w) = (compared(&qout), compared(&ours.stdout));
    if q != w {
        let (i, (ql, wl)) = q
            .iter()
            .zip(w.iter())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((q.len().min(w.len()), (&"(no more lines)", &"(no more lines)")));
        panic!(
            "{name}: wemu and QEMU differ at compared line {} ({} vs {} lines):\n  qemu: {ql}\n  wemu: {wl}",
            i + 1,
            q.len(),
            w.len()
        );
    }
    assert_eq!(ours.code, qcode, "{name}: exit status differs from QEMU's");
}

#[test]
fn every_csr_matches_qemu_and_the_spec() {
    arch_guest("csrs");
}

#[test]
fn every_exception_and_interrupt_matches_qemu_and_the_spec() {
    arch_guest("exceptions");
}

#[test]
fn sv39_and_sv48_paging_match_qemu_and_the_spec() {
    arch_guest("paging");
}

/// The line the `exceptions` guest prints about a misaligned `lh`: done
/// in hardware, or trapped (and how).
fn misaligned_lh(args: &[&str]) -> String {
    let kernel = guest("exceptions");
    let kernel = kernel.to_str().expect("utf-8 path");
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend(["--kernel", kernel]);
    let out = wemu(&all);
    assert_eq!(out.code, Some(0), "{args:?}: every check passes either way; stdout:\n{}", out.stdout);
    let line = out.stdout.lines().find(|l| l.starts_with("info: lh a0, 1(a0) at DATA+1: "));
    line.unwrap_or_else(|| panic!("{args:?}: no line about lh; stdout:\n{}", out.stdout)).to_owned()
}

/// Misaligned loads and stores complete by default; `--cpu
/// misaligned=trap` or `[cpu] misaligned = "trap"` brings back the trap
/// (cause 4, tval = the address, before translation).
#[test]
fn misaligned_accesses_complete_or_trap_as_the_cpu_is_set() {
    assert!(misaligned_lh(&[]).ends_with("done in hardware"));
    let trapped = "M takes cause 4 epc=code+0x0";
    let line = misaligned_lh(&["--cpu", "misaligned=trap"]);
    assert!(line.contains(trapped), "{line}");
    let dir = tempfile::tempdir().expect("temp dir");
    let board = dir.path().join("trapping.toml");
    std::fs::write(&board, "extends = \"virt\"\n[cpu]\nmisaligned = \"trap\"\n").expect("write board");
    let line = misaligned_lh(&["-M", board.to_str().expect("utf-8 path")]);
    assert!(line.contains(trapped), "{line}");
    let line = misaligned_lh(&["-M", board.to_str().expect("utf-8 path"), "--cpu", "misaligned=emulate"]);
    assert!(line.ends_with("done in hardware"), "the option wins over the file: {line}");
}
