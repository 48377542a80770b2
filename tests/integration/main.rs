//! wemu's integration tests: one binary, a module per feature.

mod api;
mod arch;
mod bad_input;
mod boot;
mod c_devices;
mod common;
mod coremark;
mod docs;
mod dtb;
mod faults;
mod fuzz;
mod input_limits;
mod interrupts;
mod jit;
mod jit_cases;
mod js_device;
mod limits;
mod linux;
mod parity;
mod publish;
#[path = "../support/reftool.rs"]
mod reftool;
mod setup;
mod skips;
mod validate;
mod virtio;
