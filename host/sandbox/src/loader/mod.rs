//! The device loader: find a component by name, compile it once (through
//! the on-disk cache), check it against the contract, and keep an
//! `InstancePre` from which every instance gets its own store.

pub mod cache;
pub mod check;
pub mod search;

use std::collections::HashMap;
use std::rc::Rc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::contract::{self, DeviceModelPre};
use crate::device::{self, CreateError, DeviceImports, WasmDevice};
pub use cache::{CacheOutcome, CompileCache};
pub use check::{CheckError, Checked};
pub use search::{Origin, SearchPath};

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no device component named '{name}' (searched {searched})")]
    NotFound { name: String, searched: String },
    #[error("device component {origin}: cannot read it: {message}")]
    Io { origin: Origin, message: String },
    #[error("device component {origin} is not a valid WebAssembly component: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("device component {origin} cannot be used: {error}")]
    Check { origin: Origin, error: CheckError },
    #[error("device component {origin} cannot be linked: {message}")]
    Link { origin: Origin, message: String },
}

/// A compiled, checked component ready to instantiate.
pub struct LoadedComponent {
    pub name: String,
    pub origin: Origin,
    pub component: Component,
    pub pre: DeviceModelPre<DeviceImports>,
    pub checked: Checked,
    pub cache: CacheOutcome,
}

/// The wasmtime engine or the host-import linker could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("creating the wasm engine: {message}")]
    Engine { message: String },
    #[error("{message}")]
    Linker { message: String },
}

/// The wasmtime configuration every device runs under.
pub fn engine() -> Result<Engine, EngineError> {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    // Fuel makes the per-call budget deterministic (an epoch would depend on
    // host speed); it costs a few percent per call.
    cfg.consume_fuel(true);
    // No async component model: keeps the cheaper synchronous call path
    // (already the default with our wasmtime features; explicit so a
    // dependency enabling `component-model-async` cannot slow calls).
    cfg.concurrency_support(false);
    cfg.cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&cfg).map_err(|e| EngineError::Engine { message: format!("{e:#}") })
}

/// Finds, compiles and caches device components.
pub struct Loader {
    engine: Engine,
    linker: Linker<DeviceImports>,
    search: SearchPath,
    cache: Option<CompileCache>,
    loaded: HashMap<String, Rc<LoadedComponent>>,
}

impl Loader {
    pub fn new(search: SearchPath, cache: Option<CompileCache>) -> Result<Self, EngineError> {
        let engine = engine()?;
        let linker =
            device::linker(&engine).map_err(|e| EngineError::Linker { message: format!("{e:#}") })?;
        Ok(Loader { engine, linker, search, cache, loaded: HashMap::new() })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn search_path(&self) -> &SearchPath {
        &self.search
    }

    /// Load component `name` (a name on the search path, or a path).
    pub fn load(&mut self, name: &str) -> Result<Rc<LoadedComponent>, LoadError> {
        if let Some(c) = self.loaded.get(name) {
            return Ok(c.clone());
        }
        let origin = search::find_device(&self.search, name)
            .ok_or_else(|| LoadError::NotFound { name: name.to_owned(), searched: self.describe_search() })?;
        let bytes = search::read_device(&origin)
            .map_err(|e| LoadError::Io { origin: origin.clone(), message: e.to_string() })?;
        let loaded = Rc::new(self.compile(name, origin, &bytes)?);
        self.loaded.insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// Compile and check component bytes from `origin`.
    pub fn compile(&self, name: &str, origin: Origin, bytes: &[u8]) -> Result<LoadedComponent, LoadError> {
        let (component, cache) = self.compile_component(&origin, bytes)?;
        let checked = check::check(&self.engine, &component)
            .map_err(|error| LoadError::Check { origin: origin.clone(), error })?;
        let pre = self.link(&origin, &component)?;
        Ok(LoadedComponent { name: name.to_owned(), origin, component, pre, checked, cache })
    }

    /// Compile component bytes (through the cache), refusing core modules
    /// and non-wasm with an explanation. No contract check yet.
    pub fn compile_component(
        &self,
        origin: &Origin,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), LoadError> {
        if !wasmparser_is_component(bytes) {
            return Err(LoadError::Invalid {
                origin: origin.clone(),
                message: if bytes.starts_with(b"\0asm") {
                    "it is a core wasm module, not a component (wrap it with wit-component / \
                     `wasm-tools component new`, or `wemu componentize`)"
                        .into()
                } else {
                    "it does not start with the wasm magic bytes".into()
                },
            });
        }
        match &self.cache {
            Some(c) => c.load_or_compile(&self.engine, bytes),
            None => Component::new(&self.engine, bytes).map(|c| (c, CacheOutcome::Disabled)),
        }
        .map_err(|e| LoadError::Invalid { origin: origin.clone(), message: format!("{e:#}") })
    }

    /// Resolve a compiled component's imports against the host's.
    pub fn link(
        &self,
        origin: &Origin,
        component: &Component,
    ) -> Result<DeviceModelPre<DeviceImports>, LoadError> {
        self.linker
            .instantiate_pre(component)
            .and_then(DeviceModelPre::new)
            .map_err(|e| LoadError::Link { origin: origin.clone(), message: format!("{e:#}") })
    }

    /// Instantiate a loaded component under instance name `imports.name`.
    pub fn instantiate(
        &self,
        loaded: &LoadedComponent,
        imports: DeviceImports,
        fuel: u64,
        props: Vec<contract::types::Property>,
    ) -> Result<WasmDevice, CreateError> {
        WasmDevice::create(&self.engine, &loaded.pre, &loaded.name, imports, fuel, props)
    }

    fn describe_search(&self) -> String {
        let mut parts: Vec<String> = self.search.dirs.iter().map(|d| d.display().to_string()).collect();
        parts.push("the built-in devices".into());
        parts.join(", ")
    }
}

/// A component starts with the wasm magic and layer 1 (version 0x0d, 0x1).
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// An instance's component imports capabilities its machine file does not
/// grant it.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "device '{instance}' ({component}, from {origin}) imports capabilit{} {} that the machine does not grant it",
    if missing.len() == 1 { "y" } else { "ies" },
    how_to_grant(missing)
)]
pub struct GrantError {
    pub instance: String,
    pub component: String,
    pub origin: Origin,
    /// The capabilities (import interfaces) not granted.
    pub missing: Vec<&'static str>,
}

fn how_to_grant(missing: &[&str]) -> String {
    let how: Vec<String> = missing
        .iter()
        .map(|m| {
            let (key, opt) =
                contract::CAPABILITIES.iter().find(|(c, _, _)| c == m).map_or(("", ""), |(_, k, o)| (*k, *o));
            format!("'{m}' (grant it with `{key}` in the machine file, or `{opt}` in --device)")
        })
        .collect();
    how.join(", ")
}

/// Refuse a component whose imports need capabilities the machine file
/// does not grant this instance.
pub fn check_grants(loaded: &LoadedComponent, instance: &str, granted: &[&str]) -> Result<(), GrantError> {
    let missing: Vec<&'static str> =
        loaded.checked.capabilities.iter().copied().filter(|c| !granted.contains(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(GrantError {
        instance: instance.to_owned(),
        component: loaded.name.clone(),
        origin: loaded.origin.clone(),
        missing,
    })
}
