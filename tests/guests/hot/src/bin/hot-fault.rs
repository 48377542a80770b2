//! Page and access faults in the middle of hot straight-line code: a loop
//! walks a pointer through mapped memory, 8 bytes per iteration, until a
//! load or store reaches the first address that is not mapped (or not
//! RAM). Each trap is checked against the disassembly's facts: the cause,
//! the pc of the faulting instruction (xepc), the address (xtval), and
//! registers the loop had updated before the faulting instruction in the
//! same iteration (what the handler sees).
//!
//! - S-mode under Sv39, the store faulting first, page faults delegated
//!   to S: scause 15, sepc, stval.
//! - S-mode under Sv39, the load faulting first, not delegated: mcause
//!   13, mepc, mtval.
//! - M-mode (no translation) off the end of RAM, load then store first:
//!   mcause 5 and 7 at 0x8800_0000.

#![no_std]
#![no_main]

use core::arch::global_asm;

use hot::{At, addr, pte};
use rt::lower::{self, Mode, Outcome};
use rt::{check, check_eq, uart};

// a0 = pointer, a1 = end (beyond the fault); a3 counts iterations, a2
// sums the counts, a5 sums what was loaded. The iteration that faults
// has already incremented a3 and a2 (and, for the load-first loop, a4).
global_asm!(
    r#"
    .section .text.hot_fault, "ax"
    .balign 64
    .option push
    .option norvc
    .global hot_fault_store_first
hot_fault_store_first:
    li      a2, 0
    li      a3, 0
    li      a5, 0
1:  addi    a3, a3, 1
    add     a2, a2, a3
    slli    a4, a3, 1
    .global hot_fault_store_insn
hot_fault_store_insn:
    sd      a2, 0(a0)
    ld      t0, 0(a0)
    add     a5, a5, t0
    addi    a0, a0, 8
    bne     a0, a1, 1b
    mv      a0, a2
    ret

    .global hot_fault_load_first
hot_fault_load_first:
    li      a2, 0
    li      a3, 0
    li      a5, 0
1:  addi    a3, a3, 1
    xor     a4, a3, a2
    add     a2, a2, a3
    .global hot_fault_load_insn
hot_fault_load_insn:
    ld      t0, 0(a0)
    add     a5, a5, t0
    sd      a3, 0(a0)
    addi    a0, a0, 8
    bne     a0, a1, 1b
    mv      a0, a5
    ret
    .option pop
"#
);

unsafe extern "C" {
    fn hot_fault_store_first();
    fn hot_fault_store_insn();
    fn hot_fault_load_first();
    fn hot_fault_load_insn();
}

/// Mapped data pages before the unmapped one.
const PAGES: usize = 4;
const DATA_VA: usize = 0x4000_0000;
/// One past the last byte of RAM (128 MiB) on both machines.
const RAM_END: usize = 0x8800_0000;

/// The value the loops find at word `i` of the data.
fn word(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9e37_79b9).rotate_left(7) ^ 0x5a5a
}

fn fill(pa: usize) {
    for i in 0..PAGES * 512 {
        // SAFETY: free RAM owned by this program (M-mode, physical).
        unsafe { core::ptr::write_volatile((pa + 8 * i) as *mut u64, word(i)) };
    }
}

fn read(pa: usize, i: usize) -> u64 {
    // SAFETY: as in `fill`.
    unsafe { core::ptr::read_volatile((pa + 8 * i) as *const u64) }
}

/// Checks a run that must end with a fault at `insn` on `tval` after
/// PAGES × 512 iterations, taken in `handler` from `from` with `cause`; `store_first` picks
/// the loop (the registers each one has updated differ).
fn expect_fault(
    what: &str,
    out: Outcome,
    (handler, from, cause): (Mode, Mode, usize),
    (base, name, insn): (usize, &'static str, usize),
    tval: usize,
    store_first: bool,
) {
    let Some(t) = out.trap else {
        check!(false, "{what}: no trap (returned {:#x})", out.ret);
        return;
    };
    check!(
        t.handler == handler && t.from == from && t.cause == cause,
        "{what}: trap taken in {} from {}, cause {}",
        t.handler.letter(),
        t.from.letter(),
        t.cause
    );
    check!(
        t.epc == insn,
        "{what}: {}epc = {} (the faulting {})",
        t.handler.letter().to_ascii_lowercase(),
        At(t.epc, name, base),
        if store_first { "sd" } else { "ld" }
    );
    check_eq!(t.tval, tval, "{what}: {}tval", t.handler.letter().to_ascii_lowercase());
    let n = (PAGES * 512) as u64;
    let a = lower::trap_args();
    let k = n + 1; // the faulting iteration's count
    let sum = k * (k + 1) / 2;
    check_eq!(a[3], k, "{what}: a3 (iterations, incremented before the fault)");
    check_eq!(a[2], sum, "{what}: a2 (sum of the counts)");
    if store_first {
        check_eq!(a[4], k << 1, "{what}: a4 (2 x iterations)");
        // Each iteration stored its a2 and loaded it back.
        check_eq!(a[5], (1..=n).map(|i| i * (i + 1) / 2).sum::<u64>(), "{what}: a5 (sum loaded)");
    } else {
        check_eq!(a[4], k ^ (sum - k), "{what}: a4 (a3 ^ old a2)");
        check_eq!(a[5], (0..PAGES * 512).map(word).fold(0u64, u64::wrapping_add), "{what}: a5 (sum loaded)");
    }
    check_eq!(a[0], tval, "{what}: a0 (the pointer)");
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    let store_fn = (addr(hot_fault_store_first), "hot_fault_store_first", addr(hot_fault_store_insn));
    let load_fn = (addr(hot_fault_load_first), "hot_fault_load_first", addr(hot_fault_load_insn));

    let data = hot::FREE;
    let root = hot::root();
    for p in 0..PAGES {
        hot::map(root, DATA_VA + p * 4096, data + p * 4096, pte::V | pte::R | pte::W | pte::A | pte::D);
    }
    hot::map(root, DATA_VA + PAGES * 4096, 0, 0);
    let hole = DATA_VA + PAGES * 4096;
    // SAFETY: S-mode runs under this root; M-mode ignores satp.
    unsafe { core::arch::asm!("csrw satp, {0}", "sfence.vma", in(reg) hot::satp(root, 0)) };

    // Store and load page faults delegated to S.
    // SAFETY: rt::lower's S handler records the trap and returns to M.
    unsafe { core::arch::asm!("csrw medeleg, {0}", in(reg) (1usize << 13) | (1 << 15)) };
    fill(data);
    let out = lower::run(Mode::Supervisor, store_fn.0, [DATA_VA, DATA_VA + 0x10_0000, 0, 0]);
    expect_fault(
        "S, store first, delegated",
        out,
        (Mode::Supervisor, Mode::Supervisor, 15),
        store_fn,
        hole,
        true,
    );
    check_eq!(read(data, PAGES * 512 - 1), (PAGES * 512) * (PAGES * 512 + 1) / 2, "last word stored");

    // SAFETY: as above; page faults now go to M.
    unsafe { core::arch::asm!("csrw medeleg, zero") };
    fill(data);
    let out = lower::run(Mode::Supervisor, load_fn.0, [DATA_VA, DATA_VA + 0x10_0000, 0, 0]);
    expect_fault("S, load first, to M", out, (Mode::Machine, Mode::Supervisor, 13), load_fn, hole, false);
    check_eq!(read(data, PAGES * 512 - 1), (PAGES * 512) as u64, "last word stored");

    // M-mode: physical addresses, off the end of RAM.
    let top = RAM_END - PAGES * 4096;
    fill(top);
    let out = lower::run(Mode::Machine, load_fn.0, [top, RAM_END + 0x10_0000, 0, 0]);
    expect_fault("M, load first", out, (Mode::Machine, Mode::Machine, 5), load_fn, RAM_END, false);
    fill(top);
    let out = lower::run(Mode::Machine, store_fn.0, [top, RAM_END + 0x10_0000, 0, 0]);
    expect_fault("M, store first", out, (Mode::Machine, Mode::Machine, 7), store_fn, RAM_END, true);
    rt::check::finish()
}
