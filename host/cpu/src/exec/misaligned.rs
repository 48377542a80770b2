//! Misaligned loads and stores (Zicclsm): completed in hardware unless the
//! hart is set to trap them ([`crate::Misaligned::Trap`]).
//!
//! Every access checks its alignment first, as it always did, and raises
//! address-misaligned; under [`crate::Misaligned::Emulate`], `Hart::fault` hands
//! that fault of a plain load or store (integer or FP, compressed or not)
//! to `complete_misaligned`, which carries the instruction out and retires
//! it. So the interpreter's hot paths are untouched, and so is what a
//! misaligned AMO or LR/SC does: raise the exception.
//!
//! The rules (docs/architecture.md, "Misaligned accesses"), matching
//! QEMU 7.2's softmmu (`load_helper`, `store_helper_unaligned`) where it
//! defines them:
//!
//! - The access is split at the page boundary into at most two parts, and
//!   each part is translated and checked (PMP over its own bytes) on its
//!   own, the first first. A fault in the first part reports tval = the
//!   access's address; one in the second part tval = the first byte of
//!   the second page: "the virtual address of the portion of the access
//!   that caused the fault" (privileged spec §3.1.16), which is also what
//!   QEMU reports.
//! - Then the memory says what backs each part's physical bytes
//!   ([`Memory::range_kind`]). In main memory the access is carried out a
//!   byte at a time. A device register anywhere in it raises the
//!   address-misaligned exception (tval = the address), as every
//!   misaligned access did before, so devices only ever see naturally
//!   aligned accesses (QEMU instead makes two aligned device accesses
//!   that cover it). A byte backed by nothing is an access fault at its
//!   part's address, as on QEMU, and so is a store reaching ROM.
//! - All of that is decided before the first byte is read or written, so
//!   a store that faults writes nothing.

use super::{ExecResult, Fault, mem_fault, sext, sign_extend};
use crate::decode::decode;
use crate::fpu;
use crate::hart::Hart;
use crate::insn::{FpFmt, Insn, Width};
use crate::pmp::cfg;
use crate::trap::{Access, Exception};
use crate::{Memory, RangeKind};

/// One page's share of a misaligned access: `len` bytes from virtual
/// `va`, physical `pa`.
#[derive(Debug, Clone, Copy)]
struct Part {
    va: u64,
    pa: u64,
    len: u8,
}

/// What a misaligned `access` raises: (address misaligned, access fault),
/// and the PMP permission it needs.
fn causes(access: Access) -> (Exception, Exception, u8) {
    match access {
        Access::Store => (Exception::StoreAddressMisaligned, Exception::StoreAccessFault, cfg::W),
        _ => (Exception::LoadAddressMisaligned, Exception::LoadAccessFault, cfg::R),
    }
}

impl Hart {
    /// Complete the instruction `raw` at the pc, which raised
    /// address-misaligned, if it is a plain load or store: `Some(Ok)` when
    /// it retired (pc and instret advanced), `Some(Err)` with the fault it
    /// raises instead, `None` for an instruction never split (AMO, LR/SC).
    #[cold]
    #[inline(never)]
    pub(super) fn complete_misaligned<M: Memory>(&mut self, mem: &mut M, raw: u32) -> Option<ExecResult<()>> {
        let d = decode(raw);
        let pc = self.pc;
        let done = match d.insn {
            Insn::Load { width, signed, rd, rs1, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                self.load_misaligned(mem, pc, addr, width)
                    .map(|v| self.set_reg(rd, if signed { sign_extend(v, width) } else { v }))
            }
            Insn::Store { width, rs1, rs2, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                self.store_misaligned(mem, pc, addr, width, self.reg(rs2))
            }
            // FS is on: with FS=Off the instruction was illegal first.
            Insn::FLoad { fmt, rd, rs1, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                let width = if fmt == FpFmt::S { Width::W } else { Width::D };
                self.load_misaligned(mem, pc, addr, width).map(|v| {
                    self.set_freg(rd, if fmt == FpFmt::S { fpu::box_s(v as u32) } else { v });
                })
            }
            Insn::FStore { fmt, rs1, rs2, imm } => {
                let addr = self.reg(rs1).wrapping_add(sext(imm));
                let width = if fmt == FpFmt::S { Width::W } else { Width::D };
                self.store_misaligned(mem, pc, addr, width, self.freg(rs2))
            }
            _ => return None,
        };
        Some(done.map(|()| {
            self.pc = pc.wrapping_add(u64::from(d.len));
            self.retired = self.retired.wrapping_add(1);
            self.trap_origin = None;
        }))
    }

    /// A load whose address is not a multiple of its width.
    fn load_misaligned<M: Memory>(&mut self, mem: &mut M, pc: u64, va: u64, width: Width) -> ExecResult<u64> {
        let parts = self.misaligned_parts(mem, pc, va, width, Access::Load)?;
        let at = self.access_at(pc);
        let (mut v, mut shift) = (0u64, 0u32);
        for p in parts.iter().flatten() {
            for i in 0..u64::from(p.len) {
                let (bva, bpa) = (p.va.wrapping_add(i), p.pa.wrapping_add(i));
                let b = mem
                    .load(at, bpa, 1)
                    .map_err(|e| mem_fault(e, Exception::LoadAccessFault, Access::Load, bva, bpa))?;
                v |= (b & 0xff) << shift;
                shift += 8;
            }
        }
        Ok(v)
    }

    /// A store whose address is not a multiple of its width.
    fn store_misaligned<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        va: u64,
        width: Width,
        v: u64,
    ) -> ExecResult<()> {
        let parts = self.misaligned_parts(mem, pc, va, width, Access::Store)?;
        let at = self.access_at(pc);
        let mut shift = 0u32;
        for p in parts.iter().flatten() {
            for i in 0..u64::from(p.len) {
                let (bva, bpa) = (p.va.wrapping_add(i), p.pa.wrapping_add(i));
                mem.store(at, bpa, 1, (v >> shift) & 0xff)
                    .map_err(|e| mem_fault(e, Exception::StoreAccessFault, Access::Store, bva, bpa))?;
                shift += 8;
            }
        }
        Ok(())
    }

    /// The parts of a misaligned access of `width` at `va`, translated and
    /// checked, or the fault it raises (see the module documentation).
    fn misaligned_parts<M: Memory>(
        &mut self,
        mem: &mut M,
        pc: u64,
        va: u64,
        width: Width,
        access: Access,
    ) -> ExecResult<[Option<Part>; 2]> {
        let (misaligned, access_fault, need) = causes(access);
        let size = width.bytes();
        // Bytes up to the end of the first page (at least 1, at most 4096).
        let in_first = (0x1000 - (va & 0xfff)).min(u64::from(size)) as u8;
        let at = self.access_at(pc);
        let mut parts = [None; 2];
        let mut part_va = va;
        for (slot, len) in parts.iter_mut().zip([in_first, size - in_first]) {
            if len == 0 {
                break;
            }
            let pa = self.xlate(mem, at, part_va, access, len, need)?;
            *slot = Some(Part { va: part_va, pa, len });
            part_va = part_va.wrapping_add(u64::from(len));
        }
        let backing = parts.map(|p| p.map(|p| (p, mem.range_kind(p.pa, u64::from(p.len)))));
        if backing.iter().flatten().any(|(_, b)| *b == RangeKind::Device) {
            return Err(Fault::Exc(misaligned, va));
        }
        for (p, b) in backing.iter().flatten() {
            match b {
                RangeKind::Memory { writable } if *writable || access == Access::Load => {}
                _ => return Err(Fault::Exc(access_fault, p.va)),
            }
        }
        Ok(parts)
    }
}
