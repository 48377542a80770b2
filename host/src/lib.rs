//! wemu: a RISC-V machine emulator whose device models are sandboxed
//! WebAssembly components. The data path reads top-down:
//! cpu (`wemu_cpu`) → [`machine`] (the bus as the hart sees it) →
//! [`device::WasmDevice`] → the component's export.

pub mod backend;
pub mod boot;
pub mod bus;
pub mod clock;
pub mod contract;
pub mod csdk;
pub mod device;
pub mod fdt;
pub mod fuzz;
pub mod htif;
pub mod image;
pub mod irq;
pub mod limits;
pub mod loader;
pub mod machine;
pub mod newdev;
pub mod ram;
pub mod validate;

/// The CPU crate, for embedders driving the bus directly.
pub use wemu_cpu as cpu;
