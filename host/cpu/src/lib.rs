//! wemu's RISC-V hart.
//!
//! One decoder (`decode`) feeds the interpreter (`Hart::step`/`Hart::run`,
//! through a pre-decoded instruction cache, `icache`, holding instructions
//! lowered to flat operations, `uop`), the disassembler (`disasm`) and,
//! later, the JIT.
//! The hart is RV64IMAFDC + Zicsr + Zifencei with M, S and U privilege
//! modes (privileged spec 1.12, trap delegation, Sstc) and Sv39/Sv48
//! virtual memory with a TLB (`mmu`, `tlb`; A/D bits per Svade: a clear A,
//! or D on a store, page-faults) and 16 PMP entries (`pmp`). Misaligned
//! loads and stores complete in hardware (Zicclsm, as in QEMU) unless the
//! hart is set to trap them ([`Misaligned`]); misaligned AMOs and LR/SC
//! always raise the address-misaligned exception. Sdtrig's trigger CSRs
//! (tselect, tdata1-3, tinfo) are there, as in QEMU 7.2; the triggers do
//! not fire yet.
//!
//! The machine owns memory and devices: it implements [`Memory`], drives the
//! interrupt pins with [`Hart::set_irq_pin`], feeds the `time` CSR with
//! [`Hart::set_time`] and derives virtual time from [`Hart::instret`].

pub mod alu;
pub mod bitmanip;
pub mod csr;
pub mod decode;
pub mod disasm;
mod exec;
pub mod fpu;
pub mod hart;
mod icache;
pub mod insn;
pub mod jit;
pub mod mmu;
pub mod pmp;
mod tlb;
pub mod trap;
mod uop;

#[cfg(test)]
mod testutil;

pub use decode::decode;
pub use disasm::{disassemble, disassemble_at};
pub use exec::{RunExit, StepEvent};
pub use hart::{Hart, IrqPin, Misaligned, PrivMode};
pub use insn::{Decoded, FReg, Insn, Reg};
pub use jit::{Jit, JitConfig, JitError, JitStats};
pub use trap::{Access, Exception, Halt, Interrupt, TrapCause, TrapRecord};

/// Who made a memory access: the hart, and the pc of the instruction that
/// made it (crosvm's `BusAccessInfo` carries the vCPU the same way). The
/// hart passes it with every access, so a device fault is reported with
/// the faulting instruction's pc at once.
///
/// Two words passed by value: on the RAM fast path the machine inlines,
/// nothing reads them, so the compiler only materialises them on the way
/// to the out-of-line slow path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct AccessInfo {
    /// The hart's id (`mhartid`), or [`AccessInfo::HOST`]'s.
    pub hart: u32,
    /// The virtual pc of the instruction making the access.
    pub pc: u64,
}

impl AccessInfo {
    /// An access no hart made (an embedder or test poking the bus, HTIF).
    pub const HOST: AccessInfo = AccessInfo { hart: u32::MAX, pc: 0 };

    /// The guest pc, when a hart made the access.
    #[inline]
    pub fn guest_pc(self) -> Option<u64> {
        (self.hart != u32::MAX).then_some(self.pc)
    }
}

/// Physical memory as the hart sees it. The machine's bus implements this.
/// Every access carries an [`AccessInfo`]: which hart, at which pc.
pub trait Memory {
    /// Load `size` (1, 2, 4 or 8) bytes little-endian at physical `addr`, zero-extended.
    fn load(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError>;
    /// Store the low `size` (1, 2, 4 or 8) bytes of `value` little-endian at physical `addr`.
    fn store(&mut self, at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError>;
    /// Fetch for execution (`size` 2 or 4); separate so the machine can refuse
    /// execution from device regions (PMP is checked by the hart).
    /// The hart caches what it decoded (see [`Hart::flush_icache`]), so this
    /// is called once per instruction location, not once per execution.
    fn fetch(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError>;
    /// Polled by [`Hart::run`] after every instruction that called this
    /// memory (the answer can only change during such a call). Return
    /// `true` when the machine must act before the next instruction,
    /// typically because a device access just changed an interrupt line
    /// (or a device fault was survived, or an IRQ storm began):
    /// `run` then returns [`RunExit::Yield`] so the machine can call
    /// [`Hart::set_irq_pin`] at once instead of at the end of the budget (a
    /// guest handler that acknowledges its interrupt must not see it
    /// re-taken). Default: never.
    fn yield_requested(&mut self) -> bool {
        false
    }
    /// What backs the `len` physical bytes at `addr`: asked before the
    /// hart carries out a misaligned load or store as byte accesses (see
    /// [`Misaligned::Emulate`]). The hart completes it only where every
    /// byte is main memory; a device register makes it raise the
    /// address-misaligned exception, and a byte backed by nothing an
    /// access fault. Default: [`RangeKind::Device`], so a memory that does
    /// not answer keeps every misaligned access trapping.
    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let _ = (addr, len);
        RangeKind::Device
    }

    /// The main RAM block, for the JIT's inline loads and stores (which
    /// `load` and `store` must then serve exactly as the window says).
    /// Default: none (every access goes through `load` and `store`).
    fn ram_window(&self) -> Option<RamWindow> {
        None
    }
}

/// A RAM block as generated code may use it: guest-physical bytes
/// `[base, base + len)` are at host `host..host + len`, valid while the
/// memory lives (never moved), with no effect on reads and writes but the
/// bytes (no device, no tracking). Stores through it only if `writable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamWindow {
    pub host: *mut u8,
    pub base: u64,
    pub len: u64,
    pub writable: bool,
}

impl RamWindow {
    /// Whether the whole 4 KiB page at physical `page` (aligned) lies in
    /// the window.
    pub fn holds_page(&self, page: u64) -> bool {
        page.checked_sub(self.base)
            .is_some_and(|off| off.checked_add(0x1000).is_some_and(|end| end <= self.len))
    }
}

/// What backs a physical address range (see [`Memory::range_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeKind {
    /// Every byte is main memory (RAM, or ROM): byte accesses behave as
    /// the wider access would, with no side effects. `writable` is false
    /// if any byte is ROM (a store there is an access fault).
    Memory { writable: bool },
    /// At least one byte is a device register.
    Device,
    /// Some byte is backed by nothing (and none by a device).
    Nothing,
}

/// Why a memory access did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// Nothing there, or the device refused: the guest takes an access fault.
    #[error("access fault")]
    AccessFault,
    /// The machine must stop at this instruction, which does not complete
    /// (a device faulted under the `stop` policy, or asked to power off or
    /// reset); the machine keeps the reason.
    #[error("machine stop requested")]
    Stop,
}
