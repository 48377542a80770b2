//! Translation of a [`Region`] to Cranelift IR.
//!
//! The function is `extern "C" fn(hart: *mut Hart, call: *mut Call) -> u32`
//! (an `exit::*` code). Guest registers the region uses are Cranelift
//! variables: loaded from the hart at entry, written back (those the
//! region writes) at every exit and before a helper that reads them
//! (`Op::General`), reloaded after one that may write them. Each guest
//! instruction is a block; `n`, the instructions retired in this call, is a
//! variable too, so loops inside the region count exactly. Loads and
//! stores call the interpreter's own paths through `Call`'s helpers; their
//! failure and yield paths are cold blocks that leave the exact state the
//! interpreter would (pc of the faulting instruction, instret without it).

use std::collections::{BTreeMap, BTreeSet};
use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, Signature, Type, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};

mod access;

pub(crate) use access::DataPath;

use super::call::{Call, DivKind, exit, status};
use super::region::{Node, Region, Succ};
use crate::hart::Hart;
use crate::uop::Op;

const I64: Type = types::I64;
const I32: Type = types::I32;

/// Regions use the tail-call convention, so one can end by jumping into
/// the next (`return_call_indirect`); Rust enters them through a
/// trampoline in the host's C convention (`trampoline`).
pub(crate) const REGION_CONV: CallConv = CallConv::Tail;

/// The trampoline: `extern "C" fn(hart, call, region) -> exit code`.
pub(crate) fn trampoline(b: &mut FunctionBuilder) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let s = b.import_signature(region_signature(REGION_CONV));
    let inst = b.ins().call_indirect(s, p[2], &[p[0], p[1]]);
    let code = b.inst_results(inst)[0];
    b.ins().return_(&[code]);
    b.seal_all_blocks();
}

/// The preserve-all stub's signature: (hart, call, pc, addr, size, raw)
/// and, for a store, the value; nothing returned.
pub(crate) fn stub_signature(store: bool) -> Signature {
    let mut s = Signature::new(CallConv::PreserveAll);
    let params: &[Type] =
        if store { &[I64, I64, I64, I64, I32, I32, I64] } else { &[I64, I64, I64, I64, I32, I32] };
    s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    s
}

/// A stub: call `Call::load` (putting its value in `Call::value`) or
/// `Call::store` in the host's C convention.
pub(crate) fn stub(b: &mut FunctionBuilder, host: CallConv, store: bool) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let call = p[1];
    let at = if store { offset_of!(Call, store) } else { offset_of!(Call, load) };
    let f = b.ins().load(I64, flags(), call, at as i32);
    if store {
        let s = b.import_signature(sig(host, &[I64, I64, I64, I64, I32, I32, I64], None));
        b.ins().call_indirect(s, f, &p);
    } else {
        let s = b.import_signature(sig(host, &[I64, I64, I64, I64, I32, I32], Some(I64)));
        let inst = b.ins().call_indirect(s, f, &p);
        let v = b.inst_results(inst)[0];
        b.ins().store(flags(), v, call, offset_of!(Call, value) as i32);
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
}

pub(crate) fn trampoline_signature(call_conv: CallConv) -> Signature {
    let mut s = region_signature(call_conv);
    s.params.push(AbiParam::new(I64));
    s
}

pub(crate) fn region_signature(call_conv: CallConv) -> Signature {
    let mut s = Signature::new(call_conv);
    s.params.push(AbiParam::new(I64));
    s.params.push(AbiParam::new(I64));
    s.returns.push(AbiParam::new(I32));
    s
}

fn sig(call_conv: CallConv, params: &[Type], ret: Option<Type>) -> Signature {
    let mut s = Signature::new(call_conv);
    s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    s.returns.extend(ret.map(AbiParam::new));
    s
}

/// Registers an entry reads and writes (x0 never: it reads as 0).
fn regs_of(op: Op, rd: u8, rs1: u8, rs2: u8) -> (Vec<u8>, Option<u8>) {
    let f = op.facts();
    let reads = [(f.reads_rs1, rs1), (f.reads_rs2, rs2)];
    let reads = reads.into_iter().filter(|&(r, n)| r && n & 31 != 0).map(|(_, n)| n & 31).collect();
    (reads, f.writes_rd.then_some(rd & 31).filter(|&r| r != 0))
}

/// Builds one region's function.
pub(crate) struct Translator<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    call_conv: CallConv,
    hart: Value,
    call: Value,
    budget: Value,
    vbase: Value,
    x: [Option<Variable>; 32],
    n: Variable,
    /// Registers the region writes: written back at exits.
    written: Vec<u8>,
    /// Registers the region uses: loaded at entry, reloaded after a general
    /// helper.
    used: Vec<u8>,
    blocks: BTreeMap<u16, Block>,
    /// Instructions emitted in their predecessor's block (it falls
    /// through to them, and nothing else leads there).
    falls_in: BTreeSet<u16>,
    /// How loads and stores reach RAM.
    data: DataPath,
    /// With `DataPath::Tlb`: the address of the hart's fast TLB.
    fast: Option<Value>,
    /// Where every exit goes (`exit_with`), with the pc, exit code and
    /// link slot address.
    exit: Block,
    /// Address of the region's link slots, one per fixed target outside
    /// it in its page (`links`).
    slots: u64,
    links: Vec<u16>,
    /// The indirect-jump cache (`IndirectCache`), with direct data
    /// accesses (physical pcs); `None` under translation.
    ind: Option<u64>,
    /// `helper_exit`'s block, once made.
    helper_exit: Option<Block>,
    /// Instructions retired since `n` was last updated: added to it only
    /// where it is read or control leaves the block (`settle`), so
    /// straight-line code pays one add, not one per instruction.
    pending: i64,
    /// The load and store stubs' addresses (`compiler::Glue`).
    stubs: (u64, u64),
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl<'a, 'b> Translator<'a, 'b> {
    /// Emit the whole function into `b` (fresh, with the region signature).
    pub(crate) fn translate(
        b: &'a mut FunctionBuilder<'b>,
        region: &'a Region,
        call_conv: CallConv,
        data: DataPath,
        (slots, links): (u64, Vec<u16>),
        ind: Option<u64>,
        stubs: (u64, u64),
    ) {
        let mut used = BTreeSet::new();
        let mut written = BTreeSet::new();
        let mut general = false;
        for n in region.nodes.values() {
            let (r, w) = regs_of(n.e.op, n.e.rd, n.e.rs1, n.e.rs2);
            used.extend(r);
            if let Some(w) = w {
                used.insert(w);
                written.insert(w);
            }
            general |= n.e.op == Op::General;
        }
        if general {
            // A general instruction may write any x register (its rd is in
            // its bits): treat them all as used and written.
            used.extend(1..32);
            written.extend(1..32);
        }
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let (hart, call) = (params[0], params[1]);
        let budget = b.ins().load(I64, flags(), call, offset_of!(Call, budget) as i32);
        let vbase = b.ins().load(I64, flags(), call, offset_of!(Call, vbase) as i32);
        let fast = matches!(data, DataPath::Tlb)
            .then(|| b.ins().load(I64, flags(), hart, offset_of!(Hart, tlb.fast) as i32));
        let mut x = [None; 32];
        for &r in &used {
            x[usize::from(r)] = Some(b.declare_var(I64));
        }
        let n = b.declare_var(I64);
        // An instruction reached only by falling through from the one
        // just before it continues that one's block: fewer blocks for the
        // register allocator.
        let mut preds: BTreeMap<u16, u32> = BTreeMap::new();
        *preds.entry(region.head).or_default() += 1;
        for n in region.nodes.values() {
            for s in [n.seq, n.target] {
                if let Succ::In(off) = s {
                    *preds.entry(off).or_default() += 1;
                }
            }
        }
        let mut falls_in = BTreeSet::new();
        let mut order = region.nodes.values().peekable();
        while let Some(n) = order.next() {
            if let (Succ::In(next), Some(after)) = (n.seq, order.peek())
                && after.off == next
                && !after.check
                && preds.get(&next) == Some(&1)
            {
                falls_in.insert(next);
            }
        }
        let blocks = region
            .nodes
            .keys()
            .filter(|off| !falls_in.contains(off))
            .map(|&off| (off, b.create_block()))
            .collect();
        let exit = b.create_block();
        b.append_block_param(exit, I64);
        b.append_block_param(exit, I32);
        b.append_block_param(exit, I64);
        b.append_block_param(exit, I64);
        let mut t = Translator {
            b,
            call_conv,
            hart,
            call,
            budget,
            vbase,
            x,
            n,
            written: written.into_iter().collect(),
            used: used.into_iter().collect(),
            blocks,
            falls_in,
            data,
            fast,
            exit,
            slots,
            links,
            ind,
            helper_exit: None,
            pending: 0,
            stubs,
        };
        t.reload_all();
        // Regions chained to this one retired some already.
        let n0 = t.b.ins().load(I64, flags(), call, offset_of!(Call, retired) as i32);
        t.b.def_var(n, n0);
        // The head's budget check (a loop head checks in its own block).
        let head = &region.nodes[&region.head];
        if head.check {
            t.jump(t.blocks[&region.head], &[]);
        } else {
            t.budget_check(head);
        }
        for node in region.nodes.values() {
            t.node(node);
        }
        t.emit_helper_exit();
        t.emit_exit();
        t.b.seal_all_blocks();
    }

    fn reg_offset(r: u8) -> i32 {
        (offset_of!(Hart, x) + 8 * usize::from(r)) as i32
    }

    fn reload_all(&mut self) {
        for &r in &self.used {
            let v = self.b.ins().load(I64, flags(), self.hart, Self::reg_offset(r));
            if let Some(var) = self.x[usize::from(r)] {
                self.b.def_var(var, v);
            }
        }
    }

    fn write_back(&mut self) {
        for i in 0..self.written.len() {
            let r = self.written[i];
            if let Some(var) = self.x[usize::from(r)] {
                let v = self.b.use_var(var);
                self.b.ins().store(flags(), v, self.hart, Self::reg_offset(r));
            }
        }
    }

    fn get(&mut self, r: u8) -> Value {
        match self.x[usize::from(r & 31)] {
            Some(var) if r & 31 != 0 => self.b.use_var(var),
            _ => self.b.ins().iconst(I64, 0),
        }
    }

    fn set(&mut self, r: u8, v: Value) {
        if let Some(var) = self.x[usize::from(r & 31)]
            && r & 31 != 0
        {
            self.b.def_var(var, v);
        }
    }

    /// The virtual address of page offset `off`.
    fn pc_of(&mut self, off: u16) -> Value {
        self.b.ins().iadd_imm_s(self.vbase, i64::from(off))
    }

    /// Leave the region: registers back, `n` and `pc` into the call
    /// record, return `code`. Ends the current block.
    fn exit_with(&mut self, pc: Value, code: u32) {
        self.exit_linked(pc, code, 0);
    }

    /// `exit_with`, through link slot `slot` (an address, or 0 for none).
    fn exit_linked(&mut self, pc: Value, code: u32, slot: u64) {
        self.exit_full(pc, code, slot, false);
    }

    /// `exit_with` a computed exit code.
    fn exit_code(&mut self, pc: Value, code: Value) {
        let slot = self.b.ins().iconst(I64, 0);
        let ind = self.b.ins().iconst(I64, 0);
        self.jump(self.exit, &[pc.into(), code.into(), slot.into(), ind.into()]);
    }

    /// The shared exit with every parameter: `ind` for an indirect jump
    /// that may go on through the indirect-jump cache.
    fn exit_full(&mut self, pc: Value, code: u32, slot: u64, ind: bool) {
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
    fn emit_exit(&mut self) {
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
                let idx = self.b.ins().band_imm_s(idx, (super::IND_ENTRIES - 1) as i64);
                let off = self.b.ins().imul_imm_s(idx, std::mem::size_of::<super::IndEntry>() as i64);
                let entry = self.b.ins().iadd_imm_s(off, table as i64);
                let tag = self.b.ins().load(I64, flags(), entry, offset_of!(super::IndEntry, pc) as i32);
                let same_pc = self.b.ins().icmp(IntCC::Equal, tag, pc);
                let epoch_ptr = self.b.ins().load(I64, flags(), self.call, offset_of!(Call, epoch) as i32);
                let epoch = self.b.ins().load(I64, flags(), epoch_ptr, 0);
                let filled =
                    self.b.ins().load(I64, flags(), entry, offset_of!(super::IndEntry, epoch) as i32);
                let same_epoch = self.b.ins().icmp(IntCC::Equal, epoch, filled);
                let ok = self.b.ins().band(same_pc, same_epoch);
                self.brif(ok, hit, &[], ret, &[]);
                self.b.switch_to_block(hit);
                // The target may be in another page: its pcs are its page's.
                let vbase = self.b.ins().band_imm_s(pc, !((1i64 << crate::icache::PAGE_SHIFT) - 1));
                self.b.ins().store(flags(), vbase, self.call, offset_of!(Call, vbase) as i32);
                let f = self.b.ins().load(I64, flags(), entry, offset_of!(super::IndEntry, func) as i32);
                self.jump(chain, &[f.into()]);
            }
            None => {
                self.jump(ret, &[]);
            }
        }
        self.b.switch_to_block(ret);
        self.b.ins().return_(&[code]);
    }

    /// `n += 1` (deferred: see `pending`).
    fn retire(&mut self) {
        self.pending += 1;
    }

    /// Bring `n` up to date.
    fn settle(&mut self) {
        if self.pending != 0 {
            let n = self.b.use_var(self.n);
            let n = self.b.ins().iadd_imm_s(n, self.pending);
            self.b.def_var(self.n, n);
            self.pending = 0;
        }
    }

    /// The instructions retired so far in this call.
    fn n_now(&mut self) -> Value {
        self.settle();
        self.b.use_var(self.n)
    }

    /// End the block with a jump (`n` settled first).
    fn jump(&mut self, to: Block, args: &[BlockArg]) {
        self.settle();
        self.b.ins().jump(to, args);
    }

    /// End the block with a conditional branch (`n` settled first).
    fn brif(&mut self, c: Value, then: Block, then_args: &[BlockArg], other: Block, other_args: &[BlockArg]) {
        self.settle();
        self.b.ins().brif(c, then, then_args, other, other_args);
    }

    /// Go to `s`: a block of the region, or an exit to its pc. `computed`
    /// is the target's virtual address for `Succ::OutOfPage`.
    fn goto(&mut self, s: Succ, computed: Option<Value>) {
        match s {
            // Emitted next, in this block.
            Succ::In(off) if self.falls_in.contains(&off) => {}
            Succ::In(off) => {
                let blk = self.blocks[&off];
                self.jump(blk, &[]);
            }
            Succ::Out(off) => {
                let pc = self.pc_of(off);
                let slot = match self.links.iter().position(|&l| l == off) {
                    Some(i) => self.slots + 8 * i as u64,
                    None => 0,
                };
                self.exit_linked(pc, exit::NEXT, slot);
            }
            Succ::OutOfPage | Succ::None => {
                let pc = match computed {
                    Some(v) => v,
                    None => self.b.ins().iconst(I64, 0),
                };
                self.exit_with(pc, exit::NEXT);
            }
        }
    }

    /// Go on with the next instruction in sequence.
    fn goto_seq(&mut self, node: &Node) {
        let computed = match node.seq {
            Succ::OutOfPage => {
                let pc = self.pc_of(node.off);
                Some(self.b.ins().iadd_imm_s(pc, i64::from(node.e.len)))
            }
            _ => None,
        };
        self.goto(node.seq, computed);
    }

    /// At a check: go on into `node`'s block only if the budget covers
    /// `node.need` more instructions; else exit to the interpreter there.
    fn budget_check(&mut self, node: &Node) {
        let n = self.n_now();
        let after = self.b.ins().iadd_imm_s(n, i64::from(node.need));
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, after, self.budget);
        let out = self.b.create_block();
        self.b.set_cold_block(out);
        self.brif(fits, self.blocks[&node.off], &[], out, &[]);
        self.b.switch_to_block(out);
        let pc = self.pc_of(node.off);
        self.exit_with(pc, exit::NEXT);
    }

    fn node(&mut self, node: &Node) {
        if let Some(&blk) = self.blocks.get(&node.off) {
            self.b.switch_to_block(blk);
        }
        if node.check {
            // A loop head: its block is the check; the body goes on in a
            // new block.
            let body = self.b.create_block();
            let n = self.n_now();
            let after = self.b.ins().iadd_imm_s(n, i64::from(node.need));
            let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, after, self.budget);
            let out = self.b.create_block();
            self.b.set_cold_block(out);
            self.brif(fits, body, &[], out, &[]);
            self.b.switch_to_block(out);
            let pc = self.pc_of(node.off);
            self.exit_with(pc, exit::NEXT);
            self.b.switch_to_block(body);
        }
        self.insn(node);
    }

    fn insn(&mut self, node: &Node) {
        let e = node.e;
        let imm = i64::from(e.imm);
        macro_rules! rs1 {
            () => {
                self.get(e.rs1)
            };
        }
        macro_rules! rs2 {
            () => {
                self.get(e.rs2)
            };
        }
        // Result into rd, retire, fall through.
        macro_rules! done {
            ($v:expr) => {{
                let v = $v;
                self.set(e.rd, v);
                self.retire();
                self.goto_seq(node);
                return;
            }};
        }
        macro_rules! bin {
            ($f:ident) => {{
                let (a, b) = (rs1!(), rs2!());
                done!(self.b.ins().$f(a, b))
            }};
        }
        macro_rules! bin_imm {
            ($f:ident) => {{
                let a = rs1!();
                done!(self.b.ins().$f(a, imm))
            }};
        }
        macro_rules! cmp {
            ($cc:ident, $b:expr) => {{
                let a = rs1!();
                let b = $b;
                let c = self.b.ins().icmp(IntCC::$cc, a, b);
                done!(self.b.ins().uextend(I64, c))
            }};
        }
        // 32-bit operation, result sign-extended.
        macro_rules! w {
            ($f:ident, $b:expr) => {{
                let a = rs1!();
                let b = $b;
                let a32 = self.b.ins().ireduce(I32, a);
                let b32 = self.b.ins().ireduce(I32, b);
                let r = self.b.ins().$f(a32, b32);
                done!(self.b.ins().sextend(I64, r))
            }};
        }
        macro_rules! imm_v {
            () => {
                self.b.ins().iconst(I64, imm)
            };
        }
        match e.op {
            // Regions never hold these (see `region::translatable`).
            Op::Fill | Op::Slow => {
                let pc = self.pc_of(node.off);
                self.exit_with(pc, exit::NEXT);
            }
            Op::Nop => {
                self.retire();
                self.goto_seq(node);
            }
            Op::Add => bin!(iadd),
            Op::Sub => bin!(isub),
            Op::Sll => bin!(ishl),
            Op::Srl => bin!(ushr),
            Op::Sra => bin!(sshr),
            Op::Xor => bin!(bxor),
            Op::Or => bin!(bor),
            Op::And => bin!(band),
            Op::Slt => cmp!(SignedLessThan, rs2!()),
            Op::Sltu => cmp!(UnsignedLessThan, rs2!()),
            Op::Mul => bin!(imul),
            Op::Mulh => bin!(smulhi),
            Op::Mulhu => bin!(umulhi),
            Op::Mulhsu => {
                // high(signed a * unsigned b) = umulhi(a, b) - (a < 0 ? b : 0)
                let (a, b) = (rs1!(), rs2!());
                let hi = self.b.ins().umulhi(a, b);
                let sign = self.b.ins().sshr_imm_s(a, 63);
                let fix = self.b.ins().band(sign, b);
                done!(self.b.ins().isub(hi, fix))
            }
            Op::Div => self.div(node, DivKind::Div),
            Op::Divu => self.div(node, DivKind::Divu),
            Op::Rem => self.div(node, DivKind::Rem),
            Op::Remu => self.div(node, DivKind::Remu),
            Op::Divw => self.div(node, DivKind::Divw),
            Op::Divuw => self.div(node, DivKind::Divuw),
            Op::Remw => self.div(node, DivKind::Remw),
            Op::Remuw => self.div(node, DivKind::Remuw),
            Op::Addi => bin_imm!(iadd_imm_s),
            Op::Xori => bin_imm!(bxor_imm_s),
            Op::Ori => bin_imm!(bor_imm_s),
            Op::Andi => bin_imm!(band_imm_s),
            Op::Slti => cmp!(SignedLessThan, imm_v!()),
            Op::Sltiu => cmp!(UnsignedLessThan, imm_v!()),
            Op::Slli => {
                let a = rs1!();
                done!(self.b.ins().ishl_imm_s(a, imm & 63))
            }
            Op::Srli => {
                let a = rs1!();
                done!(self.b.ins().ushr_imm_s(a, imm & 63))
            }
            Op::Srai => {
                let a = rs1!();
                done!(self.b.ins().sshr_imm_s(a, imm & 63))
            }
            Op::Addw => w!(iadd, rs2!()),
            Op::Subw => w!(isub, rs2!()),
            Op::Sllw => w!(ishl, rs2!()),
            Op::Srlw => w!(ushr, rs2!()),
            Op::Sraw => w!(sshr, rs2!()),
            Op::Mulw => w!(imul, rs2!()),
            Op::Addiw => w!(iadd, imm_v!()),
            Op::Slliw => w!(ishl, imm_v!()),
            Op::Srliw => w!(ushr, imm_v!()),
            Op::Sraiw => w!(sshr, imm_v!()),
            Op::Lui => done!(imm_v!()),
            Op::Auipc => {
                let pc = self.pc_of(node.off);
                done!(self.b.ins().iadd_imm_s(pc, imm))
            }
            Op::Jal | Op::J => {
                if e.op == Op::Jal {
                    let pc = self.pc_of(node.off);
                    let link = self.b.ins().iadd_imm_s(pc, i64::from(e.len));
                    self.set(e.rd, link);
                }
                self.retire();
                let pc = self.pc_of(node.off);
                let target = self.b.ins().iadd_imm_s(pc, imm);
                self.goto(node.target, Some(target));
            }
            Op::Jalr | Op::Jr => {
                // Target first: rd may be rs1.
                let base = rs1!();
                let sum = self.b.ins().iadd_imm_s(base, imm);
                let target = self.b.ins().band_imm_s(sum, !1);
                if e.op == Op::Jalr {
                    let pc = self.pc_of(node.off);
                    let link = self.b.ins().iadd_imm_s(pc, i64::from(e.len));
                    self.set(e.rd, link);
                }
                self.retire();
                self.exit_full(target, exit::NEXT, 0, true);
            }
            Op::Beq => self.branch(node, IntCC::Equal),
            Op::Bne => self.branch(node, IntCC::NotEqual),
            Op::Blt => self.branch(node, IntCC::SignedLessThan),
            Op::Bge => self.branch(node, IntCC::SignedGreaterThanOrEqual),
            Op::Bltu => self.branch(node, IntCC::UnsignedLessThan),
            Op::Bgeu => self.branch(node, IntCC::UnsignedGreaterThanOrEqual),
            Op::Lb => self.load(node, 1, Some(types::I8)),
            Op::Lh => self.load(node, 2, Some(types::I16)),
            Op::Lw => self.load(node, 4, Some(types::I32)),
            Op::Ld => self.load(node, 8, None),
            Op::Lbu | Op::Lhu | Op::Lwu => {
                let size = match e.op {
                    Op::Lbu => 1,
                    Op::Lhu => 2,
                    _ => 4,
                };
                self.load(node, size, None)
            }
            Op::Sb => self.store(node, 1),
            Op::Sh => self.store(node, 2),
            Op::Sw => self.store(node, 4),
            Op::Sd => self.store(node, 8),
            Op::General => self.general(node),
        }
    }

    fn branch(&mut self, node: &Node, cc: IntCC) {
        let e = node.e;
        let (a, b) = (self.get(e.rs1), self.get(e.rs2));
        let taken = self.b.ins().icmp(cc, a, b);
        self.retire();
        let f_blk = self.b.create_block();
        match node.target {
            Succ::In(off) if !self.falls_in.contains(&off) => {
                let t_blk = self.blocks[&off];
                self.brif(taken, t_blk, &[], f_blk, &[]);
            }
            _ => {
                let t_blk = self.b.create_block();
                self.brif(taken, t_blk, &[], f_blk, &[]);
                self.b.switch_to_block(t_blk);
                let pc = self.pc_of(node.off);
                let target = self.b.ins().iadd_imm_s(pc, i64::from(e.imm));
                self.goto(node.target, Some(target));
            }
        }
        self.b.switch_to_block(f_blk);
        let next = match node.seq {
            Succ::In(_) => None,
            _ => {
                let pc = self.pc_of(node.off);
                Some(self.b.ins().iadd_imm_s(pc, i64::from(e.len)))
            }
        };
        self.goto(node.seq, next);
    }

    /// Load a helper pointer from the call record.
    fn helper(&mut self, offset: usize) -> Value {
        self.b.ins().load(I64, flags(), self.call, offset as i32)
    }

    /// After a helper: on `status::OK` jump to `ok` with `ok_args`; on
    /// `YIELD` exit after the instruction (first setting `yield_rd`, a
    /// load's result), on `FAULT` (and `SLOW`) exit at it, with `n` as
    /// before it.
    fn after_helper(
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
    fn helper_exit(&mut self) -> Block {
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
    fn emit_helper_exit(&mut self) {
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

    fn general(&mut self, node: &Node) {
        let e = node.e;
        // The helper reads and writes the hart's registers.
        self.write_back();
        let f = self.helper(offset_of!(Call, general));
        let s = self.b.import_signature(sig(self.call_conv, &[I64, I64, I64, I32], None));
        let pc = self.pc_of(node.off);
        let raw = self.b.ins().iconst(I32, i64::from(e.raw as i32));
        self.b.ins().call_indirect(s, f, &[self.hart, self.call, pc, raw]);
        self.reload_all();
        let n_before = self.n_now();
        let ok = self.b.create_block();
        self.after_helper(node, n_before, None, ok, &[]);
        self.b.switch_to_block(ok);
        self.retire();
        self.goto_seq(node);
    }

    fn div(&mut self, node: &Node, kind: DivKind) {
        let e = node.e;
        let (a, b) = (self.get(e.rs1), self.get(e.rs2));
        let f = self.helper(offset_of!(Call, div));
        let s = self.b.import_signature(sig(self.call_conv, &[I32, I64, I64], Some(I64)));
        let k = self.b.ins().iconst(I32, kind as i64);
        let inst = self.b.ins().call_indirect(s, f, &[k, a, b]);
        let v = self.b.inst_results(inst)[0];
        self.set(e.rd, v);
        self.retire();
        self.goto_seq(node);
    }
}
