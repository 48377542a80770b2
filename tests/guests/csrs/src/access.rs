//! Who may read and write what: read-only CSRs (§2.1: writing one is an
//! illegal instruction, but csrrs/csrrc with x0 or uimm 0 only read), the
//! counter enables (§3.1.11, §4.1.5), TVM on satp (§3.1.6.5), Sstc's gate
//! on stimecmp, and mstatus.FS on the FP CSRs (§3.1.6.6).

use rt::enc::{A0, ZERO, csrr, csrrc, csrrci, csrrs, csrrsi, csrrw, csrrwi, csrw};
use rt::lower::{self, Code, Mode};
use rt::{check, check_eq, check_spec};

use crate::{ILLEGAL, expect_illegal, expect_ok, m_read, m_write, ms, num, read};

pub fn run() {
    read_only();
    identity();
    counter_enables();
    stimecmp_gate();
    satp_tvm();
    fp_gate();
}

/// Whether `insn` (run in M-mode with a0 = `a0`) raises illegal instruction.
fn traps(insn: u32, a0: usize) -> bool {
    let o = lower::exec(Mode::Machine, &Code::new().i32(insn), [a0, 0, 0, 0]);
    o.trap.is_some_and(|t| t.cause == ILLEGAL)
}

fn read_only() {
    let table = [
        ("mvendorid", num::MVENDORID),
        ("marchid", num::MARCHID),
        ("mimpid", num::MIMPID),
        ("mhartid", num::MHARTID),
        ("mconfigptr", num::MCONFIGPTR),
        ("cycle", num::CYCLE),
        ("time", num::TIME),
        ("instret", num::INSTRET),
        ("hpmcounter3", num::HPMCOUNTER3),
    ];
    for (name, csr) in table {
        // Writes: csrrw (even with rd = x0), csrrs/csrrc with a source
        // register other than x0 (holding 1 here: see below for 0),
        // csrrwi, csrrsi/csrrci with a non-zero immediate.
        let writes = [
            csrrw(ZERO, csr, A0),
            csrrw(A0, csr, ZERO),
            csrrs(A0, csr, A0),
            csrrc(A0, csr, A0),
            csrrwi(A0, csr, 0),
            csrrsi(A0, csr, 1),
            csrrci(A0, csr, 1),
        ];
        // Reads: csrrs/csrrc with x0, csrrsi/csrrci with uimm 0.
        let reads = [csrrs(A0, csr, ZERO), csrrc(A0, csr, ZERO), csrrsi(A0, csr, 0), csrrci(A0, csr, 0)];
        let bad_writes = writes.iter().filter(|&&w| !traps(w, 1)).count();
        let bad_reads = reads.iter().filter(|&&r| traps(r, 1)).count();
        check!(
            bad_writes == 0 && bad_reads == 0,
            "{name} is read-only: 7 write forms trap ({bad_writes} did not), 4 read forms do not ({bad_reads} did)"
        );
    }
    // The exact trap of one of them.
    expect_illegal(format_args!("csrw mvendorid from M"), Mode::Machine, csrw(num::MVENDORID, A0), 0);
    // csrrs/csrrc with rs1 != x0 "will still attempt to write" even when
    // rs1 holds 0 (Vol I, Zicsr), so on a read-only CSR they must trap;
    // QEMU 7.2 looks at the value instead and does not trap.
    for (name, insn) in [("csrrs", csrrs(A0, num::MVENDORID, A0)), ("csrrc", csrrc(A0, num::CYCLE, A0))] {
        let csr = if name == "csrrs" { "mvendorid" } else { "cycle" };
        check_spec!(traps(insn, 0), "{name} a0, {csr}, a0 with a0 = 0 (read-only CSR) traps");
    }
}

/// Values every implementation agrees on here (the rest are `info:`).
fn identity() {
    check_eq!(m_read(num::MHARTID), 0, "mhartid");
    check_eq!(m_read(num::MVENDORID), 0, "mvendorid (non-commercial)");
    check_eq!(m_read(num::MCONFIGPTR), 0, "mconfigptr (no configuration structure)");
}

fn mode_name(r: bool) -> &'static str {
    if r { "reads" } else { "traps" }
}

/// cycle/time/instret/hpmcounter3 from S need the mcounteren bit, from U
/// also the scounteren bit.
fn counter_enables() {
    for (name, csr, bit) in [
        ("cycle", num::CYCLE, 0),
        ("time", num::TIME, 1),
        ("instret", num::INSTRET, 2),
        ("hpmcounter3", num::HPMCOUNTER3, 3),
    ] {
        for (m, s) in [(false, false), (false, true), (true, false), (true, true)] {
            m_write(num::MCOUNTEREN, u64::from(m) << bit);
            m_write(num::SCOUNTEREN, u64::from(s) << bit);
            let s_reads = read(Mode::Supervisor, csr).is_ok();
            let u_reads = read(Mode::User, csr).is_ok();
            check!(
                s_reads == m && u_reads == (m && s),
                "{name} with mcounteren={} scounteren={}: S {}, U {}",
                u8::from(m),
                u8::from(s),
                mode_name(s_reads),
                mode_name(u_reads)
            );
        }
    }
    m_write(num::MCOUNTEREN, 0);
    m_write(num::SCOUNTEREN, 0);
}

/// Sstc: S-mode may use stimecmp only with menvcfg.STCE and mcounteren.TM.
fn stimecmp_gate() {
    for (stce, tm) in [(false, false), (false, true), (true, false), (true, true)] {
        m_write(num::MENVCFG, u64::from(stce) << 63);
        m_write(num::MCOUNTEREN, u64::from(tm) << 1);
        let s_reads = read(Mode::Supervisor, num::STIMECMP).is_ok();
        let u_reads = read(Mode::User, num::STIMECMP).is_ok();
        check!(
            s_reads == (stce && tm) && !u_reads,
            "stimecmp with STCE={} TM={}: S {}, U {}",
            u8::from(stce),
            u8::from(tm),
            mode_name(s_reads),
            mode_name(u_reads)
        );
    }
    m_write(num::MENVCFG, 0);
    m_write(num::MCOUNTEREN, 0);
}

/// mstatus.TVM makes satp illegal in S-mode (not in M-mode).
fn satp_tvm() {
    m_write(num::MSTATUS, ms::FS_INITIAL | ms::TVM);
    expect_illegal(format_args!("csrr satp from S with TVM"), Mode::Supervisor, csrr(A0, num::SATP), 0);
    expect_illegal(format_args!("csrw satp from S with TVM"), Mode::Supervisor, csrw(num::SATP, A0), 0);
    expect_ok(format_args!("csrr satp from M with TVM"), Mode::Machine, csrr(A0, num::SATP), 0);
    m_write(num::MSTATUS, ms::FS_INITIAL);
    expect_ok(format_args!("csrr satp from S without TVM"), Mode::Supervisor, csrr(A0, num::SATP), 0);
}

/// With mstatus.FS = Off the FP CSRs do not exist for any mode.
fn fp_gate() {
    for (name, csr) in [("fflags", num::FFLAGS), ("frm", num::FRM), ("fcsr", num::FCSR)] {
        m_write(num::MSTATUS, 0);
        for mode in [Mode::Machine, Mode::Supervisor, Mode::User] {
            expect_illegal(
                format_args!("csrr {name} from {} with FS=Off", mode.letter()),
                mode,
                csrr(A0, csr),
                0,
            );
        }
        m_write(num::MSTATUS, ms::FS_INITIAL);
        expect_ok(format_args!("csrr {name} from U with FS=Initial"), Mode::User, csrr(A0, csr), 0);
    }
}
