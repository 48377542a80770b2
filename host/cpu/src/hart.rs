//! Architectural state of one hart, interrupt pins, and trap entry/exit.
//!
//! Execution lives in `exec.rs`; this file owns the state layout (which the
//! JIT will address directly, hence `repr(C)` with the hot fields first).

use crate::csr::{self, CsrCtx, Csrs};
use crate::icache::ICache;
use crate::insn::Reg;
use crate::pmp::PageVerdicts;
use crate::tlb::Tlb;
use crate::trap::{Interrupt, TrapCause, TrapRecord};

/// Privilege level (privileged spec §1.2 encoding). All three are
/// implemented (misa.S and misa.U are set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PrivMode {
    User = 0,
    Supervisor = 1,
    Machine = 3,
}

/// Interrupt lines the machine drives into the hart; each is reflected
/// level-sensitively in the matching read-only `mip` bit. Ordered as
/// declared (interrupt routing keys its sinks by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IrqPin {
    /// MEIP, from the interrupt controller (PLIC).
    MachineExternal,
    /// MTIP, from the timer comparator (mtime >= mtimecmp).
    MachineTimer,
    /// MSIP, from the software-interrupt register (CLINT msip).
    MachineSoftware,
    /// SEIP's external half, from the interrupt controller's S-mode
    /// context. §3.1.9: mip.SEIP reads as this line OR'ed with the
    /// software-writable SEIP bit. (STIP/SSIP have no pins: software and
    /// Sstc drive them.)
    SupervisorExternal,
}

impl IrqPin {
    /// Every pin, in order.
    pub const ALL: [IrqPin; 4] =
        [IrqPin::MachineExternal, IrqPin::MachineTimer, IrqPin::MachineSoftware, IrqPin::SupervisorExternal];

    /// The pin's `mip` bit name, as machine files spell it (`hart0.meip`).
    pub fn name(self) -> &'static str {
        match self {
            IrqPin::MachineExternal => "meip",
            IrqPin::MachineTimer => "mtip",
            IrqPin::MachineSoftware => "msip",
            IrqPin::SupervisorExternal => "seip",
        }
    }

    /// The pin a name (as [`IrqPin::name`] gives it) denotes.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    fn mip_bit(self) -> u64 {
        match self {
            IrqPin::MachineExternal => csr::irq::MEI,
            IrqPin::MachineTimer => csr::irq::MTI,
            IrqPin::MachineSoftware => csr::irq::MSI,
            IrqPin::SupervisorExternal => csr::irq::SEI,
        }
    }
}

/// What the hart does with a misaligned load or store (FP ones and the
/// compressed forms included). Misaligned AMOs and LR/SC raise the
/// address-misaligned exception either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Misaligned {
    /// Complete it in hardware (Zicclsm, which the RVA profiles require),
    /// as QEMU does: each page it touches is translated and checked, and
    /// it is carried out as byte accesses, all or nothing (`exec/misaligned.rs`).
    #[default]
    Emulate,
    /// Raise the load/store address-misaligned exception, before
    /// translation (tval = the address), so M-mode software emulates it.
    Trap,
}

impl Misaligned {
    /// Both settings.
    pub const ALL: [Misaligned; 2] = [Misaligned::Emulate, Misaligned::Trap];

    /// The setting's name, as a machine file and `--cpu misaligned=` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Misaligned::Emulate => "emulate",
            Misaligned::Trap => "trap",
        }
    }

    /// The setting a name (as [`Misaligned::name`] gives it) denotes.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// One RISC-V hart.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Hart {
    /// Integer registers. `x[0]` must stay 0: the executor never writes it,
    /// and code outside this crate must not either.
    pub x: [u64; 32],
    /// Address of the next instruction to execute.
    pub pc: u64,
    pub mode: PrivMode,
    pub hart_id: u64,
    pub(crate) csrs: Csrs,
    /// LR/SC reservation: the address of the last LR, cleared by SC, traps
    /// and mret.
    pub(crate) reservation: Option<u64>,
    /// Instructions retired since reset; never written by the guest.
    pub(crate) retired: u64,
    /// In WFI, waiting for `mip & mie != 0`.
    pub(crate) waiting: bool,
    /// The first trap taken since the last retired instruction: lets `step`
    /// spot a trap handler that faults before doing anything (a trap loop).
    pub(crate) trap_origin: Option<TrapRecord>,
    /// F/D registers, 64 bits each; single-precision values are NaN-boxed
    /// (see `fpu`). fcsr and mstatus.FS live in the CSR file.
    pub f: [u64; 32],
    /// Cached Sv39/Sv48 leaf PTEs (see `tlb`).
    pub(crate) tlb: Tlb,
    /// PMP verdicts of physical pages accessed without translation.
    pub(crate) pmp_pages: PageVerdicts,
    /// Misaligned loads and stores: completed or trapped (a setting of
    /// the machine, not architectural state a guest can change).
    pub(crate) misaligned: Misaligned,
    /// Where the last `run`/`run_jit` call stopped because its budget
    /// ran out (`u64::MAX`: it did not): arriving there is no reason to
    /// call a pc hot (see `run_tiers`).
    pub(crate) budget_stop: u64,
    /// Pre-decoded instructions; last because the JIT does not address it.
    pub(crate) icache: ICache,
}

impl Hart {
    /// A hart in its reset state (privileged spec §3.4): M-mode, MIE=0,
    /// registers zero, executing from `reset_pc`.
    pub fn new(hart_id: u64, reset_pc: u64) -> Self {
        Hart {
            x: [0; 32],
            pc: reset_pc,
            mode: PrivMode::Machine,
            hart_id,
            csrs: Csrs::new(),
            reservation: None,
            retired: 0,
            waiting: false,
            trap_origin: None,
            f: [0; 32],
            tlb: Tlb::default(),
            pmp_pages: PageVerdicts::default(),
            misaligned: Misaligned::default(),
            budget_stop: u64::MAX,
            icache: ICache::default(),
        }
    }

    /// Complete misaligned loads and stores (the default) or trap them.
    pub fn set_misaligned(&mut self, m: Misaligned) {
        self.misaligned = m;
    }

    /// See [`Hart::set_misaligned`].
    pub fn misaligned(&self) -> Misaligned {
        self.misaligned
    }

    /// Forget every pre-decoded instruction. The hart does this itself on
    /// FENCE.I; the machine must call it after writing guest memory that
    /// may hold code behind the hart's back (loading an image, DMA it wants
    /// to be coherent). Without it, or a guest FENCE.I, modified code may
    /// still execute as it was when first decoded, which RISC-V allows.
    pub fn flush_icache(&mut self) {
        self.icache.flush();
    }

    /// Forget every cached translation, as `sfence.vma x0, x0` does, and
    /// every cached PMP verdict. The machine should call it when it
    /// rewrites page tables behind the hart's back (or on reset); the hart
    /// flushes on satp and PMP CSR writes itself.
    pub fn flush_tlb(&mut self) {
        self.tlb.flush_all();
        self.pmp_pages.flush();
    }

    #[inline]
    pub fn reg(&self, r: Reg) -> u64 {
        self.x[r.idx()]
    }

    /// Write a register; writes to x0 are discarded.
    #[inline]
    pub fn set_reg(&mut self, r: Reg, v: u64) {
        let i = r.idx();
        if i != 0 {
            self.x[i] = v;
        }
    }

    /// Drive an interrupt line. The wake-up from WFI and the trap itself
    /// happen at the next `step`.
    pub fn set_irq_pin(&mut self, pin: IrqPin, level: bool) {
        self.csrs.set_mip_bits(pin.mip_bit(), level);
    }

    /// Set the value the `time` CSR reads (the machine's mtime). With Sstc
    /// enabled this also re-evaluates STIP (`time >= stimecmp`).
    pub fn set_time(&mut self, t: u64) {
        self.csrs.set_time(t);
    }

    /// The `time` value at which this hart's Sstc timer (stimecmp) will
    /// raise STIP, if it is enabled and not yet reached: the machine must
    /// not skip idle time past it, and ends batches there.
    pub fn timer_deadline(&self) -> Option<u64> {
        (self.csrs.sstc_enabled() && self.csrs.stimecmp() > self.csrs.time()).then(|| self.csrs.stimecmp())
    }

    /// Instructions retired since reset. Monotonic: guest writes to
    /// `minstret`/`mcycle` do not affect it, so the machine can derive
    /// virtual time from it.
    pub fn instret(&self) -> u64 {
        self.retired
    }

    /// Drop the LR reservation (another hart may have written the reserved
    /// address): the next SC fails and the guest retries.
    pub fn clear_reservation(&mut self) {
        self.reservation = None;
    }

    /// True while the hart sits in WFI waiting for an interrupt.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// The CSR file, for inspection (debuggers, tests, trap reports).
    pub fn csrs(&self) -> &Csrs {
        &self.csrs
    }

    /// Read any CSR as a privileged debugger would: no side effects and no
    /// privilege check. `None` if the CSR does not exist.
    pub fn peek_csr(&self, csr: u16) -> Option<u64> {
        let ctx = CsrCtx { mode: PrivMode::Machine, ..self.csr_ctx() };
        self.csrs.read(csr, &ctx).ok()
    }

    /// Whether loads and stores are physical and unchecked now: M-mode
    /// (MPRV off, or MPP = M) with no locked PMP entry.
    #[inline]
    pub(crate) fn direct_data(&self) -> bool {
        self.mode as u8 == self.csrs.pmp_data_free()
    }

    /// The record of an access made by the instruction at `pc`.
    #[inline(always)]
    pub(crate) fn access_at(&self, pc: u64) -> crate::AccessInfo {
        crate::AccessInfo { hart: self.hart_id as u32, pc }
    }

    pub(crate) fn csr_ctx(&self) -> CsrCtx {
        CsrCtx { mode: self.mode, retired: self.retired, hart_id: self.hart_id }
    }

    /// The interrupt to take now, if any (§3.1.9, §3.1.6.1, §4.1.3).
    ///
    /// An interrupt not delegated in mideleg goes to M-mode and is enabled
    /// "if the current privilege mode is less than M, or if the current
    /// privilege mode is M and MIE is set". A delegated one goes to S-mode
    /// and is enabled if the mode is U, or S with SIE set; it is never
    /// taken while in M-mode ("interrupts for higher-privilege modes must
    /// be serviced before interrupts for lower-privilege modes", and a trap
    /// never lowers the privilege). M-targeted interrupts win over
    /// S-targeted ones; within each, the order is MEI, MSI, MTI, SEI, SSI, STI.
    #[inline]
    pub(crate) fn pending_interrupt(&self) -> Option<Interrupt> {
        let pending = self.csrs.mip() & self.csrs.mie();
        if pending == 0 {
            return None;
        }
        let st = self.csrs.mstatus();
        let deleg = self.csrs.mideleg();
        let m_on = self.mode < PrivMode::Machine || st & csr::mstatus::MIE != 0;
        let s_on = self.mode < PrivMode::Supervisor
            || (self.mode == PrivMode::Supervisor && st & csr::mstatus::SIE != 0);
        let m_pending = if m_on { pending & !deleg } else { 0 };
        let s_pending = if s_on { pending & deleg } else { 0 };
        let set = if m_pending != 0 { m_pending } else { s_pending };
        Interrupt::PRIORITY.into_iter().find(|i| set & (1 << i.code()) != 0)
    }

    /// The mode a trap with this cause is taken in (§3.1.8): S-mode when
    /// delegated in medeleg/mideleg and the hart is not in M-mode ("traps
    /// never transition from a more-privileged mode to a less-privileged
    /// mode"), else M-mode.
    pub(crate) fn trap_target(&self, cause: TrapCause) -> PrivMode {
        let (deleg, code) = match cause {
            TrapCause::Exception(e) => (self.csrs.medeleg(), e.code()),
            TrapCause::Interrupt(i) => (self.csrs.mideleg(), i.code()),
        };
        if self.mode <= PrivMode::Supervisor && (deleg >> code) & 1 != 0 {
            PrivMode::Supervisor
        } else {
            PrivMode::Machine
        }
    }

    /// Whether WFI should wait: "regardless of the global interrupt enable",
    /// a pending-and-enabled (mie) interrupt makes WFI complete.
    #[inline]
    pub(crate) fn wfi_wake_pending(&self) -> bool {
        self.csrs.mip() & self.csrs.mie() != 0
    }

    /// Enter a trap (privileged spec §3.1.6.1, §3.1.7, §3.1.14-16, and
    /// §4.1.1-9 for S-mode): in the target mode x, xepc/xcause/xtval are
    /// written, xPIE<-xIE, xIE<-0, xPP<-mode, mode<-x, pc<-xtvec.
    pub(crate) fn take_trap(&mut self, rec: TrapRecord) {
        use csr::mstatus::{MIE, MPIE, MPP, MPP_SHIFT, SIE, SPIE, SPP};
        let cause = rec.cause.mcause();
        let target = self.trap_target(rec.cause);
        let st = self.csrs.mstatus();
        let new_st = if target == PrivMode::Supervisor {
            self.csrs.set_strap(rec.pc, cause, rec.tval);
            let spie = if st & SIE != 0 { SPIE } else { 0 };
            // SPP is one bit: 0 for U, 1 for S (the only modes trapping to S).
            let spp = if self.mode == PrivMode::Supervisor { SPP } else { 0 };
            (st & !(SIE | SPIE | SPP)) | spie | spp
        } else {
            self.csrs.set_trap(rec.pc, cause, rec.tval);
            let mpie = if st & MIE != 0 { MPIE } else { 0 };
            let mpp = (self.mode as u64) << MPP_SHIFT;
            (st & !(MIE | MPIE | MPP)) | mpie | mpp
        };
        self.csrs.set_mstatus(new_st);
        self.mode = target;
        let interrupt = matches!(rec.cause, TrapCause::Interrupt(_));
        self.pc = self.csrs.trap_vector_for(target, interrupt, cause & !(1 << 63));
        // Spike-compatible and allowed by the A spec: a trap breaks LR/SC.
        self.reservation = None;
        if self.trap_origin.is_none() {
            self.trap_origin = Some(rec);
        }
    }

    /// MRET (§3.3.2): MIE<-MPIE, MPIE<-1, mode<-MPP, MPP<-U (the least
    /// privileged supported mode), MPRV<-0 if the new mode is not M
    /// (§3.1.6.3), pc<-mepc.
    pub(crate) fn mret(&mut self) {
        use csr::mstatus::{MIE, MPIE, MPP, MPP_SHIFT, MPRV};
        let st = self.csrs.mstatus();
        let mie = if st & MPIE != 0 { MIE } else { 0 };
        let mode = match (st & MPP) >> MPP_SHIFT {
            0 => PrivMode::User,
            1 => PrivMode::Supervisor,
            // 2 cannot be stored (MPP is WARL over {0, 1, 3}).
            _ => PrivMode::Machine,
        };
        let mprv = if mode == PrivMode::Machine { st & MPRV } else { 0 };
        self.csrs.set_mstatus((st & !(MIE | MPP | MPRV)) | mie | MPIE | mprv);
        self.mode = mode;
        self.pc = self.csrs.mepc();
        self.reservation = None;
    }

    /// SRET (§3.3.2): SIE<-SPIE, SPIE<-1, mode<-SPP, SPP<-U, MPRV<-0 (the
    /// new mode is never M), pc<-sepc. The caller checked the privilege.
    pub(crate) fn sret(&mut self) {
        use csr::mstatus::{MPRV, SIE, SPIE, SPP};
        let st = self.csrs.mstatus();
        let sie = if st & SPIE != 0 { SIE } else { 0 };
        let mode = if st & SPP != 0 { PrivMode::Supervisor } else { PrivMode::User };
        self.csrs.set_mstatus((st & !(SIE | SPP | MPRV)) | sie | SPIE);
        self.mode = mode;
        self.pc = self.csrs.sepc();
        self.reservation = None;
    }
}
