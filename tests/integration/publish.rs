//! wemu as a new user gets it: device projects from `wemu new-device` that
//! name no path into the source tree wemu was built from, and device SDK
//! crates that `cargo package` makes whole (their contract inside).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{root, target_dir, wemu};

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER"] {
        c.env_remove(var);
    }
    c
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { all_files(&path, out) } else { out.push(path) }
    }
}

#[test]
fn sdk_crates_carry_the_contract_as_it_is_in_wit() {
    let contract = std::fs::read_to_string(root().join("wit/device.wit")).expect("wit/device.wit");
    let copy =
        std::fs::read_to_string(root().join("guest-sdk/wit/device.wit")).expect("guest-sdk/wit/device.wit");
    assert!(copy == contract, "guest-sdk/wit/device.wit differs from wit/device.wit: copy it over");
}

/// Every file `wemu new-device` writes, in each language: none names the
/// source tree (it works from an installed wemu, wherever it was built).
#[test]
fn new_device_projects_name_no_path_into_the_source_tree() {
    let tree = root().canonicalize().expect("source tree");
    let tree = tree.to_str().expect("utf-8");
    // Also as written before canonicalising (host/..).
    let host = Path::new(env!("CARGO_MANIFEST_DIR")).to_str().expect("utf-8").to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    for lang in ["rust", "c", "js"] {
        let dir = work.path().join(lang);
        let r = wemu(&["new-device", "my-dev", "--lang", lang, "--dir", dir.to_str().expect("utf-8")]);
        assert_eq!(r.code, Some(0), "{lang}: {}", r.stderr);
        let mut files = Vec::new();
        all_files(&dir, &mut files);
        assert!(files.iter().any(|f| f.ends_with("guest/rt/link.x")), "{lang}: {files:?}");
        for f in files {
            let bytes = std::fs::read(&f).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            for p in [tree, host.as_str()] {
                assert!(!text.contains(p), "{}: names the source tree ({p})", f.display());
            }
        }
    }
}

/// What `cargo package` puts in the SDK crates (offline, not built: the
/// full check, building the packages natively and for wasm32, is
/// `just package-sdk`).
#[test]
fn sdk_crates_package_whole() {
    let out = target_dir().join("package-test");
    let run = |args: &[&str]| -> String {
        let o = cargo()
            .args(["package", "-p", "wemu-device-sdk", "-p", "wemu-device-virtio"])
            .args(["--allow-dirty", "--offline"])
            .args(args)
            .arg("--target-dir")
            .arg(&out)
            .output()
            .expect("run cargo package");
        let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "cargo package {args:?}:\n{text}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Refuses a path dependency without a version, among other things.
    run(&["--no-verify"]);
    let listed = run(&["--list"]);
    let files: Vec<&str> = listed.lines().collect();
    for want in ["wit/device.wit", "src/rt.rs", "src/lib.rs", "src/queue.rs", "Cargo.toml"] {
        assert!(files.contains(&want), "{want} not packaged:\n{listed}");
    }
    for f in &files {
        let ours = f.starts_with("src/") || f.starts_with("wit/") || f.starts_with("Cargo.");
        assert!(ours || *f == ".cargo_vcs_info.json", "{f} packaged:\n{listed}");
    }
}

/// guest-sdk/c is the whole C SDK: the contract bindings wemu's build
/// generates (and `new-device` copies) are kept in guest-sdk/c/generated,
/// as the build makes them from wit/.
#[test]
fn c_sdk_holds_the_bindings_the_build_generates() {
    let sdk = root().join("guest-sdk/c");
    let mut generated = Vec::new();
    for (name, bytes) in wemu_builtins::c_sdk::FILES {
        let path = sdk.join(name);
        if path.is_file() {
            assert!(std::fs::read(&path).expect("read") == *bytes, "{name} differs from guest-sdk/c/{name}");
            continue;
        }
        generated.push(*name);
        let kept = sdk.join("generated").join(name);
        let kept = std::fs::read(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
        assert!(
            kept == *bytes,
            "guest-sdk/c/generated/{name} is not what the build generates from wit/: copy it from \
             the sdk/ of a fresh `wemu new-device x --lang c`"
        );
    }
    let mut kept: Vec<String> = std::fs::read_dir(sdk.join("generated"))
        .expect("guest-sdk/c/generated")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    kept.sort();
    assert_eq!(kept, generated);
}
