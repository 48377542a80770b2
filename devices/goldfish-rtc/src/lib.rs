//! Goldfish RTC (`google,goldfish-rtc`), register-compatible with QEMU's
//! `hw/rtc/goldfish_rtc.c` as used by the riscv `virt` board (at
//! 0x101000, IRQ 11). Time is in nanoseconds since the Unix epoch.
//!
//! | off  | reg             | access | meaning                                         |
//! |------|-----------------|--------|-------------------------------------------------|
//! | 0x00 | TIME_LOW        | RW     | low 32 bits of the time; a read latches TIME_HIGH |
//! | 0x04 | TIME_HIGH       | RW     | high 32 bits (as latched by the last TIME_LOW read) |
//! | 0x08 | ALARM_LOW       | RW     | low 32 bits of the alarm; a write arms it       |
//! | 0x0c | ALARM_HIGH      | RW     | high 32 bits of the alarm                       |
//! | 0x10 | IRQ_ENABLED     | RW     | bit 0: the alarm raises the interrupt line      |
//! | 0x14 | CLEAR_ALARM     | W      | disarm the alarm                                |
//! | 0x18 | ALARM_STATUS    | R      | 1 while an alarm is armed                       |
//! | 0x1c | CLEAR_INTERRUPT | W      | lower the pending interrupt                     |
//!
//! Time = `base` + the machine's virtual clock (`clock.now-ns`), so it is
//! as deterministic as the rest of the machine. Writing TIME_LOW or
//! TIME_HIGH replaces that half of the current time (QEMU's semantics), by
//! moving the offset; a running alarm is re-armed against the new time
//! (QEMU leaves its host timer where it was). Only 32-bit accesses are accepted (QEMU's
//! `valid.{min,max}_access_size = 4`); unknown offsets read 0 and ignore
//! writes, with a warning. Needs the `clock` capability (`timers = true`).
//!
//! Property `base`: wall-clock time at machine start, in seconds since the
//! Unix epoch; default 1704067200 (2024-01-01T00:00:00Z).

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, clock, irq, log};

/// Default `base`: 2024-01-01T00:00:00Z.
pub const DEFAULT_BASE_SECS: u64 = 1_704_067_200;

pub const TIME_LOW: u64 = 0x00;
pub const TIME_HIGH: u64 = 0x04;
pub const ALARM_LOW: u64 = 0x08;
pub const ALARM_HIGH: u64 = 0x0c;
pub const IRQ_ENABLED: u64 = 0x10;
pub const CLEAR_ALARM: u64 = 0x14;
pub const ALARM_STATUS: u64 = 0x18;
pub const CLEAR_INTERRUPT: u64 = 0x1c;

const ALARM_TIMER: u32 = 0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldfishRtc {
    base_secs: u64,
    /// RTC time minus virtual time, in ns (wrapping: the guest may set
    /// any time, including one before the machine started).
    offset: u64,
    time_high: u32,
    alarm_next: u64,
    /// Virtual time the alarm timer was armed for (while `alarm_running`).
    /// Saved, because ALARM_HIGH changes `alarm_next` without moving an
    /// armed alarm: `restore` cannot recompute the deadline from it.
    alarm_deadline: u64,
    alarm_running: bool,
    irq_enabled: bool,
    irq_pending: bool,
    irq_level: bool,
}

fn deposit(value: u64, high: bool, half: u32) -> u64 {
    if high {
        (value & 0xffff_ffff) | (u64::from(half) << 32)
    } else {
        (value & !0xffff_ffff) | u64::from(half)
    }
}

impl GoldfishRtc {
    fn power_on(base_secs: u64) -> Self {
        GoldfishRtc {
            base_secs,
            offset: base_secs.wrapping_mul(1_000_000_000),
            time_high: 0,
            alarm_next: 0,
            alarm_deadline: 0,
            alarm_running: false,
            irq_enabled: false,
            irq_pending: false,
            irq_level: false,
        }
    }

    /// The RTC's current time in ns since the epoch.
    pub fn now(&self) -> u64 {
        clock::now_ns().wrapping_add(self.offset)
    }

    fn update_irq(&mut self) {
        let level = self.irq_pending && self.irq_enabled;
        if level != self.irq_level {
            self.irq_level = level;
            irq::set(0, level);
        }
    }

    fn clear_alarm(&mut self) {
        if self.alarm_running {
            clock::cancel_timer(ALARM_TIMER);
        }
        self.alarm_running = false;
    }

    fn raise_alarm(&mut self) {
        self.alarm_running = false;
        self.irq_pending = true;
        self.update_irq();
    }

    /// Arm the alarm at `alarm_next`, or fire at once if it has passed.
    fn set_alarm(&mut self) {
        let now = self.now();
        if self.alarm_next <= now {
            self.clear_alarm();
            self.raise_alarm();
        } else {
            self.alarm_deadline = clock::now_ns().saturating_add(self.alarm_next - now);
            clock::set_timer(ALARM_TIMER, self.alarm_deadline);
            self.alarm_running = true;
        }
    }

    fn set_time_half(&mut self, high: bool, half: u32) {
        let now = self.now();
        self.offset = self.offset.wrapping_add(deposit(now, high, half).wrapping_sub(now));
        // The alarm is in RTC time: re-arm it against the new clock.
        if self.alarm_running {
            self.set_alarm();
        }
    }
}

impl Device for GoldfishRtc {
    fn create(props: &Props) -> Result<Self, String> {
        let base = props.u64_or("base", DEFAULT_BASE_SECS)?;
        if base.checked_mul(1_000_000_000).is_none() {
            return Err(format!("property 'base' = {base} seconds overflows 64-bit nanoseconds"));
        }
        props.finish()?;
        Ok(Self::power_on(base))
    }

    fn describe(&self) -> Description {
        Description::new("goldfish-rtc", env!("CARGO_PKG_VERSION"))
            .region("regs", 0x1000)
            .irq_outputs(1)
            .dt_node(DtNode::new("rtc", &["google,goldfish-rtc"]))
    }

    fn reset(&mut self) {
        self.clear_alarm();
        let was_high = self.irq_level;
        *self = Self::power_on(self.base_secs);
        if was_high {
            irq::set(0, false);
        }
    }

    fn read(&mut self, _region: u32, offset: u64, size: u8) -> Result<u64, AccessError> {
        if size != 4 {
            return Err(AccessError::InvalidSize);
        }
        let v = match offset {
            TIME_LOW => {
                let now = self.now();
                self.time_high = (now >> 32) as u32;
                now as u32
            }
            TIME_HIGH => self.time_high,
            ALARM_LOW => self.alarm_next as u32,
            ALARM_HIGH => (self.alarm_next >> 32) as u32,
            IRQ_ENABLED => u32::from(self.irq_enabled),
            ALARM_STATUS => u32::from(self.alarm_running),
            _ => {
                log::warn(&format!("goldfish-rtc: read of unknown register {offset:#x}"));
                0
            }
        };
        Ok(u64::from(v))
    }

    fn write(&mut self, _region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError> {
        if size != 4 {
            return Err(AccessError::InvalidSize);
        }
        let v = value as u32;
        match offset {
            TIME_LOW => self.set_time_half(false, v),
            TIME_HIGH => self.set_time_half(true, v),
            ALARM_LOW => {
                self.alarm_next = deposit(self.alarm_next, false, v);
                self.set_alarm();
            }
            ALARM_HIGH => self.alarm_next = deposit(self.alarm_next, true, v),
            IRQ_ENABLED => {
                self.irq_enabled = v & 1 != 0;
                self.update_irq();
            }
            CLEAR_ALARM => self.clear_alarm(),
            CLEAR_INTERRUPT => {
                self.irq_pending = false;
                self.update_irq();
            }
            _ => log::warn(&format!("goldfish-rtc: write of {v:#x} to unknown register {offset:#x} ignored")),
        }
        Ok(())
    }

    fn timer_fired(&mut self, id: u32) {
        if id == ALARM_TIMER && self.alarm_running {
            self.raise_alarm();
        }
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        *self = wemu_device_sdk::snapshot::restore(state)?;
        // Timers are the host's: ask again for a running alarm, at the
        // deadline it was armed for (not one recomputed from `alarm_next`).
        if self.alarm_running {
            clock::set_timer(ALARM_TIMER, self.alarm_deadline);
        }
        Ok(())
    }
}

wemu_device_sdk::export_device!(GoldfishRtc);

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::PropValue;
    use wemu_device_sdk::testing::TestHost;

    const NS: u64 = 1_000_000_000;

    fn rtc(base: Option<i64>) -> GoldfishRtc {
        TestHost::reset();
        let props = Props::new(base.map(|b| ("base".to_owned(), PropValue::Int(b))).into_iter().collect());
        GoldfishRtc::create(&props).expect("create")
    }
    fn rd(r: &mut GoldfishRtc, off: u64) -> u32 {
        r.read(0, off, 4).expect("read") as u32
    }
    fn wr(r: &mut GoldfishRtc, off: u64, v: u32) {
        r.write(0, off, 4, u64::from(v)).expect("write");
    }
    fn time(r: &mut GoldfishRtc) -> u64 {
        let lo = rd(r, TIME_LOW);
        (u64::from(rd(r, TIME_HIGH)) << 32) | u64::from(lo)
    }
    fn set_now(ns: u64) {
        TestHost::with(|h| h.now_ns = ns);
    }
    fn irq() -> bool {
        TestHost::with(|h| h.irq(0))
    }

    #[test]
    fn time_is_base_plus_virtual_time() {
        let mut r = rtc(None);
        assert_eq!(time(&mut r), DEFAULT_BASE_SECS * NS);
        set_now(1_500);
        assert_eq!(time(&mut r), DEFAULT_BASE_SECS * NS + 1_500);
        let mut r = rtc(Some(10));
        set_now(1_500);
        assert_eq!(time(&mut r), 10 * NS + 1_500);
    }

    #[test]
    fn time_low_read_latches_time_high() {
        let mut r = rtc(Some(0));
        set_now(0xffff_fff0);
        let lo = rd(&mut r, TIME_LOW);
        set_now(0x1_0000_0010); // the low word wraps between the two reads
        assert_eq!(rd(&mut r, TIME_HIGH), 0, "high word as of the TIME_LOW read");
        assert_eq!(lo, 0xffff_fff0);
    }

    #[test]
    fn writing_the_time_moves_the_clock() {
        let mut r = rtc(None);
        set_now(100);
        wr(&mut r, TIME_HIGH, 0x12);
        wr(&mut r, TIME_LOW, 0x3456_7890);
        assert_eq!(time(&mut r), 0x12_3456_7890);
        set_now(600);
        assert_eq!(time(&mut r), 0x12_3456_7890 + 500, "and keeps running");
        // Setting a time before the machine started works too.
        wr(&mut r, TIME_HIGH, 0);
        wr(&mut r, TIME_LOW, 0);
        assert_eq!(time(&mut r), 0);
    }

    #[test]
    fn alarm_fires_at_its_time_and_raises_the_line_when_enabled() {
        let mut r = rtc(Some(0));
        wr(&mut r, IRQ_ENABLED, 1);
        wr(&mut r, ALARM_HIGH, 0);
        wr(&mut r, ALARM_LOW, 5_000);
        assert_eq!(rd(&mut r, ALARM_STATUS), 1);
        assert_eq!(TestHost::with(|h| h.timers.get(&ALARM_TIMER).copied()), Some(5_000));
        assert!(!irq());
        set_now(5_000);
        r.timer_fired(ALARM_TIMER);
        assert!(irq());
        assert_eq!(rd(&mut r, ALARM_STATUS), 0);
        wr(&mut r, CLEAR_INTERRUPT, 1);
        assert!(!irq());
    }

    #[test]
    fn alarm_in_the_past_fires_at_once_and_disabled_irq_stays_low() {
        let mut r = rtc(Some(1));
        wr(&mut r, ALARM_LOW, 10); // 10 ns after the epoch: long past
        assert_eq!(rd(&mut r, ALARM_STATUS), 0);
        assert!(!irq(), "pending but not enabled");
        wr(&mut r, IRQ_ENABLED, 1);
        assert!(irq(), "enabling shows the pending alarm");
        assert_eq!(rd(&mut r, IRQ_ENABLED), 1);
    }

    #[test]
    fn clear_alarm_disarms() {
        let mut r = rtc(Some(0));
        wr(&mut r, IRQ_ENABLED, 1);
        wr(&mut r, ALARM_LOW, 1_000);
        wr(&mut r, CLEAR_ALARM, 1);
        assert_eq!(rd(&mut r, ALARM_STATUS), 0);
        assert!(TestHost::with(|h| h.timers.is_empty()));
        r.timer_fired(ALARM_TIMER); // a stale firing is ignored
        assert!(!irq());
    }

    #[test]
    fn setting_the_time_rearms_a_running_alarm() {
        let mut r = rtc(Some(0));
        wr(&mut r, ALARM_LOW, 10_000);
        wr(&mut r, TIME_LOW, 4_000); // RTC jumps forward by 4 µs
        assert_eq!(TestHost::with(|h| h.timers.get(&ALARM_TIMER).copied()), Some(6_000));
    }

    #[test]
    fn only_32_bit_accesses_and_reset() {
        let mut r = rtc(None);
        assert_eq!(r.read(0, TIME_LOW, 8), Err(AccessError::InvalidSize));
        assert_eq!(r.write(0, IRQ_ENABLED, 1, 1), Err(AccessError::InvalidSize));
        assert_eq!(rd(&mut r, 0x40), 0);
        wr(&mut r, IRQ_ENABLED, 1);
        wr(&mut r, ALARM_LOW, 0);
        assert!(irq());
        r.reset();
        assert!(!irq());
        assert_eq!(rd(&mut r, IRQ_ENABLED), 0);
        assert_eq!(time(&mut r), DEFAULT_BASE_SECS * NS);
    }

    #[test]
    fn restore_rearms_a_running_alarm() {
        let mut r = rtc(Some(0));
        wr(&mut r, ALARM_LOW, 7_000);
        let snap = r.save();
        TestHost::with(|h| h.timers.clear());
        let mut s = rtc(Some(5));
        s.restore(&snap).expect("restore");
        assert_eq!(s, r);
        assert_eq!(TestHost::with(|h| h.timers.get(&ALARM_TIMER).copied()), Some(7_000));
        assert!(s.restore(b"junk").is_err());
    }

    #[test]
    fn restore_keeps_the_deadline_the_alarm_was_armed_with() {
        // `wemu fuzz` found: ALARM_HIGH, ALARM_LOW (arms the alarm far in
        // the future), ALARM_HIGH again (moves ALARM_NEXT into the past but,
        // as in QEMU, not the armed alarm), save, restore: the copy fired
        // the alarm at once (ALARM_STATUS 0, interrupt pending), the
        // original kept it armed (ALARM_STATUS 1).
        let mut r = rtc(None);
        wr(&mut r, ALARM_HIGH, 0x1fff_e5fe);
        wr(&mut r, ALARM_LOW, 0xf);
        wr(&mut r, ALARM_HIGH, 0xf);
        let armed = TestHost::with(|h| h.timers.get(&ALARM_TIMER).copied()).expect("armed");
        let snap = r.save();
        let mut s = rtc(None);
        s.restore(&snap).expect("restore");
        assert_eq!(s, r);
        assert_eq!(TestHost::with(|h| h.timers.get(&ALARM_TIMER).copied()), Some(armed), "same deadline");
        assert_eq!((rd(&mut r, ALARM_STATUS), rd(&mut s, ALARM_STATUS)), (1, 1));
        // Both raise the interrupt at that deadline, not before.
        for dev in [&mut r, &mut s] {
            wr(dev, IRQ_ENABLED, 1);
            assert!(!irq());
            set_now(armed);
            dev.timer_fired(ALARM_TIMER);
            assert!(irq());
            wr(dev, CLEAR_INTERRUPT, 1);
            wr(dev, IRQ_ENABLED, 0);
            set_now(0);
        }
    }

    #[test]
    fn describe_matches_qemu_virt() {
        let d = rtc(None).describe();
        assert_eq!(d.regions, vec![("regs".to_owned(), 0x1000)]);
        assert_eq!(d.dt_node.expect("node").compatible, vec!["google,goldfish-rtc"]);
        assert!(GoldfishRtc::create(&Props::new(vec![("base".into(), PropValue::Int(-1))])).is_err());
    }
}
