//! satp switches between two address spaces that map the same virtual
//! code page to different physical pages: at `CODE_VA` space A runs a
//! loop returning `n`, space B another returning `2n + 5`. An S-mode loop
//! (hot, like the two functions) switches spaces and calls `CODE_VA` in
//! each, many times, in three ways: without ASIDs and a full `sfence.vma`
//! after each switch (Linux without ASIDs), with ASIDs 1 and 2 and
//! `sfence.vma zero, asid` after each switch, and with ASIDs and no fence
//! at all in the loop (the TLB must keep the two apart by ASID). The sums
//! of each space's results are exact.

#![no_std]
#![no_main]

use core::arch::global_asm;

use hot::{addr, pte};
use rt::lower::{self, Mode};
use rt::{check, check_eq, uart};

const CODE_VA: usize = 0x4000_0000;
/// Arguments of each call and rounds of the switching loop.
const N: usize = 3;
const ROUNDS: usize = 2000;

// Two functions, each alone at the start of its own page: what CODE_VA
// maps to in space A and in space B.
global_asm!(
    r#"
    .section .text.hot_satp_b, "ax"
    .balign 4096
    .global hot_satp_b
hot_satp_b:
    li      a1, 5
    xori    a2, a1, 1
1:  addi    a1, a1, 2
    addi    a0, a0, -1
    bnez    a0, 1b
    mv      a0, a1
    ret
    .balign 4096

    .section .text.hot_satp_drive, "ax"
    .balign 4
    # Fence after a switch to satp value \reg, as a3 says (kept in s4):
    # 0 = sfence.vma, 1 = sfence.vma zero, ASID, 2 = none.
    .macro hot_satp_fence reg
    bnez    s4, 2f
    sfence.vma
    j       4f
2:  li      t0, 1
    bne     s4, t0, 4f
    srli    t1, \reg, 44
    slli    t1, t1, 48
    srli    t1, t1, 48
    sfence.vma zero, t1
4:
    .endm

    # a0 = satp A, a1 = satp B, a2 = rounds, a3 = fence kind.
    # Returns the sum of A's results in a0, B's in a1. Clobbers s0-s7
    # (rt::lower restores them).
    .global hot_satp_drive
hot_satp_drive:
    mv      s0, ra
    mv      s1, a0
    mv      s2, a1
    mv      s3, a2
    mv      s4, a3
    li      s5, 0
    li      s6, 0
    li      s7, {va}
    sfence.vma
1:  csrw    satp, s1
    hot_satp_fence s1
    li      a0, {n}
    jalr    s7
    add     s5, s5, a0
    csrw    satp, s2
    hot_satp_fence s2
    li      a0, {n}
    jalr    s7
    add     s6, s6, a0
    addi    s3, s3, -1
    bnez    s3, 1b
    mv      a0, s5
    mv      a1, s6
    mv      ra, s0
    ret
    .size   hot_satp_drive, . - hot_satp_drive
"#,
    va = const CODE_VA,
    n = const N,
);

unsafe extern "C" {
    fn hot_satp_b();
    fn hot_satp_drive();
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    let x = pte::V | pte::R | pte::X | pte::A;
    let (root_a, root_b) = (hot::root(), hot::root());
    hot::map(root_a, CODE_VA, addr(hot::hot_count), x);
    hot::map(root_b, CODE_VA, addr(hot_satp_b), x);
    // Which ASIDs the hart keeps (satp.ASID is WARL): the ASID runs need 2 bits.
    let asid_bits: usize;
    // SAFETY: M-mode ignores satp; restored to 0 right after.
    unsafe {
        core::arch::asm!(
            "csrw satp, {all}", "csrr {got}, satp", "csrw satp, zero",
            all = in(reg) hot::satp(root_a, 0xffff), got = lateout(reg) asid_bits,
        );
    }
    let asids = (asid_bits >> 44) & 0xffff;
    check!(asids >= 3, "satp keeps ASIDs 1 and 2");

    let runs = [
        ("no ASIDs, sfence.vma after each switch", 0, 0, 0),
        ("ASIDs 1 and 2, sfence.vma by ASID after each switch", 1, 2, 1),
        ("ASIDs 1 and 2, no sfence.vma in the loop", 1, 2, 2),
    ];
    for (what, asid_a, asid_b, kind) in runs {
        let args = [hot::satp(root_a, asid_a), hot::satp(root_b, asid_b), ROUNDS, kind];
        let out = lower::run(Mode::Supervisor, addr(hot_satp_drive), args);
        check!(out.trap.is_none(), "{what}: no trap ({:?})", out.trap);
        check_eq!(out.ret, ROUNDS * N, "{what}: sum of space A's results");
        check_eq!(out.ret2, ROUNDS * (2 * N + 5), "{what}: sum of space B's results");
    }
    rt::check::finish()
}
