//! A device that breaks the rules when told to, so the tests can check
//! that wemu survives each kind of misbehaviour and names the culprit.
//!
//! Region 0 (32 bytes): a write to offset 0 is a command; a read of
//! offset 8 returns the result of the last command; offset 0x10 is a
//! scratch register that reads back what was written, `SCRATCH_RESET`
//! at power-on (so a guest can tell a reset device from a fenced one).
//!
//! | command | effect |
//! |---------|--------|
//! | 1 | panic (a trap) |
//! | 2 | loop forever (fuel exhaustion) |
//! | 3 | allocate 512 MiB (memory limit) |
//! | 4 | raise IRQ line 7, which it does not have (contract violation) |
//! | 5 | DMA-read 8 bytes at the address last written to offset 8 (`dma_probe`) |
//! | 6 | raise IRQ line 0 |
//! | 7 | arm timer 1 for 1000 ns from now; when it fires, result = fire time and IRQ 0 rises |
//! | 8 | arm timer 2 and cancel it at once |
//! | 9 | block-read 8 bytes at offset 0 of port 0 into result |
//! | 10 | block-write the probe address (8 bytes) at offset 0, then flush; result = 0 or error code |
//! | 11 | IRQ storm: toggle IRQ line 0 `STORM_TOGGLES` times (raise, lower, …; it ends low) |
//! | 12 | arm timer 1 for 20 µs from now (see 7) |
//! | 13 | scratch = scratch * 2 + 1, then raise IRQ line 0 (a second call would show) |
//! | 14 | arm timer 3 for now; when it fires it re-arms itself for now (a hang) |
//! | 15 | arm `STRAY_TIMERS` new timers, far in the future, with ids never used before |
//! | 16 | re-arm timer 4 a million times, then cancel it (queues must stay small) |
//! | 17 | log `LOG_FLOOD` warnings in one call |
//!
//! Property `panic-on-create = true` makes `create` itself trap, and
//! `panic-on-irq-input = true` makes its IRQ input line 0 trap when it
//! changes (a controller that fails while another device's access is
//! being delivered).

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, block, clock, dma, irq};

/// Power-on value of the scratch register.
pub const SCRATCH_RESET: u64 = 0x5eed;
/// Level changes made by command 11.
pub const STORM_TOGGLES: u32 = 100_000;
/// Timers armed by one command 15.
pub const STRAY_TIMERS: u32 = 750;
/// Warnings logged by command 17.
pub const LOG_FLOOD: u32 = 5000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Faulty {
    result: u64,
    probe_addr: u64,
    scratch: u64,
    panic_on_irq_input: bool,
    /// The next id command 15 arms.
    #[serde(default)]
    next_timer: u32,
}

impl Default for Faulty {
    fn default() -> Self {
        Faulty {
            result: 0,
            probe_addr: 0,
            scratch: SCRATCH_RESET,
            panic_on_irq_input: false,
            next_timer: 100,
        }
    }
}

impl Faulty {
    /// DMA-read 8 bytes at `probe_addr`; result = the value, or
    /// 0xdead_0000 | error code (1 denied, 2 unmapped, 3 too large).
    fn dma_probe(&mut self) {
        self.result = match dma::read(self.probe_addr, 8) {
            Ok(bytes) => bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
            Err(dma::DmaError::Denied) => 0xdead_0001,
            Err(dma::DmaError::Unmapped) => 0xdead_0002,
            Err(dma::DmaError::TooLarge) => 0xdead_0003,
        };
    }
}

impl Device for Faulty {
    fn create(props: &Props) -> Result<Self, String> {
        if props.bool_or("panic-on-create", false)? {
            panic!("asked to panic in create");
        }
        let panic_on_irq_input = props.bool_or("panic-on-irq-input", false)?;
        props.finish()?;
        Ok(Faulty { panic_on_irq_input, ..Faulty::default() })
    }

    fn describe(&self) -> Description {
        Description::new("faulty", env!("CARGO_PKG_VERSION"))
            .region("regs", 32)
            .irq_outputs(1)
            .irq_inputs(1)
            .dt_node(DtNode::new("faulty", &["wemu,faulty"]))
    }

    fn reset(&mut self) {
        *self = Faulty { panic_on_irq_input: self.panic_on_irq_input, ..Faulty::default() };
    }

    fn read(&mut self, _region: u32, offset: u64, _size: u8) -> Result<u64, AccessError> {
        match offset {
            8 => Ok(self.result),
            0x10 => Ok(self.scratch),
            _ => Err(AccessError::InvalidOffset),
        }
    }

    fn write(&mut self, _region: u32, offset: u64, _size: u8, value: u64) -> Result<(), AccessError> {
        match offset {
            0 => match value {
                1 => panic!("command 1: deliberate panic"),
                2 => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                3 => {
                    let v: Vec<u8> = vec![1; 512 << 20];
                    self.result = u64::from(std::hint::black_box(v)[12345]);
                }
                4 => irq::set(7, true),
                5 => self.dma_probe(),
                6 => irq::set(0, true),
                7 => clock::set_timer(1, clock::now_ns() + 1000),
                8 => {
                    clock::set_timer(2, clock::now_ns() + 10);
                    clock::cancel_timer(2);
                }
                9 => {
                    self.result = match block::read(0, 0, 8) {
                        Ok(b) => b.iter().rev().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)),
                        Err(e) => 0xdead_1000 | block_code(e),
                    }
                }
                10 => {
                    let written =
                        block::write(0, 0, &self.probe_addr.to_le_bytes()).and_then(|()| block::flush(0));
                    self.result = match written {
                        Ok(()) => 0,
                        Err(e) => 0xdead_1000 | block_code(e),
                    }
                }
                11 => {
                    for i in 0..STORM_TOGGLES {
                        irq::set(0, i % 2 == 0);
                    }
                }
                12 => clock::set_timer(1, clock::now_ns() + 20_000),
                13 => {
                    self.scratch = self.scratch.wrapping_mul(2).wrapping_add(1);
                    irq::set(0, true);
                }
                14 => clock::set_timer(3, clock::now_ns()),
                15 => {
                    for _ in 0..STRAY_TIMERS {
                        clock::set_timer(self.next_timer, u64::MAX);
                        self.next_timer = self.next_timer.wrapping_add(1);
                    }
                }
                16 => {
                    for i in 0..1_000_000u64 {
                        clock::set_timer(4, u64::MAX - i);
                    }
                    clock::cancel_timer(4);
                }
                17 => {
                    for i in 0..LOG_FLOOD {
                        wemu_device_sdk::log::warn(&format!("flood record {i}"));
                    }
                }
                _ => {}
            },
            8 => self.probe_addr = value,
            0x10 => self.scratch = value,
            _ => return Err(AccessError::InvalidOffset),
        }
        Ok(())
    }

    fn irq_input(&mut self, line: u32, level: bool) {
        if self.panic_on_irq_input {
            panic!("irq input {line} went to {level}: deliberate panic");
        }
    }

    fn timer_fired(&mut self, id: u32) {
        self.result = clock::now_ns();
        if id == 1 {
            irq::set(0, true);
        }
        if id == 3 {
            clock::set_timer(3, clock::now_ns());
        }
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        *self = wemu_device_sdk::snapshot::restore(state)?;
        Ok(())
    }
}

fn block_code(e: block::BlockError) -> u64 {
    match e {
        block::BlockError::OutOfRange => 1,
        block::BlockError::ReadOnly => 2,
        block::BlockError::Io => 3,
        block::BlockError::NoBackend => 4,
    }
}

wemu_device_sdk::export_device!(Faulty);

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::testing::TestHost;

    #[test]
    fn dma_probe_reports_refusals() {
        TestHost::reset();
        TestHost::with(|h| {
            h.dma_base = 0x1000;
            h.dma_mem = (0..16).collect();
        });
        let mut d = Faulty::default();
        d.write(0, 8, 8, 0x1000).unwrap();
        d.write(0, 0, 8, 5).unwrap();
        assert_eq!(d.read(0, 8, 8), Ok(0x0706_0504_0302_0100));
        d.write(0, 8, 8, 0x9000).unwrap();
        d.write(0, 0, 8, 5).unwrap();
        assert_eq!(d.read(0, 8, 8), Ok(0xdead_0001));
    }
}
