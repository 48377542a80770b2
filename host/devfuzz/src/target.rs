//! The device under test: found on the same search path a machine uses,
//! instrumented for coverage, compiled once and shared by all workers.

use super::env::{PORTS, Sandbox};
use super::instrument;
use super::ops::{Codec, Profile};
use wemu_sandbox::contract::types::Property;
use wemu_sandbox::device::{self, CreateError};
use wemu_sandbox::loader::{LoadError, LoadedComponent, Loader, Origin, search};

/// Why the device under test could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FuzzTargetError {
    #[error("no device component named '{name}' (see `wemu devices` for the search path)")]
    NotFound { name: String },
    #[error("reading {origin}: {error}")]
    Read { origin: Origin, error: std::io::Error },
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `create` refused the properties.
    #[error("{0} (set them with --props)")]
    Refused(Box<CreateError>),
    /// The first instance could not be made.
    #[error("{0}")]
    Create(Box<CreateError>),
}

/// How to load the target.
#[derive(Debug, Clone)]
pub struct FuzzTargetOptions {
    pub name: String,
    pub props: Vec<Property>,
    /// Instrument the component for block coverage.
    pub coverage: bool,
    pub fuel: u64,
    pub memory_limit: u64,
}

impl FuzzTargetOptions {
    pub fn new(name: &str) -> Self {
        FuzzTargetOptions {
            name: name.to_owned(),
            props: Vec::new(),
            coverage: true,
            fuel: device::DEFAULT_FUEL,
            memory_limit: device::DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// A loaded, checked (and maybe instrumented) device, ready to instantiate
/// in any thread.
pub struct FuzzTarget {
    pub name: String,
    pub engine: wasmtime::Engine,
    pub loaded: LoadedComponent,
    pub props: Vec<Property>,
    pub fuel: u64,
    pub memory_limit: u64,
    /// The counter memory the instrumentation added, exempt from
    /// `memory_limit` (it is the fuzzer's, not the device's).
    pub coverage_bytes: u64,
    /// Number of instrumented blocks, when instrumented.
    pub blocks: Option<usize>,
    /// All coverage counters (blocks and value-profile features).
    pub counters: usize,
    /// Equality comparisons with constants, and where their slots start.
    pub sites: Vec<instrument::CmpSite>,
    pub slots: usize,
    pub codec: Codec,
    /// Why coverage is off although it was asked for.
    pub coverage_note: Option<String>,
}

impl FuzzTarget {
    /// Find, instrument, compile and check `opts.name`, then create it once
    /// to learn its regions and lines (and to check the properties).
    pub fn load(loader: &Loader, opts: &FuzzTargetOptions) -> Result<Self, FuzzTargetError> {
        let origin = search::find_device(loader.search_path(), &opts.name)
            .ok_or_else(|| FuzzTargetError::NotFound { name: opts.name.clone() })?;
        let original = search::read_device(&origin)
            .map_err(|error| FuzzTargetError::Read { origin: origin.clone(), error })?;
        let dictionary = instrument::dictionary(&original);
        let (bytes, instrumented, coverage_note) = if opts.coverage {
            match instrument::instrument(&original) {
                Ok(i) => (i.component.clone(), Some(i), None),
                Err(e) => (original.to_vec(), None, Some(format!("cannot instrument {origin}: {e:#}"))),
            }
        } else {
            (original.to_vec(), None, None)
        };
        let loaded = loader.compile(&opts.name, origin, &bytes)?;
        let mut target = FuzzTarget {
            name: opts.name.clone(),
            engine: loader.engine().clone(),
            loaded,
            props: opts.props.clone(),
            fuel: opts.fuel,
            memory_limit: opts.memory_limit,
            coverage_bytes: instrumented.as_ref().map_or(0, |i| i.map_bytes),
            blocks: instrumented.as_ref().map(|i| i.blocks),
            counters: instrumented.as_ref().map_or(0, |i| i.counters),
            sites: instrumented.as_ref().map(|i| i.sites.clone()).unwrap_or_default(),
            slots: instrumented.as_ref().map_or(0, |i| i.slots),
            codec: Codec::new(Profile::default()),
            coverage_note,
        };
        let sandbox = match Sandbox::new(&target) {
            Ok(s) => s,
            Err(e @ CreateError::Refused { .. }) => return Err(FuzzTargetError::Refused(Box::new(e))),
            Err(e) => return Err(FuzzTargetError::Create(Box::new(e))),
        };
        let d = sandbox.dev.description();
        let caps = &target.loaded.checked.capabilities;
        target.codec = Codec::new(Profile {
            regions: d.regions.clone(),
            irq_inputs: d.irq_inputs,
            ports: if caps.contains(&"chardev") { PORTS } else { 0 },
            timers: caps.contains(&"clock"),
            dma: caps.contains(&"dma"),
            block: caps.contains(&"block"),
            dictionary,
        });
        Ok(target)
    }
}
