//! A machine timer interrupt arriving inside a hot loop: mtimecmp is set
//! so that five interrupts land while an M-mode loop of a million
//! iterations runs. The handler records where each one landed (mepc) and
//! the loop's counter (a2), mtime and minstret at that moment, then moves mtimecmp
//! on. wemu's clock is derived from retired instructions, so under wemu
//! the values are deterministic and must not depend on the tier; they
//! are checked to lie inside the loop, in order, and the loop's result
//! against a model (the interrupts must not disturb it). Then the same
//! loop runs in S-mode under Sv39 until one timer interrupt (taken in M)
//! ends it: mepc and the counter again.

#![no_std]
#![no_main]

use core::arch::global_asm;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};

use hot::At;
use rt::lower::{self, Mode};
use rt::trap::{self, TrapFrame};
use rt::{check, check_eq, csr, println, uart};

global_asm!(
    r#"
    .section .text.hot_timer, "ax"
    .balign 64
    .global hot_timer_loop
    # a0 = iterations, a1 = a scratch doubleword; returns a model-checked
    # sum (a2 counts; each iteration stores and reloads through a1).
hot_timer_loop:
    li      a2, 0
    li      a3, 0
    .global hot_timer_head
hot_timer_head:
1:  addi    a2, a2, 1
    add     a3, a3, a2
    sd      a3, 0(a1)
    xor     a4, a3, a0
    ld      a5, 0(a1)
    add     a3, a5, a4
    addi    a0, a0, -1
    bnez    a0, 1b
    mv      a0, a3
    ret
    .global hot_timer_end
hot_timer_end:
"#
);

unsafe extern "C" {
    fn hot_timer_loop(n: u64, scratch: *mut u64) -> u64;
    fn hot_timer_end();
}

fn model(n: u64) -> u64 {
    let (mut a0, mut a2, mut a3) = (n, 0u64, 0u64);
    while a0 != 0 {
        a2 += 1;
        a3 = a3.wrapping_add(a2);
        let a4 = a3 ^ a0;
        a3 = a3.wrapping_add(a4);
        a0 -= 1;
    }
    a3
}

const MTIMECMP0: usize = 0x0200_4000;
const MTIME: usize = 0x0200_bff8;
const MIE_MTIE: usize = 1 << 7;
const N: u64 = 1_000_000;
const IRQS: usize = 5;
/// Ticks (10 MHz) to the first interrupt and between the next ones
/// (plus `i` × 7 ticks for the `i`th, so they land at different points
/// of the loop).
const FIRST: u64 = 503;
const PERIOD: u64 = 1501;

static SEEN: AtomicUsize = AtomicUsize::new(0);
/// Per interrupt: mepc, a2, mtime, minstret.
static RECORD: [[AtomicUsize; 4]; IRQS] = [const { [const { AtomicUsize::new(0) }; 4] }; IRQS];

fn mtime() -> u64 {
    // SAFETY: the CLINT's mtime register on virt.
    unsafe { read_volatile(MTIME as *const u64) }
}

fn set_mtimecmp(t: u64) {
    // SAFETY: hart 0's mtimecmp on virt.
    unsafe { write_volatile(MTIMECMP0 as *mut u64, t) };
}

fn on_trap(frame: &mut TrapFrame) {
    if csr::mcause() != trap::cause::INTERRUPT | 7 {
        trap::unexpected();
    }
    let i = SEEN.fetch_add(1, Ordering::Relaxed);
    let now = mtime();
    let instret: usize;
    // SAFETY: reading minstret has no side effects.
    unsafe { core::arch::asm!("csrr {0}, minstret", out(reg) instret) };
    if let Some(slot) = RECORD.get(i) {
        for (s, v) in slot.iter().zip([csr::mepc(), frame.a[2], now as usize, instret]) {
            s.store(v, Ordering::Relaxed);
        }
    }
    set_mtimecmp(if i + 1 < IRQS { now + PERIOD + 7 * i as u64 } else { u64::MAX });
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    trap::install(on_trap);
    let start = hot_timer_loop as *const () as usize;
    let end = hot_timer_end as *const () as usize;
    set_mtimecmp(mtime() + FIRST);
    // SAFETY: the handler above takes the timer interrupt.
    unsafe {
        core::arch::asm!("csrs mie, {0}", "csrs mstatus, {1}", in(reg) MIE_MTIE, in(reg) csr::MSTATUS_MIE)
    };
    let mut scratch = 0u64;
    // SAFETY: an ordinary function (a0/a1 in, a0 out, clobbers a1-a5);
    // `scratch` outlives the call.
    let got = unsafe { hot_timer_loop(N, &raw mut scratch) };
    csr::disable_interrupts();
    check_eq!(got, model(N), "result of {N} iterations with interrupts");
    check_eq!(SEEN.load(Ordering::Relaxed), IRQS, "timer interrupts taken");
    let mut last = 0;
    for (i, r) in RECORD.iter().enumerate() {
        let [epc, a2, t, n] = r.each_ref().map(|s| s.load(Ordering::Relaxed));
        println!(
            "irq {i}: mepc = {}, a2 = {a2}, mtime = {t}, minstret = {n}",
            At(epc, "hot_timer_loop", start)
        );
        check!(
            (start..end).contains(&epc) && a2 > last && (a2 as u64) < N,
            "irq {i} landed inside the loop, a2 past the previous one's"
        );
        last = a2;
    }

    // The same loop in S-mode under Sv39 (its accesses translated); the
    // interrupt goes to M, which ends the run (rt::lower).
    lower::init();
    let root = hot::root();
    // SAFETY: S-mode runs under this root; M-mode ignores satp.
    unsafe { core::arch::asm!("csrw satp, {0}", "sfence.vma", in(reg) hot::satp(root, 0)) };
    set_mtimecmp(mtime() + FIRST);
    let out = lower::run(Mode::Supervisor, start, [N as usize, (&raw mut scratch) as usize, 0, 0]);
    let t = out.trap.unwrap_or_else(|| panic!("S-mode loop ended without an interrupt ({:#x})", out.ret));
    set_mtimecmp(u64::MAX);
    let a = lower::trap_args();
    println!(
        "S-mode irq: mepc = {}, a2 = {}, a3 = {:#x}, last stored {scratch:#x}, mtime after = {}",
        At(t.epc, "hot_timer_loop", start),
        a[2],
        a[3],
        mtime()
    );
    check!(
        t.handler == Mode::Machine && t.from == Mode::Supervisor && t.cause == trap::cause::INTERRUPT | 7,
        "S-mode loop under Sv39 interrupted: cause {:#x} from {}",
        t.cause,
        t.from.letter()
    );
    check!((start..end).contains(&t.epc) && a[2] > 0 && (a[2] as u64) < N, "it landed inside the loop");
    rt::check::finish()
}
