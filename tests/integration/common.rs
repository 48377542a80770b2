//! Shared fixtures: the guest programs and test components (built once
//! per test process), and running the `wemu` binary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::reftool;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/cli/ is two levels down")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER"] {
        c.env_remove(var);
    }
    c
}

fn run_ok(mut c: Command, what: &str) {
    let status = c.status().unwrap_or_else(|e| panic!("{what}: cannot run cargo: {e}"));
    assert!(status.success(), "{what} failed");
}

/// Are Node.js or npm missing? The JavaScript tests then return early:
/// skipped, saying why, or failed under CI (`reftool`'s rule); the one
/// thing they cannot install themselves (`just setup-js` does).
pub fn node_missing() -> bool {
    !(reftool::have(&reftool::NODE) && reftool::have(&reftool::NPM))
}

/// Whether the C devices (crc32-dma) are in the binary: the build skips
/// them when `WEMU_SKIP_C_DEVICES` is set (no clang at hand). If not, the
/// running test is skipped, saying why, or failed under CI (`reftool`'s rule).
pub fn c_devices_built() -> bool {
    c_devices_built_for(&reftool::current_test())
}

/// [`c_devices_built`] for a named part of a test.
pub fn c_devices_built_for(test: &str) -> bool {
    if !wemu_builtins::C_DEVICES_BUILT {
        reftool::cannot_run(
            &reftool::Policy::from_env(),
            test,
            "the C devices were not built (WEMU_SKIP_C_DEVICES was set): install clang and lld \
             (`just setup-c`) and build again without it",
        );
    }
    wemu_builtins::C_DEVICES_BUILT
}

/// `npm ci` in `dir` unless its node_modules is newer than its
/// package-lock.json (what `just setup-js` does for devices/doorbell-js).
/// Serialised: two installs into one directory would collide.
pub fn npm_ci(dir: &Path) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let lock = mtime(&dir.join("package-lock.json"));
    let stamp = mtime(&dir.join("node_modules/.package-lock.json"));
    if stamp.is_some() && stamp >= lock {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm ({e}): `just setup-js` installs it"));
    assert!(status.success(), "npm ci in {} failed ({status})", dir.display());
}

/// Path of bundled guest program `name` (tests/guests), built on first use.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let out = target_dir().join("guests");
        let mut c = cargo();
        c.args(["build", "--release", "--target", "riscv64gc-unknown-none-elf", "--manifest-path"])
            .arg(root().join("tests/guests/Cargo.toml"))
            .arg("--target-dir")
            .arg(&out);
        run_ok(c, "building tests/guests");
        out.join("riscv64gc-unknown-none-elf/release")
    });
    dir.join(name)
}

/// Build the test device crate `package` (under tests/devices) for wasm,
/// make it a component and write it as `out_dir/NAME.wasm`, where NAME is
/// the package name without `wemu-test-`; the directory.
fn build_test_device(package: &str, out_dir: &str) -> PathBuf {
    let name = package.trim_start_matches("wemu-test-");
    let tdir = target_dir().join("wasm-devices");
    let mut c = cargo();
    c.args([
        "build",
        "--profile",
        "wasm-device",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        package,
        "--target-dir",
    ])
    .arg(&tdir);
    run_ok(c, &format!("building tests/devices/{name}"));
    let core_file = format!("wasm32-unknown-unknown/wasm-device/{}.wasm", package.replace('-', "_"));
    let core = std::fs::read(tdir.join(core_file)).expect("test device core module");
    let component = wit_component::ComponentEncoder::default()
        .module(&core)
        .expect("wit-bindgen module")
        .validate(true)
        .encode()
        .expect("componentize the test device");
    let out = target_dir().join(out_dir);
    std::fs::create_dir_all(&out).expect("mkdir for test devices");
    std::fs::write(out.join(format!("{name}.wasm")), component).expect("write the test device");
    out
}

/// A directory holding `faulty.wasm` (tests/devices/faulty as a component).
pub fn test_device_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_test_device("wemu-test-faulty", "test-devices")).clone()
}

/// A directory holding `buggy.wasm` (tests/devices/buggy as a component),
/// for the fuzzer's tests.
pub fn fuzz_device_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_test_device("wemu-test-buggy", "fuzz-devices")).clone()
}

/// A component implementing the contract's world from WIT `text`, with
/// bodies that trap (enough to check what the loader reads from it).
pub fn component_from_wit(text: &str, world: &str) -> Vec<u8> {
    component_from_wit_with(text, world, |m| m)
}

/// `component_from_wit` with its core module changed by `edit` first.
pub fn component_from_wit_with(text: &str, world: &str, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("device.wit", text).expect("parse wit");
    let world = resolve.select_world(&[pkg], Some(world)).expect("world");
    let mut module =
        edit(wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .expect("embed metadata");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("encode")
}

pub fn contract_text() -> String {
    std::fs::read_to_string(root().join("wit/device.wit")).expect("wit/device.wit")
}

/// The contract's world plus an import of `wasi:cli/stdout`.
pub fn wasi_contract_text() -> String {
    contract_text().replace("    import power;\n", "    import power;\n    import wasi:cli/stdout@0.2.0;\n")
        + "\npackage wasi:cli@0.2.0 {\n  interface stdout {\n    get-stdout: func() -> u32;\n  }\n}\n"
}

/// What a `wemu` run did.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn wemu_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wemu"));
    c.args(args)
        .env("WEMU_CACHE_DIR", target_dir().join("test-cache"))
        .env_remove("WEMU_DEVICE_PATH")
        .env_remove("WEMU_MACHINE_PATH")
        .env("WEMU_LOG", "warn");
    c
}

/// Run `wemu ARGS` with no input; kill it after 60 s.
pub fn wemu(args: &[&str]) -> Outcome {
    wemu_interactive(args, None)
}

/// Run `wemu ARGS`; once stdout contains `ready`, write `input` to its
/// stdin (as a person would type after the prompt).
pub fn wemu_interactive(args: &[&str], input: Option<(&str, &[u8])>) -> Outcome {
    wemu_within(args, input, Duration::from_secs(60))
}

/// `wemu_interactive` with a time limit of `limit` (a Linux boot on the
/// unoptimised test build takes longer than a bare-metal program).
pub fn wemu_within(args: &[&str], input: Option<(&str, &[u8])>, limit: Duration) -> Outcome {
    let mut child = wemu_cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wemu");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take();
    let mut collected = Vec::new();
    let mut sent = input.is_none();
    if input.is_none() {
        drop(stdin.take());
    }
    let deadline = Instant::now() + limit;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(chunk) => collected.extend_from_slice(&chunk),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if !sent
            && let Some((ready, bytes)) = input
            && String::from_utf8_lossy(&collected).contains(ready)
        {
            if let Some(mut s) = stdin.take() {
                let _ = s.write_all(bytes);
            }
            sent = true;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "wemu {args:?} did not finish in {limit:?}; output so far: {}",
                String::from_utf8_lossy(&collected)
            );
        }
    }
    let status = child.wait().expect("wait wemu");
    let stderr = out_reader.join().unwrap_or_default();
    Outcome {
        code: status.code(),
        stdout: String::from_utf8_lossy(&collected).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Write `text` to a fresh file in a temp dir; returns (dir, path).
pub fn temp_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write temp file");
    (dir, path)
}

/// Little RV64 encoders for hand-made raw guest binaries.
pub mod asm {
    pub const T0: u32 = 5;
    pub const T1: u32 = 6;
    pub const T2: u32 = 7;

    pub fn lui(rd: u32, imm20: u32) -> u32 {
        (imm20 << 12) | (rd << 7) | 0x37
    }
    pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
        (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
    }
    fn store(funct3: u32, rs2: u32, rs1: u32, off: i32) -> u32 {
        let imm = (off as u32) & 0xfff;
        ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | 0x23
    }
    pub fn sw(rs2: u32, rs1: u32, off: i32) -> u32 {
        store(2, rs2, rs1, off)
    }
    pub fn sd(rs2: u32, rs1: u32, off: i32) -> u32 {
        store(3, rs2, rs1, off)
    }
    pub fn ld(rd: u32, rs1: u32, off: i32) -> u32 {
        (((off as u32) & 0xfff) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03
    }
    pub fn slli(rd: u32, rs1: u32, shamt: u32) -> u32 {
        ((shamt & 0x3f) << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13
    }
    pub fn or(rd: u32, rs1: u32, rs2: u32) -> u32 {
        (rs2 << 20) | (rs1 << 15) | (6 << 12) | (rd << 7) | 0x33
    }
    /// `j .` — spin.
    pub const SPIN: u32 = 0x0000_006f;

    /// Program: store `value` (< 2048) to the 64-bit register at
    /// `(hi20 << 12)`, then pass through the finisher at 0x100000.
    pub fn poke_then_pass(hi20: u32, value: i32) -> Vec<u8> {
        let words = [
            lui(T0, hi20),
            addi(T1, 0, value),
            sd(T1, T0, 0),
            lui(T2, 0x100),
            lui(T1, 0x5),
            addi(T1, T1, 0x555),
            sw(T1, T2, 0),
            SPIN,
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}
