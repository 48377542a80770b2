//! A device instance: one component instance in its own wasmtime store,
//! called with a fuel budget per call. This is the last hop of the data
//! path — bus → `WasmDevice::read` → component export → device code.

pub mod fault;
pub mod imports;
pub mod limits;

use std::fmt::Write as _;

use wasmtime::Store;
use wasmtime::component::Linker;

pub use fault::{DeviceFault, FaultKind};
pub use imports::{DeviceImports, DmaEvent, PowerRequest, TimerOp};
pub use limits::{DEFAULT_FUEL, DEFAULT_MEMORY_LIMIT, Limits, SETUP_FUEL};

use crate::contract::DeviceModelPre;
use crate::contract::types::{self, AccessError};

/// Most IRQ output (and, separately, input) lines a device may declare.
pub const MAX_IRQ_LINES: u32 = 4096;

/// What an instance is, as it described itself in `create`.
#[derive(Debug, Clone)]
pub struct Description {
    pub model: String,
    pub version: String,
    pub regions: Vec<(String, u64)>,
    pub irq_outputs: u32,
    pub irq_inputs: u32,
    pub dt_node: Option<types::DtNode>,
}

impl Description {
    fn from_wit(d: types::Description) -> Result<Self, DescriptionError> {
        if d.irq_outputs > MAX_IRQ_LINES || d.irq_inputs > MAX_IRQ_LINES {
            return Err(DescriptionError::TooManyIrqLines { outputs: d.irq_outputs, inputs: d.irq_inputs });
        }
        Ok(Description {
            model: d.name,
            version: d.version,
            regions: d.regions.into_iter().map(|r| (r.name, r.size)).collect(),
            irq_outputs: d.irq_outputs,
            irq_inputs: d.irq_inputs,
            dt_node: d.dt_node,
        })
    }
}

/// A `describe` result the host refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    #[error("declares {outputs} IRQ outputs and {inputs} inputs (at most {MAX_IRQ_LINES} each)")]
    TooManyIrqLines { outputs: u32, inputs: u32 },
}

/// Why an instance could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Fault(#[from] DeviceFault),
    /// `create` returned an error (bad properties).
    #[error("device '{device}' ({component}) refused its properties: {message}")]
    Refused { device: String, component: String, message: String },
    /// The description breaks the contract's limits.
    #[error("device '{device}' ({component}) {message}")]
    Invalid { device: String, component: String, message: String },
    #[error("device '{device}' ({component}) could not be instantiated: {message}")]
    Instantiate { device: String, component: String, message: String },
}

/// Effects of the last call(s) for the machine to apply.
#[derive(Debug, Default)]
pub struct Effects {
    pub irq_changes: Vec<(u32, bool)>,
    pub timer_ops: Vec<TimerOp>,
    pub power: Option<PowerRequest>,
}

/// One live device instance.
pub struct WasmDevice {
    name: String,
    component: String,
    store: Store<DeviceImports>,
    /// The component instance (for exports beyond the contract, e.g. the
    /// fuzzer's coverage map).
    instance: wasmtime::component::Instance,
    exports: crate::contract::DeviceExports,
    description: Description,
    fuel: u64,
    /// Fuel the last call (or `create`) started with.
    last_budget: u64,
    /// Export calls made on this instance since `create`.
    calls: u64,
}

impl std::fmt::Debug for WasmDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WasmDevice({} = {})", self.name, self.component)
    }
}

impl WasmDevice {
    /// Instantiate `pre` in a fresh store holding `imports`, then call
    /// `create(props)`.
    pub fn create(
        engine: &wasmtime::Engine,
        pre: &DeviceModelPre<DeviceImports>,
        component: &str,
        imports: DeviceImports,
        fuel: u64,
        props: Vec<types::Property>,
    ) -> Result<Self, CreateError> {
        let name = imports.name.clone();
        let mut store = Store::new(engine, imports);
        store.limiter(|s| &mut s.limiter as &mut dyn wasmtime::ResourceLimiter);
        let fault = |store: &mut Store<DeviceImports>, err: wasmtime::Error, op: &str| {
            classify(store, err, &name, component, op.to_owned(), SETUP_FUEL)
        };
        store.set_fuel(SETUP_FUEL).map_err(|e| fault(&mut store, e, "instantiate"))?;
        let instantiated = pre
            .instance_pre()
            .instantiate(&mut store)
            .and_then(|i| crate::contract::DeviceModel::new(&mut store, &i).map(|m| (i, m)));
        let (instance, model) = match instantiated {
            Ok(m) => m,
            // A memory or table over the limit fails instantiation without
            // a trap: still a fault of the device, named as such.
            Err(e) if e.downcast_ref::<wasmtime::Trap>().is_some() || store.data().limiter.refused => {
                return Err(fault(&mut store, e, "instantiate").into());
            }
            Err(e) => {
                return Err(CreateError::Instantiate {
                    device: name.clone(),
                    component: component.to_owned(),
                    message: format!("{e:#}"),
                });
            }
        };
        // What instantiation left in memories and tables (`validate`).
        let limiter = &mut store.data_mut().limiter;
        limiter.initial = Some(limiter.total.saturating_sub(limiter.exempt));
        let exports = model.wemu_device_device().clone();
        let described =
            exports.call_create(&mut store, &props).map_err(|e| fault(&mut store, e, "create"))?;
        let description = described
            .map_err(|message| CreateError::Refused {
                device: name.clone(),
                component: component.to_owned(),
                message,
            })
            .and_then(|d| {
                Description::from_wit(d).map_err(|e| CreateError::Invalid {
                    device: name.clone(),
                    component: component.to_owned(),
                    message: e.to_string(),
                })
            })?;
        let mut dev = WasmDevice {
            name: name.clone(),
            component: component.to_owned(),
            store,
            instance,
            exports,
            description,
            fuel,
            last_budget: SETUP_FUEL,
            calls: 0,
        };
        // Lines raised during create are checked now that the count is known.
        let outputs = dev.description.irq_outputs;
        dev.store.data_mut().irq_outputs = outputs;
        if let Some(&(line, _)) = dev.store.data().irq_changes.iter().find(|(l, _)| *l >= outputs) {
            return Err(CreateError::Fault(DeviceFault {
                device: name,
                component: component.to_owned(),
                op: "create".into(),
                kind: FaultKind::Contract(format!(
                    "irq.set on line {line}, but it declared {outputs} output line(s)"
                )),
            }));
        }
        Ok(dev)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn component(&self) -> &str {
        &self.component
    }
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// The store's data: what the device can reach and what it queued.
    pub fn imports(&self) -> &DeviceImports {
        self.store.data()
    }
    pub fn imports_mut(&mut self) -> &mut DeviceImports {
        self.store.data_mut()
    }

    /// The store and the component instance, for calls outside the
    /// contract (the fuzzer reads its coverage export through them).
    pub fn store_and_instance(&mut self) -> (&mut Store<DeviceImports>, wasmtime::component::Instance) {
        (&mut self.store, self.instance)
    }
    pub fn store(&self) -> &Store<DeviceImports> {
        &self.store
    }

    /// Fuel the last call (or instantiation plus `create`) burned.
    pub fn fuel_used(&self) -> u64 {
        self.last_budget.saturating_sub(self.store.get_fuel().unwrap_or(0))
    }

    /// Export calls (read, write, irq-input, timer-fired, …) made on this
    /// instance since `create`, which is not counted.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Memories and tables together: their size once instantiated, and the
    /// largest they reached, in bytes.
    pub fn memory_use(&self) -> (Option<u64>, u64) {
        let l = &self.store.data().limiter;
        (l.initial, l.peak)
    }

    /// Run one export call with the per-call budget and map failures.
    fn call<R>(
        &mut self,
        now_ns: u64,
        op: impl FnOnce() -> String,
        f: impl FnOnce(&crate::contract::DeviceExports, &mut Store<DeviceImports>) -> wasmtime::Result<R>,
    ) -> Result<R, DeviceFault> {
        let st = self.store.data_mut();
        st.now_ns = now_ns;
        st.irq_sets_this_call = 0;
        let budget = self.fuel;
        self.last_budget = budget;
        self.calls += 1;
        if let Err(e) = self.store.set_fuel(budget) {
            return Err(classify(&mut self.store, e, &self.name, &self.component, op(), budget));
        }
        f(&self.exports, &mut self.store)
            .map_err(|e| classify(&mut self.store, e, &self.name, &self.component, op(), budget))
    }

    /// MMIO read. The outer `Err` is a device fault; the inner one an
    /// access the device refused (a guest access fault).
    pub fn read(
        &mut self,
        now_ns: u64,
        region: u32,
        offset: u64,
        size: u8,
    ) -> Result<Result<u64, AccessError>, DeviceFault> {
        self.call(
            now_ns,
            || format!("read(region {region}, offset {offset:#x}, size {size})"),
            |e, s| e.call_read(s, region, offset, size),
        )
    }

    /// MMIO write.
    pub fn write(
        &mut self,
        now_ns: u64,
        region: u32,
        offset: u64,
        size: u8,
        value: u64,
    ) -> Result<Result<(), AccessError>, DeviceFault> {
        self.call(
            now_ns,
            || format!("write(region {region}, offset {offset:#x}, size {size}, value {value:#x})"),
            |e, s| e.call_write(s, region, offset, size, value),
        )
    }

    pub fn irq_input(&mut self, now_ns: u64, line: u32, level: bool) -> Result<(), DeviceFault> {
        self.call(
            now_ns,
            || format!("irq-input(line {line}, level {level})"),
            |e, s| e.call_irq_input(s, line, level),
        )
    }

    pub fn timer_fired(&mut self, now_ns: u64, id: u32) -> Result<(), DeviceFault> {
        self.store.data_mut().timers.fired(id);
        self.call(now_ns, || format!("timer-fired({id})"), |e, s| e.call_timer_fired(s, id))
    }

    /// Offer input bytes; returns how many the device took.
    pub fn char_input(&mut self, now_ns: u64, port: u32, data: &[u8]) -> Result<usize, DeviceFault> {
        let taken = self.call(
            now_ns,
            || format!("char-input(port {port}, {} bytes)", data.len()),
            |e, s| e.call_char_input(s, port, data),
        )?;
        Ok((taken as usize).min(data.len()))
    }

    /// Back to power-on state. The host drops the device's timers (as a
    /// machine reset does); what `reset` arms is kept.
    pub fn reset(&mut self, now_ns: u64) -> Result<(), DeviceFault> {
        self.store.data_mut().timers.clear();
        self.call(now_ns, || "reset".to_owned(), |e, s| e.call_reset(s))
    }

    pub fn save(&mut self, now_ns: u64) -> Result<Vec<u8>, DeviceFault> {
        self.call(now_ns, || "save".to_owned(), |e, s| e.call_save(s))
    }

    /// Load a state `save` produced. The device re-arms the timers it
    /// needs in `restore`; the host drops the ones it had.
    pub fn restore(&mut self, now_ns: u64, state: &[u8]) -> Result<Result<(), String>, DeviceFault> {
        self.store.data_mut().timers.clear();
        self.call(now_ns, || "restore".to_owned(), |e, s| e.call_restore(s, state))
    }

    /// Store data for a new instance replacing this one (fault policy
    /// `reset`): the same name, memory limit and DMA grant, and this
    /// instance's chardev and block backends, moved over. This instance
    /// keeps none and must not be called again.
    pub fn recycle_imports(&mut self, now_ns: u64) -> DeviceImports {
        let old = self.store.data_mut();
        let mut st = DeviceImports::new(&old.name, old.limiter.limit);
        st.limiter.exempt = old.limiter.exempt;
        st.limits = old.limits;
        st.now_ns = now_ns;
        st.dma.windows = old.dma.windows.clone();
        st.dma.rams = old.dma.rams.clone();
        st.chardevs = std::mem::take(&mut old.chardevs);
        st.blocks = std::mem::take(&mut old.blocks);
        st
    }

    /// Take the IRQ, timer and power requests queued by the calls so far.
    pub fn take_effects(&mut self) -> Effects {
        let st = self.store.data_mut();
        Effects {
            irq_changes: std::mem::take(&mut st.irq_changes),
            timer_ops: st.timers.take(),
            power: st.power.take(),
        }
    }
}

/// Turn a wasmtime error from a device call into a typed fault.
fn classify(
    store: &mut Store<DeviceImports>,
    err: wasmtime::Error,
    device: &str,
    component: &str,
    op: String,
    budget: u64,
) -> DeviceFault {
    let st = store.data_mut();
    let kind = if st.limiter.refused {
        FaultKind::MemoryLimit { limit: st.limiter.limit, wanted: st.limiter.wanted }
    } else if let Some(v) = st.violation.take() {
        FaultKind::Contract(v)
    } else if matches!(err.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::OutOfFuel)) {
        FaultKind::OutOfFuel { budget }
    } else {
        let mut msg = match err.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{err:#}"),
        };
        if let Some(said) = st.last_error.take() {
            let _ = write!(msg, "; the device logged: {said}");
        }
        if let Some(bt) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
            // Skip the panic machinery: the device's own frames matter.
            let frames: Vec<String> = bt
                .frames()
                .iter()
                .map(|f| match f.func_name() {
                    Some(n) => format!("{:#}", rustc_demangle::demangle(n)),
                    None => format!("func[{}]", f.func_index()),
                })
                .filter(|n| !is_panic_machinery(n))
                .take(6)
                .collect();
            if !frames.is_empty() {
                let _ = write!(msg, "\n  wasm backtrace: {}", frames.join(" <- "));
            }
        }
        FaultKind::Trap(msg)
    };
    DeviceFault { device: device.to_owned(), component: component.to_owned(), op, kind }
}

fn is_panic_machinery(name: &str) -> bool {
    ["std::", "core::", "__rustc::", "rust_panic", "__rust_", "alloc::"].iter().any(|p| name.starts_with(p))
}

/// A linker with every contract import, shared by all instances.
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<DeviceImports>> {
    let mut linker = Linker::new(engine);
    crate::contract::add_to_linker(&mut linker)?;
    Ok(linker)
}
