//! Builds the platform's device crates (`devices/*`) for
//! `wasm32-unknown-unknown`, wraps each core module into a component with
//! wit-component, and generates the table that embeds them (and the
//! machine files under `machines/`) in the `wemu` binary. No manual step:
//! `cargo build` does it all.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-device";

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir.parent().context("host/ has no parent")?.to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    for watched in ["devices", "guest-sdk", "wit", "machines", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let devices = device_crates(&root.join("devices"))?;
    let built = build_devices(&root, &devices)?;

    let dev_out = out_dir.join("devices");
    fs::create_dir_all(&dev_out)?;
    let mut table = String::from("pub static DEVICES: &[(&str, &[u8])] = &[\n");
    for (name, core_wasm) in &built {
        let bytes = fs::read(core_wasm).with_context(|| format!("reading {}", core_wasm.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&bytes)
            .with_context(|| format!("device '{name}': not a wit-bindgen module"))?
            .validate(true)
            .encode()
            .with_context(|| format!("device '{name}': componentizing failed"))?;
        let path = dev_out.join(format!("{name}.wasm"));
        fs::write(&path, component)?;
        writeln!(table, "    ({name:?}, include_bytes!({:?})),", path.display().to_string())?;
    }
    table.push_str("];\n");

    table.push_str("pub static MACHINES: &[(&str, &str)] = &[\n");
    let mut machines: Vec<PathBuf> = fs::read_dir(root.join("machines"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    machines.sort();
    for m in machines {
        let stem = m.file_stem().and_then(|s| s.to_str()).context("machine file name")?;
        writeln!(table, "    ({stem:?}, include_str!({:?})),", m.display().to_string())?;
    }
    table.push_str("];\n");
    fs::write(out_dir.join("embedded.rs"), table)?;
    Ok(())
}

/// `(component name, package name)` for every crate under `devices/`.
fn device_crates(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let manifest = path.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest)?;
        let package = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
            .with_context(|| format!("{}: no package name", manifest.display()))?;
        let name = path.file_name().and_then(|n| n.to_str()).context("device dir name")?;
        out.push((name.to_owned(), package.to_owned()));
    }
    out.sort();
    Ok(out)
}

/// Run a nested cargo for the wasm target; returns `(name, core .wasm path)`.
fn build_devices(root: &Path, devices: &[(String, String)]) -> Result<Vec<(String, PathBuf)>> {
    ensure_target_installed();
    // A separate target dir: the outer build holds the lock on its own.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-devices");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--locked", "--profile", PROFILE, "--target", WASM_TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package) in devices {
        cmd.args(["-p", package]);
    }
    // Flags meant for the host build must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().context("running cargo for the device components")?;
    if !status.success() {
        bail!("building the device components for {WASM_TARGET} failed (see the errors above)");
    }
    let artefacts = target_dir.join(WASM_TARGET).join(PROFILE);
    Ok(devices
        .iter()
        .map(|(name, package)| (name.clone(), artefacts.join(format!("{}.wasm", package.replace('-', "_")))))
        .collect())
}

/// `cargo build` on a fresh machine should just work: add the wasm target
/// with rustup when it is missing (rust-toolchain.toml lists it, but older
/// rustups do not install listed targets for an existing toolchain).
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).is_dir());
    if !installed {
        let _ = Command::new("rustup").args(["target", "add", WASM_TARGET]).status();
    }
}
