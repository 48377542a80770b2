//! Direct-mode trap entry that saves the caller-saved registers and calls a
//! Rust handler, then returns with `mret`.
//!
//! Only caller-saved registers need saving: the handler is an ordinary
//! `extern "C"` function, so it preserves s0-s11 and sp itself, and Rust code
//! never touches gp/tp.

use core::arch::global_asm;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::{csr, finisher, println};

/// `mcause` values used by the guests.
pub mod cause {
    /// Set in `mcause` for interrupts.
    pub const INTERRUPT: usize = 1 << (usize::BITS - 1);
    pub const ILLEGAL_INSTRUCTION: usize = 2;
    pub const LOAD_ACCESS_FAULT: usize = 5;
    pub const ECALL_FROM_M: usize = 11;
    pub const MACHINE_EXTERNAL_INTERRUPT: usize = INTERRUPT | 11;
}

/// The registers saved by the trap entry, in stack order.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub ra: usize,
    pub t: [usize; 7],
    pub a: [usize; 8],
}

/// A trap handler. It returns to `mepc` (which it may change) via `mret`.
pub type Handler = fn(&mut TrapFrame);

/// One trap entry: save the caller-saved registers, call `$dispatch` with
/// the frame, restore, return with `$ret` (`mret` or `sret`). Each entry is
/// in its own section so --gc-sections drops it from programs that never
/// use it; the vector CSR's low two bits select the mode, so 4-aligned.
macro_rules! trap_entry {
    ($entry:literal, $dispatch:literal, $ret:literal) => {
        global_asm!(concat!(
            ".section .text.",
            $entry,
            ", \"ax\"\n",
            ".global ",
            $entry,
            "\n",
            ".balign 4\n",
            $entry,
            ":\n",
            "addi sp, sp, -128\n",
            "sd ra, 0(sp)\n sd t0, 8(sp)\n sd t1, 16(sp)\n sd t2, 24(sp)\n",
            "sd t3, 32(sp)\n sd t4, 40(sp)\n sd t5, 48(sp)\n sd t6, 56(sp)\n",
            "sd a0, 64(sp)\n sd a1, 72(sp)\n sd a2, 80(sp)\n sd a3, 88(sp)\n",
            "sd a4, 96(sp)\n sd a5, 104(sp)\n sd a6, 112(sp)\n sd a7, 120(sp)\n",
            "mv a0, sp\n",
            "call ",
            $dispatch,
            "\n",
            "ld ra, 0(sp)\n ld t0, 8(sp)\n ld t1, 16(sp)\n ld t2, 24(sp)\n",
            "ld t3, 32(sp)\n ld t4, 40(sp)\n ld t5, 48(sp)\n ld t6, 56(sp)\n",
            "ld a0, 64(sp)\n ld a1, 72(sp)\n ld a2, 80(sp)\n ld a3, 88(sp)\n",
            "ld a4, 96(sp)\n ld a5, 104(sp)\n ld a6, 112(sp)\n ld a7, 120(sp)\n",
            "addi sp, sp, 128\n",
            $ret,
            "\n",
        ));
    };
}

trap_entry!("rt_trap_entry", "rt_trap_dispatch", "mret");
trap_entry!("rt_strap_entry", "rt_strap_dispatch", "sret");

unsafe extern "C" {
    fn rt_trap_entry();
    fn rt_strap_entry();
}

/// The installed supervisor `Handler`, or null for "report and exit".
static S_HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Makes `handler` receive the traps delegated to S-mode: points stvec
/// (direct mode) at the supervisor entry, which returns with `sret`.
/// Callable from M-mode (before dropping to S) or from S-mode.
pub fn install_supervisor(handler: Handler) {
    S_HANDLER.store(handler as *mut (), Ordering::Release);
    let entry = rt_strap_entry as *const () as usize;
    // SAFETY: rt_strap_entry is a complete trap handler, 4-byte aligned;
    // stvec is writable from M and S.
    unsafe { core::arch::asm!("csrw stvec, {0}", in(reg) entry, options(nostack)) };
}

#[unsafe(no_mangle)]
extern "C" fn rt_strap_dispatch(frame: &mut TrapFrame) {
    let handler = S_HANDLER.load(Ordering::Acquire);
    if handler.is_null() {
        println!("unexpected supervisor trap");
        finisher::exit(13)
    }
    // SAFETY: the only non-null value ever stored is a `Handler`.
    let handler = unsafe { core::mem::transmute::<*mut (), Handler>(handler) };
    handler(frame);
}

/// The installed `Handler`, or null for "report and exit".
static HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Makes `handler` receive every trap: points mtvec (direct mode) at the
/// assembly entry above.
pub fn install(handler: Handler) {
    HANDLER.store(handler as *mut (), Ordering::Release);
    // SAFETY: rt_trap_entry is a complete trap handler, 4-byte aligned.
    unsafe { csr::set_mtvec(rt_trap_entry as *const () as usize) };
}

#[unsafe(no_mangle)]
extern "C" fn rt_trap_dispatch(frame: &mut TrapFrame) {
    let handler = HANDLER.load(Ordering::Acquire);
    if handler.is_null() {
        unexpected();
    }
    // SAFETY: the only non-null value ever stored is a `Handler` (`install`).
    let handler = unsafe { core::mem::transmute::<*mut (), Handler>(handler) };
    handler(frame);
}

/// Reports the current trap as unexpected and exits with code 13.
pub fn unexpected() -> ! {
    println!("unexpected trap mcause={:#x} mepc={:#x} mtval={:#x}", csr::mcause(), csr::mepc(), csr::mtval());
    finisher::exit(13)
}

/// Length in bytes of the instruction at `addr`: 4 if the low two bits of its
/// first 16-bit parcel are 0b11, else 2 (compressed). Longer encodings do not
/// exist on this machine.
///
/// # Safety
/// `addr` must be a readable, 2-byte aligned address (e.g. `mepc`).
pub unsafe fn instruction_len(addr: usize) -> usize {
    // SAFETY: upheld by the caller.
    let parcel = unsafe { core::ptr::read_volatile(addr as *const u16) };
    if parcel & 0b11 == 0b11 { 4 } else { 2 }
}

/// Moves `mepc` past the instruction that trapped, so `mret` resumes after it.
pub fn skip_faulting_instruction() {
    let mepc = csr::mepc();
    // SAFETY: mepc points at the (readable, RAM-resident) trapping instruction;
    // resuming at the next instruction is what the callers want.
    unsafe { csr::set_mepc(mepc + instruction_len(mepc)) };
}
