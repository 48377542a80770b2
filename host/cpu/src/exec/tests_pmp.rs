//! Physical Memory Protection as the executor applies it (privileged spec
//! 1.12 §3.7): loads, stores, AMOs and fetches in S, U and M (with MPRV),
//! the walker's PTE reads, and the caches that hold PMP verdicts (TLB,
//! icache hit path). The entry encodings themselves are tested in `pmp`.

use super::tests_mmu::{DATA_RW, LD, SD, SV39, VA, Vm, assert_fault, set_csr};
use crate::csr::{addr, mstatus};
use crate::mmu::pte;
use crate::pmp::cfg::{L, NA4, NAPOT, OFF, R, RWX, TOR, W, X};
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, TestMem};
use crate::{Exception, Hart, PrivMode, StepEvent, TrapRecord};

const PC: u64 = RAM_BASE;
const M_HANDLER: u64 = RAM_BASE + 0x800;
/// M-mode code the tests run to write PMP CSRs through instructions.
const CSR_CODE: u64 = RAM_BASE + 0xc00;
/// Data pages, above the code page.
const PAGE: u64 = RAM_BASE + 0x1_0000;

const S: PrivMode = PrivMode::Supervisor;
const U: PrivMode = PrivMode::User;
const M: PrivMode = PrivMode::Machine;

fn napot(base: u64, size: u64) -> u64 {
    (base >> 2) | ((size >> 3) - 1)
}

/// The accesses, one instruction each at PC + 4 × index, with x10 = the
/// address, x11 = 0x5a, result in x12.
#[derive(Debug, Clone, Copy)]
enum Op {
    Ld,
    Sd,
    Lw,
    Sw,
    AmoAddD,
    ScD,
}

fn code() -> [u32; 6] {
    [ld(12, 10, 0), sd(11, 10, 0), lw(12, 10, 0), sw(11, 10, 0), amo(0, 3, 12, 10, 11), amo(3, 3, 12, 10, 11)]
}

/// A hart with PMP programmed entry by entry, satp Bare.
struct Rig {
    hart: Hart,
    mem: TestMem,
    /// The mode every access runs in (restored after each trap).
    mode: PrivMode,
}

impl Rig {
    /// Entry 15 grants S and U read and execute on the code page only.
    fn new(mode: PrivMode) -> Rig {
        let mut mem = TestMem::new(RAM_BASE, 0x2_0000);
        mem.code(PC, &code());
        mem.put32(M_HANDLER, NOP);
        let mut hart = Hart::new(0, PC);
        set_csr(&mut hart, addr::MTVEC, M_HANDLER);
        let mut rig = Rig { hart, mem, mode };
        rig.entry(15, NAPOT | R | X, napot(PC, 0x1000));
        rig
    }

    /// Program entry `i` (address first) straight into the CSR file, and
    /// drop the verdicts the hart cached (a CSR instruction does both).
    fn entry(&mut self, i: usize, c: u8, a: u64) {
        set_csr(&mut self.hart, addr::PMPADDR0 + i as u16, a);
        let reg = addr::PMPCFG0 + (i / 8 * 2) as u16;
        let old = self.hart.peek_csr(reg).expect("pmpcfg");
        let shift = 8 * (i % 8);
        set_csr(&mut self.hart, reg, (old & !(0xff << shift)) | u64::from(c) << shift);
        self.hart.flush_tlb();
    }

    /// Write `csr` by executing `csrrw x0, csr, x5` in M-mode, as software does.
    fn csrw(&mut self, csr: u16, v: u64) {
        self.mem.code(CSR_CODE, &[csrrw(0, csr, 5)]);
        self.hart.flush_icache();
        self.hart.mode = M;
        self.hart.pc = CSR_CODE;
        self.hart.x[5] = v;
        assert_eq!(self.hart.step(&mut self.mem), Ok(StepEvent::Retired), "csrw {csr:#x}");
    }

    fn run(&mut self, op: Op, addr: u64) -> Result<u64, TrapRecord> {
        self.hart.mode = self.mode;
        self.hart.pc = PC + 4 * op as u64;
        self.hart.x[10] = addr;
        self.hart.x[11] = 0x5a;
        self.hart.x[12] = 0;
        match self.hart.step(&mut self.mem).expect("no halt") {
            StepEvent::Trap(rec) => Err(rec),
            _ => Ok(self.hart.x[12]),
        }
    }

    /// Execute whatever is at `pc`.
    fn exec(&mut self, pc: u64) -> Result<(), TrapRecord> {
        self.hart.mode = self.mode;
        self.hart.pc = pc;
        match self.hart.step(&mut self.mem).expect("no halt") {
            StepEvent::Trap(rec) => Err(rec),
            _ => Ok(()),
        }
    }
}

/// Assert an exception with this cause and tval (the epc is not checked:
/// `Rig` runs several instructions).
fn fault<T: std::fmt::Debug>(r: Result<T, TrapRecord>, exc: Exception, tval: u64, what: &str) {
    let rec = r.expect_err(what);
    assert_eq!(rec.cause, crate::TrapCause::Exception(exc), "{what}");
    assert_eq!(rec.tval, tval, "{what}: tval");
}

use Exception::{
    InstructionAccessFault as FetchFault, LoadAccessFault as LoadFault, StoreAccessFault as StoreFault,
};

#[test]
fn napot_na4_and_tor_regions_bound_s_and_u_accesses() {
    for mode in [S, U] {
        let mut r = Rig::new(mode);
        r.entry(0, NAPOT | R, napot(PAGE, 0x1000));
        r.entry(1, NA4 | R | W, (PAGE + 0x1008) >> 2);
        r.entry(2, OFF, (PAGE + 0x2000) >> 2);
        r.entry(3, TOR | R | W, (PAGE + 0x2100) >> 2);
        r.mem.put64(PAGE + 0xff8, 7);

        assert_eq!(r.run(Op::Ld, PAGE + 0xff8), Ok(7), "{mode:?}: NAPOT, last doubleword");
        fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "NAPOT without W");
        fault(r.run(Op::Ld, PAGE + 0x1000), LoadFault, PAGE + 0x1000, "just above NAPOT");
        assert_eq!(r.run(Op::Sw, PAGE + 0x1008), Ok(0), "NA4");
        assert_eq!(r.mem.get(PAGE + 0x1008, 4), 0x5a);
        fault(r.run(Op::Lw, PAGE + 0x100c), LoadFault, PAGE + 0x100c, "word after NA4");
        fault(r.run(Op::Sw, PAGE + 0x1004), StoreFault, PAGE + 0x1004, "word before NA4");
        assert_eq!(r.run(Op::Sd, PAGE + 0x2000), Ok(0), "TOR bottom (pmpaddr2, entry 2 off)");
        assert_eq!(r.run(Op::Sd, PAGE + 0x20f8), Ok(0), "TOR top doubleword");
        fault(r.run(Op::Sd, PAGE + 0x2100), StoreFault, PAGE + 0x2100, "TOR top is exclusive");
        fault(r.run(Op::Ld, PAGE + 0x1ff8), LoadFault, PAGE + 0x1ff8, "below TOR");
    }
}

#[test]
fn accesses_matching_an_entry_partly_fail_in_every_mode() {
    for mode in [S, U, M] {
        let mut r = Rig::new(mode);
        r.entry(0, NA4 | R | W, (PAGE + 4) >> 2);
        r.entry(1, NAPOT | R | W, napot(PAGE, 0x1000));
        r.mem.put64(PAGE, 0x1122_3344_5566_7788);

        assert_eq!(r.run(Op::Lw, PAGE), Ok(0x5566_7788), "{mode:?}: entry 1");
        assert_eq!(r.run(Op::Lw, PAGE + 4), Ok(0x1122_3344), "entry 0");
        fault(r.run(Op::Ld, PAGE), LoadFault, PAGE, "bytes 4..8 match entry 0, 0..4 do not");
        fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "same for stores");
    }
}

#[test]
fn the_lowest_numbered_match_decides() {
    let mut r = Rig::new(S);
    r.entry(2, NA4, (PAGE + 0x40) >> 2);
    r.entry(3, NAPOT | R | W, napot(PAGE, 0x1000));
    fault(r.run(Op::Lw, PAGE + 0x40), LoadFault, PAGE + 0x40, "entry 2 denies");
    assert_eq!(r.run(Op::Lw, PAGE + 0x44), Ok(0), "entry 3 allows");
    r.entry(1, NAPOT | R, napot(PAGE, 0x1000));
    assert_eq!(r.run(Op::Lw, PAGE + 0x40), Ok(0), "entry 1 now comes first");
    fault(r.run(Op::Sw, PAGE + 0x44), StoreFault, PAGE + 0x44, "and has no W");
}

#[test]
fn without_a_match_s_and_u_fail_and_m_succeeds() {
    for mode in [S, U] {
        let mut r = Rig::new(mode);
        r.entry(0, NAPOT | RWX, napot(PAGE + 0x1000, 0x1000));
        fault(r.run(Op::Ld, PAGE), LoadFault, PAGE, "no entry covers PAGE");
        fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "store");
        fault(r.exec(PAGE + 0x10), FetchFault, PAGE + 0x10, "fetch");
    }
    let mut r = Rig::new(M);
    r.entry(0, NAPOT, napot(PAGE + 0x1000, 0x1000));
    assert_eq!(r.run(Op::Sd, PAGE), Ok(0));
    assert_eq!(r.run(Op::Sd, PAGE + 0x1000), Ok(0), "an unlocked match without permissions binds only S/U");
}

#[test]
fn with_no_entry_active_s_and_u_fail() {
    // The spec, and QEMU 7.2 for accesses (see `pmp` on QEMU's mret).
    let mut r = Rig::new(S);
    r.entry(15, OFF, 0);
    r.mem.put32(PAGE, NOP);
    fault(r.exec(PAGE), FetchFault, PAGE, "S fetch");
    r.mode = U;
    fault(r.exec(PAGE), FetchFault, PAGE, "U fetch");
    r.mode = M;
    assert_eq!(r.exec(PAGE), Ok(()), "M fetch");
    assert_eq!(r.run(Op::Ld, PAGE), Ok(u64::from(NOP)), "M load");
}

#[test]
fn locked_entries_bind_m_mode_and_ignore_writes() {
    let mut r = Rig::new(M);
    r.mem.put64(PAGE, 0x66);
    r.mem.put32(PAGE + 0x1000, NOP);
    r.entry(0, L | NAPOT | R, napot(PAGE, 0x1000));
    r.entry(1, L | NAPOT | R | X, napot(PAGE + 0x1000, 0x1000));

    assert_eq!(r.run(Op::Ld, PAGE), Ok(0x66));
    fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "M store to a locked read-only entry");
    fault(r.run(Op::AmoAddD, PAGE), StoreFault, PAGE, "M AMO");
    fault(r.exec(PAGE), FetchFault, PAGE, "M fetch without X");
    assert_eq!(r.exec(PAGE + 0x1000), Ok(()), "M fetch with X");
    assert_eq!(r.run(Op::Sd, PAGE + 0x2000), Ok(0), "no match: M succeeds");

    // Writes through instructions: no trap, no effect.
    r.csrw(addr::PMPCFG0, 0);
    r.csrw(addr::PMPADDR0, 0);
    assert_eq!(
        r.hart.peek_csr(addr::PMPCFG0),
        Some(u64::from(L | NAPOT | R | X) << 8 | u64::from(L | NAPOT | R))
    );
    assert_eq!(r.hart.peek_csr(addr::PMPADDR0), Some(napot(PAGE, 0x1000)));
    r.mode = M;
    fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "still locked");
}

#[test]
fn a_locked_tor_entry_locks_the_address_register_below_it() {
    let mut r = Rig::new(M);
    r.entry(3, OFF, (PAGE + 0x100) >> 2);
    r.entry(4, L | TOR | R, (PAGE + 0x200) >> 2);
    r.csrw(addr::PMPADDR0 + 3, PAGE >> 2);
    assert_eq!(r.hart.peek_csr(addr::PMPADDR0 + 3), Some((PAGE + 0x100) >> 2));
    fault(r.run(Op::Sd, PAGE + 0x100), StoreFault, PAGE + 0x100, "TOR bottom unchanged");
    assert_eq!(r.run(Op::Sd, PAGE + 0xf8), Ok(0), "below it: no match");
    // Entry 3's own configuration is not locked.
    r.csrw(addr::PMPCFG0, u64::from(NA4 | R) << 24 | u64::from(L | TOR | R) << 32);
    assert_eq!(r.hart.csrs().pmp().cfg(3), NA4 | R);
}

#[test]
fn mprv_checks_m_mode_loads_and_stores_at_mpp_but_not_fetches() {
    let mut r = Rig::new(M);
    r.entry(0, NAPOT | R, napot(PAGE, 0x1000));
    r.mem.put64(PAGE, 0x42);
    for (mpp, name) in [(1u64, "MPP=S"), (0, "MPP=U")] {
        set_csr(&mut r.hart, addr::MSTATUS, mstatus::MPRV | mpp << mstatus::MPP_SHIFT);
        assert_eq!(r.run(Op::Ld, PAGE), Ok(0x42), "{name}");
        fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, name);
        set_csr(&mut r.hart, addr::MSTATUS, mstatus::MPRV | mpp << mstatus::MPP_SHIFT);
        fault(r.run(Op::Ld, PAGE + 0x1000), LoadFault, PAGE + 0x1000, name);
        // The code page is not executable for S/U (entry 15 covers PC's
        // page, but this fetch is elsewhere): M's fetches stay M's.
        r.mem.put32(PAGE + 0x1000, NOP);
        set_csr(&mut r.hart, addr::MSTATUS, mstatus::MPRV | mpp << mstatus::MPP_SHIFT);
        assert_eq!(r.exec(PAGE + 0x1000), Ok(()), "{name}: fetch");
    }
    set_csr(&mut r.hart, addr::MSTATUS, mstatus::MPRV | mstatus::MPP);
    assert_eq!(r.run(Op::Sd, PAGE), Ok(0), "MPP=M");
}

#[test]
fn amos_need_read_and_write_and_fault_as_stores() {
    let mut r = Rig::new(S);
    r.mem.put64(PAGE, 5);
    r.entry(0, NAPOT | R, napot(PAGE, 0x1000));
    fault(r.run(Op::AmoAddD, PAGE), StoreFault, PAGE, "read-only");
    // R=0 W=1 is kept as written (QEMU 7.2): writes only, so no AMO.
    r.entry(0, NAPOT | W, napot(PAGE, 0x1000));
    assert_eq!(r.hart.csrs().pmp().cfg(0), NAPOT | W);
    fault(r.run(Op::AmoAddD, PAGE), StoreFault, PAGE, "write-only");
    fault(r.run(Op::Ld, PAGE), LoadFault, PAGE, "write-only: load");
    assert_eq!(r.run(Op::Sd, PAGE), Ok(0), "write-only: store");
    r.mem.put64(PAGE, 5);
    r.entry(0, NAPOT | R | W, napot(PAGE, 0x1000));
    assert_eq!(r.run(Op::AmoAddD, PAGE), Ok(5));
    assert_eq!(r.mem.get(PAGE, 8), 5 + 0x5a);
    // SC is a store; without a reservation it fails without accessing.
    r.entry(0, NAPOT | R, napot(PAGE, 0x1000));
    assert_eq!(r.run(Op::ScD, PAGE), Ok(1), "SC without reservation");
    r.hart.reservation = Some(PAGE);
    fault(r.run(Op::ScD, PAGE), StoreFault, PAGE, "SC to read-only");
}

#[test]
fn fetch_needs_x_per_16_bit_parcel() {
    for mode in [S, U] {
        let mut r = Rig::new(mode);
        // c.nop at PAGE, then a 32-bit nop at PAGE+2 whose second half
        // lies in the next 4-byte granule.
        r.mem.put16(PAGE, 0x0001);
        r.mem.put16(PAGE + 2, NOP as u16);
        r.mem.put16(PAGE + 4, (NOP >> 16) as u16);
        r.entry(0, NA4 | R | X, PAGE >> 2);
        r.entry(1, NA4 | R | X, (PAGE + 4) >> 2);

        assert_eq!(r.exec(PAGE), Ok(()), "{mode:?}: c.nop");
        assert_eq!(r.exec(PAGE + 2), Ok(()), "both parcels executable, in two entries");
        // Now decoded and cached: the icache hit must check again.
        r.entry(1, NA4 | R, (PAGE + 4) >> 2);
        fault(r.exec(PAGE + 2), FetchFault, PAGE + 4, "second parcel");
        r.entry(0, NA4 | R, PAGE >> 2);
        fault(r.exec(PAGE), FetchFault, PAGE, "first parcel, cached");
    }
}

#[test]
fn pte_reads_are_checked_as_s_mode_and_fault_as_the_access() {
    let mut ld = Vm::new(SV39, S, &[LD]);
    let mut sd = Vm::new(SV39, S, &[SD]);
    for vm in [&mut ld, &mut sd] {
        vm.map(VA, PAGE, 0, DATA_RW);
        let leaf = vm.slot(VA, 0);
        // Deny the leaf PTE's doubleword only (entry 15 opens the rest).
        set_csr(&mut vm.hart, addr::PMPADDR0, leaf >> 2);
        set_csr(&mut vm.hart, addr::PMPCFG0, u64::from(NAPOT));
    }
    assert_fault(ld.access(VA), LoadFault, VA, "load");
    assert_fault(sd.access(VA), StoreFault, VA, "store");

    // M-mode with MPRV (MPP=U): the walk still reads as S and fails.
    let mut m = Vm::new(SV39, M, &[LD]);
    m.map(VA, PAGE, 0, DATA_RW | pte::U);
    let leaf = m.slot(VA, 0);
    set_csr(&mut m.hart, addr::PMPADDR0, leaf >> 2);
    set_csr(&mut m.hart, addr::PMPCFG0, u64::from(NAPOT));
    set_csr(&mut m.hart, addr::MSTATUS, mstatus::MPRV);
    assert_fault(m.access(VA), LoadFault, VA, "MPRV load");

    // A fetch whose PTE cannot be read: instruction access fault.
    let mut f = Vm::new(SV39, S, &[NOP]);
    let code_leaf = f.slot(super::tests_mmu::PC, 0);
    set_csr(&mut f.hart, addr::PMPADDR0, code_leaf >> 2);
    set_csr(&mut f.hart, addr::PMPCFG0, u64::from(NAPOT));
    let pc = super::tests_mmu::PC;
    assert_fault(f.access(0), FetchFault, pc, "fetch");
}

#[test]
fn paged_accesses_check_the_physical_address_after_translation() {
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, PAGE, 0, DATA_RW);
    vm.mem.put64(PAGE, 9);
    set_csr(&mut vm.hart, addr::PMPADDR0, napot(PAGE, 0x1000));
    set_csr(&mut vm.hart, addr::PMPCFG0, u64::from(NAPOT | W));
    assert_fault(vm.access(VA), LoadFault, VA, "PMP denies the page");
    // A page fault is decided first (translation precedes the access).
    vm.map(VA + 0x1000, PAGE, 0, pte::X | pte::A);
    vm.hart.mode = S;
    assert_fault(vm.access(VA + 0x1000), Exception::LoadPageFault, VA + 0x1000, "PTE not readable");
    // Fetching from a page PMP makes non-executable.
    let mut f = Vm::new(SV39, S, &[NOP]);
    let pc = super::tests_mmu::PC;
    set_csr(&mut f.hart, addr::PMPADDR0, napot(pc, 0x1000));
    set_csr(&mut f.hart, addr::PMPCFG0, u64::from(NAPOT | R));
    assert_fault(f.access(0), FetchFault, pc, "fetch");
}

#[test]
fn pmp_writes_flush_verdicts_cached_in_the_tlb() {
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, PAGE, 0, DATA_RW);
    vm.mem.put64(PAGE, 9);
    assert_eq!(vm.access(VA), Ok(9), "entry 15 opens everything; the TLB holds RWX");
    // M-mode writes pmpaddr0/pmpcfg0 with instructions to deny the page.
    let code = RAM_BASE + 0xc00;
    vm.mem.code(code, &[csrrw(0, addr::PMPADDR0, 5), csrrw(0, addr::PMPCFG0, 6)]);
    vm.hart.mode = M;
    vm.hart.pc = code;
    vm.hart.x[5] = napot(PAGE, 0x1000);
    vm.hart.x[6] = u64::from(NAPOT | W);
    assert_eq!(vm.step(), StepEvent::Retired);
    assert_eq!(vm.step(), StepEvent::Retired);
    vm.hart.mode = S;
    assert_fault(vm.access(VA), LoadFault, VA, "new PMP verdict, no sfence.vma");
}

#[test]
fn a_page_pmp_splits_is_checked_access_by_access() {
    let mut vm = Vm::new(SV39, U, &[LD]);
    vm.map(VA, PAGE, 0, DATA_RW | pte::U);
    vm.mem.put64(PAGE, 1);
    vm.mem.put64(PAGE + 8, 2);
    // Entry 0 denies one doubleword; entry 15 grants the rest.
    set_csr(&mut vm.hart, addr::PMPADDR0, napot(PAGE + 0x10, 8));
    set_csr(&mut vm.hart, addr::PMPCFG0, u64::from(NAPOT));
    assert_eq!(vm.access(VA), Ok(1), "fills the TLB");
    assert_eq!(vm.access(VA + 8), Ok(2), "TLB hit");
    assert_fault(vm.access(VA + 0x10), LoadFault, VA + 0x10, "TLB hit, denied doubleword");
    vm.hart.mode = U;
    assert_eq!(vm.access(VA + 0x18), Ok(0));
}

#[test]
fn pmp_writes_flush_verdicts_cached_for_physical_pages() {
    let mut r = Rig::new(S);
    r.mem.put64(PAGE, 3);
    r.mem.put32(PAGE + 8, NOP);
    r.entry(0, NAPOT | RWX, napot(PAGE, 0x1000));
    assert_eq!(r.run(Op::Ld, PAGE), Ok(3));
    assert_eq!(r.exec(PAGE + 8), Ok(()));
    assert_eq!(r.exec(PAGE + 8), Ok(()), "icache and verdict hit");
    r.csrw(addr::PMPCFG0, u64::from(NAPOT | W));
    r.mode = S;
    fault(r.run(Op::Ld, PAGE), LoadFault, PAGE, "load after the write");
    fault(r.exec(PAGE + 8), FetchFault, PAGE + 8, "fetch after the write");
    // M-mode bound by a locked entry uses the same cache, with M's verdict.
    r.csrw(addr::PMPCFG0, u64::from(L | NAPOT | R | X));
    r.mode = M;
    assert_eq!(r.exec(PAGE + 8), Ok(()), "M may execute");
    fault(r.run(Op::Sd, PAGE), StoreFault, PAGE, "M may not write");
    r.mode = S;
    assert_eq!(r.run(Op::Ld, PAGE), Ok(3), "S reads through the same page verdict");
}

impl Rig {
    /// `Hart::run` from `pc` for `budget` steps; the trap taken, if any
    /// (the handler is a nop, so a budget that ends at the trap leaves
    /// `pc` there).
    fn run_fast(&mut self, pc: u64, budget: u64) -> Option<(u64, u64)> {
        self.hart.mode = self.mode;
        self.hart.pc = pc;
        set_csr(&mut self.hart, addr::MCAUSE, 0);
        assert_eq!(self.hart.run(&mut self.mem, budget), crate::RunExit::Budget);
        let cause = self.hart.peek_csr(addr::MCAUSE).expect("mcause");
        (self.hart.pc == M_HANDLER).then(|| (cause, self.hart.peek_csr(addr::MTVAL).expect("mtval")))
    }
}

/// mcause of an instruction access fault.
const FETCH_FAULT: u64 = 1;

#[test]
fn run_does_not_execute_a_cached_page_pmp_splits() {
    for mode in [S, U] {
        let mut r = Rig::new(mode);
        // Five addi a0,a0,1 and a jump back over them.
        r.mem.code(PAGE, &[addi(10, 10, 1), addi(10, 10, 1), addi(10, 10, 1), addi(10, 10, 1)]);
        r.mem.code(PAGE + 16, &[addi(10, 10, 1), jal(0, -20)]);
        r.entry(0, NAPOT | R | X, napot(PAGE, 0x1000));
        r.hart.x[10] = 0;
        assert_eq!(r.run_fast(PAGE, 12), None, "{mode:?}: the page executes");
        assert_eq!(r.hart.x[10], 10, "{mode:?}");
        // Now only the first 16 bytes: the cached page is split.
        r.entry(0, NAPOT | R | X, napot(PAGE, 16));
        r.hart.x[10] = 0;
        assert_eq!(r.run_fast(PAGE, 5), Some((FETCH_FAULT, PAGE + 16)), "{mode:?}: split page");
        assert_eq!(r.hart.x[10], 4, "{mode:?}: the four granted instructions ran");
    }
}

#[test]
fn run_checks_both_pages_of_a_cached_32_bit_instruction_across_them() {
    for mode in [S, U] {
        let mut r = Rig::new(mode);
        // c.addi a0,1 ; addi a0,a0,3 across the page end ; c.addi a0,1.
        r.mem.put16(PAGE + 0xffc, 0x0505);
        r.mem.put32(PAGE + 0xffe, addi(10, 10, 3));
        r.mem.put16(PAGE + 0x1002, 0x0505);
        r.entry(0, NAPOT | R | X, napot(PAGE, 0x2000));
        for round in 0..2 {
            r.hart.x[10] = 0;
            assert_eq!(r.run_fast(PAGE + 0xffc, 3), None, "{mode:?} round {round}");
            assert_eq!((r.hart.x[10], r.hart.pc), (5, PAGE + 0x1004), "{mode:?} round {round}");
        }
        // The second page loses X; the first keeps it.
        r.entry(0, NAPOT | R | X, napot(PAGE, 0x1000));
        r.hart.x[10] = 0;
        assert_eq!(r.run_fast(PAGE + 0xffc, 2), Some((FETCH_FAULT, PAGE + 0x1000)), "{mode:?}");
        assert_eq!(r.hart.x[10], 1, "{mode:?}: only the c.addi before it");
    }
}
