//! The rule for tests that need a reference tool (tests/support/reftool.rs)
//! and the summary line `just test` ends with (tests/test-summary.sh).

use std::process::Command;

use crate::common::root;
use crate::reftool::{self, Policy, Tool};

/// A tool no machine has.
const NO_SUCH_TOOL: Tool = Tool {
    name: "no-such-tool",
    program: "wemu-no-such-tool-3f9c1b",
    env: None,
    install: "nothing (it cannot exist)",
};

const PROBE: &str = "skips::a_test_that_needs_a_tool_that_cannot_exist";

#[test]
fn a_missing_tool_is_a_skip_outside_ci_and_a_failure_under_ci() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("skips.txt");
    let here = Policy { ci: false, log: Some(log.clone()), say: false };
    assert!(!reftool::have_under(&NO_SUCH_TOOL, &here, "t1"));
    assert!(!reftool::have_under(&NO_SUCH_TOOL, &here, "t2"));
    let listed = std::fs::read_to_string(&log).expect("the skip list");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(
            "t1\tno-such-tool is missing (wemu-no-such-tool-3f9c1b is not installed); install it"
        ),
        "{listed}"
    );

    let ci = Policy { ci: true, log: Some(log.clone()), say: false };
    let failed = std::panic::catch_unwind(|| reftool::have_under(&NO_SUCH_TOOL, &ci, "t3"));
    let message = failed.expect_err("under CI a missing tool fails the test");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("t3: no-such-tool is missing") && message.contains("CI=true"), "{message}");
    assert_eq!(std::fs::read_to_string(&log).expect("the skip list"), listed, "a failure is not a skip");

    // A tool that is there: `cargo --version` runs wherever these tests do.
    let cargo = Tool { name: "cargo", program: "cargo", env: Some("CARGO"), install: "rustup" };
    assert!(reftool::have_under(&cargo, &ci, "t4"));
}

/// Run by the test below in a child process, never on its own.
#[test]
#[ignore = "run by skips::the_rule_follows_the_ci_variable, in a child process"]
fn a_test_that_needs_a_tool_that_cannot_exist() {
    if !reftool::have(&NO_SUCH_TOOL) {
        return;
    }
    panic!("{} exists", NO_SUCH_TOOL.program);
}

/// The whole path, as `just test` runs it: the harness names the test,
/// `CI` and `WEMU_TEST_SKIP_LOG` come from the environment.
#[test]
fn the_rule_follows_the_ci_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("skips.txt");
    let run = |ci: Option<&str>| {
        let mut c = Command::new(std::env::current_exe().expect("this test binary"));
        c.args([PROBE, "--exact", "--ignored", "--test-threads=1"]).env(reftool::SKIP_LOG_VAR, &log);
        match ci {
            Some(v) => c.env("CI", v),
            None => c.env_remove("CI"),
        };
        c.output().expect("run the test binary")
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let out = run(None);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = format!("SKIPPED: {PROBE}: no-such-tool is missing");
    assert!(text(&out.stderr).contains(&said), "{}", text(&out.stderr));
    let listed = std::fs::read_to_string(&log).expect("the skip list");
    assert!(listed.starts_with(&format!("{PROBE}\tno-such-tool is missing")), "{listed}");

    let out = run(Some("true"));
    assert!(!out.status.success(), "under CI=true it must fail");
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("CI=true: a test that cannot run is a failure"), "{all}");
    assert_eq!(std::fs::read_to_string(&log).expect("the skip list"), listed);
}

#[test]
fn the_summary_counts_skipped_tests_apart_from_passed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("output.txt");
    let skips = dir.path().join("skips.txt");
    std::fs::write(
        &output,
        "running 4 tests\n\
         test result: ok. 4 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
         test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s\n\
         test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n",
    )
    .expect("write");
    let summary = |skips: &std::path::Path| {
        let out = Command::new("bash")
            .arg(root().join("tests/test-summary.sh"))
            .arg(&output)
            .arg(skips)
            .output()
            .expect("run tests/test-summary.sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        summary(&skips).ends_with("\n7 passed, 2 failed, 0 skipped\n"),
        "no skip list: {}",
        summary(&skips)
    );
    std::fs::write(&skips, "a::b\tnode is missing\na::b\tnpm is missing\nc::d\tqemu is missing\n")
        .expect("write");
    let text = summary(&skips);
    assert!(text.contains("SKIPPED: a::b: node is missing\nSKIPPED: c::d: qemu is missing\n"), "{text}");
    assert!(text.ends_with("\n5 passed, 2 failed, 2 skipped\n"), "{text}");
}

/// `just test` itself, with a stand-in for cargo: the summary comes last,
/// the skip list is the one the recipe named, and a failed test makes it
/// exit non-zero.
#[test]
fn just_test_ends_with_the_summary_and_fails_with_a_failed_test() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("cargo");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         printf 'a::b\\tqemu is missing\\n' >> \"$WEMU_TEST_SKIP_LOG\"\n\
         echo 'test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s'\n\
         echo 'test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s'\n\
         exit 101\n",
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("just")
        .arg("--justfile")
        .arg(root().join("justfile"))
        .args(["--no-deps", "test"])
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .expect("run just (`cargo install just --locked`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(101), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.ends_with("\nSKIPPED: a::b: qemu is missing\n\n3 passed, 1 failed, 1 skipped\n"),
        "{stdout}"
    );
}
