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

use anyhow::{Context, Result, bail};
use wasm_encoder::reencode::{self, Reencode, RoundtripReencoder};
use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, Component, ComponentExportKind, ComponentExportSection,
    ComponentTypeSection, ComponentValType, ExportKind, Function, Instruction, MemArg, MemoryType,
    PrimitiveValType, RawSection,
};
use wasmparser::{
    CanonicalFunction, ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, ComponentTypeRef,
    Instance, Operator, Parser, Payload,
};

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

/// Instrument the device's core module in `component` (see the module docs).
pub fn instrument(component: &[u8]) -> Result<Instrumented> {
    let mut sections = Vec::new();
    let mut sp = Spaces::default();
    // (module index, core instance index) of every core instantiation.
    let mut instantiations: Vec<(u32, u32)> = Vec::new();
    let mut depth = 0u32;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.context("parsing the component")?;
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
                    bail!("not a component");
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
        .context("the component has no core module")?;
    let instance = match instantiations.iter().filter(|(m, _)| *m == main).collect::<Vec<_>>()[..] {
        [(_, i)] => *i,
        _ => bail!("its main core module is not instantiated exactly once"),
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

/// Facts about the module gathered before rewriting it.
#[derive(Default)]
struct ModuleInfo {
    /// Parameter count of each type (0 for non-function types).
    params: Vec<u32>,
    /// Type of each defined function.
    func_types: Vec<u32>,
    types: u32,
    funcs: u32,
    memories: u32,
    has_memory_section: bool,
    has_export_section: bool,
    /// Imported functions (defined function `i` has index `imported + i`).
    imported_funcs: u32,
    /// Functions named as the memory allocator's (see `is_allocator`).
    allocator: std::collections::HashSet<u32>,
}

/// The allocator's code is not instrumented: its paths depend on the heap
/// left by earlier inputs (the instance is reused), so it would report new
/// "coverage" that no input caused.
fn is_allocator(name: &str) -> bool {
    [
        "dlmalloc",
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rdl_",
        "__rg_",
        "cabi_realloc",
        "wee_alloc",
    ]
    .iter()
    .any(|p| name.contains(p))
}

/// Rewrite one core module: counters in every block, the counter memory,
/// the coverage function. Returns the module and the counter count.
/// Where things are in the counter memory.
struct Layout {
    blocks: u32,
    counters: u32,
    /// Address of the first comparison slot.
    slots: u32,
    sites: Vec<CmpSite>,
}

fn instrument_module(bytes: &[u8]) -> Result<(wasm_encoder::Module, Layout)> {
    let mut info = ModuleInfo::default();
    let mut bodies = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    for ty in group?.types() {
                        info.types += 1;
                        info.params.push(match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f.params().len() as u32,
                            _ => 0,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    match import?.ty {
                        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => {
                            info.funcs += 1;
                            info.imported_funcs += 1;
                        }
                        wasmparser::TypeRef::Memory(_) => info.memories += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for ty in r {
                    info.func_types.push(ty?);
                    info.funcs += 1;
                }
            }
            Payload::MemorySection(r) => {
                info.memories += r.count();
                info.has_memory_section = true;
            }
            Payload::ExportSection(r) => {
                info.has_export_section = true;
                for e in r {
                    let name = e?.name;
                    if name == CORE_FUNC || name == CORE_MEMORY {
                        bail!("it is already instrumented");
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    for sub in names {
                        let Ok(wasmparser::Name::Function(map)) = sub else { continue };
                        for naming in map.into_iter().flatten() {
                            if is_allocator(naming.name) {
                                info.allocator.insert(naming.index);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if bodies.is_empty() {
        bail!("its main module has no code");
    }

    let map_memory = info.memories;
    // Blocks first (so "blocks hit" is a prefix of the map), then
    // features, then the comparison slots (8-byte aligned).
    let (mut blocks, mut features) = (0u32, 0u32);
    let instrumented = |i: usize| !info.allocator.contains(&(info.imported_funcs + i as u32));
    for (_, body) in bodies.iter().enumerate().filter(|(i, _)| instrumented(*i)) {
        blocks += 1;
        let mut depth = 0;
        let mut ops = body.get_operators_reader()?;
        let mut constant = false;
        while !ops.eof() {
            let op = ops.read()?;
            if constant && let Some(wide) = equality(&op) {
                features += if wide { 65 } else { 33 };
            }
            constant = matches!(op, Operator::I32Const { .. } | Operator::I64Const { .. });
            blocks += u32::from(starts_block(&op, &mut depth));
        }
    }
    let counters = blocks + features;
    let slots = (MAP_OFFSET + counters).next_multiple_of(8);
    let mut next = Counters { next_block: 0, next_feature: blocks, slots, sites: Vec::new() };
    let mut rewritten = Vec::with_capacity(bodies.len() + 1);
    let mut plain = RoundtripReencoder;
    for (i, body) in bodies.iter().enumerate() {
        let params = info
            .func_types
            .get(i)
            .and_then(|t| info.params.get(*t as usize))
            .copied()
            .context("a function without a type")?;
        if instrumented(i) {
            rewritten.push(instrument_body(&mut plain, body, params, map_memory, &mut next)?);
        } else {
            let mut f = reencode::utils::new_function_with_parsed_locals(&mut plain, body)
                .map_err(|e| anyhow::anyhow!("function locals: {e}"))?;
            let mut ops = body.get_operators_reader()?;
            while !ops.eof() {
                let insn = plain.instruction(ops.read()?).map_err(|e| anyhow::anyhow!("re-encoding: {e}"))?;
                f.instruction(&insn);
            }
            rewritten.push(f);
        }
    }
    if next.next_feature != counters {
        bail!("counting the comparison sites went wrong ({} != {counters})", next.next_feature);
    }
    let end = slots + 8 * next.sites.len() as u32;
    let pages = u64::from(end).div_ceil(65536).max(1);

    // `() -> i32`: store (ptr, len) at 0 in the map memory, return 0.
    let mut cov = Function::new([]);
    let store = MemArg { offset: 0, align: 2, memory_index: map_memory };
    cov.instruction(&Instruction::I32Const(0));
    cov.instruction(&Instruction::I32Const(MAP_OFFSET as i32));
    cov.instruction(&Instruction::I32Store(store));
    cov.instruction(&Instruction::I32Const(0));
    cov.instruction(&Instruction::I32Const(((end - MAP_OFFSET) / 8) as i32));
    cov.instruction(&Instruction::I32Store(MemArg { offset: 4, ..store }));
    cov.instruction(&Instruction::I32Const(0));
    cov.instruction(&Instruction::End);
    rewritten.push(cov);

    let mut re = Rewriter {
        bodies: rewritten,
        cov_type: info.types,
        cov_func: info.funcs,
        map_memory,
        map_type: MemoryType {
            minimum: pages,
            maximum: Some(pages),
            memory64: false,
            shared: false,
            page_size_log2: None,
        },
        memory_pending: !info.has_memory_section,
        export_pending: !info.has_export_section,
    };
    let mut module = wasm_encoder::Module::new();
    re.parse_core_module(&mut module, Parser::new(0), bytes)
        .map_err(|e| anyhow::anyhow!("rewriting the device module: {e}"))?;
    Ok((module, Layout { blocks, counters, slots, sites: next.sites }))
}

/// The counter increment for block `index`: stack-neutral, so it is valid
/// anywhere, reachable or not.
fn bump(f: &mut Function, memory: u32, index: u32) {
    let arg = MemArg { offset: u64::from(MAP_OFFSET + index), align: 0, memory_index: memory };
    f.instruction(&Instruction::I32Const(0));
    f.instruction(&Instruction::I32Const(0));
    f.instruction(&Instruction::I32Load8U(arg));
    f.instruction(&Instruction::I32Const(1));
    f.instruction(&Instruction::I32Add);
    f.instruction(&Instruction::I32Store8(arg));
}

/// Does `op` start a new block after it? Tracks nesting in `depth`.
fn starts_block(op: &Operator<'_>, depth: &mut usize) -> bool {
    match op {
        Operator::Block { .. } | Operator::Try { .. } | Operator::TryTable { .. } => {
            *depth += 1;
            false
        }
        Operator::Loop { .. } | Operator::If { .. } => {
            *depth += 1;
            true
        }
        Operator::End | Operator::Delegate { .. } => {
            if *depth == 0 {
                // The function's own `end`: nothing may follow it.
                false
            } else {
                *depth -= 1;
                true
            }
        }
        Operator::Else | Operator::Catch { .. } | Operator::CatchAll => true,
        Operator::BrIf { .. }
        | Operator::BrOnNull { .. }
        | Operator::BrOnNonNull { .. }
        | Operator::BrOnCast { .. }
        | Operator::BrOnCastFail { .. } => true,
        _ => false,
    }
}

/// An equality test against a constant (`x == C`, `x != C`): the value
/// profile gives each such comparison one counter per possible number of
/// differing bits between `x` and `C`, so inputs that come closer to a
/// magic value count as new coverage.
fn equality(op: &Operator<'_>) -> Option<bool> {
    match op {
        Operator::I32Eq | Operator::I32Ne => Some(false),
        Operator::I64Eq | Operator::I64Ne => Some(true),
        _ => None,
    }
}

fn is_comparison(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::I32Eq
            | O::I32Ne
            | O::I32LtS
            | O::I32LtU
            | O::I32GtS
            | O::I32GtU
            | O::I32LeS
            | O::I32LeU
            | O::I32GeS
            | O::I32GeU
            | O::I64Eq
            | O::I64Ne
            | O::I64LtS
            | O::I64LtU
            | O::I64GtS
            | O::I64GtU
            | O::I64LeS
            | O::I64LeU
            | O::I64GeS
            | O::I64GeU
    )
}

/// Scratch locals added to every function for the value profile.
struct Scratch {
    x32: u32,
    x64: u32,
    addr: u32,
}

/// The value-profile counter for `x ?= C` where `x` is on the stack (and
/// stays there): counter `base + popcount(x ^ C)`.
/// Also stores `x` in the site's slot (for the fuzzer's input-to-state
/// replacement, see `engine.rs`).
fn profile_compare(f: &mut Function, memory: u32, base: u32, slot: u32, c: i64, wide: bool, s: &Scratch) {
    let arg = MemArg { offset: u64::from(MAP_OFFSET + base), align: 0, memory_index: memory };
    let slot = MemArg { offset: u64::from(slot), align: 0, memory_index: memory };
    if wide {
        f.instruction(&Instruction::LocalTee(s.x64));
        f.instruction(&Instruction::I32Const(0));
        f.instruction(&Instruction::LocalGet(s.x64));
        f.instruction(&Instruction::I64Store(slot));
        f.instruction(&Instruction::LocalGet(s.x64));
        f.instruction(&Instruction::I64Const(c));
        f.instruction(&Instruction::I64Xor);
        f.instruction(&Instruction::I64Popcnt);
        f.instruction(&Instruction::I32WrapI64);
    } else {
        f.instruction(&Instruction::LocalTee(s.x32));
        f.instruction(&Instruction::I32Const(0));
        f.instruction(&Instruction::LocalGet(s.x32));
        f.instruction(&Instruction::I64ExtendI32U);
        f.instruction(&Instruction::I64Store(slot));
        f.instruction(&Instruction::LocalGet(s.x32));
        f.instruction(&Instruction::I32Const(c as i32));
        f.instruction(&Instruction::I32Xor);
        f.instruction(&Instruction::I32Popcnt);
    }
    f.instruction(&Instruction::LocalTee(s.addr));
    f.instruction(&Instruction::LocalGet(s.addr));
    f.instruction(&Instruction::I32Load8U(arg));
    f.instruction(&Instruction::I32Const(1));
    f.instruction(&Instruction::I32Add);
    f.instruction(&Instruction::I32Store8(arg));
}

/// Counter allocation across the module: blocks first, value-profile
/// features after them.
struct Counters {
    next_block: u32,
    next_feature: u32,
    /// Address of the first comparison slot.
    slots: u32,
    sites: Vec<CmpSite>,
}

fn instrument_body(
    re: &mut RoundtripReencoder,
    body: &wasmparser::FunctionBody<'_>,
    params: u32,
    memory: u32,
    counters: &mut Counters,
) -> Result<Function> {
    let mut locals = Vec::new();
    let mut declared = params;
    for pair in body.get_locals_reader()? {
        let (n, ty) = pair?;
        declared += n;
        locals.push((n, re.val_type(ty).map_err(|e| anyhow::anyhow!("function locals: {e}"))?));
    }
    let scratch = Scratch { x32: declared, addr: declared + 1, x64: declared + 2 };
    locals.push((2, wasm_encoder::ValType::I32));
    locals.push((1, wasm_encoder::ValType::I64));
    let mut f = Function::new(locals);

    let mut ops = Vec::new();
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        ops.push(reader.read()?);
    }
    let mut block = || {
        let i = counters.next_block;
        counters.next_block += 1;
        i
    };
    bump(&mut f, memory, block());
    let mut depth = 0usize;
    for (i, op) in ops.iter().enumerate() {
        // `x; C; eq` — profile `x` before the constant is pushed.
        let constant = match op {
            Operator::I32Const { value } => Some(i64::from(*value)),
            Operator::I64Const { value } => Some(*value),
            _ => None,
        };
        if let (Some(c), Some(wide)) = (constant, ops.get(i + 1).and_then(equality)) {
            let site = CmpSite {
                base: counters.next_feature,
                constant: if wide { c as u64 } else { u64::from(c as u32) },
                wide,
            };
            let slot = counters.slots + 8 * counters.sites.len() as u32;
            counters.next_feature += site.features();
            counters.sites.push(site);
            profile_compare(&mut f, memory, site.base, slot, c, wide, &scratch);
        }
        let starts = starts_block(op, &mut depth);
        let insn =
            re.instruction(op.clone()).map_err(|e| anyhow::anyhow!("re-encoding an instruction: {e}"))?;
        f.instruction(&insn);
        if starts {
            bump(&mut f, memory, block());
        }
    }
    Ok(f)
}

/// Copies the module, adding the coverage pieces as the sections go by.
struct Rewriter {
    bodies: Vec<Function>,
    cov_type: u32,
    cov_func: u32,
    map_memory: u32,
    map_type: MemoryType,
    /// The module has no memory (or export) section: one must be inserted.
    memory_pending: bool,
    export_pending: bool,
}

/// Position of a section in the order the binary format requires.
fn rank(id: wasm_encoder::SectionId) -> u8 {
    use wasm_encoder::SectionId as S;
    match id {
        S::Custom => 0,
        S::Type => 1,
        S::Import => 2,
        S::Function => 3,
        S::Table => 4,
        S::Memory => 5,
        S::Tag => 6,
        S::Global => 7,
        S::Export => 8,
        S::Start => 9,
        S::Element => 10,
        S::DataCount => 11,
        S::Code => 12,
        S::Data => 13,
    }
}

impl Rewriter {
    fn map_export(&self, exports: &mut wasm_encoder::ExportSection) {
        exports.export(CORE_FUNC, ExportKind::Func, self.cov_func);
        exports.export(CORE_MEMORY, ExportKind::Memory, self.map_memory);
    }
}

type ReError = reencode::Error<std::convert::Infallible>;

impl Reencode for Rewriter {
    type Error = std::convert::Infallible;

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), ReError> {
        reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([], [wasm_encoder::ValType::I32]);
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        funcs: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), ReError> {
        reencode::utils::parse_function_section(self, funcs, section)?;
        funcs.function(self.cov_type);
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut wasm_encoder::MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> Result<(), ReError> {
        reencode::utils::parse_memory_section(self, memories, section)?;
        memories.memory(self.map_type);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), ReError> {
        reencode::utils::parse_export_section(self, exports, section)?;
        self.map_export(exports);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        _section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), ReError> {
        for body in std::mem::take(&mut self.bodies) {
            code.function(&body);
        }
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        after: Option<wasm_encoder::SectionId>,
        before: Option<wasm_encoder::SectionId>,
    ) -> Result<(), ReError> {
        // Insert a missing memory or export section at its place in the
        // order (custom sections do not count as places).
        let after = after.map_or(0, rank);
        let before = before.map_or(u8::MAX, rank);
        let fits = |id| after < rank(id) && rank(id) < before;
        if self.memory_pending && fits(wasm_encoder::SectionId::Memory) {
            self.memory_pending = false;
            let mut memories = wasm_encoder::MemorySection::new();
            memories.memory(self.map_type);
            module.section(&memories);
        }
        if self.export_pending && fits(wasm_encoder::SectionId::Export) {
            self.export_pending = false;
            let mut exports = wasm_encoder::ExportSection::new();
            self.map_export(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }
}
