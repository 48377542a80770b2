//! S and U modes (privileged spec 1.12): mret/sret, trap delegation,
//! privilege checks, supervisor interrupts and Sstc.

use crate::csr::{CsrCtx, addr, irq, mstatus};
use crate::insn::CsrOp;
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, TestMem, setup};
use crate::{Exception, Halt, Hart, Interrupt, IrqPin, PrivMode, RunExit, StepEvent, TrapCause, TrapRecord};

const PC: u64 = RAM_BASE;
const M_HANDLER: u64 = RAM_BASE + 0x800;
const S_HANDLER: u64 = RAM_BASE + 0xc00;
const TARGET: u64 = RAM_BASE + 0x400;
const INT_BIT: u64 = 1 << 63;
const STCE: u64 = 1 << 63;
const CY: u64 = 1 << 0;
const TM: u64 = 1 << 1;

/// Write a CSR as M-mode software would, whatever mode the hart is in.
fn set_csr(hart: &mut Hart, csr: u16, v: u64) {
    let ctx = CsrCtx { mode: PrivMode::Machine, ..hart.csr_ctx() };
    hart.csrs.rmw(csr, CsrOp::Rw, v, true, true, &ctx).expect("writable CSR");
}

fn csr(hart: &Hart, csr: u16) -> u64 {
    hart.peek_csr(csr).expect("CSR exists")
}

/// A hart in `mode` running `words` at PC, with nop handlers at
/// M_HANDLER (mtvec) and S_HANDLER (stvec).
fn setup_in(mode: PrivMode, words: &[u32]) -> (Hart, TestMem) {
    let (mut hart, mut mem) = setup(words);
    mem.put32(M_HANDLER, NOP);
    mem.put32(S_HANDLER, NOP);
    mem.put32(TARGET, NOP);
    set_csr(&mut hart, addr::MTVEC, M_HANDLER);
    set_csr(&mut hart, addr::STVEC, S_HANDLER);
    hart.mode = mode;
    (hart, mem)
}

fn step_trap(hart: &mut Hart, mem: &mut TestMem) -> TrapRecord {
    match hart.step(mem).expect("no halt") {
        StepEvent::Trap(rec) => rec,
        ev => panic!("expected a trap, got {ev:?}"),
    }
}

/// The instruction at PC raises illegal-instruction into M-mode.
fn assert_illegal(mode: PrivMode, word: u32, prep: impl FnOnce(&mut Hart)) {
    let (mut hart, mut mem) = setup_in(mode, &[word]);
    prep(&mut hart);
    let rec = step_trap(&mut hart, &mut mem);
    assert_eq!(rec.cause, TrapCause::Exception(Exception::IllegalInstruction), "{word:#x} in {mode:?}");
    assert_eq!(csr(&hart, addr::MTVAL), u64::from(word));
    assert_eq!(csr(&hart, addr::MEPC), PC);
    assert_eq!(hart.mode, PrivMode::Machine);
    assert_eq!(hart.pc, M_HANDLER);
}

fn retires(mode: PrivMode, word: u32, prep: impl FnOnce(&mut Hart)) -> Hart {
    let (mut hart, mut mem) = setup_in(mode, &[word]);
    prep(&mut hart);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired), "{word:#x} in {mode:?}");
    hart
}

fn mpp(hart: &Hart) -> u64 {
    (csr(hart, addr::MSTATUS) & mstatus::MPP) >> mstatus::MPP_SHIFT
}

// ---- mret / sret ----

#[test]
fn mret_to_s_mode_restores_mie_from_mpie_and_sets_mpp_to_u() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[MRET]);
    set_csr(&mut hart, addr::MSTATUS, (1 << mstatus::MPP_SHIFT) | mstatus::MPIE);
    set_csr(&mut hart, addr::MEPC, TARGET);

    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));

    assert_eq!(hart.mode, PrivMode::Supervisor);
    assert_eq!(hart.pc, TARGET);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(st & (mstatus::MIE | mstatus::MPIE), mstatus::MIE | mstatus::MPIE);
    assert_eq!(mpp(&hart), 0, "MPP <- U, the least privileged mode");
}

#[test]
fn mret_to_u_mode_clears_mprv_and_mie_when_mpie_clear() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[MRET]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE | mstatus::MPRV);
    set_csr(&mut hart, addr::MEPC, TARGET);

    hart.step(&mut mem).expect("no halt");

    assert_eq!(hart.mode, PrivMode::User);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(st & (mstatus::MIE | mstatus::MPRV), 0);
    assert_ne!(st & mstatus::MPIE, 0, "MPIE <- 1");
}

#[test]
fn mret_to_m_mode_keeps_mprv() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[MRET]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MPP | mstatus::MPRV);
    set_csr(&mut hart, addr::MEPC, TARGET);

    hart.step(&mut mem).expect("no halt");

    assert_eq!(hart.mode, PrivMode::Machine);
    assert_ne!(csr(&hart, addr::MSTATUS) & mstatus::MPRV, 0);
}

#[test]
fn sret_returns_to_spp_and_restores_sie_from_spie() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[SRET]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::SPIE | mstatus::MPRV);
    set_csr(&mut hart, addr::SEPC, TARGET);

    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));

    assert_eq!(hart.mode, PrivMode::User, "SPP was 0");
    assert_eq!(hart.pc, TARGET);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(st & (mstatus::SIE | mstatus::SPIE), mstatus::SIE | mstatus::SPIE);
    assert_eq!(st & (mstatus::SPP | mstatus::MPRV), 0, "SPP <- U; MPRV cleared (new mode < M)");
}

#[test]
fn sret_from_m_mode_with_spp_set_enters_s_mode() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[SRET]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::SPP);
    set_csr(&mut hart, addr::SEPC, TARGET);

    hart.step(&mut mem).expect("no halt");

    assert_eq!(hart.mode, PrivMode::Supervisor);
    assert_eq!(csr(&hart, addr::MSTATUS) & (mstatus::SIE | mstatus::SPP), 0);
}

// ---- ecall and delegation ----

#[test]
fn ecall_from_u_without_delegation_traps_to_m() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[ECALL]);

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Exception(Exception::EcallFromU));
    assert_eq!(csr(&hart, addr::MCAUSE), 8);
    assert_eq!(csr(&hart, addr::MEPC), PC);
    assert_eq!(hart.pc, M_HANDLER);
    assert_eq!(hart.mode, PrivMode::Machine);
    assert_eq!(mpp(&hart), 0, "MPP <- U");
}

#[test]
fn ecall_from_u_delegated_traps_to_s() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[ECALL]);
    set_csr(&mut hart, addr::MEDELEG, 1 << 8);
    set_csr(&mut hart, addr::MSTATUS, mstatus::SIE | mstatus::SPP);

    step_trap(&mut hart, &mut mem);

    assert_eq!(csr(&hart, addr::SCAUSE), 8);
    assert_eq!(csr(&hart, addr::SEPC), PC);
    assert_eq!(csr(&hart, addr::STVAL), 0);
    assert_eq!(csr(&hart, addr::MCAUSE), 0, "M-mode trap registers untouched");
    assert_eq!(hart.pc, S_HANDLER);
    assert_eq!(hart.mode, PrivMode::Supervisor);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(
        st & (mstatus::SIE | mstatus::SPIE | mstatus::SPP),
        mstatus::SPIE,
        "SPIE <- SIE, SIE <- 0, SPP <- U"
    );
}

#[test]
fn ecall_from_s_without_delegation_traps_to_m_with_mpp_s() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[ECALL]);
    set_csr(&mut hart, addr::MEDELEG, 1 << 8); // only U ecalls

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Exception(Exception::EcallFromS));
    assert_eq!(csr(&hart, addr::MCAUSE), 9);
    assert_eq!(csr(&hart, addr::MEPC), PC);
    assert_eq!(hart.pc, M_HANDLER);
    assert_eq!(hart.mode, PrivMode::Machine);
    assert_eq!(mpp(&hart), 1);
}

#[test]
fn ecall_from_s_delegated_stays_in_s_with_spp_s() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[ECALL]);
    set_csr(&mut hart, addr::MEDELEG, 1 << 9);

    step_trap(&mut hart, &mut mem);

    assert_eq!(csr(&hart, addr::SCAUSE), 9);
    assert_eq!(csr(&hart, addr::SEPC), PC);
    assert_eq!(hart.pc, S_HANDLER);
    assert_eq!(hart.mode, PrivMode::Supervisor);
    assert_ne!(csr(&hart, addr::MSTATUS) & mstatus::SPP, 0);
}

#[test]
fn delegated_exceptions_in_m_mode_still_trap_to_m() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[0xffff_ffff]);
    set_csr(&mut hart, addr::MEDELEG, u64::MAX);

    step_trap(&mut hart, &mut mem);

    assert_eq!(csr(&hart, addr::MCAUSE), 2);
    assert_eq!(csr(&hart, addr::MTVAL), 0xffff_ffff);
    assert_eq!(hart.mode, PrivMode::Machine);
    assert_eq!(hart.pc, M_HANDLER);
}

#[test]
fn delegated_illegal_instruction_from_u_writes_stval() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[MRET]);
    set_csr(&mut hart, addr::MEDELEG, 1 << 2);

    step_trap(&mut hart, &mut mem);

    assert_eq!(csr(&hart, addr::SCAUSE), 2);
    assert_eq!(csr(&hart, addr::STVAL), u64::from(MRET));
    assert_eq!(hart.mode, PrivMode::Supervisor);
}

#[test]
fn medeleg_bit_11_is_read_only_zero() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);

    set_csr(&mut hart, addr::MEDELEG, u64::MAX);

    let v = csr(&hart, addr::MEDELEG);
    assert_eq!(v & (1 << 11), 0);
    assert_eq!(v & 0x3ff, 0x3ff, "exceptions 0..=9 are delegable");
}

#[test]
fn mideleg_only_delegates_supervisor_interrupts() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MIDELEG, u64::MAX);
    assert_eq!(csr(&hart, addr::MIDELEG), irq::S_ALL);
}

#[test]
fn trap_loop_is_detected_for_traps_into_s_mode() {
    // stvec points at nothing: the delegated fetch fault goes back to stvec.
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[ECALL]);
    set_csr(&mut hart, addr::MEDELEG, (1 << 8) | (1 << 1));
    set_csr(&mut hart, addr::STVEC, 0x10);

    let exit = hart.run(&mut mem, 100);

    let RunExit::Halt(Halt::TrapLoop { cause, pc, first, .. }) = exit else {
        panic!("expected a trap loop, got {exit:?}");
    };
    assert_eq!(cause, Exception::InstructionAccessFault);
    assert_eq!(pc, 0x10);
    assert_eq!(first.cause, TrapCause::Exception(Exception::EcallFromU));
    assert_eq!(hart.mode, PrivMode::Supervisor);
}

// ---- privilege checks ----

#[test]
fn sret_is_illegal_in_u_mode_and_in_s_mode_with_tsr() {
    assert_illegal(PrivMode::User, SRET, |_| {});
    assert_illegal(PrivMode::Supervisor, SRET, |h| set_csr(h, addr::MSTATUS, mstatus::TSR));
}

#[test]
fn mret_is_illegal_below_m_mode() {
    assert_illegal(PrivMode::Supervisor, MRET, |_| {});
    assert_illegal(PrivMode::User, MRET, |_| {});
}

#[test]
fn wfi_is_illegal_in_u_mode_and_in_s_mode_with_tw() {
    assert_illegal(PrivMode::User, WFI, |_| {});
    assert_illegal(PrivMode::Supervisor, WFI, |h| set_csr(h, addr::MSTATUS, mstatus::TW));
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[WFI]);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Wfi), "TW=0: S-mode may wait");
}

#[test]
fn sfence_vma_is_illegal_in_u_mode_and_in_s_mode_with_tvm() {
    assert_illegal(PrivMode::User, SFENCE_VMA, |_| {});
    assert_illegal(PrivMode::Supervisor, SFENCE_VMA, |h| set_csr(h, addr::MSTATUS, mstatus::TVM));
    retires(PrivMode::Supervisor, SFENCE_VMA, |_| {});
    retires(PrivMode::Machine, SFENCE_VMA, |h| set_csr(h, addr::MSTATUS, mstatus::TVM));
}

#[test]
fn satp_access_in_s_mode_with_tvm_is_illegal() {
    let read = csrrs(10, addr::SATP, 0);
    assert_illegal(PrivMode::Supervisor, read, |h| set_csr(h, addr::MSTATUS, mstatus::TVM));
    retires(PrivMode::Supervisor, read, |_| {});
    retires(PrivMode::Machine, read, |h| set_csr(h, addr::MSTATUS, mstatus::TVM));
}

#[test]
fn satp_accepts_sv39_and_sv48_and_ignores_other_modes() {
    for (written, expected) in [
        ((8 << 60) | (0xabcd << 44) | 0x8_0000, (8 << 60) | (0xabcd << 44) | 0x8_0000),
        ((9 << 60) | 0x8_0001, (9 << 60) | 0x8_0001),
        ((10 << 60) | 0x8_0000, 0), // Sv57: unsupported, write ignored
        ((1 << 60) | 0x8_0000, 0),  // Sv32 encoding: reserved on RV64
        (0x8_0000, 0x8_0000),       // Bare: UNSPECIFIED; stored as written (QEMU)
    ] {
        let hart = retires(PrivMode::Machine, csrrw(0, addr::SATP, 10), |h| h.x[10] = written);
        assert_eq!(csr(&hart, addr::SATP), expected, "wrote {written:#x}");
    }
}

#[test]
fn machine_csrs_are_illegal_from_s_mode() {
    for c in [addr::MSTATUS, addr::MEDELEG, addr::MSCRATCH, addr::MHARTID] {
        assert_illegal(PrivMode::Supervisor, csrrs(10, c, 0), |_| {});
    }
}

#[test]
fn supervisor_csrs_are_illegal_from_u_mode_and_legal_from_s() {
    for c in [addr::SSTATUS, addr::SSCRATCH, addr::STVEC, addr::SIP] {
        assert_illegal(PrivMode::User, csrrs(10, c, 0), |_| {});
        retires(PrivMode::Supervisor, csrrs(10, c, 0), |_| {});
    }
}

#[test]
fn counters_need_mcounteren_in_s_mode_and_both_enables_in_u_mode() {
    for (c, bit) in [(addr::CYCLE, CY), (addr::TIME, TM), (addr::INSTRET, 1 << 2)] {
        let read = csrrs(10, c, 0);
        assert_illegal(PrivMode::Supervisor, read, |_| {});
        retires(PrivMode::Supervisor, read, |h| set_csr(h, addr::MCOUNTEREN, bit));
        assert_illegal(PrivMode::User, read, |h| set_csr(h, addr::MCOUNTEREN, bit));
        assert_illegal(PrivMode::User, read, |h| set_csr(h, addr::SCOUNTEREN, bit));
        retires(PrivMode::User, read, |h| {
            set_csr(h, addr::MCOUNTEREN, bit);
            set_csr(h, addr::SCOUNTEREN, bit);
        });
    }
}

// ---- status and interrupt views ----

#[test]
fn mstatus_mpp_is_warl_and_keeps_a_legal_value() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MSTATUS, 1 << mstatus::MPP_SHIFT);

    set_csr(&mut hart, addr::MSTATUS, 2 << mstatus::MPP_SHIFT);

    assert_eq!(mpp(&hart), 1, "2 is reserved: the previous value stays");
}

#[test]
fn mstatus_uxl_and_sxl_read_2() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MSTATUS, 0);
    let st = csr(&hart, addr::MSTATUS);
    assert_eq!((st >> 32) & 3, 2);
    assert_eq!((st >> 34) & 3, 2);
}

#[test]
fn sstatus_is_a_restricted_view_of_mstatus() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE | mstatus::MPP | mstatus::TSR);

    set_csr(&mut hart, addr::SSTATUS, u64::MAX);

    let st = csr(&hart, addr::MSTATUS);
    assert_eq!(st & (mstatus::MIE | mstatus::MPP | mstatus::TSR), mstatus::MIE | mstatus::MPP | mstatus::TSR);
    let s_fields = mstatus::SIE | mstatus::SPIE | mstatus::SPP | mstatus::FS | mstatus::SUM | mstatus::MXR;
    assert_eq!(st & s_fields, s_fields);
    let sst = csr(&hart, addr::SSTATUS);
    assert_eq!(sst & (mstatus::MIE | mstatus::MPP | mstatus::TSR | mstatus::SXL), 0);
    assert_eq!(sst & s_fields, s_fields);
    assert_ne!(sst & mstatus::SD, 0, "FS=Dirty shows in SD");
    assert_eq!((sst >> 32) & 3, 2, "UXL");
}

#[test]
fn sie_and_sip_are_masked_by_mideleg() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MIDELEG, irq::SSI | irq::STI);
    set_csr(&mut hart, addr::MIE, irq::MTI | irq::SEI);

    set_csr(&mut hart, addr::SIE, u64::MAX);
    set_csr(&mut hart, addr::SIP, u64::MAX);

    assert_eq!(csr(&hart, addr::MIE), irq::MTI | irq::SEI | irq::SSI | irq::STI);
    assert_eq!(csr(&hart, addr::SIE), irq::SSI | irq::STI);
    assert_eq!(csr(&hart, addr::MIP), irq::SSI, "only SSIP is writable through sip");
    set_csr(&mut hart, addr::MIP, irq::STI | irq::SEI | irq::SSI);
    assert_eq!(csr(&hart, addr::SIP), irq::SSI | irq::STI, "SEIP not delegated: hidden");
    set_csr(&mut hart, addr::MIDELEG, 0);
    set_csr(&mut hart, addr::SIP, 0);
    assert_eq!(
        csr(&hart, addr::MIP),
        irq::STI | irq::SEI | irq::SSI,
        "undelegated SSIP not writable via sip"
    );
}

#[test]
fn seip_reads_as_pin_or_software_bit_and_rmw_uses_only_the_software_bit() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    hart.set_irq_pin(IrqPin::SupervisorExternal, true);
    assert_eq!(csr(&hart, addr::MIP), irq::SEI);

    // csrrs mip, SSIP: the pin's SEIP must not latch into the software bit.
    let ctx = hart.csr_ctx();
    let old = hart.csrs.rmw(addr::MIP, CsrOp::Rs, irq::SSI, true, false, &ctx).expect("legal");
    assert_eq!(old, irq::SEI);
    hart.set_irq_pin(IrqPin::SupervisorExternal, false);
    assert_eq!(csr(&hart, addr::MIP), irq::SSI);

    set_csr(&mut hart, addr::MIP, irq::SEI);
    assert_eq!(csr(&hart, addr::MIP), irq::SEI, "the software bit alone");
}

// ---- interrupts ----

/// Pend and enable `bits`, delegating `deleg`.
fn pend(hart: &mut Hart, bits: u64, deleg: u64) {
    set_csr(hart, addr::MIDELEG, deleg);
    set_csr(hart, addr::MIE, bits);
    set_csr(hart, addr::MIP, bits & irq::S_ALL);
    for (bit, pin) in [
        (irq::MEI, IrqPin::MachineExternal),
        (irq::MTI, IrqPin::MachineTimer),
        (irq::MSI, IrqPin::MachineSoftware),
    ] {
        hart.set_irq_pin(pin, bits & bit != 0);
    }
}

#[test]
fn delegated_sti_is_taken_in_s_mode_only_when_sie_is_set() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[NOP, NOP]);
    pend(&mut hart, irq::STI, irq::STI);

    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired), "SIE=0 in S-mode: masked");
    set_csr(&mut hart, addr::MSTATUS, mstatus::SIE);
    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::SupervisorTimer));
    assert_eq!(csr(&hart, addr::SCAUSE), INT_BIT | 5);
    assert_eq!(csr(&hart, addr::SEPC), PC + 4);
    assert_eq!(hart.mode, PrivMode::Supervisor);
    assert_eq!(hart.pc, S_HANDLER);
    assert_eq!(
        csr(&hart, addr::MSTATUS) & (mstatus::SIE | mstatus::SPIE | mstatus::SPP),
        mstatus::SPIE | mstatus::SPP
    );
}

#[test]
fn delegated_interrupts_are_always_enabled_in_u_mode() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[NOP]);
    pend(&mut hart, irq::SEI, irq::SEI);

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::SupervisorExternal));
    assert_eq!(csr(&hart, addr::SCAUSE), INT_BIT | 9);
    assert_eq!(hart.mode, PrivMode::Supervisor);
}

#[test]
fn vectored_stvec_sends_interrupts_to_base_plus_4_cause() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[NOP]);
    set_csr(&mut hart, addr::STVEC, S_HANDLER | 1);
    pend(&mut hart, irq::SSI, irq::SSI);

    step_trap(&mut hart, &mut mem);

    assert_eq!(hart.pc, S_HANDLER + 4);
}

#[test]
fn delegated_interrupts_are_never_taken_in_m_mode() {
    let (mut hart, mut mem) = setup_in(PrivMode::Machine, &[NOP]);
    pend(&mut hart, irq::S_ALL, irq::S_ALL);
    set_csr(&mut hart, addr::MSTATUS, mstatus::MIE | mstatus::SIE);

    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
}

#[test]
fn undelegated_supervisor_interrupt_goes_to_m_mode() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[NOP]);
    pend(&mut hart, irq::STI, 0);

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::SupervisorTimer));
    assert_eq!(csr(&hart, addr::MCAUSE), INT_BIT | 5);
    assert_eq!(hart.mode, PrivMode::Machine);
}

#[test]
fn machine_interrupt_preempts_s_mode_regardless_of_mie() {
    let (mut hart, mut mem) = setup_in(PrivMode::Supervisor, &[NOP]);
    pend(&mut hart, irq::MTI, 0);
    assert_eq!(csr(&hart, addr::MSTATUS) & mstatus::MIE, 0);

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::MachineTimer));
    assert_eq!(hart.mode, PrivMode::Machine);
    assert_eq!(mpp(&hart), 1);
    assert_eq!(csr(&hart, addr::MEPC), PC);
}

#[test]
fn interrupts_are_taken_in_priority_order_mei_msi_mti_sei_ssi_sti() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[NOP]);
    let all = irq::M_ALL | irq::S_ALL;
    pend(&mut hart, all, 0);
    let order = [
        Interrupt::MachineExternal,
        Interrupt::MachineSoftware,
        Interrupt::MachineTimer,
        Interrupt::SupervisorExternal,
        Interrupt::SupervisorSoftware,
        Interrupt::SupervisorTimer,
    ];
    let mut left = all;
    for want in order {
        hart.mode = PrivMode::User;
        hart.pc = PC;
        let rec = step_trap(&mut hart, &mut mem);
        assert_eq!(rec.cause, TrapCause::Interrupt(want));
        left &= !(1 << want.code());
        pend(&mut hart, left, 0);
        set_csr(&mut hart, addr::MIE, all);
    }
}

#[test]
fn m_targeted_interrupts_win_over_delegated_ones() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[NOP]);
    // SEI (delegated) outranks STI in the fixed order, but MTI targets M.
    pend(&mut hart, irq::SEI | irq::STI, irq::SEI);
    set_csr(&mut hart, addr::MIE, irq::SEI | irq::STI);

    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::SupervisorTimer));
    assert_eq!(hart.mode, PrivMode::Machine);
}

// ---- Sstc ----

#[test]
fn stimecmp_raises_stip_as_time_passes() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MENVCFG, STCE);
    set_csr(&mut hart, addr::STIMECMP, 1000);

    hart.set_time(999);
    assert_eq!(csr(&hart, addr::MIP) & irq::STI, 0);
    hart.set_time(1000);
    assert_eq!(csr(&hart, addr::MIP) & irq::STI, irq::STI);
    set_csr(&mut hart, addr::STIMECMP, 2000);
    assert_eq!(csr(&hart, addr::MIP) & irq::STI, 0, "a new stimecmp re-evaluates STIP");
    set_csr(&mut hart, addr::MIP, irq::STI);
    assert_eq!(csr(&hart, addr::MIP) & irq::STI, 0, "STIP is read-only while Sstc drives it");
}

#[test]
fn timer_deadline_is_stimecmp_while_sstc_is_on_and_not_yet_reached() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::STIMECMP, 1000);
    hart.set_time(10);
    assert_eq!(hart.timer_deadline(), None, "STCE clear: stimecmp schedules nothing");
    set_csr(&mut hart, addr::MENVCFG, STCE);
    assert_eq!(hart.timer_deadline(), Some(1000));
    hart.set_time(1000);
    assert_eq!(hart.timer_deadline(), None, "already due");
}

#[test]
fn sstc_timer_interrupt_is_taken_in_s_mode() {
    let (mut hart, mut mem) = setup_in(PrivMode::User, &[NOP, NOP]);
    set_csr(&mut hart, addr::MENVCFG, STCE);
    set_csr(&mut hart, addr::MIDELEG, irq::STI);
    set_csr(&mut hart, addr::MIE, irq::STI);
    set_csr(&mut hart, addr::STIMECMP, 50);
    hart.set_time(10);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));

    hart.set_time(50);
    let rec = step_trap(&mut hart, &mut mem);

    assert_eq!(rec.cause, TrapCause::Interrupt(Interrupt::SupervisorTimer));
    assert_eq!(hart.mode, PrivMode::Supervisor);
}

#[test]
fn with_stce_clear_stip_is_software_writable_and_stimecmp_has_no_effect() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::STIMECMP, 0);
    hart.set_time(100);
    assert_eq!(csr(&hart, addr::MIP) & irq::STI, 0);

    set_csr(&mut hart, addr::MIP, irq::STI);

    assert_eq!(csr(&hart, addr::MIP) & irq::STI, irq::STI);
}

#[test]
fn stimecmp_in_s_mode_needs_stce_and_mcounteren_tm() {
    let read = csrrs(10, addr::STIMECMP, 0);
    assert_illegal(PrivMode::Supervisor, read, |h| set_csr(h, addr::MCOUNTEREN, TM));
    assert_illegal(PrivMode::Supervisor, read, |h| set_csr(h, addr::MENVCFG, STCE));
    assert_illegal(PrivMode::User, read, |h| {
        set_csr(h, addr::MENVCFG, STCE);
        set_csr(h, addr::MCOUNTEREN, TM);
    });
    retires(PrivMode::Supervisor, read, |h| {
        set_csr(h, addr::MENVCFG, STCE);
        set_csr(h, addr::MCOUNTEREN, TM);
    });
    retires(PrivMode::Machine, read, |_| {});
}

#[test]
fn menvcfg_keeps_only_fiom_and_stce() {
    let (mut hart, _) = setup_in(PrivMode::Machine, &[]);
    set_csr(&mut hart, addr::MENVCFG, u64::MAX);
    assert_eq!(csr(&hart, addr::MENVCFG), STCE | 1);
    set_csr(&mut hart, addr::SENVCFG, u64::MAX);
    assert_eq!(csr(&hart, addr::SENVCFG), 1);
}
