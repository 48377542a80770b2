//! A machine: harts plus the platform (address map, RAM, device instances,
//! IRQ wiring, clock). `build` turns a resolved machine file into one;
//! `run` (in run.rs) executes it; the harts' accesses go through
//! `access.rs`, device effects through `effects.rs`, faults through
//! `fault.rs`.

pub mod access;
pub mod config;
mod effects;
pub mod fault;
mod run;
pub mod storm;

use std::path::PathBuf;
use std::rc::Rc;

use wemu_cpu::Hart;

use crate::backend::block::BlockImage;
use crate::backend::block::BlockOpenError;
use crate::backend::chardev::{self, CharInput, CharSink, ChardevError, ChardevSpec};
use crate::bus::{Backing, Bus, BusError, Mapping};
use crate::clock::Clock;
use crate::image::Image;
use crate::irq::{IrqPin, IrqRouter, Sink};
use crate::ram::{Ram, RamWindow};
pub use access::{MemOp, RamWindowInfo, SlowResult, slow_access};
pub use config::{ConfigError, Loc, MachineSpec};
pub use fault::{FaultPolicy, Incident, UnknownPolicy};
pub use run::{Exit, RunError};
use wemu_sandbox::EventQueue;
use wemu_sandbox::backend::DmaMemory;
use wemu_sandbox::contract::{DeviceModelPre, types};
use wemu_sandbox::device::{self, CreateError, DeviceFault, DeviceImports, PowerRequest, WasmDevice};
use wemu_sandbox::loader::{self, GrantError, LoadError, Loader};

/// Most harts a machine may have.
pub const MAX_HARTS: u32 = 64;

/// Why a machine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{loc}: {error}")]
    Load { loc: Loc, error: LoadError },
    #[error("{loc}: {error}")]
    Create { loc: Loc, error: Box<CreateError> },
    #[error("{loc}: {error}")]
    Bus { loc: Loc, error: BusError },
    #[error("{loc}: {error}")]
    Grant { loc: Loc, error: Box<GrantError> },
    #[error("{loc}: chardev '{binding}': {error}")]
    Chardev { loc: Loc, binding: String, error: ChardevError },
    #[error("{loc}: {error}")]
    Block { loc: Loc, error: BlockOpenError },
    #[error("{loc}: {error}")]
    IrqTarget { loc: Loc, error: IrqTargetError },
    #[error("{loc}: {message}")]
    Other { loc: Loc, message: String },
    #[error("--accel jit: {0}")]
    Jit(#[from] wemu_cpu::JitError),
}

/// An IRQ target (`hartN.PIN` or `DEVICE.LINE`) that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrqTargetError {
    #[error("IRQ target '{target}': expected DEVICE.LINE or hartN.PIN (e.g. hart0.meip)")]
    Syntax { target: String },
    #[error("IRQ target '{target}': pin must be meip, mtip, msip or seip")]
    Pin { target: String },
    #[error("IRQ target '{target}': this machine has harts 0 to {}", harts - 1)]
    NoSuchHart { target: String, harts: u32 },
    #[error("IRQ target '{target}': no device named '{device}'")]
    NoSuchDevice { target: String, device: String },
    #[error("IRQ target '{target}': '{line}' is not a line number")]
    Line { target: String, line: String },
}

fn other(loc: &Loc, message: impl Into<String>) -> BuildError {
    BuildError::Other { loc: loc.clone(), message: message.into() }
}

/// Something a device asked for that ends the current batch and the
/// instruction that made the access (`MemError::Stop`).
#[derive(Debug)]
pub(crate) enum StopRequest {
    Power(PowerRequest),
    Fault(DeviceFault),
}

/// Host-side choices the machine file leaves to the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Backend of each `serialN` chardev name, from `--serial`.
    pub serials: Vec<ChardevSpec>,
    /// Log every MMIO access (`--trace mmio`).
    pub trace_mmio: bool,
    /// Log every executed instruction (`--trace in_asm`).
    pub trace_insns: bool,
    /// Log every interrupt line change (`--trace irq`).
    pub trace_irq: bool,
    /// Follow the host's clock instead of the deterministic virtual one.
    pub realtime: bool,
    /// Fault policy of devices whose machine-file entry sets no `on-fault`.
    pub on_device_fault: FaultPolicy,
    /// How harts execute: the interpreter, or with hot code translated.
    pub accel: Accel,
    /// Log each region the JIT compiles (`-d jit`).
    pub log_jit: bool,
}

/// How harts execute (`--accel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// The interpreter only.
    Interp,
    /// Hot code translated with Cranelift, with these settings.
    Jit(wemu_cpu::JitConfig),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            serials: vec![ChardevSpec::Stdio],
            trace_mmio: false,
            trace_insns: false,
            trace_irq: false,
            realtime: false,
            on_device_fault: FaultPolicy::Stop,
            accel: Accel::Interp,
            log_jit: false,
        }
    }
}

/// What the boot flow placed in memory, and the harts' start state: pc =
/// `entry`, a0 = hart id, a1 = `a1` (the device tree), a2 = `a2` (the
/// firmware's dynamic info), as QEMU's reset vector sets them.
#[derive(Debug, Clone)]
pub struct Boot {
    /// (file name for messages, image), placed in order.
    pub images: Vec<(String, Image)>,
    pub entry: u64,
    pub a1: u64,
    pub a2: u64,
}

/// A device in the machine, with what it was built from.
pub struct Slot {
    pub dev: WasmDevice,
    pub spec: config::DeviceSpec,
    /// What a fault of this device does.
    pub policy: FaultPolicy,
    pub(crate) health: fault::Health,
    /// Virtual times of its recent resets (fault policy `reset`).
    pub(crate) resets: Vec<u64>,
    /// What a new instance is made from (fault policy `reset`).
    pub(crate) pre: DeviceModelPre<DeviceImports>,
    pub(crate) props: Vec<types::Property>,
}

/// Input waiting to be offered to a device's character port.
pub(crate) struct InputBinding {
    device: usize,
    port: u32,
    input: CharInput,
}

/// Everything but the harts: what a hart's memory accesses reach.
pub struct Platform {
    pub(crate) bus: Bus,
    pub(crate) rams: Vec<Rc<Ram>>,
    /// The block the last CPU memory access hit: the hart's loads and
    /// stores try it before the address map (see `Memory for Platform`).
    pub(crate) last_ram: RamWindow,
    pub(crate) slots: Vec<Slot>,
    pub(crate) irq: IrqRouter,
    pub(crate) clock: Clock,
    pub(crate) events: EventQueue,
    pub(crate) inputs: Vec<InputBinding>,
    /// Hart pin changes waiting to be applied between batches.
    pub(crate) pin_changes: Vec<(usize, IrqPin, bool)>,
    /// The hart must yield after this instruction: a device armed or
    /// cancelled a timer, or a fault was survived or a storm began
    /// (`Memory::yield_requested`).
    pub(crate) yield_now: bool,
    /// Virtual time at the start of the current batch.
    pub(crate) now_ns: u64,
    pub(crate) stop: Option<StopRequest>,
    pub(crate) trace_mmio: bool,
    pub(crate) trace_insns: bool,
    pub(crate) trace_irq: bool,
    /// For new instances of devices that reset after a fault.
    pub(crate) engine: wasmtime::Engine,
    /// The guest pc incidents get: that of the hart access in progress
    /// (from its `AccessInfo`), else that of the hart that ran last.
    pub(crate) guest_pc: Option<u64>,
    /// Device faults survived and IRQ storms, with their guest pc.
    pub(crate) incidents: Vec<Incident>,
    /// Warn about each incident as it happens (off while building: a
    /// fault then is a setup error).
    pub(crate) warn_incidents: bool,
    pub(crate) storm: storm::StormGuard,
    /// Per device: the virtual time its timers last fired at, and how many
    /// fired at that instant (the hang guard in `fire_timers`).
    pub(crate) timer_fires: Vec<(u64, u32)>,
}

impl Platform {
    /// The device instances, in machine-file order (embedders, tests).
    pub fn slots_mut(&mut self) -> Vec<&mut WasmDevice> {
        self.slots.iter_mut().map(|s| &mut s.dev).collect()
    }
}

/// A built machine.
pub struct Machine {
    pub spec: MachineSpec,
    pub harts: Vec<Hart>,
    pub platform: Platform,
    /// What was loaded and where the harts start (kept for machine reset).
    pub(crate) boot: Option<Boot>,
    /// Spike's host interface, when an image defines `tohost`.
    pub(crate) htif: Option<crate::htif::Htif>,
    /// The hart running now (for fault reports).
    pub(crate) current: usize,
    /// Each hart's translating tier, with `--accel jit`.
    pub(crate) jits: Vec<Option<wemu_cpu::Jit>>,
}

impl Machine {
    /// Build `spec`: memory, devices (loaded through `loader`), wiring.
    pub fn build(mut spec: MachineSpec, loader: &mut Loader, opts: &Options) -> Result<Self, BuildError> {
        let mut bus = Bus::new();
        let mut rams = Vec::new();
        for m in &spec.memory {
            let size = usize::try_from(m.size).ok().filter(|&s| s <= 1 << 36).ok_or_else(|| {
                other(&m.loc, format!("memory '{}' is too large ({:#x} bytes)", m.name, m.size))
            })?;
            bus.add(Mapping {
                name: m.name.clone(),
                base: m.base,
                size: m.size,
                backing: Backing::Memory(rams.len()),
            })
            .map_err(|error| BuildError::Bus { loc: m.loc.clone(), error })?;
            let ram =
                Ram::try_new(&m.name, m.base, size, m.readonly).map_err(|e| other(&m.loc, e.to_string()))?;
            rams.push(Rc::new(ram));
        }

        if !spec.isa.starts_with("rv64") {
            let loc = Loc { origin: spec.origin.clone(), line: None };
            return Err(other(&loc, format!("[cpu] isa = \"{}\": wemu runs RV64 harts only", spec.isa)));
        }
        if !(1..=MAX_HARTS).contains(&spec.harts) {
            let loc = Loc { origin: spec.origin.clone(), line: None };
            return Err(other(&loc, format!("{} harts requested; wemu runs 1 to {MAX_HARTS}", spec.harts)));
        }
        // The hart count is final now: apply it to "$harts" and each-hart.
        spec.resolve()?;

        let mut slots: Vec<Slot> = Vec::new();
        let mut inputs = Vec::new();
        let mut stdin_taken = false;
        for d in &spec.devices {
            let loaded =
                loader.load(&d.component).map_err(|error| BuildError::Load { loc: d.loc.clone(), error })?;

            let mut granted = Vec::new();
            if d.timers {
                granted.push("clock");
            }
            if !d.dma.is_empty() {
                granted.push("dma");
            }
            if !d.chardevs.is_empty() {
                granted.push("chardev");
            }
            if d.block.is_some() {
                granted.push("block");
            }
            if d.power {
                granted.push("power");
            }
            loader::check_grants(&loaded, &d.name, &granted)
                .map_err(|error| BuildError::Grant { loc: d.loc.clone(), error: Box::new(error) })?;

            let mut imports =
                DeviceImports::new(&d.name, d.memory_limit.unwrap_or(device::DEFAULT_MEMORY_LIMIT));
            imports.limits = device_limits(d);
            imports.dma.windows = d.dma_windows(&spec.memory)?;
            imports.dma.rams =
                rams.iter().filter(|r| !r.read_only()).map(|r| Rc::clone(r) as Rc<dyn DmaMemory>).collect();
            for (port, binding) in d.chardevs.iter().enumerate() {
                let chardev_err =
                    |error| BuildError::Chardev { loc: d.loc.clone(), binding: binding.clone(), error };
                let spec_for = resolve_chardev(binding, opts).map_err(chardev_err)?;
                let (sink, input): (Box<dyn CharSink>, CharInput) =
                    if spec_for == ChardevSpec::Stdio && stdin_taken {
                        // stdin can feed only one device; later ones only print.
                        (chardev::stdout_sink(), CharInput::none())
                    } else {
                        chardev::open(&spec_for).map_err(chardev_err)?
                    };
                stdin_taken |= spec_for == ChardevSpec::Stdio;
                imports.chardevs.push(sink);
                inputs.push(InputBinding { device: slots.len(), port: port as u32, input });
            }
            if let Some((path, ro)) = &d.block {
                let image = BlockImage::open(path, *ro)
                    .map_err(|error| BuildError::Block { loc: d.loc.clone(), error })?;
                imports.blocks.push(Rc::new(image));
            }

            let mut props = Vec::new();
            for (name, v) in &d.props {
                let value = match v {
                    config::PropVal::Bool(b) => types::PropValue::Boolean(*b),
                    config::PropVal::Int(i) => types::PropValue::Integer(*i),
                    config::PropVal::Text(s) => types::PropValue::Text(s.clone()),
                    // `resolve` above replaced every one.
                    config::PropVal::Machine(var) => {
                        return Err(other(&d.loc, format!("property '{name}': {var:?} was not resolved")));
                    }
                };
                props.push(types::Property { name: name.clone(), value });
            }
            let dev = loader
                .instantiate(&loaded, imports, d.fuel.unwrap_or(device::DEFAULT_FUEL), props.clone())
                .map_err(|error| BuildError::Create { loc: d.loc.clone(), error: Box::new(error) })?;

            let desc = dev.description();
            if desc.regions.len() != d.regions.len() {
                let names: Vec<&str> = desc.regions.iter().map(|(n, _)| n.as_str()).collect();
                return Err(other(
                    &d.loc,
                    format!(
                        "device '{}' ({}) has {} region(s) [{}] but `regions` places {}",
                        d.name,
                        d.component,
                        desc.regions.len(),
                        names.join(", "),
                        d.regions.len()
                    ),
                ));
            }
            for (i, ((rname, size), base)) in desc.regions.iter().zip(&d.regions).enumerate() {
                bus.add(Mapping {
                    name: format!("{}.{rname}", d.name),
                    base: *base,
                    size: *size,
                    backing: Backing::Mmio { device: slots.len(), region: i as u32 },
                })
                .map_err(|error| BuildError::Bus { loc: d.loc.clone(), error })?;
            }
            slots.push(Slot {
                dev,
                spec: d.clone(),
                policy: d.on_fault.unwrap_or(opts.on_device_fault),
                health: fault::Health::Live,
                resets: Vec::new(),
                pre: loaded.pre.clone(),
                props,
            });
        }

        check_dma_windows(&spec, &bus)?;
        let irq = wire_irqs(&spec, &slots)?;
        let mut platform = Platform {
            bus,
            rams,
            last_ram: RamWindow::empty(),
            slots,
            irq,
            clock: if opts.realtime { Clock::realtime() } else { Clock::default() },
            events: EventQueue::default(),
            inputs,
            pin_changes: Vec::new(),
            yield_now: false,
            now_ns: 0,
            stop: None,
            trace_mmio: opts.trace_mmio,
            trace_insns: opts.trace_insns,
            trace_irq: opts.trace_irq,
            engine: loader.engine().clone(),
            guest_pc: None,
            incidents: Vec::new(),
            warn_incidents: false,
            storm: storm::StormGuard::default(),
            timer_fires: vec![(0, 0); spec.devices.len()],
        };
        // Apply whatever the devices asked for while being created. A
        // fault here (a controller failing on its first input) is a setup
        // error whatever the policy.
        for i in 0..platform.slots.len() {
            platform.apply_effects(i);
            let fault = match platform.stop.take() {
                Some(StopRequest::Fault(f)) => Some(f),
                other => {
                    platform.stop = other;
                    platform.incidents.iter().find_map(|inc| match inc {
                        Incident::Fault { fault, .. } => Some(fault.clone()),
                        Incident::IrqStorm { .. } => None,
                    })
                }
            };
            if let Some(f) = fault {
                return Err(other(&platform.slots[i].spec.loc, f.to_string()));
            }
        }
        // Storms met while building are warned about now.
        for inc in &platform.incidents {
            tracing::warn!(target: "wemu::fault", "{inc}");
        }
        platform.warn_incidents = true;
        let entry = spec.memory.first().map_or(0, |m| m.base);
        let harts = (0..u64::from(spec.harts)).map(|id| new_hart(&spec, id, entry)).collect();
        let mut jits = Vec::new();
        for _ in 0..spec.harts {
            jits.push(match opts.accel {
                // `-d in_asm` traces each instruction through the interpreter.
                Accel::Jit(config) if !opts.trace_insns => {
                    let mut jit = wemu_cpu::Jit::new(config)?;
                    jit.set_log(opts.log_jit);
                    Some(jit)
                }
                _ => None,
            });
        }
        Ok(Machine { spec, harts, platform, boot: None, htif: None, current: 0, jits })
    }

    /// What the harts' translating tiers did, summed; `None` without the
    /// JIT.
    pub fn jit_stats(&self) -> Option<wemu_cpu::JitStats> {
        let mut it = self.jits.iter().flatten().map(wemu_cpu::Jit::stats).peekable();
        it.peek()?;
        Some(it.fold(wemu_cpu::JitStats::default(), |a, b| wemu_cpu::JitStats {
            regions: a.regions + b.regions,
            guest_insns: a.guest_insns + b.guest_insns,
            code_bytes: a.code_bytes + b.code_bytes,
            compile_ns: a.compile_ns + b.compile_ns,
            entries: a.entries + b.entries,
            jit_insns: a.jit_insns + b.jit_insns,
            flushes: a.flushes + b.flushes,
            stale: a.stale + b.stale,
            revalidated: a.revalidated + b.revalidated,
        }))
    }

    /// Place `image` in memory and start every hart at its entry (a bare
    /// program: no firmware, no device tree).
    pub fn load_image(&mut self, image: Image, file: &str) -> Result<(), crate::image::ImageError> {
        let entry = image.entry;
        self.install(Boot { images: vec![(file.to_owned(), image)], entry, a1: 0, a2: 0 })
    }

    /// Place every image of `boot` and start the harts as it says.
    pub fn install(&mut self, boot: Boot) -> Result<(), crate::image::ImageError> {
        for (file, image) in &boot.images {
            self.platform
                .place(image)
                .map_err(|e| crate::image::ImageError { file: file.clone(), cause: e.into() })?;
        }
        self.htif = boot.images.iter().find_map(|(_, i)| i.htif).map(crate::htif::Htif::new);
        self.reset_harts(&boot);
        self.boot = Some(boot);
        Ok(())
    }

    /// Every hart back to reset state at the boot entry: a0 = hart id,
    /// a1 and a2 as the boot flow says (device tree, firmware info). New
    /// harts have empty instruction caches and TLBs, so nothing decoded
    /// from memory that was just (re)loaded survives.
    pub(crate) fn reset_harts(&mut self, boot: &Boot) {
        for (id, h) in self.harts.iter_mut().enumerate() {
            *h = new_hart(&self.spec, id as u64, boot.entry);
            h.x[10] = id as u64;
            h.x[11] = boot.a1;
            h.x[12] = boot.a2;
        }
    }

    /// The devices, in machine-file order.
    pub fn devices(&self) -> impl Iterator<Item = &WasmDevice> {
        self.platform.slots.iter().map(|s| &s.dev)
    }
}

/// The limits a device is held to: its machine-file keys over the defaults.
/// A hart in its reset state, set up as the machine file says.
fn new_hart(spec: &MachineSpec, id: u64, entry: u64) -> Hart {
    let mut h = Hart::new(id, entry);
    h.set_misaligned(spec.misaligned);
    h
}

fn device_limits(d: &config::DeviceSpec) -> device::Limits {
    let default = device::Limits::default();
    device::Limits {
        timers: d.max_timers.unwrap_or(default.timers),
        irq_changes: d.max_irq_changes.unwrap_or(default.irq_changes),
        log_records: d.log_limit.unwrap_or(default.log_records),
    }
}

/// DMA reaches memory only: a window on a device's registers would be
/// refused access by access at run time, so refuse it once, here, naming
/// the device, the window and the region (every region is placed now).
fn check_dma_windows(spec: &MachineSpec, bus: &Bus) -> Result<(), BuildError> {
    for d in &spec.devices {
        for (base, size) in d.dma_windows(&spec.memory)? {
            // `dma_windows` refused empty and wrapping windows.
            let last = base.saturating_add(size.saturating_sub(1));
            if let Some(m) = bus.overlapping(base, last).find(|m| matches!(m.backing, Backing::Mmio { .. })) {
                return Err(other(
                    &d.loc,
                    format!(
                        "device '{}': DMA window [{base:#x}..={last:#x}] overlaps device region '{}' \
                         [{:#x}..={:#x}]; DMA reaches only memory",
                        d.name,
                        m.name,
                        m.base,
                        m.base + (m.size - 1)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `serial0` → the first `--serial`, etc.; or a literal backend spec.
fn resolve_chardev(binding: &str, opts: &Options) -> Result<ChardevSpec, ChardevError> {
    if let Some(n) = binding.strip_prefix("serial").and_then(|n| n.parse::<usize>().ok()) {
        return Ok(opts.serials.get(n).cloned().unwrap_or(ChardevSpec::Null));
    }
    binding.parse::<ChardevSpec>()
}

fn wire_irqs(spec: &MachineSpec, slots: &[Slot]) -> Result<IrqRouter, BuildError> {
    let mut router = IrqRouter::default();
    let find = |name: &str| slots.iter().position(|s| s.spec.name == name);
    for (idx, slot) in slots.iter().enumerate() {
        let d = &slot.spec;
        let outputs = slot.dev.description().irq_outputs;
        if d.irqs.len() > outputs as usize {
            return Err(other(
                &d.loc,
                format!("device '{}' has {outputs} IRQ output(s) but `irqs` wires {}", d.name, d.irqs.len()),
            ));
        }
        for (line, target) in d.irqs.iter().enumerate() {
            let sink = match target {
                config::IrqSpec::Number(n) => match &spec.interrupt_parent {
                    Some(parent) => {
                        let dev = find(parent).ok_or_else(|| {
                            other(
                                &d.loc,
                                format!("interrupt-parent '{parent}' is not a device of this machine"),
                            )
                        })?;
                        Sink::Device { device: dev, line: *n }
                    }
                    None => Sink::Unconnected { label: format!("irq {n}") },
                },
                config::IrqSpec::Target(t) => parse_target(t, spec.harts, &find)
                    .map_err(|error| BuildError::IrqTarget { loc: d.loc.clone(), error })?,
                // `resolve` expanded these before the devices were built.
                config::IrqSpec::EachHart(_) => {
                    return Err(other(&d.loc, "an each-hart IRQ entry was not expanded"));
                }
            };
            if let Sink::Device { device, line: input } = &sink {
                let inputs = slots[*device].dev.description().irq_inputs;
                if *input >= inputs {
                    return Err(other(
                        &d.loc,
                        format!(
                            "device '{}' line {line} goes to input {input} of '{}', which has {inputs} input(s)",
                            d.name, slots[*device].spec.name
                        ),
                    ));
                }
            }
            router.connect(idx, line as u32, sink);
        }
    }
    Ok(router)
}

/// "hart0.meip" or "plic0.10".
fn parse_target(t: &str, harts: u32, find: &dyn Fn(&str) -> Option<usize>) -> Result<Sink, IrqTargetError> {
    let target = || t.to_owned();
    let (who, what) = t.split_once('.').ok_or_else(|| IrqTargetError::Syntax { target: target() })?;
    if let Some(n) = who.strip_prefix("hart").and_then(|n| n.parse::<usize>().ok()) {
        let pin = IrqPin::parse(what).ok_or_else(|| IrqTargetError::Pin { target: target() })?;
        if n >= harts as usize {
            return Err(IrqTargetError::NoSuchHart { target: target(), harts });
        }
        return Ok(Sink::Hart { hart: n, pin });
    }
    let device =
        find(who).ok_or_else(|| IrqTargetError::NoSuchDevice { target: target(), device: who.to_owned() })?;
    let line =
        what.parse::<u32>().map_err(|_| IrqTargetError::Line { target: target(), line: what.to_owned() })?;
    Ok(Sink::Device { device, line })
}

/// Machine paths for `-M`: `--machine-path`, `WEMU_MACHINE_PATH`, built-ins.
pub fn machine_search_path(explicit: &[PathBuf]) -> wemu_sandbox::loader::SearchPath {
    wemu_sandbox::loader::SearchPath::new(explicit, "WEMU_MACHINE_PATH")
}

impl From<DeviceFault> for RunError {
    fn from(f: DeviceFault) -> Self {
        RunError::Device { fault: f, pc: None }
    }
}
