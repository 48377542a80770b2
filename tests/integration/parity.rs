//! The same guest on wemu and on the reference emulator,
//! `qemu-system-riscv64 -M virt -bios none` (Debian's qemu-system-misc;
//! `just setup` installs it): the console output and the exit status must
//! be identical. Without QEMU each test follows `reftool`'s rule: skipped,
//! saying so, or failed under CI (`CI=true`).
//!
//! wemu runs the guests under the JIT with every pc translated at once
//! ([`TRANSLATE_ALL`]); jit.rs shows the interpreter prints the same.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::{guest, wemu};
use crate::reftool::{self, QEMU_SYSTEM};

/// `wemu run` options that translate every pc at its first arrival.
pub const TRANSLATE_ALL: [&str; 5] = ["--jit-threshold", "1", "--jit-paged-threshold", "1", "--jit-sync"];

/// Is qemu-system-riscv64 missing? The caller returns: the test is
/// skipped (saying so) or, under CI, has already failed.
pub fn qemu_missing() -> bool {
    !reftool::have(&QEMU_SYSTEM)
}

/// Run `kernel` on QEMU's virt with `extra` arguments (after
/// `qemu_missing`); its exit status and console output.
pub fn qemu(kernel: &str, smp: u32, extra: &[&str]) -> (Option<i32>, String) {
    let limit = Duration::from_secs(120);
    must_run(qemu_run(kernel, smp, extra, None, limit)).unwrap_or_else(|out| {
        panic!("qemu did not finish {kernel} in {} s; output so far: {out}", limit.as_secs())
    })
}

fn must_run<T>(r: std::io::Result<T>) -> T {
    r.unwrap_or_else(|e| {
        panic!("cannot run qemu-system-riscv64 ({e}): install QEMU with `just setup` (Debian package qemu-system-misc)")
    })
}

/// Run `kernel` on QEMU's virt; once its console output contains `ready`,
/// type `input` (as `wemu_interactive` does). `Err` with the output so far
/// if QEMU has not finished after `limit` (it is killed): QEMU's clock is
/// the host's, and on a loaded machine it has hung waiting for an
/// interrupt; the caller may try again.
pub fn qemu_interactive(
    kernel: &str,
    smp: u32,
    input: Option<(&str, &[u8])>,
    limit: Duration,
) -> Result<(Option<i32>, String), String> {
    must_run(qemu_run(kernel, smp, &[], input, limit))
}

/// QEMU's exit status and console output, or (`Err`) the output so far
/// when it did not finish within `limit`.
fn qemu_run(
    kernel: &str,
    smp: u32,
    extra: &[&str],
    input: Option<(&str, &[u8])>,
    limit: Duration,
) -> std::io::Result<Result<(Option<i32>, String), String>> {
    let bin = QEMU_SYSTEM.binary();
    let mut child = Command::new(&bin)
        .args(["-M", "virt", "-bios", "none", "-nographic", "-monitor", "none", "-serial", "stdio"])
        .args(["-smp", &smp.to_string(), "-kernel", kernel])
        .args(extra)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    // Drain stdout while it runs: the output is larger than a pipe.
    let mut stdout = child.stdout.take().expect("qemu stdout");
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&out);
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&chunk[..n]);
        }
    });
    let mut stdin = child.stdin.take();
    let text = |out: &Mutex<Vec<u8>>| {
        String::from_utf8_lossy(&out.lock().unwrap_or_else(PoisonError::into_inner)).replace('\r', "")
    };
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some((ready, bytes)) = input
            && stdin.is_some()
            && text(&out).contains(ready)
            && let Some(mut s) = stdin.take()
        {
            let _ = s.write_all(bytes);
        }
        if let Some(status) = child.try_wait().expect("wait qemu") {
            let _ = reader.join();
            return Ok(Ok((status.code(), text(&out))));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            return Ok(Err(text(&out)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `name` on both; panics on any difference, returns wemu's exit
/// status and output.
/// The exit status and output, the same on both; None if QEMU is missing.
fn same_on_both(name: &str, smp: u32) -> Option<(Option<i32>, String)> {
    if qemu_missing() {
        return None;
    }
    let kernel = guest(name);
    let kernel = kernel.to_str().expect("utf-8 path");
    let (qcode, qout) = qemu(kernel, smp, &[]);
    let smp = smp.to_string();
    let ours = wemu(&[&["run", "--smp", &smp, "--kernel", kernel][..], &TRANSLATE_ALL].concat());
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
    Some((ours.code, ours.stdout))
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
    let Some((code, out)) = same_on_both("pmp", 1) else { return };
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

/// `kernel` on QEMU's virt with `img` as a virtio-blk disk (modern
/// virtio-mmio, as wemu has).
fn qemu_with_disk(kernel: &str, img: &std::path::Path) -> (Option<i32>, String) {
    let drive = format!("file={},if=none,format=raw,id=d0", img.display());
    qemu(
        kernel,
        1,
        &[
            "-global",
            "virtio-mmio.force-legacy=false",
            "-drive",
            &drive,
            "-device",
            "virtio-blk-device,drive=d0,serial=wemu-test-disk",
        ],
    )
}

/// `kernel` on wemu's test board with `img` as its virtio-blk disk.
fn wemu_with_disk(kernel: &str, img: &std::path::Path) -> crate::common::Outcome {
    let machine = crate::common::root().join("tests/machines/virt-virtio.toml");
    let dev = format!("virtio-blk,id=virtio0,block={}", img.display());
    let args = ["run", "-M", machine.to_str().expect("utf-8"), "--device", &dev, "--kernel", kernel];
    wemu(&[&args[..], &TRANSLATE_ALL].concat())
}

#[test]
fn virtio_blk_requests_match_qemu() {
    // QEMU 7.2's virt defaults to the legacy virtio-mmio interface; wemu
    // has version 2 only. QEMU plugs the disk into the last slot, wemu's
    // test board into the first; the guest looks for it. Features (QEMU
    // offers more), RTC, entropy and timing differ by design; every
    // request's result and the image afterwards must not.
    if qemu_missing() {
        return;
    }
    let kernel = guest("virtio");
    let kernel = kernel.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut img = vec![0x22u8; 64 << 10];
    img[..512].fill(0);
    img[..11].copy_from_slice(b"parity disk");
    let (qimg, wimg) = (dir.path().join("q.img"), dir.path().join("w.img"));
    std::fs::write(&qimg, &img).expect("image");
    std::fs::write(&wimg, &img).expect("image");
    let (qcode, qout) = qemu_with_disk(kernel, &qimg);
    let ours = wemu_with_disk(kernel, &wimg);
    let requests = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| {
                l.starts_with("blk: ") && !l.starts_with("blk: features") && !l.contains("virtual time")
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(requests(&ours.stdout), requests(&qout), "wemu:\n{}\nqemu:\n{qout}", ours.stdout);
    assert_eq!(requests(&qout).len(), 7, "{qout}");
    assert_eq!((ours.code, qcode), (Some(0), Some(0)));
    assert_eq!(std::fs::read(&wimg).expect("w.img"), std::fs::read(&qimg).expect("q.img"));
}

/// The JIT's cases that have one right answer (jit_cases.rs): loops
/// across a page boundary, faults in the middle of hot loops, satp
/// switches between address spaces. (`hot-timer` is not here: QEMU's
/// clock follows the host's, so its interrupts land elsewhere, or after
/// the loop without `-icount`.)
#[test]
fn jit_case_guests_match_qemu() {
    for name in ["hot-xpage", "hot-fault", "hot-satp"] {
        let Some((code, out)) = same_on_both(name, 1) else { return };
        assert!(out.ends_with(" checks, 0 failed\n"), "{name}: {out}");
        assert_eq!(code, Some(0), "{name}");
    }
}

/// `hot-atomics` on four harts: every counter the same on QEMU; how many
/// SCs failed depends on how each emulator interleaves the harts.
#[test]
fn contending_atomics_match_qemu() {
    if qemu_missing() {
        return;
    }
    let kernel = guest("hot-atomics");
    let kernel = kernel.to_str().expect("utf-8 path");
    let qemu_run = qemu(kernel, 4, &[]);
    let ours = wemu(&[&["run", "--smp", "4", "--kernel", kernel][..], &TRANSLATE_ALL].concat());
    let out = same_exit_0_and_lines_but(&ours, qemu_run, "failed SCs");
    assert!(out.ends_with(" checks, 0 failed\n"), "{out}");
}

/// wemu and QEMU both exited 0 and printed the same lines, but for those
/// containing `skip` (where they may differ by design); QEMU's output.
fn same_exit_0_and_lines_but(
    ours: &crate::common::Outcome,
    (qcode, qout): (Option<i32>, String),
    skip: &str,
) -> String {
    let kept =
        |out: &str| -> Vec<String> { out.lines().filter(|l| !l.contains(skip)).map(str::to_owned).collect() };
    assert_eq!(kept(&ours.stdout), kept(&qout), "wemu:\n{}\nqemu:\n{qout}", ours.stdout);
    assert_eq!((ours.code, qcode), (Some(0), Some(0)), "exit status");
    qout
}

/// Code read into RAM by virtio-blk DMA runs the same on QEMU, except
/// when it runs without FENCE.I after being overwritten: QEMU's TCG sees
/// the new code, wemu the instructions it had decoded (both allowed).
#[test]
fn code_loaded_by_dma_matches_qemu() {
    if qemu_missing() {
        return;
    }
    let kernel = guest("virtio-code");
    let kernel = kernel.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tempdir");
    let (qimg, wimg) = (dir.path().join("q.img"), dir.path().join("w.img"));
    std::fs::write(&qimg, vec![0u8; 64 << 10]).expect("image");
    std::fs::write(&wimg, vec![0u8; 64 << 10]).expect("image");
    let qemu_run = qemu_with_disk(kernel, &qimg);
    let ours = wemu_with_disk(kernel, &wimg);
    let out = same_exit_0_and_lines_but(&ours, qemu_run, "without fence.i");
    assert!(out.ends_with("virtio-code ok\n"), "{out}");
    assert_eq!(std::fs::read(&wimg).expect("w.img"), std::fs::read(&qimg).expect("q.img"));
}
