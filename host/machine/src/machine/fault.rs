//! What a device fault does to a running machine (`--on-device-fault`,
//! `on-fault` per device): stop the machine, isolate the device (fence it
//! off and go on), or reset it (a new instance from the same component).
//! Also the record of every such incident, IRQ storms included, for the
//! warnings and the summary at exit. docs/faults.md describes the rules.

use std::fmt;

use serde::Deserialize;

use super::{Machine, Platform, StopRequest};
use crate::backend::chardev::CharInput;
use wemu_sandbox::device::{DeviceFault, Effects, WasmDevice};

/// At most this many resets of one device within [`RESET_WINDOW_NS`]; the
/// next fault isolates it. A device that keeps failing right after a fresh
/// start will not be fixed by a fourth one, and each reset costs an
/// instantiation (about a millisecond of host time).
pub const MAX_RESETS: usize = 3;
/// One second of virtual time.
pub const RESET_WINDOW_NS: u64 = 1_000_000_000;

/// What a fault of a device does to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPolicy {
    /// The machine stops with the fault report (exit status 125).
    #[default]
    Stop,
    /// The device is fenced off (reads all-ones, writes dropped, lines
    /// low, timers and input gone) and the machine goes on.
    Isolate,
    /// The device is instantiated afresh and the machine goes on; more than
    /// [`MAX_RESETS`] resets in a second isolate it.
    Reset,
}

impl FaultPolicy {
    pub const NAMES: [&'static str; 3] = ["stop", "isolate", "reset"];
}

/// A fault policy name that is none of [`FaultPolicy::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("on-fault '{name}': expected one of {}", FaultPolicy::NAMES.join(", "))]
pub struct UnknownPolicy {
    pub name: String,
}

impl std::str::FromStr for FaultPolicy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "stop" => Ok(FaultPolicy::Stop),
            "isolate" => Ok(FaultPolicy::Isolate),
            "reset" => Ok(FaultPolicy::Reset),
            _ => Err(UnknownPolicy { name: s.to_owned() }),
        }
    }
}

impl fmt::Display for FaultPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultPolicy::Stop => "stop",
            FaultPolicy::Isolate => "isolate",
            FaultPolicy::Reset => "reset",
        })
    }
}

/// Whether a device still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Live,
    /// Fenced off after a fault; never called again.
    Isolated,
}

/// What the machine did about a fault it survived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Isolated,
    /// Reset: a new instance took the device's place.
    Reset {
        count: usize,
    },
    /// The reset limit was reached, so the device was isolated instead.
    IsolatedAfterResets,
    /// A reset was tried and failed (the reason), so the device was isolated.
    IsolatedResetFailed(String),
}

/// Something that went wrong with a device while the machine kept running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incident {
    Fault {
        fault: DeviceFault,
        pc: Option<u64>,
        action: Action,
    },
    /// A line was throttled (see `storm.rs`).
    IrqStorm {
        device: String,
        component: String,
        line: u32,
        at_ns: u64,
        pc: Option<u64>,
    },
}

fn pc_text(pc: Option<u64>) -> String {
    pc.map(|pc| format!(" (guest pc {pc:#x})")).unwrap_or_default()
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incident::Fault { fault, pc, action } => {
                let dev = &fault.device;
                match action {
                    Action::Isolated => write!(
                        f,
                        "device '{dev}' isolated (on-fault = \"isolate\": its reads return all-ones, its \
                         writes are dropped, its IRQ lines are low)"
                    )?,
                    Action::Reset { count } => write!(
                        f,
                        "device '{dev}' reset (on-fault = \"reset\": a new instance replaces it; reset \
                         {count} of at most {MAX_RESETS} per second)"
                    )?,
                    Action::IsolatedAfterResets => write!(
                        f,
                        "device '{dev}' isolated instead of reset: it was reset {MAX_RESETS} times within \
                         a second of virtual time already"
                    )?,
                    Action::IsolatedResetFailed(why) => {
                        write!(f, "device '{dev}' isolated: resetting it failed ({why})")?
                    }
                }
                write!(f, " after a fault: {fault}{}", pc_text(*pc))
            }
            Incident::IrqStorm { device, component, line, at_ns, pc } => write!(
                f,
                "IRQ storm: device '{device}' ({component}) line {line} changed level more than {} times \
                 within {} ms of virtual time (at {:.3} ms){}; its changes are coalesced to one per \
                 batch while the storm lasts",
                super::storm::STORM_LIMIT,
                super::storm::STORM_WINDOW_NS / 1_000_000,
                *at_ns as f64 / 1e6,
                pc_text(*pc)
            ),
        }
    }
}

/// All-ones of an access of `size` bytes: what a fenced device reads as.
pub(crate) fn all_ones(size: u8) -> u64 {
    if size >= 8 { u64::MAX } else { (1u64 << (u32::from(size) * 8)) - 1 }
}

impl Platform {
    /// The device's fault policy applies now. With `stop` the fault ends
    /// the run (first fault wins); otherwise the device is isolated or
    /// reset at once and the incident is recorded with the guest pc of the
    /// access in progress (or of the hart that ran last).
    pub(crate) fn on_fault(&mut self, device: usize, fault: DeviceFault) {
        // Whatever the failed call queued never happened.
        drop(self.slots[device].dev.take_effects());
        let action = match self.slots[device].policy {
            FaultPolicy::Stop => {
                if !self.stopping() {
                    self.stop = Some(StopRequest::Fault(fault));
                }
                return;
            }
            FaultPolicy::Isolate => {
                self.isolate(device);
                Action::Isolated
            }
            FaultPolicy::Reset => self.restart(device),
        };
        self.record(Incident::Fault { fault, pc: self.guest_pc, action });
    }

    /// Keep an incident and warn about it; the hart yields after the
    /// instruction in progress, so the machine acts on it at once.
    pub(crate) fn record(&mut self, incident: Incident) {
        if self.warn_incidents {
            tracing::warn!(target: "wemu::fault", "{incident}");
        }
        self.incidents.push(incident);
        self.yield_now = true;
    }

    /// A stop-policy fault is pending: nothing more should run.
    pub(crate) fn stopping(&self) -> bool {
        matches!(self.stop, Some(StopRequest::Fault(_)))
    }

    pub(crate) fn is_isolated(&self, device: usize) -> bool {
        self.slots[device].health == Health::Isolated
    }

    /// Fence `device` off: its lines go low through the router (so a
    /// controller sees them drop), its timers and input are gone, and it is
    /// never called again.
    fn isolate(&mut self, device: usize) {
        self.slots[device].health = Health::Isolated;
        self.events.cancel_device(device);
        for b in self.inputs.iter_mut().filter(|b| b.device == device) {
            // Dropping the receiver also ends a stdin reader thread.
            b.input = CharInput::none();
        }
        self.lower_lines(device, Vec::new());
    }

    /// Drive every output line of `device` low, then apply `then` (a new
    /// instance's own requests) as the device's effects.
    fn lower_lines(&mut self, device: usize, then: Vec<(u32, bool)>) {
        self.storm.forget_device(device);
        let lines = self.slots[device].dev.description().irq_outputs;
        let mut irq_changes: Vec<(u32, bool)> = (0..lines).map(|l| (l, false)).collect();
        irq_changes.extend(then);
        self.route(device, Effects { irq_changes, ..Effects::default() }, false);
    }

    /// Replace `device` by a new instance of its component: the same
    /// properties, grants and backends, a new store. Falls back to
    /// isolation past the reset limit or when the new instance fails.
    fn restart(&mut self, device: usize) -> Action {
        let now = self.now_ns;
        let slot = &mut self.slots[device];
        slot.resets.retain(|&t| now.saturating_sub(t) < RESET_WINDOW_NS);
        if slot.resets.len() >= MAX_RESETS {
            self.isolate(device);
            return Action::IsolatedAfterResets;
        }
        slot.resets.push(now);
        let count = slot.resets.len();
        // The old instance's timers die with it.
        self.events.cancel_device(device);
        let slot = &mut self.slots[device];
        let imports = slot.dev.recycle_imports(now);
        let fuel = slot.spec.fuel.unwrap_or(wemu_sandbox::device::DEFAULT_FUEL);
        let created = WasmDevice::create(
            &self.engine,
            &slot.pre,
            &slot.spec.component,
            imports,
            fuel,
            slot.props.clone(),
        );
        let mut fresh = match created {
            Ok(d) => d,
            Err(e) => {
                self.isolate(device);
                return Action::IsolatedResetFailed(e.to_string());
            }
        };
        let (old, new) = (slot.dev.description(), fresh.description());
        if old.regions != new.regions
            || old.irq_outputs != new.irq_outputs
            || old.irq_inputs != new.irq_inputs
        {
            self.isolate(device);
            return Action::IsolatedResetFailed(
                "the new instance describes different regions or IRQ lines".to_owned(),
            );
        }
        let created = fresh.take_effects();
        slot.dev = fresh;
        // Lines low first, then whatever the new instance raised in
        // `create`: the guest sees a device at power-on.
        self.lower_lines(device, created.irq_changes);
        let rest = Effects { timer_ops: created.timer_ops, power: created.power, ..Effects::default() };
        self.route(device, rest, false);
        Action::Reset { count }
    }
}

impl Machine {
    /// Device faults the machine survived and IRQ storms, in order.
    pub fn incidents(&self) -> &[Incident] {
        &self.platform.incidents
    }

    /// The IRQ line that changed level most often within one storm window:
    /// (device name, line, changes).
    pub fn busiest_irq_line(&self) -> Option<(&str, u32, u32)> {
        let (d, l, n) = self.platform.storm.busiest()?;
        Some((self.platform.slots.get(d)?.spec.name.as_str(), l, n))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::machine::{Options, config};
    use wemu_cpu::{AccessInfo, Memory};
    use wemu_sandbox::device::FaultKind;
    use wemu_sandbox::loader::search::Origin;
    use wemu_sandbox::loader::{Loader, SearchPath};

    pub(crate) const UART: u64 = 0x1000_0000;
    pub(crate) const LSR: u64 = UART + 5;

    /// RAM and a built-in ns16550a on hart 0's MEIP with `policy`, and
    /// bytes waiting on its input.
    pub(crate) fn uart_machine(policy: FaultPolicy) -> Machine {
        uart_machine_with(policy, "")
    }

    /// `uart_machine` with `extra` keys in the UART's table.
    pub(crate) fn uart_machine_with(policy: FaultPolicy, extra: &str) -> Machine {
        let text = format!(
            "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"1M\"\n\
             [[device]]\nname = \"uart0\"\ncomponent = \"ns16550a\"\nregions = [0x10000000]\n\
             irqs = [\"hart0.meip\"]\nchardev = \"null\"\n{extra}"
        );
        let spec = config::parse_layer(
            &SearchPath::default(),
            &Origin::File("t.toml".into()),
            &text,
            &mut Vec::new(),
        )
        .expect("machine file");
        let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
        let opts = Options { on_device_fault: policy, ..Options::default() };
        let mut m = Machine::build(spec, &mut loader, &opts).expect("build");
        m.platform.inputs[0].input = CharInput::bytes(b"abc");
        m
    }

    fn fault() -> DeviceFault {
        DeviceFault {
            device: "uart0".into(),
            component: "ns16550a".into(),
            op: "test".into(),
            kind: FaultKind::Contract("made up".into()),
        }
    }

    #[test]
    fn isolating_a_device_fences_it_and_drops_its_input() {
        let mut m = uart_machine(FaultPolicy::Isolate);
        let p = &mut m.platform;
        p.store(AccessInfo::HOST, UART + 1, 1, 1).expect("IER: receive interrupt on");
        p.deliver_input();
        assert_eq!(p.pin_changes.len(), 1, "MEIP rose with the received byte");
        p.on_fault(0, fault());
        assert!(p.is_isolated(0));
        assert_eq!(p.pin_changes.last().map(|c| c.2), Some(false), "MEIP lowered through the router");
        assert!(!p.input_live() && p.inputs[0].input.pending().is_empty(), "input no longer offered");
        assert_eq!(p.load(AccessInfo::HOST, LSR, 1), Ok(0xff), "reads are all-ones");
        assert_eq!(
            p.load(AccessInfo::HOST, UART, 4),
            Ok(0xffff_ffff),
            "of the access size, even one it would refuse"
        );
        assert_eq!(p.store(AccessInfo::HOST, UART + 1, 1, 0), Ok(()), "writes are dropped");
        assert!(matches!(&p.incidents[..], [Incident::Fault { action: Action::Isolated, .. }]));
    }

    #[test]
    fn resetting_a_device_gives_a_fresh_instance_and_keeps_its_input() {
        let mut m = uart_machine(FaultPolicy::Reset);
        let p = &mut m.platform;
        p.store(AccessInfo::HOST, UART + 3, 1, 0x83).expect("LCR: DLAB and 8 bits");
        p.on_fault(0, fault());
        assert!(!p.is_isolated(0));
        assert_eq!(p.load(AccessInfo::HOST, UART + 3, 1), Ok(0), "LCR at its power-on value");
        assert!(!p.inputs[0].input.pending().is_empty(), "the new instance gets the input");
        p.deliver_input();
        assert_eq!(p.load(AccessInfo::HOST, LSR, 1).map(|v| v & 1), Ok(1), "and it arrives: data ready");
        assert!(matches!(&p.incidents[..], [Incident::Fault { action: Action::Reset { count: 1 }, .. }]));
        // Three resets within a second, then isolation.
        p.on_fault(0, fault());
        p.on_fault(0, fault());
        p.on_fault(0, fault());
        assert!(p.is_isolated(0));
        assert!(matches!(
            p.incidents.last(),
            Some(Incident::Fault { action: Action::IsolatedAfterResets, .. })
        ));
    }

    #[test]
    fn resets_a_second_apart_are_not_limited() {
        let mut m = uart_machine(FaultPolicy::Reset);
        for i in 0..6 {
            m.platform.now_ns = i * RESET_WINDOW_NS / 2;
            m.platform.on_fault(0, fault());
        }
        assert!(!m.platform.is_isolated(0), "at most 3 in any second");
    }

    #[test]
    fn the_stop_policy_keeps_the_first_fault() {
        let mut m = uart_machine(FaultPolicy::Stop);
        m.platform.on_fault(0, fault());
        m.platform.on_fault(0, DeviceFault { op: "second".into(), ..fault() });
        assert!(matches!(&m.platform.stop, Some(StopRequest::Fault(f)) if f.op == "test"));
        assert!(!m.platform.is_isolated(0) && m.platform.incidents.is_empty());
    }

    #[test]
    fn policies_parse_and_print() {
        for name in FaultPolicy::NAMES {
            assert_eq!(name.parse::<FaultPolicy>().map(|p| p.to_string()), Ok(name.to_owned()));
        }
        assert!("restart".parse::<FaultPolicy>().unwrap_err().to_string().contains("stop, isolate, reset"));
    }

    #[test]
    fn all_ones_has_the_access_size() {
        assert_eq!([1, 2, 4, 8].map(all_ones), [0xff, 0xffff, 0xffff_ffff, u64::MAX]);
    }
}
