//! Physical Memory Protection from M-mode, checked from M, S and U: NAPOT,
//! NA4 and TOR regions, their edges, partial matches, priority, AMOs,
//! fetches, MPRV, page-table reads under paging, and locking. Prints one
//! line per check (`name: ok ...` or `name: fault <cause> @<tval>`,
//! followed by `  <-- expected ...` when it differs) and exits 0 when
//! every check gave the expected result, else 1. The output is identical
//! on QEMU 7.2 (`-M virt -bios none`) and wemu.
//!
//! Layout: entry 15, the lowest priority, grants S/U everything in the
//! first MiB of RAM (image, stack, page table), as firmware would; each
//! check programs entries 0..15 above it over test pages at `DATA`
//! (outside that MiB). Locking comes last: locked entries stay until reset.

#![no_std]
#![no_main]

mod harness;

use core::ptr::{addr_of_mut, read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};

use harness::*;
use rt::{finisher, print, println, uart};

/// Configuration byte fields.
const R: u8 = 1;
const W: u8 = 2;
const X: u8 = 4;
const OFF: u8 = 0;
const TOR: u8 = 1 << 3;
const NA4: u8 = 2 << 3;
const NAPOT: u8 = 3 << 3;
const L: u8 = 1 << 7;

const RAM: usize = 0x8000_0000;
/// Test pages: 16 pages from 2 MiB into RAM, outside entry 15.
const DATA: usize = RAM + 0x20_0000;

/// Causes.
const FETCH: usize = 1;
const ILLEGAL: usize = 2;
const LOAD: usize = 5;
const STORE: usize = 7;

static FAILED: AtomicUsize = AtomicUsize::new(0);

/// What a check expects.
#[derive(Clone, Copy)]
enum Want {
    /// Completed; the value is not checked.
    Done,
    /// Completed with this a0.
    Value(usize),
    /// Trapped with this cause and tval.
    Fault(usize, usize),
    /// Trapped with this cause (illegal instruction: tval may hold the bits).
    Cause(usize),
}

fn check(name: &str, got: Ret, want: Want) {
    if got.completed() {
        print!("{name}: ok {:#x}", got.value);
    } else if got.cause == ILLEGAL {
        print!("{name}: fault {}", got.cause);
    } else {
        print!("{name}: fault {} @{:#x}", got.cause, got.value);
    }
    let ok = match want {
        Want::Done => got.completed(),
        Want::Value(v) => got.completed() && got.value == v,
        Want::Fault(c, t) => got.cause == c && got.value == t,
        Want::Cause(c) => got.cause == c,
    };
    if !ok {
        FAILED.fetch_add(1, Ordering::Relaxed);
        match want {
            Want::Done => print!("  <-- expected ok"),
            Want::Value(v) => print!("  <-- expected ok {v:#x}"),
            Want::Fault(c, t) => print!("  <-- expected fault {c} @{t:#x}"),
            Want::Cause(c) => print!("  <-- expected fault {c}"),
        }
    }
    println!();
}

/// A CSR value read back.
fn check_value(name: &str, got: usize, want: usize) {
    print!("{name} = {got:#x}");
    if got != want {
        FAILED.fetch_add(1, Ordering::Relaxed);
        print!("  <-- expected {want:#x}");
    }
    println!();
}

fn lw(mode: usize, a: usize) -> Ret {
    run(mode, addr_of(pmp_lw), a, 0)
}
fn ld(mode: usize, a: usize) -> Ret {
    run(mode, addr_of(pmp_ld), a, 0)
}
fn sw(mode: usize, a: usize) -> Ret {
    run(mode, addr_of(pmp_sw), a, 0x5a)
}
fn sd(mode: usize, a: usize) -> Ret {
    run(mode, addr_of(pmp_sd), a, 0x5a)
}
fn jump(mode: usize, target: usize) -> Ret {
    run(mode, addr_of(pmp_jr), target, 0)
}

fn poke(a: usize, v: u32) {
    // SAFETY: M-mode store to a test page in RAM (no locked entry covers it yet).
    unsafe { write_volatile(a as *mut u32, v) };
}
fn peek(a: usize) -> u32 {
    // SAFETY: M-mode load from RAM.
    unsafe { read_volatile(a as *const u32) }
}

/// Turns off every entry except 15 (and locked ones, which ignore it).
fn clear() {
    set_pmpcfg(0, 0);
    set_pmpcfg(2, pmpcfg(2) & (0xff << 56));
    for i in 0..15 {
        set_pmpaddr(i, 0);
    }
}

fn csr_checks() {
    for (name, pc) in [("read pmpcfg1", addr_of(pmp_csrr_cfg1)), ("read pmpcfg3", addr_of(pmp_csrr_cfg3))] {
        check(name, run(M, pc, 0, 0), Want::Cause(ILLEGAL));
    }
    check("S reads pmpcfg0", run(S, addr_of(pmp_csrr_cfg0), 0, 0), Want::Cause(ILLEGAL));
    check("U reads pmpaddr0", run(U, addr_of(pmp_csrr_addr0), 0, 0), Want::Cause(ILLEGAL));
    // A byte per entry; every A mode, and the R=0 W=1 combination kept.
    let v = 0x1a19_1c11_0d0b_0800;
    set_pmpcfg(0, v);
    check_value("pmpcfg0", pmpcfg(0), v);
    set_pmpcfg(0, 0);
    set_pmpaddr(5, (1 << 54) - 1);
    check_value("pmpaddr5", pmpaddr(5), (1 << 54) - 1);
    set_pmpaddr(5, 0);
    // pmpcfg2 holds entries 8..15.
    set_entry(9, NAPOT | R, napot(DATA + 0xb000, 0x1000));
    check_value("pmpcfg2", pmpcfg(2), 0x1f00_0000_0000_1900);
    check("entry 9: S lw", lw(S, DATA + 0xb000), Want::Value(0xb0));
    check("entry 9: S sw", sw(S, DATA + 0xb000), Want::Fault(STORE, DATA + 0xb000));
    clear();
}

fn napot_checks() {
    set_entry(0, NAPOT | R, napot(DATA, 0x1000));
    check("napot 4K R: S lw", lw(S, DATA), Want::Value(0x00));
    check("napot 4K R: S lw last word", lw(S, DATA + 0xffc), Want::Done);
    check("napot 4K R: S sw", sw(S, DATA), Want::Fault(STORE, DATA));
    check("napot 4K R: U lw", lw(U, DATA + 8), Want::Done);
    check("napot 4K R: U sw", sw(U, DATA + 8), Want::Fault(STORE, DATA + 8));
    check("napot 4K R: M sw (unlocked)", sw(M, DATA + 8), Want::Done);
    check("no match: S lw", lw(S, DATA + 0x1000), Want::Fault(LOAD, DATA + 0x1000));
    check("no match: U sd", sd(U, DATA + 0x1000), Want::Fault(STORE, DATA + 0x1000));
    check("no match: M lw", lw(M, DATA + 0x1000), Want::Value(0x10));
    set_entry(0, NAPOT | R | W, napot(DATA + 0x10, 8));
    check("napot 8B: S ld", ld(S, DATA + 0x10), Want::Done);
    check("napot 8B: S lw above", lw(S, DATA + 0x18), Want::Fault(LOAD, DATA + 0x18));
    check("napot 8B: S lw below", lw(S, DATA + 0xc), Want::Fault(LOAD, DATA + 0xc));
    clear();
}

fn na4_checks() {
    let page = DATA + 0x1000;
    set_entry(0, NA4 | R | W, (page + 4) >> 2);
    set_entry(1, NAPOT | R, napot(page, 0x1000));
    check("na4 RW: S sw", sw(S, page + 4), Want::Done);
    check("na4 RW: S lw", lw(S, page + 4), Want::Value(0x5a));
    check("na4 under napot R: S sw below", sw(S, page), Want::Fault(STORE, page));
    check("na4 under napot R: S lw below", lw(S, page), Want::Value(0x10));
    check("na4 under napot R: S lw above", lw(S, page + 8), Want::Done);
    check("partial na4: S ld", ld(S, page), Want::Fault(LOAD, page));
    check("partial na4: S sd", sd(S, page), Want::Fault(STORE, page));
    check("partial na4: M ld (unlocked)", ld(M, page), Want::Fault(LOAD, page));
    check("partial na4: M sd (unlocked)", sd(M, page), Want::Fault(STORE, page));
    clear();
}

fn tor_checks() {
    let page = DATA + 0x2000;
    set_entry(2, OFF, page >> 2);
    set_entry(3, TOR | R | W, (page + 0x104) >> 2);
    check("tor: S sd bottom", sd(S, page), Want::Done);
    check("tor: S sd", sd(S, page + 0xf8), Want::Done);
    check("tor: S sw top word", sw(S, page + 0x100), Want::Done);
    check("tor: S sw above", sw(S, page + 0x104), Want::Fault(STORE, page + 0x104));
    check("tor: S lw below", lw(S, page - 4), Want::Fault(LOAD, page - 4));
    check("partial tor: S ld", ld(S, page + 0x100), Want::Fault(LOAD, page + 0x100));
    check("partial tor: M ld (unlocked)", ld(M, page + 0x100), Want::Fault(LOAD, page + 0x100));
    // Bottom not below top: matches nothing.
    set_entry(4, OFF, (page + 0x800) >> 2);
    set_entry(5, TOR | R | W, (page + 0x800) >> 2);
    check("empty tor: S lw", lw(S, page + 0x7fc), Want::Fault(LOAD, page + 0x7fc));
    clear();
    // Entry 0 in TOR mode starts at address 0.
    set_entry(0, TOR | R | X, (DATA + 0x2000) >> 2);
    check("tor entry 0: S lw", lw(S, DATA + 0x1ffc), Want::Done);
    check("tor entry 0: S lw top", lw(S, DATA + 0x2000), Want::Fault(LOAD, DATA + 0x2000));
    clear();
}

fn priority_checks() {
    let page = DATA + 0x3000;
    set_entry(6, NA4, page >> 2);
    set_entry(7, NAPOT | R | W, napot(page, 0x1000));
    check("priority na4 first: S lw", lw(S, page), Want::Fault(LOAD, page));
    check("priority na4 first: S lw next", lw(S, page + 4), Want::Value(0x34));
    set_entry(6, NAPOT | R | W, napot(page, 0x1000));
    set_entry(7, NA4, page >> 2);
    check("priority napot first: S lw", lw(S, page), Want::Value(0x30));
    clear();
}

fn amo_checks() {
    let page = DATA + 0x5000;
    set_entry(0, NAPOT | R, napot(page, 0x1000));
    let amoadd = |mode| run(mode, addr_of(pmp_amoadd), page, 1);
    check("R only: S amoadd", amoadd(S), Want::Fault(STORE, page));
    check("R only: S lr", run(S, addr_of(pmp_lr), page, 0), Want::Value(0x50));
    check("R only: S sc", run(S, addr_of(pmp_sc), page, 7), Want::Fault(STORE, page));
    set_entry(0, NAPOT | R | W, napot(page, 0x1000));
    check("RW: U amoadd", amoadd(U), Want::Value(0x50));
    check("RW: S sc", run(S, addr_of(pmp_sc), page, 7), Want::Value(0));
    check("RW: S lw", lw(S, page), Want::Value(7));
    clear();
}

fn fetch_checks() {
    let xpage = addr_of(pmp_xpage);
    let next = addr_of(pmp_xpage2);
    check("fetch background: S", jump(S, xpage), Want::Value(0x5a));
    check("fetch background: U", jump(U, xpage), Want::Value(0x5a));
    set_entry(0, NAPOT | R | W, napot(xpage, 0x1000));
    check("fetch without X: S", jump(S, xpage), Want::Fault(FETCH, xpage));
    check("fetch without X: U", jump(U, xpage), Want::Fault(FETCH, xpage));
    check("fetch without X: M (unlocked)", jump(M, xpage), Want::Value(0x5a));
    set_entry(0, NAPOT | X, napot(xpage, 0x1000));
    check("fetch X only: S", jump(S, xpage), Want::Value(0x5a));
    check("load X only: S", lw(S, xpage), Want::Fault(LOAD, xpage));
    // 16 executable bytes in an otherwise closed page.
    set_entry(0, NAPOT | X, napot(xpage, 16));
    set_entry(1, NAPOT, napot(xpage, 0x1000));
    check("fetch X 16 bytes: U", jump(U, xpage), Want::Value(0x5a));
    check("fetch past them: U", jump(U, next), Want::Fault(FETCH, next));
    clear();
}

fn mprv_checks() {
    let page = DATA + 0x6000;
    set_entry(0, NAPOT | R, napot(page, 0x1000));
    let mprv = |routine, mpp: usize| run(M, addr_of(routine), page, mpp << 11);
    check("mprv S: lw", mprv(pmp_mprv_lw, S), Want::Value(0x60));
    check("mprv S: sw", mprv(pmp_mprv_sw, S), Want::Fault(STORE, page));
    check("mprv U: sw", mprv(pmp_mprv_sw, U), Want::Fault(STORE, page));
    check("mprv M: sw", mprv(pmp_mprv_sw, M), Want::Done);
    clear();
}

/// Sv39 root table: two 1 GiB leaves.
#[repr(C, align(4096))]
struct Table([u64; 512]);
static mut ROOT: Table = Table([0; 512]);
/// Where `ROOT[3]` maps RAM.
const ALIAS: usize = 0xc000_0000;

fn paging_checks() {
    // SAFETY: only this code and the hart's walker touch ROOT.
    let root = unsafe { &mut *addr_of_mut!(ROOT) };
    // V R W X A D: identity for the code at 0x8000_0000, and an alias.
    let leaf = ((RAM >> 12) << 10) as u64 | 0xcf;
    root.0[2] = leaf;
    root.0[3] = leaf;
    let pte3 = &root.0[3] as *const u64 as usize;
    let page = DATA + 0x7000;
    let va = ALIAS + (page - RAM);
    let xva = ALIAS + (addr_of(pmp_xpage) - RAM);
    set_satp((8 << 60) | (root as *mut Table as usize >> 12));
    set_entry(1, NAPOT | R, napot(page, 0x1000));
    check("sv39: S lw", lw(S, va), Want::Value(0x70));
    check("sv39: S jr", jump(S, xva), Want::Value(0x5a));
    check("sv39, page R: S sw", sw(S, va), Want::Fault(STORE, va));
    // Entry 0 hides the PTE of the alias from S (the walker's privilege).
    set_entry(0, NAPOT, napot(pte3, 8));
    check("sv39, PTE hidden: S lw", lw(S, va), Want::Fault(LOAD, va));
    check("sv39, PTE hidden: S sw", sw(S, va), Want::Fault(STORE, va));
    check("sv39, PTE hidden: S jr", jump(S, xva), Want::Fault(FETCH, xva));
    check("sv39, PTE hidden: mprv S lw", run(M, addr_of(pmp_mprv_lw), va, S << 11), Want::Fault(LOAD, va));
    check("sv39, PTE hidden: M lw", lw(M, page), Want::Value(0x70));
    set_satp(0);
    clear();
}

fn lock_checks() {
    let page = DATA + 0x8000;
    set_entry(10, OFF, page >> 2);
    set_entry(11, L | TOR | R, (page + 0x1000) >> 2);
    set_pmpaddr(10, 0);
    check_value("pmpaddr10 under locked tor", pmpaddr(10), page >> 2);
    set_pmpaddr(11, 0);
    check_value("pmpaddr11 locked", pmpaddr(11), (page + 0x1000) >> 2);
    set_cfg(11, 0);
    check_value("cfg 11 locked", usize::from(cfg(11)), usize::from(L | TOR | R));
    set_cfg(10, NA4 | R);
    check_value("cfg 10 below locked tor", usize::from(cfg(10)), usize::from(NA4 | R));
    set_cfg(10, OFF);
    check("locked tor R: M lw", lw(M, page), Want::Value(0x80));
    check("locked tor R: M sw", sw(M, page), Want::Fault(STORE, page));
    check("locked tor R: M sw above", sw(M, page + 0x1000), Want::Done);
    check("locked tor R: S lw", lw(S, page + 0xffc), Want::Done);
    check("locked tor R: S sw", sw(S, page + 0xffc), Want::Fault(STORE, page + 0xffc));
    let word = DATA + 0xa000;
    set_entry(12, L | NA4, word >> 2);
    check("locked na4: M lw", lw(M, word), Want::Fault(LOAD, word));
    check("locked na4: M lw next", lw(M, word + 4), Want::Done);
    check("locked na4: M ld", ld(M, word), Want::Fault(LOAD, word));
    let xpage = addr_of(pmp_xpage);
    set_entry(13, L | NAPOT | R, napot(xpage, 0x1000));
    check("locked no X: M fetch", jump(M, xpage), Want::Fault(FETCH, xpage));
    check("locked no X: M lw", lw(M, xpage), Want::Done);
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    // Each test page starts with a recognisable word: 0x00, 0x10, ... 0xf0,
    // and the second word of the page at DATA+0x3000 is 0x34.
    for p in 0..16 {
        poke(DATA + p * 0x1000, (p * 0x10) as u32);
    }
    poke(DATA + 0x3004, 0x34);
    println!("pmp: {} entries", 16);

    // No entry active: S/U accesses fail (checked with MPRV from M; QEMU
    // does not allow mret to S/U in that state).
    check("no entry: mprv S lw", run(M, addr_of(pmp_mprv_lw), DATA, S << 11), Want::Fault(LOAD, DATA));
    check("no entry: mprv U sw", run(M, addr_of(pmp_mprv_sw), DATA, U << 11), Want::Fault(STORE, DATA));
    check("no entry: M lw", lw(M, DATA + 0x1000), Want::Value(0x10));

    set_entry(15, NAPOT | R | W | X, napot(RAM, 0x10_0000));
    csr_checks();
    napot_checks();
    na4_checks();
    tor_checks();
    priority_checks();
    amo_checks();
    fetch_checks();
    mprv_checks();
    paging_checks();
    lock_checks();

    // The earlier checks stored here; make sure the data is what they wrote.
    check_value("data written by S", peek(DATA + 0x1004) as usize, 0x5a);
    let failed = FAILED.load(Ordering::Relaxed);
    println!("pmp: {}", if failed == 0 { "all checks passed" } else { "FAILED" });
    finisher::exit(if failed == 0 { 0 } else { 1 })
}

// The CSR reads the legality checks run.
core::arch::global_asm!(
    r#"
    .section .text.pmp_csr, "ax"
    .global pmp_csrr_cfg0, pmp_csrr_cfg1, pmp_csrr_cfg3, pmp_csrr_addr0
pmp_csrr_cfg0:
    csrr    a0, pmpcfg0
    ecall
pmp_csrr_cfg1:
    csrr    a0, 0x3a1    # pmpcfg1 (RV32 only: the assembler refuses the name)
    ecall
pmp_csrr_cfg3:
    csrr    a0, 0x3a3    # pmpcfg3
    ecall
pmp_csrr_addr0:
    csrr    a0, pmpaddr0
    ecall
"#
);

unsafe extern "C" {
    fn pmp_csrr_cfg0();
    fn pmp_csrr_cfg1();
    fn pmp_csrr_cfg3();
    fn pmp_csrr_addr0();
}
