//! Running a machine: the batch loop over the harts, idle skipping, the
//! stop conditions, machine reset and image placement. The harts' memory
//! accesses are in `access.rs`, device effects in `effects.rs`.

use std::time::Duration;

use wemu_cpu::{AccessInfo, Halt, Memory, RunExit};

use super::{Machine, Platform, StopRequest};
use crate::bus::Backing;
use crate::image::{Image, PlaceError};
use wemu_sandbox::device::{DeviceFault, PowerRequest};

/// Instructions a hart runs between looks at input, timers and pins.
const BATCH: u64 = 10_000;

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
    Reset(#[from] PlaceError),
    #[error(
        "every hart waits for an interrupt (wfi at pc {}) that nothing can raise: \
         no timer is armed and no input can arrive{}",
        pcs.iter().map(|pc| format!("{pc:#x}")).collect::<Vec<_>>().join(", "),
        if *refused > 0 { format!(" ({refused} input byte(s) wait that the device does not take)") } else { String::new() }
    )]
    Deadlock { pcs: Vec<u64>, refused: usize },
}

impl Platform {
    /// Copy an image's segments into RAM/ROM; every byte must land in memory.
    pub(crate) fn place(&mut self, image: &Image) -> Result<(), PlaceError> {
        for seg in &image.segments {
            let (m, off) = self
                .bus
                .find_range(seg.addr, seg.mem_size)
                .ok_or(PlaceError::Outside { start: seg.addr, end: seg.addr.saturating_add(seg.mem_size) })?;
            let Backing::Memory(i) = m.backing else {
                return Err(PlaceError::OnDevice { addr: seg.addr, region: m.name.clone() });
            };
            let ram = &self.rams[i];
            let off = off as usize;
            ram.write(off, &seg.data);
            ram.write_zeros(off + seg.data.len(), (seg.mem_size as usize).saturating_sub(seg.data.len()));
        }
        Ok(())
    }
}

/// `Hart::run`, one `step` at a time, logging each instruction as
/// `pc: raw  disassembly` (QEMU's `-d in_asm`, per executed instruction).
fn run_traced(hart: &mut wemu_cpu::Hart, mem: &mut Platform, budget: u64) -> RunExit {
    for _ in 0..budget {
        let pc = hart.pc;
        let at = AccessInfo { hart: hart.hart_id as u32, pc };
        let raw = match mem.fetch(at, pc, 2) {
            Ok(lo) if lo & 3 == 3 => mem.fetch(at, pc.wrapping_add(2), 2).map(|hi| lo | (hi << 16)).ok(),
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
            // Faults met between accesses (timers, input, held IRQ levels)
            // are reported with the pc of the hart that ran last.
            self.platform.guest_pc = self.harts.get(self.current).map(|h| h.pc);
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
                self.platform.yield_now = false;
                let hart = &mut self.harts[i];
                let jit = self.jits.get_mut(i).and_then(Option::as_mut);
                if several {
                    // Another hart ran since this one's LR: its reservation
                    // may be stale, so SC fails and the guest retries
                    // (allowed by the A extension; LR/SC loops are short).
                    hart.clear_reservation();
                }
                hart.set_time(now / timebase_div);
                let before = hart.instret();
                let exit = match jit {
                    _ if self.platform.trace_insns => run_traced(hart, &mut self.platform, budget),
                    Some(jit) => hart.run_jit(&mut self.platform, budget, jit),
                    None => hart.run(&mut self.platform, budget),
                };
                // From here to the next hart's run, faults (in idle, say)
                // happen where this hart is (when it stopped at an
                // instruction, that is the pc of the access).
                self.platform.guest_pc = Some(self.harts[i].pc);
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
                h.set_irq_pin(pin, level);
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

    /// Hart `i` stopped at an instruction that did not complete: a fault
    /// under the `stop` policy or a power request ended it, or the guest
    /// cannot go on.
    fn finish_halted(&mut self, i: usize, halt: Halt) -> Result<Option<Exit>, RunError> {
        let power_reset = self.platform.stop.is_some();
        if let Some(exit) = self.take_stop()? {
            return Ok(Some(exit));
        }
        if power_reset {
            // The machine was reset: the harts start over.
            return Ok(None);
        }
        Err(RunError::Guest { hart: i, halt })
    }

    /// A fault under `stop`, reported with the pc of the access that met
    /// it (its access record), else that of the hart that ran last.
    fn device_error(&self, fault: DeviceFault) -> RunError {
        RunError::Device { fault, pc: self.platform.guest_pc }
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
        for r in &self.platform.rams {
            if !r.read_only() {
                r.clear();
            }
        }
        let boot = match &self.boot {
            Some(boot) => {
                let boot = boot.clone();
                for (_, img) in &boot.images {
                    self.platform.place(img)?;
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
