//! The page tables and the memory they map, built by M-mode at fixed
//! physical addresses above the program's first MiB (RAM is 128 MiB on
//! both machines).
//!
//! Virtual layout (the same for Sv39 and Sv48: the Sv48 root's entry 0
//! points at the Sv39 root, used as its level-2 table):
//!
//! | VA | maps |
//! |---|---|
//! | 0x8000_0000, 1 GiB | identity, RWX, global: code, stack, handlers |
//! | 0x4000_0000 + i×4 KiB | test page i (table `PAGES` and the specials below) |
//! | 0x401f_f000 | the probe code, R-X with U: U-mode runs it here |
//! | 0x4020_0000, 2 MiB | `MEGA_A` (RWX) |
//! | 0x4040_0000, 2 MiB | misaligned 2 MiB leaf |
//! | 0x4060_0000, 2 MiB | through a non-leaf PTE with A set |
//! | 0xc000_0000, 1 GiB | RAM again (R, U) |
//! | 0x1_0000_0000, 1 GiB | misaligned 1 GiB leaf |
//! | 0xffff_ffff_c000_0000 | RAM again (R): the top of the upper half |
//! | Sv48 only: 0x80_0000_0000, 512 GiB | physical 0 upward (RW) |
//! | Sv48 only: 0x100_0000_0000, 512 GiB | misaligned 512 GiB leaf |

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Page-table pages are allocated from here.
const PT_BASE: usize = 0x8020_0000;
const PT_PAGES: usize = 16;
/// Data page i (the target of test page i) is at DATA_BASE + i × 4 KiB.
pub const DATA_BASE: usize = 0x8030_0000;
/// Two 2 MiB-aligned regions for the 2 MiB page.
pub const MEGA_A: usize = 0x8040_0000;
pub const MEGA_B: usize = 0x8060_0000;

pub const TEST_VA: usize = 0x4000_0000;
pub const U_PROBE_VA: usize = 0x401f_f000;
pub const MEGA_VA: usize = 0x4020_0000;
pub const MEGA_MISALIGNED_VA: usize = 0x4040_0000;
pub const NONLEAF_A_VA: usize = 0x4060_0000;
pub const GIGA_VA: usize = 0xc000_0000;
pub const GIGA_MISALIGNED_VA: usize = 0x1_0000_0000;
pub const TOP_VA: usize = 0xffff_ffff_c000_0000;
pub const TERA_VA: usize = 0x80_0000_0000;
pub const TERA_MISALIGNED_VA: usize = 0x100_0000_0000;

pub use rt::pte;

/// A test page: its flags and what S-mode (SUM=0, MXR=0) and U-mode may
/// do with it, as `load store exec` with `y` = allowed, `-` = page fault.
pub struct Page {
    pub name: &'static str,
    pub flags: u64,
    pub s: &'static str,
    pub u: &'static str,
}

use pte::{A, D, R, U, V, W, X};

/// Test pages 0.. (A and D set where it matters, so the A/D policy does
/// not; G clear so the ASID applies).
pub const PAGES: &[Page] = &[
    Page { name: "R", flags: V | R | A, s: "y--", u: "---" },
    Page { name: "RW", flags: V | R | W | A | D, s: "yy-", u: "---" },
    Page { name: "X", flags: V | X | A, s: "--y", u: "---" },
    Page { name: "RX", flags: V | R | X | A, s: "y-y", u: "---" },
    Page { name: "RWX", flags: V | R | W | X | A | D, s: "yyy", u: "---" },
    Page { name: "R+U", flags: V | R | U | A, s: "---", u: "y--" },
    Page { name: "RW+U", flags: V | R | W | U | A | D, s: "---", u: "yy-" },
    Page { name: "X+U", flags: V | X | U | A, s: "---", u: "--y" },
    Page { name: "RWX+U", flags: V | R | W | X | U | A | D, s: "---", u: "yyy" },
    // Invalid: W without R (reserved), V=0, a reserved bit.
    Page { name: "W (no R)", flags: V | W | A | D, s: "---", u: "---" },
    Page { name: "WX+U (no R)", flags: V | W | X | U | A | D, s: "---", u: "---" },
    Page { name: "V=0", flags: R | W | X | U | A | D, s: "---", u: "---" },
    Page { name: "RWX+U, bit 54", flags: V | R | W | X | U | A | D | pte::RESERVED_54, s: "---", u: "---" },
];

/// Special test pages, after `PAGES`.
pub const PAGE_NO_A: usize = 13; // RX, A=0
pub const PAGE_NO_D: usize = 14; // RW, A=1, D=0
pub const PAGE_SFENCE: usize = 15; // R, remapped to data page 16 and back
pub const PAGE_ALT: usize = 16; // R: the other target of PAGE_SFENCE
pub const PAGE_POINTER: usize = 17; // a non-leaf PTE at level 0
pub const PAGE_ASID: usize = 18; // R: data page 18 in root A, 19 in root B
const DATA_PAGES: usize = 20;

pub fn va(page: usize) -> usize {
    TEST_VA + page * 4096
}
pub fn data(page: usize) -> usize {
    DATA_BASE + page * 4096
}

/// What a data word holds: its own physical address, tagged.
pub fn magic(pa: usize) -> u64 {
    0x5eed_0000_0000_0000 | pa as u64
}

/// The page tables of one run (physical addresses).
pub struct Tables {
    pub root39: usize,
    pub root48: usize,
    pub t1: usize,
    pub t0: usize,
    /// Root B: as the root, but test page `PAGE_ASID` maps data page 19.
    pub root39_b: usize,
    pub root48_b: usize,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn alloc() -> usize {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(n < PT_PAGES, "out of page-table pages");
    let page = PT_BASE + n * 4096;
    for i in 0..512 {
        set(page, i, 0);
    }
    page
}

pub fn set(table: usize, index: usize, value: u64) {
    // SAFETY: table is one of our page-table pages (or a data page), index < 512.
    unsafe { write_volatile((table + index * 8) as *mut u64, value) };
}

pub fn get(table: usize, index: usize) -> u64 {
    // SAFETY: as in `set`.
    unsafe { read_volatile((table + index * 8) as *const u64) }
}

pub fn write64(pa: usize, value: u64) {
    // SAFETY: pa is in RAM above the program, in one of the regions above.
    unsafe { write_volatile(pa as *mut u64, value) };
}

pub fn read64(pa: usize) -> u64 {
    // SAFETY: as in `write64`.
    unsafe { read_volatile(pa as *const u64) }
}

/// A leaf PTE for physical `pa`.
pub fn leaf(pa: usize, flags: u64) -> u64 {
    ((pa as u64 >> 12) << 10) | flags
}

/// A pointer to the next-level table at `table`.
pub fn pointer(table: usize) -> u64 {
    ((table as u64 >> 12) << 10) | V
}

/// VPN\[level\] of `va`.
pub fn vpn(va: usize, level: u32) -> usize {
    (va >> (12 + 9 * level)) & 0x1ff
}

/// Fills the data pages (magic at offset 0 and 8) and both 2 MiB regions,
/// and writes the execute snippet at offset 0x800 of each data page and
/// of `MEGA_A`.
fn fill_data() {
    for page in 0..DATA_PAGES {
        let pa = data(page);
        write64(pa, magic(pa));
        write64(pa + 8, magic(pa + 8));
        crate::snippet::write(pa + 0x800, page as u32);
    }
    for base in [MEGA_A, MEGA_B] {
        write64(base + 0x1_2340, magic(base + 0x1_2340));
    }
    crate::snippet::write(MEGA_A + 0x800, 0x200);
}

/// Builds fresh tables (A/D bits reset) and data.
pub fn build() -> Tables {
    NEXT.store(0, Ordering::Relaxed);
    fill_data();
    let root39 = alloc();
    let t1 = alloc();
    let t0 = alloc();
    let ident = V | R | W | X | A | D | pte::G;
    set(root39, vpn(0x8000_0000, 2), leaf(0x8000_0000, ident));
    set(root39, vpn(TEST_VA, 2), pointer(t1));
    set(root39, vpn(GIGA_VA, 2), leaf(0x8000_0000, V | R | U | A));
    set(root39, vpn(GIGA_MISALIGNED_VA, 2), leaf(0x8020_0000, V | R | A));
    set(root39, vpn(TOP_VA, 2), leaf(0x8000_0000, V | R | A));

    set(t1, vpn(TEST_VA, 1), pointer(t0));
    set(t1, vpn(MEGA_VA, 1), leaf(MEGA_A, V | R | W | X | A | D));
    set(t1, vpn(MEGA_MISALIGNED_VA, 1), leaf(MEGA_A + 0x1000, V | R | W | X | A | D));
    // §4.3.1: D, A and U of a non-leaf PTE are reserved.
    set(t1, vpn(NONLEAF_A_VA, 1), pointer(t0) | A);

    for (i, p) in PAGES.iter().enumerate() {
        set(t0, i, leaf(data(i), p.flags));
    }
    set(t0, PAGE_NO_A, leaf(data(PAGE_NO_A), V | R | X));
    set(t0, PAGE_NO_D, leaf(data(PAGE_NO_D), V | R | W | A));
    set(t0, PAGE_SFENCE, leaf(data(PAGE_SFENCE), V | R | A));
    set(t0, PAGE_ALT, leaf(data(PAGE_ALT), V | R | A));
    set(t0, PAGE_POINTER, pointer(t0));
    set(t0, PAGE_ASID, leaf(data(PAGE_ASID), V | R | A));
    set(t0, vpn(U_PROBE_VA, 0), leaf(crate::probe::page(), V | R | X | U | A));

    // Root B: the same except for the branch holding PAGE_ASID.
    let root39_b = alloc();
    let t1_b = alloc();
    let t0_b = alloc();
    for i in 0..512 {
        set(root39_b, i, get(root39, i));
        set(t1_b, i, get(t1, i));
        set(t0_b, i, get(t0, i));
    }
    set(root39_b, vpn(TEST_VA, 2), pointer(t1_b));
    set(t1_b, vpn(TEST_VA, 1), pointer(t0_b));
    set(t0_b, PAGE_ASID, leaf(data(PAGE_ASID + 1), V | R | A));

    // Sv48: entry 0 reuses the Sv39 root as the level-2 table, and so
    // does entry 511 for the top of the upper half.
    let root48 = alloc();
    set(root48, 0, pointer(root39));
    set(root48, 511, pointer(root39));
    set(root48, vpn(TERA_VA, 3), leaf(0, V | R | W | A | D));
    set(root48, vpn(TERA_MISALIGNED_VA, 3), leaf(0x8000_0000, V | R | A));
    let root48_b = alloc();
    for i in 0..512 {
        set(root48_b, i, get(root48, i));
    }
    set(root48_b, 0, pointer(root39_b));
    Tables { root39, root48, t1, t0, root39_b, root48_b }
}
