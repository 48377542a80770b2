//! Device effects: routing the IRQ changes, timer requests and power
//! requests a device queued (through the storm guard, down interrupt
//! chains), timers firing, and input delivery.

use super::storm::Admit;
use super::{Incident, Platform, StopRequest};
use crate::irq::{Delivery, Sink};
use wemu_sandbox::device::limits::TIMER_REFIRES;
use wemu_sandbox::device::{DeviceFault, Effects, FaultKind, TimerOp};

/// Longest chain of device-to-device IRQ deliveries (A's line changes B's
/// input, whose output changes C's…) before it counts as a loop.
const MAX_IRQ_HOPS: usize = 64;

impl Platform {
    /// Route the IRQ changes, timer requests and power requests a device
    /// queued. Faults along the way are handled by the devices' policies.
    pub(crate) fn apply_effects(&mut self, device: usize) {
        let effects = self.slots[device].dev.take_effects();
        self.route(device, effects, false);
    }

    /// Apply `effects` of device `first`, then those of every device they
    /// reach through IRQ inputs, one call at a time. Line changes pass the
    /// storm guard, unless `released` (held levels of `first`, delivered at
    /// a batch boundary). A chain of more than `MAX_IRQ_HOPS`
    /// device-to-device deliveries is a contract fault of the device that
    /// would extend it (a loop between devices).
    pub(crate) fn route(&mut self, first: usize, effects: Effects, released: bool) {
        let mut work = vec![(first, 0usize, Some(effects))];
        while let Some((device, depth, effects)) = work.pop() {
            let effects = match effects {
                Some(e) => e,
                None if self.is_isolated(device) => continue,
                None => self.slots[device].dev.take_effects(),
            };
            // A new deadline may fall inside the current batch: end it so
            // the budget is recomputed.
            self.yield_now |= !effects.timer_ops.is_empty();
            for op in effects.timer_ops {
                match op {
                    TimerOp::Set { id, deadline_ns } => self.events.set(device, id, deadline_ns),
                    TimerOp::Cancel { id } => self.events.cancel(device, id),
                }
            }
            if let Some(p) = effects.power
                && !self.stopping()
            {
                self.stop.get_or_insert(StopRequest::Power(p));
            }
            let now = self.now_ns;
            for (line, level) in effects.irq_changes {
                if self.trace_irq {
                    self.trace_line(device, line, level);
                }
                // Held back by the storm guard (unless being released).
                let bypass = released && depth == 0;
                if !(bypass || self.admit(device, line, level)) {
                    continue;
                }
                match self.irq.set(device, line, level) {
                    None => {}
                    Some(Delivery::Hart { hart, pin, level }) => self.pin_changes.push((hart, pin, level)),
                    Some(Delivery::Device { device: target, line, level }) => {
                        if self.is_isolated(target) {
                            continue;
                        }
                        if depth >= MAX_IRQ_HOPS {
                            let slot = &self.slots[device];
                            let fault = DeviceFault {
                                device: slot.spec.name.clone(),
                                component: slot.spec.component.clone(),
                                op: format!("irq.set({line}, {level})"),
                                kind: FaultKind::Contract(format!(
                                    "IRQ storm: a chain of more than {MAX_IRQ_HOPS} device-to-device interrupt deliveries (a loop?)"
                                )),
                            };
                            self.on_fault(device, fault);
                            break;
                        }
                        match self.slots[target].dev.irq_input(now, line, level) {
                            Ok(()) => work.push((target, depth + 1, None)),
                            Err(f) => {
                                self.on_fault(target, f);
                                // Wired to itself: the rest of these changes
                                // came from the instance that just failed.
                                if target == device {
                                    break;
                                }
                            }
                        }
                    }
                }
                if self.stopping() {
                    break;
                }
            }
            if self.stopping() {
                return;
            }
        }
    }

    /// Pass one line change through the storm guard; false: held back.
    fn admit(&mut self, device: usize, line: u32, level: bool) -> bool {
        if self.irq.sink_of(device, line).is_none() {
            // Not wired: the router keeps no level, so nothing to count and
            // nothing a storm could cost.
            return true;
        }
        let current = self.irq.source_level(device, line);
        match self.storm.admit(device, line, level, current, self.now_ns) {
            Admit::Deliver => true,
            Admit::Defer { first_storm } => {
                if first_storm {
                    let spec = &self.slots[device].spec;
                    let storm = Incident::IrqStorm {
                        device: spec.name.clone(),
                        component: spec.component.clone(),
                        line,
                        at_ns: self.now_ns,
                        pc: self.guest_pc,
                    };
                    self.record(storm);
                }
                false
            }
        }
    }

    /// Deliver the levels the storm guard held back (a batch boundary).
    pub(crate) fn release_held_irqs(&mut self) {
        for (device, line, level) in self.storm.take_deferred() {
            if self.is_isolated(device) {
                continue;
            }
            self.route(device, Effects { irq_changes: vec![(line, level)], ..Effects::default() }, true);
            if self.stopping() {
                return;
            }
        }
    }

    /// `--trace irq`: one line per level a device drives, with where the
    /// line goes (the sink may not change if another source holds it).
    fn trace_line(&self, device: usize, line: u32, level: bool) {
        let to = match self.irq.sink_of(device, line) {
            Some(Sink::Hart { hart, pin }) => format!("hart{hart}.{}", pin.name()),
            Some(Sink::Device { device: d, line: input }) => format!("{}.{input}", self.slots[*d].spec.name),
            Some(Sink::Unconnected { label }) => format!("unconnected ({label})"),
            None => "unconnected".to_owned(),
        };
        tracing::info!(target: "wemu::irq", "{} line {line} -> {to}: {}", self.slots[device].spec.name, u8::from(level));
    }

    /// Fire the device timers due at `now`, in deadline order. A timer
    /// re-armed at or before `now` fires again at once; a device whose
    /// timers fire more than its armed-timer limit plus `TIMER_REFIRES`
    /// times at one instant keeps virtual time from moving on, so it is a
    /// hang fault, handled by its policy.
    pub(crate) fn fire_timers(&mut self, now: u64) {
        while let Some((dev, id)) = self.events.pop_due(now) {
            if self.is_isolated(dev) {
                continue;
            }
            let fired = match self.timer_fires.get_mut(dev) {
                Some(at) if at.0 == now => {
                    at.1 = at.1.saturating_add(1);
                    at.1
                }
                Some(at) => {
                    *at = (now, 1);
                    1
                }
                None => 1,
            };
            let allowed = self.slots[dev].dev.imports().limits.timers.saturating_add(TIMER_REFIRES);
            if fired > allowed {
                let slot = &self.slots[dev];
                let fault = DeviceFault {
                    device: slot.spec.name.clone(),
                    component: slot.spec.component.clone(),
                    op: format!("timer-fired({id})"),
                    kind: FaultKind::Hang(format!(
                        "its timers fired {allowed} times at virtual time {now} ns without time moving on \
                         (a timer re-armed at or before the current time from timer-fired?)"
                    )),
                };
                self.on_fault(dev, fault);
            } else {
                match self.slots[dev].dev.timer_fired(now, id) {
                    Ok(()) => self.apply_effects(dev),
                    Err(f) => self.on_fault(dev, f),
                }
            }
            if self.stopping() {
                return;
            }
        }
    }

    /// Offer waiting input bytes to their devices; whether any device took
    /// any.
    pub(crate) fn deliver_input(&mut self) -> bool {
        let mut took = false;
        for i in 0..self.inputs.len() {
            let (device, port) = (self.inputs[i].device, self.inputs[i].port);
            if self.is_isolated(device) {
                continue;
            }
            let pending = self.inputs[i].input.pending();
            if pending.is_empty() {
                continue;
            }
            let chunk = pending[..pending.len().min(4096)].to_vec();
            let now = self.now_ns;
            match self.slots[device].dev.char_input(now, port, &chunk) {
                Ok(taken) => {
                    took |= taken > 0;
                    self.inputs[i].input.consume(taken);
                    self.apply_effects(device);
                }
                Err(f) => self.on_fault(device, f),
            }
            if self.stopping() {
                break;
            }
        }
        took
    }

    /// Could more input still arrive from a backend (a device may take
    /// it)? Bytes waiting that the device refused do not count: only the
    /// guest can make room for them, and an idle guest will not.
    pub(crate) fn input_live(&self) -> bool {
        self.inputs.iter().any(|b| b.input.open())
    }
}
