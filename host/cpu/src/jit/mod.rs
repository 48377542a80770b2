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
mod compiler;
mod region;
mod translate;
mod worker;

use std::collections::{HashMap, HashSet};

pub(crate) use call::{Call, exit};
use compiler::{Compiler, Done, Glue, Job};
use worker::Worker;

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
    /// PMP-checked (default: `threshold`, see `Hotness`).
    pub paged_threshold: Option<u32>,
    /// Host code kept before the code cache is flushed whole.
    pub max_code_bytes: usize,
    /// Write each region's host code range to `/tmp/perf-PID.map`, for
    /// `perf report` (the format perf reads for JIT code).
    pub perf_map: bool,
    /// Log each region's host code (Cranelift's disassembly of its
    /// machine instructions) with `-d jit`.
    pub show_code: bool,
    /// Compile on a worker thread while the hart goes on interpreting
    /// (default); else on the hart's thread, waiting for each region
    /// (reproducible statistics, for tests).
    pub background: bool,
    /// Keep guest registers in the hart (`Some(true)`) or in host
    /// registers across the region (`Some(false)`); `None` (default): in
    /// the hart for regions without a loop whose loads and stores are
    /// translated, in host registers otherwise. Under translation most
    /// code is an OS's, hot only briefly: a region compiled 25 % faster
    /// is ready sooner and more of it gets compiled (a Linux boot: 45 % →
    /// 50 % of its instructions translated, 0.58 → 0.56 s), while a loop
    /// gains most from registers (docs/jit.md).
    pub regs_in_memory: Option<bool>,
    /// Count arrivals where a call's budget ran out too (off by default:
    /// such pcs fall anywhere in a hot loop, and each would become a
    /// region head; the differential test turns it on to enter regions
    /// at every pc).
    pub count_budget_stops: bool,
}

impl Default for JitConfig {
    fn default() -> Self {
        JitConfig {
            threshold: 300,
            paged_threshold: None,
            max_code_bytes: 64 << 20,
            perf_map: false,
            show_code: false,
            background: true,
            regs_in_memory: None,
            count_budget_stops: false,
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
    /// The same under address translation or PMP. It was 50 times the
    /// threshold while translated code called the interpreter's access
    /// path for every load and store there; with the fast TLB and
    /// compiling on a worker thread, a Linux boot is fastest at the plain
    /// threshold (docs/jit.md).
    paged_threshold: u32,
}

const HOT_SLOTS: usize = 4096;
/// `paged_threshold` = `threshold` times this, by default.
const PAGED_FACTOR: u32 = 1;

/// Regions queued for the worker at most. A hot pc found while the queue
/// is full counts again from zero: a long queue delivers regions after
/// their loop is over (a Linux boot to poweroff: 0.63 s unbounded, 0.57 s
/// with 4, at threshold 200; docs/performance.md).
const MAX_IN_FLIGHT: usize = 4;

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

/// Where regions are compiled.
enum Backend {
    /// On the hart's thread.
    Here(Box<Compiler>),
    /// On a worker thread.
    Worker(Worker),
}

/// A region handed to the compiler: its [`Compiled`] but for the code,
/// and what `-d jit` says about it.
struct InFlight {
    pc: u64,
    guest_insns: usize,
    first: u16,
    last: u16,
    /// `func` is null until the code arrives.
    region: Compiled,
}

/// The translating tier of one hart: its code cache and counters.
pub struct Jit {
    backend: Backend,
    /// Regions sent to the worker and not back yet.
    in_flight: PcMap<InFlight>,
    /// The code cache's generation, bumped by each flush.
    epoch: u64,
    /// By physical address of the head and whether loads and stores were
    /// physical and unchecked (`Hart::direct_data`) when it was compiled.
    regions: PcMap<Compiled>,
    /// The memory's RAM window the code was compiled against.
    window: Option<crate::RamWindow>,
    /// Heads that cannot be translated, with the frame generation seen.
    refused: HashSet<(u64, u64)>,
    pub(crate) hot: Hotness,
    pub(crate) config: JitConfig,
    stats: JitStats,
    /// Print each region compiled (`-d jit`).
    log: bool,
    /// `/tmp/perf-PID.map`, with `JitConfig::perf_map`.
    perf_map: Option<std::fs::File>,
    /// Enters regions from Rust; the helper stubs.
    glue: Glue,
    /// Set by a region call that ended at a linkable exit; used (and
    /// cleared) by the next `enter`.
    pending: Option<PendingLink>,
    /// Indirect jumps (`jalr`) in code with direct data accesses go on
    /// through this, direct-mapped by target pc, when it holds the
    /// target's region (never moved: generated code holds its address).
    ind: Box<[IndEntry]>,
    /// The same for code whose data accesses go through the fast TLB, by
    /// virtual target pc (see `enter` for when an entry holds).
    vind: Box<[IndEntry]>,
    /// The last region call ended at such a jump: the next `enter` fills
    /// the cache for its target.
    pending_ind: bool,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit").field("regions", &self.regions.len()).field("stats", &self.stats).finish()
    }
}

impl Jit {
    /// A JIT for the host this runs on; an error where Cranelift cannot
    /// target it.
    pub fn new(config: JitConfig) -> Result<Jit, JitError> {
        let isa = compiler::host_isa()?;
        let perf_map = if config.perf_map {
            // perf reads /tmp/perf-PID.map whatever TMPDIR says.
            let path = std::path::PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| JitError::Setup(format!("{}: {e}", path.display())))?;
            Some(file)
        } else {
            None
        };
        let glue = Glue::new(&isa).map_err(JitError::Setup)?;
        let backend = if config.background {
            Backend::Worker(Worker::spawn(isa)?)
        } else {
            Backend::Here(Box::new(Compiler::new(isa)))
        };
        Ok(Jit {
            backend,
            in_flight: PcMap::default(),
            epoch: 0,
            regions: PcMap::default(),
            window: None,
            refused: HashSet::new(),
            hot: Hotness::new(config.threshold, config.paged_threshold),
            config,
            stats: JitStats::default(),
            log: false,
            perf_map,
            glue,
            pending: None,
            ind: vec![IndEntry::default(); IND_ENTRIES].into_boxed_slice(),
            vind: vec![IndEntry::default(); IND_ENTRIES].into_boxed_slice(),
            pending_ind: false,
        })
    }

    /// Whether this host can run the JIT (`--accel` chooses by it).
    pub fn supported() -> bool {
        compiler::host_isa().is_ok()
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
        self.in_flight.clear();
        self.refused.clear();
        self.pending = None;
        self.ind.fill(IndEntry::default());
        self.vind.fill(IndEntry::default());
        self.pending_ind = false;
        self.epoch += 1;
        match &mut self.backend {
            // SAFETY: no region runs (this takes `&mut self`, and regions
            // only run inside `enter`), every pointer into the code cache
            // was in `regions`, cleared above, and results of the older
            // epoch are dropped (`install`).
            Backend::Here(c) => unsafe { c.flush() },
            Backend::Worker(w) => w.flush(),
        }
    }

    /// Use `window` for inline RAM accesses; code compiled against another
    /// window is dropped.
    pub(crate) fn set_window(&mut self, window: Option<crate::RamWindow>) {
        if window != self.window {
            if !self.regions.is_empty() || !self.in_flight.is_empty() {
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
        if !self.in_flight.is_empty() {
            self.collect();
        }
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
        let trampoline = self.glue.trampoline;
        let vbase = hart.pc & !((1 << PAGE_SHIFT) - 1);
        let mut call = Call::new(mem, budget, vbase);
        call.epoch = hart.icache.epoch();
        if !key.1
            && let Some(w) = self.window
        {
            // The fast TLB's entries hold for the regime they were filled
            // in. Nothing in a region changes it (CSR writes, xRET and
            // SFENCE.VMA are never translated), so checking here suffices.
            hart.tlb.set_fast_key(hart.fast_key(&w));
            call.fill = Some(w);
            // After a jump that may go on through the cache of virtual
            // targets: cache this one. Generated code takes the entry only
            // while the fast TLB says the pc's page is still mapped for
            // fetching as now (`FastEntry::exec`, cleared with its TLB
            // entry), so the pc still leads to this region's page.
            if pending_ind {
                hart.fill_fast_exec(hart.pc);
                let i = ((hart.pc >> 1) as usize) & (IND_ENTRIES - 1);
                if let Some(e) = self.vind.get_mut(i) {
                    *e = IndEntry { pc: hart.pc, func: func as u64, epoch: *hart.icache.epoch() };
                }
            }
        }
        // SAFETY: `func` and every region linked from it were compiled by
        // `compile` for the `Call` and `Hart` layouts and are still in the
        // code cache (they are in `regions`, which `flush` clears before
        // freeing code, and a removed region's links are cleared); the
        // trampoline enters `func` in its calling convention. The code uses
        // `hart` and `call` only during this call, and the helpers it
        // calls rebuild `&mut` from them one at a time (see `call.rs`).
        let code = unsafe { trampoline(hart, &mut call, func) };
        self.pending_ind = code == exit::NEXT && call.ind != 0;
        if code == exit::NEXT && call.slot != 0 && (key.1 || call.vbase == vbase) {
            // The last region to run may be another than the first (one
            // reached through the indirect-jump cache, in another page):
            // with direct accesses pcs are physical; without, the target
            // is in the first one's physical page if the last one ran in
            // the same virtual page (links are made within a page).
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
        self.vind.fill(IndEntry::default());
        self.pending_ind = false;
    }

    /// `pc` (virtual; physical `pa`) is hot: compile its region unless it
    /// has one or cannot have one. True if it compiled one.
    pub(crate) fn hot_at(&mut self, hart: &Hart, pc: u64, pa: u64) -> bool {
        let direct = hart.direct_data();
        let key = (pa, direct);
        if self.regions.contains_key(&key) || self.in_flight.contains_key(&key) {
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
        if matches!(self.backend, Backend::Worker(_)) && self.in_flight.len() >= MAX_IN_FLIGHT {
            // The worker is behind: what gets hot now is asked again after
            // `threshold` more arrivals, if it still matters then.
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
        if self.stats.code_bytes >= self.config.max_code_bytes as u64 * (self.stats.flushes + 1) {
            self.flush();
            self.stats.flushes += 1;
        }
        // Inline RAM accesses: unchecked into the window where they need
        // no translation or check, else through the fast TLB.
        let data = match self.window {
            Some(w) if direct => translate::DataPath::Window(w),
            Some(_) => translate::DataPath::Tlb,
            None => translate::DataPath::Helpers,
        };
        let links = region.links();
        let slots = vec![0u64; links.len()].into_boxed_slice();
        let flight = InFlight {
            pc,
            guest_insns: region.nodes.len(),
            first: region.nodes.keys().next().copied().unwrap_or(0),
            last: region.nodes.values().last().map_or(0, |n| n.off + u16::from(n.e.len)),
            region: Compiled {
                func: std::ptr::null(),
                slots,
                frame,
                generation,
                need: region.nodes.get(&head).map_or(1, |n| n.need),
                insns: region.nodes.values().map(|n| (n.off, n.e.raw)).collect(),
            },
        };
        let has_loop = region.nodes.values().any(|n| n.check);
        let mem_regs =
            self.config.regs_in_memory.unwrap_or(matches!(data, translate::DataPath::Tlb) && !has_loop);
        let job = Job {
            key,
            epoch: self.epoch,
            data,
            mem_regs,
            links: (flight.region.slots.as_ptr() as u64, links),
            ind: match data {
                translate::DataPath::Window(_) => Some(self.ind.as_ptr() as u64),
                translate::DataPath::Tlb => Some(self.vind.as_ptr() as u64),
                translate::DataPath::Helpers => direct.then_some(self.ind.as_ptr() as u64),
            },
            stubs: (self.glue.load, self.glue.store),
            number: (self.stats.regions + self.in_flight.len() as u64) as u32,
            listing: self.log && self.config.show_code,
            region,
        };
        // The slots live in `in_flight`, then in `regions`: a `Box` never
        // moves, so the address compiled into the code stays right.
        self.in_flight.insert(key, flight);
        match &mut self.backend {
            Backend::Here(c) => {
                let done = c.compile(&job);
                self.install(done)
            }
            Backend::Worker(w) => {
                if !w.send(job) {
                    tracing::warn!(target: "wemu::jit", "the compiler thread is gone: translating here");
                    self.fall_back_here();
                }
                false
            }
        }
    }

    /// Take in the regions the worker finished.
    fn collect(&mut self) {
        loop {
            let Backend::Worker(w) = &mut self.backend else { return };
            match w.try_recv() {
                Ok(Some(done)) => {
                    self.install(done);
                }
                Ok(None) => return,
                Err(()) => {
                    tracing::warn!(target: "wemu::jit", "the compiler thread died: translating here");
                    self.fall_back_here();
                    return;
                }
            }
        }
    }

    /// Compile on this thread from now on (the worker is gone).
    fn fall_back_here(&mut self) {
        self.flush();
        if let Ok(isa) = compiler::host_isa() {
            self.backend = Backend::Here(Box::new(Compiler::new(isa)));
        }
    }

    /// Make a finished job's region enterable. True if it was.
    fn install(&mut self, done: Done) -> bool {
        if done.epoch != self.epoch {
            // Compiled into a code cache flushed since.
            return false;
        }
        let Some(f) = self.in_flight.remove(&done.key) else { return false };
        let (pa, _) = done.key;
        match done.result {
            Ok(out) => {
                self.stats.regions += 1;
                self.stats.guest_insns += f.guest_insns as u64;
                self.stats.code_bytes += out.bytes as u64;
                self.stats.compile_ns += out.nanos;
                let pc = f.pc;
                if self.log {
                    let base = pc & !((1 << PAGE_SHIFT) - 1);
                    tracing::info!(
                        target: "wemu::jit",
                        "region {pc:#x}: {} guest instructions in [{:#x}..{:#x}), {} IR instructions, {} bytes of host code, compiled in {} us",
                        f.guest_insns,
                        base + u64::from(f.first),
                        base + u64::from(f.last),
                        out.ir_insts,
                        out.bytes,
                        out.nanos / 1000,
                    );
                    if let Some(listing) = out.listing {
                        tracing::info!(target: "wemu::jit", "region {pc:#x} host code:\n{listing}");
                    }
                }
                if let Some(map) = &mut self.perf_map {
                    use std::io::Write as _;
                    // A failed write loses a profiler symbol, nothing else.
                    let _ = writeln!(map, "{:x} {:x} wemu-guest-{pc:#x}", out.func, out.bytes);
                }
                let r = Compiled { func: out.func as RegionFn, ..f.region };
                self.regions.insert(done.key, r);
                true
            }
            Err(e) => {
                tracing::warn!(target: "wemu::jit", "region at {:#x} not compiled: {e}", f.pc);
                self.refused.insert((pa, f.region.generation));
                self.hot.reset(f.pc);
                if e == compiler::PANICKED {
                    // The code cache may hold a half-made function.
                    self.flush();
                }
                false
            }
        }
    }
}
