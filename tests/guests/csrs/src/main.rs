//! Every CSR the hart implements, checked from M-, S- and U-mode:
//!
//! - `scan`: which CSR numbers exist in each mode (every other number must
//!   raise an illegal-instruction exception);
//! - `warl`: the value read back after writing all-ones and zero (the
//!   writable bits and the legal values of every WARL field), and the
//!   side effects of a few writes (views, Sstc, FS);
//! - `access`: read-only CSRs, the counter enables of S and U, the gates on
//!   satp (TVM), stimecmp (STCE/TM) and the FP CSRs (FS);
//! - `trigger`: Sdtrig's trigger CSRs (tselect, tdata1-3, tinfo).
//!
//! Prints one line per check and exits 0 only if all of them passed.
//! Values that the privileged spec leaves to the implementation are
//! printed on `info:` lines, which emulator comparisons skip.

#![no_std]
#![no_main]

mod access;
mod scan;
mod trigger;
mod warl;

use rt::enc::{A0, csrr, csrrw, csrw};
use rt::lower::{self, Code, Mode};
use rt::{check, uart};

/// Illegal-instruction exception code.
const ILLEGAL: usize = 2;

/// CSR numbers (privileged spec 1.12 §2.2).
mod num {
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const HPMCOUNTER3: u16 = 0xc03;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    pub const STIMECMP: u16 = 0x14d;
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const PMPCFG0: u16 = 0x3a0;
    pub const PMPADDR0: u16 = 0x3b0;
    pub const TSELECT: u16 = 0x7a0;
    pub const TDATA1: u16 = 0x7a1;
    pub const TDATA2: u16 = 0x7a2;
    pub const TDATA3: u16 = 0x7a3;
    pub const TINFO: u16 = 0x7a4;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const MHPMCOUNTER3: u16 = 0xb03;
    pub const MHPMEVENT3: u16 = 0x323;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
}

/// mstatus fields (§3.1.6).
mod ms {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const MPP: u64 = 3 << 11;
    pub const FS: u64 = 3 << 13;
    pub const FS_INITIAL: u64 = 1 << 13;
    /// VS (vector state); writable although V is absent, see warl.rs.
    pub const VS: u64 = 3 << 9;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    /// UXL = SXL = 2 (XLEN 64).
    pub const UXL_64: u64 = 2 << 32;
    pub const SXL_64: u64 = 2 << 34;
    pub const UXL: u64 = 3 << 32;
    pub const SD: u64 = 1 << 63;
}

pub use rt::lower::{m_read, m_write, read_csr as read};

/// Writes `value` (then `second`, if given) and reads the result back in
/// one go, then restores the old value; nothing runs in between (a
/// transient mtvec or mstatus value never sees a trap).
fn write_read_restore(csr: u16, value: u64, second: Option<u64>) -> u64 {
    use rt::enc::{A1, A3};
    let mut code = Code::new().i32(csrrw(A3, csr, A0));
    if second.is_some() {
        code = code.i32(csrw(csr, A1));
    }
    let code = code.i32(csrr(A0, csr)).i32(csrw(csr, A3));
    let o = lower::exec(Mode::Machine, &code, [value as usize, second.unwrap_or(0) as usize, 0, 0]);
    if let Some(t) = o.trap {
        check!(false, "csr {csr:#x} write/read in M-mode (trap cause {})", t.cause);
    }
    o.ret as u64
}

/// Runs `code` and reports the trap it should raise: an illegal
/// instruction with mtval = the instruction bits (QEMU and wemu both write
/// them; the spec allows that or 0).
fn expect_illegal(what: core::fmt::Arguments, mode: Mode, insn: u32, arg: u64) {
    let o = lower::exec(mode, &Code::new().i32(insn), [arg as usize, 0, 0, 0]);
    match o.trap {
        Some(t) => check!(
            t.cause == ILLEGAL && t.tval == insn as usize && t.epc == lower::code_base(),
            "{what}: trap cause {} mtval={:#x}",
            t.cause,
            t.tval
        ),
        None => check!(false, "{what}: no trap"),
    }
}

/// Runs `insn` and checks that it does not trap.
fn expect_ok(what: core::fmt::Arguments, mode: Mode, insn: u32, arg: u64) -> u64 {
    let o = lower::exec(mode, &Code::new().i32(insn), [arg as usize, 0, 0, 0]);
    match o.trap {
        Some(t) => check!(false, "{what}: trap cause {}", t.cause),
        None => check!(true, "{what}: no trap"),
    }
    o.ret as u64
}

/// The state every group starts from: FP on, nothing delegated, no
/// interrupt sources enabled or pending, counters closed to S and U.
fn reset_state() {
    m_write(num::MSTATUS, ms::FS_INITIAL);
    // stimecmp before mip: QEMU 7.2 raises STIP when stimecmp <= time.
    m_write(num::STIMECMP, u64::MAX);
    for csr in [num::MEDELEG, num::MIDELEG, num::MIE, num::MIP, num::MENVCFG, num::SATP] {
        m_write(csr, 0);
    }
    m_write(num::MCOUNTEREN, 0);
    m_write(num::SCOUNTEREN, 0);
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    lower::disarm_clint_timer();
    reset_state();
    scan::run();
    reset_state();
    warl::run();
    reset_state();
    access::run();
    trigger::run();
    rt::check::finish()
}
