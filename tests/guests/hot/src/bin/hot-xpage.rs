//! A hot loop whose code crosses a 4 KiB page boundary, with a 32-bit
//! instruction straddling it (its first half at page offset 0xffe), run
//! in M-mode where it is, then in S-mode under Sv39 from two virtual
//! pages mapped to physical pages that are not adjacent (in reverse
//! order). Each result is checked against a model of the loop. Then
//! the second page is unmapped: the straddling instruction's fetch faults
//! (mepc at its start, mtval at the boundary).

#![no_std]
#![no_main]

use core::arch::global_asm;

use hot::{At, pte};
use rt::lower::{self, Mode};
use rt::{check, check_eq, uart};

// The loop: 0xfec..0x1012 of a two-page block. A compressed instruction
// at 0xffc puts the next 32-bit one across the boundary; the back edge
// branches from the second page into the first.
global_asm!(
    r#"
    .section .text.hot_xpage, "ax"
    .balign 4096
    .global hot_xpage_pages
hot_xpage_pages:
    .option push
    .option norelax
    .option norvc
    .fill 0xfec / 4, 4, 0x00000013
    .global hot_xpage_fn
hot_xpage_fn:
    li      a1, 0
    li      a2, 1
1:  add     a1, a1, a2
    xori    a2, a2, 0x35
    .option rvc
    c.addi  a1, 3
    .option norvc
    .global hot_xpage_straddle
hot_xpage_straddle:
    addi    a2, a2, 7
    addi    a0, a0, -1
    bnez    a0, 1b
    mv      a0, a1
    ret
    .option pop
    .balign 4096
"#
);

unsafe extern "C" {
    fn hot_xpage_pages();
    fn hot_xpage_fn(n: u64) -> u64;
    fn hot_xpage_straddle();
}

/// What `hot_xpage_fn(n)` returns.
fn model(n: u64) -> u64 {
    let (mut a1, mut a2) = (0u64, 1u64);
    for _ in 0..n {
        a1 = a1.wrapping_add(a2);
        a2 ^= 0x35;
        a1 = a1.wrapping_add(3);
        a2 = a2.wrapping_add(7);
    }
    a1
}

const N: u64 = 20_000;
/// Where S-mode runs the two pages.
const VA: usize = 0x4000_0000;

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    let pages = hot_xpage_pages as *const () as usize;
    let f = hot_xpage_fn as *const () as usize;
    let straddle = hot_xpage_straddle as *const () as usize;
    check!(
        straddle & 0xfff == 0xffe && straddle - f == 0x12,
        "the 32-bit instruction at {} starts at page offset {:#x}",
        At(straddle, "hot_xpage_pages", pages),
        straddle & 0xfff
    );

    // SAFETY: an ordinary function (reads a0, returns a0, clobbers a1/a2).
    let m = unsafe { hot_xpage_fn(N) };
    check_eq!(m, model(N), "M-mode, {N} iterations across the boundary: result");

    // Second page at a lower physical address than the first, a page apart.
    let (first, second) = (hot::FREE + 0x3000, hot::FREE + 0x1000);
    hot::copy(pages, first, 4096);
    hot::copy(pages + 4096, second, 4096);
    lower::init();
    let root = hot::root();
    hot::map(root, VA, first, pte::V | pte::R | pte::X | pte::A);
    hot::map(root, VA + 4096, second, pte::V | pte::R | pte::X | pte::A);
    // SAFETY: the code was copied above; S-mode runs under this root,
    // M-mode ignores satp.
    unsafe {
        core::arch::asm!("fence.i", "csrw satp, {0}", "sfence.vma", in(reg) hot::satp(root, 0));
    }
    let out = lower::run(Mode::Supervisor, VA + (f - pages), [N as usize, 0, 0, 0]);
    check!(out.trap.is_none(), "S-mode, pages {first:#x} and {second:#x}: no trap ({:?})", out.trap);
    check_eq!(out.ret, model(N), "S-mode, {N} iterations across non-adjacent physical pages: result");

    // The second page unmapped (the first still hot): the straddling
    // instruction's fetch faults on its second half. xepc is its start,
    // xtval the address of the half that faulted (the boundary).
    hot::map(root, VA + 4096, 0, 0);
    // SAFETY: the tables changed; S-mode must see it.
    unsafe { core::arch::asm!("sfence.vma") };
    let out = lower::run(Mode::Supervisor, VA + (f - pages), [N as usize, 0, 0, 0]);
    let fault_at = VA + (straddle - pages);
    match out.trap {
        Some(t) => {
            check!(
                t.cause == 12 && t.handler == Mode::Machine,
                "second page unmapped: instruction page fault ({})",
                t.cause
            );
            check_eq!(t.epc, fault_at, "second page unmapped: mepc (the straddling instruction)");
            check_eq!(t.tval, fault_at + 2, "second page unmapped: mtval (its second half, the boundary)");
        }
        None => check!(false, "second page unmapped: no fault"),
    }
    rt::check::finish()
}
