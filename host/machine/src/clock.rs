//! Virtual time. Time is derived from retired instructions (plus time
//! skipped while every hart waits in `wfi`), so two runs of the same guest
//! see the same clock. The device timer queue it drives is
//! `wemu_sandbox::EventQueue`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
