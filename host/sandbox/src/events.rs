//! The device timer queue: timers devices armed through the `clock`
//! import, ordered by deadline. The machine fires them against its clock;
//! the fuzzer against its own virtual time.

use std::collections::{BTreeMap, HashMap};

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
}
