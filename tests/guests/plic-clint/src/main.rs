//! The `virt` interrupt controllers end to end, on hart 0:
//!
//! - CLINT: MTIP pending from reset; `mtime` agrees with `rdtime`; a timer
//!   interrupt from `mtimecmp`; a software interrupt from `msip`; access
//!   widths (others fault).
//! - PLIC: priority/threshold WARL, threshold masking, claim/complete; the
//!   UART's interrupt (source 10) delivered to the M-mode context through
//!   a loopback byte, to the S-mode context as `mip.SEIP` and as a
//!   supervisor external interrupt taken in S-mode (delegated with
//!   `mideleg`), and finally a byte typed on the console.
//!
//! Every line it prints is the same on QEMU's `virt` (`-bios none`) and
//! wemu's, whatever the input timing: only the byte typed is echoed back.
//! Exit status 0; 1 if a check fails (after printing it), 13 on an
//! unexpected trap.

#![no_std]
#![no_main]

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame, cause};
use rt::{csr, finisher, println, uart};

const CLINT: usize = 0x0200_0000;
const MSIP0: usize = CLINT;
const MTIMECMP0: usize = CLINT + 0x4000;
const MTIME: usize = CLINT + 0xbff8;

const PLIC: usize = 0x0c00_0000;
const UART_IRQ: usize = 10;
const PRIORITY_UART: usize = PLIC + 4 * UART_IRQ;
const PENDING0: usize = PLIC + 0x1000;
/// Context 0 is hart 0 M-mode, context 1 hart 0 S-mode.
const fn enable(ctx: usize) -> usize {
    PLIC + 0x2000 + 0x80 * ctx
}
const fn threshold(ctx: usize) -> usize {
    PLIC + 0x20_0000 + 0x1000 * ctx
}
const fn claim(ctx: usize) -> usize {
    threshold(ctx) + 4
}

const UART: usize = 0x1000_0000;
const UART_IER: usize = UART + 1;
const UART_MCR: usize = UART + 4;
const IER_RDI: u8 = 1;
const IER_THRI: u8 = 2;
const MCR_NORMAL: u8 = 0x0b; // DTR, RTS, OUT2 (as rt's uart::init)
const MCR_LOOP: u8 = 0x10;

const MIP_MSIP: usize = 1 << 3;
const MIP_MTIP: usize = 1 << 7;
const MIP_SEIP: usize = 1 << 9;
const MIP_MEIP: usize = 1 << 11;

/// a7 of the ecall that brings S-mode code back to M.
const BACK_TO_M: usize = 0x5ba;

// What the trap handlers saw.
static PROBING: AtomicBool = AtomicBool::new(false);
static FAULT: AtomicUsize = AtomicUsize::new(0);
static TIMER_IRQS: AtomicUsize = AtomicUsize::new(0);
static TIMER_LATE_ENOUGH: AtomicBool = AtomicBool::new(false);
static SOFT_IRQS: AtomicUsize = AtomicUsize::new(0);
static EXT_IRQS: AtomicUsize = AtomicUsize::new(0);
static EXT_CLAIMS: AtomicUsize = AtomicUsize::new(0);
/// Bytes the M external handler drained (first one kept).
static RX_BYTES: AtomicUsize = AtomicUsize::new(0);
static RX_FIRST: AtomicUsize = AtomicUsize::new(0);
static S_IRQS: AtomicUsize = AtomicUsize::new(0);
static S_CLAIM: AtomicUsize = AtomicUsize::new(0);
static S_CAUSE: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);

fn r32(addr: usize) -> u32 {
    // SAFETY: MMIO registers of the virt machine.
    unsafe { read_volatile(addr as *const u32) }
}
fn w32(addr: usize, value: u32) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u32, value) }
}
fn r64(addr: usize) -> u64 {
    // SAFETY: as in `r32`.
    unsafe { read_volatile(addr as *const u64) }
}
fn w64(addr: usize, value: u64) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u64, value) }
}
fn w8(addr: usize, value: u8) {
    // SAFETY: as in `r32`.
    unsafe { write_volatile(addr as *mut u8, value) }
}

fn mip() -> usize {
    let v: usize;
    // SAFETY: reading mip has no side effects.
    unsafe { asm!("csrr {0}, mip", out(reg) v, options(nomem, nostack)) };
    v
}
fn rdtime() -> u64 {
    let v: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { asm!("rdtime {0}", out(reg) v, options(nomem, nostack)) };
    v
}
fn set_mie(bits: usize) {
    // SAFETY: every interrupt enabled here has a case in `on_trap`.
    unsafe { csr::set_mie(bits) };
}
fn clear_mie(bits: usize) {
    // SAFETY: masking interrupts is always safe.
    unsafe { asm!("csrc mie, {0}", in(reg) bits, options(nostack)) };
}

/// Record a failed check; the run ends with status 1.
fn check(ok: bool, what: &str) {
    if !ok {
        println!("FAILED: {what}");
        FAILED.store(true, Ordering::Relaxed);
    }
}

/// Whether a `size`-byte read at `addr` faults (the handler skips it).
fn read_faults(addr: usize, size: usize) -> bool {
    FAULT.store(0, Ordering::Relaxed);
    PROBING.store(true, Ordering::Relaxed);
    // SAFETY: MMIO; a fault is caught by `on_trap` while PROBING is set.
    unsafe {
        match size {
            1 => drop(read_volatile(addr as *const u8)),
            2 => drop(read_volatile(addr as *const u16)),
            4 => drop(read_volatile(addr as *const u32)),
            _ => drop(read_volatile(addr as *const u64)),
        }
    }
    PROBING.store(false, Ordering::Relaxed);
    FAULT.load(Ordering::Relaxed) == cause::LOAD_ACCESS_FAULT
}

fn on_trap(frame: &mut TrapFrame) {
    const MSI: usize = cause::INTERRUPT | 3;
    const MTI: usize = cause::INTERRUPT | 7;
    match csr::mcause() {
        c @ (5 | 7) if PROBING.load(Ordering::Relaxed) => {
            FAULT.store(c, Ordering::Relaxed);
            trap::skip_faulting_instruction();
        }
        MTI => {
            TIMER_IRQS.fetch_add(1, Ordering::Relaxed);
            TIMER_LATE_ENOUGH.store(r64(MTIME) >= r64(MTIMECMP0), Ordering::Relaxed);
            w64(MTIMECMP0, u64::MAX);
        }
        MSI => {
            SOFT_IRQS.fetch_add(1, Ordering::Relaxed);
            w32(MSIP0, 0);
        }
        cause::MACHINE_EXTERNAL_INTERRUPT => {
            EXT_IRQS.fetch_add(1, Ordering::Relaxed);
            let id = r32(claim(0));
            if id as usize == UART_IRQ {
                EXT_CLAIMS.fetch_add(1, Ordering::Relaxed);
            }
            while let Some(byte) = uart::try_getc() {
                if RX_BYTES.fetch_add(1, Ordering::Relaxed) == 0 {
                    RX_FIRST.store(usize::from(byte), Ordering::Relaxed);
                }
            }
            w32(claim(0), id);
        }
        9 if frame.a[7] == BACK_TO_M => {
            // Resume after the ecall, in M-mode (MPP = M).
            // SAFETY: the code after the ecall is M-mode code of `in_s_mode`.
            unsafe {
                asm!("csrs mstatus, {0}", in(reg) 3usize << 11);
                csr::set_mepc(csr::mepc() + 4);
            }
        }
        _ => trap::unexpected(),
    }
}

/// Supervisor handler: the PLIC's S-mode context.
fn on_strap(_frame: &mut TrapFrame) {
    let scause: usize;
    // SAFETY: reading scause in the S-mode handler.
    unsafe { asm!("csrr {0}, scause", out(reg) scause) };
    S_CAUSE.store(scause, Ordering::Relaxed);
    if scause != cause::INTERRUPT | 9 {
        println!("unexpected supervisor trap scause={scause:#x}");
        finisher::exit(13);
    }
    S_IRQS.fetch_add(1, Ordering::Relaxed);
    let id = r32(claim(1));
    S_CLAIM.store(id as usize, Ordering::Relaxed);
    w8(UART_IER, 0); // the UART stops asserting
    w32(claim(1), id);
}

/// Runs `f` in S-mode and comes back to M: `mret` into S, call, `ecall`.
fn in_s_mode(f: extern "C" fn()) {
    // SAFETY: `on_trap` turns the ecall into a return to M right after it;
    // every register the call may clobber is declared.
    unsafe {
        asm!(
            "li t0, 3 << 11",
            "csrc mstatus, t0",
            "li t0, 1 << 11",
            "csrs mstatus, t0",
            "la t0, 1f",
            "csrw mepc, t0",
            "mret",
            "1:",
            "jalr ra, 0(a1)",
            "li a7, {back}",
            "ecall",
            in("a1") f,
            back = const BACK_TO_M,
            clobber_abi("C"),
        );
    }
}

/// S-mode: enable supervisor interrupts and make the UART interrupt.
extern "C" fn supervisor_part() {
    // SAFETY: on_strap is installed in stvec; SIE lets SEIP in.
    unsafe { asm!("csrs sstatus, {0}", in(reg) 1usize << 1) };
    w8(UART_IER, IER_THRI);
    for _ in 0..100_000 {
        if S_IRQS.load(Ordering::Relaxed) != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: masking is always safe.
    unsafe { asm!("csrc sstatus, {0}", in(reg) 1usize << 1) };
}

fn clint_checks() {
    let mtip_at_boot = mip() & MIP_MTIP != 0;
    let (t0, m, t1) = (rdtime(), r64(MTIME), rdtime());
    let agree = t0 <= m && m <= t1;
    let lo_hi = (u64::from(r32(MTIME + 4)) << 32) | u64::from(r32(MTIME));
    println!("clint: mip.MTIP at boot = {}, mtime agrees with rdtime: {agree}", u8::from(mtip_at_boot));
    check(agree && lo_hi >= m, "mtime and rdtime");

    w32(MTIMECMP0, 0x1234);
    w32(MTIMECMP0 + 4, 0x5);
    let halves = r64(MTIMECMP0);
    w64(MTIMECMP0, u64::MAX);
    let mtip_cleared = mip() & MIP_MTIP == 0;
    w64(MTIMECMP0, 0);
    let mtip_past = mip() & MIP_MTIP != 0;
    w64(MTIMECMP0, u64::MAX);
    println!(
        "clint: mtimecmp halves {halves:#x}, MTIP for compare max/0: {}/{}",
        u8::from(!mtip_cleared),
        u8::from(mtip_past)
    );
    println!(
        "clint: faults: msip 8-byte {}, mtime 2-byte {}, offset 0xc000 {}; mtimecmp 4-byte ok {}",
        read_faults(MSIP0, 8),
        read_faults(MTIME, 2),
        read_faults(CLINT + 0xc000, 4),
        !read_faults(MTIMECMP0 + 4, 4)
    );

    // A timer interrupt 1000 ticks (100 us) from now.
    let cmp = r64(MTIME) + 1000;
    w64(MTIMECMP0, cmp);
    let pending_early = mip() & MIP_MTIP != 0;
    set_mie(1 << 7);
    // SAFETY: on_trap handles the timer interrupt.
    unsafe { csr::enable_interrupts() };
    while TIMER_IRQS.load(Ordering::Relaxed) == 0 {
        csr::wfi();
    }
    csr::disable_interrupts();
    clear_mie(1 << 7);
    let late = TIMER_LATE_ENOUGH.load(Ordering::Relaxed);
    println!(
        "clint: timer interrupts {}, not before mtimecmp: {}, after it MTIP = {}",
        TIMER_IRQS.load(Ordering::Relaxed),
        late && !pending_early,
        u8::from(mip() & MIP_MTIP != 0)
    );
    check(late && !pending_early && rdtime() >= cmp, "timer interrupt timing");

    // A software interrupt: pending as soon as msip is written.
    w32(MSIP0, 1);
    let msip_pending = mip() & MIP_MSIP != 0;
    let msip_reads = r32(MSIP0);
    set_mie(1 << 3);
    // SAFETY: on_trap handles the software interrupt (and clears msip).
    unsafe { csr::enable_interrupts() };
    csr::disable_interrupts();
    clear_mie(1 << 3);
    println!(
        "clint: msip = {msip_reads} sets mip.MSIP = {}; software interrupts {}, then mip.MSIP = {}",
        u8::from(msip_pending),
        SOFT_IRQS.load(Ordering::Relaxed),
        u8::from(mip() & MIP_MSIP != 0)
    );
    check(SOFT_IRQS.load(Ordering::Relaxed) == 1, "one software interrupt");
}

fn plic_register_checks() {
    w32(PLIC, 5);
    let prio0 = r32(PLIC);
    w32(PRIORITY_UART, 9);
    let prio_warl = r32(PRIORITY_UART);
    w32(threshold(0), 9);
    let thr_warl = r32(threshold(0));
    w32(PENDING0, u32::MAX);
    let pending = r32(PENDING0);
    w32(enable(0) + 12, u32::MAX);
    let enable_w3 = r32(enable(0) + 12);
    println!(
        "plic: source 0 priority {prio0}, priority 9 -> {prio_warl}, threshold 9 -> {thr_warl}, \
         pending after write {pending:#x}, enable word 3 {enable_w3:#x}"
    );
    println!(
        "plic: faults: 1-byte {}, 8-byte {}, offset 0x600000 {}; context 2 threshold reads {}",
        read_faults(PRIORITY_UART, 1),
        read_faults(PRIORITY_UART, 8),
        read_faults(PLIC + 0x60_0000, 4),
        r32(threshold(2))
    );
}

/// UART THR-empty interrupt (no input needed) through context 0, with
/// interrupts masked: threshold, pending, claim, complete.
fn plic_claim_checks() {
    w32(PRIORITY_UART, 1);
    w32(enable(0), 1 << UART_IRQ);
    w32(threshold(0), 1);
    w8(UART_IER, IER_THRI);
    let masked = mip() & MIP_MEIP;
    w32(threshold(0), 0);
    let unmasked = mip() & MIP_MEIP;
    let pending = r32(PENDING0);
    let id = r32(claim(0));
    let after_claim = mip() & MIP_MEIP;
    let pending_after = r32(PENDING0);
    w8(UART_IER, 0);
    w32(claim(0), id);
    let again = r32(claim(0));
    println!(
        "plic: threshold 1 vs priority 1: MEIP {}; threshold 0: MEIP {}, pending {pending:#x}",
        u8::from(masked != 0),
        u8::from(unmasked != 0)
    );
    println!(
        "plic: claim {id} (MEIP {}, pending {pending_after:#x}), after complete claim {again}",
        u8::from(after_claim != 0)
    );
    check(masked == 0 && unmasked != 0 && id as usize == UART_IRQ && again == 0, "context 0 claim");
}

/// A byte sent to the UART in loopback mode comes back as a receive
/// interrupt, taken in M-mode.
fn plic_loopback_interrupt() {
    set_mie(1 << 11);
    // SAFETY: on_trap handles external interrupts.
    unsafe { csr::enable_interrupts() };
    // Nothing may be printed while in loopback: it would come back as input.
    w8(UART_MCR, MCR_NORMAL | MCR_LOOP);
    w8(UART_IER, IER_RDI);
    uart::putc(b'Z');
    for _ in 0..100_000 {
        if RX_BYTES.load(Ordering::Relaxed) != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    csr::disable_interrupts();
    w8(UART_IER, 0);
    w8(UART_MCR, MCR_NORMAL);
    let byte = RX_FIRST.load(Ordering::Relaxed) as u8;
    println!(
        "plic: loopback {:?} by receive interrupt: {} interrupt(s), {} claim(s) of source 10",
        byte as char,
        EXT_IRQS.load(Ordering::Relaxed),
        EXT_CLAIMS.load(Ordering::Relaxed)
    );
    check(byte == b'Z' && EXT_CLAIMS.load(Ordering::Relaxed) == 1, "loopback interrupt");
    clear_mie(1 << 11);
}

/// Context 1 (S-mode): first seen from M as mip.SEIP, then taken in S.
fn plic_supervisor_context() {
    w32(enable(0), 0);
    w32(enable(1), 1 << UART_IRQ);
    w32(threshold(1), 0);
    w8(UART_IER, IER_THRI);
    let seip = mip() & MIP_SEIP != 0;
    let meip = mip() & MIP_MEIP != 0;
    w8(UART_IER, 0);
    let id = r32(claim(1)); // still pending: clear it from M
    w32(claim(1), id);
    println!(
        "plic: context 1 drives mip.SEIP = {} (MEIP {}), claimed from M: {id}, then SEIP = {}",
        u8::from(seip),
        u8::from(meip),
        u8::from(mip() & MIP_SEIP != 0)
    );
    check(seip && !meip && id as usize == UART_IRQ, "context 1 from M");

    trap::install_supervisor(on_strap);
    // SAFETY: PMP entry 0 opens all memory to S (as firmware does), SEIP is
    // delegated to S, whose handler is installed.
    unsafe {
        asm!(
            "csrw pmpaddr0, {all}",
            "csrw pmpcfg0, {napot_rwx}",
            "csrw mideleg, {seip}",
            "csrs mie, {seip}",
            all = in(reg) usize::MAX >> 10,
            napot_rwx = in(reg) 0x1fusize,
            seip = in(reg) MIP_SEIP,
        );
    }
    in_s_mode(supervisor_part);
    clear_mie(MIP_SEIP);
    println!(
        "plic: in S-mode: {} supervisor external interrupt(s), scause {:#x}, claimed {}",
        S_IRQS.load(Ordering::Relaxed),
        S_CAUSE.load(Ordering::Relaxed),
        S_CLAIM.load(Ordering::Relaxed)
    );
    check(S_IRQS.load(Ordering::Relaxed) == 1 && S_CLAIM.load(Ordering::Relaxed) == UART_IRQ, "S context");
    w32(enable(1), 0);
}

/// Wait for a typed byte: a receive interrupt through context 0.
fn typed_input() {
    RX_BYTES.store(0, Ordering::Relaxed);
    EXT_CLAIMS.store(0, Ordering::Relaxed);
    w32(enable(0), 1 << UART_IRQ);
    w32(threshold(0), 0);
    set_mie(1 << 11);
    uart::enable_rx_interrupt();
    println!("ready: type a key");
    loop {
        // Masked check, then wfi (wakes on a pending enabled interrupt).
        csr::disable_interrupts();
        if RX_BYTES.load(Ordering::Relaxed) != 0 {
            break;
        }
        csr::wfi();
        // SAFETY: on_trap handles external interrupts.
        unsafe { csr::enable_interrupts() };
    }
    w8(UART_IER, 0);
    let byte = RX_FIRST.load(Ordering::Relaxed) as u8;
    println!(
        "received {:?} through PLIC source 10 ({} claim)",
        byte as char,
        EXT_CLAIMS.load(Ordering::Relaxed)
    );
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    trap::install(on_trap);
    println!("plic-clint on hart 0");
    clint_checks();
    plic_register_checks();
    plic_claim_checks();
    plic_loopback_interrupt();
    plic_supervisor_context();
    typed_input();
    let failed = FAILED.load(Ordering::Relaxed);
    println!("plic-clint {}", if failed { "FAILED" } else { "done" });
    finisher::exit(u16::from(failed))
}
