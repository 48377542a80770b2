//! Trap causes (privileged spec §3.1.15, table "Machine cause register
//! (mcause) values after trap") and the reasons the hart stops (`Halt`).

use std::fmt;

use crate::disasm::disassemble;

/// Synchronous exception codes (mcause with the interrupt bit clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exception {
    /// Never raised while C is implemented: every jump target is 2-aligned.
    InstructionAddressMisaligned,
    InstructionAccessFault,
    IllegalInstruction,
    Breakpoint,
    LoadAddressMisaligned,
    LoadAccessFault,
    /// Also used for AMOs and SC.
    StoreAddressMisaligned,
    StoreAccessFault,
    EcallFromU,
    EcallFromS,
    EcallFromM,
    /// Sv39/Sv48 translation failed (privileged spec §4.3.2); mtval/stval
    /// hold the faulting virtual address.
    InstructionPageFault,
    LoadPageFault,
    /// Also used for AMOs and SC.
    StorePageFault,
}

impl Exception {
    /// The exception code written to `mcause`.
    pub fn code(self) -> u64 {
        match self {
            Exception::InstructionAddressMisaligned => 0,
            Exception::InstructionAccessFault => 1,
            Exception::IllegalInstruction => 2,
            Exception::Breakpoint => 3,
            Exception::LoadAddressMisaligned => 4,
            Exception::LoadAccessFault => 5,
            Exception::StoreAddressMisaligned => 6,
            Exception::StoreAccessFault => 7,
            Exception::EcallFromU => 8,
            Exception::EcallFromS => 9,
            Exception::EcallFromM => 11,
            Exception::InstructionPageFault => 12,
            Exception::LoadPageFault => 13,
            Exception::StorePageFault => 15,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Exception::InstructionAddressMisaligned => "instruction address misaligned",
            Exception::InstructionAccessFault => "instruction access fault",
            Exception::IllegalInstruction => "illegal instruction",
            Exception::Breakpoint => "breakpoint",
            Exception::LoadAddressMisaligned => "load address misaligned",
            Exception::LoadAccessFault => "load access fault",
            Exception::StoreAddressMisaligned => "store/AMO address misaligned",
            Exception::StoreAccessFault => "store/AMO access fault",
            Exception::EcallFromU => "environment call from U-mode",
            Exception::EcallFromS => "environment call from S-mode",
            Exception::EcallFromM => "environment call from M-mode",
            Exception::InstructionPageFault => "instruction page fault",
            Exception::LoadPageFault => "load page fault",
            Exception::StorePageFault => "store/AMO page fault",
        }
    }
}

/// Interrupt codes (mcause/scause with the interrupt bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interrupt {
    SupervisorSoftware,
    SupervisorTimer,
    SupervisorExternal,
    MachineSoftware,
    MachineTimer,
    MachineExternal,
}

impl Interrupt {
    /// The exception code, which is also the bit number in `mip`/`mie`.
    pub fn code(self) -> u64 {
        match self {
            Interrupt::SupervisorSoftware => 1,
            Interrupt::SupervisorTimer => 5,
            Interrupt::SupervisorExternal => 9,
            Interrupt::MachineSoftware => 3,
            Interrupt::MachineTimer => 7,
            Interrupt::MachineExternal => 11,
        }
    }

    /// Privileged spec §3.1.9: "Multiple simultaneous interrupts destined for
    /// M-mode are handled in the following decreasing priority order: MEI,
    /// MSI, MTI, SEI, SSI, STI."
    pub const PRIORITY: [Interrupt; 6] = [
        Interrupt::MachineExternal,
        Interrupt::MachineSoftware,
        Interrupt::MachineTimer,
        Interrupt::SupervisorExternal,
        Interrupt::SupervisorSoftware,
        Interrupt::SupervisorTimer,
    ];

    fn name(self) -> &'static str {
        match self {
            Interrupt::SupervisorSoftware => "supervisor software interrupt",
            Interrupt::SupervisorTimer => "supervisor timer interrupt",
            Interrupt::SupervisorExternal => "supervisor external interrupt",
            Interrupt::MachineSoftware => "machine software interrupt",
            Interrupt::MachineTimer => "machine timer interrupt",
            Interrupt::MachineExternal => "machine external interrupt",
        }
    }
}

/// Why a trap was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapCause {
    Exception(Exception),
    Interrupt(Interrupt),
}

impl TrapCause {
    /// The full `mcause` value (MXLEN-1 bit set for interrupts).
    pub fn mcause(self) -> u64 {
        match self {
            TrapCause::Exception(e) => e.code(),
            TrapCause::Interrupt(i) => (1 << 63) | i.code(),
        }
    }
}

impl fmt::Display for TrapCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapCause::Exception(e) => f.write_str(e.name()),
            TrapCause::Interrupt(i) => f.write_str(i.name()),
        }
    }
}

/// A trap as the guest saw it: the values written to xcause, xepc and xtval
/// (x = m or s, whichever mode took the trap; see `Hart::mode` after it),
/// plus the instruction bits when they were fetched (for diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrapRecord {
    pub cause: TrapCause,
    /// `xepc`: the instruction that trapped, or the one an interrupt preempted.
    pub pc: u64,
    pub tval: u64,
    /// The trapping instruction's bits, if it was fetched.
    pub insn: Option<u32>,
}

impl fmt::Display for TrapRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pc = self.pc;
        let tval = self.tval;
        match self.cause {
            TrapCause::Exception(Exception::IllegalInstruction) => {
                // tval holds the instruction bits; width by its length encoding.
                let bits = if tval & 3 == 3 { format!("{tval:#010x}") } else { format!("{tval:#06x}") };
                let text = disassemble(tval as u32);
                write!(f, "illegal instruction {bits} (`{text}`) at pc {pc:#x}")
            }
            TrapCause::Exception(Exception::InstructionAccessFault) if tval == pc => {
                write!(f, "instruction access fault at pc {pc:#x}")
            }
            TrapCause::Exception(
                e @ (Exception::InstructionAccessFault
                | Exception::InstructionAddressMisaligned
                | Exception::InstructionPageFault),
            ) => {
                write!(f, "{} at address {tval:#x} (pc {pc:#x})", e.name())
            }
            TrapCause::Exception(
                e @ (Exception::LoadAddressMisaligned
                | Exception::LoadAccessFault
                | Exception::StoreAddressMisaligned
                | Exception::StoreAccessFault
                | Exception::LoadPageFault
                | Exception::StorePageFault),
            ) => {
                write!(f, "{} at address {tval:#x}", e.name())?;
                if let Some(raw) = self.insn {
                    write!(f, " by `{}`", disassemble(raw))?;
                }
                write!(f, " at pc {pc:#x}")
            }
            cause => write!(f, "{cause} at pc {pc:#x}"),
        }
    }
}

/// The kind of memory access that was in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Fetch,
    Load,
    Store,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Fetch => "fetch",
            Access::Load => "load",
            Access::Store => "store",
        })
    }
}

/// Why the hart stopped executing. Every variant names the guest pc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Halt {
    /// The memory system returned `MemError::Stop`. Architectural state is
    /// as it was before the instruction at `pc` (which did not retire).
    Memory { pc: u64, access: Access, addr: u64 },
    /// A trap was taken and the very first instruction of the trap handler
    /// raised an exception that vectors right back to itself (typically:
    /// the trap vector cannot be fetched). Continuing would loop forever.
    /// `first` is the trap that entered the handler (already taken: mepc,
    /// mcause and mtval describe it); `cause`/`pc`/`tval` is the exception
    /// at the vector, which was *not* taken.
    TrapLoop { cause: Exception, pc: u64, tval: u64, first: TrapRecord },
}

impl Halt {
    /// The guest pc the halt refers to (for `TrapLoop`, the original trap's pc).
    pub fn pc(&self) -> u64 {
        match self {
            Halt::Memory { pc, .. } => *pc,
            Halt::TrapLoop { first, .. } => first.pc,
        }
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Halt::Memory { pc, access, addr } => write!(
                f,
                "machine stop requested during {access} at {addr:#x} by the instruction at pc {pc:#x}"
            ),
            Halt::TrapLoop { cause, pc, tval, first } => {
                write!(f, "{first}; ")?;
                if *cause == Exception::InstructionAccessFault {
                    write!(f, "trap vector {pc:#x} is not executable")?;
                    if tval != pc {
                        write!(f, " (fetch fault at {tval:#x})")?;
                    }
                    Ok(())
                } else {
                    let again =
                        TrapRecord { cause: TrapCause::Exception(*cause), pc: *pc, tval: *tval, insn: None };
                    write!(f, "the trap handler at {pc:#x} faults on its first instruction ({again})")
                }
            }
        }
    }
}

impl std::error::Error for Halt {}
