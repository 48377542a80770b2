//! The translating tier: hot code compiled to host code with Cranelift.
//!
//! The interpreter (`exec/fast.rs`) stays tier 0 and the reference. With a
//! [`Jit`], `Hart::run_jit` counts how often each pc is reached by a call,
//! an indirect jump, a backward branch or jump, entering its page or
//! starting a stretch of interpretation ([`Hotness`]); a pc reached
//! `threshold` times becomes the head of a region (`region.rs`: the
//! decoded instructions reachable from it inside its page), which is
//! translated (`translate.rs`) and from then on entered instead of
//! interpreted. A region exits to the interpreter at anything it does not
//! hold, so either tier may run any instruction, and both retire the same
//! instructions in the same order: instret, the pc at every device access
//! and every trap are those of the interpreter (docs/jit.md).
//!
//! Validity: a region is built from the entries of one instruction-cache
//! frame and lives exactly as long as that frame (`ICache::generation`):
//! FENCE.I, a flush by the machine, or the frame going to another page
//! make it stale, and it is dropped when next looked up.

mod call;
mod region;
mod translate;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use cranelift_codegen::Context;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};

pub(crate) use call::{Call, exit};

use crate::exec::Fault;
use crate::hart::Hart;
use crate::icache::PAGE_SHIFT;

/// Hashes region keys (physical addresses) with one multiply: looked up
/// at every region entry, where SipHash's cost would show.
#[derive(Default, Clone, Copy)]
struct PcHasher(u64);

impl std::hash::Hasher for PcHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
}

type PcMap<V> = HashMap<(u64, bool), V, std::hash::BuildHasherDefault<PcHasher>>;

/// A translated region: `fn(hart, call) -> exit code` in the tail-call
/// convention (`translate::REGION_CONV`), entered through the trampoline.
type RegionFn = *const u8;
/// The trampoline: `extern "C" fn(hart, call, region) -> exit code`.
type TrampolineFn = unsafe extern "C" fn(*mut Hart, *mut Call, RegionFn) -> u32;

/// Entries of the indirect-jump cache.
pub(crate) const IND_ENTRIES: usize = 1024;

/// One entry of the indirect-jump cache: the region for physical (and, in
/// the direct regime, virtual) `pc`, valid while the instruction cache's
/// epoch is `epoch`. Read by generated code (`offset_of!`).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct IndEntry {
    pub(crate) pc: u64,
    pub(crate) func: u64,
    pub(crate) epoch: u64,
}

/// An exit of the last region call that may be linked to the region at
/// its target: the exit's slot, and the target's key.
#[derive(Clone, Copy)]
struct PendingLink {
    slot: u64,
    key: (u64, bool),
}

/// Why the JIT cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    #[error("the JIT cannot target this host: {0}")]
    Host(String),
    #[error("the JIT could not be set up: {0}")]
    Setup(String),
}

/// Settings of the translating tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitConfig {
    /// Times a pc must be reached (by a counted jump, or entering its page)
    /// before its region is compiled.
    pub threshold: u32,
    /// The same for code whose loads and stores are translated or
    /// PMP-checked (default: 50 × `threshold`, see `Hotness`).
    pub paged_threshold: Option<u32>,
    /// Host code kept before the code cache is flushed whole.
    pub max_code_bytes: usize,
    /// Write each region's host code range to `/tmp/perf-PID.map`, for
    /// `perf report` (the format perf reads for JIT code).
    pub perf_map: bool,
    /// Log each region's host code (Cranelift's disassembly of its
    /// machine instructions) with `-d jit`.
    pub show_code: bool,
}

impl Default for JitConfig {
    fn default() -> Self {
        JitConfig {
            threshold: 1000,
            paged_threshold: None,
            max_code_bytes: 64 << 20,
            perf_map: false,
            show_code: false,
        }
    }
}

/// What the translating tier did, for `--stats` and `-d jit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Regions compiled.
    pub regions: u64,
    /// Guest instructions in them.
    pub guest_insns: u64,
    /// Host code bytes generated.
    pub code_bytes: u64,
    /// Time spent compiling, in nanoseconds.
    pub compile_ns: u64,
    /// Region entries.
    pub entries: u64,
    /// Instructions retired in translated code.
    pub jit_insns: u64,
    /// Times the code cache was flushed because it was full.
    pub flushes: u64,
    /// Regions dropped because their instructions changed.
    pub stale: u64,
    /// Regions kept after their instruction-cache frame was refilled with
    /// the same instructions (after FENCE.I, say).
    pub revalidated: u64,
}

/// Counts of how often pcs are reached, direct-mapped by pc.
pub(crate) struct Hotness {
    slots: Box<[(u64, u32)]>,
    /// Arrivals that make a pc hot when loads and stores are direct
    /// (`Hart::direct_data`).
    threshold: u32,
    /// The same under address translation or PMP, where translated code
    /// calls the interpreter's access path for every load and store (no
    /// inline TLB probe yet) and gains less: only very hot code is worth
    /// its compile time there (a Linux boot measured 1.4 s at the plain
    /// threshold against 1.0 s for the interpreter).
    paged_threshold: u32,
}

const HOT_SLOTS: usize = 4096;
/// `paged_threshold` = `threshold` times this.
const PAGED_FACTOR: u32 = 50;

impl Hotness {
    fn new(threshold: u32, paged_threshold: Option<u32>) -> Self {
        let threshold = threshold.max(1);
        Hotness {
            slots: vec![(u64::MAX, 0); HOT_SLOTS].into_boxed_slice(),
            threshold,
            paged_threshold: paged_threshold.unwrap_or(threshold.saturating_mul(PAGED_FACTOR)).max(1),
        }
    }

    /// The arrivals that make a pc hot, for direct or translated data
    /// accesses (fixed for a stretch: only slow instructions change it).
    #[inline]
    pub(crate) fn limit(&self, direct: bool) -> u32 {
        if direct { self.threshold } else { self.paged_threshold }
    }

    /// Count one arrival at `pc`; true once it reached `limit`.
    #[inline(always)]
    pub(crate) fn tick(&mut self, pc: u64, limit: u32) -> bool {
        let i = ((pc >> 1) as usize) & (HOT_SLOTS - 1);
        let Some(s) = self.slots.get_mut(i) else { return false };
        if s.0 != pc {
            *s = (pc, 0);
        }
        s.1 = s.1.saturating_add(1);
        s.1 >= limit
    }

    /// Start `pc`'s count again (its region could not be compiled: try
    /// again only after as many arrivals again).
    fn reset(&mut self, pc: u64) {
        let i = ((pc >> 1) as usize) & (HOT_SLOTS - 1);
        if let Some(s) = self.slots.get_mut(i) {
            *s = (pc, 0);
        }
    }
}

struct Compiled {
    func: RegionFn,
    /// One slot per fixed target of its exits in its page
    /// (`Region::links`): 0, or the target's region, which that exit then
    /// enters directly. Never moved while the region lives (generated
    /// code holds its address).
    slots: Box<[u64]>,
    /// The instruction-cache frame and its generation the region was
    /// built from.
    frame: usize,
    generation: u64,
    /// Instructions the head's longest path retires before a check.
    need: u32,
    /// The page offset and bits of every instruction translated: after
    /// the frame was refilled (FENCE.I flushes the cache), the region is
    /// current again once the frame holds the same instructions.
    insns: Vec<(u16, u32)>,
}

/// Whether a region still says what its frame holds.
enum Validity {
    Current,
    /// Not known yet: some of its instructions are not decoded again.
    Pending,
    Changed,
}

/// Check a region whose frame generation changed against the frame now
/// holding its page; on success, adopt the frame's generation.
fn revalidate(icache: &crate::icache::ICache, r: &mut Compiled, pa: u64) -> Validity {
    let Some((frame, generation, slots)) = icache.frame_ref(pa) else { return Validity::Pending };
    for &(off, raw) in &r.insns {
        let e = slots[crate::icache::slot_of(u64::from(off))];
        if e.op == crate::uop::Op::Fill {
            return Validity::Pending;
        }
        if e.raw != raw || !region::translatable(&e) {
            return Validity::Changed;
        }
    }
    r.frame = frame;
    r.generation = generation;
    // Its links were made when the frame was as before: make them again
    // (through `enter`, which checks each target).
    r.slots.fill(0);
    Validity::Current
}

/// How a region call ended.
pub(crate) enum Entered {
    /// Not entered: its first stretch is longer than the budget left.
    TooLong,
    /// Go on at `hart.pc`.
    Next,
    /// The memory asked to yield after the last instruction.
    Yield,
    /// The instruction at `hart.pc` faulted.
    Fault(Fault, u32),
}

/// The translating tier of one hart: its code cache and counters.
pub struct Jit {
    isa: OwnedTargetIsa,
    module: Option<JITModule>,
    ctx: Context,
    fctx: FunctionBuilderContext,
    /// By physical address of the head and whether loads and stores were
    /// physical and unchecked (`Hart::direct_data`) when it was compiled.
    regions: PcMap<Compiled>,
    /// The memory's RAM window the code was compiled against.
    window: Option<crate::RamWindow>,
    /// Heads that cannot be translated, with the frame generation seen.
    refused: HashSet<(u64, u64)>,
    pub(crate) hot: Hotness,
    config: JitConfig,
    stats: JitStats,
    /// Print each region compiled (`-d jit`).
    log: bool,
    /// `/tmp/perf-PID.map`, with `JitConfig::perf_map`.
    perf_map: Option<std::fs::File>,
    /// Enters regions from Rust (compiled into each new code cache).
    trampoline: Option<TrampolineFn>,
    /// Set by a region call that ended at a linkable exit; used (and
    /// cleared) by the next `enter`.
    pending: Option<PendingLink>,
    /// Indirect jumps (`jalr`) in code with direct data accesses go on
    /// through this, direct-mapped by target pc, when it holds the
    /// target's region (never moved: generated code holds its address).
    ind: Box<[IndEntry]>,
    /// The last region call ended at such a jump: the next `enter` fills
    /// the cache for its target.
    pending_ind: bool,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit").field("regions", &self.regions.len()).field("stats", &self.stats).finish()
    }
}

fn host_isa() -> Result<OwnedTargetIsa, JitError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags.set(k, v).map_err(|e| JitError::Setup(format!("{k}={v}: {e}")))
    };
    // Measured on the CPU benchmark (docs/jit.md): "speed" doubles the
    // code and the compile time for slower code; the register allocator
    // ("backtracking") is what keeps guest registers in host registers.
    set(&mut flags, "opt_level", "none")?;
    // Cranelift's tail calls (regions entering the next one) need them.
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "is_pic", "false")?;
    // The verifier costs compile time; the differential tests check the
    // code it produces instead.
    set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    let builder = cranelift_native::builder().map_err(|e| JitError::Host(e.to_owned()))?;
    builder.finish(settings::Flags::new(flags)).map_err(|e| JitError::Host(e.to_string()))
}

fn new_module(isa: &OwnedTargetIsa) -> JITModule {
    JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()))
}

impl Jit {
    /// A JIT for the host this runs on; an error where Cranelift cannot
    /// target it.
    pub fn new(config: JitConfig) -> Result<Jit, JitError> {
        let isa = host_isa()?;
        let perf_map = if config.perf_map {
            let path = std::env::temp_dir().join(format!("perf-{}.map", std::process::id()));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| JitError::Setup(format!("{}: {e}", path.display())))?;
            Some(file)
        } else {
            None
        };
        let module = new_module(&isa);
        Ok(Jit {
            ctx: module.make_context(),
            module: Some(module),
            isa,
            fctx: FunctionBuilderContext::new(),
            regions: PcMap::default(),
            window: None,
            refused: HashSet::new(),
            hot: Hotness::new(config.threshold, config.paged_threshold),
            config,
            stats: JitStats::default(),
            log: false,
            perf_map,
            trampoline: None,
            pending: None,
            ind: vec![IndEntry::default(); IND_ENTRIES].into_boxed_slice(),
            pending_ind: false,
        })
    }

    /// Whether this host can run the JIT (`--accel` chooses by it).
    pub fn supported() -> bool {
        host_isa().is_ok()
    }

    /// Print each region compiled to the `wemu::jit` log target.
    pub fn set_log(&mut self, on: bool) {
        self.log = on;
    }

    pub fn stats(&self) -> JitStats {
        self.stats
    }

    /// Drop every translation (the code cache is freed whole).
    pub fn flush(&mut self) {
        self.regions.clear();
        self.refused.clear();
        self.pending = None;
        self.trampoline = None;
        self.ind.fill(IndEntry::default());
        self.pending_ind = false;
        if let Some(m) = self.module.take() {
            // SAFETY: no region runs (this takes `&mut self`, and regions
            // only run inside `enter`), and every pointer into the module
            // was in `regions`, cleared above.
            unsafe { m.free_memory() };
        }
        let module = new_module(&self.isa);
        self.ctx = module.make_context();
        self.module = Some(module);
    }

    /// Use `window` for inline RAM accesses; code compiled against another
    /// window is dropped.
    pub(crate) fn set_window(&mut self, window: Option<crate::RamWindow>) {
        if window != self.window {
            if !self.regions.is_empty() {
                self.flush();
            }
            self.window = window;
        }
    }

    /// Enter the region headed at physical `pa` (virtual `hart.pc`), if
    /// there is a valid one whose first stretch fits in `budget`. Returns
    /// the instructions it retired and how it ended; `hart.pc`, its
    /// instret and trap bookkeeping are up to date.
    pub(crate) fn enter<M: crate::Memory>(
        &mut self,
        hart: &mut Hart,
        mem: &mut M,
        pa: u64,
        budget: u64,
    ) -> Option<(u64, Entered)> {
        let key = (pa, hart.direct_data());
        let pending = self.pending.take();
        let pending_ind = std::mem::take(&mut self.pending_ind);
        let r = self.regions.get_mut(&key)?;
        if !hart.icache.is_current(r.frame, pa >> PAGE_SHIFT, r.generation) {
            match revalidate(&hart.icache, r, pa) {
                Validity::Current => self.stats.revalidated += 1,
                Validity::Pending => return None,
                Validity::Changed => {
                    self.remove(key);
                    self.stats.stale += 1;
                    return None;
                }
            }
        }
        let r = self.regions.get(&key)?;
        if u64::from(r.need) > budget {
            // The interpreter runs the rest of the budget.
            return Some((0, Entered::TooLong));
        }
        let func = r.func;
        if let Some(link) = pending
            && link.key == key
        {
            // SAFETY: the slot belongs to a region still in `regions`
            // (removing or revalidating any region clears `pending`'s
            // source: `remove` empties every slot and drops `pending`,
            // and `pending` lives only until this call); it is a `u64`
            // in that region's boxed slots.
            unsafe { *(link.slot as *mut u64) = func as u64 };
        }
        // After an indirect jump with direct accesses, where fetches are
        // physical and unchecked too (so the pc is `pa` however the jump
        // is reached), cache the target.
        if pending_ind && key.1 && hart.pc == pa && hart.mode as u8 == hart.csrs.pmp_fetch_free() {
            let i = ((pa >> 1) as usize) & (IND_ENTRIES - 1);
            if let Some(e) = self.ind.get_mut(i) {
                *e = IndEntry { pc: pa, func: func as u64, epoch: *hart.icache.epoch() };
            }
        }
        let trampoline = self.trampoline?;
        let mut call = Call::new(mem, budget, hart.pc & !((1 << PAGE_SHIFT) - 1));
        call.epoch = hart.icache.epoch();
        // SAFETY: `func` and every region linked from it were compiled by
        // `compile` for the `Call` and `Hart` layouts and are still in the
        // code cache (they are in `regions`, which `flush` clears before
        // freeing code, and a removed region's links are cleared); the
        // trampoline enters `func` in its calling convention. The code uses
        // `hart` and `call` only during this call, and the helpers it
        // calls rebuild `&mut` from them one at a time (see `call.rs`).
        let code = unsafe { trampoline(hart, &mut call, func) };
        self.pending_ind = code == exit::NEXT && call.ind != 0;
        if code == exit::NEXT && call.slot != 0 {
            // The last region to run may be another than the first (one
            // reached through the indirect-jump cache, in another page):
            // with direct accesses pcs are physical; without, regions
            // chain only within the first one's page.
            let page = pa & !((1 << PAGE_SHIFT) - 1);
            let target = if key.1 { call.pc } else { page | (call.pc & ((1 << PAGE_SHIFT) - 1)) };
            self.pending = Some(PendingLink { slot: call.slot, key: (target, key.1) });
        }
        self.stats.entries += 1;
        self.stats.jit_insns += call.retired;
        hart.pc = call.pc;
        hart.retired = hart.retired.wrapping_add(call.retired);
        if call.retired > 0 {
            hart.trap_origin = None;
        }
        let how = match (code, call.fault) {
            (exit::YIELD, _) => Entered::Yield,
            (exit::FAULT, Some(f)) => Entered::Fault(f, call.raw),
            _ => Entered::Next,
        };
        Some((call.retired, how))
    }

    /// Drop a region, and every link (a slot may hold it).
    fn remove(&mut self, key: (u64, bool)) {
        self.regions.remove(&key);
        for r in self.regions.values_mut() {
            r.slots.fill(0);
        }
        self.pending = None;
        self.ind.fill(IndEntry::default());
        self.pending_ind = false;
    }

    /// `pc` (virtual; physical `pa`) is hot: compile its region unless it
    /// has one or cannot have one. True if it compiled one.
    pub(crate) fn hot_at(&mut self, hart: &Hart, pc: u64, pa: u64) -> bool {
        let direct = hart.direct_data();
        if self.regions.contains_key(&(pa, direct)) {
            return false;
        }
        let Some((frame, generation, slots)) = hart.icache.frame_ref(pa) else {
            self.hot.reset(pc);
            return false;
        };
        if self.refused.contains(&(pa, generation)) {
            self.hot.reset(pc);
            return false;
        }
        let head = (pa & ((1 << PAGE_SHIFT) - 1)) as u16;
        let Some(region) = region::form(slots, head) else {
            // Not decoded yet: try again after `threshold` more arrivals.
            // A head the translator never handles: not again for this frame.
            if slots[crate::icache::slot_of(pa)].op != crate::uop::Op::Fill {
                self.refused.insert((pa, generation));
            }
            self.hot.reset(pc);
            return false;
        };
        let need = region.nodes.get(&head).map_or(1, |n| n.need);
        let insns = region.nodes.values().map(|n| (n.off, n.e.raw)).collect();
        // Inline RAM accesses only where they need no translation or check.
        let window = self.window.filter(|_| direct);
        let links = region.links();
        let slots = vec![0u64; links.len()].into_boxed_slice();
        // A panic inside Cranelift must not take the machine down: the
        // region is refused and the code cache started afresh (the
        // contexts may be half-used).
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ind = direct.then_some(self.ind.as_ptr() as u64);
            self.compile(&region, pc, window, (slots.as_ptr() as u64, links), ind)
        }));
        let compiled = compiled.unwrap_or_else(|_| {
            self.ctx = Context::new();
            self.fctx = FunctionBuilderContext::new();
            self.flush();
            Err("the code generator panicked".to_owned())
        });
        match compiled {
            Ok(func) => {
                let r = Compiled { func, slots, frame, generation, need, insns };
                self.regions.insert((pa, direct), r);
                true
            }
            Err(e) => {
                tracing::warn!(target: "wemu::jit", "region at {pc:#x} not compiled: {e}");
                self.refused.insert((pa, generation));
                self.hot.reset(pc);
                false
            }
        }
    }

    fn compile(
        &mut self,
        region: &region::Region,
        pc: u64,
        window: Option<crate::RamWindow>,
        links: (u64, Vec<u16>),
        ind: Option<u64>,
    ) -> Result<RegionFn, String> {
        let started = Instant::now();
        if self.stats.code_bytes >= self.config.max_code_bytes as u64 * (self.stats.flushes + 1) {
            self.flush();
            self.stats.flushes += 1;
        }
        if self.trampoline.is_none() {
            self.trampoline = Some(self.compile_trampoline()?);
        }
        let module = self.module.as_mut().ok_or("no code cache")?;
        let call_conv = CallConv::triple_default(self.isa.triple());
        self.ctx.clear();
        self.ctx.func.signature = translate::region_signature(translate::REGION_CONV);
        self.ctx.func.name = UserFuncName::user(0, self.stats.regions as u32);
        self.ctx.set_disasm(self.log && self.config.show_code);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            translate::Translator::translate(&mut b, region, call_conv, window, links, ind);
            b.finalize(module.target_config());
        }
        let id = module.declare_anonymous_function(&self.ctx.func.signature).map_err(|e| e.to_string())?;
        module.define_function(id, &mut self.ctx).map_err(|e| format!("{e:?}"))?;
        let bytes = self.ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
        let listing = self.ctx.compiled_code().and_then(|c| c.vcode.clone());
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let ptr = module.get_finalized_function(id);
        let micros = started.elapsed().as_micros();
        self.stats.regions += 1;
        self.stats.guest_insns += region.nodes.len() as u64;
        self.stats.code_bytes += bytes as u64;
        self.stats.compile_ns += started.elapsed().as_nanos() as u64;
        if self.log {
            let first = region.nodes.keys().next().copied().unwrap_or(0);
            let last = region.nodes.values().last().map_or(0, |n| n.off + u16::from(n.e.len));
            let base = pc & !((1 << PAGE_SHIFT) - 1);
            tracing::info!(
                target: "wemu::jit",
                "region {pc:#x}: {} guest instructions in [{:#x}..{:#x}), {bytes} bytes of host code, compiled in {micros} us",
                region.nodes.len(),
                base + u64::from(first),
                base + u64::from(last),
            );
            if let Some(listing) = listing {
                tracing::info!(target: "wemu::jit", "region {pc:#x} host code:\n{listing}");
            }
        }
        if let Some(map) = &mut self.perf_map {
            use std::io::Write as _;
            // A failed write loses a profiler symbol, nothing else.
            let _ = writeln!(map, "{:x} {bytes:x} wemu-guest-{pc:#x}", ptr as usize);
        }
        self.ctx.clear();
        Ok(ptr)
    }

    /// Compile the trampoline into the current code cache.
    fn compile_trampoline(&mut self) -> Result<TrampolineFn, String> {
        let module = self.module.as_mut().ok_or("no code cache")?;
        let call_conv = CallConv::triple_default(self.isa.triple());
        self.ctx.clear();
        self.ctx.func.signature = translate::trampoline_signature(call_conv);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            translate::trampoline(&mut b);
            b.finalize(module.target_config());
        }
        let id = module.declare_anonymous_function(&self.ctx.func.signature).map_err(|e| e.to_string())?;
        module.define_function(id, &mut self.ctx).map_err(|e| format!("{e:?}"))?;
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let ptr = module.get_finalized_function(id);
        self.ctx.clear();
        // SAFETY: compiled just now with `trampoline_signature`:
        // `extern "C" fn(*mut Hart, *mut Call, *const u8) -> u32` in the
        // host's C calling convention.
        Ok(unsafe { std::mem::transmute::<*const u8, TrampolineFn>(ptr) })
    }
}
