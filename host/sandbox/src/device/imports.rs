//! The per-instance store data: what a device can reach through its
//! imports, and what it asked for during the current call. Effects that
//! involve the rest of the machine (IRQ changes, timers, power) are queued
//! here and applied by the machine after the call returns, so one device
//! never re-enters another.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::limits::{LOG_MESSAGE_MAX, LOG_WINDOW_NS, Limits, MemoryLimiter};
use crate::backend::{BlockBackend, BlockError, CharSink, DmaMemory};
use crate::contract::{block, chardev, clock, dma, irq, log, power, types};

pub use super::limits::DMA_MAX;

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

/// One DMA request, as recorded for the fuzzer (`DeviceImports::dma_log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaEvent {
    pub addr: u64,
    pub len: u64,
    pub write: bool,
    pub result: Result<(), dma::DmaError>,
}

/// Guest-memory windows granted to a device, and the RAM behind them.
#[derive(Default)]
pub struct DmaGrant {
    pub windows: Vec<(u64, u64)>,
    pub rams: Vec<Rc<dyn DmaMemory>>,
}

impl DmaGrant {
    fn locate(&self, addr: u64, len: u64) -> Result<(&dyn DmaMemory, usize), dma::DmaError> {
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

/// Everything one device instance's store holds.
pub struct DeviceImports {
    pub name: String,
    pub limiter: MemoryLimiter,
    /// Output lines the device declared; `u32::MAX` until `create` returns.
    pub irq_outputs: u32,
    pub irq_changes: Vec<(u32, bool)>,
    /// `irq.set` calls in the current call (`limits.irq_changes` caps it).
    pub irq_sets_this_call: u32,
    pub now_ns: u64,
    /// Timer requests, and which timers are armed.
    pub timers: TimerRequests,
    /// What the device may consume besides fuel and memory.
    pub limits: Limits,
    log_window: LogWindow,
    pub dma: DmaGrant,
    pub chardevs: Vec<Box<dyn CharSink>>,
    pub blocks: Vec<Rc<dyn BlockBackend>>,
    pub power: Option<PowerRequest>,
    /// Set when an import refused a contract violation (classifies the trap).
    pub violation: Option<String>,
    /// The last error-level message the device logged (a panic message).
    pub last_error: Option<String>,
    /// When set, every DMA request is appended here (the fuzzer checks
    /// them; a machine leaves it off so nothing accumulates).
    pub dma_log: Option<Vec<DmaEvent>>,
}

impl DeviceImports {
    pub fn new(name: &str, memory_limit: u64) -> Self {
        DeviceImports {
            name: name.to_owned(),
            limiter: MemoryLimiter::new(memory_limit),
            irq_outputs: u32::MAX,
            irq_changes: Vec::new(),
            irq_sets_this_call: 0,
            now_ns: 0,
            timers: TimerRequests::default(),
            limits: Limits::default(),
            log_window: LogWindow::default(),
            dma: DmaGrant::default(),
            chardevs: Vec::new(),
            blocks: Vec::new(),
            power: None,
            violation: None,
            last_error: None,
            dma_log: None,
        }
    }

    fn violate(&mut self, msg: String) -> wasmtime::Error {
        self.violation = Some(msg.clone());
        wasmtime::Error::msg(msg)
    }
}

/// A device's timer requests since the machine last took them, and the
/// timers armed. Bounded by the live-timer limit however the device calls
/// `set-timer` and `cancel-timer`: only the last request per id matters
/// (each replaces the timer's earlier state), so an earlier one is
/// dropped when a new one comes, and a cancel of a timer the host never
/// received is no request at all.
#[derive(Debug, Default)]
pub struct TimerRequests {
    /// In call order; `None` where a later request replaced one.
    ops: Vec<Option<TimerOp>>,
    /// Where each id's pending request is in `ops`.
    index: HashMap<u32, usize>,
    /// Armed from the device's point of view: set, and neither fired nor
    /// cancelled.
    live: HashSet<u32>,
    /// Armed in the host's timer queue (the requests taken so far, minus
    /// the timers that fired).
    held: HashSet<u32>,
}

/// A timer armed beyond the instance's `max-timers`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("armed timer {id} with {armed} timers armed already, its limit (max-timers)")]
pub struct TimerLimit {
    pub id: u32,
    /// Timers armed when it was refused.
    pub armed: usize,
}

impl TimerRequests {
    /// Arm (or re-arm) timer `id`; refused when `limit` timers are armed
    /// already and `id` is not one of them.
    pub fn set(&mut self, id: u32, deadline_ns: u64, limit: u32) -> Result<(), TimerLimit> {
        if !self.live.contains(&id) && self.live.len() >= limit as usize {
            return Err(TimerLimit { id, armed: self.live.len() });
        }
        self.live.insert(id);
        self.push(id, Some(TimerOp::Set { id, deadline_ns }));
        Ok(())
    }

    pub fn cancel(&mut self, id: u32) {
        if self.live.remove(&id) {
            let op = self.held.contains(&id).then_some(TimerOp::Cancel { id });
            self.push(id, op);
        }
    }

    /// Replace `id`'s pending request by `op` (`None`: no request).
    fn push(&mut self, id: u32, op: Option<TimerOp>) {
        if let Some(old) = self.index.remove(&id)
            && let Some(slot) = self.ops.get_mut(old)
        {
            *slot = None;
        }
        if let Some(op) = op {
            self.index.insert(id, self.ops.len());
            self.ops.push(Some(op));
        }
        // Replaced entries are dropped once they are the majority (at most
        // one live entry per id, so the vector stays within twice that).
        if self.ops.len() > 64 && self.ops.len() > 2 * self.index.len() {
            self.ops.retain(Option::is_some);
            self.index.clear();
            for (i, op) in self.ops.iter().flatten().enumerate() {
                self.index.insert(op.id(), i);
            }
        }
    }

    /// The requests for the host's timer queue, in call order.
    pub fn take(&mut self) -> Vec<TimerOp> {
        self.index.clear();
        let ops: Vec<TimerOp> = std::mem::take(&mut self.ops).into_iter().flatten().collect();
        for op in &ops {
            match *op {
                TimerOp::Set { id, .. } => self.held.insert(id),
                TimerOp::Cancel { id } => self.held.remove(&id),
            };
        }
        ops
    }

    /// The host fired timer `id` (it is no longer armed).
    pub fn fired(&mut self, id: u32) {
        self.held.remove(&id);
        // Re-armed since the host took it? Then it stays live.
        if !self.index.contains_key(&id) {
            self.live.remove(&id);
        }
    }

    /// The host dropped every timer of the device (machine reset, restore).
    pub fn clear(&mut self) {
        *self = TimerRequests::default();
    }

    /// Timers armed now.
    pub fn armed(&self) -> usize {
        self.live.len()
    }

    /// Requests waiting (tests).
    pub fn pending(&self) -> usize {
        self.index.len()
    }
}

impl TimerOp {
    pub fn id(&self) -> u32 {
        match *self {
            TimerOp::Set { id, .. } | TimerOp::Cancel { id } => id,
        }
    }
}

/// Log records printed in the current window of virtual time, and those
/// dropped past `limits.log_records`.
#[derive(Debug, Default)]
struct LogWindow {
    start_ns: u64,
    printed: u32,
    dropped: u64,
}

/// `message` cut to at most `LOG_MESSAGE_MAX` bytes, on a character
/// boundary, saying how much was cut.
fn clip_message(message: String) -> String {
    if message.len() <= LOG_MESSAGE_MAX {
        return message;
    }
    let mut end = LOG_MESSAGE_MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes not shown)", &message[..end], message.len() - end)
}

impl types::Host for DeviceImports {}

impl log::Host for DeviceImports {
    fn log(&mut self, level: types::LogLevel, message: String) -> wasmtime::Result<()> {
        let message = clip_message(message);
        let dev = self.name.as_str();
        // The panic message is kept whatever the rate: it explains a trap.
        let is_error = matches!(level, types::LogLevel::Error);
        let w = &mut self.log_window;
        if self.now_ns.saturating_sub(w.start_ns) >= LOG_WINDOW_NS || self.now_ns < w.start_ns {
            if w.dropped > 0 {
                tracing::warn!(
                    target: "wemu::device", device = dev,
                    "{} log record(s) of device '{dev}' dropped: over its limit of {} per second of virtual time (log-limit)",
                    w.dropped, self.limits.log_records
                );
            }
            *w = LogWindow { start_ns: self.now_ns, printed: 0, dropped: 0 };
        }
        if w.printed >= self.limits.log_records {
            if w.dropped == 0 {
                tracing::warn!(
                    target: "wemu::device", device = dev,
                    "device '{dev}' logged {} records within a second of virtual time (log-limit): \
                     further records are dropped until the second ends",
                    self.limits.log_records
                );
            }
            w.dropped += 1;
        } else {
            w.printed += 1;
            match level {
                types::LogLevel::Trace => tracing::trace!(target: "wemu::device", device = dev, "{message}"),
                types::LogLevel::Debug => tracing::debug!(target: "wemu::device", device = dev, "{message}"),
                types::LogLevel::Info => tracing::info!(target: "wemu::device", device = dev, "{message}"),
                types::LogLevel::Warn => tracing::warn!(target: "wemu::device", device = dev, "{message}"),
                types::LogLevel::Error => tracing::error!(target: "wemu::device", device = dev, "{message}"),
            }
        }
        if is_error {
            self.last_error = Some(message);
        }
        Ok(())
    }
}

impl irq::Host for DeviceImports {
    fn set(&mut self, line: u32, level: bool) -> wasmtime::Result<()> {
        if line >= self.irq_outputs {
            return Err(self.violate(format!(
                "irq.set on line {line}, but it declared {} output line(s)",
                self.irq_outputs
            )));
        }
        self.irq_sets_this_call = self.irq_sets_this_call.saturating_add(1);
        if self.irq_sets_this_call > self.limits.irq_changes {
            return Err(self.violate(format!(
                "queued more than {} IRQ line changes in one call (max-irq-changes)",
                self.limits.irq_changes
            )));
        }
        self.irq_changes.push((line, level));
        Ok(())
    }
}

impl clock::Host for DeviceImports {
    fn now_ns(&mut self) -> wasmtime::Result<u64> {
        Ok(self.now_ns)
    }
    fn set_timer(&mut self, id: u32, deadline_ns: u64) -> wasmtime::Result<()> {
        let limit = self.limits.timers;
        self.timers.set(id, deadline_ns, limit).map_err(|e| self.violate(e.to_string()))
    }
    fn cancel_timer(&mut self, id: u32) -> wasmtime::Result<()> {
        self.timers.cancel(id);
        Ok(())
    }
}

impl dma::Host for DeviceImports {
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
        if let Some(log) = &mut self.dma_log {
            log.push(DmaEvent {
                addr,
                len: u64::from(len),
                write: false,
                result: res.as_ref().map(|_| ()).map_err(|e| *e),
            });
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
        if let Some(log) = &mut self.dma_log {
            log.push(DmaEvent { addr, len: data.len() as u64, write: true, result: res });
        }
        Ok(res)
    }
}

impl chardev::Host for DeviceImports {
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

impl block::Host for DeviceImports {
    fn size(&mut self, port: u32) -> wasmtime::Result<u64> {
        Ok(self.blocks.get(port as usize).map_or(0, |b| b.size()))
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
        // As for reads: one request moves at most DMA_MAX bytes.
        if data.len() > DMA_MAX as usize {
            return Ok(Err(block::BlockError::OutOfRange));
        }
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

impl power::Host for DeviceImports {
    fn poweroff(&mut self, code: u32) -> wasmtime::Result<()> {
        self.power.get_or_insert(PowerRequest::Poweroff(code));
        Ok(())
    }
    fn reset(&mut self) -> wasmtime::Result<()> {
        self.power.get_or_insert(PowerRequest::Reset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_request_per_timer_is_queued() {
        let mut t = TimerRequests::default();
        for i in 0..100_000 {
            t.set(4, i, 1).expect("one timer");
        }
        assert_eq!(t.pending(), 1);
        assert!(t.ops.len() <= 130, "replaced requests are dropped: {}", t.ops.len());
        assert_eq!(t.take(), vec![TimerOp::Set { id: 4, deadline_ns: 99_999 }]);
        // The host holds timer 4 now: cancelling it is a request.
        t.cancel(4);
        assert_eq!(t.take(), vec![TimerOp::Cancel { id: 4 }]);
        assert_eq!(t.armed(), 0);
    }

    #[test]
    fn timers_armed_and_cancelled_within_a_call_leave_nothing() {
        let mut t = TimerRequests::default();
        for id in 0..1_000_000 {
            t.set(id, 10, 1).expect("one at a time");
            t.cancel(id);
        }
        assert!(t.ops.len() <= 130, "{}", t.ops.len());
        assert_eq!(t.take(), Vec::new());
    }

    #[test]
    fn the_limit_counts_armed_timers_and_frees_fired_ones() {
        let mut t = TimerRequests::default();
        t.set(1, 10, 2).expect("first");
        t.set(2, 20, 2).expect("second");
        t.set(1, 30, 2).expect("re-arming is not a new timer");
        let err = t.set(3, 40, 2).expect_err("a third");
        assert_eq!(err, TimerLimit { id: 3, armed: 2 });
        assert!(err.to_string().contains("armed timer 3 with 2 timers armed already"), "{err}");
        assert_eq!(t.take().len(), 2);
        t.fired(2);
        t.set(3, 40, 2).expect("timer 2 fired: room again");
        assert_eq!(t.take(), vec![TimerOp::Set { id: 3, deadline_ns: 40 }]);
        t.clear();
        assert_eq!(t.armed(), 0);
    }

    #[test]
    fn requests_keep_their_call_order() {
        let mut t = TimerRequests::default();
        t.set(1, 5, 8).expect("1");
        t.set(2, 5, 8).expect("2");
        t.set(1, 5, 8).expect("1 again: now after 2");
        assert_eq!(
            t.take(),
            vec![TimerOp::Set { id: 2, deadline_ns: 5 }, TimerOp::Set { id: 1, deadline_ns: 5 }]
        );
    }

    #[test]
    fn long_log_messages_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(LOG_MESSAGE_MAX);
        let clipped = clip_message(long.clone());
        assert!(clipped.len() < long.len());
        assert!(clipped.ends_with(&format!("({} more bytes not shown)", long.len() - LOG_MESSAGE_MAX)));
        assert_eq!(clip_message("short".into()), "short");
    }
}
