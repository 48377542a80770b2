//! Architectural state of one hart, interrupt pins, and trap entry/exit.
//!
//! Execution lives in `exec.rs`; this file owns the state layout (which the
//! JIT will address directly, hence `repr(C)` with the hot fields first).

use crate::csr::{self, CsrCtx, Csrs};
use crate::icache::ICache;
use crate::insn::Reg;
use crate::trap::{Interrupt, TrapCause, TrapRecord};

/// Privilege level (privileged spec §1.2 encoding). Only `Machine` is
/// reachable until S/U-mode support lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PrivMode {
    User = 0,
    Supervisor = 1,
    Machine = 3,
}

/// Interrupt lines the machine drives into the hart; each is reflected
/// level-sensitively in the matching read-only `mip` bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IrqPin {
    /// MEIP, from the interrupt controller (PLIC).
    MachineExternal,
    /// MTIP, from the timer comparator (mtime >= mtimecmp).
    MachineTimer,
    /// MSIP, from the software-interrupt register (CLINT msip).
    MachineSoftware,
}

impl IrqPin {
    fn mip_bit(self) -> u64 {
        match self {
            IrqPin::MachineExternal => csr::irq::MEI,
            IrqPin::MachineTimer => csr::irq::MTI,
            IrqPin::MachineSoftware => csr::irq::MSI,
        }
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
            icache: ICache::default(),
        }
    }

    /// Forget every pre-decoded instruction. The hart does this itself on
    /// FENCE.I; the machine must call it after writing guest memory that
    /// may hold code behind the hart's back (loading an image, DMA it wants
    /// to be coherent). Without it, or a guest FENCE.I, modified code may
    /// still execute as it was when first decoded, which RISC-V allows.
    pub fn flush_icache(&mut self) {
        self.icache.flush();
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

    /// Set the value the `time` CSR reads (the machine's mtime).
    pub fn set_time(&mut self, t: u64) {
        self.csrs.set_time(t);
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

    pub(crate) fn csr_ctx(&self) -> CsrCtx {
        CsrCtx { mode: self.mode, retired: self.retired, hart_id: self.hart_id }
    }

    /// The highest-priority interrupt that is pending and enabled in
    /// `mie`, if M-mode interrupts are globally enabled (§3.1.6.1: in M-mode
    /// they are taken iff mstatus.MIE; in lower modes always).
    #[inline]
    pub(crate) fn pending_interrupt(&self) -> Option<Interrupt> {
        let pending = self.csrs.mip() & self.csrs.mie();
        if pending == 0 {
            return None;
        }
        let enabled = self.mode < PrivMode::Machine || self.csrs.mstatus() & csr::mstatus::MIE != 0;
        if !enabled {
            return None;
        }
        Interrupt::PRIORITY.into_iter().find(|i| pending & (1 << i.code()) != 0)
    }

    /// Whether WFI should wait: "regardless of the global interrupt enable",
    /// a pending-and-enabled (mie) interrupt makes WFI complete.
    #[inline]
    pub(crate) fn wfi_wake_pending(&self) -> bool {
        self.csrs.mip() & self.csrs.mie() != 0
    }

    /// Enter a trap into M-mode (privileged spec §3.1.6.1, §3.1.7, §3.1.14-16):
    /// mepc/mcause/mtval, MPIE<-MIE, MIE<-0, MPP<-mode, pc<-trap vector.
    pub(crate) fn take_trap(&mut self, rec: TrapRecord) {
        let cause = rec.cause.mcause();
        self.csrs.set_trap(rec.pc, cause, rec.tval);
        let st = self.csrs.mstatus();
        let mpie = if st & csr::mstatus::MIE != 0 { csr::mstatus::MPIE } else { 0 };
        // MPP is fixed at M while only M-mode exists; the set_mstatus mask
        // ignores the MPP bits we compose here.
        let mpp = (self.mode as u64) << csr::mstatus::MPP_SHIFT;
        self.csrs.set_mstatus((st & !(csr::mstatus::MIE | csr::mstatus::MPIE)) | mpie | mpp);
        self.mode = PrivMode::Machine;
        let interrupt = matches!(rec.cause, TrapCause::Interrupt(_));
        self.pc = self.csrs.trap_vector(interrupt, cause & !(1 << 63));
        // Spike-compatible and allowed by the A spec: a trap breaks LR/SC.
        self.reservation = None;
        if self.trap_origin.is_none() {
            self.trap_origin = Some(rec);
        }
    }

    /// MRET (§3.3.2): MIE<-MPIE, MPIE<-1, mode<-MPP, MPP<-least privileged
    /// supported mode (M here), pc<-mepc.
    pub(crate) fn mret(&mut self) {
        let st = self.csrs.mstatus();
        let mie = if st & csr::mstatus::MPIE != 0 { csr::mstatus::MIE } else { 0 };
        self.csrs.set_mstatus((st & !csr::mstatus::MIE) | mie | csr::mstatus::MPIE);
        self.mode = PrivMode::Machine;
        self.pc = self.csrs.mepc();
        self.reservation = None;
    }
}
