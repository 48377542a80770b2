//! Interrupt routing: each device output line is wired (by the machine
//! file) to a hart pin, to an input line of another device (an interrupt
//! controller), or to nothing. Several sources on one sink are wired-OR.

use std::collections::{BTreeMap, BTreeSet};

pub use wemu_cpu::IrqPin;

/// Where a line goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sink {
    Hart {
        hart: usize,
        pin: IrqPin,
    },
    Device {
        device: usize,
        line: u32,
    },
    /// Not connected; `label` says what it would be (e.g. "irq 10").
    Unconnected {
        label: String,
    },
}

/// A change the machine must deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Hart { hart: usize, pin: IrqPin, level: bool },
    Device { device: usize, line: u32, level: bool },
}

/// The wiring and the current level of every sink.
#[derive(Debug, Default)]
pub struct IrqRouter {
    routes: BTreeMap<(usize, u32), Sink>,
    asserted: BTreeMap<Sink, BTreeSet<(usize, u32)>>,
}

impl IrqRouter {
    /// Wire output `line` of `device` to `sink`.
    pub fn connect(&mut self, device: usize, line: u32, sink: Sink) {
        self.routes.insert((device, line), sink);
    }

    pub fn sink_of(&self, device: usize, line: u32) -> Option<&Sink> {
        self.routes.get(&(device, line))
    }

    /// Source line changed; returns the sink change to deliver, if the
    /// sink's (wired-OR) level changed.
    pub fn set(&mut self, device: usize, line: u32, level: bool) -> Option<Delivery> {
        let sink = self.routes.get(&(device, line))?.clone();
        let set = self.asserted.entry(sink.clone()).or_default();
        let before = !set.is_empty();
        if level {
            set.insert((device, line));
        } else {
            set.remove(&(device, line));
        }
        let after = !set.is_empty();
        if before == after {
            return None;
        }
        tracing::trace!(target: "wemu::irq", "{sink:?} -> {after}");
        match sink {
            Sink::Hart { hart, pin } => Some(Delivery::Hart { hart, pin, level: after }),
            Sink::Device { device, line } => Some(Delivery::Device { device, line, level: after }),
            Sink::Unconnected { .. } => None,
        }
    }

    /// Current level of source line `line` of `device` (low if unwired).
    pub fn source_level(&self, device: usize, line: u32) -> bool {
        self.routes
            .get(&(device, line))
            .and_then(|sink| self.asserted.get(sink))
            .is_some_and(|set| set.contains(&(device, line)))
    }

    /// Current level of a sink.
    #[cfg(test)]
    pub fn level(&self, sink: &Sink) -> bool {
        self.asserted.get(sink).is_some_and(|s| !s.is_empty())
    }

    /// Forget all levels (machine reset).
    pub fn clear(&mut self) {
        self.asserted.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hart_pins_parse_including_seip() {
        let pins = [("meip", IrqPin::MachineExternal), ("mtip", IrqPin::MachineTimer)];
        for (name, pin) in pins.into_iter().chain([("msip", IrqPin::MachineSoftware)]) {
            assert_eq!(IrqPin::parse(name), Some(pin));
        }
        assert_eq!(IrqPin::parse("seip"), Some(IrqPin::SupervisorExternal));
        assert_eq!(IrqPin::parse("stip"), None, "STIP has no pin: Sstc or software drive it");
    }

    #[test]
    fn hart_pin_names_round_trip_in_sink_order() {
        let names = ["meip", "mtip", "msip", "seip"];
        let pins: Vec<IrqPin> = names.iter().filter_map(|n| IrqPin::parse(n)).collect();
        assert_eq!(pins.iter().map(|p| p.name()).collect::<Vec<_>>(), names);
        assert!(pins.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn wired_or_delivers_only_edges_of_the_combined_level() {
        let mut r = IrqRouter::default();
        let pin = Sink::Hart { hart: 0, pin: IrqPin::MachineExternal };
        r.connect(1, 0, pin.clone());
        r.connect(2, 0, pin.clone());
        assert_eq!(
            r.set(1, 0, true),
            Some(Delivery::Hart { hart: 0, pin: IrqPin::MachineExternal, level: true })
        );
        assert_eq!(r.set(2, 0, true), None, "already high");
        assert_eq!(r.set(1, 0, false), None, "still held by device 2");
        assert!(r.source_level(2, 0) && !r.source_level(1, 0));
        assert_eq!(
            r.set(2, 0, false),
            Some(Delivery::Hart { hart: 0, pin: IrqPin::MachineExternal, level: false })
        );
        assert!(!r.level(&pin));
        assert!(!r.source_level(2, 0) && !r.source_level(7, 0), "low, and unwired");
    }

    #[test]
    fn device_inputs_and_unconnected_lines() {
        let mut r = IrqRouter::default();
        r.connect(0, 0, Sink::Device { device: 3, line: 10 });
        r.connect(0, 1, Sink::Unconnected { label: "irq 11".into() });
        assert_eq!(r.set(0, 0, true), Some(Delivery::Device { device: 3, line: 10, level: true }));
        assert_eq!(r.set(0, 1, true), None);
        assert!(r.level(&Sink::Unconnected { label: "irq 11".into() }));
        assert_eq!(r.set(9, 9, true), None, "unwired source");
    }
}
