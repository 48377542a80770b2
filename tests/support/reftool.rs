//! One rule for every test that needs a reference tool it cannot install
//! itself (QEMU, Node.js): under CI (`CI=true` in the environment) a
//! missing tool fails the test; elsewhere the test prints
//! `SKIPPED: <test>: <why>` on the terminal (past the harness's output
//! capture), appends `<test>\t<why>` to the file `WEMU_TEST_SKIP_LOG`
//! names (`just test` sets it and counts the lines in its summary), and
//! returns early.
//!
//! Shared, by `#[path]`, by the integration tests (`tests/integration`)
//! and the hart's differential tests (`host/cpu/tests`); std only.
//!
//! ```ignore
//! if !reftool::have(&reftool::QEMU_SYSTEM) {
//!     return;
//! }
//! ```

#![allow(dead_code)] // each test crate uses its own part

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A program a test compares against or builds with.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Its name in messages.
    pub name: &'static str,
    /// The program run (`PROGRAM --version`) to see whether it is there.
    pub program: &'static str,
    /// An environment variable that names another binary, if any.
    pub env: Option<&'static str>,
    /// How to install it.
    pub install: &'static str,
}

/// The reference for the whole-machine comparisons (parity.rs, arch.rs).
pub const QEMU_SYSTEM: Tool = Tool {
    name: "qemu-system-riscv64",
    program: "qemu-system-riscv64",
    env: Some("QEMU_SYSTEM_RISCV64"),
    install: "`just setup-qemu-system` (Debian package qemu-system-misc)",
};

/// The reference for the hart's differential tests.
pub const QEMU_USER: Tool = Tool {
    name: "qemu-riscv64",
    program: "qemu-riscv64",
    env: Some("QEMU_RISCV64"),
    install: "`just setup-qemu-user` (Debian package qemu-user)",
};

/// What builds and tests the JavaScript devices.
pub const NODE: Tool = Tool {
    name: "Node.js",
    program: "node",
    env: None,
    install: "`just setup-js` (Node.js 20 or newer, with npm)",
};

/// npm, which installs componentize-js for the JavaScript devices.
pub const NPM: Tool = Tool { name: "npm", program: "npm", env: None, install: NODE.install };

/// The environment variable naming the file skipped tests are listed in.
pub const SKIP_LOG_VAR: &str = "WEMU_TEST_SKIP_LOG";

impl Tool {
    /// The binary to run: `$ENV` when set, else `program`.
    pub fn binary(&self) -> String {
        self.env.and_then(|v| std::env::var(v).ok()).unwrap_or_else(|| self.program.to_owned())
    }

    /// Ok if `BINARY --version` runs and succeeds; else why not.
    pub fn probe(&self) -> Result<(), String> {
        let bin = self.binary();
        let out = Command::new(&bin).arg("--version").stdin(Stdio::null()).output();
        let why = match out {
            Ok(o) if o.status.success() => return Ok(()),
            Ok(o) => format!("`{bin} --version` exited with {}", o.status),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!("{bin} is not installed"),
            Err(e) => format!("cannot run {bin}: {e}"),
        };
        let also = self.env.map(|v| format!(", or set {v} to its path")).unwrap_or_default();
        Err(format!("{} is missing ({why}); install it with {}{also}", self.name, self.install))
    }
}

/// How a test that cannot run ends.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Fail instead of skipping.
    pub ci: bool,
    /// Where skipped tests are listed, one line each.
    pub log: Option<PathBuf>,
    /// Print `SKIPPED: ...` on stderr (not in the rule's own tests).
    pub say: bool,
}

impl Policy {
    /// `CI=true` (or `1`) fails; `WEMU_TEST_SKIP_LOG` is the list.
    pub fn from_env() -> Policy {
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let log = std::env::var_os(SKIP_LOG_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
        Policy { ci, log, say: true }
    }
}

/// The running test's name (the harness names its thread after it).
pub fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "(a test)".to_owned(),
    }
}

/// Can the running test use `tool`? If not: fails under CI, else reports
/// the test skipped and returns false (the test then returns).
pub fn have(tool: &Tool) -> bool {
    have_under(tool, &Policy::from_env(), &current_test())
}

/// `have` with an explicit policy and test name.
pub fn have_under(tool: &Tool, policy: &Policy, test: &str) -> bool {
    match tool.probe() {
        Ok(()) => true,
        Err(why) => {
            cannot_run(policy, test, &why);
            false
        }
    }
}

/// The test cannot run, for `why`: panics under CI; else prints
/// `SKIPPED: <test>: <why>` and adds the test to the skip list.
pub fn cannot_run(policy: &Policy, test: &str, why: &str) {
    if policy.ci {
        panic!("{test}: {why} (CI=true: a test that cannot run is a failure)");
    }
    let why = why.replace(['\n', '\t'], " ");
    // Straight to the process's stderr: the harness captures `eprintln!`
    // of passing tests.
    if policy.say {
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    }
    if let Some(log) = &policy.log {
        // One short append per line: concurrent tests do not interleave.
        let line = format!("{test}\t{why}\n");
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = appended {
            panic!("{test}: cannot add to the skip list {}: {e}", log.display());
        }
    }
}
