//! Builds the platform's device crates (`devices/*`) for
//! `wasm32-unknown-unknown`, and the C devices (`devices/NAME/src/*.c`, no
//! Cargo.toml) with clang against the C SDK (`guest-sdk/c` plus bindings
//! that wit-bindgen's C generator makes from `wit/`), wraps each core
//! module into a component with wit-component, and generates the table
//! that embeds them (and the machine files under `machines/`) in the
//! `wemu` binary (through this crate, `wemu-builtins`). No manual step: `cargo build` does it all.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

// Shared with the crate (new-device); the native-test half is unused here.
#[allow(dead_code)]
#[path = "src/c_sdk/flags.rs"]
mod c_flags;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-device";
/// Set to skip the C devices when no clang is at hand (they are then
/// missing from the binary; their tests fail under CI and are skipped,
/// and counted, elsewhere).
const SKIP_C: &str = "WEMU_SKIP_C_DEVICES";

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root =
        manifest_dir.ancestors().nth(2).context("host/builtins/ is not two levels down")?.to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    for watched in ["devices", "guest-sdk", "wit", "machines", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    println!("cargo:rerun-if-env-changed=WEMU_CLANG");
    println!("cargo:rerun-if-env-changed={SKIP_C}");

    let devices = device_crates(&root.join("devices"))?;
    let mut built = build_devices(&root, &devices)?;

    let c_sdk = out_dir.join("c-sdk");
    let generated = generate_c_bindings(&root.join("wit"), &c_sdk)?;
    write_c_sdk_table(&root.join("guest-sdk/c"), &c_sdk, &generated, &out_dir.join("c_sdk.rs"))?;
    if env::var_os(SKIP_C).is_some() {
        println!("cargo:warning={SKIP_C} is set: the C devices under devices/ are not built");
    } else {
        for dir in c_device_dirs(&root.join("devices"))? {
            built.push(build_c_device(&dir, &root.join("guest-sdk/c"), &c_sdk, &out_dir.join("c-devices"))?);
        }
    }
    built.sort();

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
    writeln!(table, "pub const C_DEVICES_BUILT: bool = {};", env::var_os(SKIP_C).is_none())?;

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

/// Directories under `devices/` holding a C device: `src/*.c`, no Cargo.toml.
fn c_device_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.join("Cargo.toml").exists() && !c_sources(&p.join("src")).is_empty())
        .collect();
    out.sort();
    Ok(out)
}

/// The `*.c` files directly in `dir`, sorted (none if it does not exist).
fn c_sources(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Generate the contract's C bindings (`device_model.{h,c}` and the
/// component-type object) into `out`; returns the file names.
fn generate_c_bindings(wit: &Path, out: &Path) -> Result<Vec<String>> {
    let mut resolve = wit_bindgen_core::wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_path(wit).with_context(|| format!("parsing {}", wit.display()))?;
    let world = resolve.select_world(&[pkg], Some("device-model"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files)?;
    fs::create_dir_all(out)?;
    let mut names = Vec::new();
    for (name, contents) in files.iter() {
        fs::write(out.join(name), contents)?;
        names.push(name.to_owned());
    }
    names.sort();
    Ok(names)
}

/// `C_SDK`: every file of the C SDK (hand-written and generated), for
/// `wemu new-device --lang c` to copy into a skeleton.
fn write_c_sdk_table(sdk: &Path, generated_dir: &Path, generated: &[String], out: &Path) -> Result<()> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for sub in ["", "libc"] {
        for entry in fs::read_dir(sdk.join(sub))? {
            let path = entry?.path();
            if path.is_file() {
                let name = path.file_name().and_then(|n| n.to_str()).context("C SDK file name")?;
                let rel = if sub.is_empty() { name.to_owned() } else { format!("{sub}/{name}") };
                files.push((rel, path));
            }
        }
    }
    files.extend(generated.iter().map(|n| (n.clone(), generated_dir.join(n))));
    files.sort();
    let mut table = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in files {
        writeln!(table, "    ({name:?}, include_bytes!({:?})),", path.display().to_string())?;
    }
    table.push_str("];\n");
    fs::write(out, table)?;
    Ok(())
}

/// The clang to build C devices with: `WEMU_CLANG`, else the first
/// candidate that runs.
fn find_clang() -> Option<String> {
    if let Ok(c) = env::var("WEMU_CLANG") {
        return Some(c);
    }
    c_flags::CLANG_CANDIDATES
        .iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .map(|c| (*c).to_owned())
}

/// Compile and link one C device into a core module; returns
/// `(name, core .wasm path)`.
fn build_c_device(dir: &Path, sdk: &Path, generated: &Path, out: &Path) -> Result<(String, PathBuf)> {
    let name = dir.file_name().and_then(|n| n.to_str()).context("device dir name")?.to_owned();
    let hint = format!(
        "devices/{name} is a C device: it needs clang and lld with the wasm32 target \
         (Debian/Ubuntu: `apt-get install clang lld`, or `just setup-c`; another clang: WEMU_CLANG=PATH; \
         to build without the C devices: {SKIP_C}=1)"
    );
    let clang = find_clang().with_context(|| format!("no clang found: {hint}"))?;
    fs::create_dir_all(out)?;
    let core = out.join(format!("{name}.core.wasm"));
    let mut cmd = Command::new(&clang);
    cmd.args(c_flags::WASM_CFLAGS)
        .arg("-isystem")
        .arg(sdk.join("libc"))
        .arg("-I")
        .arg(sdk)
        .arg("-I")
        .arg(generated)
        .arg("-o")
        .arg(&core)
        .args(c_sources(&dir.join("src")));
    for f in c_flags::SDK_WASM_SOURCES {
        let in_sdk = sdk.join(f);
        cmd.arg(if in_sdk.exists() { in_sdk } else { generated.join(f) });
    }
    cmd.args(c_flags::WASM_LDFLAGS);
    let status = cmd.status().with_context(|| format!("running {clang}: {hint}"))?;
    if !status.success() {
        bail!("building devices/{name} with {clang} failed (see the errors above); {hint}");
    }
    Ok((name, core))
}
