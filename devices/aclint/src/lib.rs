//! SiFive CLINT (`sifive,clint0`, `riscv,clint0`) as QEMU 7.2 builds it for
//! the riscv `virt` board out of `hw/intc/riscv_aclint.c`: an ACLINT SWI
//! (MSIP) device followed by an MTIMER device in one 0x10000-byte window.
//!
//! | offset              | register              | access       |
//! |---------------------|-----------------------|--------------|
//! | `0x0 + 4*h`         | `msip` of hart `h`    | 4 bytes      |
//! | `0x4000 + 8*h`      | `mtimecmp` of hart `h`| 4 or 8 bytes |
//! | `0xbff8`            | `mtime`               | 4 or 8 bytes |
//!
//! As in QEMU: other widths fault; offsets in `0..0xc000` that hold no
//! register read as zero and ignore writes; `0xc000..0x10000` is not
//! decoded (faults). `msip` bit 0 drives MSIP; the other bits read as zero.
//! Every `mtimecmp` resets to 0, so MTIP is high from power-on until the
//! guest writes a later compare value (QEMU does the same).
//!
//! Output line `2h` is hart `h`'s MSIP, `2h + 1` its MTIP.
//!
//! `mtime` is `now_ns / (1e9 / timebase-frequency)`, the same expression
//! the host uses for the harts' `time` CSR, so `rdtime` and `mtime` agree
//! (timebase frequencies that do not divide 1 GHz are truncated alike).
//! Writes to `mtime` keep an offset, as QEMU's `time_delta`, but move only
//! this device's view: the harts' `time` CSR keeps counting from zero.
//! MTIP follows `mtime >= mtimecmp`: a compare value in the future arms a
//! `clock` timer for the exact nanosecond `mtime` reaches it.

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, clock, irq, log};

/// Size of the register window.
pub const WINDOW: u64 = 0x1_0000;
const MTIMECMP_BASE: u64 = 0x4000;
const MTIME: u64 = 0xbff8;
/// End of QEMU's MTIMER region (0x4000 + `RISCV_ACLINT_DEFAULT_MTIMER_SIZE`).
const MTIMER_END: u64 = 0xc000;
/// Most harts before the compare registers would reach `mtime`.
const MAX_HARTS: u32 = ((MTIME - MTIMECMP_BASE) / 8) as u32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Aclint {
    // Configuration (from properties).
    harts: u32,
    timebase_frequency: u64,
    /// Nanoseconds per `mtime` tick, as the host computes it.
    tick_ns: u64,
    // State.
    msip: Vec<bool>,
    mtimecmp: Vec<u64>,
    /// `mtime` minus the raw tick count (QEMU's `time_delta`), wrapping.
    delta: u64,
    /// Level each MTIP line is driven to.
    mtip: Vec<bool>,
}

impl Aclint {
    fn power_on(harts: u32, timebase_frequency: u64) -> Self {
        let n = harts as usize;
        Aclint {
            harts,
            timebase_frequency,
            // The host's expression for the harts' `time` CSR.
            tick_ns: (1_000_000_000 / timebase_frequency.max(1)).max(1),
            msip: vec![false; n],
            mtimecmp: vec![0; n],
            delta: 0,
            mtip: vec![false; n],
        }
    }

    /// Ticks since machine start, without the guest's offset.
    fn raw_ticks(&self) -> u64 {
        clock::now_ns() / self.tick_ns
    }

    fn mtime(&self) -> u64 {
        self.raw_ticks().wrapping_add(self.delta)
    }

    fn set_msip(&mut self, hart: usize, level: bool) {
        if self.msip[hart] != level {
            self.msip[hart] = level;
            irq::set(2 * hart as u32, level);
        }
    }

    fn set_mtip(&mut self, hart: usize, level: bool) {
        if self.mtip[hart] != level {
            self.mtip[hart] = level;
            irq::set(2 * hart as u32 + 1, level);
        }
    }

    /// Drive hart `hart`'s MTIP from `mtime >= mtimecmp`, and arm its timer
    /// for the moment that becomes true.
    fn evaluate(&mut self, hart: usize) {
        let raw = self.raw_ticks();
        let now = raw.wrapping_add(self.delta);
        let cmp = self.mtimecmp[hart];
        let id = hart as u32;
        if cmp <= now {
            self.set_mtip(hart, true);
            clock::cancel_timer(id);
            return;
        }
        self.set_mtip(hart, false);
        // mtime reaches cmp after `cmp - now` more ticks, i.e. when the raw
        // count reaches `raw + (cmp - now)`: the first nanosecond of that
        // tick. Past the end of u64 nanoseconds (584 years) it never does.
        let deadline = raw.checked_add(cmp - now).and_then(|t| t.checked_mul(self.tick_ns));
        match deadline {
            Some(ns) => clock::set_timer(id, ns),
            None => clock::cancel_timer(id),
        }
    }

    fn evaluate_all(&mut self) {
        for hart in 0..self.harts as usize {
            self.evaluate(hart);
        }
    }

    fn write_mtimecmp(&mut self, hart: usize, value: u64) {
        self.mtimecmp[hart] = value;
        self.evaluate(hart);
    }

    /// An `mtime` write of `size` bytes at `offset` (0 = low word or the
    /// whole register, 4 = high word), computed as QEMU 7.2 does: partial
    /// writes keep the other half of the *raw* count, not of `mtime`.
    fn write_mtime(&mut self, offset: u64, size: u8, value: u64) {
        let raw = self.raw_ticks();
        let target = match (offset, size) {
            (0, 8) => value,
            (0, _) => (raw & !0xffff_ffff) | (value & 0xffff_ffff),
            (_, _) => (value << 32) | (raw & 0xffff_ffff),
        };
        self.delta = target.wrapping_sub(raw);
        self.evaluate_all();
    }
}

/// Read `size` bytes at byte `offset` (0 or 4) of a 64-bit register.
fn read_part(value: u64, offset: u64, size: u8) -> u64 {
    match (offset, size) {
        (0, 8) => value,
        (0, _) => value & 0xffff_ffff,
        _ => value >> 32,
    }
}

/// Merge a write of `size` bytes at byte `offset` (0 or 4) into a 64-bit
/// register.
fn merge_part(current: u64, offset: u64, size: u8, value: u64) -> u64 {
    match (offset, size) {
        (0, 8) => value,
        (0, _) => (current & !0xffff_ffff) | (value & 0xffff_ffff),
        _ => (value << 32) | (current & 0xffff_ffff),
    }
}

/// A decoded register offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reg {
    Msip(usize),
    /// Hart, and byte offset inside the register (0 or 4).
    Mtimecmp(usize, u64),
    Mtime(u64),
    /// Decoded but empty: reads 0, writes ignored.
    None,
}

impl Aclint {
    /// Decode `offset` for an access of `size` bytes with QEMU's width
    /// rules: SWI takes 4 bytes only, MTIMER 4 or 8.
    fn decode(&self, offset: u64, size: u8) -> Result<Reg, AccessError> {
        let harts = u64::from(self.harts);
        if offset < MTIMECMP_BASE {
            if size != 4 {
                return Err(AccessError::InvalidSize);
            }
            return Ok(if offset < 4 * harts { Reg::Msip((offset / 4) as usize) } else { Reg::None });
        }
        if offset >= MTIMER_END {
            return Err(AccessError::InvalidOffset);
        }
        if size != 4 && size != 8 {
            return Err(AccessError::InvalidSize);
        }
        let rel = offset - MTIMECMP_BASE;
        Ok(if rel < 8 * harts {
            Reg::Mtimecmp((rel / 8) as usize, rel % 8)
        } else if offset == MTIME || offset == MTIME + 4 {
            Reg::Mtime(offset - MTIME)
        } else {
            Reg::None
        })
    }
}

impl Device for Aclint {
    fn create(props: &Props) -> Result<Self, String> {
        let harts = props.u32_or("harts", 1)?;
        if !(1..=MAX_HARTS).contains(&harts) {
            return Err(format!("property 'harts' = {harts} must be 1..={MAX_HARTS}"));
        }
        let timebase_frequency = props.u64_or("timebase-frequency", 10_000_000)?;
        if !(1..=1_000_000_000).contains(&timebase_frequency) {
            return Err(format!(
                "property 'timebase-frequency' = {timebase_frequency} must be 1..=1000000000 (Hz)"
            ));
        }
        props.finish()?;
        let mut clint = Self::power_on(harts, timebase_frequency);
        // Every mtimecmp starts at 0 <= mtime: MTIP is pending from the
        // start, as on QEMU's virt.
        clint.evaluate_all();
        Ok(clint)
    }

    fn describe(&self) -> Description {
        Description::new("aclint", env!("CARGO_PKG_VERSION"))
            .region("regs", WINDOW)
            .irq_outputs(2 * self.harts)
            .dt_node(DtNode::new("clint", &["sifive,clint0", "riscv,clint0"]))
    }

    fn reset(&mut self) {
        let (msip, mtip) = (std::mem::take(&mut self.msip), std::mem::take(&mut self.mtip));
        *self = Self::power_on(self.harts, self.timebase_frequency);
        for (hart, (s, t)) in msip.into_iter().zip(mtip).enumerate() {
            if s {
                irq::set(2 * hart as u32, false);
            }
            if t {
                irq::set(2 * hart as u32 + 1, false);
            }
            clock::cancel_timer(hart as u32);
        }
        self.evaluate_all();
    }

    fn read(&mut self, _region: u32, offset: u64, size: u8) -> Result<u64, AccessError> {
        Ok(match self.decode(offset, size)? {
            Reg::Msip(hart) => u64::from(self.msip[hart]),
            Reg::Mtimecmp(hart, part) => read_part(self.mtimecmp[hart], part, size),
            Reg::Mtime(part) => read_part(self.mtime(), part, size),
            Reg::None => {
                log::debug(&format!("read of unimplemented offset {offset:#x}"));
                0
            }
        })
    }

    fn write(&mut self, _region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError> {
        match self.decode(offset, size)? {
            Reg::Msip(hart) => self.set_msip(hart, value & 1 != 0),
            Reg::Mtimecmp(hart, part) => {
                let v = merge_part(self.mtimecmp[hart], part, size, value);
                self.write_mtimecmp(hart, v);
            }
            Reg::Mtime(part) => self.write_mtime(part, size, value),
            Reg::None => log::debug(&format!("write of {value:#x} to unimplemented offset {offset:#x}")),
        }
        Ok(())
    }

    fn timer_fired(&mut self, id: u32) {
        if (id as usize) < self.mtimecmp.len() {
            // Re-evaluate rather than raise blindly: the compare value or
            // mtime may have moved since the timer was armed.
            self.evaluate(id as usize);
        }
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let restored: Aclint = wemu_device_sdk::snapshot::restore(state)?;
        let n = restored.harts as usize;
        let consistent = restored.harts == self.harts
            && restored.timebase_frequency == self.timebase_frequency
            && restored.tick_ns == self.tick_ns
            && [restored.msip.len(), restored.mtimecmp.len(), restored.mtip.len()].iter().all(|&l| l == n);
        if !consistent {
            return Err("aclint state does not match this instance's harts and timebase".to_owned());
        }
        *self = restored;
        for hart in 0..n {
            irq::set(2 * hart as u32, self.msip[hart]);
            irq::set(2 * hart as u32 + 1, self.mtip[hart]);
        }
        self.evaluate_all();
        Ok(())
    }
}

wemu_device_sdk::export_device!(Aclint);

#[cfg(test)]
mod tests;
