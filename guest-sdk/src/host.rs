//! Host services a device may call. Inside a component each function calls
//! the contract import of the same name; in native builds (unit tests) it
//! goes to the thread's [`crate::testing::TestHost`].

#[cfg(target_arch = "wasm32")]
use crate::rt::imports as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::native as imp;

/// Log records, shown through the host's `tracing` with the instance name.
pub mod log {
    use super::imp;

    /// Severity of a record.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Level {
        Trace,
        Debug,
        Info,
        Warn,
        Error,
    }

    pub fn log(level: Level, message: &str) {
        imp::log(level, message);
    }
    pub fn trace(message: &str) {
        log(Level::Trace, message);
    }
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Interrupt outputs (always available).
pub mod irq {
    use super::imp;

    /// Drive output `line` to `level` (level-triggered). A line beyond the
    /// description's `irq_outputs` is a contract violation: the host faults
    /// the device.
    pub fn set(line: u32, level: bool) {
        imp::set_irq(line, level);
    }
}

/// Virtual time and timers (capability `timers`).
pub mod clock {
    use super::imp;

    /// Virtual nanoseconds since machine start.
    pub fn now_ns() -> u64 {
        imp::now_ns()
    }
    /// Arm (or re-arm) timer `id` at absolute `deadline_ns`.
    pub fn set_timer(id: u32, deadline_ns: u64) {
        imp::set_timer(id, deadline_ns);
    }
    /// Disarm timer `id`.
    pub fn cancel_timer(id: u32) {
        imp::cancel_timer(id);
    }
}

/// Guest memory access (capability `dma`).
pub mod dma {
    use super::imp;

    /// Why a DMA request was refused.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DmaError {
        /// Outside every window granted to this device.
        Denied,
        /// Granted, but not backed by RAM.
        Unmapped,
        /// Larger than one call may move (1 MiB).
        TooLarge,
    }

    pub fn read(addr: u64, len: u32) -> Result<Vec<u8>, DmaError> {
        imp::dma_read(addr, len)
    }
    pub fn write(addr: u64, data: &[u8]) -> Result<(), DmaError> {
        imp::dma_write(addr, data)
    }
}

/// Character backends (capability `chardev`).
pub mod chardev {
    use super::imp;

    /// Send bytes out of `port`; returns how many the backend took.
    pub fn write(port: u32, data: &[u8]) -> u32 {
        imp::char_write(port, data)
    }
}

/// Block backends (capability `block`).
pub mod block {
    use super::imp;

    /// Why a block request failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BlockError {
        OutOfRange,
        ReadOnly,
        Io,
        NoBackend,
    }

    pub fn size(port: u32) -> u64 {
        imp::block_size(port)
    }
    pub fn read(port: u32, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        imp::block_read(port, offset, len)
    }
    pub fn write(port: u32, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        imp::block_write(port, offset, data)
    }
    pub fn flush(port: u32) -> Result<(), BlockError> {
        imp::block_flush(port)
    }
}

/// Machine power control (capability `power`).
pub mod power {
    use super::imp;

    /// Stop the machine after this access; wemu exits with `code`.
    pub fn poweroff(code: u32) {
        imp::poweroff(code);
    }
    /// Reset the whole machine after this access.
    pub fn reset() {
        imp::machine_reset();
    }
}
