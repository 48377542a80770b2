//! An in-process stand-in for the emulator, for native unit tests of a
//! device model. Each test thread has its own [`TestHost`]; the
//! [`crate::host`] functions talk to it when not compiled for wasm.
//!
//! ```
//! use wemu_device_sdk::testing::TestHost;
//! TestHost::reset();
//! wemu_device_sdk::irq::set(0, true);
//! assert!(TestHost::with(|h| h.irq(0)));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::block::BlockError;
use crate::dma::DmaError;
use crate::log::Level;

/// What the device did to its host, and what the host offers it.
#[derive(Debug, Default)]
pub struct TestHost {
    /// Current level of each output line.
    pub irq_levels: BTreeMap<u32, bool>,
    /// Every `irq::set` call in order.
    pub irq_calls: Vec<(u32, bool)>,
    /// Bytes written per character port.
    pub char_out: BTreeMap<u32, Vec<u8>>,
    /// Limit on bytes a `chardev::write` takes (None = all).
    pub char_capacity: Option<u32>,
    /// The virtual clock.
    pub now_ns: u64,
    /// Armed timers: id → deadline.
    pub timers: BTreeMap<u32, u64>,
    /// Guest RAM visible to DMA: base address and bytes.
    pub dma_base: u64,
    pub dma_mem: Vec<u8>,
    /// Block image per port and whether it is read-only.
    pub blocks: BTreeMap<u32, (Vec<u8>, bool)>,
    /// Log records.
    pub logs: Vec<(Level, String)>,
    /// Power requests in order.
    pub power: Vec<PowerRequest>,
}

/// A request made through [`crate::power`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerRequest {
    Poweroff(u32),
    Reset,
}

thread_local! {
    static HOST: RefCell<TestHost> = RefCell::new(TestHost::default());
}

impl TestHost {
    /// Start a test from a clean host.
    pub fn reset() {
        HOST.with(|h| *h.borrow_mut() = TestHost::default());
    }

    /// Inspect or change this thread's host.
    pub fn with<R>(f: impl FnOnce(&mut TestHost) -> R) -> R {
        HOST.with(|h| f(&mut h.borrow_mut()))
    }

    /// Level of output `line` (false if never driven).
    pub fn irq(&self, line: u32) -> bool {
        self.irq_levels.get(&line).copied().unwrap_or(false)
    }

    /// Take the bytes written to `port` so far.
    pub fn take_output(&mut self, port: u32) -> Vec<u8> {
        self.char_out.remove(&port).unwrap_or_default()
    }

    fn dma_range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>, DmaError> {
        let start = addr.checked_sub(self.dma_base).ok_or(DmaError::Denied)?;
        let start = usize::try_from(start).map_err(|_| DmaError::Denied)?;
        let end = start.checked_add(len).ok_or(DmaError::Denied)?;
        if end > self.dma_mem.len() {
            return Err(DmaError::Denied);
        }
        Ok(start..end)
    }

    fn block_range(&self, port: u32, offset: u64, len: usize) -> Result<std::ops::Range<usize>, BlockError> {
        let (img, _) = self.blocks.get(&port).ok_or(BlockError::NoBackend)?;
        let start = usize::try_from(offset).map_err(|_| BlockError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(BlockError::OutOfRange)?;
        if end > img.len() {
            return Err(BlockError::OutOfRange);
        }
        Ok(start..end)
    }
}

/// The native implementations behind [`crate::host`].
#[doc(hidden)]
pub mod native {
    use super::*;

    pub fn log(level: Level, message: &str) {
        TestHost::with(|h| h.logs.push((level, message.to_owned())));
    }
    pub fn set_irq(line: u32, level: bool) {
        TestHost::with(|h| {
            h.irq_calls.push((line, level));
            h.irq_levels.insert(line, level);
        });
    }
    pub fn now_ns() -> u64 {
        TestHost::with(|h| h.now_ns)
    }
    pub fn set_timer(id: u32, deadline_ns: u64) {
        TestHost::with(|h| h.timers.insert(id, deadline_ns));
    }
    pub fn cancel_timer(id: u32) {
        TestHost::with(|h| h.timers.remove(&id));
    }
    pub fn dma_read(addr: u64, len: u32) -> Result<Vec<u8>, DmaError> {
        TestHost::with(|h| {
            let r = h.dma_range(addr, len as usize)?;
            Ok(h.dma_mem[r].to_vec())
        })
    }
    pub fn dma_write(addr: u64, data: &[u8]) -> Result<(), DmaError> {
        TestHost::with(|h| {
            let r = h.dma_range(addr, data.len())?;
            h.dma_mem[r].copy_from_slice(data);
            Ok(())
        })
    }
    pub fn char_write(port: u32, data: &[u8]) -> u32 {
        TestHost::with(|h| {
            let n = h.char_capacity.map_or(data.len(), |c| data.len().min(c as usize));
            h.char_out.entry(port).or_default().extend_from_slice(&data[..n]);
            n as u32
        })
    }
    pub fn block_size(port: u32) -> u64 {
        TestHost::with(|h| h.blocks.get(&port).map_or(0, |(img, _)| img.len() as u64))
    }
    pub fn block_read(port: u32, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        TestHost::with(|h| {
            let r = h.block_range(port, offset, len as usize)?;
            Ok(h.blocks[&port].0[r].to_vec())
        })
    }
    pub fn block_write(port: u32, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        TestHost::with(|h| {
            let r = h.block_range(port, offset, data.len())?;
            match h.blocks.get_mut(&port) {
                Some((_, true)) => Err(BlockError::ReadOnly),
                Some((img, false)) => {
                    img[r].copy_from_slice(data);
                    Ok(())
                }
                None => Err(BlockError::NoBackend),
            }
        })
    }
    pub fn poweroff(code: u32) {
        TestHost::with(|h| h.power.push(PowerRequest::Poweroff(code)));
    }
    pub fn machine_reset() {
        TestHost::with(|h| h.power.push(PowerRequest::Reset));
    }
    pub fn block_flush(port: u32) -> Result<(), BlockError> {
        TestHost::with(|h| if h.blocks.contains_key(&port) { Ok(()) } else { Err(BlockError::NoBackend) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_is_confined_to_the_test_window() {
        TestHost::reset();
        TestHost::with(|h| {
            h.dma_base = 0x1000;
            h.dma_mem = vec![0; 16];
        });
        assert_eq!(crate::dma::write(0x1004, &[1, 2]), Ok(()));
        assert_eq!(crate::dma::read(0x1004, 2), Ok(vec![1, 2]));
        assert_eq!(crate::dma::read(0x100f, 2), Err(DmaError::Denied));
        assert_eq!(crate::dma::read(0xfff, 1), Err(DmaError::Denied));
    }

    #[test]
    fn block_respects_read_only() {
        TestHost::reset();
        TestHost::with(|h| h.blocks.insert(0, (vec![0; 512], true)));
        assert_eq!(crate::block::size(0), 512);
        assert_eq!(crate::block::write(0, 0, &[1]), Err(BlockError::ReadOnly));
        assert_eq!(crate::block::read(0, 510, 4), Err(BlockError::OutOfRange));
        assert_eq!(crate::block::read(1, 0, 1), Err(BlockError::NoBackend));
    }
}
