//! wemu's integration tests: one binary, a module per feature.

mod api;
mod arch;
mod bad_input;
mod boot;
mod common;
mod dtb;
mod faults;
mod fuzz;
mod interrupts;
mod linux;
mod parity;
mod virtio;
