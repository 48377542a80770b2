//! What a device's imports reach outside its store, as traits the machine
//! (and the fuzzer) implement: guest memory for DMA, block images and
//! character sinks. The sandbox never sees the concrete types behind them.

/// Guest memory a device may DMA into: one contiguous guest-physical range.
pub trait DmaMemory {
    /// The offset of `[addr, addr + len)` in this memory, if it lies wholly
    /// inside.
    fn offset_of(&self, addr: u64, len: u64) -> Option<usize>;
    /// Copy `dst.len()` bytes from offset `off`; false if out of range.
    fn read(&self, off: usize, dst: &mut [u8]) -> bool;
    /// Copy `src` to offset `off`; false if out of range.
    fn write(&self, off: usize, src: &[u8]) -> bool;
}

/// Why a block request failed (mirrors the contract's `block-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    OutOfRange,
    ReadOnly,
    Io,
}

/// A disk image behind a device's block port.
pub trait BlockBackend {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// `len` bytes at `offset`.
    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, BlockError>;
    /// Write `data` at `offset`.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BlockError>;
    /// Make earlier writes durable.
    fn flush(&self) -> Result<(), BlockError>;
}

/// Where a device's output bytes go.
pub trait CharSink {
    /// Take as many bytes as possible; returns how many were taken.
    fn write(&mut self, data: &[u8]) -> usize;
}
