//! Running a machine: the hart's memory accesses (`wemu_cpu::Memory`),
//! device effects (IRQs, timers, power), input delivery, idle skipping and
//! the stop conditions.

use std::time::Duration;

use wemu_cpu::{Halt, MemError, Memory, RunExit};

use super::fault::{Completion, Incident, all_ones};
use super::storm::Admit;
use super::{Machine, Platform};
use crate::bus::Target;
use crate::image::Image;
use crate::irq::{Delivery, Sink};
use wemu_sandbox::device::limits::TIMER_REFIRES;
use wemu_sandbox::device::{DeviceFault, Effects, FaultKind, PowerRequest, TimerOp};

/// Instructions a hart runs between looks at input, timers and pins.
const BATCH: u64 = 10_000;
/// Longest chain of device-to-device IRQ deliveries (A's line changes B's
/// input, whose output changes C's…) before it counts as a loop.
const MAX_IRQ_HOPS: usize = 64;

/// Why the machine stopped on its own (as opposed to a `RunError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A device powered the machine off with this status.
    Poweroff(u32),
    /// `run` was given an instruction limit and reached it.
    InstructionLimit,
}

/// Why the machine cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{fault}{}", pc.map(|pc| format!(" (guest pc {pc:#x})")).unwrap_or_default())]
    Device { fault: DeviceFault, pc: Option<u64> },
    #[error("guest stopped on hart {hart}: {halt}")]
    Guest { hart: usize, halt: Halt },
    #[error(transparent)]
    Htif(#[from] crate::htif::HtifError),
    #[error("machine reset failed: {0}")]
    Reset(String),
    #[error(
        "every hart waits for an interrupt (wfi at pc {}) that nothing can raise: \
         no timer is armed and no input can arrive{}",
        pcs.iter().map(|pc| format!("{pc:#x}")).collect::<Vec<_>>().join(", "),
        if *refused > 0 { format!(" ({refused} input byte(s) wait that the device does not take)") } else { String::new() }
    )]
    Deadlock { pcs: Vec<u64>, refused: usize },
}

/// Something a device asked for that ends the current batch.
#[derive(Debug)]
pub(crate) enum StopRequest {
    Power(PowerRequest),
    Fault(DeviceFault),
}

impl Platform {
    fn mmio_read(&mut self, device: usize, region: u32, off: u64, size: u8) -> Result<u64, MemError> {
        if let Some(r) = self.completed(device, false, region, off, size) {
            return r;
        }
        if self.is_isolated(device) {
            if self.trace_mmio {
                tracing::info!(target: "wemu::mmio", "{} read  region {region} off {off:#x} size {size} -> isolated", self.slots[device].spec.name);
            }
            return Ok(all_ones(size));
        }
        let now = self.now_ns;
        let slot = &mut self.slots[device];
        let res = slot.dev.read(now, region, off, size);
        if self.trace_mmio {
            let shown = match &res {
                Ok(Ok(v)) => format!("{v:#x}"),
                Ok(Err(e)) => format!("refused ({e:?})"),
                Err(_) => "device fault".to_owned(),
            };
            tracing::info!(target: "wemu::mmio", "{} read  region {region} off {off:#x} size {size} -> {shown}", slot.spec.name);
        }
        let access =
            Completion { device, write: false, region, offset: off, size, result: Ok(all_ones(size)) };
        match res {
            Ok(Ok(v)) => self.after_access(Completion { result: Ok(v), ..access }),
            Ok(Err(_)) => self.after_access(Completion { result: Err(MemError::AccessFault), ..access }),
            Err(f) => {
                self.on_fault(device, f);
                self.cut_short(access)
            }
        }
    }

    fn mmio_write(
        &mut self,
        device: usize,
        region: u32,
        off: u64,
        size: u8,
        value: u64,
    ) -> Result<(), MemError> {
        if let Some(r) = self.completed(device, true, region, off, size) {
            return r.map(drop);
        }
        if self.is_isolated(device) {
            if self.trace_mmio {
                tracing::info!(target: "wemu::mmio", "{} write region {region} off {off:#x} size {size} value {value:#x} -> isolated", self.slots[device].spec.name);
            }
            return Ok(());
        }
        let now = self.now_ns;
        let slot = &mut self.slots[device];
        let res = slot.dev.write(now, region, off, size, value);
        if self.trace_mmio {
            let shown = match &res {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(e)) => format!("refused ({e:?})"),
                Err(_) => "device fault".to_owned(),
            };
            tracing::info!(target: "wemu::mmio", "{} write region {region} off {off:#x} size {size} value {value:#x} -> {shown}", slot.spec.name);
        }
        // A write that faulted is dropped.
        let access = Completion { device, write: true, region, offset: off, size, result: Ok(0) };
        match res {
            Ok(Ok(())) => self.after_access(access).map(drop),
            Ok(Err(_)) => {
                self.after_access(Completion { result: Err(MemError::AccessFault), ..access }).map(drop)
            }
            Err(f) => {
                self.on_fault(device, f);
                self.cut_short(access).map(drop)
            }
        }
    }

    /// Apply a device's effects after an access that returned `access.result`.
    /// A power request, or a fault anywhere in the cascade, ends the batch.
    fn after_access(&mut self, access: Completion) -> Result<u64, MemError> {
        let before = self.unreported.len();
        self.apply_effects(access.device);
        if self.stop.is_some() || self.unreported.len() > before {
            return self.cut_short(access);
        }
        access.result
    }

    /// End the batch at this access: the hart stops at the instruction
    /// (so the machine knows its pc), and the instruction is then run again
    /// with this access completing as `access.result` — the device is not
    /// called twice (see `Machine::finish_halted`).
    fn cut_short(&mut self, access: Completion) -> Result<u64, MemError> {
        self.completion.get_or_insert(access);
        Err(MemError::Stop)
    }

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
            self.timers_changed |= !effects.timer_ops.is_empty();
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
                    self.unreported.push(Incident::IrqStorm {
                        device: spec.name.clone(),
                        component: spec.component.clone(),
                        line,
                        at_ns: self.now_ns,
                        pc: None,
                    });
                }
                false
            }
        }
    }

    /// Deliver the levels the storm guard held back (a batch boundary).
    fn release_held_irqs(&mut self) {
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
            let allowed = self.slots[dev].dev.state().limits.timers.saturating_add(TIMER_REFIRES);
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

    /// Copy an image's segments into RAM/ROM; every byte must land in memory.
    pub(crate) fn place(&mut self, image: &Image) -> Result<(), String> {
        for seg in &image.segments {
            let (m, off) = self.bus.find_range(seg.addr, seg.mem_size).ok_or_else(|| {
                format!(
                    "segment [{:#x}..{:#x}) is not inside one memory region of this machine",
                    seg.addr,
                    seg.addr.saturating_add(seg.mem_size)
                )
            })?;
            let Target::Memory(i) = m.target else {
                return Err(format!(
                    "segment at {:#x} falls on device region '{}', not memory",
                    seg.addr, m.name
                ));
            };
            let ram = &self.rams[i];
            let off = off as usize;
            ram.write(off, &seg.data);
            ram.write_zeros(off + seg.data.len(), (seg.mem_size as usize).saturating_sub(seg.data.len()));
        }
        Ok(())
    }
}

impl Platform {
    /// A load the fast path missed: through the address map.
    #[inline(never)]
    fn load_slow(&mut self, addr: u64, size: u8) -> Result<u64, MemError> {
        let Some((m, off)) = self.bus.find_range(addr, u64::from(size)) else {
            return Err(MemError::AccessFault);
        };
        match m.target {
            Target::Memory(i) => {
                self.last_ram.show(&self.rams[i]);
                self.rams[i].load(off as usize, size).ok_or(MemError::AccessFault)
            }
            Target::Mmio { device, region } => self.mmio_read(device, region, off, size),
        }
    }

    /// A store the fast path missed: through the address map.
    #[inline(never)]
    fn store_slow(&mut self, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        let Some((m, off)) = self.bus.find_range(addr, u64::from(size)) else {
            return Err(MemError::AccessFault);
        };
        match m.target {
            Target::Memory(i) => {
                self.last_ram.show(&self.rams[i]);
                let ram = &self.rams[i];
                if ram.read_only() || !ram.store(off as usize, size, value) {
                    return Err(MemError::AccessFault);
                }
                Ok(())
            }
            Target::Mmio { device, region } => self.mmio_write(device, region, off, size, value),
        }
    }
}

impl Memory for Platform {
    // Loads and stores: the RAM fast path inline, the rest out of line so
    // `Hart::run`'s loop stays small. The fast path is the block the
    // previous access hit; each block covers exactly its bus mapping, so
    // the answer is the one the address map would give.
    #[inline]
    fn load(&mut self, addr: u64, size: u8) -> Result<u64, MemError> {
        match self.last_ram.load(addr, size) {
            Some(v) => Ok(v),
            None => self.load_slow(addr, size),
        }
    }

    #[inline]
    fn store(&mut self, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        match self.last_ram.store(addr, size, value) {
            Some(true) => Ok(()),
            Some(false) => Err(MemError::AccessFault),
            None => self.store_slow(addr, size, value),
        }
    }

    #[inline]
    fn yield_requested(&mut self) -> bool {
        !self.pin_changes.is_empty() || self.timers_changed
    }

    #[inline]
    fn fetch(&mut self, addr: u64, size: u8) -> Result<u64, MemError> {
        // Code runs from memory only, never from device registers.
        match self.bus.find_range(addr, u64::from(size)) {
            Some((m, off)) => match m.target {
                Target::Memory(i) => self.rams[i].load(off as usize, size).ok_or(MemError::AccessFault),
                Target::Mmio { .. } => Err(MemError::AccessFault),
            },
            None => Err(MemError::AccessFault),
        }
    }
}

/// `Hart::run`, one `step` at a time, logging each instruction as
/// `pc: raw  disassembly` (QEMU's `-d in_asm`, per executed instruction).
fn run_traced(hart: &mut wemu_cpu::Hart, mem: &mut Platform, budget: u64) -> RunExit {
    for _ in 0..budget {
        let pc = hart.pc;
        let raw = match mem.fetch(pc, 2) {
            Ok(lo) if lo & 3 == 3 => mem.fetch(pc.wrapping_add(2), 2).map(|hi| lo | (hi << 16)).ok(),
            Ok(lo) => Some(lo),
            Err(_) => None,
        };
        match raw {
            Some(raw) => tracing::info!(
                target: "wemu::insn",
                "{pc:#018x}: {raw:08x}  {}",
                wemu_cpu::disassemble_at(raw as u32, pc)
            ),
            None => tracing::info!(target: "wemu::insn", "{pc:#018x}: <fetch fault>"),
        }
        match hart.step(mem) {
            Ok(wemu_cpu::StepEvent::Wfi) => return RunExit::Wfi,
            Ok(wemu_cpu::StepEvent::Trap(t)) => tracing::info!(target: "wemu::insn", "trap: {t:?}"),
            Ok(wemu_cpu::StepEvent::Retired) => {}
            Err(h) => return RunExit::Halt(h),
        }
        if mem.yield_requested() {
            return RunExit::Yield;
        }
    }
    RunExit::Budget
}

impl Machine {
    /// Run until the guest powers off, something fails, or (if given)
    /// `max_insns` instructions retire.
    pub fn run(&mut self, max_insns: Option<u64>) -> Result<Exit, RunError> {
        let timebase_div = (1_000_000_000 / self.spec.timebase_frequency.max(1)).max(1);
        loop {
            // Faults met outside a hart's run (e.g. a library caller poking
            // the bus) have no instruction to complete.
            self.platform.completion = None;
            self.flush_incidents();
            if let Some(exit) = self.take_stop()? {
                return Ok(exit);
            }
            let retired: u64 = self.harts.iter().map(|h| h.instret()).sum();
            if max_insns.is_some_and(|m| retired >= m) {
                return Ok(Exit::InstructionLimit);
            }
            let now = self.platform.clock.now();
            self.platform.now_ns = now;

            // Timers due now, then input, then held IRQ levels, then the
            // pins they changed.
            self.platform.fire_timers(now);
            if !self.platform.stopping() {
                self.platform.deliver_input();
            }
            if !self.platform.stopping() {
                self.platform.release_held_irqs();
            }
            self.flush_incidents();
            self.apply_pins();
            if let Some(exit) = self.take_stop()? {
                return Ok(exit);
            }

            let mut budget = BATCH;
            if let Some(deadline) = self.next_deadline(timebase_div) {
                budget = budget.min(deadline.saturating_sub(now).div_ceil(crate::clock::NS_PER_INSN).max(1));
            }
            if let Some(m) = max_insns {
                budget = budget.min(m - retired);
            }

            // One round: every hart runs up to `budget` instructions, in
            // hart order (deterministic). The harts run "in parallel", so
            // virtual time advances by the longest run of the round.
            let mut longest = 0;
            let several = self.harts.len() > 1;
            for i in 0..self.harts.len() {
                self.current = i;
                self.platform.timers_changed = false;
                let hart = &mut self.harts[i];
                if several {
                    // Another hart ran since this one's LR: its reservation
                    // may be stale, so SC fails and the guest retries
                    // (allowed by the A extension; LR/SC loops are short).
                    hart.clear_reservation();
                }
                hart.set_time(now / timebase_div);
                let before = hart.instret();
                let exit = if self.platform.trace_insns {
                    run_traced(hart, &mut self.platform, budget)
                } else {
                    hart.run(&mut self.platform, budget)
                };
                if let RunExit::Halt(h) = exit
                    && let Some(exit) = self.finish_halted(i, h)?
                {
                    return Ok(exit);
                }
                // (After a machine reset the hart is new: its count restarts.)
                longest = longest.max(self.harts[i].instret().saturating_sub(before));
                if let Some(exit) = self.take_stop()? {
                    return Ok(exit);
                }
                // A device changed a pin mid-batch (Yield): apply it before
                // the next hart runs.
                self.apply_pins();
            }
            self.platform.clock.advance_insns(longest);
            if self.harts.iter().all(|h| h.is_waiting()) {
                self.idle(timebase_div)?;
            }
            if let Some(htif) = &mut self.htif {
                match htif.poll(&mut self.platform) {
                    Ok(None) => {}
                    Ok(Some(crate::htif::HtifAction::Exit(code))) => return Ok(Exit::Poweroff(code)),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    fn apply_pins(&mut self) {
        for (hart, pin, level) in self.platform.pin_changes.drain(..) {
            if let Some(h) = self.harts.get_mut(hart) {
                h.set_irq_pin(pin.cpu_pin(), level);
            }
        }
    }

    /// Every hart waits: jump to the next timer, or wait for input.
    /// The next virtual time something is scheduled: a device timer, or a
    /// hart's Sstc timer (stimecmp, in ticks of `timebase_div` ns).
    fn next_deadline(&self, timebase_div: u64) -> Option<u64> {
        let harts =
            self.harts.iter().filter_map(|h| h.timer_deadline()).map(|t| t.saturating_mul(timebase_div));
        self.platform.events.next_deadline().into_iter().chain(harts).min()
    }

    fn idle(&mut self, timebase_div: u64) -> Result<(), RunError> {
        if let Some(deadline) = self.next_deadline(timebase_div) {
            if self.platform.clock.is_virtual() {
                self.platform.clock.skip_to(deadline);
            } else {
                // Real time: sleep until the deadline, but wake for input.
                let wait = deadline.saturating_sub(self.platform.clock.now()).min(50_000_000);
                self.wait_input(Duration::from_nanos(wait));
            }
            return Ok(());
        }
        // Bytes that arrived while the harts ran, or that the device can
        // take now that the guest read the ones before: offer them once
        // more before deciding anything.
        if self.platform.deliver_input()
            || self.platform.stop.is_some()
            || !self.platform.pin_changes.is_empty()
        {
            return Ok(());
        }
        if self.platform.input_live() {
            self.wait_input(Duration::from_millis(50));
            return Ok(());
        }
        let refused = self.platform.inputs.iter_mut().map(|b| b.input.pending().len()).sum();
        Err(RunError::Deadlock { pcs: self.harts.iter().map(|h| h.pc).collect(), refused })
    }

    fn wait_input(&mut self, timeout: Duration) {
        match self.platform.inputs.iter_mut().find(|b| b.input.open()) {
            Some(b) => b.input.wait(timeout),
            None => std::thread::sleep(timeout),
        }
    }

    /// Hart `i` stopped at an instruction: a power request or a fault
    /// ended its batch, or the guest cannot go on. A fault the machine
    /// survived is reported with this pc, and the instruction runs again
    /// with the access that was cut short completing as recorded; other
    /// accesses it makes go to the devices as usual (an AMO's load before
    /// a store that faulted runs twice).
    fn finish_halted(&mut self, i: usize, mut halt: Halt) -> Result<Option<Exit>, RunError> {
        // Each round needs a new fault, and faults isolate or use up
        // resets; the bound only keeps a surprise from spinning.
        for _ in 0..16 {
            self.flush_incidents();
            let power_reset = self.platform.stop.is_some();
            if let Some(exit) = self.take_stop()? {
                return Ok(Some(exit));
            }
            if power_reset {
                // The machine was reset: the harts start over.
                return Ok(None);
            }
            let Some(c) = self.platform.completion.take() else { break };
            self.platform.completing = Some(c);
            let stepped = self.harts[i].step(&mut self.platform);
            self.platform.completing = None;
            match stepped {
                Ok(_) => {
                    self.flush_incidents();
                    return Ok(None);
                }
                Err(h) => halt = h,
            }
        }
        Err(RunError::Guest { hart: i, halt })
    }

    fn device_error(&self, fault: DeviceFault) -> RunError {
        RunError::Device { fault, pc: self.harts.get(self.current).map(|h| h.pc) }
    }

    /// Act on a pending stop request: power off, reset, or fault.
    fn take_stop(&mut self) -> Result<Option<Exit>, RunError> {
        match self.platform.stop.take() {
            None => Ok(None),
            Some(StopRequest::Power(PowerRequest::Poweroff(code))) => Ok(Some(Exit::Poweroff(code))),
            Some(StopRequest::Power(PowerRequest::Reset)) => {
                self.reset()?;
                Ok(None)
            }
            Some(StopRequest::Fault(fault)) => Err(self.device_error(fault)),
        }
    }

    /// Machine reset: devices to power-on state, RAM cleared, image
    /// reloaded, harts at the entry point.
    pub fn reset(&mut self) -> Result<(), RunError> {
        tracing::info!(target: "wemu::machine::run", "machine reset");
        let now = self.platform.now_ns;
        // Every line low and no timer armed; what the devices do in `reset`
        // (lines raised in their power-on state, like the CLINT's MTIP,
        // timers armed) takes effect from there. Lowering a line that is
        // already low changes nothing. Isolated devices stay isolated.
        self.platform.irq.clear();
        self.platform.events.clear();
        self.platform.pin_changes.clear();
        self.platform.storm.clear();
        for i in 0..self.platform.slots.len() {
            if self.platform.is_isolated(i) {
                continue;
            }
            match self.platform.slots[i].dev.reset(now) {
                Ok(()) => self.platform.apply_effects(i),
                Err(f) => self.platform.on_fault(i, f),
            }
            if self.platform.stopping()
                && let Some(StopRequest::Fault(f)) = self.platform.stop.take()
            {
                return Err(self.device_error(f));
            }
        }
        self.platform.completion = None;
        for r in &self.platform.rams {
            if !r.read_only() {
                r.clear();
            }
        }
        let boot = match &self.boot {
            Some(boot) => {
                let boot = boot.clone();
                for (_, img) in &boot.images {
                    self.platform.place(img).map_err(RunError::Reset)?;
                }
                boot
            }
            None => {
                let entry = self.platform.rams.first().map_or(0, |r| r.base());
                super::Boot { images: Vec::new(), entry, a1: 0, a2: 0 }
            }
        };
        // Time keeps running across a reset (it is not the guest's state).
        self.reset_harts(&boot);
        Ok(())
    }
}
