//! `just setup` installs packages with apt-get; another apt-get holding
//! the dpkg lock (an unattended upgrade, a parallel setup) must make it
//! wait, not fail.

use std::path::Path;
use std::process::Command;

use crate::common::root;

fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `just _apt ARGS` with a fake apt-get (and sudo) that fails its first
/// `failures` calls; the exit status and the arguments of every call.
fn apt(args: &[&str], failures: usize) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    script(
        dir.path(),
        "apt-get",
        &format!("echo \"$*\" >> '{log}'\n[ \"$(wc -l < '{log}')\" -gt {failures} ]", log = log.display()),
    );
    script(dir.path(), "sudo", "exec \"$@\"");
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("just")
        .arg("--justfile")
        .arg(root().join("justfile"))
        .arg("_apt")
        .args(args)
        .env("PATH", path)
        .env("WEMU_APT_RETRY_DELAY", "0")
        .status()
        .expect("run just (`cargo install just --locked`)");
    let calls = std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_owned).collect();
    (status.success(), calls)
}

#[test]
fn apt_get_waits_for_the_dpkg_lock_and_update_retries() {
    let (ok, calls) = apt(&["update"], 2);
    assert!(ok, "update should succeed on the third try: {calls:?}");
    assert_eq!(calls, vec!["-o DPkg::Lock::Timeout=300 update"; 3]);
    // An install that fails is a real failure: one call, no retries.
    let (ok, calls) = apt(&["install", "-y", "nothing"], 1);
    assert!(!ok);
    assert_eq!(calls, ["-o DPkg::Lock::Timeout=300 install -y nothing"]);
}

#[test]
fn every_apt_get_call_in_the_justfile_waits_for_the_lock() {
    let text = std::fs::read_to_string(root().join("justfile")).expect("justfile");
    let calls: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with("echo") && !l.contains("command -v apt-get"))
        .filter(|l| l.contains("apt-get "))
        .collect();
    assert!(!calls.is_empty(), "the justfile runs apt-get somewhere");
    for l in calls {
        assert!(l.contains("-o DPkg::Lock::Timeout=300"), "apt-get without the lock timeout: {l}");
    }
}
