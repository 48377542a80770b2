//! What the `hot-*` guests share: Sv39 page tables built by M-mode at
//! fixed physical addresses, and printing a code address relative to a
//! symbol.
//!
//! Each program makes a piece of code hot (so the JIT translates it; the
//! tests force translation with `--jit-threshold 1`) and prints what it
//! computed, checked against a model written in Rust (`rt::check`: one
//! `ok`/`FAIL` line each, exit status 1 if any failed).

#![no_std]

use core::ptr::write_volatile;

// `hot_count(n)` returns n by counting up in a loop: a function alone at
// the start of its own page, for guests that map a virtual code page to it.
core::arch::global_asm!(
    r#"
    .section .text.hot_count, "ax"
    .balign 4096
    .global hot_count
hot_count:
    li      a1, 0
1:  addi    a1, a1, 1
    addi    a0, a0, -1
    bnez    a0, 1b
    mv      a0, a1
    ret
    .balign 4096
"#
);

unsafe extern "C" {
    /// See the `global_asm!` above.
    pub fn hot_count();
}
use core::sync::atomic::{AtomicUsize, Ordering};

pub use rt::pte;

/// Page-table pages are allocated from here, above the image and stack
/// (first MiB of RAM).
const PT_BASE: usize = 0x8020_0000;
const PT_PAGES: usize = 16;
/// Free RAM for data and copied code, above the tables.
pub const FREE: usize = 0x8030_0000;
const PAGE: usize = 4096;

static NEXT_PT: AtomicUsize = AtomicUsize::new(0);

/// A zeroed page for a page table.
fn alloc() -> usize {
    let n = NEXT_PT.fetch_add(1, Ordering::Relaxed);
    if n >= PT_PAGES {
        panic!("out of page-table pages");
    }
    let page = PT_BASE + n * PAGE;
    for off in (0..PAGE).step_by(8) {
        // SAFETY: page-table memory reserved above the image (M-mode, no translation).
        unsafe { write_volatile((page + off) as *mut u64, 0) };
    }
    page
}

fn entry(table: usize, index: usize) -> *mut u64 {
    (table + 8 * index) as *mut u64
}

/// A new Sv39 root mapping the 1 GiB of RAM at 0x8000_0000 to itself,
/// RWX for S-mode (code, stack, rt's handlers), A and D set.
pub fn root() -> usize {
    let root = alloc();
    let leaf = (0x8000_0000u64 >> 12) << 10 | pte::V | pte::R | pte::W | pte::X | pte::A | pte::D;
    // SAFETY: `root` is a page-table page just allocated.
    unsafe { write_volatile(entry(root, 2), leaf) };
    root
}

/// Maps the 4 KiB page at `va` (below 0x8000_0000, outside the RAM
/// gigapage) to `pa` with `flags` in `root`, making the intermediate
/// tables as needed; `flags` 0 leaves the page unmapped (invalid PTE).
pub fn map(root: usize, va: usize, pa: usize, flags: u64) {
    let mut table = root;
    for shift in [30, 21] {
        let e = entry(table, (va >> shift) & 511);
        // SAFETY: `e` is inside a page-table page allocated here.
        let cur = unsafe { core::ptr::read_volatile(e) };
        table = if cur & pte::V != 0 {
            ((cur >> 10) << 12) as usize
        } else {
            let next = alloc();
            // SAFETY: as above; a non-leaf PTE (V only).
            unsafe { write_volatile(e, ((next as u64 >> 12) << 10) | pte::V) };
            next
        };
    }
    let leaf = if flags == 0 { 0 } else { ((pa as u64 >> 12) << 10) | flags };
    // SAFETY: as above.
    unsafe { write_volatile(entry(table, (va >> 12) & 511), leaf) };
}

/// The address of the leaf PTE of `va`, mapped by `map` in `root`.
pub fn leaf(root: usize, va: usize) -> usize {
    let mut table = root;
    for shift in [30, 21] {
        // SAFETY: `table` is a page-table page `map` made or walked.
        let cur = unsafe { core::ptr::read_volatile(entry(table, (va >> shift) & 511)) };
        table = ((cur >> 10) << 12) as usize;
    }
    entry(table, (va >> 12) & 511) as usize
}

/// The address of an assembly function (a global label).
pub fn addr(f: unsafe extern "C" fn()) -> usize {
    f as *const () as usize
}

/// satp for Sv39 with `root` and `asid`.
pub fn satp(root: usize, asid: usize) -> usize {
    (8 << 60) | (asid << 44) | (root >> 12)
}

/// Copies `len` bytes of code or data from `from` to `to` (physical, M-mode).
pub fn copy(from: usize, to: usize, len: usize) {
    for off in (0..len).step_by(8) {
        // SAFETY: both ranges are RAM the caller owns; 8-byte aligned.
        unsafe {
            write_volatile((to + off) as *mut u64, core::ptr::read_volatile((from + off) as *const u64))
        };
    }
}

/// `addr` as `symbol+0x..` when it lies within 4 KiB after `base`, so
/// lines stay the same when the image's layout changes.
pub struct At(pub usize, pub &'static str, pub usize);

impl core::fmt::Display for At {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let At(addr, name, base) = *self;
        match addr.checked_sub(base) {
            Some(off) if off < PAGE => write!(f, "{name}+{off:#x}"),
            _ => write!(f, "{addr:#x}"),
        }
    }
}
