//! Machine files (TOML): parsing with line numbers, `extends` chains, and
//! the command line's `--device` additions. The result is a flat
//! [`MachineSpec`] that `build` turns into a running machine.
//! The format is documented in docs/machine-format.md.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::fault::FaultPolicy;
use crate::loader::search::{self, Origin, SearchPath};

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
    type Error = String;
    fn try_from(r: SizeRepr) -> Result<Self, String> {
        match r {
            SizeRepr::Int(v) => Ok(Size(v)),
            SizeRepr::Text(s) => parse_size(&s).map(Size),
        }
    }
}

/// Parse "128M", "4k", "1G", "0x1000", "4096".
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    parse_u64(num)
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("'{s}' is not a size (e.g. 128M, 64K, 0x1000)"))
}

/// Decimal or 0x-hex, underscores allowed.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

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

/// Hart pins an `each-hart` entry may name (as in `hartN.PIN`).
const HART_PINS: [&str; 4] = ["meip", "mtip", "msip", "seip"];

impl TryFrom<toml::Value> for IrqSpec {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        const EXPECTED: &str = "an IRQ entry is a line number, a target string (\"hart0.meip\", \"plic0.10\") or { each-hart = [PIN, ...] }";
        match v {
            toml::Value::Integer(n) => {
                u32::try_from(n).map(IrqSpec::Number).map_err(|_| format!("IRQ number {n} is out of range"))
            }
            toml::Value::String(s) => Ok(IrqSpec::Target(s)),
            toml::Value::Table(t) => {
                let mut pins = None;
                for (k, v) in t {
                    if k != "each-hart" {
                        return Err(format!("unknown key `{k}` in an IRQ entry; {EXPECTED}"));
                    }
                    let list = match v {
                        toml::Value::Array(a) => a,
                        other => {
                            return Err(format!(
                                "`each-hart` is a {}; expected a list of pins",
                                other.type_str()
                            ));
                        }
                    };
                    let mut names = Vec::new();
                    for pin in list {
                        match pin.as_str() {
                            Some(p) if HART_PINS.contains(&p) => names.push(p.to_owned()),
                            _ => {
                                return Err(format!(
                                    "`each-hart` pin {pin} is not one of {}",
                                    HART_PINS.join(", ")
                                ));
                            }
                        }
                    }
                    if names.is_empty() {
                        return Err("`each-hart` needs at least one pin".to_owned());
                    }
                    pins = Some(names);
                }
                pins.map(IrqSpec::EachHart).ok_or_else(|| format!("empty IRQ table; {EXPECTED}"))
            }
            other => Err(format!("an IRQ entry cannot be a {}; {EXPECTED}", other.type_str())),
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

/// Line numbers of byte offsets in one text: the newline offsets once,
/// then a binary search per lookup (a file with many entries asks for
/// many lines, and counting from the start each time is quadratic).
struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        Lines { newlines: text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i).collect() }
    }

    /// 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }
}

/// Memory regions or devices by name while a layer is merged onto them:
/// lookups through a map, removals as holes filled in at the end, so a
/// file of n entries merges in O(n log n).
struct ByName<T> {
    items: Vec<Option<T>>,
    index: std::collections::HashMap<String, usize>,
}

impl<T> ByName<T> {
    fn new(list: Vec<T>, name: impl Fn(&T) -> &str) -> Self {
        let index = list.iter().enumerate().map(|(i, t)| (name(t).to_owned(), i)).collect();
        ByName { items: list.into_iter().map(Some).collect(), index }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        let i = *self.index.get(name)?;
        self.items.get_mut(i)?.as_mut()
    }

    /// Remove `name`; false if there is no such entry.
    fn remove(&mut self, name: &str) -> bool {
        match self.index.remove(name) {
            Some(i) => self.items.get_mut(i).and_then(Option::take).is_some(),
            None => false,
        }
    }

    /// Append a new entry (the caller checked there is none of that name).
    fn push(&mut self, name: &str, t: T) -> &mut T {
        self.index.insert(name.to_owned(), self.items.len());
        self.items.push(Some(t));
        self.items.last_mut().and_then(Option::as_mut).expect("just pushed")
    }

    /// The entries in order (parent's first, then the new ones).
    fn into_vec(self) -> Vec<T> {
        self.items.into_iter().flatten().collect()
    }
}

/// Where each name was first given in one file, to refuse a second entry
/// of the same name there (an `extends` child is the way to change one).
#[derive(Default)]
struct FirstSeen(std::collections::HashMap<String, Loc>);

impl FirstSeen {
    fn check(&mut self, kind: &str, name: &str, loc: &Loc) -> Result<(), ConfigError> {
        match self.0.get(name) {
            Some(first) => Err(err(
                loc,
                format!(
                    "{kind} '{name}' is defined twice in this file, at {first} and at {loc}; give each its own \
                     name (to change an inherited {kind}, repeat its name in a file that `extends` it)"
                ),
            )),
            None => {
                self.0.insert(name.to_owned(), loc.clone());
                Ok(())
            }
        }
    }
}

/// Load machine `name` (a name on the machine path or a .toml path).
pub fn load(path: &SearchPath, name: &str) -> Result<MachineSpec, ConfigError> {
    let mut chain = Vec::new();
    load_layer(path, name, &mut chain, None)
}

fn load_layer(
    path: &SearchPath,
    name: &str,
    chain: &mut Vec<String>,
    from: Option<&Loc>,
) -> Result<MachineSpec, ConfigError> {
    let top = Loc { origin: format!("machine '{name}'"), line: None };
    let at = from.unwrap_or(&top);
    let origin = search::find_machine(path, name).ok_or_else(|| {
        let searched: Vec<String> = path.dirs.iter().map(|d| d.display().to_string()).collect();
        err(
            at,
            format!(
                "no machine named '{name}' (searched {}the built-in machines; `wemu machines` lists them)",
                searched.iter().map(|s| format!("{s}, ")).collect::<String>()
            ),
        )
    })?;
    let text = search::read_machine(&origin)
        .map_err(|e| err(at, format!("cannot read machine file {origin}: {e}")))?;
    let origin_str = origin.to_string();
    if chain.contains(&origin_str) || chain.len() > 16 {
        return Err(err(
            at,
            format!("machine files extend each other in a loop: {} -> {origin_str}", chain.join(" -> ")),
        ));
    }
    chain.push(origin_str.clone());
    parse_layer(path, &origin, &text, chain)
}

/// Parse one machine file's text (resolving its `extends`).
pub fn parse_layer(
    path: &SearchPath,
    origin: &Origin,
    text: &str,
    chain: &mut Vec<String>,
) -> Result<MachineSpec, ConfigError> {
    let origin_str = origin.to_string();
    let lines = Lines::new(text);
    let loc_at = |span: std::ops::Range<usize>| Loc {
        origin: origin_str.clone(),
        line: Some(lines.line_of(span.start)),
    };
    let file: FileRepr = toml::from_str(text).map_err(|e| ConfigError {
        loc: Loc { origin: origin_str.clone(), line: e.span().map(|s| lines.line_of(s.start)) },
        message: e.message().trim().to_owned(),
    })?;
    let base_dir = search::origin_dir(origin).map(|p| p.to_path_buf());

    let mut spec = match &file.extends {
        Some(parent) => {
            let loc = loc_at(parent.span());
            let name = relative_to(base_dir.as_deref(), parent.get_ref(), "toml");
            load_layer(path, &name, chain, Some(&loc))?
        }
        None => MachineSpec {
            name: String::new(),
            description: String::new(),
            origin: origin_str.clone(),
            harts: 1,
            isa: "rv64imafdc_zicsr_zifencei".into(),
            timebase_frequency: 10_000_000,
            interrupt_parent: None,
            memory: Vec::new(),
            devices: Vec::new(),
        },
    };
    spec.origin = origin_str.clone();
    spec.name = file.name.clone().unwrap_or_else(|| match origin {
        Origin::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        Origin::BuiltIn(n) => (*n).to_owned(),
    });
    if let Some(d) = file.description {
        spec.description = d;
    }
    if let Some(p) = file.interrupt_parent {
        spec.interrupt_parent = Some(p);
    }
    if let Some(cpu) = file.cpu {
        if let Some(h) = cpu.harts {
            spec.harts = h;
        }
        if let Some(i) = cpu.isa {
            spec.isa = i;
        }
        if let Some(t) = cpu.timebase_frequency {
            spec.timebase_frequency = t;
        }
    }
    let mut memory = ByName::new(std::mem::take(&mut spec.memory), |m| &m.name);
    let mut seen = FirstSeen::default();
    for m in file.memory {
        let loc = loc_at(m.span());
        seen.check("memory", &m.get_ref().name, &loc)?;
        merge_memory(&mut memory, m.into_inner(), loc)?;
    }
    spec.memory = memory.into_vec();
    let mut devices = ByName::new(std::mem::take(&mut spec.devices), |d| &d.name);
    let mut seen = FirstSeen::default();
    for d in file.device {
        let loc = loc_at(d.span());
        seen.check("device", &d.get_ref().name, &loc)?;
        merge_device(&mut devices, d.into_inner(), loc, base_dir.as_deref())?;
    }
    spec.devices = devices.into_vec();
    Ok(spec)
}

/// A path-like `name` (not a search name) in a machine file is relative
/// to that file's directory.
fn relative_to(base_dir: Option<&std::path::Path>, name: &str, ext: &str) -> String {
    match base_dir {
        Some(dir) if search::is_path(name, ext) && std::path::Path::new(name).is_relative() => {
            dir.join(name).display().to_string()
        }
        _ => name.to_owned(),
    }
}

fn merge_memory(list: &mut ByName<MemorySpec>, m: MemoryRepr, loc: Loc) -> Result<(), ConfigError> {
    if m.remove {
        if list.remove(&m.name) {
            return Ok(());
        }
        return Err(err(&loc, format!("cannot remove memory '{}': no such region", m.name)));
    }
    match list.get_mut(&m.name) {
        Some(x) => {
            if let Some(b) = m.base {
                x.base = b;
            }
            if let Some(s) = m.size {
                x.size = s.0;
            }
            if let Some(r) = m.readonly {
                x.readonly = r;
            }
            x.loc = loc;
        }
        None => {
            let base = m.base.ok_or_else(|| err(&loc, format!("memory '{}' needs `base`", m.name)))?;
            let size = m.size.ok_or_else(|| err(&loc, format!("memory '{}' needs `size`", m.name)))?;
            let name = m.name.clone();
            list.push(
                &name,
                MemorySpec { name: m.name, base, size: size.0, readonly: m.readonly.unwrap_or(false), loc },
            );
        }
    }
    Ok(())
}

fn prop_value(name: &str, v: &toml::Value, loc: &Loc) -> Result<PropVal, ConfigError> {
    match v {
        toml::Value::Boolean(b) => Ok(PropVal::Bool(*b)),
        toml::Value::Integer(i) => Ok(PropVal::Int(*i)),
        toml::Value::String(s) => text_prop(name, s, loc),
        other => Err(err(
            loc,
            format!(
                "property '{name}' is a {}; properties are booleans, integers or strings",
                other.type_str()
            ),
        )),
    }
}

fn check_name(name: &str, loc: &Loc) -> Result<(), ConfigError> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(err(loc, format!("'{name}' is not a valid device name (letters, digits, - and _)")))
    }
}

fn merge_device(
    list: &mut ByName<DeviceSpec>,
    d: DeviceRepr,
    loc: Loc,
    base_dir: Option<&std::path::Path>,
) -> Result<(), ConfigError> {
    check_name(&d.name, &loc)?;
    if d.remove {
        if list.remove(&d.name) {
            return Ok(());
        }
        return Err(err(&loc, format!("cannot remove device '{}': no such device", d.name)));
    }
    let x = match list.get_mut(&d.name) {
        Some(x) => x,
        None => {
            let component =
                d.component.as_deref().map(|c| relative_to(base_dir, c, "wasm")).ok_or_else(|| {
                    err(&loc, format!("device '{}' needs `component` (the device model's name)", d.name))
                })?;
            let name = d.name.clone();
            list.push(
                &name,
                DeviceSpec {
                    name: d.name.clone(),
                    component,
                    regions: Vec::new(),
                    irqs: Vec::new(),
                    props: Vec::new(),
                    chardevs: Vec::new(),
                    block: None,
                    dma: Vec::new(),
                    timers: false,
                    power: false,
                    memory_limit: None,
                    fuel: None,
                    max_timers: None,
                    max_irq_changes: None,
                    log_limit: None,
                    on_fault: None,
                    loc: loc.clone(),
                },
            )
        }
    };
    x.loc = loc.clone();
    if let Some(c) = d.component {
        x.component = relative_to(base_dir, &c, "wasm");
    }
    if let Some(r) = d.regions {
        x.regions = r;
    }
    if let Some(i) = d.irqs {
        x.irqs = i;
    }
    if let Some(props) = d.props {
        for (k, v) in &props {
            let v = prop_value(k, v, &loc)?;
            x.props.retain(|(n, _)| n != k);
            x.props.push((k.clone(), v));
        }
    }
    if let Some(c) = d.chardev {
        x.chardevs = match c {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
    }
    if let Some(b) = d.block {
        let (file, ro) = match b {
            BlockSpec::Path(p) => (p, false),
            BlockSpec::Table { file, readonly } => (file, readonly),
        };
        let p = PathBuf::from(file);
        let p = match base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        };
        x.block = Some((p, ro));
    }
    if let Some(w) = d.dma {
        x.dma = w.into_iter().map(|w| w.resolve(&loc)).collect::<Result<_, _>>()?;
    }
    if let Some(t) = d.timers {
        x.timers = t;
    }
    if let Some(p) = d.power {
        x.power = p;
    }
    if let Some(m) = d.memory_limit {
        x.memory_limit = Some(m.0);
    }
    if let Some(f) = d.fuel {
        x.fuel = Some(f);
    }
    for (key, to) in [
        (d.max_timers, &mut x.max_timers),
        (d.max_irq_changes, &mut x.max_irq_changes),
        (d.log_limit, &mut x.log_limit),
    ] {
        if key.is_some() {
            *to = key;
        }
    }
    if let Some(p) = d.on_fault {
        x.on_fault = Some(p);
    }
    Ok(())
}

/// Apply one `--device NAME,key=value,...` option to the machine: adds a
/// device, or changes the one whose `id` matches.
pub fn apply_device_option(spec: &mut MachineSpec, option: &str) -> Result<(), ConfigError> {
    let loc = Loc { origin: format!("--device {option}"), line: None };
    let mut parts = option.split(',');
    let component = parts.next().unwrap_or("").trim().to_owned();
    if component.is_empty() {
        return Err(err(&loc, "expected NAME[,key=value...]"));
    }
    let mut d = DeviceRepr { component: Some(component.clone()), ..Default::default() };
    let mut id = None;
    let mut props = toml::Table::new();
    let mut regions = Vec::new();
    let mut irqs = Vec::new();
    let mut dma = Vec::new();
    let mut chardevs = Vec::new();
    for part in parts {
        let (k, v) = part.split_once('=').ok_or_else(|| err(&loc, format!("'{part}' is not key=value")))?;
        let bool_of = |v: &str| match v {
            "on" | "true" | "yes" | "1" => Ok(true),
            "off" | "false" | "no" | "0" => Ok(false),
            _ => Err(err(&loc, format!("'{k}={v}': expected on or off"))),
        };
        match k {
            "id" => id = Some(v.to_owned()),
            "addr" => {
                regions.push(parse_u64(v).ok_or_else(|| err(&loc, format!("addr '{v}' is not a number")))?)
            }
            "irq" => irqs.push(match v.parse::<u32>() {
                Ok(n) => IrqSpec::Number(n),
                Err(_) => IrqSpec::Target(v.to_owned()),
            }),
            "chardev" => chardevs.push(v.to_owned()),
            "block" => d.block = Some(BlockSpec::Path(v.to_owned())),
            "block-ro" => d.block = Some(BlockSpec::Table { file: v.to_owned(), readonly: true }),
            "dma" => match v.split_once('+') {
                Some((b, s)) => {
                    let base =
                        parse_u64(b).ok_or_else(|| err(&loc, format!("dma base '{b}' is not a number")))?;
                    let size = parse_size(s).map_err(|e| err(&loc, e))?;
                    dma.push(WindowRepr { base: Some(base), size: Some(Size(size)), memory: None });
                }
                // `dma=ram`: a memory region by name.
                None => dma.push(WindowRepr { memory: Some(v.to_owned()), ..Default::default() }),
            },
            "timers" => d.timers = Some(bool_of(v)?),
            "power" => d.power = Some(bool_of(v)?),
            "memory-limit" => d.memory_limit = Some(Size(parse_size(v).map_err(|e| err(&loc, e))?)),
            "fuel" => {
                d.fuel = Some(parse_u64(v).ok_or_else(|| err(&loc, format!("fuel '{v}' is not a number")))?)
            }
            "max-timers" | "max-irq-changes" | "log-limit" => {
                let n = parse_u64(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err(&loc, format!("{k} '{v}' is not a number up to {}", u32::MAX)))?;
                match k {
                    "max-timers" => d.max_timers = Some(n),
                    "max-irq-changes" => d.max_irq_changes = Some(n),
                    _ => d.log_limit = Some(n),
                }
            }
            "on-fault" => d.on_fault = Some(v.parse().map_err(|e: String| err(&loc, e))?),
            _ => {
                let value = if let Some(n) = parse_u64(v).and_then(|n| i64::try_from(n).ok()) {
                    toml::Value::Integer(n)
                } else if let Some(n) =
                    v.strip_prefix('-').and_then(parse_u64).and_then(|n| i64::try_from(n).ok())
                {
                    toml::Value::Integer(-n)
                } else if v == "true" || v == "false" {
                    toml::Value::Boolean(v == "true")
                } else {
                    toml::Value::String(v.to_owned())
                };
                props.insert(k.to_owned(), value);
            }
        }
    }
    d.name = id.unwrap_or(component);
    if !regions.is_empty() {
        d.regions = Some(regions);
    }
    if !irqs.is_empty() {
        d.irqs = Some(irqs);
    }
    if !dma.is_empty() {
        d.dma = Some(dma);
    }
    if !chardevs.is_empty() {
        d.chardev = Some(OneOrMany::Many(chardevs));
    }
    if !props.is_empty() {
        d.props = Some(props);
    }
    let mut devices = ByName::new(std::mem::take(&mut spec.devices), |d| &d.name);
    let merged = merge_device(&mut devices, d, loc, None);
    spec.devices = devices.into_vec();
    merged
}

/// Component of an empty virtio-mmio slot, and what `--drive` turns it into.
const VIRTIO_SLOT: &str = "virtio-mmio";
const VIRTIO_BLK: &str = "virtio-blk";

/// `--drive file=PATH[,readonly=on]`: attach a raw disk image to the first
/// empty virtio-mmio slot (component `virtio-mmio`, in machine-file order)
/// by making it a `virtio-blk` with that image as its block backend.
pub fn apply_drive_option(spec: &mut MachineSpec, option: &str) -> Result<(), ConfigError> {
    let loc = Loc { origin: format!("--drive {option}"), line: None };
    let (mut file, mut readonly) = (None, false);
    for part in option.split(',') {
        match part.split_once('=') {
            Some(("file", v)) if !v.is_empty() => file = Some(v.to_owned()),
            Some(("readonly", "on" | "true" | "yes" | "1")) => readonly = true,
            Some(("readonly", "off" | "false" | "no" | "0")) => readonly = false,
            Some(("format", "raw")) => {}
            _ => {
                return Err(err(
                    &loc,
                    format!("'{part}': expected file=PATH, readonly=on|off or format=raw"),
                ));
            }
        }
    }
    let file = file.ok_or_else(|| err(&loc, "missing file=PATH"))?;
    let slot = spec.devices.iter_mut().find(|d| d.component == VIRTIO_SLOT).ok_or_else(|| {
        err(
            &loc,
            format!(
                "machine '{}' has no free virtio-mmio slot (a device with component \"{VIRTIO_SLOT}\")",
                spec.name
            ),
        )
    })?;
    slot.component = VIRTIO_BLK.to_owned();
    slot.block = Some((PathBuf::from(file), readonly));
    slot.loc = loc;
    Ok(())
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
