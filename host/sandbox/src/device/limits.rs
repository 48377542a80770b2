//! What one device instance may consume on the host, and the accounting
//! that holds it there. Every structure a device can grow through the
//! contract — its memories and tables, the timer queue, the queue of IRQ
//! changes, the log — has a bound here; docs/faults.md lists them with
//! their defaults and the machine-file keys that change them.

use wasmtime::ResourceLimiter;

/// Fuel for an ordinary call (MMIO, IRQ input, timer, input bytes). A
/// register access costs hundreds of units; this leaves room for real
/// work (e.g. a DMA descriptor walk) while catching an endless loop in
/// about 10–50 ms.
pub const DEFAULT_FUEL: u64 = 20_000_000;
/// Fuel for instantiation and `create`, which may build large state.
pub const SETUP_FUEL: u64 = 200_000_000;
/// Default memory limit of one instance: all its linear memories and
/// tables together.
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 << 20;
/// Host bytes one table element is counted as (a function reference is a
/// pointer).
pub const TABLE_ELEMENT_BYTES: u64 = 8;
/// Default number of timers one device may have armed at once.
pub const DEFAULT_MAX_TIMERS: u32 = 1024;
/// Timer firings at one instant of virtual time beyond the device's armed
/// timers (each fires once when due) before the device counts as hung: a
/// device that re-arms a timer at or before the current time from
/// `timer-fired` would otherwise spin the host forever.
pub const TIMER_REFIRES: u32 = 64;
/// Default IRQ line changes one call may queue.
pub const DEFAULT_MAX_IRQ_CHANGES: u32 = 1 << 20;
/// Default log records a device may print per second of virtual time;
/// further records in that second are counted and dropped.
pub const DEFAULT_LOG_LIMIT: u32 = 1000;
/// The window `log-limit` counts in: one second of virtual time.
pub const LOG_WINDOW_NS: u64 = 1_000_000_000;
/// Longest log message printed; the rest is cut (a device's panic message
/// with a backtrace fits easily).
pub const LOG_MESSAGE_MAX: usize = 4096;
/// Largest DMA or block transfer in one call (the contract's `too-large`
/// and `out-of-range` answers beyond it).
pub const DMA_MAX: u32 = 1 << 20;

/// The per-instance limits a machine file can change (`max-timers`,
/// `max-irq-changes`, `log-limit`); fuel and memory are passed separately
/// as they always were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Timers armed at once.
    pub timers: u32,
    /// IRQ line changes queued by one call.
    pub irq_changes: u32,
    /// Log records printed per second of virtual time.
    pub log_records: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timers: DEFAULT_MAX_TIMERS,
            irq_changes: DEFAULT_MAX_IRQ_CHANGES,
            log_records: DEFAULT_LOG_LIMIT,
        }
    }
}

/// Refuses growth of the instance's memories and tables past its limit,
/// counted over all of them together, and remembers that it did so the
/// trap is reported as what it is. wasmtime's `memory_growing` does not say
/// which memory grows, so the sum is kept from the deltas: a memory is
/// created with `current == 0`, and every later call grows one by
/// `desired - current`.
#[derive(Debug)]
pub struct MemoryLimiter {
    pub limit: u64,
    /// Bytes the host itself added to the instance and does not charge to
    /// the device (the fuzzer's coverage map); allowed on top of `limit`.
    pub exempt: u64,
    pub refused: bool,
    /// The sum the refused growth asked for (not counting `exempt`).
    pub wanted: u64,
    /// Bytes held now by all memories and tables.
    pub total: u64,
    /// `total` once instantiation finished (`wemu validate` reports it).
    pub initial: Option<u64>,
    /// The largest `total` reached.
    pub peak: u64,
}

impl MemoryLimiter {
    pub fn new(limit: u64) -> Self {
        MemoryLimiter { limit, exempt: 0, refused: false, wanted: 0, total: 0, initial: None, peak: 0 }
    }

    /// Account for a memory or table going from `current` to `desired`
    /// units of `unit` bytes; an error (a trap for the device) if the sum
    /// would pass the limit. Past its own declared maximum the growth
    /// fails anyway (the device sees -1): nothing to count.
    fn growing(
        &mut self,
        (current, desired, maximum): (usize, usize, Option<usize>),
        unit: u64,
        what: &str,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        let delta = (desired as u64).saturating_sub(current as u64).saturating_mul(unit);
        let what = if current == 0 { format!("a new {what}") } else { format!("growing a {what}") };
        self.grow(delta, &what)
    }

    fn grow(&mut self, delta: u64, what: &str) -> wasmtime::Result<bool> {
        let total = self.total.saturating_add(delta);
        if total > self.limit.saturating_add(self.exempt) {
            self.refused = true;
            self.wanted = total.saturating_sub(self.exempt);
            // Trap rather than let the device see a failed grow: a device
            // out of memory cannot recover meaningfully.
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded: {what} would bring its memories and tables to {} bytes",
                self.limit,
                total.saturating_sub(self.exempt)
            )));
        }
        self.total = total;
        self.peak = self.peak.max(total.saturating_sub(self.exempt));
        Ok(true)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.growing((current, desired, maximum), 1, "memory")
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.growing((current, desired, maximum), TABLE_ELEMENT_BYTES, "table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_and_tables_count_together() {
        let mut l = MemoryLimiter::new(10 << 20);
        // Three memories of 3 MiB each fit; a fourth does not, although
        // each alone is under the limit.
        for _ in 0..3 {
            assert!(l.memory_growing(0, 3 << 20, None).expect("fits"));
        }
        assert_eq!(l.total, 9 << 20);
        let err = l.memory_growing(0, 3 << 20, None).expect_err("over the sum");
        assert!(err.to_string().contains("12582912 bytes"), "{err}");
        assert!(l.refused);
        // Growing counts only the delta; tables count per element.
        let mut l = MemoryLimiter::new(1 << 20);
        assert!(l.memory_growing(0, 65536, None).expect("fits"));
        assert!(l.memory_growing(65536, 131072, None).expect("fits"));
        assert_eq!(l.total, 131072);
        assert!(l.table_growing(0, 1000, None).expect("fits"));
        assert_eq!(l.total, 131072 + 8000);
        assert!(l.table_growing(1000, 1 << 20, None).is_err(), "8 MiB of table");
        assert_eq!(l.peak, 131072 + 8000);
        // A growth past the memory's own maximum fails without a charge.
        assert!(!l.memory_growing(131072, 196608, Some(131072)).expect("refused, no trap"));
        assert_eq!(l.total, 131072 + 8000);
    }

    #[test]
    fn exempt_bytes_are_not_charged() {
        let mut l = MemoryLimiter::new(1 << 20);
        l.exempt = 4 << 20;
        assert!(l.memory_growing(0, 4 << 20, None).expect("the host's own map"));
        assert!(l.memory_growing(0, 1 << 20, None).expect("the device's limit"));
        assert!(l.memory_growing(0, 1, None).is_err());
    }
}
