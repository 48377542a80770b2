//! Every trap the hart can take, with the exact cause, epc and tval, in
//! M-mode or (delegated) S-mode:
//!
//! - `sync`: each synchronous exception cause from U, S and M, with and
//!   without delegation (medeleg), plus the variants of each (widths,
//!   compressed forms, AMOs, LR/SC, FP loads and stores);
//! - `illegal`: reserved and unimplemented encodings, privileged
//!   instructions in the wrong mode or under TSR/TW/TVM, CSR rules, FP
//!   with FS=Off;
//! - `irq`: software-set interrupts (SSIP, STIP, SEIP) and Sstc's timer,
//!   enables, delegation (mideleg) and priority.
//!
//! Page faults (12, 13, 15) are covered by the `paging` guest. The
//! machine-level sources (MSIP, MTIP, MEIP) need a CLINT/PLIC, which
//! wemu's board does not have yet.
//!
//! Prints one line per check and exits 0 only if all of them passed;
//! `info:` lines show behaviour the spec leaves open.

#![no_std]
#![no_main]

mod illegal;
mod irq;
mod sync;

use core::fmt;

use rt::lower::{self, Mode, Outcome};
use rt::{check, uart};

/// No device in either machine's map (QEMU virt: between the PLIC and
/// the UART windows; wemu: nothing but RAM, UART and the finisher).
pub const UNMAPPED: usize = 0x0800_0000;
/// The first byte after the 128 MiB of RAM both machines have.
pub const RAM_END: usize = 0x8800_0000;

/// CSR numbers used here.
pub mod num {
    pub const FRM: u16 = 0x002;
    pub const SSTATUS: u16 = 0x100;
    pub const SIP: u16 = 0x144;
    pub const STIMECMP: u16 = 0x14d;
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MIP: u16 = 0x344;
    pub const MVENDORID: u16 = 0xf11;
}

/// mstatus bits.
pub mod ms {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const FS_INITIAL: u64 = 1 << 13;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
}

/// An address, printed relative to the `exec` code buffer when inside it
/// (`code+0x4`), else in hex.
pub struct Addr(pub usize);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = lower::code_base();
        if (base..base + lower::CODE_BYTES).contains(&self.0) {
            write!(f, "code+{:#x}", self.0 - base)
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// The trap a check expects.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub handler: Mode,
    pub from: Mode,
    pub cause: usize,
    pub epc: usize,
    pub tval: usize,
}

/// Prints one check: the trap taken (or "no trap") against `want`.
pub fn expect(what: fmt::Arguments, o: &Outcome, want: Want) {
    expect_as(false, what, o, want);
}

/// As `expect`, as a `spec` line (QEMU 7.2 deviates; see rt::check).
pub fn expect_spec(what: fmt::Arguments, o: &Outcome, want: Want) {
    expect_as(true, what, o, want);
}

fn report(spec: bool, ok: bool, what: fmt::Arguments) {
    if spec {
        rt::check::report_spec(ok, what);
    } else {
        rt::check::report(ok, what);
    }
}

fn expect_as(spec: bool, what: fmt::Arguments, o: &Outcome, want: Want) {
    match o.trap {
        Some(t) => {
            let ok = t.handler == want.handler
                && t.from == want.from
                && t.cause == want.cause
                && t.epc == want.epc
                && t.tval == want.tval;
            let shown = format_args!(
                "{what}: {} takes cause {:#x} from {}, epc={} tval={}",
                t.handler.letter(),
                t.cause,
                t.from.letter(),
                Addr(t.epc),
                Addr(t.tval)
            );
            if ok {
                report(spec, true, format_args!("{shown}"));
            } else {
                report(
                    spec,
                    false,
                    format_args!(
                        "{shown}; expected {} cause {:#x} from {} epc={} tval={}",
                        want.handler.letter(),
                        want.cause,
                        want.from.letter(),
                        Addr(want.epc),
                        Addr(want.tval)
                    ),
                );
            }
        }
        None => report(spec, false, format_args!("{what}: no trap (returned {:#x})", o.ret)),
    }
}

/// Prints one check: the code must finish without a trap.
pub fn expect_no_trap(what: fmt::Arguments, o: &Outcome) {
    match o.trap {
        Some(t) => check!(false, "{what}: trap cause {:#x} epc={}", t.cause, Addr(t.epc)),
        None => check!(true, "{what}: no trap"),
    }
}

/// The handler a trap from `mode` goes to when its cause is (or is not)
/// delegated: S only for traps from S or U.
pub fn handler_for(mode: Mode, delegated: bool) -> Mode {
    if delegated && mode != Mode::Machine { Mode::Supervisor } else { Mode::Machine }
}

/// Nothing delegated, no interrupt enabled or pending, paging off, FP on.
pub fn reset_state() {
    lower::m_write(num::MSTATUS, ms::FS_INITIAL);
    lower::m_write(num::STIMECMP, u64::MAX);
    for csr in [num::MEDELEG, num::MIDELEG, num::MIE, num::MIP, num::MENVCFG, num::SATP, num::MCOUNTEREN] {
        lower::m_write(csr, 0);
    }
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    lower::disarm_clint_timer();
    reset_state();
    sync::run();
    reset_state();
    illegal::run();
    reset_state();
    irq::run();
    rt::check::finish()
}
