//! The interpreter: fetch, decode, execute one instruction; interrupts,
//! exceptions and WFI. The hot path (cached entries, `Hart::run`) is in
//! `exec/fast.rs`.

use crate::alu::{alu, alu_w, branch_taken};
use crate::csr::addr;
use crate::csr::mstatus;
use crate::decode::decode;
use crate::hart::{Hart, Misaligned, PrivMode};
use crate::insn::{AmoOp, CsrSrc, Decoded, Insn, Reg, Width};
use crate::mmu::{XlateFault, satp};
use crate::pmp::cfg;
use crate::trap::{Access, Exception, Halt, TrapCause, TrapRecord};
use crate::uop::{Entry, lower, slow};
use crate::{AccessInfo, MemError, Memory};
use fast::Stop;

/// What one `step` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEvent {
    /// One instruction retired.
    Retired,
    /// A trap (exception or interrupt) was taken; no instruction retired
    /// and `pc` is now the trap handler.
    Trap(TrapRecord),
    /// The hart is in WFI: either this step retired a `wfi` that had nothing
    /// to wake it, or it was already waiting and still is.
    Wfi,
}

/// Why `run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// `max_insns` steps were executed.
    Budget,
    /// The hart waits for an interrupt; the machine should advance virtual
    /// time (and raise a pin) before running it again.
    Wfi,
    /// `Memory::yield_requested` returned true after the last step; the
    /// machine should update interrupt pins and call `run` again.
    Yield,
    /// The hart cannot continue.
    Halt(Halt),
}

/// Why an instruction did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Raise this exception with this mtval.
    Exc(Exception, u64),
    /// The memory system asked the machine to stop.
    Stop(Access, u64),
}

/// What running an `Op::General` instruction in place did.
pub(crate) enum GeneralOutcome {
    /// It retired; the pc goes on sequentially.
    Done,
    /// Nothing done: it needs `Hart::step`.
    Slow,
    /// It did not complete.
    Fault(Fault),
}

/// Where execution continues after an instruction that completed.
enum Next {
    Seq,
    Jump(u64),
    Wfi,
}

type ExecResult<T> = Result<T, Fault>;

impl Hart {
    /// Execute one instruction, or take one pending interrupt.
    ///
    /// `Err` only for conditions the guest cannot handle itself: a memory
    /// `Stop` or a trap loop. The hart's state is then left consistent, at
    /// the instruction that could not complete.
    pub fn step<M: Memory>(&mut self, mem: &mut M) -> Result<StepEvent, Halt> {
        // `x` is public; keep x0 hard-wired even if someone outside wrote it.
        self.x[0] = 0;
        if self.waiting {
            if !self.wfi_wake_pending() {
                return Ok(StepEvent::Wfi);
            }
            // Woken: take the interrupt if globally enabled, else just
            // continue after the wfi (privileged spec §3.3.3).
            self.waiting = false;
        }
        // Nothing pending and enabled is the common case: test that inline
        // before the full priority check.
        if self.wfi_wake_pending()
            && let Some(irq) = self.pending_interrupt()
        {
            let rec = TrapRecord { cause: TrapCause::Interrupt(irq), pc: self.pc, tval: 0, insn: None };
            self.take_trap(rec);
            return Ok(StepEvent::Trap(rec));
        }

        let pc = self.pc;
        // Hot path: physical pc (or a TLB hit) and a cached entry.
        let e = match self.cached_entry(pc) {
            Some(e) => e,
            None => match self.fetch(mem, pc) {
                Ok(e) => e,
                Err(f) => return self.fault(mem, f, None),
            },
        };
        // Not polling the memory: `run` does that after each step.
        match self.exec_entry::<M, false, false>(mem, &e, pc, None) {
            Ok(next) | Err(Stop::Yield(next) | Stop::Leave(next)) => {
                self.retired = self.retired.wrapping_add(1);
                self.trap_origin = None;
                self.pc = next;
                Ok(StepEvent::Retired)
            }
            Err(Stop::Slow) => self.step_general(mem, e),
            Err(Stop::Fault(f)) => self.fault(mem, f, Some(e.raw)),
        }
    }

    /// `step` for an instruction without a fast form: the general
    /// executor on the decoded instruction.
    #[inline(never)]
    fn step_general<M: Memory>(&mut self, mem: &mut M, e: Entry) -> Result<StepEvent, Halt> {
        let pc = self.pc;
        let d = decode(e.raw);
        match self.execute(&d, mem) {
            Ok(next) => {
                self.retired = self.retired.wrapping_add(1);
                self.trap_origin = None;
                match next {
                    Next::Seq => self.pc = pc.wrapping_add(u64::from(d.len)),
                    Next::Jump(target) => self.pc = target,
                    Next::Wfi => {
                        self.pc = pc.wrapping_add(u64::from(d.len));
                        if !self.wfi_wake_pending() {
                            self.waiting = true;
                            return Ok(StepEvent::Wfi);
                        }
                    }
                }
                Ok(StepEvent::Retired)
            }
            Err(f) => self.fault(mem, f, Some(d.raw)),
        }
    }

    /// Turn a fault of the instruction at `self.pc` (bits `insn`) into a
    /// trap or a halt; or, for a misaligned load or store to be completed
    /// in hardware, complete it.
    pub(crate) fn fault<M: Memory>(
        &mut self,
        mem: &mut M,
        f: Fault,
        insn: Option<u32>,
    ) -> Result<StepEvent, Halt> {
        let f = match (f, insn) {
            (
                Fault::Exc(Exception::LoadAddressMisaligned | Exception::StoreAddressMisaligned, _),
                Some(raw),
            ) if self.misaligned == Misaligned::Emulate => {
                match self.complete_misaligned(mem, raw) {
                    Some(Ok(())) => return Ok(StepEvent::Retired),
                    Some(Err(f)) => f,
                    // An AMO or LR/SC: never split.
                    None => f,
                }
            }
            _ => f,
        };
        let pc = self.pc;
        let (cause, tval) = match f {
            Fault::Exc(cause, tval) => (cause, tval),
            Fault::Stop(access, addr) => return Err(Halt::Memory { pc, access, addr }),
        };
        // A trap was just taken (nothing retired since) and the handler's
        // first instruction faults into a trap whose vector is this very
        // instruction: trap entry changes nothing this instruction depends on,
        // so it would fault again forever. The classic case is mtvec=0 with
        // nothing mapped there. The vector is that of the mode this trap
        // would go to (mtvec or stvec, by medeleg and the current mode).
        if let Some(first) = self.trap_origin
            && self.csrs.trap_vector_for(self.trap_target(TrapCause::Exception(cause)), false, cause.code())
                == pc
        {
            return Err(Halt::TrapLoop { cause, pc, tval, first });
        }
        let rec = TrapRecord { cause: TrapCause::Exception(cause), pc, tval, insn };
        self.take_trap(rec);
        Ok(StepEvent::Trap(rec))
    }

    fn execute<M: Memory>(&mut self, d: &Decoded, mem: &mut M) -> ExecResult<Next> {
        let pc = self.pc;
        match d.insn {
            Insn::Op { op, rd, rs1, rs2 } => {
                self.set_reg(rd, alu(op, self.reg(rs1), self.reg(rs2)));
            }
            Insn::OpImm { op, rd, rs1, imm } => {
                self.set_reg(rd, alu(op, self.reg(rs1), sext(imm)));
            }
            Insn::Op32 { op, rd, rs1, rs2 } => {
                self.set_reg(rd, alu_w(op, self.reg(rs1), self.reg(rs2)));
            }
            Insn::OpImm32 { op, rd, rs1, imm } => {
                self.set_reg(rd, alu_w(op, self.reg(rs1), sext(imm)));
            }
            Insn::Bitmanip { op, rd, rs1, src } => {
                let b = match src {
                    crate::bitmanip::Src::Reg(r) => self.reg(r),
                    crate::bitmanip::Src::Imm(n) => u64::from(n),
                    crate::bitmanip::Src::None => 0,
                };
                self.set_reg(rd, crate::bitmanip::bitmanip(op, self.reg(rs1), b));
            }
            Insn::Lui { rd, imm } => self.set_reg(rd, sext(imm)),
            Insn::Auipc { rd, imm } => self.set_reg(rd, pc.wrapping_add(sext(imm))),
            Insn::Jal { rd, imm } => {
                // With C, every target is 2-aligned, so no misaligned-fetch check.
                self.set_reg(rd, pc.wrapping_add(u64::from(d.len)));
                return Ok(Next::Jump(pc.wrapping_add(sext(imm))));
            }
            Insn::Jalr { rd, rs1, imm } => {
                // Target first: rd may equal rs1.
                let target = self.reg(rs1).wrapping_add(sext(imm)) & !1;
                self.set_reg(rd, pc.wrapping_add(u64::from(d.len)));
                return Ok(Next::Jump(target));
            }
            Insn::Branch { cond, rs1, rs2, imm } => {
                if branch_taken(cond, self.reg(rs1), self.reg(rs2)) {
                    return Ok(Next::Jump(pc.wrapping_add(sext(imm))));
                }
            }
            Insn::Load { width, signed, rd, rs1, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                let v = self.load(mem, self.pc, addr, width)?;
                self.set_reg(rd, if signed { sign_extend(v, width) } else { v });
            }
            Insn::Store { width, rs1, rs2, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                self.store(mem, self.pc, addr, width, self.reg(rs2))?;
            }
            Insn::Lr { width, rd, rs1, .. } => {
                let addr = self.reg(rs1);
                let v = self.load(mem, self.pc, addr, width)?;
                self.reservation = Some(addr);
                self.set_reg(rd, sign_extend(v, width));
            }
            Insn::Sc { width, rd, rs1, rs2, .. } => {
                let addr = self.reg(rs1);
                check_aligned(addr, width, Exception::StoreAddressMisaligned)?;
                // "Regardless of success or failure, executing an SC
                // instruction invalidates any reservation held by this hart."
                let reserved = self.reservation.take() == Some(addr);
                if reserved {
                    self.store(mem, self.pc, addr, width, self.reg(rs2))?;
                }
                self.set_reg(rd, u64::from(!reserved));
            }
            Insn::Amo { op, width, rd, rs1, rs2, .. } => {
                let addr = self.reg(rs1);
                let old = self.amo(mem, addr, width, op, self.reg(rs2))?;
                self.set_reg(rd, old);
            }
            Insn::Csr { op, rd, src, csr } => {
                let src_val = match src {
                    CsrSrc::Reg(r) => self.reg(r),
                    CsrSrc::Imm(i) => u64::from(i),
                };
                let ctx = self.csr_ctx();
                let old = self
                    .csrs
                    .rmw(csr, op, src_val, src.field() != 0, rd.0 == 0, &ctx)
                    .map_err(|_| illegal(d))?;
                // Flushing the TLB on every satp access is allowed (the
                // spec never requires it without an SFENCE.VMA) and keeps
                // Sv39/Sv48 entries and page-table roots from mixing. TLB
                // entries and `pmp_pages` hold PMP verdicts: any PMP write
                // drops them (§3.7.2 asks software for an SFENCE.VMA after
                // changing PMP; flushing here as well is allowed and what
                // QEMU does).
                if csr == addr::SATP {
                    self.tlb.flush_all();
                } else if (addr::PMPCFG0..=addr::PMPADDR63).contains(&csr) {
                    self.tlb.flush_all();
                    self.pmp_pages.flush();
                }
                self.set_reg(rd, old);
            }
            // One in-order hart: data memory is always coherent with itself.
            Insn::Fence { .. } => {}
            // Make earlier stores visible to instruction fetch: drop every
            // pre-decoded instruction.
            Insn::FenceI => self.icache.flush(),
            Insn::Ecall => {
                let cause = match self.mode {
                    PrivMode::User => Exception::EcallFromU,
                    PrivMode::Supervisor => Exception::EcallFromS,
                    PrivMode::Machine => Exception::EcallFromM,
                };
                return Err(Fault::Exc(cause, 0));
            }
            // xtval = 0: "either set to zero or written with exception-
            // specific information" (§3.1.16); zero is what QEMU 7.2 writes.
            Insn::Ebreak => return Err(Fault::Exc(Exception::Breakpoint, 0)),
            Insn::Mret => {
                if self.mode != PrivMode::Machine {
                    return Err(illegal(d));
                }
                self.mret();
                return Ok(Next::Jump(self.pc));
            }
            Insn::Sret => {
                // §3.3.2 / §3.1.6.5: SRET is illegal in U-mode, and in
                // S-mode when mstatus.TSR=1.
                let tsr = self.csrs.mstatus() & mstatus::TSR != 0;
                if self.mode == PrivMode::User || (self.mode == PrivMode::Supervisor && tsr) {
                    return Err(illegal(d));
                }
                self.sret();
                return Ok(Next::Jump(self.pc));
            }
            Insn::Wfi => {
                // §3.1.6.5: with S-mode implemented, WFI in U-mode is
                // illegal "unless it completes within an implementation-
                // specific, bounded time limit", and so is WFI in S-mode
                // with TW=1. The simplest legal choice: trap at once.
                let tw = self.csrs.mstatus() & mstatus::TW != 0;
                if self.mode == PrivMode::User || (self.mode == PrivMode::Supervisor && tw) {
                    return Err(illegal(d));
                }
                return Ok(Next::Wfi);
            }
            Insn::SfenceVma { rs1, rs2 } => {
                // §3.1.6.5: illegal in U-mode, and in S-mode with TVM=1.
                let tvm = self.csrs.mstatus() & mstatus::TVM != 0;
                if self.mode == PrivMode::User || (self.mode == PrivMode::Supervisor && tvm) {
                    return Err(illegal(d));
                }
                // §4.2.1: rs1=x0 means every address, rs2=x0 every ASID.
                // The icache is keyed by physical address, so it needs no
                // flush here (see `fetch`).
                let va = (rs1 != Reg(0)).then(|| self.reg(rs1));
                let asid = (rs2 != Reg(0)).then(|| self.reg(rs2) as u16);
                self.tlb.sfence(va, asid);
            }
            Insn::FLoad { .. }
            | Insn::FStore { .. }
            | Insn::FOp { .. }
            | Insn::FSqrt { .. }
            | Insn::FFma { .. }
            | Insn::FSgnj { .. }
            | Insn::FMinMax { .. }
            | Insn::FCmp { .. }
            | Insn::FClass { .. }
            | Insn::FCvtToInt { .. }
            | Insn::FCvtFromInt { .. }
            | Insn::FCvtFp { .. }
            | Insn::FMvToInt { .. }
            | Insn::FMvFromInt { .. } => self.execute_fp(d, mem)?,
            Insn::Illegal => return Err(illegal(d)),
        }
        Ok(Next::Seq)
    }
}

/// Illegal-instruction exception; mtval = the instruction bits (§3.1.16).
fn illegal(d: &Decoded) -> Fault {
    Fault::Exc(Exception::IllegalInstruction, u64::from(d.raw))
}

#[inline]
fn sext(imm: i32) -> u64 {
    i64::from(imm) as u64
}

fn sign_extend(v: u64, width: Width) -> u64 {
    match width {
        Width::B => v as i8 as i64 as u64,
        Width::H => v as i16 as i64 as u64,
        Width::W => v as i32 as i64 as u64,
        Width::D => v,
    }
}

/// The exceptions for a failed `access`: (page fault, access fault).
fn fault_causes(access: Access) -> (Exception, Exception) {
    match access {
        Access::Fetch => (Exception::InstructionPageFault, Exception::InstructionAccessFault),
        Access::Load => (Exception::LoadPageFault, Exception::LoadAccessFault),
        Access::Store => (Exception::StorePageFault, Exception::StoreAccessFault),
    }
}

impl Hart {
    /// Translate `va` and check PMP for an access of `size` bytes needing
    /// the `pmp::cfg` bits `need`; faults carry tval = `va` (§4.3.2, §3.1.16).
    /// Inlined: `translate` tests the common case (M-mode, no locked PMP
    /// entry) inline, so the executor's loads and stores stay fast.
    #[inline(always)]
    fn xlate<M: Memory>(
        &mut self,
        mem: &mut M,
        at: AccessInfo,
        va: u64,
        access: Access,
        size: u8,
        need: u8,
    ) -> ExecResult<u64> {
        self.translate(mem, at, va, access, size, need).map_err(|f| {
            let (page, acc) = fault_causes(access);
            match f {
                XlateFault::Page => Fault::Exc(page, va),
                XlateFault::Access => Fault::Exc(acc, va),
                XlateFault::Stop(pte_addr) => Fault::Stop(access, pte_addr),
            }
        })
    }

    /// The physical address of virtual `pc`'s page when fetching from any
    /// of it needs neither a walk nor a PMP check: M-mode with no locked
    /// PMP entry, or the page's translation (TLB hit) and PMP verdict
    /// cached with X for the whole page. A page PMP splits has no X in its
    /// verdict (`Pmp::page_perms`) and is left to `fetch`, which checks
    /// each parcel. The same for the whole page: `run` checks it once when
    /// it enters the page (`frame_at`).
    #[inline(always)]
    pub(crate) fn cached_fetch_page(&self, pc: u64) -> Option<u64> {
        // M-mode with no locked PMP entry: physical and unchecked.
        if self.mode as u8 == self.csrs.pmp_fetch_free() {
            return Some(pc);
        }
        let satp_val = self.csrs.satp();
        if self.mode == PrivMode::Machine || satp_val >> satp::MODE_SHIFT == satp::MODE_BARE {
            let v = self.pmp_pages.get(pc)?;
            let perms = if self.mode == PrivMode::Machine { v.m } else { v.su };
            return (perms & cfg::X != 0).then_some(pc);
        }
        self.cached_fetch_pa(pc, satp_val)
    }

    /// The cached entry at virtual `pc`, when its translation and PMP
    /// verdict (or no need for either, see `cached_fetch_page`) and its
    /// decoding are cached.
    #[inline(always)]
    fn cached_entry(&self, pc: u64) -> Option<Entry> {
        let e = self.icache.get(self.cached_fetch_page(pc)?)?;
        // A 32-bit instruction in a page's last halfword also needs the
        // next page: leave it to `fetch`.
        (pc & 0xfff != 0xffe || e.len == 2).then_some(e)
    }

    /// Fetch and decode at `pc`: 2 bytes first, the next 2 only for a
    /// 32-bit instruction, so a compressed instruction in the last halfword
    /// of RAM works and a 32-bit one there faults at pc+2 (mtval = "the
    /// portion of the instruction that caused the fault", §3.1.16). Each
    /// 16-bit parcel is a fetch of its own for translation and PMP (the
    /// spec lets an implementation decompose a misaligned fetch), so a
    /// 32-bit instruction may straddle two PMP entries or pages that both
    /// grant execution.
    ///
    /// The icache is keyed by the PHYSICAL pc: the pc is translated first
    /// (a TLB hit in the common case), so remapping code, switching satp or
    /// changing privilege never serves instructions decoded through
    /// another mapping, and no flush is needed on sfence.vma, satp writes
    /// or mode changes. Only FENCE.I (stores to code) flushes it. A 32-bit
    /// instruction whose halves lie in two non-contiguous physical pages is
    /// not cached (its key would not describe its second half).
    #[inline(never)]
    fn fetch<M: Memory>(&mut self, mem: &mut M, pc: u64) -> ExecResult<Entry> {
        if pc & 1 != 0 {
            // Only reachable if the machine set an odd pc: IALIGN is 16.
            return Err(Fault::Exc(Exception::InstructionAddressMisaligned, pc));
        }
        let pa = self.xlate(mem, self.access_at(pc), pc, Access::Fetch, 2, cfg::X)?;
        if self.icache.is_parked(pa) {
            // A frame parked by FENCE.I comes back if its page is as it was.
            ram::with_ram_page(mem, pa, |bytes| bytes.is_some_and(|b| self.icache.restore(pa, b)));
        }
        if let Some(d) = self.icache.get(pa) {
            // The second parcel is translated and checked as on a miss; a
            // different physical page than the cached copy used means a
            // fresh fetch.
            if d.len == 2 || self.second_parcel(mem, pc, pa)? == pa.wrapping_add(2) {
                return Ok(d);
            }
        }
        let lo = fetch16(mem, self.access_at(pc), pc, pa)?;
        let mut contiguous = true;
        let raw = if lo & 3 == 3 {
            let pa2 = self.second_parcel(mem, pc, pa)?;
            contiguous = pa2 == pa.wrapping_add(2);
            lo | (fetch16(mem, self.access_at(pc), pc.wrapping_add(2), pa2)? << 16)
        } else {
            lo
        };
        let d = decode(raw);
        let e = lower(&d);
        if contiguous {
            // One reaching into the next page is cached as `Op::Slow`:
            // `run` checks fetch permission once per page it enters, so
            // it must not run this one from its frame; `step` serves it
            // from here (`fetch` hit: both parcels checked, no re-read).
            let cached = if pa & 0xfff == 0xffe && d.len == 4 { slow(&d) } else { e };
            ram::with_ram_page(mem, pa, |bytes| self.icache.insert(pa, cached, bytes));
        }
        Ok(e)
    }

    /// The physical address of the second parcel of a 32-bit instruction
    /// at `pc` (first parcel at `pa`), translated if it starts a new page
    /// and checked by PMP.
    fn second_parcel<M: Memory>(&mut self, mem: &mut M, pc: u64, pa: u64) -> ExecResult<u64> {
        let va2 = pc.wrapping_add(2);
        if va2 & 0xfff == 0 {
            return self.xlate(mem, self.access_at(pc), va2, Access::Fetch, 2, cfg::X);
        }
        let pa2 = pa.wrapping_add(2);
        if self.mode as u8 == self.csrs.pmp_fetch_free() || self.pmp_phys(pa2, 2, self.mode, cfg::X) {
            Ok(pa2)
        } else {
            Err(Fault::Exc(Exception::InstructionAccessFault, va2))
        }
    }

    // Inlined into the executor so each load/store form gets its RAM fast
    // path with the width known; the slow parts (page walk, PMP, device
    // access) are out of line.
    #[inline(always)]
    pub(crate) fn load<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        addr: u64,
        width: Width,
    ) -> ExecResult<u64> {
        check_aligned(addr, width, Exception::LoadAddressMisaligned)?;
        let at = self.access_at(pc);
        let pa = self.xlate(mem, at, addr, Access::Load, width.bytes(), cfg::R)?;
        mem.load(at, pa, width.bytes())
            .map_err(|e| mem_fault(e, Exception::LoadAccessFault, Access::Load, addr, pa))
    }

    #[inline(always)]
    pub(crate) fn store<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        addr: u64,
        width: Width,
        v: u64,
    ) -> ExecResult<()> {
        check_aligned(addr, width, Exception::StoreAddressMisaligned)?;
        let at = self.access_at(pc);
        let pa = self.xlate(mem, at, addr, Access::Store, width.bytes(), cfg::W)?;
        mem.store(at, pa, width.bytes(), v)
            .map_err(|e| mem_fault(e, Exception::StoreAccessFault, Access::Store, addr, pa))
    }

    /// AMO read-modify-write; returns the old value (sign-extended for .W).
    /// Every fault is a store/AMO fault (privileged spec: AMOs raise
    /// store/AMO exceptions, and translate with store permissions; PMP
    /// must grant both R and W), and nothing is written to rd unless both
    /// accesses succeed.
    fn amo<M: Memory>(
        &mut self,
        mem: &mut M,
        addr: u64,
        width: Width,
        op: AmoOp,
        src: u64,
    ) -> ExecResult<u64> {
        check_aligned(addr, width, Exception::StoreAddressMisaligned)?;
        let size = width.bytes();
        let at = self.access_at(self.pc);
        let pa = self.xlate(mem, at, addr, Access::Store, size, cfg::R | cfg::W)?;
        let raw = mem
            .load(at, pa, size)
            .map_err(|e| mem_fault(e, Exception::StoreAccessFault, Access::Load, addr, pa))?;
        let new = amo_result(op, width, raw, src);
        mem.store(at, pa, size, new)
            .map_err(|e| mem_fault(e, Exception::StoreAccessFault, Access::Store, addr, pa))?;
        Ok(sign_extend(raw, width))
    }
}

/// One halfword of an instruction at virtual `va`, physical `pa`; an
/// access fault reports the virtual address.
fn fetch16<M: Memory>(mem: &mut M, at: AccessInfo, va: u64, pa: u64) -> ExecResult<u32> {
    match mem.fetch(at, pa, 2) {
        Ok(v) => Ok((v & 0xffff) as u32),
        Err(MemError::AccessFault) => Err(Fault::Exc(Exception::InstructionAccessFault, va)),
        Err(MemError::Stop) => Err(Fault::Stop(Access::Fetch, pa)),
    }
}

/// Every data access checks its alignment first, before translation
/// (tval = the address). Under `Misaligned::Emulate` the fault of a
/// plain load or store is not taken: `fault` completes the instruction
/// instead (`exec/misaligned.rs`), so the hot paths stay as they are;
/// AMOs and LR/SC always trap.
#[inline(always)]
fn check_aligned(addr: u64, width: Width, misaligned: Exception) -> ExecResult<()> {
    if addr & (u64::from(width.bytes()) - 1) != 0 {
        return Err(Fault::Exc(misaligned, addr));
    }
    Ok(())
}

/// A physical access failed: the guest sees the virtual address `va` in
/// tval; a machine stop reports the physical `pa`.
fn mem_fault(e: MemError, fault: Exception, access: Access, va: u64, pa: u64) -> Fault {
    match e {
        MemError::AccessFault => Fault::Exc(fault, va),
        MemError::Stop => Fault::Stop(access, pa),
    }
}

/// The value an AMO stores, given the raw (zero-extended) old value.
fn amo_result(op: AmoOp, width: Width, raw: u64, src: u64) -> u64 {
    let old = sign_extend(raw, width);
    // For .W, compare on sign-extended (signed ops) or zero-extended
    // (unsigned ops) 32-bit values; the stored result is truncated anyway.
    let (a, b) = match width {
        Width::W => (old, sign_extend(src, Width::W)),
        _ => (old, src),
    };
    let (ua, ub) = match width {
        Width::W => (a & 0xffff_ffff, b & 0xffff_ffff),
        _ => (a, b),
    };
    match op {
        AmoOp::Swap => b,
        AmoOp::Add => a.wrapping_add(b),
        AmoOp::Xor => a ^ b,
        AmoOp::And => a & b,
        AmoOp::Or => a | b,
        AmoOp::Min => (a as i64).min(b as i64) as u64,
        AmoOp::Max => (a as i64).max(b as i64) as u64,
        AmoOp::Minu => ua.min(ub),
        AmoOp::Maxu => ua.max(ub),
    }
}

mod fast;
mod fp;
mod misaligned;
mod ram;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fast;
#[cfg(test)]
mod tests_fast_tlb;
#[cfg(test)]
mod tests_fp;
#[cfg(test)]
mod tests_icache;
#[cfg(test)]
mod tests_misaligned;
#[cfg(test)]
mod tests_mmu;
#[cfg(test)]
mod tests_pmp;
#[cfg(test)]
mod tests_priv;
#[cfg(test)]
mod tests_system;
