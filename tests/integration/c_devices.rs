//! The devices written in C (devices/NAME/src/*.c, built by host/builtins/build.rs
//! against guest-sdk/c): their native unit tests, and a guest driving
//! crc32-dma end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use wemu_builtins::c_sdk::flags;

use crate::common::{c_devices_built, guest, root, target_dir, wemu};

/// C device directories: `src/*.c` and no Cargo.toml (host/builtins/build.rs's rule).
fn c_devices() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("devices"))
        .expect("devices/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.join("Cargo.toml").exists() && !c_files(&p.join("src")).is_empty())
        .collect();
    out.sort();
    out
}

fn c_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn c_device_unit_tests_pass() {
    let devices = c_devices();
    assert!(devices.iter().any(|d| d.ends_with("crc32-dma")), "{devices:?}");
    let sdk = root().join("guest-sdk/c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    for dev in devices {
        let name = dev.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let tests = c_files(&dev.join("tests"));
        assert!(!tests.is_empty(), "C device {name} has no tests/*.c");
        for test in tests {
            let stem = test.file_stem().and_then(|s| s.to_str()).expect("stem");
            let exe = target_dir().join("c-device-tests").join(format!("{name}-{stem}"));
            std::fs::create_dir_all(exe.parent().expect("parent")).expect("mkdir");
            let status = Command::new(&cc)
                .args(flags::NATIVE_CFLAGS)
                .arg("-Werror")
                .arg("-I")
                .arg(&sdk)
                .arg("-o")
                .arg(&exe)
                .args(c_files(&dev.join("src")))
                .arg(&test)
                .args(flags::SDK_NATIVE_SOURCES.iter().map(|f| sdk.join(f)))
                .status()
                .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
            assert!(status.success(), "compiling {}", test.display());
            let out = Command::new(&exe).output().expect("run the C test");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("test result: ok."),
                "{}:\n{stdout}\n{}",
                test.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn crc32_dma_guest_checks_the_crc_and_the_error_interrupt() {
    if !c_devices_built() {
        return;
    }
    let kernel = guest("crc32-dma");
    let out = wemu(&[
        "run",
        "--device",
        "crc32-dma,addr=0x10030000,irq=hart0.meip,dma=ram,timers=on",
        "--kernel",
        kernel.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("crc32-dma id = 0x43524344"), "{}", out.stdout);
    assert!(out.stdout.contains("outside RAM: status 0x4, errcode 1"), "{}", out.stdout);
    assert!(out.stdout.contains("crc32-dma: ok after 2 interrupts"), "{}", out.stdout);
    // The guest compared both CRCs itself; check the line shows two equal values.
    let l = out.stdout.lines().find(|l| l.starts_with("dma crc32 = ")).expect("crc line");
    let vals: Vec<&str> = l.split(['=', ',']).map(str::trim).filter(|s| s.starts_with("0x")).collect();
    assert_eq!(vals.len(), 2, "{l}");
    assert_eq!(vals[0], vals[1], "{l}");
}

#[test]
fn crc32_dma_without_its_grants_is_refused() {
    if !c_devices_built() {
        return;
    }
    let kernel = guest("crc32-dma");
    let out = wemu(&[
        "run",
        "--device",
        "crc32-dma,addr=0x10030000,irq=hart0.meip",
        "--kernel",
        kernel.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("capabilities 'clock'") || out.stderr.contains("'clock'"), "{}", out.stderr);
    assert!(out.stderr.contains("'dma'"), "{}", out.stderr);
}
