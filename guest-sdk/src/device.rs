//! The trait a device model implements.

use crate::{Description, Props};

/// Why an MMIO access was refused; the guest takes an access fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// No register at this offset.
    InvalidOffset,
    /// The register does not support this access width.
    InvalidSize,
}

/// A device model. The host calls these one at a time, never re-entrantly.
///
/// Offsets are relative to the start of region `region` (the index into
/// [`Description::region`] calls, in order). Sizes are 1, 2, 4 or 8.
pub trait Device: Sized + 'static {
    /// Build the device from its machine-file properties. Return `Err` with
    /// a message naming the bad property. Call [`Props::finish`] to refuse
    /// properties the model does not know.
    fn create(props: &Props) -> Result<Self, String>;

    /// What this instance is: regions, IRQ lines, device-tree node.
    fn describe(&self) -> Description;

    /// Return to power-on state.
    fn reset(&mut self);

    /// MMIO read; the result is zero-extended from `size` bytes.
    fn read(&mut self, region: u32, offset: u64, size: u8) -> Result<u64, AccessError>;

    /// MMIO write; only the low `size` bytes of `value` matter.
    fn write(&mut self, region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError>;

    /// An input interrupt line changed (for interrupt controllers).
    fn irq_input(&mut self, line: u32, level: bool) {
        let _ = (line, level);
    }

    /// A timer armed with [`crate::clock::set_timer`] fired.
    fn timer_fired(&mut self, id: u32) {
        let _ = id;
    }

    /// Bytes arrived on a character port; return how many were taken. The
    /// host keeps the rest and offers them again later. The default takes
    /// nothing, which leaves input queued on the host.
    fn char_input(&mut self, port: u32, data: &[u8]) -> u32 {
        let _ = (port, data);
        0
    }

    /// Serialize the whole state ([`crate::snapshot::save`] does it with serde).
    fn save(&self) -> Vec<u8>;

    /// Restore a state from [`Device::save`].
    fn restore(&mut self, state: &[u8]) -> Result<(), String>;
}
