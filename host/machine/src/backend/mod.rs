//! Backends: where device byte streams and disk images go on the host.

pub mod block;
pub mod chardev;
