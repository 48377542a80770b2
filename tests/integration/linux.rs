//! Debian's OpenSBI and a Linux 6.1 kernel (built from Debian's
//! linux-source-6.1 by tests/linux/build.sh, cached outside git) boot on
//! `-M virt` to a busybox userspace that reads a file from the virtio-blk
//! disk and powers off through SBI and the finisher.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{Outcome, root, wemu_within};
use crate::reftool;

/// The directory holding Image, initramfs.cpio and disk.img, or why the
/// Linux tests cannot run here (no OpenSBI, or tests/linux/build.sh
/// lacks a tool: it exits 3 and says which on stdout). Then the test is
/// skipped, and counted, or fails under CI (`reftool`'s rule); any other
/// build failure fails it.
fn artefacts() -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        if wemu_machine::boot::find_opensbi().is_none() {
            return Err("no OpenSBI firmware (Debian package opensbi): run `just setup-linux`".to_owned());
        }
        let out = std::process::Command::new("bash")
            .arg(root().join("tests/linux/build.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run tests/linux/build.sh");
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.code() == Some(3) {
            return Err(text.trim().to_owned());
        }
        assert!(out.status.success(), "tests/linux/build.sh failed: {text}");
        Ok(PathBuf::from(text.lines().last().expect("build.sh prints the directory").trim()))
    });
    match dir {
        Ok(dir) => Some(dir.clone()),
        Err(why) => {
            reftool::cannot_run(&reftool::Policy::from_env(), &reftool::current_test(), why);
            None
        }
    }
}

/// Boot with the disk attached read-only (so tests can share it); None
/// if the test cannot run here (see [`artefacts`]).
fn boot(extra: &[&str], append: &str, input: Option<(&str, &[u8])>) -> Option<Outcome> {
    let dir = artefacts()?;
    let kernel = dir.join("Image");
    let initrd = dir.join("initramfs.cpio");
    let drive = format!("file={},readonly=on", dir.join("disk.img").display());
    let mut args = vec![
        "run",
        "-M",
        "virt",
        "--kernel",
        kernel.to_str().expect("utf-8"),
        "--initrd",
        initrd.to_str().expect("utf-8"),
        "--drive",
        &drive,
        "--append",
        append,
    ];
    args.extend_from_slice(extra);
    Some(wemu_within(&args, input, Duration::from_secs(240)))
}

fn assert_booted(r: &Outcome, harts: u32) {
    for want in [
        "OpenSBI v1.1",
        "Linux version 6.1",
        "virtio_blk virtio0: [vda]",
        "Run /init as init process",
        &format!("wemu-init: userspace is up on riscv64, {harts} hart(s)"),
        "wemu-disk: hello from the virtio-blk disk",
        "wemu-init: powering off",
        "reboot: Power down",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}`; stderr: {}\nconsole:\n{}", r.stderr, r.stdout);
    }
    assert_eq!(r.code, Some(0), "poweroff through SBI and the finisher exits 0; stderr: {}", r.stderr);
}

#[test]
fn linux_boots_reads_the_disk_and_powers_off() {
    let Some(r) = boot(&[], "console=ttyS0 wemu.poweroff", None) else { return };
    assert_booted(&r, 1);
}

#[test]
fn linux_boots_on_two_harts() {
    let Some(r) = boot(&["--smp", "2"], "console=ttyS0 wemu.poweroff", None) else { return };
    assert!(r.stdout.contains("smp: Brought up 1 node, 2 CPUs"), "{}", r.stdout);
    assert_booted(&r, 2);
}

#[test]
fn a_linux_boot_is_deterministic() {
    let Some(a) = boot(&[], "console=ttyS0 wemu.poweroff", None) else { return };
    let Some(b) = boot(&[], "console=ttyS0 wemu.poweroff", None) else { return };
    assert_booted(&a, 1);
    assert_eq!(a.stdout, b.stdout, "two boots of the same kernel must print the same console log");
}

/// The JIT (the default) and the interpreter boot to the same console
/// log, byte for byte, retiring the same number of instructions
/// (docs/jit.md). Low thresholds translate most of the kernel, so its
/// loads and stores under Sv39 go through the JIT's fast TLB.
#[test]
fn a_linux_boot_prints_the_same_under_the_jit_and_the_interpreter() {
    let jit_args =
        ["--accel", "jit", "--jit-threshold", "20", "--jit-paged-threshold", "20", "--jit-sync", "--stats"];
    let Some(jit) = boot(&jit_args, "console=ttyS0 wemu.poweroff", None) else { return };
    let Some(interp) = boot(&["--accel", "interp", "--stats"], "console=ttyS0 wemu.poweroff", None) else {
        return;
    };
    assert_booted(&jit, 1);
    assert_eq!(jit.stdout, interp.stdout, "the console logs of the two tiers differ");
    let retired = |o: &Outcome| {
        o.stderr.lines().find(|l| l.contains("instructions retired")).map(str::to_owned).unwrap_or_default()
    };
    let (j, i) = (retired(&jit), retired(&interp));
    let count = |l: &str| l.split_whitespace().nth(2).map(str::to_owned);
    assert!(count(&j).is_some() && count(&j) == count(&i), "instructions retired: jit {j:?}, interp {i:?}");
    let share = jit.stderr.lines().find_map(|l| {
        l.split("% of instructions in translated code").next()?.rsplit(' ').next()?.parse::<f64>().ok()
    });
    assert!(share.is_some_and(|s| s > 50.0), "most of the boot translated: {}", jit.stderr);
}

#[test]
fn a_person_can_type_at_the_shell() {
    let input = Some(("'exit' powers off", b"echo typed-$((6 * 7))\nexit\n".as_slice()));
    let Some(r) = boot(&[], "console=ttyS0", input) else { return };
    assert!(r.stdout.contains("typed-42"), "the shell ran what was typed:\n{}", r.stdout);
    assert!(r.stdout.contains("wemu-init: powering off"), "{}", r.stdout);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}
