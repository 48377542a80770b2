//! Synchronous exceptions other than illegal instructions and page faults.
//!
//! First the delegation table: causes 1-9 and 11, each raised from U, S
//! and M, with its medeleg bit clear and set (privileged spec §3.1.8:
//! a delegated trap from S or U goes to S; traps from M never do). Then
//! the variants of each cause with their exact xtval (§3.1.16).

use rt::enc::{self, A0, A1, A2, ZERO};
use rt::lower::{self, Code, Mode, Outcome};
use rt::{check, info};

use crate::{Addr, RAM_END, UNMAPPED, Want, expect, expect_no_trap, expect_spec, handler_for, num};

/// 8-aligned scratch data for the misaligned accesses.
#[repr(C, align(8))]
struct Data([u64; 4]);
static mut DATA: Data = Data([0; 4]);

fn data() -> usize {
    (&raw const DATA) as usize
}

/// Refills DATA with byte i = 0x80 + i (bit 7 set, so sign extension
/// shows in a misaligned load's result).
fn fill() {
    for i in 0..32 {
        // SAFETY: i < 32 = size of DATA; nothing else uses it meanwhile.
        unsafe { core::ptr::write_volatile((data() + i) as *mut u8, 0x80 + i as u8) };
    }
}

/// The little-endian value of `len` pattern bytes at offset `off`,
/// sign-extended if `signed`.
fn pattern(off: usize, len: usize, signed: bool) -> u64 {
    let v = (0..len).fold(0u64, |v, i| v | u64::from(0x80 + (off + i) as u8) << (8 * i));
    let shift = 64 - 8 * len as u32;
    if signed { (((v << shift) as i64) >> shift) as u64 } else { v }
}

/// Whether DATA holds the pattern except `value`'s `len` bytes at `off`.
fn stored(off: usize, len: usize, value: u64) -> bool {
    (0..32).all(|i| {
        // SAFETY: i < 32 = size of DATA.
        let b = unsafe { core::ptr::read_volatile((data() + i) as *const u8) };
        let want =
            if (off..off + len).contains(&i) { (value >> (8 * (i - off))) as u8 } else { 0x80 + i as u8 };
        b == want
    })
}

/// A misaligned load or store may trap or be carried out (Vol I §2.6:
/// "implementations ... may handle them in hardware or trap"): QEMU 7.2
/// does them, wemu traps. The check accepts the exact trap or the correct
/// result; an `info:` line says which happened.
fn misaligned_ok(what: core::fmt::Arguments, o: &Outcome, want: Want, done_right: bool) {
    match o.trap {
        Some(t) => {
            let ok = t.handler == want.handler
                && t.from == want.from
                && t.cause == want.cause
                && t.epc == want.epc
                && t.tval == want.tval;
            check!(ok, "{what}: trapped as specified or done in hardware");
            info!(
                "{what}: {} takes cause {} epc={} tval={}",
                t.handler.letter(),
                t.cause,
                Addr(t.epc),
                Addr(t.tval)
            );
        }
        None => {
            check!(done_right, "{what}: trapped as specified or done in hardware");
            info!("{what}: done in hardware");
        }
    }
}

/// An encoding that is illegal everywhere (also what the `trap` guest uses).
const ILLEGAL_WORD: u32 = 0xffff_ffff;

/// `ebreak` writes 0 to xtval on both QEMU 7.2 and wemu ("either set to
/// zero or written with exception-specific information", §3.1.16; the
/// address would be legal too).
fn ebreak_tval(_epc: usize) -> usize {
    0
}

/// Value the misaligned store writes.
const STORE_VALUE: u64 = 0x1122_3344_5566_7788;

/// Raises exception `cause` in `mode`: the outcome and the expected
/// (cause, epc, tval). `cause` 8 means "ecall", whose code depends on the
/// mode (8, 9 or 11). Causes 4 and 6 are misaligned accesses, which may
/// also be done in hardware (see `misaligned_ok`).
fn raise(cause: usize, mode: Mode) -> (Outcome, usize, usize, usize) {
    let base = lower::code_base();
    let exec = |code: Code, a0: usize| lower::exec(mode, &code, [a0, STORE_VALUE as usize, 0, 0]);
    fill();
    match cause {
        // Fetch from an address with nothing behind it.
        1 => (lower::run(mode, UNMAPPED, [0; 4]), 1, UNMAPPED, UNMAPPED),
        2 => (exec(Code::new().i32(ILLEGAL_WORD), 0), 2, base, ILLEGAL_WORD as usize),
        3 => (exec(Code::new().i32(enc::EBREAK), 0), 3, base, ebreak_tval(base)),
        4 => (exec(Code::new().i32(enc::load(2, A0, A0, 2)), data()), 4, base, data() + 2),
        5 => (exec(Code::new().i32(enc::load(3, A0, A0, 0)), UNMAPPED), 5, base, UNMAPPED),
        6 => (exec(Code::new().i32(enc::store(2, A1, A0, 2)), data()), 6, base, data() + 2),
        7 => (exec(Code::new().i32(enc::store(3, A1, A0, 0)), UNMAPPED), 7, base, UNMAPPED),
        _ => {
            let code = match mode {
                Mode::User => 8,
                Mode::Supervisor => 9,
                Mode::Machine => 11,
            };
            (exec(Code::new().i32(enc::ECALL), 0), code, base, 0)
        }
    }
}

pub fn run() {
    delegation_table();
    no_misaligned_fetch();
    fetch_faults();
    misaligned();
    access_faults();
    breakpoints();
    page_faults();
}

fn delegation_table() {
    let names = [
        (1, "instruction access fault"),
        (2, "illegal instruction"),
        (3, "breakpoint"),
        (4, "load address misaligned"),
        (5, "load access fault"),
        (6, "store address misaligned"),
        (7, "store access fault"),
        (8, "ecall"),
    ];
    for (cause, name) in names {
        for mode in [Mode::User, Mode::Supervisor, Mode::Machine] {
            for delegated in [false, true] {
                // The medeleg bit of the cause this mode raises (ecall: 8,
                // 9 or 11; bit 11 is read-only zero, and traps from M are
                // never delegated anyway).
                let code = match (cause, mode) {
                    (8, Mode::Supervisor) => 9,
                    (8, Mode::Machine) => 11,
                    _ => cause,
                };
                lower::m_write(num::MEDELEG, if delegated { 1 << code } else { 0 });
                let (o, want_cause, epc, tval) = raise(cause, mode);
                let want =
                    Want { handler: handler_for(mode, delegated), from: mode, cause: want_cause, epc, tval };
                let how = if delegated { "delegated" } else { "not delegated" };
                let what = format_args!("{name} from {} ({how})", mode.letter());
                match cause {
                    4 => misaligned_ok(what, &o, want, o.ret as u64 == pattern(2, 4, true)),
                    6 => misaligned_ok(what, &o, want, stored(2, 4, STORE_VALUE)),
                    _ => expect(what, &o, want),
                }
            }
        }
    }
    lower::m_write(num::MEDELEG, 0);
}

/// Cause 0 cannot happen here: IALIGN is 16 (C), misa.C cannot be
/// cleared, and jalr clears bit 0 of its target.
fn no_misaligned_fetch() {
    let misa = lower::m_read(num::MISA);
    lower::m_write(num::MISA, misa & !(1 << 2));
    let after = lower::m_read(num::MISA);
    check!(after & (1 << 2) != 0 && after == misa, "misa.C stays set after writing misa without C");
    // auipc a0, 0; addi a0, a0, 13; jalr x0, 0(a0) -> code+12 (bit 0 dropped).
    let code = Code::new()
        .i32(enc::auipc(A0, 0))
        .i32(enc::addi(A0, A0, 13))
        .i32(enc::jalr(ZERO, A0, 0))
        .i32(enc::addi(A0, ZERO, 77));
    let o = lower::exec(Mode::Machine, &code, [0; 4]);
    check!(o.trap.is_none() && o.ret == 77, "jalr to code+13 runs code+12 (no trap, a0 = {})", o.ret);
    // A 2-aligned (not 4-aligned) target: jal from code+0 to code+6, a
    // compressed `li a0, 5` there.
    let jal_6 = ((6u32 >> 1 & 0x3ff) << 21) | 0x6f;
    let code = Code::new().i32(jal_6).i16(0x0001).i16(0x4515);
    let o = lower::exec(Mode::Machine, &code, [0; 4]);
    check!(o.trap.is_none() && o.ret == 5, "jal to code+6 (2-aligned) runs there (no trap, a0 = {})", o.ret);
    info!("instruction address misaligned (0) cannot be raised: IALIGN=16 and misa.C is read-only");
}

fn fetch_faults() {
    // A jump into nothing: epc and tval are the target.
    let code = Code::new().i32(enc::jalr(enc::RA, A0, 0));
    for mode in [Mode::Machine, Mode::Supervisor, Mode::User] {
        for target in [UNMAPPED, RAM_END] {
            let o = lower::exec(mode, &code, [target, 0, 0, 0]);
            let want = Want { handler: Mode::Machine, from: mode, cause: 1, epc: target, tval: target };
            expect(format_args!("jalr to {target:#x} from {}", mode.letter()), &o, want);
        }
    }
    // (A 32-bit instruction in the last halfword of RAM is not tried:
    // QEMU 7.2 aborts on it, "translator_access: Assertion `phys_page !=
    // -1' failed"; wemu's unit tests cover it.)
}

/// One load or store (code runs in M-mode with a0 = `addr`) and its cause.
fn access(what: &str, insn: Code, addr: usize, cause: usize, tval: usize) {
    let o = lower::exec(Mode::Machine, &insn, [addr, 0, 0, 0]);
    let want = Want { handler: Mode::Machine, from: Mode::Machine, cause, epc: lower::code_base(), tval };
    expect(format_args!("{what} at {}", Addr(addr)), &o, want);
}

/// As `access`, as a `spec` line.
fn access_spec(what: &str, insn: Code, addr: usize, cause: usize, tval: usize) {
    let o = lower::exec(Mode::Machine, &insn, [addr, 0, 0, 0]);
    let want = Want { handler: Mode::Machine, from: Mode::Machine, cause, epc: lower::code_base(), tval };
    expect_spec(format_args!("{what} at {}", Addr(addr)), &o, want);
}

/// A misaligned load (a0 = DATA + `off` - `imm`): trap 4 or the value.
fn load(what: &str, code: Code, off: usize, len: usize, signed: bool) {
    fill();
    let d = data();
    let o = lower::exec(Mode::Machine, &code, [d, 0, 0, 0]);
    let want = Want {
        handler: Mode::Machine,
        from: Mode::Machine,
        cause: 4,
        epc: lower::code_base(),
        tval: d + off,
    };
    misaligned_ok(format_args!("{what} at DATA+{off}"), &o, want, o.ret as u64 == pattern(off, len, signed));
}

/// A misaligned store of `STORE_VALUE`: trap 6 (epc at `epc_off`) or
/// memory changed as it should.
fn store(what: &str, code: Code, off: usize, len: usize, epc_off: usize) {
    fill();
    let d = data();
    let o = lower::exec(Mode::Machine, &code, [d, STORE_VALUE as usize, 0, 0]);
    let want = Want {
        handler: Mode::Machine,
        from: Mode::Machine,
        cause: 6,
        epc: lower::code_base() + epc_off,
        tval: d + off,
    };
    misaligned_ok(format_args!("{what} at DATA+{off}"), &o, want, stored(off, len, STORE_VALUE));
}

/// `fmv.x.d a0, f0` / `fmv.d.x f0, a1`
const FMV_X_D: u32 = 0xe200_0553;
const FMV_D_X: u32 = 0xf205_8053;

fn misaligned() {
    let d = data();
    let one = |i: u32| Code::new().i32(i);
    // Loads (4): every width that can be misaligned.
    load("lh a0, 1(a0)", one(enc::load(1, A0, A0, 1)), 1, 2, true);
    load("lhu a0, 3(a0)", one(enc::load(5, A0, A0, 3)), 3, 2, false);
    load("lw a0, 2(a0)", one(enc::load(2, A0, A0, 2)), 2, 4, true);
    load("lwu a0, 1(a0)", one(enc::load(6, A0, A0, 1)), 1, 4, false);
    load("ld a0, 4(a0)", one(enc::load(3, A0, A0, 4)), 4, 8, true);
    // c.lw a0, 0(a0) with a0 = DATA+2: the compressed form.
    fill();
    let o = lower::exec(Mode::Machine, &Code::new().i16(0x4108), [d + 2, 0, 0, 0]);
    let want =
        Want { handler: Mode::Machine, from: Mode::Machine, cause: 4, epc: lower::code_base(), tval: d + 2 };
    misaligned_ok(format_args!("c.lw a0, 0(a0) at DATA+2"), &o, want, o.ret as u64 == pattern(2, 4, true));
    load("fld f0, 4(a0)", one(enc::fld(0, A0, 4)).i32(FMV_X_D), 4, 8, true);
    // Stores (6).
    store("sh a1, 1(a0)", one(enc::store(1, A1, A0, 1)), 1, 2, 0);
    store("sw a1, 2(a0)", one(enc::store(2, A1, A0, 2)), 2, 4, 0);
    store("sd a1, 4(a0)", one(enc::store(3, A1, A0, 4)), 4, 8, 0);
    store("fsd f0, 4(a0)", one(FMV_D_X).i32(enc::fsd(0, A0, 4)), 4, 8, 4);
    // AMOs and LR/SC must not be split: a misaligned one raises an
    // address-misaligned (or access-fault) exception; AMOs and SC report
    // store/AMO causes (6), LR a load cause (4). QEMU 7.2 reports AMOs as
    // loads (4) and lets a misaligned SC without reservation fail quietly,
    // hence `spec` lines.
    fill();
    access_spec("amoadd.w a0, a1, (a0)", one(enc::amo(0, 2, A0, A0, A1)), d + 2, 6, d + 2);
    access_spec("amoswap.d a0, a1, (a0)", one(enc::amo(1, 3, A0, A0, A1)), d + 4, 6, d + 4);
    access_spec("amomaxu.d a0, a1, (a0)", one(enc::amo(0b11100, 3, A0, A0, A1)), d + 1, 6, d + 1);
    access_spec("sc.w a0, a1, (a0)", one(enc::amo(3, 2, A0, A0, A1)), d + 2, 6, d + 2);
    access("lr.d a0, (a0)", one(enc::amo(2, 3, A0, A0, ZERO)), d + 4, 4, d + 4);
    // Aligned accesses of every width do not trap.
    let all = Code::new()
        .i32(enc::load(1, A1, A0, 2))
        .i32(enc::load(2, A1, A0, 4))
        .i32(enc::load(3, A1, A0, 8))
        .i32(enc::store(3, A1, A0, 16))
        .i32(enc::amo(0, 3, A1, A0, A1));
    expect_no_trap(
        format_args!("aligned lh/lw/ld/sd/amoadd.d"),
        &lower::exec(Mode::Machine, &all, [d, 0, 0, 0]),
    );
}

fn access_faults() {
    let one = |i: u32| Code::new().i32(i);
    access("ld a0, 0(a0)", one(enc::load(3, A0, A0, 0)), UNMAPPED, 5, UNMAPPED);
    access("lbu a0, 0(a0)", one(enc::load(4, A0, A0, 0)), RAM_END, 5, RAM_END);
    access("fld f0, 0(a0)", one(enc::fld(0, A0, 0)), UNMAPPED, 5, UNMAPPED);
    access("lr.d a0, (a0)", one(enc::amo(2, 3, A0, A0, ZERO)), UNMAPPED, 5, UNMAPPED);
    access("sd a1, 0(a0)", one(enc::store(3, A1, A0, 0)), UNMAPPED, 7, UNMAPPED);
    access("sb a1, 0(a0)", one(enc::store(0, A1, A0, 0)), RAM_END, 7, RAM_END);
    access("fsd f0, 0(a0)", one(enc::fsd(0, A0, 0)), UNMAPPED, 7, UNMAPPED);
    // AMOs report store/AMO access faults even though they read first
    // (QEMU 7.2 reports load access faults, 5).
    access_spec("amoor.w a0, a1, (a0)", one(enc::amo(0b01000, 2, A0, A0, A1)), UNMAPPED, 7, UNMAPPED);
    access_spec("amoswap.d a0, a1, (a0)", one(enc::amo(1, 3, A0, A0, A1)), RAM_END, 7, RAM_END);
    // The last word of RAM is still RAM.
    let o = lower::exec(Mode::Machine, &one(enc::load(2, A0, A0, -4)), [RAM_END, 0, 0, 0]);
    expect_no_trap(format_args!("lw a0, -4(a0) at {}: the last word of RAM", Addr(RAM_END)), &o);
    // Misaligned *and* unmapped: the spec lets either exception win.
    let o = lower::exec(Mode::Machine, &one(enc::load(2, A0, A0, 2)), [UNMAPPED, 0, 0, 0]);
    info!("lw at {:#x} (misaligned, unmapped): cause {:?}", UNMAPPED + 2, o.cause());
    misaligned_edges();
}

/// Misaligned accesses at the edges of RAM and on device registers.
fn misaligned_edges() {
    let one = |i: u32| Code::new().i32(i);
    // Across the end of RAM. Done in hardware, the part past the end is an
    // access fault reported at its first byte (§3.1.16: "the portion of
    // the access that caused the fault"), as on QEMU; the other legal
    // outcome is the misaligned trap at the address. Whether the store's
    // first part reached RAM is left open: wemu stores nothing, QEMU 7.2
    // the bytes before the end.
    for (what, insn, cause) in
        [("lw a0, 0(a0)", enc::load(2, A0, A0, 0), 5), ("sw a1, 0(a0)", enc::store(2, A1, A0, 0), 7)]
    {
        let addr = RAM_END - 2;
        let before = read_u16(addr);
        let o = lower::exec(Mode::Machine, &one(insn), [addr, usize::MAX, 0, 0]);
        let epc_ok = o.trap.is_some_and(|t| t.epc == lower::code_base() && t.handler == Mode::Machine);
        if cause == 7 {
            let kept = read_u16(addr) == before;
            info!("{what} at {}: the bytes in RAM {}", Addr(addr), if kept { "kept" } else { "written" });
        }
        match o.trap {
            Some(t) if t.cause == cause => check!(
                epc_ok && t.tval == RAM_END,
                "{what} at {}: access fault {cause} at {} (the first byte past RAM)",
                Addr(addr),
                Addr(t.tval)
            ),
            Some(t) => check!(
                epc_ok && t.cause == cause - 1 && t.tval == addr,
                "{what} at {}: address-misaligned trap {} tval={}",
                Addr(addr),
                t.cause,
                Addr(t.tval)
            ),
            None => check!(false, "{what} at {}: no trap", Addr(addr)),
        }
    }
    // Device registers (the PLIC's source priorities: no side effects).
    // QEMU splits the access into two aligned ones, wemu traps (devices
    // only ever see aligned accesses).
    let o = lower::exec(Mode::Machine, &one(enc::load(2, A0, A0, 0)), [PLIC + 2, 0, 0, 0]);
    match o.trap {
        Some(t) => info!("lw at PLIC+2 (device registers): cause {} tval={}", t.cause, Addr(t.tval)),
        None => info!("lw at PLIC+2 (device registers): done in hardware"),
    }
}

/// The PLIC (source priority registers at offset 4 × source).
const PLIC: usize = 0x0c00_0000;

fn read_u16(addr: usize) -> u16 {
    // SAFETY: addr is in RAM (the last halfword), which this program owns.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}

fn breakpoints() {
    // ebreak and c.ebreak in every mode; epc is the instruction.
    for mode in [Mode::Machine, Mode::Supervisor, Mode::User] {
        let base = lower::code_base();
        let o = lower::exec(mode, &Code::new().i16(enc::C_EBREAK), [0; 4]);
        let want = Want { handler: Mode::Machine, from: mode, cause: 3, epc: base, tval: ebreak_tval(base) };
        expect(format_args!("c.ebreak from {}", mode.letter()), &o, want);
        // After a compressed nop, so epc is 2-aligned only.
        let o = lower::exec(mode, &Code::new().i16(0x0001).i32(enc::EBREAK), [0; 4]);
        let want =
            Want { handler: Mode::Machine, from: mode, cause: 3, epc: base + 2, tval: ebreak_tval(base + 2) };
        expect(format_args!("ebreak at code+0x2 from {}", mode.letter()), &o, want);
    }
    // ecall's tval is 0 and epc the ecall itself, also when delegated.
    lower::m_write(num::MEDELEG, 1 << 8);
    let base = lower::code_base();
    let o = lower::exec(Mode::User, &Code::new().i16(0x0001).i32(enc::ECALL), [0; 4]);
    let want = Want { handler: Mode::Supervisor, from: Mode::User, cause: 8, epc: base + 2, tval: 0 };
    expect(format_args!("ecall at code+0x2 from U (delegated)"), &o, want);
    lower::m_write(num::MEDELEG, 0);
}

/// An Sv39 root with no valid entry.
#[repr(C, align(4096))]
struct EmptyTable([u64; 512]);
static EMPTY_ROOT: EmptyTable = EmptyTable([0; 512]);

/// Page faults in brief (the `paging` guest has the rest): under an Sv39
/// root with nothing mapped, an M-mode load and store with MPRV (MPP=S)
/// fault with 13 and 15, a jump into S-mode faults with 12; xtval is the
/// address. Not delegated, so all go to M.
fn page_faults() {
    const MPRV_MPP_S: usize = (1 << 17) | (1 << 11);
    let satp = (8u64 << 60) | ((&raw const EMPTY_ROOT) as u64 >> 12);
    lower::m_write(num::SATP, satp);
    let base = lower::code_base();
    let va = 0x1234_5678usize;
    for (name, insn, cause, tval) in
        [("load", enc::load(3, A0, A0, 0), 13, va), ("store", enc::store(3, A1, A0, 8), 15, va + 8)]
    {
        // csrs mstatus, a2 (MPRV, MPP=S); the access; csrc mstatus, a2.
        let code = Code::new().i32(enc::csrrs(ZERO, num::MSTATUS, A2)).i32(insn).i32(enc::csrrc(
            ZERO,
            num::MSTATUS,
            A2,
        ));
        let o = lower::exec(Mode::Machine, &code, [va, 0, MPRV_MPP_S, 0]);
        let want = Want { handler: Mode::Machine, from: Mode::Machine, cause, epc: base + 4, tval };
        expect(format_args!("{name} with MPRV (MPP=S) under an empty Sv39 root"), &o, want);
    }
    let o = lower::run(Mode::Supervisor, va, [0; 4]);
    let want = Want { handler: Mode::Machine, from: Mode::Supervisor, cause: 12, epc: va, tval: va };
    expect(format_args!("S-mode fetch under an empty Sv39 root"), &o, want);
    lower::m_write(num::SATP, 0);
}
