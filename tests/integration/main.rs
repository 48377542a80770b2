//! wemu's integration tests: one binary, a module per feature.

mod api;
mod arch;
mod bad_input;
mod boot;
mod common;
mod dtb;
mod faults;
mod interrupts;
mod js_device;
mod linux;
mod parity;
mod virtio;
