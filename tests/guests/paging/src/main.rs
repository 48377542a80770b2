//! Virtual memory, checked under Sv39 and then Sv48 (privileged spec 1.12
//! §4.3-4.5): M-mode builds the page tables (`pt`) and runs loads, stores
//! and instruction fetches in S- and U-mode (`probe`), then checks what
//! happened:
//!
//! - `perms`: the R/W/X/U matrix over 4 KiB pages from S and U, SUM, MXR,
//!   MPRV from M-mode, and page faults 12/13/15 with their xtval and xepc,
//!   taken in M or, delegated through medeleg, in S;
//! - `special`: 2 MiB, 1 GiB and (Sv48) 512 GiB pages, misaligned
//!   superpages, invalid PTEs, non-canonical addresses, the A/D policy,
//!   sfence.vma by address and ASID, ASID-tagged roots, and satp's WARL
//!   MODE field;
//! - `crossing`: misaligned loads and stores across a page boundary.
//!
//! Prints one line per check, `info:` lines for what the spec leaves open
//! (the A/D policy: QEMU 7.2 updates A/D in hardware, wemu page-faults as
//! Svade) and `spec` lines for spec requirements QEMU 7.2 does not meet
//! (see rt::check); exits 0 only if every `ok`/`FAIL` check passed.

#![no_std]
#![no_main]

mod crossing;
mod perms;
mod probe;
mod pt;
mod snippet;
mod special;

use core::fmt;

use rt::lower::{self, Code, Mode, Outcome, Trap};
use rt::{check, uart};

/// CSR numbers used here.
pub mod num {
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MEDELEG: u16 = 0x302;
}

/// mstatus bits.
pub mod ms {
    pub const FS_INITIAL: u64 = 1 << 13;
    pub const MPP: u64 = 3 << 11;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
}

/// The translation mode of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sv {
    Sv39,
    Sv48,
}

impl Sv {
    pub fn name(self) -> &'static str {
        match self {
            Sv::Sv39 => "sv39",
            Sv::Sv48 => "sv48",
        }
    }
    /// satp for `root` with `asid`.
    pub fn satp(self, root: usize, asid: u64) -> u64 {
        let mode = match self {
            Sv::Sv39 => 8,
            Sv::Sv48 => 9,
        };
        (mode << 60) | (asid << 44) | (root as u64 >> 12)
    }
    /// The root of `t` for this mode (A or B).
    pub fn root(self, t: &pt::Tables, b: bool) -> usize {
        match (self, b) {
            (Sv::Sv39, false) => t.root39,
            (Sv::Sv39, true) => t.root39_b,
            (Sv::Sv48, false) => t.root48,
            (Sv::Sv48, true) => t.root48_b,
        }
    }
}

/// A load, a store or an instruction fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Load,
    Store,
    Exec,
}

impl Access {
    /// The page-fault cause of this access.
    pub fn page_fault(self) -> usize {
        match self {
            Access::Load => 13,
            Access::Store => 15,
            Access::Exec => 12,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Access::Load => "load",
            Access::Store => "store",
            Access::Exec => "exec",
        }
    }
}

/// Where an access goes: virtual address, the physical address it should
/// reach, and (for fetches) the snippet's id.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub va: usize,
    pub pa: usize,
    pub id: u32,
}

impl Target {
    /// Test page `page` (see `pt`).
    pub fn page(page: usize) -> Self {
        Target { va: pt::va(page), pa: pt::data(page), id: page as u32 }
    }
}

/// What one access did: succeeded or trapped, and whether every detail
/// was right: the value loaded, the memory stored to, the code run; or
/// for a fault the cause, xtval (the faulting address), xepc (the
/// faulting instruction), the mode it came from and the handler's mode.
/// Printed as `ok`, `PF13 in M` (page fault 13 taken in M-mode) etc.,
/// with ` (wrong details)` appended if anything else was off.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub trap: Option<Trap>,
    pub right: bool,
}

impl Seen {
    pub fn succeeded(&self) -> bool {
        self.trap.is_none()
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.trap {
            None => f.write_str("ok")?,
            Some(t) if matches!(t.cause, 12 | 13 | 15) => {
                write!(f, "PF{} in {}", t.cause, t.handler.letter())?
            }
            Some(t) => write!(f, "trap {} in {}", t.cause, t.handler.letter())?,
        }
        if !self.right {
            f.write_str(" (wrong details)")?;
        }
        Ok(())
    }
}

/// Runs `access` in `mode` on `t`; a page fault must go to `handler` with
/// xtval = the faulting address and xepc = the faulting instruction.
pub fn access(mode: Mode, access: Access, t: Target, handler: Mode) -> Seen {
    let (o, pc, tval): (Outcome, usize, usize) = match access {
        Access::Load => (probe::load(mode, t.va), probe::load_pc(mode), t.va),
        Access::Store => {
            let value = 0xabcd_0000_0000_0000 | t.pa as u64;
            let o = probe::store(mode, t.va, value);
            if o.trap.is_none() {
                let landed = pt::read64(t.pa + 8) == value;
                pt::write64(t.pa + 8, pt::magic(t.pa + 8));
                return Seen { trap: None, right: landed };
            }
            (o, probe::store_pc(mode), t.va + 8)
        }
        Access::Exec => (probe::exec(mode, t.va + 0x800), t.va + 0x800, t.va + 0x800),
    };
    let right = match o.trap {
        None => match access {
            Access::Load => o.ret as u64 == pt::magic(t.pa),
            _ => o.ret == t.va + 0x800 && o.ret2 == (t.id as usize) << 12,
        },
        Some(tr) => {
            tr.cause == access.page_fault()
                && tr.handler == handler
                && tr.from == mode
                && tr.epc == pc
                && tr.tval == tval
        }
    };
    Seen { trap: o.trap, right }
}

/// Loads from `va` in M-mode with MPRV=1 and MPP = `mpp` (and extra
/// mstatus bits `extra`, e.g. SUM): the access is translated and
/// protected as if in `mpp` (§3.1.6.3); a fault is taken in M from M.
pub fn mprv_load(mpp: Mode, extra: u64, t: Target) -> Seen {
    use rt::enc::{self, A0, A1, A2};
    let set = ms::MPRV | extra | ((mpp as u64) << 11);
    let code = Code::new()
        .i32(enc::csrrc(0, num::MSTATUS, A1))
        .i32(enc::csrrs(0, num::MSTATUS, A2))
        .i32(enc::load(3, A0, A0, 0))
        .i32(enc::csrrc(0, num::MSTATUS, A2));
    let o = lower::exec(Mode::Machine, &code, [t.va, ms::MPP as usize, set as usize, 0]);
    let load_pc = lower::code_base() + 8;
    let right = match o.trap {
        None => o.ret as u64 == pt::magic(t.pa),
        Some(tr) => {
            tr.cause == 13
                && tr.handler == Mode::Machine
                && tr.from == Mode::Machine
                && tr.epc == load_pc
                && tr.tval == t.va
        }
    };
    Seen { trap: o.trap, right }
}

/// `sfence.vma x0, x0` from M-mode: after M changed page tables.
pub fn flush() {
    let o = lower::exec(Mode::Machine, &Code::new().i32(rt::enc::sfence_vma(0, 0)), [0; 4]);
    if o.trap.is_some() {
        check!(false, "sfence.vma in M-mode");
    }
}

/// Sets the mstatus bits this program varies (SUM, MXR; FS stays on).
pub fn set_status(bits: u64) {
    lower::m_write(num::MSTATUS, ms::FS_INITIAL | bits);
}

/// Page-fault delegation (medeleg bits 12, 13, 15) on or off.
pub fn delegate_page_faults(on: bool) {
    lower::m_write(num::MEDELEG, if on { (1 << 12) | (1 << 13) | (1 << 15) } else { 0 });
}

fn run(sv: Sv) {
    let t = pt::build();
    snippet::sync();
    lower::m_write(num::SATP, sv.satp(sv.root(&t, false), 1));
    flush();
    set_status(0);
    delegate_page_faults(false);
    perms::run(sv);
    special::run(sv, &t);
    crossing::run(sv);
    lower::m_write(num::SATP, 0);
    set_status(0);
    delegate_page_faults(false);
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    lower::init();
    lower::disarm_clint_timer();
    run(Sv::Sv39);
    run(Sv::Sv48);
    special::satp_modes();
    rt::check::finish()
}
