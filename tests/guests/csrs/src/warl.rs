//! Writable bits and legal values: every read-write CSR is written with
//! all-ones and with zero (from M-mode, restoring it right after) and the
//! value read back is printed; then the WARL fields whose legalisation is
//! more than a mask (satp MODE, xtvec MODE, mstatus.MPP) and the CSRs that
//! are views of others (sstatus, sie, sip) or have side effects (fcsr on
//! mstatus.FS, stimecmp on mip.STIP, the counters).

use rt::enc::{A0, A1, A3, csrr, csrrw, csrw};
use rt::lower::{self, Code, Mode};
use rt::{check, check_eq, check_spec, info};

use crate::{m_read, m_write, ms, num, write_read_restore};

/// A CSR and what it reads after all-ones and after zero is written.
/// Only the bits in `mask` are compared; the full value is printed on an
/// `info:` line when `mask` is not all-ones (see `MASKS`).
struct Warl {
    name: &'static str,
    csr: u16,
    ones: u64,
    zero: u64,
    mask: u64,
}

const ALL: u64 = u64::MAX;
/// misa: RV64 with A, C, D, F, I, M, S, U (read-only here and in QEMU).
const MISA: u64 =
    (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
/// mstatus: every field of RV64 with S, U and F (no H or big-endian);
/// MPP = 3 (M); FS and VS Dirty so SD is set; UXL/SXL are read-only
/// 64-bit. VS "may optionally be read-only zero" when S-mode exists but V
/// does not (§3.1.6.6); it is writable as in QEMU.
const MSTATUS_ONES: u64 = ms::SIE
    | ms::MIE
    | ms::SPIE
    | ms::MPIE
    | ms::SPP
    | ms::MPP
    | ms::FS
    | ms::VS
    | ms::MPRV
    | ms::SUM
    | ms::MXR
    | ms::TVM
    | ms::TW
    | ms::TSR
    | ms::UXL_64
    | ms::SXL_64
    | ms::SD;
/// sstatus shows SIE, SPIE, SPP, VS, FS, SUM, MXR, UXL and SD of mstatus.
const SSTATUS_ONES: u64 =
    ms::SIE | ms::SPIE | ms::SPP | ms::VS | ms::FS | ms::SUM | ms::MXR | ms::UXL_64 | ms::SD;
/// medeleg: every exception that can happen below M-mode (0-9, 12, 13,
/// 15); bit 11 (ecall from M) is read-only zero (§3.1.8), 10 and 14 are
/// reserved.
const MEDELEG_ONES: u64 = 0x3ff | (1 << 12) | (1 << 13) | (1 << 15);
/// mideleg: the S-level interrupts SSI, STI, SEI.
const S_INTERRUPTS: u64 = (1 << 1) | (1 << 5) | (1 << 9);
/// mie: the M- and S-level interrupts.
const MIE_ONES: u64 = S_INTERRUPTS | (1 << 3) | (1 << 7) | (1 << 11);
/// menvcfg: FIOM and STCE (Sstc); CBIE/CBCFE/CBZE (Zicbom/Zicboz) and
/// PBMTE (Svpbmt) are read-only zero without those extensions.
const MENVCFG_STCE: u64 = 1 << 63;
const MENVCFG_ONES: u64 = MENVCFG_STCE | 1;

/// Bits compared where QEMU 7.2 differs from the spec, which decides for
/// wemu (every mask is explained in the README's list of differences):
/// - UXL is WARL over the XLENs U-mode supports; QEMU stores the 3 of an
///   all-ones write (XLEN 128, reserved). MPV/GVA (bits 39/38) exist only
///   with the H extension; QEMU keeps them writable with `h=false`.
const STATUS_MASK: u64 = !(ms::UXL | (3 << 38));
/// xtvec: the all-ones write (MODE 3, reserved) is ignored, so what it
/// reads is the handler address; only MODE is compared (`tvec_modes`
/// checks the rest).
const TVEC_MASK: u64 = 3;
/// mcounteren/scounteren are 32-bit registers; QEMU stores 64 bits.
const COUNTEREN_MASK: u64 = 0xffff_ffff;
/// xepc[0] is always zero (IALIGN 16); QEMU stores it.
const EPC_MASK: u64 = !1;
/// menvcfg/senvcfg: CBIE, CBCFE, CBZE (Zicbom/Zicboz) and PBMTE (Svpbmt)
/// are read-only zero without those extensions, which QEMU 7.2 lacks (or
/// has off) yet lets software set.
const ENVCFG_MASK: u64 = !(0xf0 | (1 << 62));
/// medeleg: the causes defined without H (0-15). Bit 11 is read-only zero
/// by the spec, yet writable in QEMU 7.2; bit 10 (ecall from VS) cannot
/// happen without H ("should be read-only zero").
const MEDELEG_MASK: u64 = 0xffff & !(3 << 10);
/// mideleg/mie/mip: the M and S interrupts; QEMU 7.2 also lets the
/// VS-level (H) and LCOFI (Sscofpmf) bits be set with both extensions off.
const IRQ_MASK: u64 = 0xaaa;

const TABLE: &[Warl] = &[
    Warl { name: "fflags", csr: num::FFLAGS, ones: 0x1f, zero: 0, mask: ALL },
    Warl { name: "frm", csr: num::FRM, ones: 0x7, zero: 0, mask: ALL },
    Warl { name: "fcsr", csr: num::FCSR, ones: 0xff, zero: 0, mask: ALL },
    Warl { name: "sstatus", csr: num::SSTATUS, ones: SSTATUS_ONES, zero: ms::UXL_64, mask: STATUS_MASK },
    Warl { name: "sie", csr: num::SIE, ones: 0, zero: 0, mask: ALL },
    Warl { name: "stvec", csr: num::STVEC, ones: 0, zero: 0, mask: TVEC_MASK },
    Warl { name: "scounteren", csr: num::SCOUNTEREN, ones: 0xffff_ffff, zero: 0, mask: COUNTEREN_MASK },
    Warl { name: "senvcfg", csr: num::SENVCFG, ones: 1, zero: 0, mask: ENVCFG_MASK },
    Warl { name: "sscratch", csr: num::SSCRATCH, ones: ALL, zero: 0, mask: ALL },
    Warl { name: "sepc", csr: num::SEPC, ones: !1, zero: 0, mask: EPC_MASK },
    Warl { name: "stval", csr: num::STVAL, ones: ALL, zero: 0, mask: ALL },
    Warl { name: "sip", csr: num::SIP, ones: 0, zero: 0, mask: ALL },
    Warl { name: "stimecmp", csr: num::STIMECMP, ones: ALL, zero: 0, mask: ALL },
    Warl { name: "satp", csr: num::SATP, ones: 0, zero: 0, mask: ALL },
    Warl {
        name: "mstatus",
        csr: num::MSTATUS,
        ones: MSTATUS_ONES,
        zero: ms::UXL_64 | ms::SXL_64,
        mask: STATUS_MASK,
    },
    Warl { name: "misa", csr: num::MISA, ones: MISA, zero: MISA, mask: ALL },
    Warl { name: "medeleg", csr: num::MEDELEG, ones: MEDELEG_ONES, zero: 0, mask: MEDELEG_MASK },
    Warl { name: "mideleg", csr: num::MIDELEG, ones: S_INTERRUPTS, zero: 0, mask: IRQ_MASK },
    Warl { name: "mie", csr: num::MIE, ones: MIE_ONES, zero: 0, mask: IRQ_MASK },
    Warl { name: "mtvec", csr: num::MTVEC, ones: 0, zero: 0, mask: TVEC_MASK },
    Warl { name: "mcounteren", csr: num::MCOUNTEREN, ones: 0xffff_ffff, zero: 0, mask: COUNTEREN_MASK },
    Warl { name: "menvcfg", csr: num::MENVCFG, ones: MENVCFG_ONES, zero: 0, mask: ENVCFG_MASK },
    Warl { name: "mscratch", csr: num::MSCRATCH, ones: ALL, zero: 0, mask: ALL },
    Warl { name: "mepc", csr: num::MEPC, ones: !1, zero: 0, mask: EPC_MASK },
    Warl { name: "mtval", csr: num::MTVAL, ones: ALL, zero: 0, mask: ALL },
    // SSIP, STIP (Sstc off) and SEIP are writable in mip; MSIP/MTIP/MEIP
    // follow the machine's lines (all low here).
    Warl { name: "mip", csr: num::MIP, ones: S_INTERRUPTS, zero: 0, mask: IRQ_MASK },
];

pub fn run() {
    ones_and_zero();
    cause_registers();
    satp_modes();
    tvec_modes();
    mstatus_fields();
    views();
    fp_dirty();
    sstc();
    counters();
    implementation_defined();
}

/// Writing `value` reads back as what?
fn after(csr: u16, value: u64) -> u64 {
    write_read_restore(csr, value, None)
}

/// Writing `first`, then `second`, reads back as what?
fn after_two(csr: u16, first: u64, second: u64) -> u64 {
    write_read_restore(csr, first, Some(second))
}

fn ones_and_zero() {
    m_write(num::MSTATUS, ms::FS_INITIAL);
    for w in TABLE {
        let (ones, zero) = (after(w.csr, ALL), after(w.csr, 0));
        let (ones_m, zero_m) = (ones & w.mask, zero & w.mask);
        let masked = if w.mask == ALL { "" } else { " (compared bits)" };
        if ones_m == w.ones & w.mask && zero_m == w.zero & w.mask {
            check!(true, "{} <- ones: {ones_m:#x}, <- 0: {zero_m:#x}{masked}", w.name);
        } else {
            check!(
                false,
                "{} <- ones: {ones_m:#x}, <- 0: {zero_m:#x}{masked}; expected {:#x}, {:#x}",
                w.name,
                w.ones & w.mask,
                w.zero & w.mask
            );
        }
        if w.mask != ALL {
            info!("{} <- ones: {ones:#x}, <- 0: {zero:#x} (all bits)", w.name);
        }
    }
    spec_rules();
}

/// What the spec requires of the bits the table does not compare (QEMU
/// 7.2 breaks each of these): the value read after writing all-ones.
fn spec_rules() {
    let rules: [(&str, u16, u64, u64); 11] = [
        // (what, CSR, bits, required value)
        ("mstatus.UXL is not 3 (reserved)", num::MSTATUS, ms::UXL, ms::UXL_64),
        ("sstatus.UXL is not 3 (reserved)", num::SSTATUS, ms::UXL, ms::UXL_64),
        ("mstatus.MPV/GVA read 0 without H", num::MSTATUS, 3 << 38, 0),
        ("mcounteren bits 63:32 read 0 (32-bit register)", num::MCOUNTEREN, !0xffff_ffff, 0),
        ("scounteren bits 63:32 read 0 (32-bit register)", num::SCOUNTEREN, !0xffff_ffff, 0),
        ("mcountinhibit bits 63:32 read 0 (32-bit register)", num::MCOUNTINHIBIT, !0xffff_ffff, 0),
        ("menvcfg.CBIE/CBCFE/CBZE/PBMTE read 0 without Zicbom/Zicboz/Svpbmt", num::MENVCFG, !ENVCFG_MASK, 0),
        ("senvcfg.CBIE/CBCFE/CBZE read 0 without Zicbom/Zicboz", num::SENVCFG, 0xf0, 0),
        ("mepc[0] reads 0", num::MEPC, 1, 0),
        ("sepc[0] reads 0", num::SEPC, 1, 0),
        ("medeleg[11] (ecall from M) reads 0", num::MEDELEG, 1 << 11, 0),
    ];
    m_write(num::MSTATUS, ms::FS_INITIAL);
    for (what, csr, bits, want) in rules {
        let got = after(csr, ALL) & bits;
        check_spec!(got == want, "{what}: {got:#x} after writing all-ones");
    }
}

/// xcause is WLRL: only legal values (existing causes) must read back.
fn cause_registers() {
    for (name, csr) in [("mcause", num::MCAUSE), ("scause", num::SCAUSE)] {
        for value in [13, 8, (1 << 63) | 5, (1 << 63) | 9, 0] {
            check_eq!(after(csr, value), value, "{name} <- {value:#x}");
        }
    }
}

/// satp.MODE (§4.1.11): Bare, Sv39 and Sv48 are accepted; "if satp is
/// written with an unsupported MODE, the entire write has no effect".
fn satp_modes() {
    m_write(num::SATP, 0);
    let sv39 = (8 << 60) | (0xffff << 44) | ((1 << 44) - 1);
    let sv48 = (9 << 60) | (0x1234 << 44) | 0x80_123;
    check_eq!(after(num::SATP, sv39), sv39, "satp <- Sv39, ASID 0xffff, PPN all-ones");
    check_eq!(after(num::SATP, sv48), sv48, "satp <- Sv48, ASID 0x1234");
    for mode in [1u64, 7, 11, 15] {
        // From a non-zero value, so "no effect" is visible.
        m_write(num::SATP, sv48);
        let got = after(num::SATP, (mode << 60) | 0x80_000);
        check_eq!(got, sv48, "satp <- reserved MODE {mode}: unchanged");
    }
    // Bare with other fields non-zero: their value is UNSPECIFIED
    // (§4.1.11); QEMU 7.2 and wemu store them as written.
    check_eq!(after(num::SATP, 0x123), 0x123u64, "satp <- Bare with PPN 0x123");
    // Sv57 (MODE 10) is optional: QEMU 7.2 implements it, wemu does not.
    m_write(num::SATP, sv48);
    let got = after(num::SATP, (10 << 60) | 0x80_000);
    info!("satp <- Sv57: {}", if got == sv48 { "unchanged (Sv57 not implemented)" } else { "accepted" });
    m_write(num::SATP, 0);
}

/// xtvec (§3.1.7): MODE 0 and 1 are legal, 2 and 3 reserved.
fn tvec_modes() {
    for (name, csr) in [("mtvec", num::MTVEC), ("stvec", num::STVEC)] {
        for value in [0x8000_1000u64, 0x8000_2001, 0xffff_fff0_0000_0100] {
            check_eq!(after(csr, value), value, "{name} <- {value:#x}");
        }
        // A reserved MODE: MODE must stay legal. Whether BASE is taken
        // from such a write is open; QEMU 7.2 and wemu ignore the write.
        for mode in [2, 3] {
            let got = after_two(csr, 0x8000_3001, 0x8000_4000 | mode);
            check_eq!(got, 0x8000_3001u64, "{name} <- MODE {mode} after 0x80003001: write ignored");
        }
    }
}

/// mstatus fields with more than two values.
fn mstatus_fields() {
    m_write(num::MSTATUS, ms::FS_INITIAL);
    // MPP is WARL over the implemented modes {U, S, M}; 2 is reserved.
    for mpp in [0u64, 1, 3] {
        let got = (after(num::MSTATUS, mpp << 11) & ms::MPP) >> 11;
        check_eq!(got, mpp, "mstatus.MPP <- {mpp}");
    }
    // 2 is reserved, so MPP must keep a legal value (wemu keeps the
    // previous one); QEMU 7.2 stores the 2.
    let got = (after_two(num::MSTATUS, 1 << 11, 2 << 11) & ms::MPP) >> 11;
    check_spec!(got != 2, "mstatus.MPP <- 2 (reserved) after 1: reads {got}, a legal mode");
    // FS takes all four values; SD summarises FS = Dirty.
    for fs in 0..4u64 {
        let got = after(num::MSTATUS, fs << 13);
        check_eq!(
            got & (ms::FS | ms::SD),
            (fs << 13) | if fs == 3 { ms::SD } else { 0 },
            "mstatus.FS <- {fs} (FS|SD)"
        );
    }
    // UXL is WARL; wemu has only 64-bit U-mode.
    let got = after(num::MSTATUS, ms::FS_INITIAL | (1 << 32));
    info!("mstatus.UXL <- 1: reads {}", (got & ms::UXL) >> 32);
    m_write(num::MSTATUS, ms::FS_INITIAL);
}

/// sstatus, sie and sip are views of mstatus, mie and mip (§4.1.1, §4.1.3).
fn views() {
    quiet_stip();
    // M-only fields written through mstatus do not show in sstatus, and
    // writing sstatus leaves them alone. One piece of code, so that no
    // trap or mret in between changes MIE/MPIE/MPRV.
    let m_only = ms::MIE | ms::MPIE | ms::TVM | ms::TSR | ms::MPRV | (1 << 11);
    let code = Code::new()
        .i32(csrrw(A3, num::MSTATUS, A0))
        .i32(csrr(A0, num::SSTATUS))
        .i32(csrw(num::SSTATUS, A1))
        .i32(csrr(A1, num::MSTATUS))
        .i32(csrw(num::MSTATUS, A3));
    let o = lower::exec(Mode::Machine, &code, [(ms::FS_INITIAL | m_only) as usize, ms::SUM as usize, 0, 0]);
    check!(o.trap.is_none(), "mstatus/sstatus sequence runs");
    check_eq!(o.ret as u64 & STATUS_MASK, ms::FS_INITIAL, "sstatus with M-only fields set in mstatus");
    check_eq!(o.ret2 as u64 & STATUS_MASK & !ms::SXL_64, m_only | ms::SUM, "mstatus after sstatus <- SUM");

    // sie: the delegated bits of mie.
    m_write(num::MIDELEG, S_INTERRUPTS);
    check_eq!(after(num::SIE, ALL), S_INTERRUPTS, "sie <- ones with mideleg = SSI|STI|SEI");
    m_write(num::MIE, MIE_ONES);
    m_write(num::MIDELEG, 1 << 1);
    check_eq!(m_read(num::SIE), 1 << 1, "sie with mie = all, mideleg = SSI");
    m_write(num::SIE, 0);
    check_eq!(m_read(num::MIE), MIE_ONES & !(1 << 1), "mie after sie <- 0 with mideleg = SSI");
    m_write(num::MIE, 0);

    // sip: only SSIP is writable there, and only when delegated.
    m_write(num::MIDELEG, S_INTERRUPTS);
    check_eq!(after(num::SIP, ALL), 1 << 1, "sip <- ones with mideleg = SSI|STI|SEI");
    m_write(num::MIP, S_INTERRUPTS);
    check_eq!(m_read(num::SIP), S_INTERRUPTS, "sip with mip.SSIP|STIP|SEIP set, all delegated");
    m_write(num::MIDELEG, 1 << 5);
    check_eq!(m_read(num::SIP), 1 << 5, "sip with only STI delegated");
    m_write(num::MIP, 0);
    m_write(num::MIDELEG, 0);
}

/// Clears mip with stimecmp at "never" first: QEMU 7.2 raises STIP from
/// stimecmp even while menvcfg.STCE is clear (see `sstc`).
fn quiet_stip() {
    m_write(num::STIMECMP, ALL);
    m_write(num::MIP, 0);
}

/// Writing fcsr/fflags/frm makes mstatus.FS Dirty (§3.1.6.6).
fn fp_dirty() {
    for (name, csr) in [("fflags", num::FFLAGS), ("frm", num::FRM), ("fcsr", num::FCSR)] {
        m_write(num::MSTATUS, ms::FS_INITIAL);
        m_write(csr, 1);
        check_eq!(
            m_read(num::MSTATUS) & (ms::FS | ms::SD),
            ms::FS | ms::SD,
            "mstatus.FS|SD after {name} <- 1"
        );
    }
    m_write(num::FCSR, 0);
    // frm holds any 3-bit value; 5-7 only trap when an instruction uses them.
    check_eq!(after(num::FRM, 5), 5, "frm <- 5 (invalid rounding mode, stored)");
    check_eq!(after(num::FCSR, 0xe1), 0xe1, "fcsr <- frm 7, NX");
    m_write(num::MSTATUS, ms::FS_INITIAL);
}

/// Sstc: with menvcfg.STCE set, mip.STIP is `time >= stimecmp` and not
/// writable.
fn sstc() {
    const STIP: u64 = 1 << 5;
    // Without STCE "STIP in mip reverts to its defined behavior as if
    // this extension is not implemented" (Sstc): a stimecmp write must not
    // set it. QEMU 7.2 sets it.
    quiet_stip();
    m_write(num::STIMECMP, 0);
    let stip = (m_read(num::MIP) & STIP) >> 5;
    check_spec!(stip == 0, "mip.STIP after stimecmp <- 0 with STCE clear: {stip}");
    quiet_stip();
    m_write(num::STIMECMP, ALL);
    m_write(num::MENVCFG, MENVCFG_STCE);
    check_eq!(m_read(num::MIP) & STIP, 0, "mip.STIP with STCE, stimecmp = max");
    m_write(num::MIP, STIP);
    check_eq!(m_read(num::MIP) & STIP, 0, "mip.STIP <- 1 with STCE (read-only)");
    m_write(num::STIMECMP, 0);
    check_eq!(m_read(num::MIP) & STIP, STIP, "mip.STIP with STCE, stimecmp = 0");
    m_write(num::MIP, 0);
    check_eq!(m_read(num::MIP) & STIP, STIP, "mip.STIP <- 0 with STCE, stimecmp = 0 (read-only)");
    m_write(num::STIMECMP, ALL);
    check_eq!(m_read(num::MIP) & STIP, 0, "mip.STIP after stimecmp <- max");
    m_write(num::MENVCFG, 0);
    m_write(num::MIP, 0);
}

/// mcycle/minstret are writable and keep counting from the value written;
/// time only moves forward.
fn counters() {
    for (name, csr, shadow) in
        [("mcycle", num::MCYCLE, num::CYCLE), ("minstret", num::MINSTRET, num::INSTRET)]
    {
        let base = 1u64 << 62;
        m_write(csr, base);
        let (a, b) = (m_read(csr), m_read(shadow));
        // How fast they count is the implementation's business (QEMU's
        // mcycle follows the host clock): just "not below, not far above".
        check!(
            a >= base && b >= a && b - base < 1 << 40,
            "{name} <- 2^62, then {name} and its user shadow read 2^62 + small, in order"
        );
        m_write(csr, 0);
    }
    let t0 = m_read(num::TIME);
    let t1 = m_read(num::TIME);
    check!(t1 >= t0, "time does not go backwards");
}

/// Values the spec leaves to the implementation: printed, not compared.
fn implementation_defined() {
    for (name, csr) in [
        ("mcountinhibit", num::MCOUNTINHIBIT),
        ("mhpmcounter3", num::MHPMCOUNTER3),
        ("mhpmevent3", num::MHPMEVENT3),
        // Entry 1 is off (pmpcfg0 byte 1 = 0): its address is harmless.
        ("pmpaddr1", num::PMPADDR0 + 1),
    ] {
        let old = m_read(csr);
        let ones = after(csr, ALL);
        m_write(csr, old);
        info!("{name} <- ones: {ones:#x}");
    }
    // WLRL: writing a value that is not a cause need not read back.
    info!("mcause <- ones: {:#x}", after(num::MCAUSE, ALL));
    info!("scause <- ones: {:#x}", after(num::SCAUSE, ALL));
    // Not written: a locked (L) entry could not be undone.
    info!("pmpcfg0 = {:#x}", m_read(num::PMPCFG0));
    for (name, csr) in [("marchid", num::MARCHID), ("mimpid", num::MIMPID)] {
        info!("{name} = {:#x}", m_read(csr));
    }
}
