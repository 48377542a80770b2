//! What is built into the `wemu` binary: the device components under
//! `devices/` (Rust and C, compiled for wasm32 and wrapped as components by
//! `build.rs`, once), the machine files under `machines/`, and the C device
//! SDK that `wemu new-device --lang c` copies out.

pub mod c_sdk;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// False when the build skipped the C devices (`WEMU_SKIP_C_DEVICES`).
pub use embedded::C_DEVICES_BUILT;
/// `(name, component bytes)` of every built-in device, sorted by name.
pub use embedded::DEVICES;
/// `(name, TOML text)` of every built-in machine file, sorted by name.
pub use embedded::MACHINES;
