//! Page-table entry bits (privileged spec §4.3.1, §4.4.1), for the
//! programs that build page tables (`paging`, `hot-*`).

pub const V: u64 = 1 << 0;
pub const R: u64 = 1 << 1;
pub const W: u64 = 1 << 2;
pub const X: u64 = 1 << 3;
pub const U: u64 = 1 << 4;
pub const G: u64 = 1 << 5;
pub const A: u64 = 1 << 6;
pub const D: u64 = 1 << 7;
/// Bit 54: the lowest of the reserved bits 63:54 (not N or PBMT).
pub const RESERVED_54: u64 = 1 << 54;
