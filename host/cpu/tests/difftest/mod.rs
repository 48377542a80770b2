//! Differential testing of wemu's hart against qemu-riscv64 (see
//! `tests/differential.rs`).

pub mod encode;
pub mod program;
pub mod run;
