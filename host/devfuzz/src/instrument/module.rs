//! Rewriting the device's core module: a counter bump at the start of
//! every basic block, value profiles on equality comparisons with
//! constants, the counter memory and the function that exports it (see the
//! parent module for the design).

use super::InstrumentError;

type Result<T, E = InstrumentError> = std::result::Result<T, E>;
use wasm_encoder::reencode::{self, Reencode, RoundtripReencoder};
use wasm_encoder::{ExportKind, Function, Instruction, MemArg, MemoryType};
use wasmparser::{Operator, Parser, Payload};

use super::{CORE_FUNC, CORE_MEMORY, CmpSite, MAP_OFFSET};

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

/// Where things are in the counter memory.
pub(super) struct Layout {
    pub blocks: u32,
    pub counters: u32,
    /// Address of the first comparison slot.
    pub slots: u32,
    pub sites: Vec<CmpSite>,
    /// Size of the counter memory in bytes.
    pub map_bytes: u64,
}

/// Rewrite one core module: counters in every block, the counter memory,
/// the coverage function. Returns the module and where the counters are.
pub(super) fn instrument_module(bytes: &[u8]) -> Result<(wasm_encoder::Module, Layout)> {
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
                        return Err(InstrumentError::AlreadyInstrumented);
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
        return Err(InstrumentError::NoCode);
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
            .ok_or(InstrumentError::FunctionWithoutType)?;
        if instrumented(i) {
            rewritten.push(instrument_body(&mut plain, body, params, map_memory, &mut next)?);
        } else {
            let mut f = reencode::utils::new_function_with_parsed_locals(&mut plain, body)
                .map_err(|e| InstrumentError::Locals(e.to_string()))?;
            let mut ops = body.get_operators_reader()?;
            while !ops.eof() {
                let insn =
                    plain.instruction(ops.read()?).map_err(|e| InstrumentError::Reencode(e.to_string()))?;
                f.instruction(&insn);
            }
            rewritten.push(f);
        }
    }
    if next.next_feature != counters {
        return Err(InstrumentError::CountMismatch {
            counted: next.next_feature as usize,
            expected: counters as usize,
        });
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
        .map_err(|e| InstrumentError::Rewrite(e.to_string()))?;
    Ok((module, Layout { blocks, counters, slots, sites: next.sites, map_bytes: pages * 65536 }))
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

pub(super) fn is_comparison(op: &Operator<'_>) -> bool {
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
        locals.push((n, re.val_type(ty).map_err(|e| InstrumentError::Locals(e.to_string()))?));
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
            re.instruction(op.clone()).map_err(|e| InstrumentError::ReencodeInstruction(e.to_string()))?;
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
