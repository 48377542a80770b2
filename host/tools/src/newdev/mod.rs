//! `wemu new-device`: a buildable, tested device skeleton in Rust, C or
//! JavaScript, outside the wemu tree, plus a guest program and a machine
//! file that use it; and `wemu componentize`, which turns the core wasm
//! module the Rust and C skeletons build into the component wemu loads.
//!
//! Every language gets the same register map (ID, SCRATCH, DOORBELL,
//! STATUS with one interrupt line), so one guest program serves all.
//! A skeleton needs nothing but an installed `wemu`: every file it uses is
//! built into the binary and written into the project, never a path into a
//! wemu source tree. The Rust skeleton gets a copy of the `wemu-device-sdk`
//! crate (with the contract) in `sdk/wemu-device-sdk`; the C skeleton a
//! copy of the C SDK, so it builds with clang alone; the JavaScript one the
//! contract in `wit/deps/`, and it pins componentize-js exactly as
//! `devices/doorbell-js` does (its lockfile). The guest program gets its
//! runtime (a copy of `tests/guests/rt`) in `guest/rt`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The language of a skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    C,
    Js,
}

/// Why `new-device` or `componentize` failed.
#[derive(Debug, thiserror::Error)]
pub enum NewDeviceError {
    #[error("'{0}' is not a language wemu has a device SDK for (rust, c, js)")]
    UnknownLang(String),
    #[error(
        "'{0}' is not a device name: use lowercase letters, digits and single dashes, \
         starting with a letter, at most 31 characters (e.g. my-timer)"
    )]
    BadName(String),
    #[error("devices/doorbell-js/package-lock.json is not the lockfile version 3 layout expected")]
    LockfileLayout,
    #[error("{} already exists and is not empty", .0.display())]
    NotEmpty(PathBuf),
    #[error("creating {}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("writing {}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Why a core module could not be wrapped into a component.
#[derive(Debug, thiserror::Error)]
pub enum ComponentizeError {
    #[error("it is already a component")]
    AlreadyComponent,
    #[error("it is not a wasm module (no wasm magic bytes)")]
    NotWasm,
    #[error("reading the module")]
    Decode(#[source] BoxError),
    #[error(
        "it carries no component type (the custom section wit-bindgen embeds): \
         Rust: build the crate with wemu-device-sdk; C: link device_model_component_type.o"
    )]
    NoComponentType,
    #[error(
        "reading the component type wit-bindgen embeds (Rust: build with wemu-device-sdk; \
         C: link device_model_component_type.o)"
    )]
    ComponentType(#[source] BoxError),
    #[error("making the component")]
    Encode(#[source] BoxError),
}

/// What wit-component reports, with its chain of causes.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

type Result<T, E = NewDeviceError> = std::result::Result<T, E>;

impl FromStr for Lang {
    type Err = NewDeviceError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rust" => Ok(Lang::Rust),
            "c" => Ok(Lang::C),
            "js" | "javascript" => Ok(Lang::Js),
            _ => Err(NewDeviceError::UnknownLang(s.to_owned())),
        }
    }
}

/// What to generate, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// Device name: the component's file stem and the name it loads by.
    pub name: String,
    pub lang: Lang,
    /// Directory to create (must not exist, or be empty).
    pub dir: PathBuf,
}

/// The contract, as the skeletons carry it.
const CONTRACT: &str = include_str!("../../../../wit/device.wit");

/// The Rust device SDK (`wemu-device-sdk`) a Rust skeleton carries in
/// `sdk/wemu-device-sdk`: `(path in the crate, contents)`, its Cargo.toml
/// apart (templates/sdk).
const RUST_SDK: &[(&str, &str)] = &[
    ("src/describe.rs", include_str!("../../../../guest-sdk/src/describe.rs")),
    ("src/device.rs", include_str!("../../../../guest-sdk/src/device.rs")),
    ("src/host.rs", include_str!("../../../../guest-sdk/src/host.rs")),
    ("src/lib.rs", include_str!("../../../../guest-sdk/src/lib.rs")),
    ("src/props.rs", include_str!("../../../../guest-sdk/src/props.rs")),
    ("src/regs.rs", include_str!("../../../../guest-sdk/src/regs.rs")),
    ("src/rt.rs", include_str!("../../../../guest-sdk/src/rt.rs")),
    ("src/snapshot.rs", include_str!("../../../../guest-sdk/src/snapshot.rs")),
    ("src/testing.rs", include_str!("../../../../guest-sdk/src/testing.rs")),
    ("wit/device.wit", include_str!("../../../../guest-sdk/wit/device.wit")),
];

/// The guest program's runtime (`tests/guests/rt`), carried in
/// `guest/rt`, its Cargo.toml apart.
const GUEST_RT: &[(&str, &str)] = &[
    ("link.x", include_str!("../../../../tests/guests/rt/link.x")),
    ("src/check.rs", include_str!("../../../../tests/guests/rt/src/check.rs")),
    ("src/csr.rs", include_str!("../../../../tests/guests/rt/src/csr.rs")),
    ("src/enc.rs", include_str!("../../../../tests/guests/rt/src/enc.rs")),
    ("src/finisher.rs", include_str!("../../../../tests/guests/rt/src/finisher.rs")),
    ("src/lib.rs", include_str!("../../../../tests/guests/rt/src/lib.rs")),
    ("src/lower.rs", include_str!("../../../../tests/guests/rt/src/lower.rs")),
    ("src/pte.rs", include_str!("../../../../tests/guests/rt/src/pte.rs")),
    ("src/trap.rs", include_str!("../../../../tests/guests/rt/src/trap.rs")),
    ("src/uart.rs", include_str!("../../../../tests/guests/rt/src/uart.rs")),
];

/// The `[dependencies]` of `wemu-device-sdk` as the copy in a skeleton lists
/// them: the workspace's entries for the crates guest-sdk/Cargo.toml
/// names (a test checks they are the same).
const SDK_DEPENDENCIES: &str = r#"wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
serde = { version = "1", features = ["derive"] }
postcard = { version = "1", default-features = false, features = ["alloc"] }"#;

/// Device names: lowercase letters, digits and single dashes, starting
/// with a letter; at most 31 characters (a device-tree node name).
pub fn check_name(name: &str) -> Result<()> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let starts = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !ok_chars || !starts || name.ends_with('-') || name.contains("--") || name.len() > 31 {
        return Err(NewDeviceError::BadName(name.to_owned()));
    }
    Ok(())
}

/// `my-timer` → `MyTimer`, avoiding the names the Rust template imports.
fn type_name(name: &str) -> String {
    let camel: String = name
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map_or_else(String::new, |f| f.to_ascii_uppercase().to_string() + c.as_str())
        })
        .collect();
    const TAKEN: &[&str] = &["Device", "Description", "DtNode", "Props", "AccessError", "RegMap", "RegSpec"];
    if TAKEN.contains(&camel.as_str()) { camel + "Model" } else { camel }
}

/// A tag for the C state's header, derived from the name (FNV-1a).
fn magic(name: &str) -> String {
    let h = name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{h:08x}")
}

/// The commands that build, check and run the skeleton, with a comment
/// each, run from its directory (written to its README and printed).
pub fn steps(lang: Lang, name: &str) -> Vec<(String, &'static str)> {
    let krate = name.replace('-', "_");
    let mut v: Vec<(String, &'static str)> = match lang {
        Lang::Rust => vec![
            ("cargo test".into(), "unit tests, natively"),
            ("cargo build --release --target wasm32-unknown-unknown".into(), "the core wasm module"),
            (
                format!(
                    "wemu componentize target/wasm32-unknown-unknown/release/{krate}.wasm -o out/{name}.wasm"
                ),
                "the component",
            ),
        ],
        Lang::C => vec![
            ("make test".into(), "unit tests, natively"),
            ("make".into(), "out/NAME.wasm: clang, then wemu componentize"),
        ],
        Lang::Js => vec![
            ("npm ci".into(), "componentize-js, as package-lock.json pins it"),
            ("node --test".into(), "unit tests of src/model.js, with fake host imports"),
            ("node build.mjs".into(), "out/NAME.wasm: componentize-js, no WASI"),
        ],
    };
    v.push((format!("wemu validate out/{name}.wasm"), "check it against the contract"));
    v.push((
        "cargo build --release --manifest-path guest/Cargo.toml --target riscv64gc-unknown-none-elf".into(),
        "a guest program that uses it",
    ));
    v.push((
        format!(
            "wemu run -M machine.toml --device-path out --kernel guest/target/riscv64gc-unknown-none-elf/release/{name}-guest"
        ),
        "boot it",
    ));
    v
}

fn steps_text(lang: Lang, name: &str) -> String {
    steps(lang, name)
        .iter()
        .map(|(cmd, why)| format!("# {}\n{cmd}", why.replace("NAME", name)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a JavaScript device's machine entry adds to the defaults.
const JS_LIMITS: &str = "\
# A JavaScript engine (SpiderMonkey) lets its heap grow to about 64 MiB
# before it collects, inside whichever call (an MMIO access) triggers the
# collection: wemu's defaults (64M, 20M fuel per call) fault after some
# hundred thousand accesses.
memory-limit = \"128M\"
fuel = 200_000_000
";

/// devices/doorbell-js's lockfile: the skeleton pins exactly the packages
/// the in-tree JavaScript device is built and tested with.
const DOORBELL_JS_LOCK: &str = include_str!("../../../../devices/doorbell-js/package-lock.json");

/// The JavaScript skeleton's `package.json` and `package-lock.json`: the
/// lockfile is doorbell-js's with its root entry (the project itself)
/// rewritten for `name`; every `node_modules/` entry, with its integrity
/// hash, is kept as is, so `npm ci` installs the same packages.
fn js_package(name: &str) -> Result<(String, String)> {
    let bad = || NewDeviceError::LockfileLayout;
    let (head, packages) = DOORBELL_JS_LOCK.split_once("\n    \"node_modules/").ok_or_else(bad)?;
    if !head.contains("\"lockfileVersion\": 3,") {
        return Err(bad());
    }
    // The root entry's devDependencies object, indented for the lockfile.
    let (_, deps) = head.split_once("\n      \"devDependencies\": ").ok_or_else(bad)?;
    let end = deps.find("\n      }").ok_or_else(bad)?;
    let deps = &deps[..end + "\n      }".len()];
    // The lockfile's root entry must agree with package.json (`npm ci`
    // refuses a lockfile out of sync with it).
    let mut lock = render(
        include_str!("templates/js/package-lock.head.tmpl"),
        &[("name", name.to_owned()), ("dev_dependencies", deps.to_owned())],
    );
    lock.push_str("\n    \"node_modules/");
    lock.push_str(packages);
    let package = render(
        include_str!("templates/js/package.json.tmpl"),
        &[("name", name.to_owned()), ("dev_dependencies", deps.replace("\n    ", "\n"))],
    );
    Ok((package, lock))
}

fn render(template: &str, vars: &[(&str, String)]) -> String {
    vars.iter().fold(template.to_owned(), |t, (k, v)| t.replace(&format!("{{{{{k}}}}}"), v))
}

/// Write the skeleton; returns the files written (relative to `dir`).
pub fn create(opts: &Options) -> Result<Vec<PathBuf>> {
    check_name(&opts.name)?;
    if opts.dir.exists() && std::fs::read_dir(&opts.dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(NewDeviceError::NotEmpty(opts.dir.clone()));
    }

    let name = opts.name.as_str();
    let krate = name.replace('-', "_");
    let list = |files: &[&str]| files.join(" ");
    let vars: Vec<(&str, String)> = vec![
        ("name", name.to_owned()),
        ("crate", krate.clone()),
        ("Type", type_name(name)),
        ("sdk_version", env!("CARGO_PKG_VERSION").to_owned()),
        ("sdk_dependencies", SDK_DEPENDENCIES.to_owned()),
        ("magic", magic(name)),
        ("steps", steps_text(opts.lang, name)),
        ("wasm_cflags", wemu_builtins::c_sdk::flags::WASM_CFLAGS.join(" ")),
        ("wasm_ldflags", wemu_builtins::c_sdk::flags::WASM_LDFLAGS.join(" ")),
        ("native_cflags", wemu_builtins::c_sdk::flags::NATIVE_CFLAGS.join(" ")),
        ("sdk_wasm", list(wemu_builtins::c_sdk::flags::SDK_WASM_SOURCES)),
        ("sdk_native", list(wemu_builtins::c_sdk::flags::SDK_NATIVE_SOURCES)),
        ("limits", if opts.lang == Lang::Js { JS_LIMITS.to_owned() } else { String::new() }),
    ];

    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    // Files copied as they are (after the templates).
    let mut copies: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut text =
        |path: String, template: &str| files.push((path.into(), render(template, &vars).into_bytes()));
    text("machine.toml".into(), include_str!("templates/common/machine.toml.tmpl"));
    text(".gitignore".into(), include_str!("templates/common/gitignore.tmpl"));
    text("guest/Cargo.toml".into(), include_str!("templates/guest/Cargo.toml.tmpl"));
    text("guest/build.rs".into(), include_str!("templates/guest/build.rs.tmpl"));
    text("guest/src/main.rs".into(), include_str!("templates/guest/main.rs.tmpl"));
    text("guest/rt/Cargo.toml".into(), include_str!("templates/guest/rt.Cargo.toml.tmpl"));
    for (path, contents) in GUEST_RT {
        copies.push((Path::new("guest/rt").join(path), contents.as_bytes().to_vec()));
    }
    match opts.lang {
        Lang::Rust => {
            text("Cargo.toml".into(), include_str!("templates/rust/Cargo.toml.tmpl"));
            text("src/lib.rs".into(), include_str!("templates/rust/lib.rs.tmpl"));
            text("README.md".into(), include_str!("templates/rust/README.md.tmpl"));
            text(
                "sdk/wemu-device-sdk/Cargo.toml".into(),
                include_str!("templates/sdk/wemu-device-sdk.Cargo.toml.tmpl"),
            );
            for (path, contents) in RUST_SDK {
                copies.push((Path::new("sdk/wemu-device-sdk").join(path), contents.as_bytes().to_vec()));
            }
        }
        Lang::C => {
            text("Makefile".into(), include_str!("templates/c/Makefile.tmpl"));
            text(format!("src/{krate}.c"), include_str!("templates/c/device.c.tmpl"));
            text(format!("tests/test_{krate}.c"), include_str!("templates/c/test.c.tmpl"));
            text("README.md".into(), include_str!("templates/c/README.md.tmpl"));
            for (path, bytes) in wemu_builtins::c_sdk::FILES {
                files.push((Path::new("sdk").join(path), bytes.to_vec()));
            }
        }
        Lang::Js => {
            text(".npmrc".into(), include_str!("templates/js/npmrc.tmpl"));
            text("build.mjs".into(), include_str!("templates/js/build.mjs.tmpl"));
            text("wit/world.wit".into(), include_str!("templates/js/world.wit.tmpl"));
            copies.push(("wit/deps/wemu-device/device.wit".into(), CONTRACT.as_bytes().to_vec()));
            text("src/model.js".into(), include_str!("templates/js/model.js.tmpl"));
            text("src/device.js".into(), include_str!("templates/js/device.js.tmpl"));
            text(format!("test/{name}.test.js"), include_str!("templates/js/test.js.tmpl"));
            text("README.md".into(), include_str!("templates/js/README.md.tmpl"));
            let (package, lock) = js_package(name)?;
            files.push(("package.json".into(), package.into_bytes()));
            files.push(("package-lock.json".into(), lock.into_bytes()));
        }
    }

    files.extend(copies);
    let mut written = Vec::new();
    for (rel, bytes) in files {
        let path = opts.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| NewDeviceError::CreateDir { path: parent.to_owned(), source })?;
        }
        std::fs::write(&path, bytes)
            .map_err(|source| NewDeviceError::Write { path: path.clone(), source })?;
        written.push(rel);
    }
    Ok(written)
}

/// What to tell the user after `create`: where it went and what to run.
pub fn next_steps(opts: &Options) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "created {} ({}) in {}", opts.name, lang_name(opts.lang), opts.dir.display());
    if !wemu_on_path() {
        let dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
        if let Some(d) = dir {
            let _ = writeln!(
                s,
                "\nwemu is not on your PATH; the steps below need it: install it (`just install` in \
                 a wemu checkout), or\n  export PATH={}:$PATH",
                d.display()
            );
        }
    }
    let _ = writeln!(s, "\nnext (see {}/README.md):\n  cd {}", opts.dir.display(), opts.dir.display());
    for line in steps_text(opts.lang, &opts.name).lines() {
        let _ = writeln!(s, "  {line}");
    }
    s
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::C => "C",
        Lang::Js => "JavaScript",
    }
}

fn wemu_on_path() -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("wemu").is_file()))
}

/// Wrap a core wasm module carrying its component type (what wit-bindgen
/// embeds: Rust via `wemu-device-sdk`, C via `device_model_component_type.o`)
/// into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, ComponentizeError> {
    if module.len() >= 8 && module[..4] == *b"\0asm" && module[6..8] == [1, 0] {
        return Err(ComponentizeError::AlreadyComponent);
    }
    if !module.starts_with(b"\0asm") {
        return Err(ComponentizeError::NotWasm);
    }
    let (with_type, _) =
        wit_component::metadata::decode(module).map_err(|e| ComponentizeError::Decode(e.into()))?;
    if with_type.is_none() {
        return Err(ComponentizeError::NoComponentType);
    }
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder.module(module).map_err(|e| ComponentizeError::ComponentType(e.into()))?;
    encoder.validate(true).encode().map_err(|e| ComponentizeError::Encode(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("blinky").is_ok());
        assert!(check_name("my-timer2").is_ok());
        for bad in ["", "Blinky", "2fast", "a_b", "trailing-", "a--b", &"x".repeat(32)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn type_names_are_camel_case_and_avoid_the_imports() {
        assert_eq!(type_name("my-timer"), "MyTimer");
        assert_eq!(type_name("device"), "DeviceModel");
    }

    #[test]
    fn templates_leave_no_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        for lang in [Lang::Rust, Lang::C, Lang::Js] {
            let opts = Options { name: "my-dev".into(), lang, dir: dir.path().join(format!("{lang:?}")) };
            let files = create(&opts).unwrap();
            assert!(files.iter().any(|f| f.ends_with("guest/src/main.rs")));
            for f in files.iter().filter(|f| !f.starts_with("sdk")) {
                let text = std::fs::read_to_string(opts.dir.join(f)).unwrap();
                // `{{name}}`-style; C's `{{"regs", 0x1000}}` is not one.
                let placeholder = text.split("{{").skip(1).any(|rest| {
                    rest.split_once("}}").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                });
                assert!(!placeholder, "{} keeps a placeholder", f.display());
            }
            assert!(create(&opts).unwrap_err().to_string().contains("not empty"));
        }
    }

    /// The copies a skeleton carries are whole: every file of the crate
    /// they come from (the manifest apart).
    #[test]
    fn carried_copies_hold_every_file_of_their_source() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let files = |dir: &str, sub: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = sub
                .iter()
                .flat_map(|s| {
                    let base = root.join(dir).join(s);
                    std::fs::read_dir(&base)
                        .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
                        .map(|e| e.unwrap().file_name().into_string().unwrap())
                        .map(move |n| if s.is_empty() { n } else { format!("{s}/{n}") })
                })
                .collect();
            v.sort();
            v
        };
        let names = |list: &[(&str, &str)]| list.iter().map(|(p, _)| p.to_string()).collect::<Vec<_>>();
        assert_eq!(names(RUST_SDK), files("guest-sdk", &["src", "wit"]));
        let mut rt = files("tests/guests/rt", &["", "src"]);
        rt.retain(|f| !["Cargo.toml", "build-bin.rs", "src"].contains(&f.as_str()));
        assert_eq!(names(GUEST_RT), rt);
    }

    /// The copy of `wemu-device-sdk` asks for what guest-sdk/Cargo.toml does.
    #[test]
    fn carried_sdk_has_the_workspace_dependencies() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let read =
            |p: &str| -> toml::Table { std::fs::read_to_string(root.join(p)).unwrap().parse().unwrap() };
        let workspace = read("Cargo.toml");
        let sdk = read("guest-sdk/Cargo.toml");
        let ours: toml::Table = SDK_DEPENDENCIES.parse().unwrap();
        let wanted: Vec<&String> = sdk["dependencies"].as_table().unwrap().keys().collect();
        assert_eq!(ours.keys().collect::<Vec<_>>().len(), wanted.len(), "{ours:?}");
        for name in wanted {
            assert_eq!(Some(&ours[name]), workspace["workspace"]["dependencies"].get(name), "{name}");
        }
        assert_eq!(workspace["workspace"]["package"]["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn js_skeleton_pins_what_doorbell_js_pins() {
        let (package, lock) = js_package("my-dev").unwrap();
        let pins = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.trim_start().starts_with("\"@bytecodealliance/"))
                .map(|l| l.trim().to_owned())
                .collect()
        };
        let doorbell = include_str!("../../../../devices/doorbell-js/package.json");
        let want = pins(doorbell);
        assert!(want.iter().any(|l| l.contains("componentize-js\": \"0.")), "{want:?}");
        assert_eq!(pins(&package), want, "package.json");
        // The lockfile's root entry, before the first installed package.
        let root = lock.split("\"node_modules/").next().unwrap();
        assert_eq!(pins(root), want, "package-lock.json's root entry");
        assert!(root.matches("\"name\": \"my-dev\"").count() == 2, "{root}");
        assert!(
            !lock.contains("wemu-doorbell-js")
                && !lock.contains("\"license\": \"Apache-2.0\",\n      \"devDependencies")
        );
        // Every installed package and its integrity hash is doorbell-js's.
        let tail = |l: &str| l.split_once("\n    \"node_modules/").unwrap().1.to_owned();
        assert_eq!(tail(&lock), tail(DOORBELL_JS_LOCK));
        assert!(package.contains("\"name\": \"my-dev\"") && package.contains("\"type\": \"module\""));
    }

    #[test]
    fn js_machine_raises_the_limits_and_the_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        for (lang, raised) in [(Lang::Js, true), (Lang::Rust, false), (Lang::C, false)] {
            let opts = Options { name: "m".into(), lang, dir: dir.path().join(format!("{lang:?}")) };
            create(&opts).unwrap();
            let machine = std::fs::read_to_string(opts.dir.join("machine.toml")).unwrap();
            assert_eq!(
                machine.contains("memory-limit = \"128M\"\nfuel = 200_000_000\n"),
                raised,
                "{machine}"
            );
            assert!(machine.ends_with("\"hart0.meip\"]\n") != raised, "{machine}");
        }
    }

    #[test]
    fn componentize_refuses_what_it_cannot_wrap() {
        assert!(componentize(b"\0asm\x0d\0\x01\0").unwrap_err().to_string().contains("already a component"));
        assert!(componentize(b"hello").unwrap_err().to_string().contains("not a wasm module"));
        let err = componentize(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(err.to_string().contains("no component type"), "{err:#}");
    }
}
