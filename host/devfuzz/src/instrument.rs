//! Coverage instrumentation of a device component, done at load time.
//!
//! The device's own code lives in one core module inside the component
//! (the largest one; the others are wit-component's small shims). We
//! rewrite that module so that every basic block increments an 8-bit
//! counter, and make the counters readable by the host:
//!
//! - The counters live in a **new, second linear memory** of the module
//!   (multi-memory), not in the device's own memory: the device's
//!   allocator, stack and data never see them, and nothing in the device
//!   can corrupt them by accident. Layout: bytes 0..8 hold a canonical-ABI
//!   `(ptr, len)` pair, the counters start at byte 16.
//! - A new core function returns a pointer to that pair. In the component
//!   it is lifted (`canon lift`, with the counter memory as its `memory`
//!   option) and exported at the top level as
//!   `wemu-fuzz-coverage: func() -> list<u64>` (the counters read as
//!   little-endian words, eight at a time).
//!
//! The host calls that export once per instance and keeps the returned
//! `WasmList<u8>`: wasmtime reads a `WasmList` from the live memory each
//! time, so from then on the counters cost no component call at all
//! (`coverage.rs`). Adding an *import* instead (a `cov(i)` call per block)
//! would need rewiring the component's instantiation graph and cost a host
//! call per block; exported globals or memories are not reachable through
//! the component API.
//!
//! A block starts at function entry, after `loop`, `if`, `else`, `catch*`,
//! after the `end` of any inner construct (a join point), and after every
//! conditional branch (`br_if`, `br_on_*`: the fall-through edge).
//!
//! Comparisons for equality with a constant (`x == 0x12`, often compiled
//! without a branch) also get a *value profile* as libFuzzer's
//! `-use_value_profile` does: counter `popcount(x ^ C)` of that site, so
//! an input whose register value shares more bits with the constant
//! counts as new coverage, and the fuzzer climbs towards magic values.
//! These features follow the block counters in the map. The constants
//! compared against also form the mutator's dictionary (`ops.rs`).

use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, Component, ComponentExportKind, ComponentExportSection,
    ComponentTypeSection, ComponentValType, ExportKind, PrimitiveValType, RawSection,
};
use wasmparser::{
    CanonicalFunction, ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, ComponentTypeRef,
    Instance, Operator, Parser, Payload,
};

mod module;

use module::{instrument_module, is_comparison};

/// Name of the component export the host reads the counters through.
pub const COVERAGE_EXPORT: &str = "wemu-fuzz-coverage";
/// Core export names added to the device's module.
const CORE_FUNC: &str = "wemu-fuzz-coverage";
const CORE_MEMORY: &str = "wemu-fuzz-map";
/// Where the counters start in the counter memory.
pub const MAP_OFFSET: u32 = 16;
/// At most this many constants are kept for the value dictionary.
const MAX_DICTIONARY: usize = 4096;

/// The result of instrumenting a component.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten component.
    pub component: Vec<u8>,
    /// Instrumented blocks: the first `blocks` counters.
    pub blocks: usize,
    /// All counters: blocks, then value-profile features.
    pub counters: usize,
    /// The equality comparisons with a constant, in slot order.
    pub sites: Vec<CmpSite>,
    /// Bytes of the counter memory the instrumentation added: the
    /// fuzzer's, not charged to the device's memory limit.
    pub map_bytes: u64,
    /// Word index (in the coverage list) of the first comparison slot.
    pub slots: usize,
}

/// One `x == C` comparison in the device's code. Its value-profile
/// counters are `base .. base + 33` (65 when 64-bit), and its slot (8
/// bytes, little-endian) holds the last `x` it compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmpSite {
    pub base: u32,
    pub constant: u64,
    pub wide: bool,
}

impl CmpSite {
    pub fn features(&self) -> u32 {
        if self.wide { 65 } else { 33 }
    }
}

/// The constants the device's code compares against (sorted, deduplicated,
/// at most `MAX_DICTIONARY`): command codes, magic values, limits.
pub fn dictionary(component: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        let Ok(Payload::CodeSectionEntry(body)) = payload else { continue };
        let Ok(mut ops) = body.get_operators_reader() else { continue };
        let mut last: Option<u64> = None;
        while let Ok(op) = ops.read() {
            if is_comparison(&op)
                && let Some(c) = last
            {
                out.push(c);
            }
            last = match op {
                Operator::I32Const { value } => Some(u64::from(value as u32)),
                Operator::I64Const { value } => Some(value as u64),
                _ => None,
            };
        }
    }
    out.sort_unstable();
    out.dedup();
    // Prefer the small constants: register values rather than limits.
    out.truncate(MAX_DICTIONARY);
    out
}

/// Index-space sizes of the outer component seen so far (only what the
/// new sections need) and where the device's core module is instantiated.
#[derive(Default)]
struct Spaces {
    core_modules: u32,
    core_instances: u32,
    core_funcs: u32,
    core_memories: u32,
    types: u32,
    funcs: u32,
}

/// One top-level section of the component, kept raw unless it is the
/// module we rewrite.
enum Section {
    Raw(u8, std::ops::Range<usize>),
    Module(u32, std::ops::Range<usize>),
}

/// Why a component could not be instrumented (the fuzzer then runs
/// without coverage).
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    #[error("parsing the component: {0}")]
    ParseComponent(wasmparser::BinaryReaderError),
    /// The core module does not read.
    #[error(transparent)]
    Read(#[from] wasmparser::BinaryReaderError),
    #[error("not a component")]
    NotComponent,
    #[error("the component has no core module")]
    NoCoreModule,
    #[error("its main core module is not instantiated exactly once")]
    NotInstantiatedOnce,
    #[error("it is already instrumented")]
    AlreadyInstrumented,
    #[error("its main module has no code")]
    NoCode,
    #[error("a function without a type")]
    FunctionWithoutType,
    #[error("function locals: {0}")]
    Locals(String),
    #[error("re-encoding: {0}")]
    Reencode(String),
    #[error("re-encoding an instruction: {0}")]
    ReencodeInstruction(String),
    #[error("rewriting the device module: {0}")]
    Rewrite(String),
    #[error("counting the comparison sites went wrong ({counted} != {expected})")]
    CountMismatch { counted: usize, expected: usize },
}

type Result<T, E = InstrumentError> = std::result::Result<T, E>;

/// Instrument the device's core module in `component` (see the module docs).
pub fn instrument(component: &[u8]) -> Result<Instrumented> {
    let mut sections = Vec::new();
    let mut sp = Spaces::default();
    // (module index, core instance index) of every core instantiation.
    let mut instantiations: Vec<(u32, u32)> = Vec::new();
    let mut depth = 0u32;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(InstrumentError::ParseComponent)?;
        if depth > 0 {
            // Inside a nested module or component: its own index spaces.
            match payload {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth -= 1,
                _ => {}
            }
            continue;
        }
        match &payload {
            Payload::Version { encoding, .. } => {
                if *encoding != wasmparser::Encoding::Component {
                    return Err(InstrumentError::NotComponent);
                }
                continue;
            }
            Payload::End(_) => continue,
            Payload::ModuleSection { unchecked_range, .. } => {
                sections.push(Section::Module(sp.core_modules, unchecked_range.clone()));
                sp.core_modules += 1;
                depth += 1;
                continue;
            }
            Payload::ComponentSection { .. } => depth += 1,
            Payload::InstanceSection(r) => {
                for inst in r.clone() {
                    if let Instance::Instantiate { module_index, .. } = inst? {
                        instantiations.push((module_index, sp.core_instances));
                    }
                    sp.core_instances += 1;
                }
            }
            Payload::ComponentAliasSection(r) => {
                for alias in r.clone() {
                    match alias? {
                        ComponentAlias::CoreInstanceExport { kind, .. } => match kind {
                            wasmparser::ExternalKind::Func => sp.core_funcs += 1,
                            wasmparser::ExternalKind::Memory => sp.core_memories += 1,
                            _ => {}
                        },
                        ComponentAlias::InstanceExport { kind, .. } => sp.count_external(kind),
                        ComponentAlias::Outer { kind, .. } => match kind {
                            ComponentOuterAliasKind::CoreModule => sp.core_modules += 1,
                            ComponentOuterAliasKind::Type => sp.types += 1,
                            ComponentOuterAliasKind::CoreType | ComponentOuterAliasKind::Component => {}
                        },
                    }
                }
            }
            Payload::ComponentTypeSection(r) => sp.types += r.count(),
            Payload::ComponentImportSection(r) => {
                for import in r.clone() {
                    match import?.ty {
                        ComponentTypeRef::Module(_) => sp.core_modules += 1,
                        ComponentTypeRef::Func(_) => sp.funcs += 1,
                        ComponentTypeRef::Type(_) => sp.types += 1,
                        _ => {}
                    }
                }
            }
            Payload::ComponentExportSection(r) => {
                for export in r.clone() {
                    sp.count_external(export?.kind);
                }
            }
            Payload::ComponentCanonicalSection(r) => {
                for canon in r.clone() {
                    match canon? {
                        CanonicalFunction::Lift { .. } => sp.funcs += 1,
                        // Every other canonical builtin defines a core function.
                        _ => sp.core_funcs += 1,
                    }
                }
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            sections.push(Section::Raw(id, range));
        }
    }

    // The device's code: the largest module, instantiated exactly once.
    let (main, main_range) = sections
        .iter()
        .filter_map(|s| match s {
            Section::Module(i, r) => Some((*i, r.clone())),
            Section::Raw(..) => None,
        })
        .max_by_key(|(_, r)| r.len())
        .ok_or(InstrumentError::NoCoreModule)?;
    let instance = match instantiations.iter().filter(|(m, _)| *m == main).collect::<Vec<_>>()[..] {
        [(_, i)] => *i,
        _ => return Err(InstrumentError::NotInstantiatedOnce),
    };

    let (module, layout) = instrument_module(&component[main_range])?;

    let mut out = Component::new();
    for s in &sections {
        match s {
            Section::Raw(id, range) => {
                out.section(&RawSection { id: *id, data: &component[range.clone()] });
            }
            Section::Module(i, _) if *i == main => {
                out.section(&wasm_encoder::ModuleSection(&module));
            }
            Section::Module(_, range) => {
                out.section(&RawSection {
                    id: wasm_encoder::ComponentSectionId::CoreModule as u8,
                    data: &component[range.clone()],
                });
            }
        }
    }

    // Alias the new core exports, lift the function, export it.
    let mut aliases = wasm_encoder::ComponentAliasSection::new();
    aliases.alias(Alias::CoreInstanceExport { instance, kind: ExportKind::Func, name: CORE_FUNC });
    aliases.alias(Alias::CoreInstanceExport { instance, kind: ExportKind::Memory, name: CORE_MEMORY });
    out.section(&aliases);
    let (core_func, core_memory) = (sp.core_funcs, sp.core_memories);

    let mut types = ComponentTypeSection::new();
    types.defined_type().list(PrimitiveValType::U64);
    types
        .function()
        .params(std::iter::empty::<(&str, ComponentValType)>())
        .result(Some(ComponentValType::Type(sp.types)));
    out.section(&types);
    let func_type = sp.types + 1;

    let mut canon = CanonicalFunctionSection::new();
    canon.lift(core_func, func_type, [CanonicalOption::Memory(core_memory)]);
    out.section(&canon);

    let mut exports = ComponentExportSection::new();
    exports.export(COVERAGE_EXPORT, ComponentExportKind::Func, sp.funcs, None);
    out.section(&exports);

    Ok(Instrumented {
        component: out.finish(),
        blocks: layout.blocks as usize,
        counters: layout.counters as usize,
        sites: layout.sites,
        slots: ((layout.slots - MAP_OFFSET) / 8) as usize,
        map_bytes: layout.map_bytes,
    })
}

impl Spaces {
    fn count_external(&mut self, kind: ComponentExternalKind) {
        match kind {
            ComponentExternalKind::Module => self.core_modules += 1,
            ComponentExternalKind::Func => self.funcs += 1,
            ComponentExternalKind::Type => self.types += 1,
            _ => {}
        }
    }
}
