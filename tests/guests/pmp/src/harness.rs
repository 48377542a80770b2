//! Running one access in a chosen privilege mode and catching its trap.
//!
//! `run(mode, pc, a0, a1)` saves the M-mode context, `mret`s to `pc` in
//! `mode` with a0/a1 set, and returns when the code there traps back to
//! M: by `ecall` (the access succeeded; `value` is the code's a0) or by a
//! fault (`cause` and `tval` from mcause/mtval). The code it runs uses no
//! stack, so PMP only has to grant it its own instructions.

use core::arch::{asm, global_asm};

use rt::{csr, finisher, println};

/// mstatus.MPP values.
pub const U: usize = 0;
pub const S: usize = 1;
pub const M: usize = 3;

/// What the code run by `run` did.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ret {
    /// mcause of the trap that ended it: 8, 9 or 11 (ecall) when it completed.
    pub cause: usize,
    /// The code's a0 after an ecall, else mtval.
    pub value: usize,
}

impl Ret {
    pub fn completed(&self) -> bool {
        matches!(self.cause, 8 | 9 | 11)
    }
}

global_asm!(
    r#"
    .section .text.pmp_harness, "ax"
    .balign 4
    .global pmp_enter
pmp_enter:
    # a0 = mode (MPP), a1 = pc, a2/a3 = the a0/a1 the code starts with.
    la      t0, pmp_ctx
    sd      ra, 0(t0)
    sd      sp, 8(t0)
    sd      s0, 16(t0)
    sd      s1, 24(t0)
    sd      s2, 32(t0)
    sd      s3, 40(t0)
    sd      s4, 48(t0)
    sd      s5, 56(t0)
    sd      s6, 64(t0)
    sd      s7, 72(t0)
    sd      s8, 80(t0)
    sd      s9, 88(t0)
    sd      s10, 96(t0)
    sd      s11, 104(t0)
    li      t1, 1
    sd      t1, 112(t0)
    la      t1, pmp_trap
    csrw    mtvec, t1
    li      t1, 3 << 11
    csrc    mstatus, t1
    slli    a0, a0, 11
    csrs    mstatus, a0
    csrw    mepc, a1
    mv      a0, a2
    mv      a1, a3
    mret

    .balign 4
pmp_trap:
    # Every trap of this program lands here; only one armed by pmp_enter
    # is expected.
    la      t0, pmp_ctx
    ld      t1, 112(t0)
    beqz    t1, pmp_unexpected
    sd      zero, 112(t0)
    li      t1, 1 << 17
    csrc    mstatus, t1
    csrr    t1, mcause
    addi    t2, t1, -8
    li      t3, 4
    bgeu    t2, t3, 1f
    mv      a1, a0
    j       2f
1:
    csrr    a1, mtval
2:
    mv      a0, t1
    ld      ra, 0(t0)
    ld      sp, 8(t0)
    ld      s0, 16(t0)
    ld      s1, 24(t0)
    ld      s2, 32(t0)
    ld      s3, 40(t0)
    ld      s4, 48(t0)
    ld      s5, 56(t0)
    ld      s6, 64(t0)
    ld      s7, 72(t0)
    ld      s8, 80(t0)
    ld      s9, 88(t0)
    ld      s10, 96(t0)
    ld      s11, 104(t0)
    ret

    # The accesses, one per routine: a0 = address, a1 = value to store.
    .global pmp_lw, pmp_ld, pmp_sw, pmp_sd, pmp_amoadd, pmp_lr, pmp_sc, pmp_jr, pmp_mprv_lw, pmp_mprv_sw
pmp_lw:
    lw      a0, 0(a0)
    ecall
pmp_ld:
    ld      a0, 0(a0)
    ecall
pmp_sw:
    sw      a1, 0(a0)
    li      a0, 0
    ecall
pmp_sd:
    sd      a1, 0(a0)
    li      a0, 0
    ecall
pmp_amoadd:
    amoadd.w a0, a1, (a0)
    ecall
pmp_lr:
    lr.w    a0, (a0)
    ecall
pmp_sc:
    lr.w    t0, (a0)
    sc.w    a0, a1, (a0)
    ecall
pmp_jr:
    jr      a0
    # M-mode only: the access with MPRV=1 and MPP = a1 (already shifted).
pmp_mprv_lw:
    li      t0, 3 << 11
    csrc    mstatus, t0
    csrs    mstatus, a1
    li      t0, 1 << 17
    csrs    mstatus, t0
    lw      a0, 0(a0)
    csrc    mstatus, t0
    ecall
pmp_mprv_sw:
    li      t0, 3 << 11
    csrc    mstatus, t0
    csrs    mstatus, a1
    li      t0, 1 << 17
    csrs    mstatus, t0
    sw      zero, 0(a0)
    csrc    mstatus, t0
    ecall

    # A page of its own holding code, so that PMP can grant or deny
    # execution of exactly this page: `li a0, 0x5a; ecall`, and 16 bytes
    # further the same with 0x5b.
    .section .text.pmp_xpage, "ax"
    .balign 4096
    .global pmp_xpage, pmp_xpage2
pmp_xpage:
    li      a0, 0x5a
    ecall
    .balign 16
pmp_xpage2:
    li      a0, 0x5b
    ecall
    .balign 4096

    .section .bss.pmp_ctx, "aw", @nobits
    .balign 8
pmp_ctx:
    .zero   120
"#
);

unsafe extern "C" {
    fn pmp_enter(mode: usize, pc: usize, a0: usize, a1: usize) -> Ret;
    pub fn pmp_lw();
    pub fn pmp_ld();
    pub fn pmp_sw();
    pub fn pmp_sd();
    pub fn pmp_amoadd();
    pub fn pmp_lr();
    pub fn pmp_sc();
    pub fn pmp_jr();
    pub fn pmp_mprv_lw();
    pub fn pmp_mprv_sw();
    pub fn pmp_xpage();
    pub fn pmp_xpage2();
}

/// Address of one of the routines above.
pub fn addr_of(f: unsafe extern "C" fn()) -> usize {
    f as usize
}

/// Runs the routine at `pc` in `mode` with a0 = `a0`, a1 = `a1`.
pub fn run(mode: usize, pc: usize, a0: usize, a1: usize) -> Ret {
    // SAFETY: pmp_enter saves every register the Rust caller relies on
    // (ra, sp, s0-s11) and pmp_trap restores them; the code at `pc` is one
    // of the routines above (or pmp_xpage), which end in ecall or fault.
    unsafe { pmp_enter(mode, pc, a0, a1) }
}

/// A trap outside `run`: report it and fail.
#[unsafe(no_mangle)]
extern "C" fn pmp_unexpected() -> ! {
    println!("unexpected trap mcause={:#x} mepc={:#x} mtval={:#x}", csr::mcause(), csr::mepc(), csr::mtval());
    finisher::exit(13)
}

macro_rules! csr_by_index {
    ($write:ident, $read:ident, $prefix:literal, [$($n:literal),*]) => {
        /// Writes the CSR with this number suffix (M-mode only).
        pub fn $write(i: usize, v: usize) {
            match i {
                // SAFETY: PMP CSR writes only change which accesses
                // below M (or, when locked, in M) succeed.
                $($n => unsafe { asm!(concat!("csrw ", $prefix, $n, ", {0}"), in(reg) v) },)*
                _ => panic!("no such PMP CSR"),
            }
        }
        /// Reads the CSR with this number suffix (M-mode only).
        pub fn $read(i: usize) -> usize {
            let v: usize;
            match i {
                // SAFETY: reading a PMP CSR has no side effects.
                $($n => unsafe { asm!(concat!("csrr {0}, ", $prefix, $n), out(reg) v) },)*
                _ => panic!("no such PMP CSR"),
            }
            v
        }
    };
}

csr_by_index!(set_pmpaddr, pmpaddr, "pmpaddr", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
csr_by_index!(set_pmpcfg, pmpcfg, "pmpcfg", [0, 2]);

/// The configuration byte of entry `i` (0..16).
pub fn cfg(i: usize) -> u8 {
    (pmpcfg(i / 8 * 2) >> (8 * (i % 8))) as u8
}

/// Sets entry `i`'s address register, then its configuration byte.
pub fn set_entry(i: usize, cfg_byte: u8, addr: usize) {
    set_pmpaddr(i, addr);
    set_cfg(i, cfg_byte);
}

/// Sets entry `i`'s configuration byte, keeping the others.
pub fn set_cfg(i: usize, cfg_byte: u8) {
    let reg = i / 8 * 2;
    let shift = 8 * (i % 8);
    let v = (pmpcfg(reg) & !(0xff << shift)) | (usize::from(cfg_byte) << shift);
    set_pmpcfg(reg, v);
}

/// pmpaddr for a NAPOT region of `size` bytes (a power of two >= 8) at
/// `base` (aligned to `size`).
pub const fn napot(base: usize, size: usize) -> usize {
    (base >> 2) | ((size >> 3) - 1)
}

/// Writes satp (M-mode).
pub fn set_satp(v: usize) {
    // SAFETY: satp only matters below M; callers set it around S tests.
    unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) v) };
}
