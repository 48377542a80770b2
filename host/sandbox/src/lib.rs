//! The device sandbox: the `wemu:device` contract's host bindings
//! ([`contract`]), the loader that finds, compiles, caches and checks
//! components ([`loader`]), and the device instance with its host imports,
//! limits and faults ([`device`]). What a device reaches outside its store
//! (guest memory for DMA, block images, character sinks) is a trait in
//! [`backend`]; the machine and the fuzzer implement them. Nothing here
//! knows the machine's types.

pub mod backend;
pub mod contract;
pub mod device;
mod events;
pub mod file_caps;
pub mod loader;
pub mod numbers;
pub mod props;

pub use events::EventQueue;
