//! Reads all 4096 CSR numbers from M-, S- and U-mode: exactly the
//! implemented ones may be read, every other number must raise an
//! illegal-instruction exception (privileged spec §2.1: also when the
//! CSR's privilege level, bits 9:8 of its number, is above the current
//! mode).

use rt::enc::{A0, csrr};
use rt::lower::{self, Code, Mode};
use rt::{check, print, println};

use crate::{ILLEGAL, m_write, ms, num};

/// CSR numbers an M-mode read must succeed on (inclusive ranges).
const IMPLEMENTED: &[(u16, u16)] = &[
    (0x001, 0x003), // fflags, frm, fcsr
    (0x100, 0x100), // sstatus
    (0x104, 0x106), // sie, stvec, scounteren
    (0x10a, 0x10a), // senvcfg
    (0x140, 0x144), // sscratch, sepc, scause, stval, sip
    (0x14d, 0x14d), // stimecmp (Sstc)
    (0x180, 0x180), // satp
    (0x300, 0x306), // mstatus, misa, medeleg, mideleg, mie, mtvec, mcounteren
    (0x30a, 0x30a), // menvcfg
    (0x320, 0x320), // mcountinhibit
    (0x323, 0x33f), // mhpmevent3-31
    (0x340, 0x344), // mscratch, mepc, mcause, mtval, mip
    (0x3a0, 0x3a0), // pmpcfg0
    (0x3a2, 0x3a2), // pmpcfg2
    (0x3b0, 0x3bf), // pmpaddr0-15
    (0x7a0, 0x7a4), // tselect, tdata1-3, tinfo (Sdtrig)
    (0xb00, 0xb00), // mcycle
    (0xb02, 0xb12), // minstret, mhpmcounter3-18
    (0xc00, 0xc12), // cycle, time, instret, hpmcounter3-18
    (0xf11, 0xf15), // mvendorid, marchid, mimpid, mhartid, mconfigptr
];

/// Numbers whose presence the spec leaves open and on which QEMU 7.2 and
/// wemu differ; reported on an `info:` line, not checked:
/// - PMP entries 16-63 (pmpcfg4-14, pmpaddr16-63): an implementation has
///   0, 16 or 64 entries; QEMU has 16 and no CSRs beyond them.
/// - hpmcounter/mhpmcounter 19-31: QEMU 7.2 implements `pmu-num` = 16
///   counters (3-18) and makes the rest illegal; wemu has all 29 as
///   read-only zero.
/// - 0x24d (vstimecmp): QEMU 7.2 exposes it even without the H extension.
const OPEN: &[(u16, u16)] = &[(0x24d, 0x24d), (0x3a4, 0x3af), (0x3c0, 0x3ef), (0xb13, 0xb1f), (0xc13, 0xc1f)];

fn in_ranges(ranges: &[(u16, u16)], csr: u16) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&csr))
}

/// 4096 bits, one per CSR number.
struct Set([u64; 64]);

impl Set {
    fn new() -> Self {
        Set([0; 64])
    }
    fn insert(&mut self, csr: u16) {
        self.0[usize::from(csr / 64)] |= 1 << (csr % 64);
    }
    fn contains(&self, csr: u16) -> bool {
        self.0[usize::from(csr / 64)] & (1 << (csr % 64)) != 0
    }
}

/// Prints the members of `set` (restricted to `filter`) as ranges.
fn print_ranges(set: &Set, filter: impl Fn(u16) -> bool) {
    let mut csr = 0u16;
    while csr < 4096 {
        if set.contains(csr) && filter(csr) {
            let start = csr;
            while csr + 1 < 4096 && set.contains(csr + 1) && filter(csr + 1) {
                csr += 1;
            }
            if start == csr {
                print!(" {start:#05x}");
            } else {
                print!(" {start:#05x}-{csr:#05x}");
            }
        }
        csr += 1;
    }
}

pub fn run() {
    // Open everything the gates would otherwise close, so the scan sees
    // the privilege rule alone: FP on, counters and stimecmp enabled for
    // S and U, TVM off.
    m_write(num::MSTATUS, ms::FS_INITIAL);
    m_write(num::MCOUNTEREN, 0xffff_ffff);
    m_write(num::SCOUNTEREN, 0xffff_ffff);
    m_write(num::MENVCFG, 1 << 63);
    for mode in [Mode::Machine, Mode::Supervisor, Mode::User] {
        scan(mode);
    }
    m_write(num::MCOUNTEREN, 0);
    m_write(num::SCOUNTEREN, 0);
    m_write(num::MENVCFG, 0);
}

fn scan(mode: Mode) {
    let mut present = Set::new();
    let mut odd_traps = 0;
    for csr in 0..4096u16 {
        let insn = csrr(A0, csr);
        let o = lower::exec(mode, &Code::new().i32(insn), [0; 4]);
        match o.trap {
            None => present.insert(csr),
            // An absent CSR must be an illegal instruction, reported with
            // its bits in mtval, taken in M-mode (nothing is delegated).
            Some(t) if t.cause == ILLEGAL && t.tval == insn as usize && t.handler == Mode::Machine => {}
            Some(_) => odd_traps += 1,
        }
    }
    // Expected: the implemented CSRs whose privilege level (bits 9:8)
    // is at most the current mode.
    let expected = |csr: u16| in_ranges(IMPLEMENTED, csr) && (csr >> 8) & 3 <= mode as u16;
    let mut wrong = Set::new();
    let mut n_wrong = 0;
    for csr in 0..4096u16 {
        if in_ranges(OPEN, csr) {
            continue;
        }
        if present.contains(csr) != expected(csr) {
            wrong.insert(csr);
            n_wrong += 1;
        }
    }
    let m = mode.letter();
    check!(
        n_wrong == 0 && odd_traps == 0,
        "{m}-mode CSR reads: {} succeed, the rest raise illegal instruction ({} wrong, {} other traps)",
        (0..4096u16).filter(|&c| expected(c)).count(),
        n_wrong,
        odd_traps
    );
    if n_wrong != 0 {
        print!("     present but not expected, or expected but absent:");
        print_ranges(&wrong, |_| true);
        println!();
    }
    if mode == Mode::Machine {
        print!("info: M-mode CSRs present among those the spec leaves open:");
        print_ranges(&present, |c| in_ranges(OPEN, c));
        println!();
    }
}
