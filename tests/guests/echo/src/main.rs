//! Polled UART echo: every received byte is sent back, ASCII letters
//! upper-cased (so the output is distinguishable from a terminal's local
//! echo). EOT (0x04, ^D) ends the run with exit code 0.

#![no_std]
#![no_main]

use rt::{finisher, println, uart};

const EOT: u8 = 0x04;

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    println!("echo ready");

    let mut echoed: usize = 0;
    loop {
        let byte = uart::getc();
        if byte == EOT {
            println!("\nbye after {echoed} bytes");
            finisher::exit(0);
        }
        uart::putc(byte.to_ascii_uppercase());
        echoed += 1;
    }
}
