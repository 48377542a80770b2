//! Machine-mode CSR access and a few privileged instructions.
//!
//! Reads are safe; writes that can redirect control flow or let interrupts
//! in are `unsafe` because the caller must have a handler ready for them.

use core::arch::asm;

/// mstatus.MIE: global machine interrupt enable.
pub const MSTATUS_MIE: usize = 1 << 3;
/// mie.MEIE: machine external interrupt enable.
pub const MIE_MEIE: usize = 1 << 11;

macro_rules! read_csr {
    ($(#[$doc:meta])* $name:ident, $csr:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name() -> usize {
            let value: usize;
            // SAFETY: reading these M-mode CSRs has no side effects.
            unsafe { asm!(concat!("csrr {0}, ", $csr), out(reg) value, options(nomem, nostack)) };
            value
        }
    };
}

read_csr!(
    /// Hart id of the executing hart.
    mhartid,
    "mhartid"
);
read_csr!(
    /// ISA register: MXL in the top two bits, one bit per extension letter.
    misa,
    "misa"
);
read_csr!(
    /// Trap cause; the top bit is set for interrupts.
    mcause,
    "mcause"
);
read_csr!(
    /// Address of the instruction that trapped (or was interrupted).
    mepc,
    "mepc"
);
read_csr!(
    /// Extra trap information (faulting address or instruction bits).
    mtval,
    "mtval"
);
read_csr!(
    /// Trap vector base and mode.
    mtvec,
    "mtvec"
);

/// Sets the address `mret` returns to.
///
/// # Safety
/// `mepc` must point at code that is valid to resume.
#[inline(always)]
pub unsafe fn set_mepc(value: usize) {
    // SAFETY: upheld by the caller.
    unsafe { asm!("csrw mepc, {0}", in(reg) value, options(nostack)) };
}

/// Sets the trap vector.
///
/// # Safety
/// Every trap will jump to `value`; it must be a valid handler (or the caller
/// must want the machine to fault there, as `nohandler` does).
#[inline(always)]
pub unsafe fn set_mtvec(value: usize) {
    // SAFETY: upheld by the caller.
    unsafe { asm!("csrw mtvec, {0}", in(reg) value, options(nostack)) };
}

/// Sets bits in `mie` (per-source interrupt enables).
///
/// # Safety
/// A handler must be installed for any source enabled while mstatus.MIE is set.
#[inline(always)]
pub unsafe fn set_mie(bits: usize) {
    // SAFETY: upheld by the caller.
    unsafe { asm!("csrs mie, {0}", in(reg) bits, options(nostack)) };
}

/// Sets mstatus.MIE so enabled, pending interrupts are taken.
///
/// Not `nomem`: this is also a compiler barrier, because an interrupt taken
/// right after it may change memory.
///
/// # Safety
/// A trap handler must be installed.
#[inline(always)]
pub unsafe fn enable_interrupts() {
    // SAFETY: upheld by the caller.
    unsafe { asm!("csrs mstatus, {0}", in(reg) MSTATUS_MIE, options(nostack)) };
}

/// Clears mstatus.MIE. Also a compiler barrier (see `enable_interrupts`).
#[inline(always)]
pub fn disable_interrupts() {
    // SAFETY: masking interrupts cannot break any invariant.
    unsafe { asm!("csrc mstatus, {0}", in(reg) MSTATUS_MIE, options(nostack)) };
}

/// Waits for an interrupt. Per the privileged spec the hart wakes when an
/// interrupt is pending and enabled in `mie`, even if mstatus.MIE is clear,
/// which is what makes the masked check-then-wait in `irq-echo` race-free.
#[inline(always)]
pub fn wfi() {
    // SAFETY: wfi only stalls the hart.
    unsafe { asm!("wfi", options(nostack)) };
}
