//! What translated code and the hart share during one region call: the
//! [`Call`] record, and the Rust functions generated code calls for
//! everything it does not do inline. Each helper runs the interpreter's
//! own code (`Hart::load`, `Hart::store`, `Hart::exec_general`, `alu`), so
//! the two tiers cannot disagree on what an instruction does.

use crate::Memory;
use crate::alu::{alu, alu_w};
use crate::exec::{Fault, GeneralOutcome};
use crate::hart::Hart;
use crate::insn::{AluOp, AluWOp, Width};

/// How a helper call ended; generated code reads it from [`Call::status`].
pub(crate) mod status {
    /// Completed; go on.
    pub const OK: u32 = 0;
    /// Completed, and the memory asked the hart to yield
    /// (`Memory::yield_requested`): the region exits after this
    /// instruction.
    pub const YIELD: u32 = 1;
    /// Did not complete: `Call::fault` says why; the region exits at this
    /// instruction, which has not retired.
    pub const FAULT: u32 = 2;
    /// Nothing done: the instruction needs `Hart::step` (the region exits
    /// at it).
    pub const SLOW: u32 = 3;
}

/// Why a region returned (its return value).
pub(crate) mod exit {
    /// Go on at `Call::pc` (a jump out of the region, or an instruction it
    /// does not hold).
    pub const NEXT: u32 = 0;
    /// The last instruction retired and the memory asked to yield; go on
    /// at `Call::pc` after the machine acted.
    pub const YIELD: u32 = 1;
    /// The instruction at `Call::pc` faulted (`Call::fault`, its bits in
    /// `Call::raw`).
    pub const FAULT: u32 = 2;
}

/// A load: the value (zero-extended) of `size` bytes at virtual `addr`,
/// for the instruction at `pc` whose bits are `raw`.
pub(crate) type LoadFn = unsafe extern "C" fn(*mut Hart, *mut Call, u64, u64, u32, u32) -> u64;
/// A store of the low `size` bytes of `value` at virtual `addr`.
pub(crate) type StoreFn = unsafe extern "C" fn(*mut Hart, *mut Call, u64, u64, u32, u32, u64);
/// An `Op::General` instruction (bits `raw`) at `pc`.
pub(crate) type GeneralFn = unsafe extern "C" fn(*mut Hart, *mut Call, u64, u32);
/// A division or remainder (`DivKind`) of `a` by `b`.
pub(crate) type DivFn = extern "C" fn(u32, u64, u64) -> u64;

/// The record a region is called with (its second argument). Generated
/// code reads the helpers and the budget from it and writes the exit
/// state into it; field offsets come from `offset_of!`.
#[repr(C)]
pub(crate) struct Call {
    /// The `&mut M` the helpers were made for.
    pub(crate) mem: *mut u8,
    pub(crate) load: LoadFn,
    pub(crate) store: StoreFn,
    pub(crate) general: GeneralFn,
    pub(crate) div: DivFn,
    /// Instructions the region may retire (it checks at entry and at loop
    /// heads that its longest path to the next check fits).
    pub(crate) budget: u64,
    /// In and out: instructions retired so far in this call (regions
    /// chained one to the next carry it on).
    /// Virtual address of the region's page (regions are keyed by
    /// physical address; the pc a region computes is this plus offsets).
    pub(crate) vbase: u64,
    pub(crate) retired: u64,
    /// Out: the pc to go on at (or of the faulting instruction).
    pub(crate) pc: u64,
    /// Out, with `exit::NEXT` to a fixed target in the same page: the
    /// address of the exit's link slot (0 otherwise). The run loop stores
    /// the target's region there, and the exit then calls it directly.
    pub(crate) slot: u64,
    /// Out, with `exit::NEXT`: 1 if the exit was an indirect jump whose
    /// target the run loop may enter into the indirect-jump cache.
    pub(crate) ind: u64,
    /// The instruction cache's epoch (`ICache::epoch`), which entries of
    /// the indirect-jump cache must match.
    pub(crate) epoch: *const u64,
    /// Set by helpers: `status::*`.
    pub(crate) status: u32,
    /// Out, with `exit::FAULT`: the faulting instruction's bits.
    pub(crate) raw: u32,
    /// Set by a helper with `status::FAULT`.
    pub(crate) fault: Option<Fault>,
    /// Out: a load's value, when called through the preserve-all stub
    /// (`compiler::Glue`), which cannot return one.
    pub(crate) value: u64,
    /// In regions under address translation: the RAM window the load and
    /// store helpers fill the fast TLB for (`Hart::fill_fast`).
    pub(crate) fill: Option<crate::RamWindow>,
}

impl Call {
    /// A record for calling regions with memory `mem` of type `M`.
    pub(crate) fn new<M: Memory>(mem: &mut M, budget: u64, vbase: u64) -> Call {
        Call {
            mem: (mem as *mut M).cast(),
            load: load::<M>,
            store: store::<M>,
            general: general::<M>,
            div,
            budget,
            vbase,
            retired: 0,
            pc: 0,
            slot: 0,
            ind: 0,
            epoch: std::ptr::null(),
            status: status::OK,
            raw: 0,
            fault: None,
            value: 0,
            fill: None,
        }
    }
}

fn width(size: u32) -> Width {
    match size {
        1 => Width::B,
        2 => Width::H,
        4 => Width::W,
        _ => Width::D,
    }
}

/// Record how a memory access ended.
fn finish<M: Memory>(call: &mut Call, mem: &mut M, r: Result<(), Fault>, raw: u32) {
    call.status = match r {
        Ok(()) if mem.yield_requested() => status::YIELD,
        Ok(()) => status::OK,
        Err(f) => {
            call.fault = Some(f);
            call.raw = raw;
            status::FAULT
        }
    };
}

/// The hart, the call record and the memory a helper was called with.
///
/// # Safety
/// `hart` and `call` come from the region call in `Jit::enter`, which
/// holds `&mut` to both (and to the `M` behind `call.mem`) for its
/// duration; generated code does not touch them while a helper runs.
unsafe fn parts<'a, M: Memory>(hart: *mut Hart, call: *mut Call) -> (&'a mut Hart, &'a mut Call, &'a mut M) {
    // SAFETY: see the function's contract.
    let (hart, call) = unsafe { (&mut *hart, &mut *call) };
    // SAFETY: `call.mem` is the `&mut M` `Call::new` was given, alive for
    // the region call (see the function's contract).
    let mem = unsafe { &mut *call.mem.cast::<M>() };
    (hart, call, mem)
}

/// # Safety
/// As for [`parts`].
unsafe extern "C" fn load<M: Memory>(
    hart: *mut Hart,
    call: *mut Call,
    pc: u64,
    addr: u64,
    size: u32,
    raw: u32,
) -> u64 {
    // SAFETY: the function's contract.
    let (hart, call, mem) = unsafe { parts::<M>(hart, call) };
    match hart.load(mem, pc, addr, width(size)) {
        Ok(v) => {
            if let Some(w) = &call.fill {
                hart.fill_fast(addr, w);
            }
            finish(call, mem, Ok(()), raw);
            v
        }
        Err(f) => {
            finish(call, mem, Err(f), raw);
            0
        }
    }
}

/// # Safety
/// As for [`parts`].
unsafe extern "C" fn store<M: Memory>(
    hart: *mut Hart,
    call: *mut Call,
    pc: u64,
    addr: u64,
    size: u32,
    raw: u32,
    value: u64,
) {
    // SAFETY: the function's contract.
    let (hart, call, mem) = unsafe { parts::<M>(hart, call) };
    let r = hart.store(mem, pc, addr, width(size), value);
    if let (Ok(()), Some(w)) = (r, &call.fill) {
        hart.fill_fast(addr, w);
    }
    finish(call, mem, r, raw);
}

/// # Safety
/// As for [`parts`]. The region has written its registers back to the
/// hart before the call and reloads them after it.
unsafe extern "C" fn general<M: Memory>(hart: *mut Hart, call: *mut Call, pc: u64, raw: u32) {
    // SAFETY: the function's contract.
    let (hart, call, mem) = unsafe { parts::<M>(hart, call) };
    call.status = match hart.exec_general_at(mem, raw, pc) {
        GeneralOutcome::Done if mem.yield_requested() => status::YIELD,
        GeneralOutcome::Done => status::OK,
        GeneralOutcome::Slow => status::SLOW,
        GeneralOutcome::Fault(f) => {
            call.fault = Some(f);
            call.raw = raw;
            status::FAULT
        }
    };
}

/// The divisions and remainders, by their RISC-V names: `div` passes the
/// index, the helper runs the interpreter's `alu`/`alu_w` on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum DivKind {
    Div,
    Divu,
    Rem,
    Remu,
    Divw,
    Divuw,
    Remw,
    Remuw,
}

impl DivKind {
    const ALL: [DivKind; 8] = [
        DivKind::Div,
        DivKind::Divu,
        DivKind::Rem,
        DivKind::Remu,
        DivKind::Divw,
        DivKind::Divuw,
        DivKind::Remw,
        DivKind::Remuw,
    ];
}

extern "C" fn div(kind: u32, a: u64, b: u64) -> u64 {
    match DivKind::ALL.get(kind as usize) {
        Some(DivKind::Div) => alu(AluOp::Div, a, b),
        Some(DivKind::Divu) => alu(AluOp::Divu, a, b),
        Some(DivKind::Rem) => alu(AluOp::Rem, a, b),
        Some(DivKind::Remu) => alu(AluOp::Remu, a, b),
        Some(DivKind::Divw) => alu_w(AluWOp::Div, a, b),
        Some(DivKind::Divuw) => alu_w(AluWOp::Divu, a, b),
        Some(DivKind::Remw) => alu_w(AluWOp::Rem, a, b),
        Some(DivKind::Remuw) => alu_w(AluWOp::Remu, a, b),
        // Generated code passes only the indices above.
        None => 0,
    }
}
