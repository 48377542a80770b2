//! The per-instance store data: what a device can reach through its
//! imports, and what it asked for during the current call. Effects that
//! involve the rest of the machine (IRQ changes, timers, power) are queued
//! here and applied by the machine after the call returns, so one device
//! never re-enters another.

use std::rc::Rc;

use wasmtime::ResourceLimiter;

use crate::backend::block::{BlockError, BlockImage};
use crate::backend::chardev::CharSink;
use crate::contract::{block, chardev, clock, dma, irq, log, power, types};
use crate::ram::Ram;

/// Largest DMA transfer in one call.
pub const DMA_MAX: u32 = 1 << 20;

/// A timer request made by the device during a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOp {
    Set { id: u32, deadline_ns: u64 },
    Cancel { id: u32 },
}

/// A machine power request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerRequest {
    Poweroff(u32),
    Reset,
}

/// Guest-memory windows granted to a device, and the RAM behind them.
#[derive(Default)]
pub struct DmaGrant {
    pub windows: Vec<(u64, u64)>,
    pub rams: Vec<Rc<Ram>>,
}

impl DmaGrant {
    fn locate(&self, addr: u64, len: u64) -> Result<(&Ram, usize), dma::DmaError> {
        let end = addr.checked_add(len).ok_or(dma::DmaError::Denied)?;
        if !self.windows.iter().any(|&(b, s)| addr >= b && b.checked_add(s).is_some_and(|e| end <= e)) {
            return Err(dma::DmaError::Denied);
        }
        self.rams
            .iter()
            .find_map(|r| r.offset_of(addr, len).map(|off| (r.as_ref(), off)))
            .ok_or(dma::DmaError::Unmapped)
    }
}

/// Refuses memory growth past the instance's limit, remembering that it
/// did so the trap is reported as what it is.
pub struct MemoryLimiter {
    pub limit: u64,
    pub refused: bool,
    /// Size of the first memory when it was created (its declared
    /// minimum), and the largest size any memory reached (`wemu validate`
    /// reports both).
    pub initial: Option<u64>,
    pub peak: u64,
}

/// Everything one device instance's store holds.
pub struct DeviceState {
    pub name: String,
    pub limiter: MemoryLimiter,
    /// Output lines the device declared; `u32::MAX` until `create` returns.
    pub irq_outputs: u32,
    pub irq_changes: Vec<(u32, bool)>,
    pub now_ns: u64,
    pub timer_ops: Vec<TimerOp>,
    pub dma: DmaGrant,
    pub chardevs: Vec<Box<dyn CharSink>>,
    pub blocks: Vec<BlockImage>,
    pub power: Option<PowerRequest>,
    /// Set when an import refused a contract violation (classifies the trap).
    pub violation: Option<String>,
    /// The last error-level message the device logged (a panic message).
    pub last_error: Option<String>,
}

impl DeviceState {
    pub fn new(name: &str, memory_limit: u64) -> Self {
        DeviceState {
            name: name.to_owned(),
            limiter: MemoryLimiter { limit: memory_limit, refused: false, initial: None, peak: 0 },
            irq_outputs: u32::MAX,
            irq_changes: Vec::new(),
            now_ns: 0,
            timer_ops: Vec::new(),
            dma: DmaGrant::default(),
            chardevs: Vec::new(),
            blocks: Vec::new(),
            power: None,
            violation: None,
            last_error: None,
        }
    }

    fn violate(&mut self, msg: String) -> wasmtime::Error {
        self.violation = Some(msg.clone());
        wasmtime::Error::msg(msg)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // wasmtime asks with current = 0 when it creates a memory.
        if current == 0 && self.initial.is_none() {
            self.initial = Some(desired as u64);
        }
        if desired as u64 > self.limit {
            self.refused = true;
            // Trap rather than let the guest see a failed grow: a device
            // out of memory cannot recover meaningfully.
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded (wanted {desired})",
                self.limit
            )));
        }
        self.peak = self.peak.max(desired as u64);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl types::Host for DeviceState {}

impl log::Host for DeviceState {
    fn log(&mut self, level: types::LogLevel, message: String) -> wasmtime::Result<()> {
        let dev = self.name.as_str();
        match level {
            types::LogLevel::Trace => tracing::trace!(target: "wemu::device", device = dev, "{message}"),
            types::LogLevel::Debug => tracing::debug!(target: "wemu::device", device = dev, "{message}"),
            types::LogLevel::Info => tracing::info!(target: "wemu::device", device = dev, "{message}"),
            types::LogLevel::Warn => tracing::warn!(target: "wemu::device", device = dev, "{message}"),
            types::LogLevel::Error => {
                tracing::error!(target: "wemu::device", device = dev, "{message}");
                self.last_error = Some(message);
            }
        }
        Ok(())
    }
}

impl irq::Host for DeviceState {
    fn set(&mut self, line: u32, level: bool) -> wasmtime::Result<()> {
        if line >= self.irq_outputs {
            return Err(self.violate(format!(
                "irq.set on line {line}, but it declared {} output line(s)",
                self.irq_outputs
            )));
        }
        self.irq_changes.push((line, level));
        Ok(())
    }
}

impl clock::Host for DeviceState {
    fn now_ns(&mut self) -> wasmtime::Result<u64> {
        Ok(self.now_ns)
    }
    fn set_timer(&mut self, id: u32, deadline_ns: u64) -> wasmtime::Result<()> {
        self.timer_ops.push(TimerOp::Set { id, deadline_ns });
        Ok(())
    }
    fn cancel_timer(&mut self, id: u32) -> wasmtime::Result<()> {
        self.timer_ops.push(TimerOp::Cancel { id });
        Ok(())
    }
}

impl dma::Host for DeviceState {
    fn read(&mut self, addr: u64, len: u32) -> wasmtime::Result<Result<Vec<u8>, dma::DmaError>> {
        if len > DMA_MAX {
            return Ok(Err(dma::DmaError::TooLarge));
        }
        let res = self.dma.locate(addr, u64::from(len)).map(|(ram, off)| {
            let mut buf = vec![0; len as usize];
            ram.read(off, &mut buf);
            buf
        });
        if let Err(e) = &res {
            tracing::warn!(target: "wemu::dma", device = %self.name, "DMA read of {len} bytes at {addr:#x} refused: {e:?}");
        }
        Ok(res)
    }

    fn write(&mut self, addr: u64, data: Vec<u8>) -> wasmtime::Result<Result<(), dma::DmaError>> {
        if data.len() > DMA_MAX as usize {
            return Ok(Err(dma::DmaError::TooLarge));
        }
        let res = self.dma.locate(addr, data.len() as u64).map(|(ram, off)| {
            ram.write(off, &data);
        });
        if let Err(e) = &res {
            tracing::warn!(target: "wemu::dma", device = %self.name, "DMA write of {} bytes at {addr:#x} refused: {e:?}", data.len());
        }
        Ok(res)
    }
}

impl chardev::Host for DeviceState {
    fn write(&mut self, port: u32, data: Vec<u8>) -> wasmtime::Result<u32> {
        match self.chardevs.get_mut(port as usize) {
            Some(sink) => Ok(sink.write(&data).min(data.len()) as u32),
            // Unbound port: like an unplugged cable, bytes vanish.
            None => Ok(data.len() as u32),
        }
    }
}

fn block_err(e: BlockError) -> block::BlockError {
    match e {
        BlockError::OutOfRange => block::BlockError::OutOfRange,
        BlockError::ReadOnly => block::BlockError::ReadOnly,
        BlockError::Io => block::BlockError::Io,
    }
}

impl block::Host for DeviceState {
    fn size(&mut self, port: u32) -> wasmtime::Result<u64> {
        Ok(self.blocks.get(port as usize).map_or(0, BlockImage::size))
    }
    fn read(
        &mut self,
        port: u32,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, block::BlockError>> {
        if len > DMA_MAX {
            return Ok(Err(block::BlockError::OutOfRange));
        }
        Ok(match self.blocks.get(port as usize) {
            Some(img) => img.read(offset, len).map_err(block_err),
            None => Err(block::BlockError::NoBackend),
        })
    }
    fn write(
        &mut self,
        port: u32,
        offset: u64,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), block::BlockError>> {
        Ok(match self.blocks.get(port as usize) {
            Some(img) => img.write(offset, &data).map_err(block_err),
            None => Err(block::BlockError::NoBackend),
        })
    }
    fn flush(&mut self, port: u32) -> wasmtime::Result<Result<(), block::BlockError>> {
        Ok(match self.blocks.get(port as usize) {
            Some(img) => img.flush().map_err(block_err),
            None => Err(block::BlockError::NoBackend),
        })
    }
}

impl power::Host for DeviceState {
    fn poweroff(&mut self, code: u32) -> wasmtime::Result<()> {
        self.power.get_or_insert(PowerRequest::Poweroff(code));
        Ok(())
    }
    fn reset(&mut self) -> wasmtime::Result<()> {
        self.power.get_or_insert(PowerRequest::Reset);
        Ok(())
    }
}
