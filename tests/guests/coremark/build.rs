//! Compiles CoreMark (upstream/, unmodified) and its port (port/) with clang
//! for the guests' target, and links the objects into both programs, with
//! rt/link.x as every guest.
//!
//! clang is what the project already needs for its C devices (`just
//! setup-c`); `WEMU_CLANG` names another. With `WEMU_SKIP_C_DEVICES` set (no
//! clang at hand) the programs are built without CoreMark: they print that
//! and fail, and the integration test skips (see src/lib.rs).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)] // its `main` is the other guests' build script
#[path = "../rt/build-bin.rs"]
mod rt_build;

const CLANGS: &[&str] = &["clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"];

/// What CoreMark is compiled with (also printed by it as "Compiler flags").
/// -mcmodel=medany: the image lives at 0x8000_0000, outside medlow's range.
/// lp64d: the Rust side's ABI (riscv64gc); HAS_FLOAT 0 keeps F/D out anyway.
const CFLAGS: &[&str] = &[
    "--target=riscv64-unknown-elf",
    "-march=rv64gc",
    "-mabi=lp64d",
    "-mcmodel=medany",
    "-O2",
    "-ffreestanding",
    "-nostdlib",
    "-fno-common",
    "-fno-asynchronous-unwind-tables",
];

fn main() {
    rt_build::link_script();
    println!("cargo::rustc-check-cfg=cfg(coremark_skipped)");
    println!("cargo:rerun-if-env-changed=WEMU_CLANG");
    println!("cargo:rerun-if-env-changed=WEMU_SKIP_C_DEVICES");
    if env::var_os("WEMU_SKIP_C_DEVICES").is_some() {
        println!("cargo:warning=WEMU_SKIP_C_DEVICES is set: the coremark guests are built without CoreMark");
        println!("cargo:rustc-cfg=coremark_skipped");
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        panic!("cargo did not set CARGO_MANIFEST_DIR");
    };
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        panic!("cargo did not set OUT_DIR");
    };
    let (upstream, port) = (dir.join("upstream"), dir.join("port"));
    println!("cargo:rerun-if-changed={}", upstream.display());
    println!("cargo:rerun-if-changed={}", port.display());

    let clang = clang();
    let flags_string = format!("-DCOMPILER_FLAGS=\"{}\"", CFLAGS.join(" "));
    let mut sources = c_files(&upstream);
    sources.push(port.join("core_portme.c"));
    for src in sources {
        let Some(stem) = src.file_stem().and_then(|s| s.to_str()) else {
            panic!("odd source name {}", src.display());
        };
        let obj = out.join(format!("{stem}.o"));
        let status = Command::new(&clang)
            .args(CFLAGS)
            .arg(&flags_string)
            // core_main.c's `main` would clash with the runtime's.
            .arg("-Dmain=coremark_main")
            .arg("-I")
            .arg(&port)
            .arg("-I")
            .arg(&upstream)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("{clang} failed on {} ({s}); see the errors above", src.display()),
            Err(e) => panic!("cannot run {clang}: {e}"),
        }
        println!("cargo:rustc-link-arg-bins={}", obj.display());
    }
}

/// `WEMU_CLANG`, else the first of [`CLANGS`] that runs.
fn clang() -> String {
    if let Ok(c) = env::var("WEMU_CLANG") {
        return c;
    }
    let found =
        CLANGS.iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    match found {
        Some(c) => (*c).to_owned(),
        None => panic!(
            "no clang found for the coremark guest: install clang and lld (`just setup-c`), \
             set WEMU_CLANG=PATH, or WEMU_SKIP_C_DEVICES=1 to build without CoreMark"
        ),
    }
}

/// The `.c` files in `dir`, sorted.
fn c_files(dir: &Path) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    files
}
