//! Walks M → S → U and back through traps, checking where each one lands:
//! ecall from U is delegated to S (medeleg bit 8), everything else goes to
//! M. Prints `priv ok: M2(S) M9(S) S8 M2(U) S8 M9(S)` and exits 0 when the
//! traps arrive in that order from those modes, else prints what it saw
//! and exits 1.

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame};
use rt::{csr, finisher, print, println, uart};

/// "Finish" marker passed in a7 with the last ecalls.
const DONE: usize = 99;

/// What each trap recorded: handler ('M' or 'S'), cause, and for M the
/// mode it came from (mstatus.MPP).
static LOG: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];
static LEN: AtomicUsize = AtomicUsize::new(0);

fn record(handler: u8, cause: usize, from: usize) {
    let n = LEN.fetch_add(1, Ordering::Relaxed);
    if let Some(slot) = LOG.get(n) {
        slot.store((usize::from(handler) << 16) | (cause << 4) | from, Ordering::Relaxed);
    }
}

fn report() -> ! {
    let mut seen = [0usize; 16];
    let n = LEN.load(Ordering::Relaxed).min(16);
    for (i, slot) in LOG.iter().take(n).enumerate() {
        seen[i] = slot.load(Ordering::Relaxed);
    }
    let expected: [usize; 6] = [
        entry(b'M', 2, 1),
        entry(b'M', 9, 1),
        entry(b'S', 8, 0),
        entry(b'M', 2, 0),
        entry(b'S', 8, 0),
        entry(b'M', 9, 1),
    ];
    let ok = n == expected.len() && seen[..n] == expected;
    print!("priv {}:", if ok { "ok" } else { "FAILED" });
    for e in &seen[..n] {
        let (h, cause, from) = ((e >> 16) as u8, (e >> 4) & 0xfff, e & 0xf);
        if h == b'M' {
            print!(
                " M{cause}({})",
                if from == 1 {
                    'S'
                } else if from == 0 {
                    'U'
                } else {
                    'M'
                }
            );
        } else {
            print!(" S{cause}");
        }
    }
    println!();
    finisher::exit(if ok { 0 } else { 1 })
}

const fn entry(handler: u8, cause: usize, from: usize) -> usize {
    ((handler as usize) << 16) | (cause << 4) | if handler == b'M' { from } else { 0 }
}

/// Machine-mode handler: every trap not delegated to S.
fn m_handler(frame: &mut TrapFrame) {
    let cause = csr::mcause();
    let mstatus: usize;
    // SAFETY: reading mstatus in the M-mode handler.
    unsafe { asm!("csrr {0}, mstatus", out(reg) mstatus) };
    let mpp = (mstatus >> 11) & 3;
    record(b'M', cause, mpp);
    match cause {
        9 if frame.a[7] == DONE => report(),
        2 | 9 => trap::skip_faulting_instruction(),
        _ => trap::unexpected(),
    }
}

/// Supervisor handler (rt's S-mode entry): only ecall from U is delegated
/// here.
fn s_handler(frame: &mut TrapFrame) {
    let (scause, sepc): (usize, usize);
    // SAFETY: reading S-mode CSRs from S-mode.
    unsafe { asm!("csrr {0}, scause", "csrr {1}, sepc", out(reg) scause, out(reg) sepc) };
    record(b'S', scause, 0);
    if frame.a[7] == DONE {
        // Pass the end on to M: an ecall from S, not delegated.
        // SAFETY: the M handler reports and exits; it never returns here.
        unsafe { asm!("ecall", in("a7") DONE) };
    }
    // SAFETY: resume after the 4-byte ecall.
    unsafe { asm!("csrw sepc, {0}", in(reg) sepc + 4) };
}

/// Runs in U-mode.
extern "C" fn user() -> ! {
    // SAFETY: each of these traps; the handlers resume after it.
    unsafe {
        asm!("ecall", in("a7") 1usize); // → S (delegated)
        asm!("csrr t0, sstatus", out("t0") _); // → M (illegal in U)
        asm!("ecall", in("a7") DONE); // → S → M, reports
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Runs in S-mode.
extern "C" fn supervisor() -> ! {
    // SAFETY: the traps return here; then sret drops to U at `user`.
    unsafe {
        asm!("csrr t0, mstatus", out("t0") _); // → M (M-level CSR from S)
        asm!("ecall", in("a7") 1usize); // → M (ecall from S)
        asm!(
            "csrc sstatus, {spp}",
            "csrw sepc, {user}",
            "sret",
            spp = in(reg) 1usize << 8,
            user = in(reg) user as *const () as usize,
            options(noreturn)
        );
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    trap::install(m_handler);
    trap::install_supervisor(s_handler);
    // SAFETY: delegate ecall-from-U to S, then mret into S at `supervisor`
    // (MPP = S); the handlers above are in place. PMP entry 0 first opens
    // all memory to S and U (NAPOT over everything, RWX), as firmware does:
    // with PMP implemented and no entry, S/U accesses fail (QEMU enforces it).
    unsafe {
        asm!(
            "csrw pmpaddr0, {all}",
            "csrw pmpcfg0, {napot_rwx}",
            all = in(reg) usize::MAX >> 10,
            napot_rwx = in(reg) 0x1fusize,
        );
        asm!(
            "csrw medeleg, {deleg}",
            "csrc mstatus, {mpp_mask}",
            "csrs mstatus, {mpp_s}",
            "csrw mepc, {entry}",
            "mret",
            deleg = in(reg) 1usize << 8,
            mpp_mask = in(reg) 3usize << 11,
            mpp_s = in(reg) 1usize << 11,
            entry = in(reg) supervisor as *const () as usize,
            options(noreturn)
        );
    }
}
