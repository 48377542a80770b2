//! Virtual time and the device timer queue. Time is derived from retired
//! instructions (plus time skipped while every hart waits in `wfi`), so two
//! runs of the same guest see the same clock.

use std::collections::{BTreeMap, HashMap};

/// Virtual nanoseconds per retired instruction (a 1 GHz nominal hart).
pub const NS_PER_INSN: u64 = 1;

/// The machine's clock: virtual by default (advanced by the machine as
/// harts retire instructions, and skipped forward while every hart waits),
/// or the host's monotonic clock with `--clock realtime`.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    Virtual { elapsed_ns: u64 },
    Realtime { start: std::time::Instant },
}

impl Default for Clock {
    fn default() -> Self {
        Clock::Virtual { elapsed_ns: 0 }
    }
}

impl Clock {
    /// A clock following the host's time from now on.
    pub fn realtime() -> Self {
        Clock::Realtime { start: std::time::Instant::now() }
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// Current time in nanoseconds since machine start.
    pub fn now(&self) -> u64 {
        match self {
            Clock::Virtual { elapsed_ns } => *elapsed_ns,
            Clock::Realtime { start } => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Harts retired `insns` instructions in parallel (virtual clock only).
    pub fn advance_insns(&mut self, insns: u64) {
        if let Clock::Virtual { elapsed_ns } = self {
            *elapsed_ns = elapsed_ns.saturating_add(insns.saturating_mul(NS_PER_INSN));
        }
    }

    /// Idle skip: jump forward to `deadline` (virtual clock only; never back).
    pub fn skip_to(&mut self, deadline: u64) {
        if let Clock::Virtual { elapsed_ns } = self {
            *elapsed_ns = (*elapsed_ns).max(deadline);
        }
    }
}

/// Armed device timers, ordered by deadline (ties in arming order).
#[derive(Debug, Default)]
pub struct EventQueue {
    by_time: BTreeMap<(u64, u64), (usize, u32)>,
    by_timer: HashMap<(usize, u32), (u64, u64)>,
    seq: u64,
}

impl EventQueue {
    /// Arm (or re-arm) timer `id` of `device`.
    pub fn set(&mut self, device: usize, id: u32, deadline: u64) {
        self.cancel(device, id);
        self.seq += 1;
        self.by_time.insert((deadline, self.seq), (device, id));
        self.by_timer.insert((device, id), (deadline, self.seq));
    }

    pub fn cancel(&mut self, device: usize, id: u32) {
        if let Some(key) = self.by_timer.remove(&(device, id)) {
            self.by_time.remove(&key);
        }
    }

    /// Cancel every timer of `device` (it was isolated or replaced).
    pub fn cancel_device(&mut self, device: usize) {
        let ids: Vec<u32> = self.by_timer.keys().filter(|(d, _)| *d == device).map(|&(_, id)| id).collect();
        for id in ids {
            self.cancel(device, id);
        }
    }

    /// Earliest deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_time.keys().next().map(|(t, _)| *t)
    }

    /// Remove and return the earliest timer due at `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<(usize, u32)> {
        let (&(t, seq), &timer) = self.by_time.iter().next()?;
        if t > now {
            return None;
        }
        self.by_time.remove(&(t, seq));
        self.by_timer.remove(&timer);
        Some(timer)
    }

    pub fn clear(&mut self) {
        self.by_time.clear();
        self.by_timer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order_and_rearm_replaces() {
        let mut q = EventQueue::default();
        q.set(0, 1, 300);
        q.set(1, 1, 100);
        q.set(0, 2, 200);
        q.set(0, 1, 50); // re-arm replaces the 300
        assert_eq!(q.next_deadline(), Some(50));
        assert_eq!(q.pop_due(1000), Some((0, 1)));
        assert_eq!(q.pop_due(1000), Some((1, 1)));
        q.cancel(0, 2);
        assert_eq!(q.pop_due(1000), None);
    }

    #[test]
    fn cancelling_a_device_leaves_the_others() {
        let mut q = EventQueue::default();
        q.set(0, 1, 300);
        q.set(1, 1, 100);
        q.set(0, 2, 200);
        q.cancel_device(0);
        assert_eq!(q.pop_due(1000), Some((1, 1)));
        assert_eq!(q.pop_due(1000), None);
    }

    #[test]
    fn virtual_clock_follows_instructions_and_skips() {
        let mut c = Clock::default();
        c.advance_insns(500);
        assert_eq!(c.now(), 500 * NS_PER_INSN);
        c.skip_to(10_000);
        assert_eq!(c.now(), 10_000);
        c.skip_to(5);
        c.advance_insns(100);
        assert_eq!(c.now(), 10_000 + 100 * NS_PER_INSN, "never goes back");
    }

    #[test]
    fn realtime_clock_ignores_instruction_counts() {
        let mut c = Clock::realtime();
        c.advance_insns(1 << 40);
        c.skip_to(u64::MAX);
        assert!(c.now() < 60_000_000_000, "follows the host, not the guest");
        assert!(!c.is_virtual());
    }
}
