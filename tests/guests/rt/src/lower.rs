//! Run a piece of code in U-, S- or M-mode from M-mode and come back with
//! its result or with the trap it took.
//!
//! `run(mode, entry, args)` saves the M-mode context, `mret`s to `entry`
//! in `mode` with `args` in a0-a3 and `ra` pointing at an exit stub. The
//! code ends either by returning (the stub makes an `ecall` with a7 =
//! `DONE`) or by trapping: any other trap, in M-mode or (when delegated) in
//! S-mode, is recorded and ends the run. The S-mode handler records its
//! trap and escapes to M-mode, which returns to the caller of `run`. So
//! each check is "run this, what happened?", whatever the mode and
//! whether or not the code faults.
//!
//! The code runs on the caller's stack (below the saved context): in the
//! lower modes that stack must be accessible, or the code must not touch it
//! (the paging guest's probes are assembly that never does). After every
//! run the hart is back in M-mode with MIE=0, MPRV=0 and MPP=M.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::trap::{self, TrapFrame};

/// a7 value marking the `ecall` that ends a run normally.
pub const DONE: usize = 0x5d0e;

/// Privilege mode (mstatus.MPP encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Mode {
    User = 0,
    Supervisor = 1,
    Machine = 3,
}

impl Mode {
    fn from_bits(bits: usize) -> Mode {
        match bits & 3 {
            0 => Mode::User,
            1 => Mode::Supervisor,
            _ => Mode::Machine,
        }
    }

    /// One letter: U, S or M.
    pub fn letter(self) -> char {
        match self {
            Mode::User => 'U',
            Mode::Supervisor => 'S',
            Mode::Machine => 'M',
        }
    }
}

/// A trap that ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trap {
    /// The mode whose handler took it (M, or S when delegated).
    pub handler: Mode,
    /// The mode it was taken from (xPP).
    pub from: Mode,
    /// xcause (interrupt bit included), xepc, xtval.
    pub cause: usize,
    pub epc: usize,
    pub tval: usize,
}

/// What a run did: the code's a0/a1 if it returned, else its trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub ret: usize,
    pub ret2: usize,
    pub trap: Option<Trap>,
}

impl Outcome {
    /// The trap's cause, or `None` if the code returned.
    pub fn cause(&self) -> Option<usize> {
        self.trap.map(|t| t.cause)
    }
}

#[repr(C)]
struct Pair(usize, usize);

global_asm!(
    r#"
    .section .text.rt_lower, "ax"
    .balign 4
    .global rt_lower_call
    # a0 = entry, a1 = mode (MPP value), a2 = return address for the code,
    # a3..a6 = its arguments a0..a3.
rt_lower_call:
    addi    sp, sp, -112
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    sd      s3, 32(sp)
    sd      s4, 40(sp)
    sd      s5, 48(sp)
    sd      s6, 56(sp)
    sd      s7, 64(sp)
    sd      s8, 72(sp)
    sd      s9, 80(sp)
    sd      s10, 88(sp)
    sd      s11, 96(sp)
    la      t0, rt_lower_sp
    sd      sp, 0(t0)
    csrw    mepc, a0
    # MPP = mode, MPIE = 0 (an M-mode run starts with interrupts off).
    li      t0, 0x1880
    csrc    mstatus, t0
    slli    a1, a1, 11
    csrs    mstatus, a1
    mv      ra, a2
    mv      a0, a3
    mv      a1, a4
    mv      a2, a5
    mv      a3, a6
    li      a7, 0
    mret

    # The M-mode handler returns here (mret with MPP=M) with the results
    # in a0/a1; sp and the callee-saved registers may be anything.
    .global rt_lower_return
rt_lower_return:
    la      t0, rt_lower_sp
    ld      sp, 0(t0)
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    ld      s3, 32(sp)
    ld      s4, 40(sp)
    ld      s5, 48(sp)
    ld      s6, 56(sp)
    ld      s7, 64(sp)
    ld      s8, 72(sp)
    ld      s9, 80(sp)
    ld      s10, 88(sp)
    ld      s11, 96(sp)
    addi    sp, sp, 112
    ret

    # Where code run by `run` returns to.
    .global rt_lower_exit
rt_lower_exit:
    li      a7, {done}
    ecall
    j       rt_lower_exit

    .section .bss.rt_lower_sp, "aw", @nobits
    .balign 8
rt_lower_sp:
    .zero   8
"#,
    done = const DONE,
);

unsafe extern "C" {
    fn rt_lower_call(
        entry: usize,
        mode: usize,
        exit: usize,
        a0: usize,
        a1: usize,
        a2: usize,
        a3: usize,
    ) -> Pair;
    fn rt_lower_return();
    fn rt_lower_exit();
}

/// The recorded trap: valid flag, then handler, from, cause, epc, tval.
static HAVE_TRAP: AtomicBool = AtomicBool::new(false);
static TRAP: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
/// a0-a7 of the code when it trapped (the last trap recorded).
static TRAP_ARGS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
/// Set while `run` is in progress (a trap outside a run is a bug).
static IN_RUN: AtomicBool = AtomicBool::new(false);
/// The S-mode handler has recorded its trap and is escaping to M.
static S_ESCAPING: AtomicBool = AtomicBool::new(false);

fn record(handler: Mode, from: Mode, cause: usize, epc: usize, tval: usize, args: &[usize; 8]) {
    let values = [handler as usize, from as usize, cause, epc, tval];
    for (slot, v) in TRAP.iter().zip(values) {
        slot.store(v, Ordering::Relaxed);
    }
    for (slot, &v) in TRAP_ARGS.iter().zip(args) {
        slot.store(v, Ordering::Relaxed);
    }
    HAVE_TRAP.store(true, Ordering::Release);
}

fn recorded() -> Option<Trap> {
    if !HAVE_TRAP.load(Ordering::Acquire) {
        return None;
    }
    let v = TRAP.each_ref().map(|s| s.load(Ordering::Relaxed));
    Some(Trap {
        handler: Mode::from_bits(v[0]),
        from: Mode::from_bits(v[1]),
        cause: v[2],
        epc: v[3],
        tval: v[4],
    })
}

/// The code's a0-a7 when it took the trap of the last run that trapped
/// (what a handler sees in its frame: values the code computed before
/// the trapping instruction).
pub fn trap_args() -> [usize; 8] {
    TRAP_ARGS.each_ref().map(|s| s.load(Ordering::Relaxed))
}

/// Installs the M- and S-mode handlers and opens all memory to S and U
/// through PMP entry 0 (NAPOT over everything, RWX), as firmware does:
/// with PMP implemented and no entry, S/U accesses fail (QEMU enforces it).
pub fn init() {
    trap::install(m_handler);
    trap::install_supervisor(s_handler);
    // SAFETY: PMP only widens what S and U may access.
    unsafe {
        asm!(
            "csrw pmpaddr0, {all}",
            "csrw pmpcfg0, {napot_rwx}",
            all = in(reg) usize::MAX >> 10,
            napot_rwx = in(reg) 0x1fusize,
        );
    }
}

/// Runs `entry(args)` in `mode`; see the module documentation.
pub fn run(mode: Mode, entry: usize, args: [usize; 4]) -> Outcome {
    run_with_exit(mode, entry, rt_lower_exit as *const () as usize, args)
}

/// As `run`, with `exit` as the code's return address (code that cannot
/// reach `rt_lower_exit`, e.g. under a page table that does not map it,
/// ends with its own `ecall` instead).
pub fn run_with_exit(mode: Mode, entry: usize, exit: usize, args: [usize; 4]) -> Outcome {
    HAVE_TRAP.store(false, Ordering::Relaxed);
    S_ESCAPING.store(false, Ordering::Relaxed);
    IN_RUN.store(true, Ordering::Release);
    // SAFETY: rt_lower_call saves the callee-saved registers and sp and is
    // returned to (at rt_lower_return) by the M-mode handler below, so to
    // the compiler it is an ordinary call.
    let Pair(ret, ret2) =
        unsafe { rt_lower_call(entry, mode as usize, exit, args[0], args[1], args[2], args[3]) };
    IN_RUN.store(false, Ordering::Release);
    Outcome { ret, ret2, trap: recorded() }
}

const MSTATUS_MPP: usize = 3 << 11;
const MSTATUS_MPIE: usize = 1 << 7;
const MSTATUS_MPRV: usize = 1 << 17;

fn m_handler(frame: &mut TrapFrame) {
    if !IN_RUN.load(Ordering::Acquire) {
        trap::unexpected();
    }
    let (cause, epc, tval, status): (usize, usize, usize, usize);
    // SAFETY: reading M-mode CSRs in the M-mode handler.
    unsafe {
        asm!(
            "csrr {0}, mcause", "csrr {1}, mepc", "csrr {2}, mtval", "csrr {3}, mstatus",
            out(reg) cause, out(reg) epc, out(reg) tval, out(reg) status,
        );
    }
    let ecall = matches!(cause, 8 | 9 | 11);
    let normal_end = ecall && frame.a[7] == DONE;
    // The S-mode handler's escape (whatever trap it took) ends the run with
    // the trap S recorded.
    if !normal_end && !S_ESCAPING.load(Ordering::Relaxed) {
        record(Mode::Machine, Mode::from_bits(status >> 11), cause, epc, tval, &frame.a);
    }
    // Return to rt_lower_return in M-mode with interrupts off and MPRV
    // clear; a0/a1 of the frame become the results.
    if !normal_end {
        frame.a[0] = 0;
        frame.a[1] = 0;
    }
    // SAFETY: rt_lower_return restores the context rt_lower_call saved.
    unsafe {
        asm!(
            "csrw mepc, {ret}",
            "csrc mstatus, {clear}",
            "csrs mstatus, {mpp}",
            ret = in(reg) rt_lower_return as *const () as usize,
            clear = in(reg) MSTATUS_MPIE | MSTATUS_MPRV,
            mpp = in(reg) MSTATUS_MPP,
        );
    }
}

fn s_handler(frame: &mut TrapFrame) {
    let (cause, epc, tval, status): (usize, usize, usize, usize);
    // SAFETY: reading S-mode CSRs in the S-mode handler.
    unsafe {
        asm!(
            "csrr {0}, scause", "csrr {1}, sepc", "csrr {2}, stval", "csrr {3}, sstatus",
            out(reg) cause, out(reg) epc, out(reg) tval, out(reg) status,
        );
    }
    if S_ESCAPING.swap(true, Ordering::Relaxed) {
        // The escape ecall itself was delegated (medeleg bit 9): escape
        // with an M-level CSR access instead (illegal in S-mode). A test
        // must not delegate both.
        // SAFETY: traps to M-mode, which ends the run; never returns.
        unsafe { asm!("csrr zero, mscratch", "1: j 1b", options(noreturn)) };
    }
    record(Mode::Supervisor, Mode::from_bits((status >> 8) & 1), cause, epc, tval, &frame.a);
    // SAFETY: traps to M-mode (an ecall from S), which ends the run.
    unsafe { asm!("ecall", "1: j 1b", in("a7") DONE, options(noreturn)) };
}

/// A small code buffer for `exec`: instructions are written into RAM and
/// run from there, so tables of encodings (illegal ones, CSR numbers) need
/// no assembly per entry.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    half: [u16; 34],
    len: usize,
}

impl Default for Code {
    fn default() -> Self {
        Self::new()
    }
}

impl Code {
    pub const fn new() -> Self {
        Code { half: [0; 34], len: 0 }
    }
    /// Appends a 32-bit instruction.
    pub const fn i32(mut self, word: u32) -> Self {
        self.half[self.len] = word as u16;
        self.half[self.len + 1] = (word >> 16) as u16;
        self.len += 2;
        self
    }
    /// Appends a 16-bit (compressed) instruction.
    pub const fn i16(mut self, half: u16) -> Self {
        self.half[self.len] = half;
        self.len += 1;
        self
    }
    /// Byte offset of the next instruction appended.
    pub const fn offset(&self) -> usize {
        self.len * 2
    }
}

/// Size of the `exec` code buffer in bytes.
pub const CODE_BYTES: usize = 68;

/// 4-byte aligned so a 32-bit instruction never straddles anything odd.
#[repr(C, align(4))]
struct CodeBuf([u16; 34]);
static mut CODE_BUF: CodeBuf = CodeBuf([0; 34]);

/// Address the `exec` buffer's first instruction runs at.
pub fn code_base() -> usize {
    (&raw const CODE_BUF) as usize
}

/// `ret` (jalr x0, 0(ra)).
const RET: u32 = 0x0000_8067;

/// Runs `code` followed by `ret` in `mode` (see `run`); instruction i is
/// at `code_base() + offset`.
pub fn exec(mode: Mode, code: &Code, args: [usize; 4]) -> Outcome {
    let full = code.i32(RET);
    let base = (&raw mut CODE_BUF).cast::<u16>();
    for (i, &h) in full.half[..full.len].iter().enumerate() {
        // SAFETY: i < 34; the buffer is only written here, never while it runs.
        unsafe { core::ptr::write_volatile(base.add(i), h) };
    }
    // SAFETY: fence.i makes the stores visible to instruction fetch.
    unsafe { asm!("fence.i") };
    run(mode, code_base(), args)
}

/// QEMU's virt board has a CLINT whose mtimecmp resets to 0, so its MTIP
/// is pending from the start; wemu's board has no CLINT yet. Setting
/// mtimecmp to "never" (the store faults harmlessly where there is no
/// CLINT) makes `mip` start out the same on both.
pub fn disarm_clint_timer() {
    const MTIMECMP0: usize = 0x0200_4000;
    let code = Code::new().i32(crate::enc::sd(crate::enc::A1, crate::enc::A0, 0));
    let _ = exec(Mode::Machine, &code, [MTIMECMP0, usize::MAX, 0, 0]);
}

/// Reads `csr` in `mode`: its value, or the trap the read raised.
pub fn read_csr(mode: Mode, csr: u16) -> Result<u64, Trap> {
    let o = exec(mode, &Code::new().i32(crate::enc::csrr(crate::enc::A0, csr)), [0; 4]);
    o.trap.map_or(Ok(o.ret as u64), Err)
}

/// Writes `value` to `csr` in `mode` (csrrw x0: no read).
pub fn write_csr(mode: Mode, csr: u16, value: u64) -> Result<(), Trap> {
    let o = exec(mode, &Code::new().i32(crate::enc::csrw(csr, crate::enc::A0)), [value as usize, 0, 0, 0]);
    o.trap.map_or(Ok(()), Err)
}

/// Reads an M-mode CSR the program knows exists; a trap is a failed check.
pub fn m_read(csr: u16) -> u64 {
    read_csr(Mode::Machine, csr).unwrap_or_else(|t| {
        crate::check!(false, "csr {csr:#x} readable in M-mode (trap cause {})", t.cause);
        0
    })
}

/// Writes an M-mode CSR the program knows exists; a trap is a failed check.
pub fn m_write(csr: u16, value: u64) {
    if let Err(t) = write_csr(Mode::Machine, csr, value) {
        crate::check!(false, "csr {csr:#x} writable in M-mode (trap cause {})", t.cause);
    }
}
