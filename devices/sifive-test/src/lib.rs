//! SiFive test finisher (`sifive,test0`), as in QEMU's riscv `virt`: a
//! write to offset 0 ends the simulation. Accesses are 16 or 32 bits wide,
//! as QEMU's (OpenSBI's driver writes 16 bits; the exit code needs 32).
//!
//! | value                    | effect                          |
//! |--------------------------|---------------------------------|
//! | `0x5555`                 | power off, exit status 0        |
//! | `(code << 16) \| 0x3333` | power off, exit status `code`   |
//! | `0x7777`                 | reset the machine               |
//!
//! Anything else is logged and ignored. Needs the `power` capability.

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, log, power};

const FINISHER_FAIL: u64 = 0x3333;
const FINISHER_PASS: u64 = 0x5555;
const FINISHER_RESET: u64 = 0x7777;

#[derive(Debug, Serialize, Deserialize)]
pub struct SifiveTest;

impl Device for SifiveTest {
    fn create(props: &Props) -> Result<Self, String> {
        props.finish()?;
        Ok(SifiveTest)
    }

    fn describe(&self) -> Description {
        Description::new("sifive-test", env!("CARGO_PKG_VERSION"))
            .region("regs", 0x1000)
            .dt_node(DtNode::new("test", &["sifive,test1", "sifive,test0", "syscon"]))
    }

    fn reset(&mut self) {}

    fn read(&mut self, _region: u32, offset: u64, size: u8) -> Result<u64, AccessError> {
        if !(2..=4).contains(&size) {
            return Err(AccessError::InvalidSize);
        }
        // QEMU reads as zero anywhere in the window.
        if offset >= 0x1000 { Err(AccessError::InvalidOffset) } else { Ok(0) }
    }

    fn write(&mut self, _region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError> {
        if !(2..=4).contains(&size) {
            return Err(AccessError::InvalidSize);
        }
        if offset != 0 {
            log::warn(&format!("write of {value:#x} to unimplemented offset {offset:#x}"));
            return Ok(());
        }
        let value = value & 0xffff_ffff;
        match value & 0xffff {
            FINISHER_PASS => power::poweroff(0),
            FINISHER_FAIL => power::poweroff((value >> 16) as u32),
            FINISHER_RESET => power::reset(),
            _ => log::warn(&format!("unknown finisher command {value:#x}")),
        }
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        *self = wemu_device_sdk::snapshot::restore(state)?;
        Ok(())
    }
}

wemu_device_sdk::export_device!(SifiveTest);

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::testing::{PowerRequest, TestHost};

    fn dev() -> SifiveTest {
        TestHost::reset();
        SifiveTest::create(&Props::default()).unwrap()
    }

    #[test]
    fn pass_fail_and_reset_map_to_power_requests() {
        let mut d = dev();
        d.write(0, 0, 4, 0x5555).unwrap();
        d.write(0, 0, 4, (42 << 16) | 0x3333).unwrap();
        d.write(0, 0, 4, 0x7777).unwrap();
        let got = TestHost::with(|h| h.power.clone());
        assert_eq!(got, vec![PowerRequest::Poweroff(0), PowerRequest::Poweroff(42), PowerRequest::Reset]);
    }

    #[test]
    fn unknown_values_are_ignored_and_logged() {
        let mut d = dev();
        d.write(0, 0, 4, 0x1234).unwrap();
        TestHost::with(|h| {
            assert!(h.power.is_empty());
            assert!(h.logs.iter().any(|(_, m)| m.contains("0x1234")));
        });
    }

    #[test]
    fn sixteen_bit_writes_work_as_qemus_and_other_widths_are_refused() {
        let mut d = dev();
        assert_eq!(d.write(0, 0, 1, 0x55), Err(AccessError::InvalidSize));
        assert_eq!(d.write(0, 0, 8, 0x5555), Err(AccessError::InvalidSize));
        assert_eq!(d.read(0, 0, 1), Err(AccessError::InvalidSize));
        assert_eq!(d.read(0, 0, 4), Ok(0));
        assert!(TestHost::with(|h| h.power.is_empty()));
        // OpenSBI's sifive_test driver: writew(0x5555).
        d.write(0, 0, 2, 0x5555).unwrap();
        assert_eq!(TestHost::with(|h| h.power.clone()), vec![PowerRequest::Poweroff(0)]);
    }

    #[test]
    fn unknown_props_are_refused() {
        TestHost::reset();
        let p = Props::new(vec![("x".into(), wemu_device_sdk::PropValue::Int(1))]);
        assert!(SifiveTest::create(&p).unwrap_err().contains("'x'"));
    }
}
