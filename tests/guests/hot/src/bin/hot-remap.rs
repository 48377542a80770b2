//! A hot S-mode loop calls a function at `CODE_VA` through `jalr`, in
//! another page, and it returns across the page again: under the JIT both
//! jumps go on through the cache of virtual targets. Then the loop remaps
//! `CODE_VA` to another physical page holding another function (PTE write
//! and `sfence.vma CODE_VA`) and calls on: the new function must run. Last,
//! `CODE_VA` loses its X permission after it was called hot again: the
//! next call takes an instruction page fault at `CODE_VA`. The sums and the
//! fault are exact.

#![no_std]
#![no_main]

use core::arch::global_asm;

use hot::{addr, pte};
use rt::lower::{self, Mode};
use rt::{check, check_eq, uart};

const CODE_VA: usize = 0x4000_0000;
/// Argument of each call, and calls per phase.
const N: usize = 3;
const ROUNDS: usize = 2000;

global_asm!(
    r#"
    .section .text.hot_remap_b, "ax"
    .balign 4096
    .global hot_remap_b
hot_remap_b:
    li      a1, 7
1:  addi    a1, a1, 3
    addi    a0, a0, -1
    bnez    a0, 1b
    mv      a0, a1
    ret
    .balign 4096

    .section .text.hot_remap_drive, "ax"
    .balign 4
    # a0 = the PTE of CODE_VA, a1 = its new value, a2 = calls per phase.
    # Calls CODE_VA a2 times, stores a1 into the PTE, fences CODE_VA,
    # calls it a2 times again: the sums of each phase's results in a0, a1.
    # Clobbers s0-s7 (rt::lower restores them).
    .global hot_remap_drive
hot_remap_drive:
    mv      s0, ra
    mv      s1, a0
    mv      s2, a1
    mv      s3, a2
    li      s5, 0
    li      s6, 0
    li      s7, {va}
    mv      s4, s3
1:  li      a0, {n}
    jalr    s7
    add     s5, s5, a0
    addi    s4, s4, -1
    bnez    s4, 1b
    sd      s2, 0(s1)
    sfence.vma s7, zero
    mv      s4, s3
2:  li      a0, {n}
    jalr    s7
    add     s6, s6, a0
    addi    s4, s4, -1
    bnez    s4, 2b
    mv      a0, s5
    mv      a1, s6
    mv      ra, s0
    ret
    .size   hot_remap_drive, . - hot_remap_drive
"#,
    va = const CODE_VA,
    n = const N,
);

unsafe extern "C" {
    fn hot_remap_b();
    fn hot_remap_drive();
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    let x = pte::V | pte::R | pte::X | pte::A;
    let root = hot::root();
    hot::map(root, CODE_VA, addr(hot::hot_count), x);
    let leaf = hot::leaf(root, CODE_VA);
    let to_b = ((addr(hot_remap_b) as u64 >> 12) << 10) | x;
    let satp = hot::satp(root, 0);

    // SAFETY: M-mode ignores satp; lower::run runs the S-mode code under it.
    unsafe { core::arch::asm!("csrw satp, {s}", "sfence.vma", s = in(reg) satp) };
    let out = lower::run(Mode::Supervisor, addr(hot_remap_drive), [leaf, to_b as usize, ROUNDS, 0]);
    check!(out.trap.is_none(), "remap: no trap ({:?})", out.trap);
    check_eq!(out.ret, ROUNDS * N, "sum of the first function's results");
    check_eq!(out.ret2, ROUNDS * (3 * N + 7), "sum of the remapped function's results");

    // Hot again at the new page, then not executable (R only).
    let no_x = ((addr(hot_remap_b) as u64 >> 12) << 10) | pte::V | pte::R | pte::A;
    let out = lower::run(Mode::Supervisor, addr(hot_remap_drive), [leaf, no_x as usize, ROUNDS, 0]);
    match out.trap {
        Some(t) => {
            check_eq!(t.cause, 12, "instruction page fault");
            check_eq!(t.epc, CODE_VA, "at the remapped function");
            check_eq!(t.tval, CODE_VA, "stval");
        }
        None => check!(false, "calling a page without X did not fault"),
    }
    // SAFETY: back to Bare for whatever follows in M-mode.
    unsafe { core::arch::asm!("csrw satp, zero", "sfence.vma") };
    rt::check::finish()
}
