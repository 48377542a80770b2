//! Glue between the contract's generated bindings and [`crate::Device`].
//! Used by [`crate::export_device!`]; not a public API.

use std::sync::Mutex;

use crate::{Description, Device, PropValue, Props};

/// Holds the one device instance of a component. Components are
/// single-threaded and the host never calls in re-entrantly, so the lock is
/// never contended; it only makes the static safe to share.
pub struct InstanceCell<D>(Mutex<Option<D>>);

impl<D> InstanceCell<D> {
    pub const fn new() -> Self {
        InstanceCell(Mutex::new(None))
    }
}

impl<D> Default for InstanceCell<D> {
    fn default() -> Self {
        Self::new()
    }
}

/// Run `f` on the instance. Calling anything before `create` is a host bug;
/// the panic becomes a trap the host reports.
pub fn with<D: Device, R>(cell: &InstanceCell<D>, f: impl FnOnce(&mut D) -> R) -> R {
    let mut guard = cell.0.lock().unwrap_or_else(|p| p.into_inner());
    match guard.as_mut() {
        Some(dev) => f(dev),
        None => panic!("wemu device called before create"),
    }
}

/// `create`: build the device from properties and store it.
pub fn create<D: Device>(
    cell: &InstanceCell<D>,
    props: Vec<(String, PropValue)>,
) -> Result<Description, String> {
    install_panic_hook();
    let dev = D::create(&Props::new(props))?;
    let description = dev.describe();
    *cell.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(dev);
    Ok(description)
}

/// Route panics to the host's log before the abort traps, so the fault
/// report carries the message.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        crate::log::error(&format!("panic: {info}"));
    }));
}

#[cfg(target_arch = "wasm32")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "wemu:device/device-model",
        pub_export_macro: true,
        export_macro_name: "__export_device_model",
        default_bindings_module: "wemu_device_sdk::rt::bindings",
    });
}

/// Conversions between the generated binding types and the SDK's own.
#[cfg(target_arch = "wasm32")]
pub mod convert {
    use super::bindings::wemu::device::types as w;
    use super::*;
    use crate::{AccessError, DtValue};

    pub fn props(items: Vec<w::Property>) -> Vec<(String, PropValue)> {
        items
            .into_iter()
            .map(|p| {
                let v = match p.value {
                    w::PropValue::Boolean(b) => PropValue::Bool(b),
                    w::PropValue::Integer(i) => PropValue::Int(i),
                    w::PropValue::Text(s) => PropValue::Text(s),
                };
                (p.name, v)
            })
            .collect()
    }

    fn dt_value(v: DtValue) -> w::DtValue {
        match v {
            DtValue::Empty => w::DtValue::Empty,
            DtValue::Cells(c) => w::DtValue::Cells(c),
            DtValue::Cells64(c) => w::DtValue::Cells64(c),
            DtValue::Text(s) => w::DtValue::Text(s),
            DtValue::Texts(s) => w::DtValue::Texts(s),
            DtValue::Bytes(b) => w::DtValue::Bytes(b),
        }
    }

    pub fn description(d: Description) -> w::Description {
        w::Description {
            name: d.name,
            version: d.version,
            regions: d.regions.into_iter().map(|(name, size)| w::Region { name, size }).collect(),
            irq_outputs: d.irq_outputs,
            irq_inputs: d.irq_inputs,
            dt_node: d.dt_node.map(|n| w::DtNode {
                name: n.name,
                compatible: n.compatible,
                properties: n
                    .properties
                    .into_iter()
                    .map(|(name, value)| w::DtProperty { name, value: dt_value(value) })
                    .collect(),
            }),
        }
    }

    pub fn access(r: Result<u64, AccessError>) -> Result<u64, w::AccessError> {
        r.map_err(|e| match e {
            AccessError::InvalidOffset => w::AccessError::InvalidOffset,
            AccessError::InvalidSize => w::AccessError::InvalidSize,
        })
    }
}

/// The contract imports, called by [`crate::host`] inside a component.
#[cfg(target_arch = "wasm32")]
pub mod imports {
    use super::bindings::wemu::device as w;
    use crate::block::BlockError;
    use crate::dma::DmaError;
    use crate::log::Level;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => w::types::LogLevel::Trace,
            Level::Debug => w::types::LogLevel::Debug,
            Level::Info => w::types::LogLevel::Info,
            Level::Warn => w::types::LogLevel::Warn,
            Level::Error => w::types::LogLevel::Error,
        };
        w::log::log(level, message);
    }
    pub fn set_irq(line: u32, level: bool) {
        w::irq::set(line, level);
    }
    pub fn now_ns() -> u64 {
        w::clock::now_ns()
    }
    pub fn set_timer(id: u32, deadline_ns: u64) {
        w::clock::set_timer(id, deadline_ns);
    }
    pub fn cancel_timer(id: u32) {
        w::clock::cancel_timer(id);
    }
    fn dma_err(e: w::dma::DmaError) -> DmaError {
        match e {
            w::dma::DmaError::Denied => DmaError::Denied,
            w::dma::DmaError::Unmapped => DmaError::Unmapped,
            w::dma::DmaError::TooLarge => DmaError::TooLarge,
        }
    }
    pub fn dma_read(addr: u64, len: u32) -> Result<Vec<u8>, DmaError> {
        w::dma::read(addr, len).map_err(dma_err)
    }
    pub fn dma_write(addr: u64, data: &[u8]) -> Result<(), DmaError> {
        w::dma::write(addr, data).map_err(dma_err)
    }
    pub fn char_write(port: u32, data: &[u8]) -> u32 {
        w::chardev::write(port, data)
    }
    fn blk_err(e: w::block::BlockError) -> BlockError {
        match e {
            w::block::BlockError::OutOfRange => BlockError::OutOfRange,
            w::block::BlockError::ReadOnly => BlockError::ReadOnly,
            w::block::BlockError::Io => BlockError::Io,
            w::block::BlockError::NoBackend => BlockError::NoBackend,
        }
    }
    pub fn block_size(port: u32) -> u64 {
        w::block::size(port)
    }
    pub fn block_read(port: u32, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        w::block::read(port, offset, len).map_err(blk_err)
    }
    pub fn block_write(port: u32, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        w::block::write(port, offset, data).map_err(blk_err)
    }
    pub fn block_flush(port: u32) -> Result<(), BlockError> {
        w::block::flush(port).map_err(blk_err)
    }
    pub fn poweroff(code: u32) {
        w::power::poweroff(code);
    }
    pub fn machine_reset() {
        w::power::reset();
    }
}

/// Export a [`Device`] type as the component's `device` interface.
///
/// Expands to nothing outside `wasm32`, so the same crate also builds
/// natively for unit tests.
#[macro_export]
macro_rules! export_device {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::rt::bindings::exports::wemu::device::device::Guest;
            use $crate::rt::bindings::wemu::device::types as w;

            static INSTANCE: $crate::rt::InstanceCell<$ty> = $crate::rt::InstanceCell::new();

            struct Export;

            impl Guest for Export {
                fn create(props: Vec<w::Property>) -> Result<w::Description, String> {
                    $crate::rt::create(&INSTANCE, $crate::rt::convert::props(props))
                        .map($crate::rt::convert::description)
                }
                fn reset() {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::reset(d))
                }
                fn read(region: u32, offset: u64, size: u8) -> Result<u64, w::AccessError> {
                    $crate::rt::convert::access($crate::rt::with(&INSTANCE, |d| {
                        <$ty as $crate::Device>::read(d, region, offset, size)
                    }))
                }
                fn write(region: u32, offset: u64, size: u8, value: u64) -> Result<(), w::AccessError> {
                    $crate::rt::convert::access($crate::rt::with(&INSTANCE, |d| {
                        <$ty as $crate::Device>::write(d, region, offset, size, value).map(|()| 0)
                    }))
                    .map(|_| ())
                }
                fn irq_input(line: u32, level: bool) {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::irq_input(d, line, level))
                }
                fn timer_fired(id: u32) {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::timer_fired(d, id))
                }
                fn char_input(port: u32, data: Vec<u8>) -> u32 {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::char_input(d, port, &data))
                }
                fn save() -> Vec<u8> {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::save(d))
                }
                fn restore(state: Vec<u8>) -> Result<(), String> {
                    $crate::rt::with(&INSTANCE, |d| <$ty as $crate::Device>::restore(d, &state))
                }
            }

    $crate::rt::bindings::__export_device_model!(Export with_types_in $crate::rt::bindings);
        };
    };
}
