//! The C device SDK as built into wemu: its files (the hand-written ones
//! from `guest-sdk/c` and the contract bindings wit-bindgen's C generator
//! made at build time) and the compiler flags C devices are built with.
//! `wemu new-device --lang c` copies them into a skeleton.

pub mod flags;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/c_sdk.rs"));
}

/// `(path inside the SDK directory, contents)` of every SDK file.
pub use embedded::FILES;
