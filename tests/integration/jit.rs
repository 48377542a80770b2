//! The JIT against the interpreter on whole machines (docs/jit.md): the
//! test guests with every pc translated at once (`--jit-threshold 1
//! --jit-paged-threshold 1`)
//! print the same, exit the same and retire the same number of
//! instructions as under `--accel interp`. (The interpreter is compared
//! with QEMU by parity.rs and arch.rs; output equal to the interpreter's
//! is output equal to QEMU's.)

use crate::common::{Outcome, guest, wemu};

/// `wemu run ARGS --kernel GUEST` under one tier, with `--stats`.
pub fn run(accel: &[&str], guest_name: &str, args: &[&str]) -> Outcome {
    let kernel = guest(guest_name);
    let mut all = vec!["run", "--stats"];
    all.extend_from_slice(accel);
    all.extend_from_slice(args);
    all.extend(["--kernel", kernel.to_str().expect("utf-8")]);
    wemu(&all)
}

/// The `N` of "wemu: stats: N instructions retired".
fn retired(o: &Outcome) -> u64 {
    o.stderr
        .lines()
        .find_map(|l| l.strip_prefix("wemu: stats: ")?.split(" instructions retired").next()?.parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in stderr:\n{}", o.stderr))
}

/// The `N` before `what` in the JIT's stats line.
pub fn jit_stat(o: &Outcome, what: &str) -> u64 {
    let line = o
        .stderr
        .lines()
        .find(|l| l.starts_with("wemu: stats: jit:"))
        .unwrap_or_else(|| panic!("no JIT stats in stderr:\n{}", o.stderr));
    let at = line.find(what).unwrap_or_else(|| panic!("no `{what}` in {line}"));
    line[..at]
        .split([' ', '(', ';'])
        .rfind(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before `{what}` in {line}"))
}

/// Run `guest_name` under the interpreter and under the JIT with every pc
/// translated at once, compiling on the hart's thread (`--jit-sync`, so
/// something is surely translated) and on the compiler thread (the
/// default: regions arrive whenever they are ready). The `--jit-sync`
/// run lists its regions (`-d jit`, see `jit_cases::regions`).
pub fn same_on_both_tiers(guest_name: &str, args: &[&str]) -> (Outcome, Outcome) {
    let interp = run(&["--accel", "interp"], guest_name, args);
    let low = ["--accel", "jit", "--jit-threshold", "1", "--jit-paged-threshold", "1"];
    let jit = run(&[&low[..], &["--jit-sync", "-d", "jit"]].concat(), guest_name, args);
    let background = run(&low, guest_name, args);
    for (how, o) in [("--jit-sync", &jit), ("a compiler thread", &background)] {
        assert_eq!(
            o.stdout, interp.stdout,
            "{guest_name} ({how}): console output differs; stderr: {}",
            o.stderr
        );
        assert_eq!(o.code, interp.code, "{guest_name} ({how}): exit status; stderr: {}", o.stderr);
        assert_eq!(retired(o), retired(&interp), "{guest_name} ({how}): instructions retired");
    }
    assert!(jit_stat(&jit, "regions") > 0, "{guest_name}: nothing translated: {}", jit.stderr);
    (interp, jit)
}

#[test]
fn every_guest_runs_the_same_under_the_jit() {
    let cases: &[(&str, &[&str])] = &[
        ("hello", &[]),
        ("exitcode", &[]),
        ("trap", &[]),
        ("nohandler", &[]),
        ("htif", &[]),
        ("fp", &[]),
        ("priv", &[]),
        ("csrs", &[]),
        ("exceptions", &[]),
        ("paging", &[]),
        ("pmp", &[]),
        ("smp", &["--smp", "4"]),
        ("plic-clint", &["-M", "virt", "--smp", "2"]),
        ("smc", &[]),
    ];
    for (name, args) in cases {
        same_on_both_tiers(name, args);
    }
}

/// Code rewritten after it was translated: without FENCE.I both tiers run
/// the instructions decoded before (RISC-V allows the old or the new),
/// after it the new ones, and the JIT drops the stale region.
#[test]
fn self_modifying_code_runs_alike_on_both_tiers() {
    let interp = run(&["--accel", "interp"], "smc", &[]);
    let jit = run(&["--accel", "jit", "--jit-sync"], "smc", &[]);
    assert_eq!(interp.code, Some(0), "{interp:?}");
    assert_eq!(jit.stdout, interp.stdout);
    assert!(jit.stdout.contains("after fence.i: 30000"), "{}", jit.stdout);
    assert!(jit_stat(&jit, "regions") > 0, "{}", jit.stderr);
    assert!(jit_stat(&jit, "stale regions") > 0, "FENCE.I made no region stale: {}", jit.stderr);
}

/// The interpreter stays available, and says nothing about a JIT.
#[test]
fn accel_interp_runs_without_the_jit() {
    let o = run(&["--accel", "interp"], "hello", &[]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(!o.stderr.contains("stats: jit"), "{}", o.stderr);
    let bad = wemu(&["run", "--accel", "tcg", "--kernel", guest("hello").to_str().expect("utf-8")]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("jit") && bad.stderr.contains("interp"), "{}", bad.stderr);
}

/// `-d jit` names each region compiled; `-d in_asm` runs the interpreter.
#[test]
fn d_jit_lists_regions_and_in_asm_uses_the_interpreter() {
    let o = run(&["-d", "jit", "--jit-threshold", "1", "--jit-sync"], "hello", &[]);
    assert_eq!(o.code, Some(0), "{o:?}");
    let line = o.stderr.lines().find(|l| l.contains("guest instructions in [")).unwrap_or_else(|| {
        panic!("no region line in:\n{}", o.stderr);
    });
    assert!(line.contains("bytes of host code") && line.contains("compiled in"), "{line}");
    let traced = run(&["-d", "in_asm", "--jit-threshold", "1"], "hello", &[]);
    assert_eq!(traced.stdout, o.stdout);
    assert!(!traced.stderr.contains("stats: jit"), "{}", traced.stderr);
}
