//! # wemu-device-virtio — virtio devices for wemu
//!
//! The virtio-mmio transport, version 2 only (virtio 1.1 §4.2.2), and
//! split virtqueues (§2.6) on top of the `wemu-device-sdk` SDK. A device type
//! (block, entropy, …) is a [`Backend`]: its device ID, feature bits,
//! configuration space and a function that serves one descriptor chain.
//! [`VirtioMmio<B>`] turns it into a complete [`wemu_device_sdk::Device`]:
//!
//! ```ignore
//! pub type VirtioRng = wemu_device_virtio::VirtioMmio<Rng>;
//! wemu_device_sdk::export_device!(VirtioRng);
//! ```
//!
//! Queues are read and written through the `dma` import, so the machine
//! file must grant the device a DMA window over guest RAM
//! (`dma = [{ memory = "ram" }]`) and timers (`timers = true`; a long
//! burst of requests is served in slices, continued from a timer, so one
//! call never exhausts its fuel).
//!
//! Everything the driver controls is checked: descriptor indexes, loops,
//! chain lengths, indirect tables, ring addresses, the ordering of
//! readable and writable buffers, DMA failures. A driver that breaks the
//! rules gets `DEVICE_NEEDS_RESET` (§2.1.2) and a warning in the log; the
//! device itself never traps.

pub mod queue;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(test)]
mod tests;
mod transport;

pub use queue::{Chain, Fault, Seg};
pub use transport::{Empty, VirtioMmio};

use wemu_device_sdk::Props;

/// `MagicValue`: "virt" in little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// The transport version implemented (1 is the legacy interface).
pub const VERSION: u32 = 2;
/// `VendorID`, QEMU's ("QEMU"), which Linux does not check.
pub const VENDOR_ID: u32 = 0x554d_4551;
/// Size of the register window.
pub const REGION_SIZE: u64 = 0x1000;

/// Register offsets (virtio 1.1 §4.2.2, table "MMIO Device Register Layout").
pub mod reg {
    pub const MAGIC_VALUE: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// Device status bits (§2.1).
pub mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    pub const FAILED: u32 = 128;
}

/// `InterruptStatus` bits (§4.2.2).
pub mod int {
    /// The device used a buffer in at least one queue.
    pub const VRING: u32 = 1;
    /// The configuration changed (or the device needs a reset).
    pub const CONFIG: u32 = 2;
}

/// Transport feature bits (§6).
pub mod feature {
    pub const INDIRECT_DESC: u64 = 1 << 28;
    pub const EVENT_IDX: u64 = 1 << 29;
    pub const VERSION_1: u64 = 1 << 32;
}

/// One virtio device type behind the transport.
pub trait Backend: Sized + serde::Serialize + serde::de::DeserializeOwned + 'static {
    /// Model name in the description, e.g. "virtio-blk".
    const NAME: &'static str;
    /// The model's own version.
    const VERSION: &'static str;
    /// Virtio device ID (§5); 0 is an empty slot.
    const DEVICE_ID: u32;
    /// `QueueNumMax` of each queue, one entry per queue; each a power of 2.
    const QUEUES: &'static [u16];

    /// Build from the machine file's properties (call [`Props::finish`]).
    fn create(props: &Props) -> Result<Self, String>;

    /// Device-type feature bits offered (the transport adds VERSION_1,
    /// INDIRECT_DESC and EVENT_IDX).
    fn features(&self) -> u64;

    /// The configuration space as the driver reads it (little-endian).
    fn config(&self) -> Vec<u8>;

    /// A driver write to the configuration space at `offset`. The default
    /// ignores it (read-only configuration).
    fn write_config(&mut self, offset: u64, data: &[u8]) {
        let _ = (offset, data);
        wemu_device_sdk::log::warn(&format!("write to read-only config space at {offset:#x} ignored"));
    }

    /// Serve one request from queue `queue`; `features` are the negotiated
    /// ones. Returns how many bytes were written into the chain's writable
    /// buffers (the used element's `len`). An `Err` is a driver bug: the
    /// device sets `DEVICE_NEEDS_RESET`.
    fn process(&mut self, queue: u16, chain: &Chain, features: u64) -> Result<u32, Fault>;

    /// The driver reset the device (wrote 0 to `Status`).
    fn driver_reset(&mut self) {}

    /// Power-on reset of the machine: back to the state after `create`.
    fn power_on_reset(&mut self) {
        self.driver_reset();
    }

    /// Check a state from `restore` (ranges the model relies on).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
