//! Interrupt-driven version of `echo`: same observable behaviour (received
//! bytes echoed with ASCII letters upper-cased, EOT ends the run with exit 0),
//! but the hart sleeps in `wfi` and the UART's received-data interrupt wakes it.
//!
//! On wemu's test machine (`tests/machines/virt-direct-irq.toml`) the UART
//! interrupt line drives hart 0's MEIP directly, bypassing the PLIC. The
//! trap handler drains the UART into a ring buffer; the main loop echoes
//! from the buffer. Any trap other than the machine external interrupt is
//! reported and exits 13. The `qemu` feature also programs virt's PLIC,
//! which sits between the UART and the hart on plain `virt`.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use rt::trap::{self, TrapFrame, cause};
use rt::{csr, finisher, println, uart};

const EOT: u8 = 0x04;

/// Single-producer (trap handler) / single-consumer (main loop) byte queue.
struct Ring<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
    /// Total bytes pushed; written only by the producer.
    head: AtomicUsize,
    /// Total bytes popped; written only by the consumer.
    tail: AtomicUsize,
}

// SAFETY: each slot is written by the producer only while it is outside
// [tail, head) and read by the consumer only while inside it; the
// Release/Acquire pairs on head/tail order the slot accesses.
unsafe impl<const N: usize> Sync for Ring<N> {}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Self { buf: UnsafeCell::new([0; N]), head: AtomicUsize::new(0), tail: AtomicUsize::new(0) }
    }

    /// Producer side. Returns false (dropping the byte) if the queue is full.
    fn push(&self, byte: u8) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) == N {
            return false;
        }
        // SAFETY: slot `head % N` is outside [tail, head), so the consumer is
        // not reading it.
        unsafe { self.buf.get().cast::<u8>().add(head % N).write(byte) };
        self.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Consumer side.
    fn pop(&self) -> Option<u8> {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        // SAFETY: slot `tail % N` is inside [tail, head): fully written and
        // not touched by the producer until `tail` moves past it.
        let byte = unsafe { self.buf.get().cast::<u8>().add(tail % N).read() };
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(byte)
    }
}

static RX: Ring<1024> = Ring::new();
/// External interrupts taken. Single hart and the handler never nests, so
/// plain load + store (no AMOs) is enough.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// Bytes lost because the ring was full (should stay 0).
static DROPPED: AtomicUsize = AtomicUsize::new(0);

fn on_trap(_frame: &mut TrapFrame) {
    if csr::mcause() != cause::MACHINE_EXTERNAL_INTERRUPT {
        trap::unexpected();
    }
    INTERRUPTS.store(INTERRUPTS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);

    #[cfg(feature = "qemu")]
    let irq = plic::claim();

    // The interrupt is level-triggered and stays asserted while LSR.DR is
    // set, so drain everything before returning. A full ring must not stop
    // the draining, or the handler would be re-entered forever.
    while let Some(byte) = uart::try_getc() {
        if !RX.push(byte) {
            DROPPED.store(DROPPED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    #[cfg(feature = "qemu")]
    plic::complete(irq);
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("irq-echo ready");

    trap::install(on_trap);
    #[cfg(feature = "qemu")]
    plic::init();
    uart::enable_rx_interrupt();
    // SAFETY: the handler is installed.
    unsafe {
        csr::set_mie(csr::MIE_MEIE);
        csr::enable_interrupts();
    }

    let mut echoed: usize = 0;
    loop {
        // Check for input and go to sleep with interrupts masked: if they
        // were enabled, an interrupt between an empty check and `wfi` would
        // be handled first and `wfi` would then sleep on a byte already in
        // the ring. A pending interrupt still wakes `wfi` with mstatus.MIE
        // clear, and is taken as soon as MIE is set again.
        csr::disable_interrupts();
        let byte = RX.pop();
        if byte.is_none() {
            csr::wfi();
        }
        // SAFETY: the handler is installed.
        unsafe { csr::enable_interrupts() };

        let Some(byte) = byte else { continue };
        if byte == EOT {
            csr::disable_interrupts();
            println!("\nbye after {echoed} bytes, {} interrupts", INTERRUPTS.load(Ordering::Relaxed));
            let dropped = DROPPED.load(Ordering::Relaxed);
            if dropped != 0 {
                println!("dropped {dropped} bytes: ring buffer overflow");
                finisher::exit(1);
            }
            finisher::exit(0);
        }
        uart::putc(byte.to_ascii_uppercase());
        echoed += 1;
    }
}

/// QEMU `virt` only: route the UART's interrupt (source 10) through the PLIC
/// to hart 0's M-mode context, so the program can be validated under QEMU.
#[cfg(feature = "qemu")]
mod plic {
    use core::ptr::{read_volatile, write_volatile};

    const BASE: usize = 0x0c00_0000;
    const UART_IRQ: usize = 10;
    const PRIORITY: usize = BASE + 4 * UART_IRQ;
    const ENABLE_CTX0: usize = BASE + 0x2000;
    const THRESHOLD_CTX0: usize = BASE + 0x20_0000;
    const CLAIM_CTX0: usize = BASE + 0x20_0004;

    fn write(addr: usize, value: u32) {
        // SAFETY: PLIC registers of QEMU's virt machine.
        unsafe { write_volatile(addr as *mut u32, value) }
    }

    pub fn init() {
        write(PRIORITY, 1);
        write(ENABLE_CTX0, 1 << UART_IRQ);
        write(THRESHOLD_CTX0, 0);
    }

    pub fn claim() -> u32 {
        // SAFETY: as in `write`.
        unsafe { read_volatile(CLAIM_CTX0 as *const u32) }
    }

    pub fn complete(irq: u32) {
        write(CLAIM_CTX0, irq);
    }
}
