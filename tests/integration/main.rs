//! wemu's integration tests: one binary, a module per feature.

mod api;
mod bad_input;
mod boot;
mod common;
mod faults;
mod parity;
mod virtio;
