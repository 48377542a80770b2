//! One printed line per check, and an exit status that says whether all
//! of them passed.
//!
//! Lines start with `ok   ` or `FAIL `, then what was checked and what was
//! seen, so two emulators agreeing on a program print identical text.
//! Two more kinds of line are skipped by harnesses comparing wemu with
//! QEMU (see `tests/integration/parity.rs`):
//! - `info: ` describes behaviour the specification leaves open (several
//!   outcomes are legal);
//! - `spec ok   ` / `spec FAIL ` is a check of something the specification
//!   requires but QEMU 7.2 gets wrong. These do not count towards the exit
//!   status (so the same program passes on QEMU); the wemu test requires
//!   that none of them fails.

use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::{finisher, println};

static TOTAL: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// Prints one check line: `ok   <what>` or `FAIL <what>`.
pub fn report(ok: bool, what: fmt::Arguments) {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    if !ok {
        FAILED.fetch_add(1, Ordering::Relaxed);
    }
    println!("{}{}", if ok { "ok   " } else { "FAIL " }, what);
}

/// Prints one spec-only check line (see the module documentation):
/// `spec ok   <what>` or `spec FAIL <what>`.
pub fn report_spec(ok: bool, what: fmt::Arguments) {
    println!("{}{}", if ok { "spec ok   " } else { "spec FAIL " }, what);
}

/// `name = got`, failing (and saying what was expected) when `got != want`.
pub fn eq(name: fmt::Arguments, got: u64, want: u64) {
    if got == want {
        report(true, format_args!("{name} = {got:#x}"));
    } else {
        report(false, format_args!("{name} = {got:#x}, expected {want:#x}"));
    }
}

/// Number of failed checks so far.
pub fn failures() -> usize {
    FAILED.load(Ordering::Relaxed)
}

/// Prints the summary and exits: status 0 only if every check passed.
pub fn finish() -> ! {
    let (total, failed) = (TOTAL.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed));
    println!("{total} checks, {failed} failed");
    finisher::exit(if failed == 0 { 0 } else { 1 })
}

/// `check!(condition, "format", args...)`: one `ok`/`FAIL` line.
#[macro_export]
macro_rules! check {
    ($ok:expr, $($arg:tt)*) => {
        $crate::check::report($ok, format_args!($($arg)*))
    };
}

/// `check_eq!(got, want, "format", args...)`: prints `name = got`.
#[macro_export]
macro_rules! check_eq {
    ($got:expr, $want:expr, $($arg:tt)*) => {
        $crate::check::eq(format_args!($($arg)*), ($got) as u64, ($want) as u64)
    };
}

/// `check_spec!(condition, "format", args...)`: a `spec ok`/`spec FAIL`
/// line (required by the spec, wrong in QEMU 7.2; not in the exit status).
#[macro_export]
macro_rules! check_spec {
    ($ok:expr, $($arg:tt)*) => {
        $crate::check::report_spec($ok, format_args!($($arg)*))
    };
}

/// `info!("format", args...)`: a line comparisons ignore (behaviour the
/// spec leaves to the implementation).
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {{
        $crate::uart::puts("info: ");
        $crate::println!($($arg)*);
    }};
}
