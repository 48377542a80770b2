//! IRQ storm throttling: a device output line that changes level faster
//! than [`STORM_LIMIT`] times per [`STORM_WINDOW_NS`] of virtual time has
//! its further changes coalesced: only its latest requested level is
//! delivered, once per batch, until a window passes with no more than the
//! limit. The first storm on each line is reported.
//!
//! Why coalesce rather than treat the storm as a device fault: the device
//! has not broken (its state is consistent, it may be answering a guest
//! that acknowledges in a loop), lines are level-triggered so the final
//! level is what a controller and the guest act on, and the cost the storm
//! would impose (a controller call and a hart yield per change) drops to
//! one delivery per batch. Cascades that loop between devices are a
//! different thing and stay a contract fault (see `MAX_IRQ_HOPS`).

use std::collections::HashMap;

/// Level changes per line allowed in one window before throttling. Linux
/// booting and using a shell and a disk on `virt` peaks two orders of
/// magnitude lower (docs/faults.md has the figures).
pub const STORM_LIMIT: u32 = 10_000;
/// The window: 1 ms of virtual time (one million instructions).
pub const STORM_WINDOW_NS: u64 = 1_000_000;

/// What to do with one requested level change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Deliver it now.
    Deliver,
    /// Coalesced: held until the next batch boundary. `first_storm` is set
    /// the first time this line is ever throttled (report it).
    Defer { first_storm: bool },
}

#[derive(Debug, Default)]
struct LineRate {
    /// Index of the window `changes` counts in (`now / STORM_WINDOW_NS`).
    window: u64,
    changes: u32,
    /// Highest `changes` seen in any window (for `--stats`).
    peak: u32,
    throttled: bool,
    reported: bool,
    /// The level to deliver at the next batch boundary.
    pending: Option<bool>,
}

/// Per-line change counters of every device output line that changed.
#[derive(Debug, Default)]
pub struct StormGuard {
    lines: HashMap<(usize, u32), LineRate>,
}

impl StormGuard {
    /// Line `line` of `device`, now at `current` as far as the router
    /// knows, asks for `level` at virtual time `now`.
    pub fn admit(&mut self, device: usize, line: u32, level: bool, current: bool, now: u64) -> Admit {
        let r = self.lines.entry((device, line)).or_default();
        let effective = r.pending.unwrap_or(current);
        if level == effective {
            // Not a change: nothing to count, nothing new to deliver.
            return if r.pending.is_some() { Admit::Defer { first_storm: false } } else { Admit::Deliver };
        }
        let window = now / STORM_WINDOW_NS;
        if window != r.window {
            // The storm is over when the last window (or an empty one in
            // between) stayed within the limit.
            if window > r.window + 1 || r.changes <= STORM_LIMIT {
                r.throttled = false;
            }
            r.window = window;
            r.changes = 0;
        }
        r.changes = r.changes.saturating_add(1);
        r.peak = r.peak.max(r.changes);
        let mut first_storm = false;
        if !r.throttled && r.changes > STORM_LIMIT {
            r.throttled = true;
            first_storm = !r.reported;
            r.reported = true;
        }
        if r.throttled {
            r.pending = Some(level);
            Admit::Defer { first_storm }
        } else {
            // A held level not yet delivered is superseded by this one.
            r.pending = None;
            Admit::Deliver
        }
    }

    /// The held levels to deliver now (a batch boundary), in a stable order.
    pub fn take_deferred(&mut self) -> Vec<(usize, u32, bool)> {
        let mut out: Vec<(usize, u32, bool)> =
            self.lines.iter_mut().filter_map(|(&(d, l), r)| r.pending.take().map(|lv| (d, l, lv))).collect();
        out.sort_unstable();
        out
    }

    /// Forget what `device`'s lines asked for (it was isolated or replaced;
    /// its lines were lowered). The storm report stays "done".
    pub fn forget_device(&mut self, device: usize) {
        for (_, r) in self.lines.iter_mut().filter(|((d, _), _)| *d == device) {
            r.pending = None;
            r.throttled = false;
            r.changes = 0;
        }
    }

    /// Forget held levels and counters (machine reset); reports stay done.
    pub fn clear(&mut self) {
        for r in self.lines.values_mut() {
            r.pending = None;
            r.throttled = false;
            r.changes = 0;
        }
    }

    /// The line that changed most in one window: (device, line, changes).
    pub fn busiest(&self) -> Option<(usize, u32, u32)> {
        self.lines
            .iter()
            .map(|(&(d, l), r)| (d, l, r.peak))
            .max_by_key(|&(d, l, p)| (p, std::cmp::Reverse((d, l))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Toggle line 0 of device 1 `n` times at `now`, as the router would
    /// see it (delivered changes update `level`). Returns how many were
    /// delivered and whether a first storm was reported.
    fn toggle(g: &mut StormGuard, level: &mut bool, n: u32, now: u64) -> (u32, u32) {
        let (mut delivered, mut reports) = (0, 0);
        for _ in 0..n {
            let want = !g.lines.get(&(1, 0)).and_then(|r| r.pending).unwrap_or(*level);
            match g.admit(1, 0, want, *level, now) {
                Admit::Deliver => {
                    *level = want;
                    delivered += 1;
                }
                Admit::Defer { first_storm } => reports += u32::from(first_storm),
            }
        }
        (delivered, reports)
    }

    #[test]
    fn a_line_within_the_limit_is_never_throttled() {
        let mut g = StormGuard::default();
        let mut level = false;
        for ms in 0..5 {
            assert_eq!(toggle(&mut g, &mut level, STORM_LIMIT, ms * STORM_WINDOW_NS), (STORM_LIMIT, 0));
        }
        assert!(g.take_deferred().is_empty());
        assert_eq!(g.busiest(), Some((1, 0, STORM_LIMIT)));
    }

    #[test]
    fn a_storm_is_coalesced_reported_once_and_ends_after_a_quiet_window() {
        let mut g = StormGuard::default();
        let mut level = false;
        // 3 × the limit in one window: the limit gets through, the rest waits.
        assert_eq!(toggle(&mut g, &mut level, 3 * STORM_LIMIT, 0), (STORM_LIMIT, 1));
        // An even number of changes after the limit: held level = current.
        assert_eq!(g.take_deferred(), vec![(1, 0, level)]);
        // Still storming in the next window: everything is held, no new report.
        assert_eq!(toggle(&mut g, &mut level, 2 * STORM_LIMIT + 1, STORM_WINDOW_NS), (0, 0));
        assert_eq!(g.take_deferred(), vec![(1, 0, !level)], "the last requested level");
        level = !level; // the machine delivered it
        // A window with no changes at all ends the storm.
        assert_eq!(toggle(&mut g, &mut level, 10, 5 * STORM_WINDOW_NS), (10, 0));
        // A new storm later is throttled again but not reported again.
        assert_eq!(toggle(&mut g, &mut level, STORM_LIMIT + 5, 6 * STORM_WINDOW_NS).1, 0);
        assert!(g.lines[&(1, 0)].throttled);
    }

    #[test]
    fn repeating_the_current_level_is_not_a_change() {
        let mut g = StormGuard::default();
        for _ in 0..3 * STORM_LIMIT {
            assert_eq!(g.admit(2, 3, true, true, 0), Admit::Deliver);
        }
        assert_eq!(g.busiest(), Some((2, 3, 0)));
    }

    #[test]
    fn forgetting_a_device_drops_its_held_levels() {
        let mut g = StormGuard::default();
        let mut level = false;
        toggle(&mut g, &mut level, STORM_LIMIT + 1, 0);
        g.forget_device(1);
        assert!(g.take_deferred().is_empty());
        assert_eq!(g.admit(1, 0, !level, level, 0), Admit::Deliver, "no longer throttled");
    }
}
