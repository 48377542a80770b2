//! How translated code leaves a region: the shared exit (registers back,
//! the call record filled in, then chaining into the next region, the
//! indirect-jump cache, or a return to the run loop), and what follows a
//! helper call (its status decides: go on, or leave through one cold exit
//! per region).

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, Value};

use super::{I32, I64, REGION_CONV, Translator, flags, region_signature};
use crate::jit::call::{Call, exit, status};
use crate::jit::region::Node;
use crate::tlb::{ENTRIES, FAST_SHIFT, FastEntry};

impl Translator<'_, '_> {
    /// Leave the region: registers back, `n` and `pc` into the call
    /// record, return `code`. Ends the current block.
    pub(super) fn exit_with(&mut self, pc: Value, code: u32) {
        self.exit_linked(pc, code, 0);
    }

    /// `exit_with`, through link slot `slot` (an address, or 0 for none).
    pub(super) fn exit_linked(&mut self, pc: Value, code: u32, slot: u64) {
        self.exit_full(pc, code, slot, false);
    }

    /// `exit_with` a computed exit code.
    pub(super) fn exit_code(&mut self, pc: Value, code: Value) {
        let slot = self.b.ins().iconst(I64, 0);
        let ind = self.b.ins().iconst(I64, 0);
        self.jump(self.exit, &[pc.into(), code.into(), slot.into(), ind.into()]);
    }

    /// The shared exit with every parameter: `ind` for an indirect jump
    /// that may go on through the indirect-jump cache.
    pub(super) fn exit_full(&mut self, pc: Value, code: u32, slot: u64, ind: bool) {
        // One shared exit: the guest registers reach it as SSA values
        // (block parameters the frontend adds), so each exit site costs a
        // jump, not a store per register.
        let code = self.b.ins().iconst(I32, i64::from(code));
        let slot = self.b.ins().iconst(I64, slot as i64);
        let ind = self.b.ins().iconst(I64, i64::from(ind && self.ind.is_some()));
        self.jump(self.exit, &[pc.into(), code.into(), slot.into(), ind.into()]);
    }

    /// The shared exit block: registers back, `n` and `pc` into the call
    /// record, return the code.
    pub(super) fn emit_exit(&mut self) {
        self.b.switch_to_block(self.exit);
        let pc = self.b.block_params(self.exit)[0];
        let code = self.b.block_params(self.exit)[1];
        let slot = self.b.block_params(self.exit)[2];
        let ind = self.b.block_params(self.exit)[3];
        self.write_back();
        let n = self.n_now();
        self.b.ins().store(flags(), n, self.call, offset_of!(Call, retired) as i32);
        self.b.ins().store(flags(), pc, self.call, offset_of!(Call, pc) as i32);
        self.b.ins().store(flags(), slot, self.call, offset_of!(Call, slot) as i32);
        self.b.ins().store(flags(), ind, self.call, offset_of!(Call, ind) as i32);
        // A linked exit whose slot holds the next region: go straight on
        // into it (it checks the budget itself, and loads the registers
        // just written back).
        let s = self.b.import_signature(region_signature(REGION_CONV));
        let (linked, chain, not_linked, ret) =
            (self.b.create_block(), self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.brif(slot, linked, &[], not_linked, &[]);
        self.b.switch_to_block(linked);
        let next = self.b.ins().load(I64, flags(), slot, 0);
        self.brif(next, chain, &[next.into()], ret, &[]);
        self.b.append_block_param(chain, I64);
        self.b.switch_to_block(chain);
        let f = self.b.block_params(chain)[0];
        self.b.ins().return_call_indirect(s, f, &[self.hart, self.call]);
        // An indirect jump: the cache entry for its target, if it is the
        // target's and was made under the current instruction cache.
        self.b.switch_to_block(not_linked);
        match self.ind {
            Some(table) => {
                let (probe, hit) = (self.b.create_block(), self.b.create_block());
                self.brif(ind, probe, &[], ret, &[]);
                self.b.switch_to_block(probe);
                let idx = self.b.ins().ushr_imm_s(pc, 1);
                let idx = self.b.ins().band_imm_s(idx, (crate::jit::IND_ENTRIES - 1) as i64);
                let off = self.b.ins().imul_imm_s(idx, std::mem::size_of::<crate::jit::IndEntry>() as i64);
                let entry = self.b.ins().iadd_imm_s(off, table as i64);
                let tag = self.b.ins().load(I64, flags(), entry, offset_of!(crate::jit::IndEntry, pc) as i32);
                let same_pc = self.b.ins().icmp(IntCC::Equal, tag, pc);
                let epoch_ptr = self.b.ins().load(I64, flags(), self.call, offset_of!(Call, epoch) as i32);
                let epoch = self.b.ins().load(I64, flags(), epoch_ptr, 0);
                let filled =
                    self.b.ins().load(I64, flags(), entry, offset_of!(crate::jit::IndEntry, epoch) as i32);
                let same_epoch = self.b.ins().icmp(IntCC::Equal, epoch, filled);
                let mut ok = self.b.ins().band(same_pc, same_epoch);
                if let Some(fast) = self.fast {
                    // Cached by virtual pc: only while the pc's page is
                    // still mapped for fetching as it was (`FastEntry::exec`).
                    let slot = self.b.ins().ushr_imm_s(pc, 12);
                    let slot = self.b.ins().band_imm_s(slot, (ENTRIES - 1) as i64);
                    let at = self.b.ins().ishl_imm_u(slot, i64::from(FAST_SHIFT));
                    let fe = self.b.ins().iadd(fast, at);
                    let exec = self.b.ins().load(I64, flags(), fe, offset_of!(FastEntry, exec) as i32);
                    let page = self.b.ins().band_imm_s(pc, !((1i64 << crate::icache::PAGE_SHIFT) - 1));
                    let mapped = self.b.ins().icmp(IntCC::Equal, exec, page);
                    ok = self.b.ins().band(ok, mapped);
                }
                self.brif(ok, hit, &[], ret, &[]);
                self.b.switch_to_block(hit);
                // The target may be in another page: its pcs are its page's.
                let vbase = self.b.ins().band_imm_s(pc, !((1i64 << crate::icache::PAGE_SHIFT) - 1));
                self.b.ins().store(flags(), vbase, self.call, offset_of!(Call, vbase) as i32);
                let f = self.b.ins().load(I64, flags(), entry, offset_of!(crate::jit::IndEntry, func) as i32);
                self.jump(chain, &[f.into()]);
            }
            None => {
                self.jump(ret, &[]);
            }
        }
        self.b.switch_to_block(ret);
        self.b.ins().return_(&[code]);
    }

    /// Load a helper pointer from the call record.
    pub(super) fn helper(&mut self, offset: usize) -> Value {
        self.b.ins().load(I64, flags(), self.call, offset as i32)
    }

    /// After a helper: on `status::OK` jump to `ok` with `ok_args`; on
    /// `YIELD` exit after the instruction (first setting `yield_rd`, a
    /// load's result), on `FAULT` (and `SLOW`) exit at it, with `n` as
    /// before it.
    pub(super) fn after_helper(
        &mut self,
        node: &Node,
        n_before: Value,
        yield_rd: Option<Value>,
        ok: Block,
        ok_args: &[Value],
    ) {
        let st = self.b.ins().load(I32, flags(), self.call, offset_of!(Call, status) as i32);
        let not_ok = self.b.create_block();
        self.b.set_cold_block(not_ok);
        let args: Vec<_> = ok_args.iter().map(|&v| v.into()).collect();
        self.brif(st, not_ok, &[], ok, &args);

        // One exit for every other status, computed rather than branched
        // on (fewer blocks and exits to compile): YIELD exits after the
        // instruction, which completed (a load's result in rd); FAULT and
        // SLOW exit at it, which did not retire and wrote nothing.
        self.b.switch_to_block(not_ok);
        if let Some(v) = yield_rd {
            let yielded = self.b.ins().icmp_imm_s(IntCC::Equal, st, i64::from(status::YIELD));
            let old = self.get(node.e.rd);
            let rd = self.b.ins().select(yielded, v, old);
            self.set(node.e.rd, rd);
        }
        self.b.def_var(self.n, n_before);
        let pc = self.pc_of(node.off);
        let len = self.b.ins().iconst(I64, i64::from(node.e.len));
        let to = self.helper_exit();
        self.jump(to, &[st.into(), pc.into(), len.into()]);
    }

    /// The block every helper's non-OK status goes to, with the status,
    /// the instruction's pc and length: one per region, so each call site
    /// costs a jump.
    pub(super) fn helper_exit(&mut self) -> Block {
        if let Some(b) = self.helper_exit {
            return b;
        }
        let b = self.b.create_block();
        self.b.set_cold_block(b);
        self.b.append_block_param(b, I32);
        self.b.append_block_param(b, I64);
        self.b.append_block_param(b, I64);
        self.helper_exit = Some(b);
        b
    }

    /// The helper exit's code: YIELD exits after the instruction (it
    /// completed; a load's result is already in rd), FAULT and SLOW at it
    /// (it did not retire and wrote nothing).
    pub(super) fn emit_helper_exit(&mut self) {
        let Some(blk) = self.helper_exit else { return };
        self.b.switch_to_block(blk);
        let (st, pc, len) =
            (self.b.block_params(blk)[0], self.b.block_params(blk)[1], self.b.block_params(blk)[2]);
        let yielded = self.b.ins().icmp_imm_s(IntCC::Equal, st, i64::from(status::YIELD));
        let one = self.b.ins().uextend(I64, yielded);
        let n = self.n_now();
        let n = self.b.ins().iadd(n, one);
        self.b.def_var(self.n, n);
        let len = self.b.ins().imul(one, len);
        let pc = self.b.ins().iadd(pc, len);
        // YIELD -> exit::YIELD, FAULT -> exit::FAULT, SLOW -> exit::NEXT.
        let slow = self.b.ins().icmp_imm_s(IntCC::Equal, st, i64::from(status::SLOW));
        let next = self.b.ins().iconst(I32, i64::from(exit::NEXT));
        let code = self.b.ins().select(slow, next, st);
        self.exit_code(pc, code);
    }
}
