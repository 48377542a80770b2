//! CSR instructions, exceptions, interrupts, WFI, `run` and halts.

use crate::csr::{addr, irq, mstatus};
use crate::insn::CsrOp;
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, RAM_SIZE, TestMem, setup};
use crate::{
    Access, Exception, Halt, Hart, Interrupt, IrqPin, Misaligned, RunExit, StepEvent, TrapCause, TrapRecord,
};

const PC: u64 = RAM_BASE;
const DATA: u64 = RAM_BASE + 0x1000;
const HANDLER: u64 = RAM_BASE + 0x800;
const INT_BIT: u64 = 1 << 63;

/// Write a CSR as M-mode software would (csrrw), bypassing instruction fetch.
fn set_csr(hart: &mut Hart, csr: u16, v: u64) {
    let ctx = hart.csr_ctx();
    hart.csrs.rmw(csr, CsrOp::Rw, v, true, true, &ctx).expect("writable CSR");
}

fn csr(hart: &Hart, csr: u16) -> u64 {
    hart.peek_csr(csr).expect("CSR exists")
}

/// A hart with a trap handler (a nop) installed at HANDLER.
fn setup_with_handler(words: &[u32]) -> (Hart, TestMem) {
    let (mut hart, mut mem) = setup(words);
    mem.put32(HANDLER, NOP);
    set_csr(&mut hart, addr::MTVEC, HANDLER);
    (hart, mem)
}

fn expect_trap(hart: &mut Hart, mem: &mut TestMem, cause: Exception, tval: u64) {
    let ev = hart.step(mem).expect("no halt");
    let StepEvent::Trap(rec) = ev else {
        panic!("expected a trap, got {ev:?}");
    };
    assert_eq!(rec.cause, TrapCause::Exception(cause));
    assert_eq!(csr(hart, addr::MCAUSE), cause.code());
    assert_eq!(csr(hart, addr::MEPC), rec.pc);
    assert_eq!(csr(hart, addr::MTVAL), tval);
    assert_eq!(hart.pc, HANDLER);
}

// ---- Zicsr ----

#[test]
fn csrrw_swaps_register_and_csr() {
    let (mut hart, mut mem) = setup(&[csrrw(10, addr::MSCRATCH, 10)]);
    set_csr(&mut hart, addr::MSCRATCH, 111);
    hart.x[10] = 222;
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.x[10], 111);
    assert_eq!(csr(&hart, addr::MSCRATCH), 222);
}

#[test]
fn csr_immediate_forms() {
    let prog = [
        csrrwi(10, addr::MSCRATCH, 0b10101),
        csrrsi(11, addr::MSCRATCH, 0b01010),
        csrrci(12, addr::MSCRATCH, 0b00011),
    ];
    let (mut hart, mut mem) = setup(&prog);
    set_csr(&mut hart, addr::MSCRATCH, 0xff00);
    for _ in 0..3 {
        assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    }
    assert_eq!(hart.x[10], 0xff00);
    assert_eq!(hart.x[11], 0b10101);
    assert_eq!(hart.x[12], 0b11111);
    assert_eq!(csr(&hart, addr::MSCRATCH), 0b11100);
}

#[test]
fn reading_read_only_csrs_with_x0_source_is_legal() {
    let (mut hart, mut mem) = setup(&[csrrs(10, addr::MHARTID, 0), csrrc(11, addr::MISA, 0)]);
    hart.hart_id = 7;
    hart.step(&mut mem).expect("no halt");
    hart.step(&mut mem).expect("no halt");
    assert_eq!(hart.x[10], 7);
    assert_eq!(hart.x[11] >> 62, 2);
}

#[test]
fn writing_a_read_only_csr_is_illegal_even_with_rd_x0() {
    let word = csrrw(0, addr::MHARTID, 5);
    let (mut hart, mut mem) = setup_with_handler(&[word]);
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, u64::from(word));
    let word = csrrsi(10, addr::CYCLE, 1);
    let (mut hart, mut mem) = setup_with_handler(&[word]);
    hart.x[10] = 3;
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, u64::from(word));
    assert_eq!(hart.x[10], 3, "rd is not written when the instruction traps");
}

/// `word`, run in `mode`, raises illegal-instruction with its bits in mtval.
fn expect_illegal_in(mode: crate::PrivMode, word: u32) {
    let (mut hart, mut mem) = setup_with_handler(&[word]);
    hart.mode = mode;
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, u64::from(word));
}

#[test]
fn unknown_csr_is_illegal() {
    expect_illegal_in(crate::PrivMode::Machine, csrrs(10, 0x7c0, 0));
    expect_illegal_in(crate::PrivMode::Machine, csrrw(0, 0x280, 10)); // hgatp: no hypervisor
}

/// Sdtrig: `csrw tselect, x0` (once illegal) and the other trigger CSRs
/// work in M-mode; they are M-mode only, and tcontrol does not exist.
#[test]
fn trigger_csrs_exist_in_m_mode() {
    let prog = [
        csrrw(0, addr::TSELECT, 0),
        csrrs(10, addr::TINFO, 0),
        csrrw(0, addr::TDATA2, 11),
        csrrs(12, addr::TDATA2, 0),
        csrrs(13, addr::TDATA1, 0),
    ];
    let (mut hart, mut mem) = setup_with_handler(&prog);
    hart.x[11] = 0x8000_1234;
    for _ in 0..prog.len() {
        assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    }
    assert_eq!((hart.x[10], hart.x[12], hart.x[13]), (0x44, 0x8000_1234, 2 << 60));
    assert_eq!(hart.clone().peek_csr(addr::TDATA2), Some(0x8000_1234), "a copy keeps the triggers");

    expect_illegal_in(crate::PrivMode::Machine, csrrs(10, 0x7a5, 0)); // tcontrol
    expect_illegal_in(crate::PrivMode::Supervisor, csrrw(0, addr::TSELECT, 0));
}

#[test]
fn counters_count_retired_instructions() {
    let prog = [
        NOP,
        NOP,
        csrrs(10, addr::INSTRET, 0),
        csrrs(11, addr::CYCLE, 0),
        csrrw(0, addr::MINSTRET, 12),
        csrrs(13, addr::MINSTRET, 0),
        csrrs(14, addr::TIME, 0),
    ];
    let (mut hart, mut mem) = setup(&prog);
    hart.x[12] = 1000;
    hart.set_time(0xabcd);
    assert_eq!(hart.run(&mut mem, 7), RunExit::Budget);
    assert_eq!(hart.x[10], 2, "instret counts instructions before this one");
    assert_eq!(hart.x[11], 3);
    assert_eq!(hart.x[13], 1000, "a write to minstret wins over its own increment");
    assert_eq!(hart.x[14], 0xabcd);
    assert_eq!(hart.instret(), 7, "the machine's count is unaffected by guest writes");
}

// ---- exceptions ----

#[test]
fn illegal_instruction_reports_the_instruction_bits() {
    let (mut hart, mut mem) = setup_with_handler(&[0xffff_ffff]);
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, 0xffff_ffff);
    assert_eq!(hart.instret(), 0, "a trapping instruction does not retire");

    let (mut hart, mut mem) = setup_with_handler(&[]);
    mem.put16(PC, 0x0000); // the defined-illegal all-zero parcel
    mem.put16(PC + 2, 0xffff);
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, 0);

    let (mut hart, mut mem) = setup_with_handler(&[]);
    mem.put32(PC, 0xabcd_6002); // c.ldsp x0 (reserved); upper half is not part of it
    expect_trap(&mut hart, &mut mem, Exception::IllegalInstruction, 0x6002);
}

#[test]
fn ecall_and_ebreak() {
    let (mut hart, mut mem) = setup_with_handler(&[ECALL]);
    expect_trap(&mut hart, &mut mem, Exception::EcallFromM, 0);
    assert_eq!(csr(&hart, addr::MCAUSE), 11);
    assert_eq!(csr(&hart, addr::MEPC), PC);

    let (mut hart, mut mem) = setup_with_handler(&[NOP, EBREAK]);
    hart.step(&mut mem).expect("nop");
    expect_trap(&mut hart, &mut mem, Exception::Breakpoint, 0);
    assert_eq!(csr(&hart, addr::MCAUSE), 3);
    assert_eq!(csr(&hart, addr::MEPC), PC + 4);

    let (mut hart, mut mem) = setup_with_handler(&[]);
    mem.put16(PC, 0x9002); // c.ebreak
    expect_trap(&mut hart, &mut mem, Exception::Breakpoint, 0);
    assert_eq!(csr(&hart, addr::MEPC), PC);
}

#[test]
fn misaligned_accesses_trap_with_the_address_when_set_to() {
    let (mut hart, mut mem) = setup_with_handler(&[lw(10, 11, 2)]);
    hart.set_misaligned(Misaligned::Trap);
    hart.x[11] = DATA;
    expect_trap(&mut hart, &mut mem, Exception::LoadAddressMisaligned, DATA + 2);
    assert_eq!(csr(&hart, addr::MCAUSE), 4);

    let (mut hart, mut mem) = setup_with_handler(&[sd(10, 11, 4)]);
    hart.set_misaligned(Misaligned::Trap);
    hart.x[11] = DATA;
    expect_trap(&mut hart, &mut mem, Exception::StoreAddressMisaligned, DATA + 4);
    assert_eq!(csr(&hart, addr::MCAUSE), 6);
}

/// AMOs and LR/SC are never split: they trap under the default setting.
#[test]
fn misaligned_amos_and_lr_sc_always_trap() {
    let (mut hart, mut mem) = setup_with_handler(&[amo(0b00000, 3, 10, 11, 12)]);
    hart.x[11] = DATA + 1;
    expect_trap(&mut hart, &mut mem, Exception::StoreAddressMisaligned, DATA + 1);

    let (mut hart, mut mem) = setup_with_handler(&[amo(0b00010, 2, 10, 11, 0)]);
    hart.x[11] = DATA + 2;
    expect_trap(&mut hart, &mut mem, Exception::LoadAddressMisaligned, DATA + 2);

    // sc.d with a reservation on the same (misaligned) address.
    let (mut hart, mut mem) = setup_with_handler(&[amo(0b00011, 3, 10, 11, 12)]);
    hart.x[11] = DATA + 4;
    hart.reservation = Some(DATA + 4);
    expect_trap(&mut hart, &mut mem, Exception::StoreAddressMisaligned, DATA + 4);
    assert_eq!(mem.get(DATA, 8) | mem.get(DATA + 8, 8), 0, "nothing stored");
}

#[test]
fn access_faults_trap_with_the_address() {
    let unmapped = 0x1000;
    let (mut hart, mut mem) = setup_with_handler(&[ld(10, 11, 8)]);
    hart.x[11] = unmapped;
    hart.x[10] = 42;
    expect_trap(&mut hart, &mut mem, Exception::LoadAccessFault, unmapped + 8);
    assert_eq!(hart.x[10], 42);

    let (mut hart, mut mem) = setup_with_handler(&[sb(10, 11, 0)]);
    hart.x[11] = unmapped;
    expect_trap(&mut hart, &mut mem, Exception::StoreAccessFault, unmapped);

    let (mut hart, mut mem) = setup_with_handler(&[amo(0b00001, 2, 10, 11, 12)]);
    hart.x[11] = unmapped;
    expect_trap(&mut hart, &mut mem, Exception::StoreAccessFault, unmapped);
}

#[test]
fn fetch_fault_reports_the_faulting_address() {
    let (mut hart, mut mem) = setup_with_handler(&[jalr(0, 11, 0)]);
    hart.x[11] = 0x1000;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    expect_trap(&mut hart, &mut mem, Exception::InstructionAccessFault, 0x1000);
    assert_eq!(csr(&hart, addr::MEPC), 0x1000);
}

#[test]
fn instruction_in_last_halfword_of_ram() {
    let last = RAM_BASE + RAM_SIZE as u64 - 2;
    // A compressed instruction there runs, fetching exactly 2 bytes.
    let (mut hart, mut mem) = setup_with_handler(&[]);
    mem.put16(last, 0x4505); // c.li a0,1
    hart.pc = last;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(hart.x[10], 1);
    assert_eq!(mem.fetches, vec![(last, 2)]);

    // A 32-bit instruction there faults on its second half: mepc is the
    // instruction, mtval the missing parcel.
    let (mut hart, mut mem) = setup_with_handler(&[]);
    mem.put16(last, 0x0513); // low half of addi a0,x0,..
    hart.pc = last;
    expect_trap(&mut hart, &mut mem, Exception::InstructionAccessFault, last + 2);
    assert_eq!(csr(&hart, addr::MEPC), last);
}

#[test]
fn thirty_two_bit_fetch_is_two_parcels() {
    let (mut hart, mut mem) = setup(&[NOP]);
    hart.step(&mut mem).expect("nop");
    assert_eq!(mem.fetches, vec![(PC, 2), (PC + 2, 2)]);
}

#[test]
fn trap_entry_stacks_mie_and_mret_restores_it() {
    let (mut hart, mut mem) = setup_with_handler(&[ECALL]);
    mem.put32(HANDLER, MRET);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE);
    expect_trap(&mut hart, &mut mem, Exception::EcallFromM, 0);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(st & mstatus::MIE, 0, "MIE cleared on trap");
    assert_ne!(st & mstatus::MPIE, 0, "old MIE saved in MPIE");
    assert_eq!(st & mstatus::MPP, mstatus::MPP, "MPP = M");

    // The handler skips the ecall and returns.
    set_csr(&mut hart, addr::MEPC, PC + 4);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(hart.pc, PC + 4);
    let st = csr(&hart, addr::MSTATUS);
    assert_ne!(st & mstatus::MIE, 0, "MIE restored from MPIE");
    assert_ne!(st & mstatus::MPIE, 0, "MPIE set to 1");
}

#[test]
fn mret_with_mpie_clear_leaves_interrupts_disabled() {
    let (mut hart, mut mem) = setup(&[MRET]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE);
    set_csr(&mut hart, addr::MEPC, DATA);
    hart.step(&mut mem).expect("mret");
    assert_eq!(hart.pc, DATA);
    assert_eq!(csr(&hart, addr::MSTATUS) & mstatus::MIE, 0);
}

#[test]
fn a_trap_breaks_the_lr_reservation() {
    let prog = [amo(0b00010, 3, 10, 11, 0), ECALL, amo(0b00011, 3, 13, 11, 12)];
    let (mut hart, mut mem) = setup_with_handler(&prog);
    hart.x[11] = DATA;
    hart.step(&mut mem).expect("lr");
    hart.step(&mut mem).expect("ecall traps");
    hart.pc = PC + 8;
    hart.step(&mut mem).expect("sc");
    assert_eq!(hart.x[13], 1);
}

// ---- interrupts ----

fn enable_irqs(hart: &mut Hart, mie: u64, mtvec: u64) {
    set_csr(hart, addr::MTVEC, mtvec);
    set_csr(hart, addr::MIE, mie);
    set_csr(hart, addr::MSTATUS, mstatus::MIE);
}

#[test]
fn interrupts_are_taken_in_priority_order() {
    let (mut hart, mut mem) = setup(&[NOP]);
    enable_irqs(&mut hart, irq::M_ALL, HANDLER);
    hart.set_irq_pin(IrqPin::MachineTimer, true);
    hart.set_irq_pin(IrqPin::MachineSoftware, true);
    hart.set_irq_pin(IrqPin::MachineExternal, true);
    let order = [Interrupt::MachineExternal, Interrupt::MachineSoftware, Interrupt::MachineTimer];
    let pins = [IrqPin::MachineExternal, IrqPin::MachineSoftware, IrqPin::MachineTimer];
    for (want, pin) in order.into_iter().zip(pins) {
        hart.pc = PC;
        set_csr(&mut hart, addr::MSTATUS, mstatus::MIE);
        let ev = hart.step(&mut mem).expect("no halt");
        let StepEvent::Trap(rec) = ev else {
            panic!("expected interrupt, got {ev:?}");
        };
        assert_eq!(rec.cause, TrapCause::Interrupt(want));
        assert_eq!(csr(&hart, addr::MCAUSE), INT_BIT | want.code());
        assert_eq!(csr(&hart, addr::MEPC), PC, "mepc: the preempted instruction");
        assert_eq!(csr(&hart, addr::MTVAL), 0);
        hart.set_irq_pin(pin, false);
    }
    assert_eq!(hart.instret(), 0);
}

#[test]
fn interrupts_wait_for_mie_and_mstatus_mie() {
    let (mut hart, mut mem) = setup(&[NOP, NOP, NOP]);
    set_csr(&mut hart, addr::MTVEC, HANDLER);
    hart.set_irq_pin(IrqPin::MachineTimer, true);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired), "mie.MTIE clear");
    set_csr(&mut hart, addr::MIE, irq::MTI);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired), "mstatus.MIE clear");
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE);
    assert!(matches!(hart.step(&mut mem), Ok(StepEvent::Trap(_))));
    assert_eq!(csr(&hart, addr::MEPC), PC + 8);
}

#[test]
fn vectored_mtvec_sends_interrupts_to_base_plus_4_cause() {
    let (mut hart, mut mem) = setup(&[ECALL]);
    enable_irqs(&mut hart, irq::MTI, HANDLER | 1);
    hart.set_irq_pin(IrqPin::MachineTimer, true);
    hart.step(&mut mem).expect("interrupt");
    assert_eq!(hart.pc, HANDLER + 4 * 7);

    // Exceptions still go to BASE.
    let (mut hart, mut mem) = setup(&[ECALL]);
    set_csr(&mut hart, addr::MTVEC, HANDLER | 1);
    mem.put32(HANDLER, NOP);
    hart.step(&mut mem).expect("ecall");
    assert_eq!(hart.pc, HANDLER);
}

#[test]
fn mip_pins_are_level_sensitive_and_read_only() {
    let (mut hart, mut mem) = setup(&[csrrw(0, addr::MIP, 10), csrrs(11, addr::MIP, 0)]);
    hart.set_irq_pin(IrqPin::MachineExternal, true);
    hart.x[10] = 0;
    hart.run(&mut mem, 2);
    assert_eq!(hart.x[11], irq::MEI);
    hart.set_irq_pin(IrqPin::MachineExternal, false);
    assert_eq!(csr(&hart, addr::MIP), 0);
}

// ---- WFI ----

#[test]
fn wfi_waits_until_an_enabled_interrupt_is_pending() {
    let (mut hart, mut mem) = setup(&[WFI, NOP]);
    mem.put32(HANDLER, NOP);
    enable_irqs(&mut hart, irq::MTI, HANDLER);
    assert_eq!(hart.run(&mut mem, 100), RunExit::Wfi);
    assert_eq!(hart.pc, PC + 4, "wfi retired");
    assert!(hart.is_waiting());
    assert_eq!(hart.run(&mut mem, 100), RunExit::Wfi, "still waiting");
    hart.set_irq_pin(IrqPin::MachineSoftware, true); // not enabled in mie
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Wfi));

    hart.set_irq_pin(IrqPin::MachineTimer, true);
    let ev = hart.step(&mut mem).expect("no halt");
    assert!(matches!(
        ev,
        StepEvent::Trap(TrapRecord { cause: TrapCause::Interrupt(Interrupt::MachineTimer), .. })
    ));
    assert_eq!(csr(&hart, addr::MEPC), PC + 4, "resumes after the wfi");
    assert!(!hart.is_waiting());
}

#[test]
fn wfi_wakes_without_trapping_when_globally_disabled() {
    let (mut hart, mut mem) = setup(&[WFI, addi(10, 0, 9)]);
    set_csr(&mut hart, addr::MIE, irq::MEI);
    assert_eq!(hart.run(&mut mem, 10), RunExit::Wfi);
    hart.set_irq_pin(IrqPin::MachineExternal, true);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(hart.x[10], 9);
}

#[test]
fn wfi_does_not_wait_if_already_pending() {
    let (mut hart, mut mem) = setup(&[WFI, NOP]);
    set_csr(&mut hart, addr::MIE, irq::MTI);
    hart.set_irq_pin(IrqPin::MachineTimer, true);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert!(!hart.is_waiting());
}

// ---- run and halts ----

#[test]
fn run_stops_after_the_budget() {
    let (mut hart, mut mem) = setup(&[addi(10, 10, 1), jal(0, -4)]);
    assert_eq!(hart.run(&mut mem, 11), RunExit::Budget);
    assert_eq!(hart.x[10], 6);
    assert_eq!(hart.instret(), 11);
    assert_eq!(hart.run(&mut mem, 0), RunExit::Budget);
}

#[test]
fn run_yields_when_memory_asks() {
    let (mut hart, mut mem) = setup(&[NOP, sw(0, 11, 0), NOP, NOP]);
    hart.x[11] = DATA;
    mem.yield_on_store = Some(DATA);
    assert_eq!(hart.run(&mut mem, 100), RunExit::Yield);
    assert_eq!(hart.pc, PC + 8, "returns right after the store");
    assert_eq!(hart.run(&mut mem, 2), RunExit::Budget);
}

#[test]
fn memory_stop_halts_without_side_effects() {
    let (mut hart, mut mem) = setup(&[ld(10, 11, 0)]);
    hart.x[11] = DATA;
    mem.stop_at = Some(DATA);
    let exit = hart.run(&mut mem, 10);
    let want = Halt::Memory { pc: PC, access: Access::Load, addr: DATA };
    assert_eq!(exit, RunExit::Halt(want));
    assert_eq!(hart.pc, PC);
    assert_eq!(hart.x[10], 0);
    assert_eq!(hart.instret(), 0);
    assert!(want.to_string().contains("pc 0x80000000"), "{want}");

    let (mut hart, mut mem) = setup(&[]);
    mem.stop_at = Some(PC);
    assert!(matches!(hart.step(&mut mem), Err(Halt::Memory { access: Access::Fetch, .. })));
}

#[test]
fn amo_whose_store_stops_leaves_rd_alone() {
    /// RAM that stops the machine on any store.
    struct NoStore(TestMem);
    impl crate::Memory for NoStore {
        fn load(&mut self, at: crate::AccessInfo, a: u64, s: u8) -> Result<u64, crate::MemError> {
            self.0.load(at, a, s)
        }
        fn store(&mut self, _: crate::AccessInfo, _: u64, _: u8, _: u64) -> Result<(), crate::MemError> {
            Err(crate::MemError::Stop)
        }
        fn fetch(&mut self, at: crate::AccessInfo, a: u64, s: u8) -> Result<u64, crate::MemError> {
            self.0.fetch(at, a, s)
        }
    }
    let (mut hart, mem) = setup(&[amo(0b00000, 3, 10, 11, 12)]);
    let mut mem = NoStore(mem);
    hart.x[11] = DATA;
    hart.x[10] = 5;
    let exit = hart.step(&mut mem);
    assert!(matches!(exit, Err(Halt::Memory { access: Access::Store, .. })));
    assert_eq!(hart.x[10], 5);
}

#[test]
fn trap_with_unfetchable_vector_halts_with_a_trap_loop() {
    // mtvec = 0 and nothing is mapped at 0: the classic missing handler.
    let (mut hart, mut mem) = setup(&[NOP, 0xffff_ffff]);
    let exit = hart.run(&mut mem, 1000);
    let RunExit::Halt(halt) = exit else {
        panic!("expected a halt, got {exit:?}");
    };
    let want = Halt::TrapLoop {
        cause: Exception::InstructionAccessFault,
        pc: 0,
        tval: 0,
        first: TrapRecord {
            cause: TrapCause::Exception(Exception::IllegalInstruction),
            pc: PC + 4,
            tval: 0xffff_ffff,
            insn: Some(0xffff_ffff),
        },
    };
    assert_eq!(halt, want);
    assert_eq!(halt.pc(), PC + 4);
    assert_eq!(
        halt.to_string(),
        "illegal instruction 0xffffffff (`.4byte 0xffffffff`) at pc 0x80000004; \
         trap vector 0x0 is not executable"
    );
    // The first trap was taken, so the guest state describes it.
    assert_eq!(csr(&hart, addr::MEPC), PC + 4);
    assert_eq!(csr(&hart, addr::MCAUSE), 2);
    assert_eq!(hart.pc, 0);
}

#[test]
fn trap_loop_display_names_the_disassembly() {
    let word = csrrs(10, 0x7c0, 0);
    let (mut hart, mut mem) = setup(&[word]);
    let Err(halt) = hart.step(&mut mem).and_then(|_| hart.step(&mut mem)) else {
        panic!("expected a halt");
    };
    assert_eq!(
        halt.to_string(),
        "illegal instruction 0x7c002573 (`csrr a0,0x7c0`) at pc 0x80000000; \
         trap vector 0x0 is not executable"
    );
}

#[test]
fn handler_whose_first_instruction_faults_is_a_trap_loop() {
    let (mut hart, mut mem) = setup(&[ECALL]);
    set_csr(&mut hart, addr::MTVEC, HANDLER);
    // mtvec points at zeroed RAM: the all-zero parcel is illegal.
    let exit = hart.run(&mut mem, 1000);
    let RunExit::Halt(Halt::TrapLoop { cause, pc, first, .. }) = exit else {
        panic!("expected a trap loop, got {exit:?}");
    };
    assert_eq!(cause, Exception::IllegalInstruction);
    assert_eq!(pc, HANDLER);
    assert_eq!(first.cause, TrapCause::Exception(Exception::EcallFromM));
    assert_eq!(first.pc, PC);
}

#[test]
fn jump_to_unmapped_address_with_no_handler_halts() {
    let (mut hart, mut mem) = setup(&[jalr(0, 0, 0)]);
    let exit = hart.run(&mut mem, 1000);
    let RunExit::Halt(halt) = exit else {
        panic!("expected a halt, got {exit:?}");
    };
    assert_eq!(halt.to_string(), "instruction access fault at pc 0x0; trap vector 0x0 is not executable");
}

#[test]
fn a_working_handler_is_not_a_trap_loop() {
    // Handler: skip the faulting 4-byte instruction and return.
    let handler = [csrrs(5, addr::MEPC, 0), addi(5, 5, 4), csrrw(0, addr::MEPC, 5), MRET];
    let (mut hart, mut mem) = setup(&[0xffff_ffff, ECALL, addi(10, 0, 1), jal(0, 0)]);
    mem.code(HANDLER, &handler);
    set_csr(&mut hart, addr::MTVEC, HANDLER);
    assert_eq!(hart.run(&mut mem, 12), RunExit::Budget);
    assert_eq!(hart.x[10], 1);
    assert_eq!(hart.pc, PC + 12);
}

#[test]
fn every_data_access_carries_the_hart_and_the_pc_of_its_instruction() {
    // addi; sd; ld; amoadd.d — through `run` (the cached fast path) and
    // through `step`.
    let words = [addi(5, 0, 7), sd(5, 11, 0), ld(6, 11, 0), amo(0b00000, 3, 7, 11, 5)];
    for stepped in [false, true] {
        let (mut hart, mut mem) = setup(&words);
        hart.hart_id = 3;
        hart.x[11] = DATA;
        mem.accesses.clear();
        if stepped {
            for _ in 0..words.len() {
                assert!(matches!(hart.step(&mut mem), Ok(StepEvent::Retired)));
            }
        } else {
            // Twice: the first pass decodes, the second runs from the cache.
            hart.run(&mut mem, words.len() as u64);
            hart.pc = PC;
            mem.accesses.clear();
            hart.run(&mut mem, words.len() as u64);
        }
        let at = |pc: u64| crate::AccessInfo { hart: 3, pc };
        assert_eq!(mem.accesses, [at(PC + 4), at(PC + 8), at(PC + 12), at(PC + 12)], "stepped: {stepped}");
    }
}
