//! A device model that breaks: trap, hang, memory blow-up or contract
//! violation. Always carries the instance name and the operation.

use std::fmt;

/// What went wrong inside a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The device's code trapped (panic, unreachable, bad memory access).
    Trap(String),
    /// The call used up its fuel budget: the device loops or is too slow.
    OutOfFuel { budget: u64 },
    /// The device tried to grow its memories and tables past its limit
    /// (on their sum), to `wanted` bytes.
    MemoryLimit { limit: u64, wanted: u64 },
    /// The device broke a rule of the contract (e.g. an IRQ line it does
    /// not have), or raised an IRQ storm.
    Contract(String),
    /// Each call returned, but the device keeps the machine from moving
    /// on (a timer re-armed at the current time from `timer-fired`).
    Hang(String),
}

/// A typed device fault. What the machine then does is the device's fault
/// policy (`--on-device-fault`, `on-fault`; `machine::FaultPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DeviceFault {
    /// Instance name from the machine file, e.g. "uart0".
    pub device: String,
    /// Component name, e.g. "ns16550a".
    pub component: String,
    /// The call that failed, e.g. "write(region 0, offset 0x4, size 1, value 0x1)".
    pub op: String,
    pub kind: FaultKind,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Trap(msg) => write!(f, "trapped: {msg}"),
            FaultKind::OutOfFuel { budget } => {
                write!(f, "exceeded its budget of {budget} fuel units in one call (endless loop?)")
            }
            FaultKind::MemoryLimit { limit, wanted } => write!(
                f,
                "tried to grow its memory past the limit of {limit} bytes (to {wanted} bytes, its \
                 memories and tables together)"
            ),
            FaultKind::Contract(msg) => write!(f, "broke the device contract: {msg}"),
            FaultKind::Hang(msg) => write!(f, "hung the machine: {msg}"),
        }
    }
}

impl fmt::Display for DeviceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device '{}' ({}) {} during {}", self.device, self.component, self.kind, self.op)
    }
}
