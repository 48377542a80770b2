//! A device written in JavaScript (devices/doorbell-js, built with
//! componentize-js): loaded by name from --device-path, driven by a
//! bare-metal guest, its interrupt taken, its property and its device-tree
//! node honoured.
//!
//! Building it needs Node.js: the tests install the npm packages
//! themselves (`npm ci`, as `just setup-js` does); without node or npm they
//! follow `reftool`'s rule (skipped, saying so; failed under CI).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::common::{Outcome, guest, node_missing, npm_ci, root, target_dir, wemu, wemu_within};

const DEVICE: &str = "doorbell-js";

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Build `doorbell-js.wasm` unless it is newer than everything it is made
/// from (the build embeds a JS engine and takes ~20 s).
fn build(src: &Path, out: &Path) {
    let inputs = [
        src.join("src/doorbell.js"),
        src.join("wit/world.wit"),
        src.join("build.mjs"),
        src.join("package-lock.json"),
        root().join("wit/device.wit"),
    ];
    let fresh = mtime(out).is_some_and(|built| inputs.iter().all(|i| mtime(i).is_some_and(|t| t <= built)));
    if fresh {
        return;
    }
    npm_ci(src);
    let status = Command::new("node").arg(src.join("build.mjs")).arg(out).status().unwrap_or_else(|e| {
        panic!("cannot run node ({e}): run `just setup` (or `just setup-js`) to install Node.js")
    });
    assert!(status.success(), "building devices/doorbell-js failed ({status})");
}

/// The directory holding `doorbell-js.wasm`, and `wemu devices` on it;
/// None (the test returns, skipped) without Node.js. Listing it compiles the
/// component once into the test cache, before the tests that run it do so
/// in parallel.
pub(crate) fn device_dir() -> Option<&'static (PathBuf, Outcome)> {
    static BUILT: OnceLock<(PathBuf, Outcome)> = OnceLock::new();
    if BUILT.get().is_none() && node_missing() {
        return None;
    }
    Some(BUILT.get_or_init(|| {
        let dir = target_dir().join("js-devices");
        build(&root().join("devices/doorbell-js"), &dir.join(format!("{DEVICE}.wasm")));
        let listing = wemu(&["devices", "--device-path", dir.to_str().expect("utf-8 target dir")]);
        (dir, listing)
    }))
}

fn dir_arg() -> Option<&'static str> {
    device_dir().map(|(dir, _)| dir.to_str().expect("utf-8 target dir"))
}

#[test]
fn js_device_is_listed_with_no_capabilities() {
    let Some((_, r)) = device_dir() else { return };
    assert_eq!(r.code, Some(0), "wemu devices failed: {}", r.stderr);
    let entry = r
        .stdout
        .split("\n\n")
        .find(|e| e.starts_with(&format!("{DEVICE}  [")))
        .unwrap_or_else(|| panic!("{DEVICE} not listed:\n{}", r.stdout));
    for want in [
        "capabilities: none",
        "model: doorbell-js 0.1.0",
        "regions: regs (0x1000 bytes)",
        "irq lines: 1 out, 0 in",
        "device tree: doorbell compatible = [\"wemu,doorbell-js\"]",
    ] {
        assert!(entry.contains(want), "missing `{want}` in:\n{entry}");
    }
}

#[test]
fn js_device_guest_rings_the_doorbell_and_takes_the_interrupt() {
    let Some(dir) = dir_arg() else { return };
    let kernel = guest("doorbell");
    let r = wemu(&[
        "run",
        "--device-path",
        dir,
        "--device",
        "doorbell-js,addr=0x10020000,irq=hart0.meip,scratch=0x1234",
        "--kernel",
        kernel.to_str().expect("utf-8 path"),
    ]);
    assert!(!r.stdout.contains("FAIL"), "a check failed:\n{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ok   interrupts after ringing 0x5 = 0x1"), "{}", r.stdout);
    assert!(r.stdout.contains("checks, 0 failed"), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, Some(0), "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn js_device_refuses_a_bad_property_with_its_own_message() {
    let Some(dir) = dir_arg() else { return };
    let kernel = guest("doorbell");
    let r = wemu(&[
        "run",
        "--device-path",
        dir,
        "--device",
        "doorbell-js,addr=0x10020000,scratch=loud",
        "--kernel",
        kernel.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("refused its properties: property 'scratch' must be an integer"),
        "{}",
        r.stderr
    );
}

#[test]
fn js_device_node_is_in_the_device_tree() {
    let Some(dir) = dir_arg() else { return };
    let out = tempfile::tempdir().expect("tempdir");
    let blob = out.path().join("out.dtb");
    let r = wemu(&[
        "dtb",
        "-o",
        blob.to_str().expect("utf-8 temp path"),
        "--device-path",
        dir,
        "--device",
        "doorbell-js,addr=0x10020000,irq=hart0.meip",
    ]);
    assert_eq!(r.code, Some(0), "wemu dtb failed: {}", r.stderr);
    let dts = Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(&blob)
        .output()
        .expect("dtc (Debian package device-tree-compiler; `just setup` installs it)");
    let dts = String::from_utf8_lossy(&dts.stdout);
    assert!(dts.contains("doorbell@10020000 {"), "{dts}");
    assert!(dts.contains("compatible = \"wemu,doorbell-js\";"), "{dts}");
}

/// The limits docs/device-authoring-js.md gives a JavaScript device hold
/// through its garbage collections: the soak guest makes 400 000 accesses,
/// over twice the ~175 000 after which the defaults (64M, 20M fuel) fault.
/// The limits come from a machine file, as the `new-device --lang js`
/// skeleton sets them. The same guest under the defaults shows the soak is
/// long enough to need them.
#[test]
fn js_device_survives_a_soak_with_the_raised_limits() {
    let Some(dir) = dir_arg() else { return };
    let machine = tempfile::tempdir().expect("tempdir");
    let file = machine.path().join("soak.toml");
    std::fs::write(
        &file,
        "extends = \"virt\"\n\n[[device]]\nname = \"bell0\"\ncomponent = \"doorbell-js\"\n\
         regions = [0x1002_0000]\nirqs = [\"hart0.meip\"]\nmemory-limit = \"128M\"\nfuel = 200_000_000\n",
    )
    .expect("write machine file");
    let kernel = guest("doorbell-soak");
    let start = std::time::Instant::now();
    let r = wemu_within(
        &[
            "run",
            "-M",
            file.to_str().expect("utf-8 temp path"),
            "--device-path",
            dir,
            "--kernel",
            kernel.to_str().expect("utf-8 path"),
        ],
        None,
        std::time::Duration::from_secs(900),
    );
    eprintln!("soak: {:?}", start.elapsed());
    assert!(r.stdout.contains("soak: 400000 accesses"), "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ok   RINGS after the soak = 0x186a0"), "{}", r.stdout);
    assert!(r.stdout.contains("3 checks, 0 failed"), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, Some(0), "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);

    let r = wemu_within(
        &[
            "run",
            "--device-path",
            dir,
            "--device",
            "doorbell-js,addr=0x10020000,irq=hart0.meip",
            "--kernel",
            kernel.to_str().expect("utf-8 path"),
        ],
        None,
        std::time::Duration::from_secs(900),
    );
    assert_ne!(r.code, Some(0), "the soak ran under the default limits:\n{}", r.stdout);
    assert!(r.stderr.contains("device fault: device 'doorbell-js' (doorbell-js)"), "{}", r.stderr);
    assert!(!r.stdout.contains("soak: 400000 accesses"), "{}", r.stdout);
}
