//! The `wemu:device` contract as seen from the host: generated bindings
//! plus the version this host implements.

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "wemu:device/device-model",
        // Every import can trap: a device that breaks the contract (an IRQ
        // line out of range, say) is killed, while ordinary refusals (DMA
        // outside its windows) are WIT `result` errors it sees.
        imports: { default: trappable },
    });
}

pub use generated::exports::wemu::device::device::Guest as DeviceExports;
pub use generated::wemu::device::{block, chardev, clock, dma, irq, log, power, types};
pub use generated::{DeviceModel, DeviceModelPre};

/// The contract release this host implements.
pub const VERSION: (u64, u64, u64) = (0, 1, 0);

/// The contract package name.
pub const PACKAGE: &str = "wemu:device";

/// Import interfaces that need a grant in the machine file, with the key
/// that grants them.
/// (The second text is the machine-file key, the third the `--device` key.)
pub const CAPABILITIES: &[(&str, &str, &str)] = &[
    ("clock", "timers = true", "timers=on"),
    ("dma", "dma = [{ memory = \"ram\" }] or [{ base, size }]", "dma=ram or dma=BASE+SIZE"),
    ("chardev", "chardev = \"NAME\"", "chardev=NAME"),
    ("block", "block = \"PATH\"", "block=PATH"),
    ("power", "power = true", "power=on"),
];

/// Import interfaces every device may use.
pub const BASELINE: &[&str] = &["log", "irq", "types"];

pub fn version_string() -> String {
    format!("{}.{}.{}", VERSION.0, VERSION.1, VERSION.2)
}

/// Register every host import with the linker.
pub fn add_to_linker<T>(linker: &mut wasmtime::component::Linker<T>) -> wasmtime::Result<()>
where
    T: 'static
        + log::Host
        + irq::Host
        + clock::Host
        + dma::Host
        + chardev::Host
        + block::Host
        + power::Host
        + types::Host,
{
    generated::DeviceModel::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)
}
