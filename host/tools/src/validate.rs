//! `wemu validate`: everything the loader and a machine would find wrong
//! with a device component, found up front and reported one line per
//! check. The static checks are the loader's own (`loader::check`,
//! `Loader::compile_component`/`link`); the dynamic ones instantiate the
//! component in a sandbox like `wemu devices` does (no grants, the default
//! memory limit and fuel budget) and exercise `create`, an MMIO read,
//! `reset`, `save` and `restore`.

use std::fmt;
use std::time::Instant;

use wemu_sandbox::contract::{self, types};
use wemu_sandbox::device::{self, DeviceImports, WasmDevice};
use wemu_sandbox::loader::{LoadError, LoadedComponent, Loader, Origin, check};

/// A component larger than this is refused (wemu reads it whole).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Above this, a warning: a release build of a device is usually 20–150 KB.
pub const WARN_FILE_BYTES: u64 = 2 << 20;
/// A region larger than this is suspicious (warning).
pub const WARN_REGION_BYTES: u64 = 256 << 20;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What was checked, e.g. "export", "create".
    pub check: &'static str,
    pub message: String,
}

/// Every finding about one component, in the order checked.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn push(&mut self, level: Level, check: &'static str, message: impl Into<String>) {
        self.findings.push(Finding { level, check, message: message.into() });
    }
    fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(Level::Ok, check, message);
    }
    fn warn(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(Level::Warning, check, message);
    }
    fn error(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(Level::Error, check, message);
    }

    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    pub fn has_errors(&self) -> bool {
        self.count(Level::Error) > 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for x in &self.findings {
            // Continuation lines (a backtrace) stay under the message.
            let message = x.message.replace('\n', "\n                         ");
            writeln!(f, "{:<9}{:<16}{message}", x.level, x.check)?;
        }
        let (e, w) = (self.count(Level::Error), self.count(Level::Warning));
        write!(
            f,
            "result: {}: {} ok, {w} warning{}, {e} error{}",
            if e > 0 { "INVALID" } else { "valid" },
            self.count(Level::Ok),
            if w == 1 { "" } else { "s" },
            if e == 1 { "" } else { "s" }
        )
    }
}

/// What the sandbox gives the instance.
#[derive(Debug, Clone)]
pub struct Options {
    /// Properties for `create` (none by default).
    pub props: Vec<types::Property>,
    pub fuel: u64,
    pub memory_limit: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { props: Vec::new(), fuel: device::DEFAULT_FUEL, memory_limit: device::DEFAULT_MEMORY_LIMIT }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

fn fuel_note(used: u64, budget: u64) -> String {
    format!("{used} fuel of {budget}")
}

/// The source language the component's own `producers` section names
/// (not its inner modules'), if any: componentize-js writes `JavaScript`.
fn language(bytes: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => {
                depth += 1
            }
            wasmparser::Payload::End(_) if depth == 0 => break,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::CustomSection(c) if depth == 0 => {
                if let wasmparser::KnownCustom::Producers(fields) = c.as_known() {
                    for field in fields.into_iter().flatten().filter(|f| f.name == "language") {
                        if let Some(Ok(v)) = field.values.into_iter().next() {
                            return Some(v.name.to_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Validate component `bytes` (from `origin`, loaded as `name`).
pub fn validate(loader: &Loader, name: &str, origin: Origin, bytes: &[u8], opts: &Options) -> Report {
    let mut r = Report::default();
    let size = bytes.len() as u64;
    if size > MAX_FILE_BYTES {
        r.error("file", format!("{size} bytes, more than the {} wemu accepts", human_bytes(MAX_FILE_BYTES)));
        return r;
    } else if size > WARN_FILE_BYTES && language(bytes).as_deref() == Some("JavaScript") {
        // componentize-js embeds the SpiderMonkey engine: ~12 MB whatever
        // the device's own code.
        r.ok("file", format!("{size} bytes (JavaScript: mostly the engine the component embeds)"));
    } else if size > WARN_FILE_BYTES {
        r.warn(
            "file",
            format!("{size} bytes: large for a device (a debug build? release builds are 20-150 KB)"),
        );
    } else {
        r.ok("file", format!("{size} bytes"));
    }

    let started = Instant::now();
    let (component, cache) = match loader.compile_component(&origin, bytes) {
        Ok(c) => c,
        Err(LoadError::Invalid { message, .. }) => {
            r.error("format", message);
            return r;
        }
        Err(e) => {
            r.error("format", e.to_string());
            return r;
        }
    };
    r.ok("format", "a WebAssembly component");
    let how = match cache {
        wemu_sandbox::loader::CacheOutcome::Hit => " (from the compile cache)",
        _ => "",
    };
    r.ok("compile", format!("wasmtime compiled it in {:.1} ms{how}", started.elapsed().as_secs_f64() * 1e3));

    let engine = loader.engine();
    let host = contract::version_string();
    let version = match check::export_version(engine, &component) {
        Ok(v) => {
            r.ok(
                "contract",
                format!(
                    "exports {pkg}/device@{}; this wemu implements {pkg}@{host} (loads {})",
                    check::fmt_version(v),
                    check::compat_range(contract::VERSION),
                    pkg = contract::PACKAGE
                ),
            );
            Some(v)
        }
        Err(e) => {
            r.error("contract", e.to_string());
            None
        }
    };
    let others: Vec<String> = check::exports(engine, &component)
        .into_iter()
        .filter(|n| !n.starts_with(&format!("{}/device@", contract::PACKAGE)))
        .collect();
    if version.is_some() && !others.is_empty() {
        r.warn("exports", format!("also exports {}, which wemu ignores", others.join(", ")));
    }

    let imports = check::imports(engine, &component);
    let mut capabilities = Vec::new();
    let mut fine = Vec::new();
    for (import, found) in &imports {
        match found {
            Ok(cap) => {
                fine.push(import.clone());
                capabilities.extend(*cap);
            }
            Err(e) => r.error("imports", e.to_string()),
        }
    }
    if fine.len() == imports.len() {
        r.ok("imports", if fine.is_empty() { "none".to_owned() } else { fine.join(", ") });
    }
    capabilities.sort_by_key(|c| contract::CAPABILITIES.iter().position(|(k, _, _)| k == c));
    capabilities.dedup();
    let grants: Vec<String> = capabilities
        .iter()
        .map(|c| {
            let (key, opt) =
                contract::CAPABILITIES.iter().find(|(k, _, _)| k == c).map_or(("", ""), |(_, k, o)| (*k, *o));
            format!("{c} (grant: `{key}` in a machine file, `{opt}` in --device)")
        })
        .collect();
    r.ok("capabilities", if grants.is_empty() { "none needed".to_owned() } else { grants.join("; ") });
    let Some(version) = version.filter(|_| !r.has_errors()) else { return r };

    let pre = match loader.link(&origin, &component) {
        Ok(p) => p,
        Err(e) => {
            r.error("link", e.to_string());
            return r;
        }
    };
    r.ok("link", "every import resolves against this wemu");

    let loaded = LoadedComponent {
        name: name.to_owned(),
        origin,
        component,
        pre,
        checked: check::Checked { version, capabilities },
        cache,
    };
    run_instance(loader, &loaded, opts, &mut r);
    r
}

/// The dynamic checks: create, describe, MMIO, reset, save/restore, memory.
fn run_instance(loader: &Loader, loaded: &LoadedComponent, opts: &Options, r: &mut Report) {
    let with = if opts.props.is_empty() {
        "no properties".to_owned()
    } else {
        let names: Vec<&str> = opts.props.iter().map(|p| p.name.as_str()).collect();
        format!("properties {}", names.join(", "))
    };
    let imports = DeviceImports::new(&loaded.name, opts.memory_limit);
    let started = Instant::now();
    let mut dev = match loader.instantiate(loaded, imports, opts.fuel, opts.props.clone()) {
        Ok(d) => d,
        Err(device::CreateError::Refused { message, .. }) => {
            r.error("create", format!("refused {with}: {message} (give what it needs with --props k=v,...)"));
            return;
        }
        Err(e) => {
            r.error("create", format!("with {with}: {e}"));
            return;
        }
    };
    let took = started.elapsed();
    r.ok(
        "create",
        format!(
            "with {with}: instantiated and created in {:.0} µs, {}",
            took.as_secs_f64() * 1e6,
            fuel_note(dev.fuel_used(), device::SETUP_FUEL)
        ),
    );
    describe(&dev, r);
    exercise(&mut dev, opts, r);

    let (initial, peak) = dev.memory_use();
    let limit = opts.memory_limit;
    let msg = format!(
        "memories and tables together {} at start, {} at most, limit {} (on the sum)",
        initial.map_or("none".to_owned(), human_bytes),
        human_bytes(peak),
        human_bytes(limit)
    );
    if initial.unwrap_or(0) > limit / 2 || peak > limit / 2 {
        r.warn("memory", format!("{msg}: over half the limit before any guest activity"));
    } else {
        r.ok("memory", msg);
    }
}

fn describe(dev: &WasmDevice, r: &mut Report) {
    let d = dev.description();
    if d.model.trim().is_empty() || d.version.trim().is_empty() {
        r.error("model", format!("name {:?} and version {:?} must both be non-empty", d.model, d.version));
    } else if !is_semver(&d.version) {
        r.warn("model", format!("{} {}: the version is not MAJOR.MINOR.PATCH", d.model, d.version));
    } else {
        r.ok("model", format!("{} {}", d.model, d.version));
    }

    if d.regions.is_empty() {
        r.warn("regions", "none: the guest cannot reach this device's registers");
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, (name, size)) in d.regions.iter().enumerate() {
        let what = format!("region {i} '{name}' ({size:#x} bytes)");
        if *size == 0 {
            r.error("regions", format!("{what}: size 0 (a machine cannot place it)"));
        } else if name.trim().is_empty() {
            r.warn("regions", format!("{what}: no name (traces and errors show it)"));
        } else if !names.insert(name.as_str()) {
            r.warn("regions", format!("{what}: a second region with this name"));
        } else if *size > WARN_REGION_BYTES {
            r.warn("regions", format!("{what}: larger than {}", human_bytes(WARN_REGION_BYTES)));
        } else {
            r.ok("regions", what);
        }
    }

    // The host refuses more lines than MAX_IRQ_LINES in `create` already.
    r.ok(
        "irq lines",
        format!("{} out, {} in (at most {} each)", d.irq_outputs, d.irq_inputs, device::MAX_IRQ_LINES),
    );

    match &d.dt_node {
        None => r.ok("device tree", "no node (invisible to the guest's OS)"),
        Some(node) => {
            let shown = format!("{} compatible = {:?}", node.name, node.compatible);
            match wemu_machine::fdt::check_node(node) {
                Err(e) => r.error("device tree", format!("{shown}: {e}")),
                Ok(warnings) if warnings.is_empty() => r.ok("device tree", shown),
                Ok(warnings) => {
                    for w in warnings {
                        r.warn("device tree", format!("{shown}: {w}"));
                    }
                }
            }
        }
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// MMIO probe, reset, save/restore round trip, foreign state. Stops at the
/// first fault: a trapped instance refuses further calls.
fn exercise(dev: &mut WasmDevice, opts: &Options, r: &mut Report) {
    let budget = opts.fuel;
    let n_regions = dev.description().regions.len() as u32;
    let mut probed = Vec::new();
    for region in 0..n_regions {
        match dev.read(0, region, 0, 4) {
            Ok(Ok(v)) => probed.push(format!("region {region}: {v:#x} ({} fuel)", dev.fuel_used())),
            Ok(Err(e)) => probed.push(format!("region {region}: refused ({e:?}, {} fuel)", dev.fuel_used())),
            Err(fault) => {
                r.error("mmio", format!("4-byte read at offset 0 of region {region}: {}", fault.kind));
                return;
            }
        }
    }
    if !probed.is_empty() {
        r.ok("mmio", format!("4-byte read at offset 0: {}", probed.join(", ")));
    }

    if let Err(fault) = dev.reset(0) {
        r.error("reset", fault.kind.to_string());
        return;
    }
    r.ok("reset", fuel_note(dev.fuel_used(), budget));

    let saved = match dev.save(0) {
        Ok(s) => s,
        Err(fault) => {
            r.error("save", fault.kind.to_string());
            return;
        }
    };
    r.ok("save", format!("{} bytes of state, {}", saved.len(), fuel_note(dev.fuel_used(), budget)));

    match dev.restore(0, &saved) {
        Err(fault) => {
            r.error("restore", format!("of its own saved state: {}", fault.kind));
            return;
        }
        Ok(Err(e)) => r.error("restore", format!("refused its own saved state: {e}")),
        Ok(Ok(())) => {
            let restore_fuel = dev.fuel_used();
            match dev.save(0) {
                Err(fault) => {
                    r.error("save", format!("after restore: {}", fault.kind));
                    return;
                }
                Ok(again) if again == saved => r.ok(
                    "restore",
                    format!(
                        "round-trips (saving again gives the same bytes), {}",
                        fuel_note(restore_fuel, budget)
                    ),
                ),
                Ok(again) => r.warn(
                    "restore",
                    format!(
                        "accepted its state, but saving again gives different bytes ({} vs {})",
                        again.len(),
                        saved.len()
                    ),
                ),
            }
        }
    }

    const FOREIGN: &[u8] = b"wemu validate: not a saved state";
    match dev.restore(0, FOREIGN) {
        Err(fault) => r.error(
            "restore",
            format!("of foreign bytes trapped instead of returning an error: {}", fault.kind),
        ),
        Ok(Ok(())) => r.warn("restore", "accepted foreign bytes as a state (it should return an error)"),
        Ok(Err(e)) => r.ok("restore", format!("refuses foreign bytes: {e}")),
    }
    // Effects the calls queued (IRQ levels, timers) have no machine here.
    let _ = dev.take_effects();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_is_the_components_own_not_an_inner_modules() {
        let js = wat::parse_str(r#"(component (@producers (language "JavaScript" "")))"#).unwrap();
        assert_eq!(language(&js).as_deref(), Some("JavaScript"));
        let inner = wat::parse_str(r#"(component (core module (@producers (language "C11" ""))))"#).unwrap();
        assert_eq!(language(&inner), None);
        assert_eq!(language(b"not wasm"), None);
    }

    #[test]
    fn semver_check() {
        assert!(is_semver("0.1.0"));
        assert!(is_semver("1.2.3-rc.1"));
        assert!(!is_semver("1.2"));
        assert!(!is_semver("v1.2.3"));
    }

    #[test]
    fn report_counts_and_verdict() {
        let mut r = Report::default();
        r.ok("file", "1 byte");
        r.warn("model", "odd");
        assert!(!r.has_errors());
        assert!(r.to_string().ends_with("result: valid: 1 ok, 1 warning, 0 errors"), "{r}");
        r.error("create", "trapped");
        assert!(r.to_string().contains("error    create          trapped"), "{r}");
        assert!(r.to_string().ends_with("result: INVALID: 1 ok, 1 warning, 1 error"), "{r}");
    }
}
