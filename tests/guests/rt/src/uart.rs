//! Polled driver for the ns16550a UART at 0x1000_0000 (byte registers,
//! reg-shift 0), plus `print!`/`println!`.
//!
//! Output bytes are sent as-is: no `\n` -> `\r\n` translation, so harnesses
//! see exactly the strings the programs print.

use core::fmt;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};

const BASE: usize = 0x1000_0000;

// Register offsets. DLL/DLM replace RBR/THR/IER while LCR.DLAB is set.
const RBR: usize = 0; // receive buffer (read)
const THR: usize = 0; // transmit holding (write)
const DLL: usize = 0; // divisor latch low (DLAB)
const IER: usize = 1; // interrupt enable
const DLM: usize = 1; // divisor latch high (DLAB)
const FCR: usize = 2; // FIFO control (write); IIR on read
const LCR: usize = 3; // line control
const MCR: usize = 4; // modem control
const LSR: usize = 5; // line status

const IER_RX_AVAILABLE: u8 = 1 << 0;
const FCR_ENABLE: u8 = 1 << 0;
const FCR_CLEAR_RX: u8 = 1 << 1;
const FCR_CLEAR_TX: u8 = 1 << 2;
const LCR_8N1: u8 = 0b11; // 8 data bits, no parity, 1 stop bit
const LCR_DLAB: u8 = 1 << 7;
const MCR_DTR: u8 = 1 << 0;
const MCR_RTS: u8 = 1 << 1;
const MCR_OUT2: u8 = 1 << 3;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Divisor for 115200 baud from the classic 1.8432 MHz reference clock.
/// Emulated UARTs ignore the rate, but a real driver must program it.
const DIVISOR: u16 = 1;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

fn read(reg: usize) -> u8 {
    // SAFETY: BASE + reg is one of the UART's byte registers on this machine.
    unsafe { read_volatile((BASE + reg) as *const u8) }
}

fn write(reg: usize, value: u8) {
    // SAFETY: as in `read`.
    unsafe { write_volatile((BASE + reg) as *mut u8, value) }
}

/// Programs the UART for 115200 8N1 with FIFOs, interrupts off.
pub fn init() {
    write(IER, 0);
    // Set DLAB so offsets 0/1 address the divisor latch, and program it.
    write(LCR, LCR_DLAB);
    let [low, high] = DIVISOR.to_le_bytes();
    write(DLL, low);
    write(DLM, high);
    // 8N1; writing LCR without DLAB also gives offsets 0/1 back to
    // RBR/THR/IER.
    write(LCR, LCR_8N1);
    // Enable the FIFOs and discard anything left in them (RX trigger level 1,
    // so the RX interrupt fires for every byte).
    write(FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
    // OUT2 gates the interrupt line on PC-style boards; set it so IER alone
    // decides whether the UART interrupts.
    write(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    INITIALIZED.store(true, Ordering::Relaxed);
}

/// Whether `init` has run (used by the panic handler).
pub fn is_initialized() -> bool {
    INITIALIZED.load(Ordering::Relaxed)
}

/// Enables the "received data available" interrupt (IER bit 0).
pub fn enable_rx_interrupt() {
    write(IER, IER_RX_AVAILABLE);
}

/// Sends one byte, waiting until the transmitter can take it.
pub fn putc(byte: u8) {
    while read(LSR) & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    write(THR, byte);
}

/// Sends every byte of `s`.
pub fn puts(s: &str) {
    s.bytes().for_each(putc);
}

/// Returns the next received byte if one is waiting.
pub fn try_getc() -> Option<u8> {
    if read(LSR) & LSR_DATA_READY != 0 { Some(read(RBR)) } else { None }
}

/// Waits for and returns the next received byte.
pub fn getc() -> u8 {
    loop {
        if let Some(byte) = try_getc() {
            return byte;
        }
        core::hint::spin_loop();
    }
}

/// `core::fmt` sink writing to the UART.
pub struct Uart;

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        puts(s);
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    // Writing to the UART cannot fail.
    let _ = fmt::Write::write_fmt(&mut Uart, args);
}

/// Formats to the UART.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::uart::_print(format_args!($($arg)*))
    };
}

/// Formats to the UART, followed by `\n`.
#[macro_export]
macro_rules! println {
    () => {
        $crate::uart::putc(b'\n')
    };
    ($($arg:tt)*) => {{
        $crate::uart::_print(format_args!($($arg)*));
        $crate::uart::putc(b'\n');
    }};
}
