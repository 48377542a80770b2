//! Interrupts (privileged spec §3.1.6.1, §3.1.9, §4.1.3, Sstc): the
//! supervisor sources software can raise (SSIP, STIP and SEIP in mip;
//! STIP from stimecmp), when they are taken (xIE, mie, mode), where
//! (mideleg), in which order, and at which instruction: a write that makes
//! an enabled interrupt pending is followed by the trap with xepc = the
//! next instruction.

use rt::enc::{self, A0, ZERO};
use rt::lower::{self, Code, Mode, Outcome};
use rt::{check, check_eq, check_spec};

use crate::{Want, expect, expect_no_trap, ms, num};

const INT: usize = 1 << 63;
const SSI: u64 = 1 << 1;
const STI: u64 = 1 << 5;
const SEI: u64 = 1 << 9;
const S_ALL: u64 = SSI | STI | SEI;
const MENVCFG_STCE: u64 = 1 << 63;
const COUNTEREN_TM: u64 = 1 << 1;

const SOURCES: [(&str, u64, usize); 3] = [("SSI", SSI, 1), ("STI", STI, 5), ("SEI", SEI, 9)];

/// `csrsi mstatus, MIE`
fn enable_m() -> u32 {
    enc::csrrsi(ZERO, num::MSTATUS, 8)
}
/// `csrsi sstatus, SIE`
fn enable_s() -> u32 {
    enc::csrrsi(ZERO, num::SSTATUS, 2)
}

/// Clean slate after each check: nothing pending, enabled or delegated.
fn quiet() {
    lower::m_write(num::MENVCFG, 0);
    lower::m_write(num::STIMECMP, u64::MAX);
    for csr in [num::MIE, num::MIP, num::MIDELEG, num::MCOUNTEREN] {
        lower::m_write(csr, 0);
    }
    lower::m_write(num::MSTATUS, ms::FS_INITIAL);
}

fn want(handler: Mode, from: Mode, code: usize, epc: usize) -> Want {
    Want { handler, from, cause: INT | code, epc, tval: 0 }
}

pub fn run() {
    quiet();
    raised_by_csr_write();
    masked();
    priority();
    delegated();
    sstc();
    wfi_wakes();
    machine_bits_read_only();
}

/// In M-mode with MIE=1 and the source enabled: `csrs mip` makes it
/// pending and the very next instruction is interrupted.
fn raised_by_csr_write() {
    let base = lower::code_base();
    for (name, bit, code) in SOURCES {
        lower::m_write(num::MIE, bit);
        let c = Code::new().i32(enable_m()).i32(enc::csrrs(ZERO, num::MIP, A0)).i32(enc::NOP);
        let o = lower::exec(Mode::Machine, &c, [bit as usize, 0, 0, 0]);
        expect(
            format_args!("{name}: csrs mip in M with MIE=1"),
            &o,
            want(Mode::Machine, Mode::Machine, code, base + 8),
        );
        check_eq!(lower::m_read(num::MIP) & S_ALL, bit, "{name}: mip after the trap (still pending)");
        quiet();
    }
}

/// Pending but not taken: MIE=0 in M, or the mie bit clear.
fn masked() {
    for (name, bit, _) in SOURCES {
        lower::m_write(num::MIE, bit);
        lower::m_write(num::MIP, bit);
        let o = lower::exec(Mode::Machine, &Code::new().i32(enc::NOP), [0; 4]);
        expect_no_trap(format_args!("{name} pending and enabled, M-mode with MIE=0"), &o);
        lower::m_write(num::MIE, S_ALL & !bit);
        let o = lower::exec(Mode::Machine, &Code::new().i32(enable_m()).i32(enc::NOP), [0; 4]);
        expect_no_trap(format_args!("{name} pending, mie.{name}E clear, MIE=1"), &o);
        // Below M-mode, M-level interrupts are enabled whatever MIE says.
        lower::m_write(num::MIE, bit);
        for mode in [Mode::Supervisor, Mode::User] {
            let o = lower::exec(mode, &Code::new().i32(enc::NOP), [0; 4]);
            let w = want(
                Mode::Machine,
                mode,
                SOURCES.iter().find(|s| s.1 == bit).map_or(0, |s| s.2),
                lower::code_base(),
            );
            expect(format_args!("{name} pending, not delegated, in {} with MIE=0", mode.letter()), &o, w);
        }
        quiet();
    }
}

/// All three pending at once: SEI, then SSI, then STI (§3.1.9), each taken
/// as soon as MIE is set; the handler leaves it pending, so the next one
/// shows once the taken one is cleared. QEMU 7.2 takes the lowest-numbered
/// pending interrupt first (SSI, STI, SEI), hence a `spec` line.
fn priority() {
    let base = lower::code_base();
    let mut pending = S_ALL;
    let mut order = [0usize; 3];
    for slot in order.iter_mut() {
        lower::m_write(num::MIE, S_ALL);
        lower::m_write(num::MIP, pending);
        let o = lower::exec(Mode::Machine, &Code::new().i32(enable_m()).i32(enc::NOP), [0; 4]);
        let cause = o.cause().unwrap_or(0) & !INT;
        *slot = cause;
        check!(
            o.trap.is_some_and(|t| t.epc == base + 4 && t.cause & INT != 0) && pending & (1 << cause) != 0,
            "priority: with {} of SEI/SSI/STI pending, M takes one of them at code+0x4",
            pending.count_ones()
        );
        pending &= !(1 << cause);
    }
    check_spec!(order == [9, 1, 5], "priority order SEI, SSI, STI: saw causes {order:?}");
    quiet();
}

/// With mideleg set: never taken in M; in S only with SIE; in U always;
/// always handled in S. M-level (not delegated) interrupts come first.
fn delegated() {
    let base = lower::code_base();
    for (name, bit, code) in SOURCES {
        lower::m_write(num::MIDELEG, S_ALL);
        lower::m_write(num::MIE, bit);
        lower::m_write(num::MIP, bit);
        let o = lower::exec(Mode::Machine, &Code::new().i32(enable_m()).i32(enc::NOP), [0; 4]);
        expect_no_trap(format_args!("{name} delegated, pending, M-mode with MIE=1"), &o);
        let o = lower::exec(Mode::Supervisor, &Code::new().i32(enc::NOP), [0; 4]);
        expect_no_trap(format_args!("{name} delegated, pending, S-mode with SIE=0"), &o);
        let o = lower::exec(Mode::Supervisor, &Code::new().i32(enable_s()).i32(enc::NOP), [0; 4]);
        let w = want(Mode::Supervisor, Mode::Supervisor, code, base + 4);
        expect(format_args!("{name} delegated, S-mode sets SIE"), &o, w);
        let o = lower::exec(Mode::User, &Code::new().i32(enc::NOP), [0; 4]);
        expect(
            format_args!("{name} delegated, U-mode (SIE=0)"),
            &o,
            want(Mode::Supervisor, Mode::User, code, base),
        );
        quiet();
    }
    // SSIP delegated, STIP not: in S with SIE=1 the M-level STI wins.
    lower::m_write(num::MIDELEG, SSI);
    lower::m_write(num::MIE, SSI | STI);
    lower::m_write(num::MIP, SSI | STI);
    let o = lower::exec(Mode::Supervisor, &Code::new().i32(enable_s()).i32(enc::NOP), [0; 4]);
    expect(
        format_args!("SSI delegated and STI not, both pending, in S"),
        &o,
        want(Mode::Machine, Mode::Supervisor, 5, base),
    );
    quiet();
    // S-mode raises its own software interrupt through sip.
    lower::m_write(num::MIDELEG, SSI);
    lower::m_write(num::MIE, SSI);
    let c = Code::new().i32(enable_s()).i32(enc::csrrsi(ZERO, num::SIP, 2)).i32(enc::NOP);
    let o = lower::exec(Mode::Supervisor, &c, [0; 4]);
    expect(
        format_args!("S sets sip.SSIP with SIE=1"),
        &o,
        want(Mode::Supervisor, Mode::Supervisor, 1, base + 8),
    );
    quiet();
}

/// Sstc: with menvcfg.STCE, writing stimecmp <= time raises STIP at once.
fn sstc() {
    let base = lower::code_base();
    lower::m_write(num::MENVCFG, MENVCFG_STCE);
    lower::m_write(num::MIE, STI);
    let c = Code::new().i32(enable_m()).i32(enc::csrw(num::STIMECMP, ZERO)).i32(enc::NOP);
    let o = lower::exec(Mode::Machine, &c, [0; 4]);
    expect(
        format_args!("stimecmp <- 0 in M with STCE, MIE=1"),
        &o,
        want(Mode::Machine, Mode::Machine, 5, base + 8),
    );
    lower::m_write(num::STIMECMP, u64::MAX);
    check_eq!(lower::m_read(num::MIP) & STI, 0, "mip.STIP after stimecmp <- max");
    // The way an OS uses it: delegated, S-mode programs stimecmp itself.
    lower::m_write(num::MIDELEG, STI);
    lower::m_write(num::MCOUNTEREN, COUNTEREN_TM);
    let o = lower::exec(Mode::Supervisor, &c_s(), [0; 4]);
    expect(
        format_args!("stimecmp <- 0 in S with STCE, TM, SIE=1"),
        &o,
        want(Mode::Supervisor, Mode::Supervisor, 5, base + 8),
    );
    quiet();
}

fn c_s() -> Code {
    Code::new().i32(enable_s()).i32(enc::csrw(num::STIMECMP, ZERO)).i32(enc::NOP)
}

/// WFI returns when an enabled interrupt is pending, even if xIE masks it
/// (§3.3.3), so a check-then-wait loop cannot sleep through it.
fn wfi_wakes() {
    lower::m_write(num::MIE, SSI);
    lower::m_write(num::MIP, SSI);
    let o: Outcome =
        lower::exec(Mode::Machine, &Code::new().i32(enc::WFI).i32(enc::addi(A0, ZERO, 7)), [0; 4]);
    check!(o.trap.is_none() && o.ret == 7, "wfi in M with SSIP pending, MIE=0: continues (a0 = {})", o.ret);
    lower::m_write(num::MIDELEG, SSI);
    let o = lower::exec(Mode::Supervisor, &Code::new().i32(enc::WFI).i32(enc::addi(A0, ZERO, 8)), [0; 4]);
    check!(o.trap.is_none() && o.ret == 8, "wfi in S with SSIP delegated, SIE=0: continues (a0 = {})", o.ret);
    quiet();
}

/// MSIP, MTIP and MEIP follow the machine's lines: software cannot set
/// them in mip.
fn machine_bits_read_only() {
    lower::m_write(num::MIP, (1 << 3) | (1 << 7) | (1 << 11));
    check_eq!(lower::m_read(num::MIP) & 0x888, 0, "mip <- MSIP|MTIP|MEIP: stay clear");
    quiet();
}
