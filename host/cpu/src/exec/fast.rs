//! The interpreter's hot path: executing cached entries (`uop::Entry`),
//! and `Hart::run`'s loop over them.
//!
//! `run` executes straight from the instruction cache, a cached page
//! ("frame") at a time and on from page to page, for as long as the
//! instructions have a fast form (`Op::Slow` and uncached code go through
//! `step`). What `step` does before every instruction is done once per
//! stretch, which is exact because nothing executed inside a stretch can
//! change it:
//!
//! - pending interrupts: they depend on mip, mie, mstatus.MIE/SIE and the
//!   mode, which only CSR instructions, traps and xRET (all `Op::Slow` or
//!   faults, which end the stretch) and the machine between `run` calls
//!   change;
//! - the pc's translation: the TLB and satp change only at SFENCE.VMA and
//!   satp writes (slow); data accesses' page walks can only add entries.
//!   A frame covers one 4 KiB page, so the pc is translated again (a TLB
//!   lookup) when it moves to another page;
//! - fetch permission (PMP): PMP CSRs change only through CSR
//!   instructions. A page is run from its frame only if PMP does not
//!   apply (M-mode, no locked entry) or the page's cached verdict grants
//!   the mode X for all of it (`Hart::cached_fetch_page`); a page PMP
//!   splits, and a 32-bit instruction reaching into the next page
//!   (cached as `Op::Slow`), go through `step`, which checks each parcel;
//! - the decoded instructions: only FENCE.I (slow) flushes them;
//! - `Memory::yield_requested`: the memory can only change its mind while
//!   the hart calls it, so it is polled after each load, store, AMO and
//!   F/D access.
//!
//! Instructions retired and the budget are counted per instruction, so
//! `max_insns`, instret, and the pc and mepc of a trap are exact.
//!
//! The loop's machine code matters more than its source suggests (see
//! docs/performance.md): the loop-carried values (hart, memory, frame, pc,
//! budget) must stay in registers, and the next sequential pc must not
//! depend on a load. Check `valgrind --tool=callgrind` counts and the
//! disassembly of `run_frame` after changing it.

use super::{Fault, GeneralOutcome, Next, sext};
use crate::Memory;
use crate::alu::{alu, alu_w, branch_taken};
use crate::decode::decode;
use crate::hart::Hart;
use crate::icache::{Frame, PAGE_SHIFT, slot_of};
use crate::insn::{AluOp, AluWOp, BranchCond, Width};
use crate::jit::{Entered, Hotness, Jit};
use crate::uop::{Entry, Op, runs_in_place};
use crate::{RamWindow, RunExit, StepEvent};

/// What executing an entry did: `Ok(pc)` when it retired and execution
/// goes on at `pc`.
pub(super) type Flow = Result<u64, Stop>;

/// Why an entry's execution did not simply go on.
pub(super) enum Stop {
    /// It retired, continue at this pc, but the memory asked the machine
    /// to act (`Memory::yield_requested`; only polled when asked to).
    Yield(u64),
    /// It retired, continue at this pc, which is in another page (or,
    /// with `exec_entry`'s `TAKEN`, was reached by a jump the JIT counts).
    Leave(u64),
    /// Nothing done: the entry needs `step` (or is empty).
    Slow,
    /// It did not complete.
    Fault(Fault),
}

/// Why `run_frame` returned.
enum Stretch {
    /// The budget is used up, or the pc moved to a page that is not
    /// cached (or whose translation is not): `run` goes on.
    Stop,
    /// The memory asked to yield after the last instruction.
    Yield,
    /// The instruction at the pc needs `step` (slow or not yet decoded).
    Slow,
    /// The instruction at the pc faulted (its bits for mtval).
    Fault(Fault, u32),
    /// A jump or a page change reached a pc that just became hot (only
    /// when counting for the JIT).
    Hot,
}

const PAGE_MASK: u64 = (1 << PAGE_SHIFT) - 1;

impl Hart {
    /// Execute one entry at `pc`. `Op::Slow` and `Op::Fill` return
    /// `Stop::Slow` and change nothing. With `POLL`, loads and stores ask
    /// the memory whether it wants to yield (`Stop::Yield`). With `TAKEN`,
    /// the jumps the JIT counts (calls, indirect jumps, backward branches
    /// and jumps) return `Stop::Leave`, in the page or not, so
    /// `run_frame` counts their targets only on that (rare) path: a test
    /// of every next pc against the sequential one cost the interpreter
    /// under the JIT 40 % (docs/jit.md).
    #[inline(always)]
    pub(super) fn exec_entry<M: Memory, const POLL: bool, const TAKEN: bool>(
        &mut self,
        mem: &mut M,
        e: &Entry,
        pc: u64,
        paged: Option<&RamWindow>,
    ) -> Flow {
        // One copy of the executor per instruction length, chosen by a
        // (well predicted) branch: the next sequential pc is then `pc` plus
        // a constant, not plus a value loaded from the entry, which would
        // put a load on the pc's dependency chain, instruction after
        // instruction.
        if e.len == 2 {
            self.exec_len::<M, POLL, TAKEN, 2>(mem, e, pc, paged)
        } else {
            self.exec_len::<M, POLL, TAKEN, 4>(mem, e, pc, paged)
        }
    }

    /// `exec_entry` for an entry of `LEN` bytes (4 also serves the empty
    /// slot, which changes nothing). `paged`: data accesses are translated
    /// and the fast TLB holds entries for the current regime and this RAM
    /// window (`run_frame`), so loads and stores probe it first.
    #[inline(always)]
    fn exec_len<M: Memory, const POLL: bool, const TAKEN: bool, const LEN: u64>(
        &mut self,
        mem: &mut M,
        e: &Entry,
        pc: u64,
        paged: Option<&RamWindow>,
    ) -> Flow {
        // Operands are read inside each arm, so an arm reads only what it
        // uses (read up front, every instruction paid for all of them).
        macro_rules! rs1 {
            () => {
                self.x[usize::from(e.rs1 & 31)]
            };
        }
        macro_rules! rs2 {
            () => {
                self.x[usize::from(e.rs2 & 31)]
            };
        }
        macro_rules! imm {
            () => {
                sext(e.imm)
            };
        }
        macro_rules! seq {
            () => {
                pc.wrapping_add(LEN)
            };
        }
        // Go on sequentially. The pc left the page iff its offset wrapped
        // below the length (checked here rather than against the page in
        // the caller's loop: one value less to keep in a register there).
        macro_rules! go_seq {
            () => {{
                let next = seq!();
                if next & PAGE_MASK < LEN {
                    return Err(Stop::Leave(next));
                }
                return Ok(next);
            }};
        }
        // Jump to `$t` (a call or an indirect jump).
        macro_rules! go {
            ($t:expr) => {{
                let next = $t;
                if TAKEN || (next ^ pc) > PAGE_MASK {
                    return Err(Stop::Leave(next));
                }
                return Ok(next);
            }};
        }
        // Branch or jump to `$t`: with `TAKEN`, only a backward one (a
        // loop) leaves; forward ones are as frequent and lead to no head
        // worth a region of its own.
        macro_rules! go_back {
            ($t:expr) => {{
                let next = $t;
                if (TAKEN && next <= pc) || (next ^ pc) > PAGE_MASK {
                    return Err(Stop::Leave(next));
                }
                return Ok(next);
            }};
        }
        // After a memory access.
        macro_rules! mem_next {
            () => {{
                if POLL && mem.yield_requested() {
                    return Err(Stop::Yield(seq!()));
                }
                go_seq!()
            }};
        }
        // `lower` never gives a writing op rd = x0, so no check here.
        macro_rules! set {
            ($v:expr) => {{
                let v = $v;
                debug_assert!(e.rd & 31 != 0, "{e:?} writes x0");
                self.x[usize::from(e.rd & 31)] = v;
            }};
        }
        macro_rules! alu {
            ($op:ident, $b:expr) => {
                set!(alu(AluOp::$op, rs1!(), $b))
            };
        }
        macro_rules! alu_w {
            ($op:ident, $b:expr) => {
                set!(alu_w(AluWOp::$op, rs1!(), $b))
            };
        }
        macro_rules! branch {
            ($c:ident) => {{
                if branch_taken(BranchCond::$c, rs1!(), rs2!()) {
                    go_back!(pc.wrapping_add(imm!()));
                }
            }};
        }
        macro_rules! load {
            ($w:ident, $t:ty) => {{
                let addr = rs1!().wrapping_add(imm!());
                let r = match paged {
                    Some(w) => self.load_paged(mem, pc, addr, Width::$w, w),
                    None => self.load(mem, pc, addr, Width::$w),
                };
                match r {
                    // Truncate to the width, then sign- or zero-extend.
                    Ok(v) => set!(v as $t as i64 as u64),
                    Err(f) => return Err(Stop::Fault(f)),
                }
                mem_next!()
            }};
        }
        macro_rules! store {
            ($w:ident) => {{
                let (addr, v) = (rs1!().wrapping_add(imm!()), rs2!());
                let r = match paged {
                    Some(w) => self.store_paged(mem, pc, addr, Width::$w, v, w),
                    None => self.store(mem, pc, addr, Width::$w, v),
                };
                if let Err(f) = r {
                    return Err(Stop::Fault(f));
                }
                mem_next!()
            }};
        }
        match e.op {
            Op::Fill | Op::Slow => return Err(Stop::Slow),
            Op::General => {
                self.exec_general(mem, e.imm as u32, pc)?;
                mem_next!()
            }
            Op::Nop => {}
            Op::Add => alu!(Add, rs2!()),
            Op::Sub => alu!(Sub, rs2!()),
            Op::Sll => alu!(Sll, rs2!()),
            Op::Slt => alu!(Slt, rs2!()),
            Op::Sltu => alu!(Sltu, rs2!()),
            Op::Xor => alu!(Xor, rs2!()),
            Op::Srl => alu!(Srl, rs2!()),
            Op::Sra => alu!(Sra, rs2!()),
            Op::Or => alu!(Or, rs2!()),
            Op::And => alu!(And, rs2!()),
            Op::Mul => alu!(Mul, rs2!()),
            Op::Mulh => alu!(Mulh, rs2!()),
            Op::Mulhsu => alu!(Mulhsu, rs2!()),
            Op::Mulhu => alu!(Mulhu, rs2!()),
            Op::Div => alu!(Div, rs2!()),
            Op::Divu => alu!(Divu, rs2!()),
            Op::Rem => alu!(Rem, rs2!()),
            Op::Remu => alu!(Remu, rs2!()),
            Op::Addi => alu!(Add, imm!()),
            Op::Slti => alu!(Slt, imm!()),
            Op::Sltiu => alu!(Sltu, imm!()),
            Op::Xori => alu!(Xor, imm!()),
            Op::Ori => alu!(Or, imm!()),
            Op::Andi => alu!(And, imm!()),
            Op::Slli => alu!(Sll, imm!()),
            Op::Srli => alu!(Srl, imm!()),
            Op::Srai => alu!(Sra, imm!()),
            Op::Addw => alu_w!(Add, rs2!()),
            Op::Subw => alu_w!(Sub, rs2!()),
            Op::Sllw => alu_w!(Sll, rs2!()),
            Op::Srlw => alu_w!(Srl, rs2!()),
            Op::Sraw => alu_w!(Sra, rs2!()),
            Op::Mulw => alu_w!(Mul, rs2!()),
            Op::Divw => alu_w!(Div, rs2!()),
            Op::Divuw => alu_w!(Divu, rs2!()),
            Op::Remw => alu_w!(Rem, rs2!()),
            Op::Remuw => alu_w!(Remu, rs2!()),
            Op::Addiw => alu_w!(Add, imm!()),
            Op::Slliw => alu_w!(Sll, imm!()),
            Op::Srliw => alu_w!(Srl, imm!()),
            Op::Sraiw => alu_w!(Sra, imm!()),
            Op::Lui => set!(imm!()),
            Op::Auipc => set!(pc.wrapping_add(imm!())),
            // With C, every target is 2-aligned: no misaligned-fetch check.
            Op::Jal => {
                set!(seq!());
                go!(pc.wrapping_add(imm!()))
            }
            Op::J => go_back!(pc.wrapping_add(imm!())),
            Op::Jalr => {
                // Target first: rd may equal rs1.
                let target = rs1!().wrapping_add(imm!()) & !1;
                set!(seq!());
                go!(target)
            }
            Op::Jr => go!(rs1!().wrapping_add(imm!()) & !1),
            Op::Beq => branch!(Eq),
            Op::Bne => branch!(Ne),
            Op::Blt => branch!(Lt),
            Op::Bge => branch!(Ge),
            Op::Bltu => branch!(Ltu),
            Op::Bgeu => branch!(Geu),
            Op::Lb => load!(B, i8),
            Op::Lh => load!(H, i16),
            Op::Lw => load!(W, i32),
            Op::Ld => load!(D, u64),
            Op::Lbu => load!(B, u8),
            Op::Lhu => load!(H, u16),
            Op::Lwu => load!(W, u32),
            Op::Sb => store!(B),
            Op::Sh => store!(H),
            Op::Sw => store!(W),
            Op::Sd => store!(D),
        }
        go_seq!()
    }

    /// `Op::General`: the general executor, on an instruction that
    /// `runs_in_place` (it cannot jump, trap-return or wait). `Ok` when
    /// it retired; the pc goes on sequentially.
    #[inline(never)]
    fn exec_general<M: Memory>(&mut self, mem: &mut M, raw: u32, pc: u64) -> Result<(), Stop> {
        let d = decode(raw);
        if !runs_in_place(&d.insn) {
            return Err(Stop::Slow);
        }
        // `execute` works at `self.pc`, which `run_frame` only updates at
        // the end of a stretch.
        self.pc = pc;
        match self.execute(&d, mem) {
            Ok(Next::Seq) => Ok(()),
            // Not an instruction that runs in place; nothing was done.
            Ok(Next::Jump(_) | Next::Wfi) => Err(Stop::Slow),
            Err(f) => Err(Stop::Fault(f)),
        }
    }

    /// `exec_general` for the JIT's helper.
    pub(crate) fn exec_general_at<M: Memory>(&mut self, mem: &mut M, raw: u32, pc: u64) -> GeneralOutcome {
        match self.exec_general(mem, raw, pc) {
            Ok(()) => GeneralOutcome::Done,
            Err(Stop::Fault(f)) => GeneralOutcome::Fault(f),
            Err(_) => GeneralOutcome::Slow,
        }
    }

    /// Run until `max_insns` steps (retired instructions and taken traps
    /// each count one, so a trap storm cannot spin forever), WFI, a yield
    /// request from memory, or a halt. The same as calling `step` that
    /// many times and polling `Memory::yield_requested` after each, only
    /// faster.
    pub fn run<M: Memory>(&mut self, mem: &mut M, max_insns: u64) -> RunExit {
        self.run_tiers::<M, false>(mem, max_insns, None)
    }

    /// `run`, with hot code translated by `jit` and run as host code. The
    /// same steps in the same order as `run`: only faster.
    pub fn run_jit<M: Memory>(&mut self, mem: &mut M, max_insns: u64, jit: &mut Jit) -> RunExit {
        self.run_tiers::<M, true>(mem, max_insns, Some(jit))
    }

    /// The regions of `jit` where they exist and fit the budget, the
    /// interpreter elsewhere (counting hot pcs for `jit`).
    #[inline(always)]
    fn run_tiers<M: Memory, const JIT: bool>(
        &mut self,
        mem: &mut M,
        max_insns: u64,
        mut jit: Option<&mut Jit>,
    ) -> RunExit {
        // `x` is public; keep x0 hard-wired even if someone outside wrote it.
        self.x[0] = 0;
        let window = mem.ram_window();
        if let Some(jit) = jit.as_deref_mut() {
            jit.set_window(window);
        }
        let mut n = 0;
        while n < max_insns {
            // With the JIT, the physical pc when the pc's page may be run
            // from the cache (looked up once for both tiers).
            let pa = if JIT { self.runnable_pa() } else { None };
            if JIT
                && let Some(jit) = jit.as_deref_mut()
                && let Some(pa) = pa
            {
                match jit.enter(self, mem, pa, max_insns - n) {
                    Some((_, Entered::TooLong)) => {}
                    Some((done, how)) => {
                        n += done;
                        match how {
                            Entered::TooLong | Entered::Next => continue,
                            Entered::Yield => return RunExit::Yield,
                            Entered::Fault(f, raw) => {
                                if let Err(exit) = self.trap_fault(mem, f, raw) {
                                    return exit;
                                }
                                n += 1;
                                continue;
                            }
                        }
                    }
                    // Not where the last call's budget ran out (anywhere
                    // in a loop): counting that would in the end make
                    // every pc of a hot loop a region head.
                    None if n > 0 || self.pc != self.budget_stop || jit.config.count_budget_stops => {
                        let limit = jit.hot.limit(self.direct_data());
                        if jit.hot.tick(self.pc, limit) && jit.hot_at(self, self.pc, pa) {
                            continue;
                        }
                    }
                    None => {}
                }
            }
            let runnable = if JIT { pa.and_then(|pa| self.icache.take(pa)) } else { self.runnable_frame() };
            if let Some((frame, slots)) = runnable {
                let hot = jit.as_deref_mut().map(|j| &mut j.hot);
                let (done, exit) = self.run_frame::<M, JIT>(mem, frame, slots, max_insns - n, hot, window);
                n += done;
                match exit {
                    Stretch::Hot => {
                        if let Some(jit) = jit.as_deref_mut()
                            && let Some(pa) = self.runnable_pa()
                        {
                            jit.hot_at(self, self.pc, pa);
                        }
                        continue;
                    }
                    Stretch::Stop => continue,
                    Stretch::Yield => return RunExit::Yield,
                    Stretch::Fault(f, raw) => {
                        if let Err(exit) = self.trap_fault(mem, f, raw) {
                            return exit;
                        }
                        n += 1;
                        continue;
                    }
                    // The instruction at the pc goes through `step`.
                    Stretch::Slow => {}
                }
            }
            match self.step(mem) {
                Ok(StepEvent::Wfi) => return RunExit::Wfi,
                Ok(StepEvent::Retired | StepEvent::Trap(_)) => n += 1,
                Err(h) => return RunExit::Halt(h),
            }
            if mem.yield_requested() {
                return RunExit::Yield;
            }
        }
        self.budget_stop = self.pc;
        RunExit::Budget
    }

    /// Take the trap for `f`, raised by the instruction at the pc (bits
    /// `raw`) in either tier; it counts one step. `Err` when `run` must
    /// return: the machine halted, or the memory asked to yield.
    #[inline(always)]
    fn trap_fault<M: Memory>(&mut self, mem: &mut M, f: Fault, raw: u32) -> Result<(), RunExit> {
        if let Err(h) = self.fault(mem, f, Some(raw)) {
            return Err(RunExit::Halt(h));
        }
        if mem.yield_requested() {
            return Err(RunExit::Yield);
        }
        Ok(())
    }

    /// The cached page to run the pc from, when `step` would do nothing
    /// but execute it: not waiting in WFI, no interrupt to take, the pc's
    /// translation cached and its page in the instruction cache. The frame
    /// is lent out of the cache (`ICache::take`); give it back with `put`.
    #[inline]
    fn runnable_frame(&mut self) -> Option<(usize, Frame)> {
        if self.waiting || (self.wfi_wake_pending() && self.pending_interrupt().is_some()) {
            return None;
        }
        self.frame_at(self.pc)
    }

    /// The physical pc, when `step` would do nothing but execute the
    /// instruction there and the pc's page may be run without per-parcel
    /// checks (as for `runnable_frame`).
    #[inline]
    fn runnable_pa(&self) -> Option<u64> {
        if self.waiting || (self.wfi_wake_pending() && self.pending_interrupt().is_some()) || self.pc & 1 != 0
        {
            return None;
        }
        self.cached_fetch_page(self.pc)
    }

    /// The frame of virtual `pc`'s page, if the pc's translation needs no
    /// walk, PMP lets the mode execute the whole page (or does not apply)
    /// and the page is cached; lent out as by `runnable_frame`.
    #[inline(always)]
    fn frame_at(&mut self, pc: u64) -> Option<(usize, Frame)> {
        if pc & 1 != 0 {
            return None;
        }
        self.icache.take(self.cached_fetch_page(pc)?)
    }

    /// `frame_at` for the page the pc moved to within a stretch (out of
    /// the hot loop). Nothing `runnable_frame` checks changes within a
    /// stretch, so only the pc's translation and the cache are looked at.
    #[inline(never)]
    fn next_frame(&mut self, pc: u64) -> Option<(usize, Frame)> {
        self.frame_at(pc)
    }

    /// Execute cached entries from the pc, starting in `slots` (the frame
    /// of the pc's page, lent out as `frame`) and going on page after
    /// page, while they have fast forms, at most `budget` of them. Returns
    /// how many retired and why it stopped; the pc, instret and trap
    /// bookkeeping are up to date and the frame is back in the cache.
    ///
    /// With `COUNT`, each call, indirect jump, backward branch or jump and
    /// page change counts an arrival at its target in `hot`, and a target that becomes hot ends the stretch
    /// there (`Stretch::Hot`), so the JIT can compile it.
    #[inline(never)]
    fn run_frame<M: Memory, const COUNT: bool>(
        &mut self,
        mem: &mut M,
        mut frame: usize,
        mut slots: Frame,
        budget: u64,
        mut hot: Option<&mut Hotness>,
        window: Option<RamWindow>,
    ) -> (u64, Stretch) {
        // Nothing in a stretch changes the regime (CSR writes, traps and
        // xRET end it), so the fast TLB is keyed once here.
        let paged = window.filter(|_| self.paged_data());
        if let Some(w) = &paged {
            self.tlb.set_fast_key(self.fast_key(w));
        }
        let mut pc = self.pc;
        let mut left = budget;
        let limit = hot.as_deref().map_or(u32::MAX, |h| h.limit(self.direct_data()));
        let exit = loop {
            let e = &slots[slot_of(pc)];
            match self.exec_entry::<M, true, COUNT>(mem, e, pc, paged.as_ref()) {
                Ok(next) => pc = next,
                Err(Stop::Leave(next)) => {
                    let same_page = (next ^ pc) <= PAGE_MASK;
                    pc = next;
                    left -= 1;
                    if left == 0 {
                        break Stretch::Stop;
                    }
                    if COUNT {
                        if let Some(h) = hot.as_deref_mut()
                            && h.tick(pc, limit)
                        {
                            break Stretch::Hot;
                        }
                        // A counted jump within the page (see
                        // `exec_entry`'s `TAKEN`): same frame.
                        if same_page {
                            continue;
                        }
                    }
                    // Go on in the next page's frame, if cached.
                    let Some((next, next_slots)) = self.next_frame(pc) else {
                        break Stretch::Stop;
                    };
                    self.icache.put(frame, std::mem::replace(&mut slots, next_slots));
                    frame = next;
                    continue;
                }
                Err(Stop::Yield(next)) => {
                    pc = next;
                    left -= 1;
                    break Stretch::Yield;
                }
                Err(Stop::Slow) => break Stretch::Slow,
                Err(Stop::Fault(f)) => break Stretch::Fault(f, slots[slot_of(pc)].raw),
            }
            left -= 1;
            if left == 0 {
                break Stretch::Stop;
            }
        };
        self.icache.put(frame, slots);
        let n = budget - left;
        self.pc = pc;
        self.retired = self.retired.wrapping_add(n);
        if n > 0 {
            self.trap_origin = None;
        }
        (n, exit)
    }
}
