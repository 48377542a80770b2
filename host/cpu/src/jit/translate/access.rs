//! Loads and stores in translated code: the inline path into the RAM
//! window (M-mode, no translation, no PMP check) and the call into the
//! interpreter's access path for everything else.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::FunctionBuilder;

use super::{I32, I64, Translator, sig};
use crate::jit::call::Call;
use crate::jit::region::Node;

impl Translator<'_, '_> {
    /// With a RAM window: branch to `fast` with the host address when the
    /// `size`-byte access at `addr` is aligned and inside the window, else
    /// to `slow`. Without one: jump to `slow`.
    fn ram_check(&mut self, addr: Value, size: u32, store: bool, fast: Block, slow: Block) {
        let w = match self.window {
            Some(w) if w.len >= 8 && (w.writable || !store) => w,
            _ => {
                self.b.ins().jump(slow, &[]);
                return;
            }
        };
        let off = self.b.ins().iadd_imm_s(addr, (w.base as i64).wrapping_neg());
        // Accesses in the window's last 7 bytes take the slow path: one
        // limit serves every size.
        let inside = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThanOrEqual, off, (w.len - 8) as i64);
        let ok = if size > 1 {
            let low = self.b.ins().band_imm_s(addr, i64::from(size - 1));
            let aligned = self.b.ins().icmp_imm_s(IntCC::Equal, low, 0);
            self.b.ins().band(inside, aligned)
        } else {
            inside
        };
        let host = self.b.ins().iadd_imm_s(off, w.host as i64);
        self.b.ins().brif(ok, fast, &[host.into()], slow, &[]);
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
        self.b.ins().jump(join, &[v.into()]);

        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let f = self.helper(offset_of!(Call, load));
        let s = self.b.import_signature(sig(self.call_conv, &[I64, I64, I64, I64, I32, I32], Some(I64)));
        let pc = self.pc_of(node.off);
        let size_v = self.b.ins().iconst(I32, i64::from(size));
        let raw = self.b.ins().iconst(I32, i64::from(e.raw as i32));
        let inst = self.b.ins().call_indirect(s, f, &[self.hart, self.call, pc, addr, size_v, raw]);
        let v = self.b.inst_results(inst)[0];
        let v = extend(self.b, v);
        let n_before = self.b.use_var(self.n);
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
        self.b.ins().jump(join, &[]);

        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let f = self.helper(offset_of!(Call, store));
        let s = self.b.import_signature(sig(self.call_conv, &[I64, I64, I64, I64, I32, I32, I64], None));
        let pc = self.pc_of(node.off);
        let size_v = self.b.ins().iconst(I32, i64::from(size));
        let raw = self.b.ins().iconst(I32, i64::from(e.raw as i32));
        self.b.ins().call_indirect(s, f, &[self.hart, self.call, pc, addr, size_v, raw, value]);
        let n_before = self.b.use_var(self.n);
        self.after_helper(node, n_before, None, join, &[]);

        self.b.switch_to_block(join);
        self.retire();
        self.goto_seq(node);
    }
}
