//! CoreMark (tests/guests/coremark: EEMBC's sources, our port, 20
//! iterations) on wemu's interpreter, on its JIT (every pc translated, and
//! at the default threshold) and on QEMU: CoreMark validates its list,
//! matrix and state CRCs against the values it knows for the standard
//! seeds and exits 0 only then; all runs print the same, byte for byte
//! (the port prints nothing that depends on time).

use crate::common::{Outcome, guest};
use crate::jit::{run, same_on_both_tiers};
use crate::parity::{qemu, qemu_missing};
use crate::reftool;

/// The lines CoreMark's results are checked by.
const CRC_LINES: [&str; 5] = ["seedcrc ", "[0]crclist ", "[0]crcmatrix ", "[0]crcstate ", "[0]crcfinal "];

/// Was the guest built with CoreMark in it? Not when `WEMU_SKIP_C_DEVICES`
/// was set (no clang): the test is then skipped, saying why, or fails
/// under CI (`reftool`'s rule).
fn coremark_built(o: &Outcome) -> bool {
    if o.stdout.starts_with("coremark: not built") {
        reftool::cannot_run(
            &reftool::Policy::from_env(),
            &reftool::current_test(),
            "the coremark guest was built without CoreMark (WEMU_SKIP_C_DEVICES was set): install \
             clang and lld (`just setup-c`) and build again without it",
        );
        return false;
    }
    true
}

/// CoreMark ran, validated its results and exited 0.
fn validated(o: &Outcome) {
    assert_eq!(o.code, Some(0), "{o:?}");
    for line in CRC_LINES {
        assert!(o.stdout.lines().any(|l| l.starts_with(line)), "no `{line}` line in:\n{}", o.stdout);
    }
    assert!(
        o.stdout.contains("\nCorrect operation validated."),
        "CoreMark did not validate its results:\n{}",
        o.stdout
    );
    assert!(!o.stdout.contains("ERROR"), "{}", o.stdout);
}

#[test]
fn coremark_validates_alike_on_both_tiers() {
    // Interpreter, and the JIT with every pc translated (on the hart's
    // thread and on the compiler thread): same bytes, status, instret.
    let (interp, _) = same_on_both_tiers("coremark", &[]);
    if !coremark_built(&interp) {
        return;
    }
    validated(&interp);
    let default = run(&["--accel", "jit"], "coremark", &[]);
    assert_eq!(default.stdout, interp.stdout, "{}", default.stderr);
    assert_eq!(default.code, Some(0), "{default:?}");
}

#[test]
fn coremark_prints_the_same_on_qemu() {
    if qemu_missing() {
        return;
    }
    let ours =
        run(&["--accel", "jit", "--jit-threshold", "1", "--jit-paged-threshold", "1"], "coremark", &[]);
    if !coremark_built(&ours) {
        return;
    }
    validated(&ours);
    let kernel = guest("coremark");
    let (code, out) = qemu(kernel.to_str().expect("utf-8 path"), 1, &[]);
    assert_eq!(code, Some(0), "qemu: {out}");
    let crcs = |s: &str| -> Vec<String> {
        s.lines().filter(|l| CRC_LINES.iter().any(|c| l.starts_with(c))).map(str::to_owned).collect()
    };
    assert_eq!(crcs(&out), crcs(&ours.stdout), "CRC lines differ from QEMU's");
    assert_eq!(out, ours.stdout, "output differs from QEMU's");
}
