//! # wemu-device-sdk — write a wemu device model in Rust
//!
//! A device is a type implementing [`Device`] plus one line,
//! [`export_device!`]. Build the crate as a `cdylib` for
//! `wasm32-unknown-unknown` and wrap it into a component (wemu's build does
//! both for the devices in its tree; see `docs/device-authoring.md`).
//!
//! ```ignore
//! use wemu_device_sdk::{AccessError, Description, Device, Props};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Scratch { value: u32 }
//!
//! impl Device for Scratch {
//!     fn create(props: &Props) -> Result<Self, String> {
//!         let value = props.u64_or("reset-value", 0)? as u32;
//!         props.finish()?;
//!         Ok(Scratch { value })
//!     }
//!     fn describe(&self) -> Description {
//!         Description::new("scratch", env!("CARGO_PKG_VERSION")).region("regs", 4)
//!     }
//!     fn reset(&mut self) { self.value = 0; }
//!     fn read(&mut self, _region: u32, _offset: u64, _size: u8) -> Result<u64, AccessError> {
//!         Ok(self.value.into())
//!     }
//!     fn write(&mut self, _region: u32, _offset: u64, _size: u8, v: u64) -> Result<(), AccessError> {
//!         self.value = v as u32;
//!         Ok(())
//!     }
//!     fn save(&self) -> Vec<u8> { wemu_device_sdk::snapshot::save(self) }
//!     fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
//!         *self = wemu_device_sdk::snapshot::restore(bytes)?;
//!         Ok(())
//!     }
//! }
//!
//! wemu_device_sdk::export_device!(Scratch);
//! ```
//!
//! Host services ([`irq`], [`clock`], [`dma`], [`chardev`], [`block`],
//! [`power`], [`log`](mod@log)) are free functions. Inside the component they call the
//! contract's imports; in a native `cargo test` they talk to the in-process
//! [`testing::TestHost`], so a register model is unit-tested without wasm.
//! Only the imports a device actually calls end up in its component, and
//! the machine file must grant the capability ones (clock, dma, chardev,
//! block, power).

mod describe;
mod device;
pub mod host;
mod props;
pub mod regs;
#[doc(hidden)]
pub mod rt;
pub mod snapshot;
pub mod testing;

pub use describe::{Description, DtNode, DtValue};
pub use device::{AccessError, Device};
pub use host::{block, chardev, clock, dma, irq, log, power};
pub use props::{PropValue, Props};

/// The contract version this SDK builds devices against.
pub const CONTRACT_VERSION: &str = "0.1.0";
