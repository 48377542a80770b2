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
mod leave;

pub(crate) use access::DataPath;

use super::call::{Call, DivKind, exit};
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
    /// Guest registers stay in the hart: read from it at each use, written
    /// at each definition, nothing to load at entry or write back at exits
    /// (`compiler::Job::mem_regs`).
    mem_regs: bool,
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
        (data, mem_regs): (DataPath, bool),
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
            mem_regs,
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
        if self.mem_regs {
            return;
        }
        for &r in &self.used {
            let v = self.b.ins().load(I64, flags(), self.hart, Self::reg_offset(r));
            if let Some(var) = self.x[usize::from(r)] {
                self.b.def_var(var, v);
            }
        }
    }

    fn write_back(&mut self) {
        if self.mem_regs {
            return;
        }
        for i in 0..self.written.len() {
            let r = self.written[i];
            if let Some(var) = self.x[usize::from(r)] {
                let v = self.b.use_var(var);
                self.b.ins().store(flags(), v, self.hart, Self::reg_offset(r));
            }
        }
    }

    fn get(&mut self, r: u8) -> Value {
        if self.mem_regs && r & 31 != 0 {
            return self.b.ins().load(I64, flags(), self.hart, Self::reg_offset(r & 31));
        }
        match self.x[usize::from(r & 31)] {
            Some(var) if r & 31 != 0 => self.b.use_var(var),
            _ => self.b.ins().iconst(I64, 0),
        }
    }

    fn set(&mut self, r: u8, v: Value) {
        if self.mem_regs {
            if r & 31 != 0 {
                self.b.ins().store(flags(), v, self.hart, Self::reg_offset(r & 31));
            }
            return;
        }
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
            // Into another page: on through the indirect-jump cache if it
            // holds the target.
            Succ::OutOfPage if let Some(pc) = computed => self.exit_full(pc, exit::NEXT, 0, true),
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
