//! Loads and stores in translated code: the inline path into the RAM
//! window (M-mode, no translation, no PMP check) or through the hart's
//! fast TLB (under translation; see `tlb`), and the call into the
//! interpreter's access path for everything else.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::FunctionBuilder;

use super::{I32, I64, Translator};
use crate::jit::call::Call;
use crate::jit::region::Node;
use crate::tlb::{ENTRIES, FAST_SHIFT, FastEntry};

/// How a region's loads and stores reach RAM inline.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataPath {
    /// Physical and unchecked (`Hart::direct_data`): straight into the
    /// window.
    Window(crate::RamWindow),
    /// Translated: through the hart's fast TLB (`tlb::FastEntry`), which
    /// the helpers fill.
    Tlb,
    /// No RAM window: every access calls the helper.
    Helpers,
}

impl Translator<'_, '_> {
    /// Branch to `fast` with the host address when the `size`-byte access
    /// at `addr` is aligned and may go straight to RAM (inside the window,
    /// or a hit in the fast TLB), else to `slow`.
    fn ram_check(&mut self, addr: Value, size: u32, store: bool, fast: Block, slow: Block) {
        let w = match self.data {
            DataPath::Window(w) if w.len >= 8 && (w.writable || !store) => w,
            DataPath::Tlb => return self.tlb_check(addr, size, store, fast, slow),
            _ => {
                self.jump(slow, &[]);
                return;
            }
        };
        let off = self.b.ins().iadd_imm_s(addr, (w.base as i64).wrapping_neg());
        // Accesses in the window's last 7 bytes take the slow path: one
        // limit serves every size.
        let limit = w.len - 8;
        let k = size.trailing_zeros();
        if w.base.is_multiple_of(8) && limit < 1 << 60 {
            // One compare for both: rotating the offset right by log2(size)
            // moves a misaligned address's low bits to the top, beyond any
            // limit (the base is aligned, so the offset's low bits are the
            // address's).
            let r = if k > 0 { self.b.ins().rotr_imm_u(off, i64::from(k)) } else { off };
            let ok = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThanOrEqual, r, (limit >> k) as i64);
            let host = self.b.ins().iadd_imm_s(off, w.host as i64);
            self.brif(ok, fast, &[host.into()], slow, &[]);
            return;
        }
        let inside = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThanOrEqual, off, limit as i64);
        let ok = if size > 1 {
            let low = self.b.ins().band_imm_s(addr, i64::from(size - 1));
            let aligned = self.b.ins().icmp_imm_s(IntCC::Equal, low, 0);
            self.b.ins().band(inside, aligned)
        } else {
            inside
        };
        let host = self.b.ins().iadd_imm_s(off, w.host as i64);
        self.brif(ok, fast, &[host.into()], slow, &[]);
    }

    /// `ram_check` through the fast TLB: the entry of `addr`'s page slot
    /// holds its page address as the load or store tag when the access
    /// may go to `addr + addend`. The mask keeps the alignment bits, so a
    /// misaligned address never matches.
    fn tlb_check(&mut self, addr: Value, size: u32, store: bool, fast: Block, slow: Block) {
        let Some(table) = self.fast else {
            self.jump(slow, &[]);
            return;
        };
        let page = self.b.ins().ushr_imm_u(addr, 12);
        let slot = self.b.ins().band_imm_s(page, (ENTRIES - 1) as i64);
        let at = self.b.ins().ishl_imm_u(slot, i64::from(FAST_SHIFT));
        let entry = self.b.ins().iadd(table, at);
        let tag_at = if store { offset_of!(FastEntry, write) } else { offset_of!(FastEntry, read) };
        // SAFETY of the generated loads: `entry` is inside the hart's fast
        // table (`ENTRIES` entries of `1 << FAST_SHIFT` bytes), which lives
        // as long as the hart.
        let tag = self.b.ins().load(I64, MemFlagsData::trusted(), entry, tag_at as i32);
        let addend =
            self.b.ins().load(I64, MemFlagsData::trusted(), entry, offset_of!(FastEntry, addend) as i32);
        let masked = self.b.ins().band_imm_s(addr, !0xfff | i64::from(size - 1));
        let hit = self.b.ins().icmp(IntCC::Equal, masked, tag);
        let host = self.b.ins().iadd(addr, addend);
        self.brif(hit, fast, &[host.into()], slow, &[]);
    }

    pub(super) fn load(&mut self, node: &Node, size: u32, signed: Option<Type>) {
        let e = node.e;
        let base = self.get(e.rs1);
        let addr = self.b.ins().iadd_imm_s(base, i64::from(e.imm));
        let narrow = match size {
            1 => types::I8,
            2 => types::I16,
            4 => types::I32,
            _ => I64,
        };
        let extend = |b: &mut FunctionBuilder, v: Value| -> Value {
            // `v` is zero-extended to 64 bits.
            match signed {
                Some(ty) => {
                    let n = b.ins().ireduce(ty, v);
                    b.ins().sextend(I64, n)
                }
                None => v,
            }
        };
        let (fast, slow, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.append_block_param(fast, I64);
        self.b.append_block_param(join, I64);
        self.ram_check(addr, size, false, fast, slow);

        self.b.switch_to_block(fast);
        let host = self.b.block_params(fast)[0];
        // SAFETY of the generated access: `ram_check` proved the 8 bytes
        // at `host` inside the window's live mapping.
        let raw = self.b.ins().load(narrow, MemFlagsData::trusted(), host, 0);
        let v = if size == 8 { raw } else { self.b.ins().uextend(I64, raw) };
        let v = extend(self.b, v);
        self.jump(join, &[v.into()]);

        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let f = self.b.ins().iconst(I64, self.stubs.0 as i64);
        let s = self.b.import_signature(super::stub_signature(false));
        let pc = self.pc_of(node.off);
        let size_v = self.b.ins().iconst(I32, i64::from(size));
        let raw = self.b.ins().iconst(I32, i64::from(e.raw as i32));
        self.b.ins().call_indirect(s, f, &[self.hart, self.call, pc, addr, size_v, raw]);
        let v = self.b.ins().load(I64, MemFlagsData::trusted(), self.call, offset_of!(Call, value) as i32);
        let v = extend(self.b, v);
        let n_before = self.n_now();
        self.after_helper(node, n_before, Some(v), join, &[v]);

        self.b.switch_to_block(join);
        let v = self.b.block_params(join)[0];
        self.set(e.rd, v);
        self.retire();
        self.goto_seq(node);
    }

    pub(super) fn store(&mut self, node: &Node, size: u32) {
        let e = node.e;
        let base = self.get(e.rs1);
        let addr = self.b.ins().iadd_imm_s(base, i64::from(e.imm));
        let value = self.get(e.rs2);
        let (fast, slow, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.append_block_param(fast, I64);
        self.ram_check(addr, size, true, fast, slow);

        self.b.switch_to_block(fast);
        let host = self.b.block_params(fast)[0];
        let narrow = match size {
            1 => Some(types::I8),
            2 => Some(types::I16),
            4 => Some(types::I32),
            _ => None,
        };
        let v = match narrow {
            Some(ty) => self.b.ins().ireduce(ty, value),
            None => value,
        };
        // As for loads: inside the window (writable), aligned.
        self.b.ins().store(MemFlagsData::trusted(), v, host, 0);
        self.jump(join, &[]);

        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let f = self.b.ins().iconst(I64, self.stubs.1 as i64);
        let s = self.b.import_signature(super::stub_signature(true));
        let pc = self.pc_of(node.off);
        let size_v = self.b.ins().iconst(I32, i64::from(size));
        let raw = self.b.ins().iconst(I32, i64::from(e.raw as i32));
        self.b.ins().call_indirect(s, f, &[self.hart, self.call, pc, addr, size_v, raw, value]);
        let n_before = self.n_now();
        self.after_helper(node, n_before, None, join, &[]);

        self.b.switch_to_block(join);
        self.retire();
        self.goto_seq(node);
    }
}
