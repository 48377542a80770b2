//! A device with one bug, hidden behind a register sequence, for the tests
//! of `wemu fuzz` (tests/integration/fuzz.rs): the fuzzer must find it
//! from a fixed seed within a bounded number of runs.
//!
//! Region `regs` (0x40 bytes, any access size): a write to `KEY` (0x00)
//! remembers the value; `KEY2` (0x04) advances a two-step sequence only
//! right after the right key.
//!
//! | property `bug` | the bug |
//! |----------------|---------|
//! | `trap` | write 0x12 to KEY, 0x34 to KEY2, then read RESULT (0x08): panic |
//! | `hang` | write 0x21 to KEY, then 0x43 to SPIN (0x0c): an endless loop |
//! | `dma` | write 0x5a to KEY, then anything to DMA_GO (0x14): a 4-byte DMA write to the address in DMA_ADDR (0x10), wherever it points |
//! | `save` | SCRATCH (0x20) is left out of `save`: after a restore it reads 0 |
//! | `reset` | `reset` forgets to clear SCRATCH |
//! | `irq` | write 0x66 to KEY, then anything to IRQ_GO (0x18): raises line 5 (it declared one) |
//! | `memory` | write 0x77 to KEY, then N to GROW (0x1c): allocates N MiB and keeps it |
//! | `block` | write 0x88 to KEY, then anything to BLK_GO (0x24): reads sector 0 and trusts the read to succeed |
//! | `none` (default) | none of them |

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, Props, block, dma, irq};

const KEY: u64 = 0x00;
const KEY2: u64 = 0x04;
const RESULT: u64 = 0x08;
const SPIN: u64 = 0x0c;
const DMA_ADDR: u64 = 0x10;
const DMA_GO: u64 = 0x14;
const IRQ_GO: u64 = 0x18;
const GROW: u64 = 0x1c;
const SCRATCH: u64 = 0x20;
const BLK_GO: u64 = 0x24;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Bug {
    #[default]
    None,
    Trap,
    Hang,
    Dma,
    Save,
    Reset,
    Irq,
    Memory,
    Block,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Buggy {
    bug: Bug,
    key: u64,
    /// The trap sequence: 1 after KEY = 0x12, 2 after KEY2 = 0x34 too.
    stage: u8,
    dma_addr: u64,
    /// With `bug = save`, `save` leaves it out (saves it as 0).
    scratch: u64,
    /// With `bug = memory`: what GROW allocated (never freed).
    #[serde(skip)]
    hoard: Vec<Vec<u8>>,
    /// With `bug = block`: the first byte of sector 0, as last read.
    sector0: u8,
}

impl Device for Buggy {
    fn create(props: &Props) -> Result<Self, String> {
        let bug = match props.str_or("bug", "none")?.as_str() {
            "none" => Bug::None,
            "trap" => Bug::Trap,
            "hang" => Bug::Hang,
            "dma" => Bug::Dma,
            "save" => Bug::Save,
            "reset" => Bug::Reset,
            "irq" => Bug::Irq,
            "memory" => Bug::Memory,
            "block" => Bug::Block,
            other => {
                return Err(format!(
                    "bug: unknown '{other}' (none, trap, hang, dma, save, reset, irq, memory, block)"
                ));
            }
        };
        props.finish()?;
        Ok(Buggy { bug, ..Buggy::default() })
    }

    fn describe(&self) -> Description {
        Description::new("buggy", env!("CARGO_PKG_VERSION")).region("regs", 0x40).irq_outputs(1)
    }

    fn reset(&mut self) {
        let scratch = self.scratch;
        *self = Buggy { bug: self.bug, ..Buggy::default() };
        if self.bug == Bug::Reset {
            self.scratch = scratch;
        }
    }

    fn read(&mut self, _region: u32, offset: u64, _size: u8) -> Result<u64, AccessError> {
        match offset {
            KEY => Ok(self.key),
            RESULT => {
                if self.bug == Bug::Trap && self.stage == 2 {
                    panic!("buggy: the secret sequence reached RESULT");
                }
                Ok(u64::from(self.stage))
            }
            DMA_ADDR => Ok(self.dma_addr),
            BLK_GO => Ok(u64::from(self.sector0)),
            SCRATCH => Ok(self.scratch),
            _ => Ok(0),
        }
    }

    fn write(&mut self, _region: u32, offset: u64, _size: u8, value: u64) -> Result<(), AccessError> {
        match offset {
            KEY => {
                self.key = value;
                self.stage = u8::from(value == 0x12);
            }
            KEY2 => self.stage = if self.stage == 1 && value == 0x34 { 2 } else { 0 },
            SPIN if self.bug == Bug::Hang && self.key == 0x21 && value == 0x43 => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            DMA_ADDR => self.dma_addr = value,
            DMA_GO if self.bug == Bug::Dma && self.key == 0x5a => {
                // The refusal is what the fuzzer reports; the device shrugs.
                let _ = dma::write(self.dma_addr, &[0xaa; 4]);
            }
            IRQ_GO if self.bug == Bug::Irq && self.key == 0x66 => irq::set(5, true),
            GROW if self.bug == Bug::Memory && self.key == 0x77 => {
                let mib = usize::try_from(value & 0xff).unwrap_or(0);
                self.hoard.push(vec![0xee; mib << 20]);
            }
            BLK_GO if self.bug == Bug::Block && self.key == 0x88 => {
                // The bug: a failing disk was never considered.
                let data = block::read(0, 0, 512).expect("buggy: sector 0 is always readable");
                self.sector0 = data.first().copied().unwrap_or(0);
            }
            SCRATCH => self.scratch = value,
            _ => {}
        }
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        let mut saved = self.clone();
        if self.bug == Bug::Save {
            saved.scratch = 0;
        }
        wemu_device_sdk::snapshot::save(&saved)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        *self = wemu_device_sdk::snapshot::restore(state)?;
        Ok(())
    }
}

wemu_device_sdk::export_device!(Buggy);

#[cfg(test)]
mod tests {
    use super::*;

    fn with(bug: Bug) -> Buggy {
        Buggy { bug, ..Buggy::default() }
    }

    #[test]
    fn the_trap_needs_the_whole_sequence() {
        let mut d = with(Bug::Trap);
        d.write(0, KEY, 4, 0x12).unwrap();
        assert_eq!(d.read(0, RESULT, 4), Ok(1));
        d.write(0, KEY2, 4, 0x35).unwrap();
        assert_eq!(d.read(0, RESULT, 4), Ok(0), "a wrong second key starts over");
        d.write(0, KEY, 4, 0x12).unwrap();
        d.write(0, KEY2, 4, 0x34).unwrap();
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.read(0, RESULT, 4))).is_err());
    }

    #[test]
    fn without_a_bug_save_restore_and_reset_are_sound() {
        let mut d = with(Bug::None);
        d.write(0, SCRATCH, 8, 7).unwrap();
        let mut e = with(Bug::None);
        e.restore(&d.save()).unwrap();
        assert_eq!(e.read(0, SCRATCH, 8), Ok(7));
        d.reset();
        assert_eq!(d.read(0, SCRATCH, 8), Ok(0));
    }

    #[test]
    fn the_block_bug_trusts_the_disk() {
        wemu_device_sdk::testing::TestHost::reset();
        let mut d = with(Bug::Block);
        d.write(0, KEY, 4, 0x88).unwrap();
        // No disk in the test host: the read fails and the device panics.
        let go = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.write(0, BLK_GO, 4, 1)));
        assert!(go.is_err());
    }

    #[test]
    fn the_save_bug_loses_scratch_and_the_reset_bug_keeps_it() {
        let mut d = with(Bug::Save);
        d.write(0, SCRATCH, 8, 7).unwrap();
        let mut e = with(Bug::Save);
        e.restore(&d.save()).unwrap();
        assert_eq!(e.read(0, SCRATCH, 8), Ok(0));
        let mut r = with(Bug::Reset);
        r.write(0, SCRATCH, 8, 7).unwrap();
        r.reset();
        assert_eq!(r.read(0, SCRATCH, 8), Ok(7));
    }
}
