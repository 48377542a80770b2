//! Machine files (TOML): parsing with line numbers, `extends` chains, and
//! the command line's `--device` additions. The result is a flat
//! [`MachineSpec`] that `build` turns into a running machine.
//! The format is documented in docs/machine-format.md.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

mod layering;
mod options;

use super::fault::FaultPolicy;
pub use wemu_cpu::Misaligned;
use wemu_sandbox::loader::search::{self, Origin, SearchPath};

/// Where a setting came from: file and line (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub origin: String,
    pub line: Option<usize>,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.origin),
            None => write!(f, "{}", self.origin),
        }
    }
}

/// A problem in a machine file or `--device` option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct ConfigError {
    pub loc: Loc,
    pub message: String,
}

fn err(loc: &Loc, message: impl Into<String>) -> ConfigError {
    ConfigError { loc: loc.clone(), message: message.into() }
}

/// A size: an integer, or a string like "128M", "64K", "1G", "0x1000".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SizeRepr")]
pub struct Size(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeRepr {
    Int(u64),
    Text(String),
}

impl TryFrom<SizeRepr> for Size {
    type Error = wemu_sandbox::numbers::SizeError;
    fn try_from(r: SizeRepr) -> Result<Self, Self::Error> {
        match r {
            SizeRepr::Int(v) => Ok(Size(v)),
            SizeRepr::Text(s) => parse_size(&s).map(Size),
        }
    }
}

pub use layering::{load, parse_layer};
pub use options::{apply_cpu_option, apply_device_option, apply_drive_option};
pub use wemu_sandbox::numbers::{parse_size, parse_u64};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileRepr {
    name: Option<String>,
    description: Option<String>,
    extends: Option<Spanned<String>>,
    interrupt_parent: Option<String>,
    cpu: Option<CpuRepr>,
    #[serde(default)]
    memory: Vec<Spanned<MemoryRepr>>,
    #[serde(default)]
    device: Vec<Spanned<DeviceRepr>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CpuRepr {
    harts: Option<u32>,
    isa: Option<String>,
    timebase_frequency: Option<u64>,
    misaligned: Option<MisalignedRepr>,
}

/// `[cpu] misaligned`, as written.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum MisalignedRepr {
    Emulate,
    Trap,
}

impl From<MisalignedRepr> for Misaligned {
    fn from(m: MisalignedRepr) -> Misaligned {
        match m {
            MisalignedRepr::Emulate => Misaligned::Emulate,
            MisalignedRepr::Trap => Misaligned::Trap,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MemoryRepr {
    name: String,
    base: Option<u64>,
    size: Option<Size>,
    readonly: Option<bool>,
    #[serde(default)]
    remove: bool,
}

/// An IRQ wiring entry: a number on the interrupt parent, a target
/// string ("hart0.meip", "plic0.10"), or `{ each-hart = ["meip", "seip"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub enum IrqSpec {
    Number(u32),
    Target(String),
    /// One line per hart and pin, hart-major: `hart0.P0, hart0.P1, hart1.P0…`.
    /// Expanded by [`MachineSpec::resolve`] once the hart count is final.
    EachHart(Vec<String>),
}

/// Why a TOML value is not an IRQ entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrqSpecError {
    #[error("IRQ number {0} is out of range")]
    OutOfRange(i64),
    #[error("unknown key `{0}` in an IRQ entry; {IRQ_EXPECTED}")]
    UnknownKey(String),
    #[error("`each-hart` is a {0}; expected a list of pins")]
    NotAList(&'static str),
    #[error("`each-hart` pin {pin} is not one of {}", pin_names())]
    UnknownPin { pin: String },
    #[error("`each-hart` needs at least one pin")]
    NoPins,
    #[error("empty IRQ table; {IRQ_EXPECTED}")]
    EmptyTable,
    #[error("an IRQ entry cannot be a {0}; {IRQ_EXPECTED}")]
    WrongType(&'static str),
}

const IRQ_EXPECTED: &str = "an IRQ entry is a line number, a target string (\"hart0.meip\", \"plic0.10\") or { each-hart = [PIN, ...] }";

/// The hart pins an `each-hart` entry may name (as in `hartN.PIN`).
fn pin_names() -> String {
    crate::irq::IrqPin::ALL.map(|p| p.name()).join(", ")
}

impl TryFrom<toml::Value> for IrqSpec {
    type Error = IrqSpecError;
    fn try_from(v: toml::Value) -> Result<Self, IrqSpecError> {
        match v {
            toml::Value::Integer(n) => {
                u32::try_from(n).map(IrqSpec::Number).map_err(|_| IrqSpecError::OutOfRange(n))
            }
            toml::Value::String(s) => Ok(IrqSpec::Target(s)),
            toml::Value::Table(t) => {
                let mut pins = None;
                for (k, v) in t {
                    if k != "each-hart" {
                        return Err(IrqSpecError::UnknownKey(k));
                    }
                    let toml::Value::Array(list) = v else {
                        return Err(IrqSpecError::NotAList(v.type_str()));
                    };
                    let mut names = Vec::new();
                    for pin in list {
                        match pin.as_str() {
                            Some(p) if crate::irq::IrqPin::parse(p).is_some() => names.push(p.to_owned()),
                            _ => return Err(IrqSpecError::UnknownPin { pin: pin.to_string() }),
                        }
                    }
                    if names.is_empty() {
                        return Err(IrqSpecError::NoPins);
                    }
                    pins = Some(names);
                }
                pins.map(IrqSpec::EachHart).ok_or(IrqSpecError::EmptyTable)
            }
            other => Err(IrqSpecError::WrongType(other.type_str())),
        }
    }
}

/// A block backend binding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum BlockSpec {
    Path(String),
    Table {
        file: String,
        #[serde(default)]
        readonly: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A DMA window as written: `{ base, size }` or `{ memory = "NAME" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowRepr {
    base: Option<u64>,
    size: Option<Size>,
    memory: Option<String>,
}

/// A DMA window: an address range, or a memory region by name, which
/// stands for that region's range in the finished machine (after
/// `extends` and command-line changes), so it follows the RAM size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmaWindow {
    Range { base: u64, size: u64 },
    Memory(String),
}

impl WindowRepr {
    fn resolve(self, loc: &Loc) -> Result<DmaWindow, ConfigError> {
        match self {
            WindowRepr { base: Some(base), size: Some(size), memory: None } => {
                Ok(DmaWindow::Range { base, size: size.0 })
            }
            WindowRepr { base: None, size: None, memory: Some(name) } => Ok(DmaWindow::Memory(name)),
            _ => Err(err(loc, "a `dma` window is `{ base = ADDR, size = SIZE }` or `{ memory = \"NAME\" }`")),
        }
    }
}

impl DeviceSpec {
    /// The device's DMA windows as `(base, size)`, memory names resolved
    /// against `memory` (the machine's final regions).
    pub fn dma_windows(&self, memory: &[MemorySpec]) -> Result<Vec<(u64, u64)>, ConfigError> {
        self.dma
            .iter()
            .map(|w| match w {
                DmaWindow::Range { size: 0, base } => {
                    Err(err(&self.loc, format!("device '{}': DMA window at {base:#x} has size 0", self.name)))
                }
                DmaWindow::Range { base, size } if base.checked_add(size - 1).is_none() => Err(err(
                    &self.loc,
                    format!(
                        "device '{}': DMA window at {base:#x} of size {size:#x} wraps past the end of the \
                         address space",
                        self.name
                    ),
                )),
                DmaWindow::Range { base, size } => Ok((*base, *size)),
                DmaWindow::Memory(name) => match memory.iter().find(|m| &m.name == name) {
                    Some(m) if m.readonly => Err(err(
                        &self.loc,
                        format!("DMA window on memory '{name}': it is read-only, and DMA reaches only RAM"),
                    )),
                    Some(m) => Ok((m.base, m.size)),
                    None => {
                        let names: Vec<&str> = memory.iter().map(|m| m.name.as_str()).collect();
                        Err(err(
                            &self.loc,
                            format!(
                                "DMA window on memory '{name}': no such memory (this machine has: {})",
                                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                            ),
                        ))
                    }
                },
            })
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DeviceRepr {
    name: String,
    component: Option<String>,
    regions: Option<Vec<u64>>,
    irqs: Option<Vec<IrqSpec>>,
    props: Option<toml::Table>,
    chardev: Option<OneOrMany>,
    block: Option<BlockSpec>,
    dma: Option<Vec<WindowRepr>>,
    timers: Option<bool>,
    power: Option<bool>,
    memory_limit: Option<Size>,
    fuel: Option<u64>,
    max_timers: Option<u32>,
    max_irq_changes: Option<u32>,
    log_limit: Option<u32>,
    on_fault: Option<FaultPolicy>,
    #[serde(default)]
    remove: bool,
}

/// A property value for `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropVal {
    Bool(bool),
    Int(i64),
    Text(String),
    /// `"$harts"` or `"$timebase-frequency"`: replaced by the machine's
    /// value (an integer) by [`MachineSpec::resolve`], after `--smp`.
    Machine(MachineVar),
}

/// A machine value a property may refer to with `"$NAME"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineVar {
    /// The hart count (`[cpu] harts`, or `--smp`).
    Harts,
    /// `[cpu] timebase-frequency`.
    TimebaseFrequency,
}

impl MachineVar {
    const ALL: [(&'static str, MachineVar); 2] =
        [("$harts", MachineVar::Harts), ("$timebase-frequency", MachineVar::TimebaseFrequency)];
}

/// A string property: `"$$..."` is a literal `$...`, a known `"$NAME"` a
/// machine value, any other `"$..."` an error.
fn text_prop(name: &str, s: &str, loc: &Loc) -> Result<PropVal, ConfigError> {
    if let Some(literal) = s.strip_prefix("$$") {
        return Ok(PropVal::Text(format!("${literal}")));
    }
    if !s.starts_with('$') {
        return Ok(PropVal::Text(s.to_owned()));
    }
    MachineVar::ALL.iter().find(|(n, _)| *n == s).map(|(_, v)| PropVal::Machine(*v)).ok_or_else(|| {
        let known: Vec<&str> = MachineVar::ALL.iter().map(|(n, _)| *n).collect();
        err(
            loc,
            format!(
                "property '{name}' = \"{s}\": unknown machine value (known: {}; write $$ for a literal $)",
                known.join(", ")
            ),
        )
    })
}

/// One memory region of the resolved machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySpec {
    pub name: String,
    pub base: u64,
    pub size: u64,
    pub readonly: bool,
    pub loc: Loc,
}

/// One device of the resolved machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub name: String,
    pub component: String,
    pub regions: Vec<u64>,
    pub irqs: Vec<IrqSpec>,
    pub props: Vec<(String, PropVal)>,
    pub chardevs: Vec<String>,
    pub block: Option<(PathBuf, bool)>,
    pub dma: Vec<DmaWindow>,
    pub timers: bool,
    pub power: bool,
    pub memory_limit: Option<u64>,
    pub fuel: Option<u64>,
    /// Timers armed at once (`max-timers`); `None`: the default.
    pub max_timers: Option<u32>,
    /// IRQ line changes queued by one call (`max-irq-changes`).
    pub max_irq_changes: Option<u32>,
    /// Log records printed per second of virtual time (`log-limit`).
    pub log_limit: Option<u32>,
    /// What a fault of this device does; `None`: `--on-device-fault`.
    pub on_fault: Option<FaultPolicy>,
    pub loc: Loc,
}

/// A machine with every `extends` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSpec {
    pub name: String,
    pub description: String,
    pub origin: String,
    pub harts: u32,
    pub isa: String,
    pub timebase_frequency: u64,
    /// What every hart does with misaligned loads and stores (`[cpu]
    /// misaligned`, or `--cpu misaligned=`).
    pub misaligned: Misaligned,
    pub interrupt_parent: Option<String>,
    pub memory: Vec<MemorySpec>,
    pub devices: Vec<DeviceSpec>,
}

impl MachineSpec {
    /// Apply the hart count and other machine values to the devices, once
    /// they are final (after `--smp` and `--device`): `"$harts"`-style
    /// properties become integers and `each-hart` IRQ entries become one
    /// `hartN.PIN` target per hart and pin. Idempotent.
    pub fn resolve(&mut self) -> Result<(), ConfigError> {
        let harts = self.harts;
        let tbf = i64::try_from(self.timebase_frequency).ok();
        for d in &mut self.devices {
            for (name, v) in &mut d.props {
                if let PropVal::Machine(var) = v {
                    let value = match var {
                        MachineVar::Harts => Some(i64::from(harts)),
                        MachineVar::TimebaseFrequency => tbf,
                    };
                    *v = PropVal::Int(value.ok_or_else(|| {
                        err(&d.loc, format!("property '{name}': the machine value does not fit in 64 bits"))
                    })?);
                }
            }
            if d.irqs.iter().any(|i| matches!(i, IrqSpec::EachHart(_))) {
                d.irqs = d
                    .irqs
                    .drain(..)
                    .flat_map(|i| match i {
                        IrqSpec::EachHart(pins) => (0..harts)
                            .flat_map(|h| pins.iter().map(move |p| IrqSpec::Target(format!("hart{h}.{p}"))))
                            .collect(),
                        other => vec![other],
                    })
                    .collect();
            }
        }
        Ok(())
    }
}

/// A summary line per machine: name, description (inherited through
/// `extends`) or the error that keeps it from loading, origin.
pub fn describe_all(path: &SearchPath) -> Vec<(String, String, Origin)> {
    search::list_machines(path)
        .into_iter()
        .map(|(name, origin)| {
            let desc = match &origin {
                Origin::File(p) => load(path, &p.display().to_string()),
                Origin::BuiltIn(_) => load(path, &name),
            }
            .map_or_else(|e| format!("(broken: {e})"), |spec| spec.description);
            (name, desc, origin)
        })
        .collect()
}

#[cfg(test)]
mod tests;
