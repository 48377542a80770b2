//! `wemu new-device`: a buildable, tested device skeleton in Rust, C or
//! JavaScript, outside the wemu tree, plus a guest program and a machine
//! file that use it; and `wemu componentize`, which turns the core wasm
//! module the Rust and C skeletons build into the component wemu loads.
//!
//! Every language gets the same register map (ID, SCRATCH, DOORBELL,
//! STATUS with one interrupt line), so one guest program serves all.
//! The Rust skeleton depends on `wemu-guest` by path into the SDK tree
//! (`--sdk`, default: the tree this wemu was built from); the C skeleton
//! gets a copy of the C SDK, so it builds with clang alone; the JavaScript
//! one reads the contract from the SDK tree when it builds, and pins
//! componentize-js exactly as `devices/doorbell-js` does (its lockfile).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};

/// The language of a skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    C,
    Js,
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rust" => Ok(Lang::Rust),
            "c" => Ok(Lang::C),
            "js" | "javascript" => Ok(Lang::Js),
            _ => Err(format!("'{s}' is not a language wemu has a device SDK for (rust, c, js)")),
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
    /// A wemu source tree (`guest-sdk/`, `tests/guests/rt/`).
    pub sdk: PathBuf,
}

/// The source tree this binary was built from (the default `--sdk`).
pub fn default_sdk() -> PathBuf {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR"));
    tools.ancestors().nth(2).unwrap_or(tools).to_path_buf()
}

/// Device names: lowercase letters, digits and single dashes, starting
/// with a letter; at most 31 characters (a device-tree node name).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let starts = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !ok_chars || !starts || name.ends_with('-') || name.contains("--") || name.len() > 31 {
        return Err(format!(
            "'{name}' is not a device name: use lowercase letters, digits and single dashes, \
             starting with a letter, at most 31 characters (e.g. my-timer)"
        ));
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
    let bad = || {
        anyhow::anyhow!("devices/doorbell-js/package-lock.json is not the lockfile version 3 layout expected")
    };
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
    check_name(&opts.name).map_err(anyhow::Error::msg)?;
    let sdk = opts.sdk.canonicalize().with_context(|| format!("--sdk {}", opts.sdk.display()))?;
    for needed in ["guest-sdk/Cargo.toml", "wit/device.wit", "tests/guests/rt/link.x"] {
        if !sdk.join(needed).is_file() {
            bail!("--sdk {}: no {needed} there; pass the root of a wemu source tree", sdk.display());
        }
    }
    let sdk_str = sdk.to_str().context("the SDK path is not UTF-8")?;
    if sdk_str.contains(['"', '\\', '\n', '$']) {
        bail!("--sdk {sdk_str}: the path contains a character the generated files cannot quote");
    }
    if opts.dir.exists() && std::fs::read_dir(&opts.dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty", opts.dir.display());
    }

    let name = opts.name.as_str();
    let krate = name.replace('-', "_");
    let list = |files: &[&str]| files.join(" ");
    let vars: Vec<(&str, String)> = vec![
        ("name", name.to_owned()),
        ("crate", krate.clone()),
        ("Type", type_name(name)),
        ("sdk", sdk_str.to_owned()),
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
    let mut text =
        |path: String, template: &str| files.push((path.into(), render(template, &vars).into_bytes()));
    text("machine.toml".into(), include_str!("templates/common/machine.toml.tmpl"));
    text(".gitignore".into(), include_str!("templates/common/gitignore.tmpl"));
    text("guest/Cargo.toml".into(), include_str!("templates/guest/Cargo.toml.tmpl"));
    text("guest/build.rs".into(), include_str!("templates/guest/build.rs.tmpl"));
    text("guest/src/main.rs".into(), include_str!("templates/guest/main.rs.tmpl"));
    match opts.lang {
        Lang::Rust => {
            text("Cargo.toml".into(), include_str!("templates/rust/Cargo.toml.tmpl"));
            text("src/lib.rs".into(), include_str!("templates/rust/lib.rs.tmpl"));
            text("README.md".into(), include_str!("templates/rust/README.md.tmpl"));
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
            text("src/model.js".into(), include_str!("templates/js/model.js.tmpl"));
            text("src/device.js".into(), include_str!("templates/js/device.js.tmpl"));
            text(format!("test/{name}.test.js"), include_str!("templates/js/test.js.tmpl"));
            text("README.md".into(), include_str!("templates/js/README.md.tmpl"));
            let (package, lock) = js_package(name)?;
            files.push(("package.json".into(), package.into_bytes()));
            files.push(("package-lock.json".into(), lock.into_bytes()));
        }
    }

    let mut written = Vec::new();
    for (rel, bytes) in files {
        let path = opts.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
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
                "\nwemu is not on your PATH; the steps below need it:\n  export PATH={}:$PATH",
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
/// embeds: Rust via `wemu-guest`, C via `device_model_component_type.o`)
/// into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    if module.len() >= 8 && module[..4] == *b"\0asm" && module[6..8] == [1, 0] {
        bail!("it is already a component");
    }
    if !module.starts_with(b"\0asm") {
        bail!("it is not a wasm module (no wasm magic bytes)");
    }
    let (with_type, _) = wit_component::metadata::decode(module).context("reading the module")?;
    if with_type.is_none() {
        bail!(
            "it carries no component type (the custom section wit-bindgen embeds): \
             Rust: build the crate with wemu-guest; C: link device_model_component_type.o"
        );
    }
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder.module(module).context(
        "reading the component type wit-bindgen embeds (Rust: build with wemu-guest; \
         C: link device_model_component_type.o)",
    )?;
    encoder.validate(true).encode().context("making the component")
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
            let opts = Options {
                name: "my-dev".into(),
                lang,
                dir: dir.path().join(format!("{lang:?}")),
                sdk: default_sdk(),
            };
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
            let opts = Options {
                name: "m".into(),
                lang,
                dir: dir.path().join(format!("{lang:?}")),
                sdk: default_sdk(),
            };
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
