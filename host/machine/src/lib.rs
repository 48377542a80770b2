//! The machine: harts (`wemu_cpu`) on a bus of RAM and sandboxed devices
//! (`wemu_sandbox`), IRQ routing, the clock, machine files, boot images,
//! the device tree, HTIF, host backends, and the run loop with its fault
//! policies. The data path reads top-down: the hart's `Memory` access →
//! [`machine`] (the bus as the hart sees it) → `wemu_sandbox::device::WasmDevice`
//! → the component's export.

pub mod backend;
pub mod boot;
mod bus;
mod clock;
pub mod fdt;
mod htif;
pub mod image;
mod irq;
pub mod machine;
mod ram;

pub use machine::{BuildError, Exit, IrqTargetError, Machine, RunError, config};
