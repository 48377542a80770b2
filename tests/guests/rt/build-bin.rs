//! Build script shared by every guest program (each program's Cargo.toml
//! points `build` here).
//!
//! It passes the linker script as an absolute path. Doing this from a build
//! script rather than `.cargo/config.toml` matters: cargo only reads config
//! from the current directory upwards, so rustflags there would be silently
//! missed when building from the repository root with `--manifest-path`.
//! A library's `rustc-link-arg` does not propagate to its dependents, hence one
//! build script per binary crate rather than one in `rt`.

use std::env;
use std::path::PathBuf;

fn main() {
    link_script();
}

/// Passes `rt/link.x` to the linker of the package's binaries (also called
/// by build scripts that do more, e.g. coremark's).
pub fn link_script() {
    let Some(manifest_dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        panic!("cargo did not set CARGO_MANIFEST_DIR");
    };
    // Every program crate is a sibling of `rt`.
    let script = PathBuf::from(manifest_dir).join("..").join("rt").join("link.x");
    let Ok(script) = script.canonicalize() else {
        panic!("linker script not found at {}", script.display());
    };
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
}
