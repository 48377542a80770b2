//! What the fuzzer reports, and how two reports are told apart.

use std::fmt;
use std::str::FromStr;

use wemu_sandbox::device::{DeviceFault, FaultKind};

/// The kinds of finding. The name is the reproducer's file name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The device trapped (a panic, a bad memory access...).
    Trap,
    /// A call ran out of fuel, or timers fired endlessly at one instant.
    Hang,
    /// The device grew its memory past the limit.
    Memory,
    /// The device broke the contract (an IRQ line it does not have).
    Contract,
    /// A DMA request outside the granted window.
    Dma,
    /// A restored copy does not behave like the original.
    SaveRestore,
    /// `reset` does not return to the state after `create`.
    Reset,
    /// The host itself panicked: a wemu bug, not a device bug.
    HostPanic,
}

impl FindingKind {
    pub const ALL: [FindingKind; 8] = [
        FindingKind::Trap,
        FindingKind::Hang,
        FindingKind::Memory,
        FindingKind::Contract,
        FindingKind::Dma,
        FindingKind::SaveRestore,
        FindingKind::Reset,
        FindingKind::HostPanic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Trap => "trap",
            FindingKind::Hang => "hang",
            FindingKind::Memory => "memory",
            FindingKind::Contract => "contract",
            FindingKind::Dma => "dma",
            FindingKind::SaveRestore => "save-restore",
            FindingKind::Reset => "reset",
            FindingKind::HostPanic => "host-panic",
        }
    }

    /// Kind of a reproducer from its file name (`KIND-HASH`).
    pub fn from_file_name(name: &str) -> Option<Self> {
        FindingKind::ALL.into_iter().find(|k| {
            name.strip_prefix(k.name()).is_some_and(|rest| rest.starts_with('-') || rest.starts_with('.'))
        })
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A finding kind name that is not one of [`FindingKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding kind '{name}' (known: {})", known_kinds())]
pub struct UnknownFindingKind {
    pub name: String,
}

fn known_kinds() -> String {
    let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.name()).collect();
    names.join(", ")
}

impl FromStr for FindingKind {
    type Err = UnknownFindingKind;
    fn from_str(s: &str) -> Result<Self, UnknownFindingKind> {
        FindingKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownFindingKind { name: s.to_owned() })
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// Index of the operation that caused it; `None` for the checks after
    /// the last operation.
    pub op: Option<usize>,
    pub message: String,
    /// Two findings with the same signature are the same bug (only the
    /// first reproducer is kept).
    pub signature: String,
}

impl Finding {
    pub fn new(kind: FindingKind, op: Option<usize>, message: String, detail: &str) -> Self {
        let signature = format!("{kind}: {detail}");
        Finding { kind, op, message, signature }
    }

    /// A device fault during operation `op` (named `what`).
    pub fn from_fault(fault: &DeviceFault, op: Option<usize>, what: &str) -> Self {
        let (kind, detail) = match &fault.kind {
            FaultKind::Trap(msg) => (FindingKind::Trap, trap_signature(msg)),
            FaultKind::OutOfFuel { .. } => (FindingKind::Hang, format!("out of fuel in {what}")),
            FaultKind::MemoryLimit { .. } => (FindingKind::Memory, format!("memory limit in {what}")),
            FaultKind::Contract(msg) => (FindingKind::Contract, without_numbers(msg)),
            FaultKind::Hang(msg) => (FindingKind::Hang, without_numbers(msg)),
        };
        Finding::new(kind, op, fault.to_string(), &detail)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Some(i) => write!(f, "{} at operation #{i}: {}", self.kind, self.message),
            None => write!(f, "{} after the last operation: {}", self.kind, self.message),
        }
    }
}

/// A trap is identified by what trapped and where: the trap itself, the
/// panic location if the device logged one, and the backtrace (values in
/// the panic message are left out so `register 0x4` and `register 0x8`
/// are the same bug).
fn trap_signature(msg: &str) -> String {
    let what = msg.split(';').next().unwrap_or(msg).lines().next().unwrap_or("");
    let location = msg
        .find("panicked at ")
        .map(|i| msg[i..].split(['\n', ':']).take(2).collect::<Vec<_>>().join(":"))
        .unwrap_or_default();
    let backtrace = msg.lines().find(|l| l.trim_start().starts_with("wasm backtrace:")).unwrap_or("").trim();
    format!("{what} {location} {backtrace}")
}

fn without_numbers(msg: &str) -> String {
    msg.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_names_and_file_names() {
        for k in FindingKind::ALL {
            assert_eq!(k.name().parse::<FindingKind>(), Ok(k));
            assert_eq!(FindingKind::from_file_name(&format!("{k}-0123abcd")), Some(k));
        }
        assert_eq!(FindingKind::from_file_name("save-restore-12"), Some(FindingKind::SaveRestore));
        assert_eq!(FindingKind::from_file_name("crash-12"), None);
        assert!("nope".parse::<FindingKind>().is_err());
    }

    #[test]
    fn traps_with_different_values_share_a_signature() {
        let a = "wasm trap: unreachable; the device logged: panic: panicked at src/lib.rs:27:24:\nregister 0x4\n  wasm backtrace: f <- g";
        let b = "wasm trap: unreachable; the device logged: panic: panicked at src/lib.rs:27:24:\nregister 0x8\n  wasm backtrace: f <- g";
        let c = "wasm trap: unreachable; the device logged: panic: panicked at src/lib.rs:40:1:\nother\n  wasm backtrace: h";
        assert_eq!(trap_signature(a), trap_signature(b));
        assert_ne!(trap_signature(a), trap_signature(c));
        assert!(trap_signature(a).contains("src/lib.rs"), "{}", trap_signature(a));
    }
}
