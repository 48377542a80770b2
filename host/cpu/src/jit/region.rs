//! Region formation: which instructions of a page one translation holds.
//!
//! A region starts at a hot pc and takes every instruction reachable from
//! it inside its 4 KiB page through fall-through, taken branches and
//! direct jumps, as long as the instruction cache already holds it decoded
//! with a form the translator handles (`Op::Slow` and undecoded slots end a
//! path: the region exits there to the interpreter). Built from the cached
//! entries only, a region says exactly what the interpreter would execute
//! from that frame, and stays valid exactly as long as the frame does.
//!
//! Loops inside the page stay inside the region. The budget is checked at
//! its entry and at every loop head (the target of a back edge in a
//! depth-first walk), so each check knows the longest path to the next
//! one: `need`.

use std::collections::BTreeMap;

use crate::icache::{Frame, SLOTS, slot_of};
use crate::uop::{Entry, Kind};

/// Most instructions in one region: compile time grows with its size.
pub(crate) const MAX_INSNS: usize = 256;

const PAGE: u64 = 1 << crate::icache::PAGE_SHIFT;

/// Where control goes after an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Succ {
    /// The instruction at this page offset, inside the region.
    In(u16),
    /// Out of the region: to this page offset (not held, or not decoded).
    Out(u16),
    /// Out of the page: the target is computed at run time from the pc.
    OutOfPage,
    /// No successor of this kind (a jump has no fall-through).
    None,
}

/// One instruction of a region.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub(crate) off: u16,
    pub(crate) e: Entry,
    /// The next instruction in sequence (not taken, or not a branch).
    pub(crate) seq: Succ,
    /// A branch's or direct jump's target.
    pub(crate) target: Succ,
    /// A loop head: the budget is checked before it.
    pub(crate) check: bool,
    /// With `check` (or at the region's head): the most instructions any
    /// path from here retires before the next check or an exit.
    pub(crate) need: u32,
}

/// The instructions of a region, by page offset.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) head: u16,
    pub(crate) nodes: BTreeMap<u16, Node>,
}

/// Whether the translator handles an entry.
pub(crate) fn translatable(e: &Entry) -> bool {
    e.op.facts().kind != Kind::NoFastForm
}

fn in_page(off: u16, delta: i64) -> Option<u16> {
    let t = i64::from(off).checked_add(delta)?;
    (0..PAGE as i64).contains(&t).then_some(t as u16)
}

/// The successors of the entry at `off`: (fall-through, target).
fn successors(off: u16, e: &Entry) -> (Option<Option<u16>>, Option<Option<u16>>) {
    // `Some(Some(o))`: in the page at `o`; `Some(None)`: out of the page
    // (or computed); `None`: no such successor.
    let seq = Some(in_page(off, i64::from(e.len)));
    match e.op.facts().kind {
        Kind::Jump => (None, Some(in_page(off, i64::from(e.imm)))),
        Kind::JumpReg => (None, Some(None)),
        Kind::Branch => (seq, Some(in_page(off, i64::from(e.imm)))),
        _ => (seq, None),
    }
}

/// The region from page offset `head` of `frame`, or `None` when the
/// instruction there is not one the translator handles.
pub(crate) fn form(frame: &Frame, head: u16) -> Option<Region> {
    let entry = |off: u16| -> Option<Entry> {
        let e = frame[slot_of(u64::from(off))];
        (usize::from(off) / 2 < SLOTS && off.is_multiple_of(2) && translatable(&e)).then_some(e)
    };
    entry(head)?;
    // Breadth-first, so a size cap keeps the instructions nearest the head.
    let mut nodes: BTreeMap<u16, Node> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([head]);
    while let Some(off) = queue.pop_front() {
        if nodes.contains_key(&off) || nodes.len() >= MAX_INSNS {
            continue;
        }
        let Some(e) = entry(off) else { continue };
        nodes.insert(off, Node { off, e, seq: Succ::None, target: Succ::None, check: false, need: 0 });
        let (seq, target) = successors(off, &e);
        for next in [seq, target].into_iter().flatten().flatten() {
            queue.push_back(next);
        }
    }
    let held: Vec<u16> = nodes.keys().copied().collect();
    for off in held {
        let e = nodes[&off].e;
        let (seq, target) = successors(off, &e);
        let resolve = |s: Option<Option<u16>>| match s {
            None => Succ::None,
            Some(None) => Succ::OutOfPage,
            Some(Some(o)) if nodes.contains_key(&o) => Succ::In(o),
            Some(Some(o)) => Succ::Out(o),
        };
        let (seq, target) = (resolve(seq), resolve(target));
        if let Some(n) = nodes.get_mut(&off) {
            n.seq = seq;
            n.target = target;
        }
    }
    let mut region = Region { head, nodes };
    mark_loop_heads(&mut region);
    compute_need(&mut region);
    Some(region)
}

impl Node {
    fn inside(&self) -> impl Iterator<Item = u16> {
        [self.seq, self.target].into_iter().filter_map(|s| match s {
            Succ::In(o) => Some(o),
            _ => None,
        })
    }
}

/// Mark the targets of back edges (edges to a node on the depth-first
/// stack): every cycle passes through one.
fn mark_loop_heads(r: &mut Region) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let mut state: BTreeMap<u16, State> = r.nodes.keys().map(|&k| (k, State::New)).collect();
    let mut heads = Vec::new();
    // Iterative DFS: (node, successors still to visit).
    let mut stack: Vec<(u16, Vec<u16>)> = Vec::new();
    state.insert(r.head, State::OnStack);
    stack.push((r.head, r.nodes[&r.head].inside().collect()));
    while let Some((_, pending)) = stack.last_mut() {
        match pending.pop() {
            Some(next) => match state.get(&next).copied() {
                Some(State::New) => {
                    state.insert(next, State::OnStack);
                    let succ = r.nodes[&next].inside().collect();
                    stack.push((next, succ));
                }
                Some(State::OnStack) => heads.push(next),
                _ => {}
            },
            None => {
                if let Some((node, _)) = stack.pop() {
                    state.insert(node, State::Done);
                }
            }
        }
    }
    for h in heads {
        if let Some(n) = r.nodes.get_mut(&h) {
            n.check = true;
        }
    }
}

/// `need` of the head and of every loop head: the longest path, in
/// instructions, until a loop head or an exit (edges into loop heads end a
/// path, so what remains is acyclic).
fn compute_need(r: &mut Region) {
    let order: Vec<u16> = topological(r);
    // Longest path from each node to the next check or exit, counting the
    // node itself; computed in reverse topological order.
    let mut len: BTreeMap<u16, u32> = BTreeMap::new();
    for &off in order.iter().rev() {
        let n = &r.nodes[&off];
        let mut best = 0;
        for s in n.inside() {
            if r.nodes[&s].check {
                continue;
            }
            best = best.max(len.get(&s).copied().unwrap_or(0));
        }
        len.insert(off, 1 + best);
    }
    for (off, n) in r.nodes.iter_mut() {
        n.need = len.get(off).copied().unwrap_or(1);
    }
}

/// The nodes in an order where every edge not into a loop head goes
/// forward.
fn topological(r: &Region) -> Vec<u16> {
    let mut indegree: BTreeMap<u16, usize> = r.nodes.keys().map(|&k| (k, 0)).collect();
    for n in r.nodes.values() {
        for s in n.inside() {
            if !r.nodes[&s].check {
                *indegree.entry(s).or_default() += 1;
            }
        }
    }
    let mut ready: Vec<u16> = indegree.iter().filter(|&(_, &d)| d == 0).map(|(&k, _)| k).collect();
    let mut out = Vec::with_capacity(r.nodes.len());
    while let Some(off) = ready.pop() {
        out.push(off);
        for s in r.nodes[&off].inside() {
            if r.nodes[&s].check {
                continue;
            }
            if let Some(d) = indegree.get_mut(&s) {
                *d -= 1;
                if *d == 0 {
                    ready.push(s);
                }
            }
        }
    }
    out
}

impl Region {
    /// The page offsets outside the region its exits go to directly (each
    /// gets a link slot), in order of first appearance.
    pub(crate) fn links(&self) -> Vec<u16> {
        let mut out = Vec::new();
        for n in self.nodes.values() {
            for s in [n.seq, n.target] {
                if let Succ::Out(off) = s
                    && !out.contains(&off)
                {
                    out.push(off);
                }
            }
        }
        out
    }
}
