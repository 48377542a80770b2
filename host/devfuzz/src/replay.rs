//! Reproducing a saved input, and shrinking it.

use std::sync::Arc;

use super::finding::{Finding, FindingKind};
use super::harness::Harness;
use super::ops::{Codec, FuzzOp};
use super::target::FuzzTarget;

/// Run `input` once on a fresh instance; the trace (one line per
/// operation) and the finding.
pub fn replay(
    target: &Arc<FuzzTarget>,
    input: &[u8],
    ignore: &[FindingKind],
) -> (Vec<String>, Option<Finding>) {
    let mut h = Harness::new(target.clone(), ignore);
    let mut lines = Vec::new();
    let finding = h.run(input, Some(&mut |l| lines.push(l)));
    (lines, finding)
}

/// A minimised input and the finding it still produces.
#[derive(Debug)]
pub struct Minimized {
    pub input: Vec<u8>,
    pub ops_before: usize,
    pub ops_after: usize,
    pub finding: Finding,
    pub execs: usize,
}

/// Shrink `input` while it keeps producing a finding of the same kind:
/// drop everything after the operation that triggers it, remove chunks of
/// operations (halving the chunk size down to one), then simplify the
/// operations that remain (zero or halve values and offsets, shorten
/// data), until nothing changes or `max_execs` runs were spent. `None`
/// if `input` produces no finding.
pub fn minimize(
    target: &Arc<FuzzTarget>,
    input: &[u8],
    ignore: &[FindingKind],
    max_execs: usize,
) -> Option<Minimized> {
    let codec = &target.codec;
    let mut h = Harness::new(target.clone(), ignore);
    let first = h.run(input, None)?;
    let kind = first.kind;
    let mut ops = codec.decode(input);
    let ops_before = ops.len();
    let mut execs = 1usize;
    let mut found = first;

    let attempt = |candidate: &[FuzzOp], h: &mut Harness, execs: &mut usize| -> Option<Finding> {
        if *execs >= max_execs {
            return None;
        }
        *execs += 1;
        h.run_ops(candidate, None).filter(|f| f.kind == kind)
    };

    if let Some(i) = found.op
        && i + 1 < ops.len()
        && let Some(f) = attempt(&ops[..=i], &mut h, &mut execs)
    {
        ops.truncate(i + 1);
        found = f;
    }

    loop {
        let before = ops.clone();
        // Remove chunks.
        let mut chunk = ops.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < ops.len() {
                let mut candidate = ops.clone();
                candidate.drain(i..(i + chunk).min(ops.len()));
                match attempt(&candidate, &mut h, &mut execs) {
                    Some(f) => {
                        ops = candidate;
                        found = f;
                    }
                    None => i += chunk,
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        // Simplify each operation.
        for i in 0..ops.len() {
            let mut progress = true;
            while progress {
                progress = false;
                for simpler in simpler(codec, &ops[i]) {
                    let mut candidate = ops.clone();
                    candidate[i] = simpler;
                    if let Some(f) = attempt(&candidate, &mut h, &mut execs) {
                        ops = candidate;
                        found = f;
                        progress = true;
                        break;
                    }
                }
            }
        }
        if ops == before || execs >= max_execs {
            break;
        }
    }
    let bytes = codec.encode(&ops);
    Some(Minimized { input: bytes, ops_before, ops_after: ops.len(), finding: found, execs })
}

/// Simpler variants of `op`, most aggressive first; each survives an
/// encode/decode round (so it is exactly what the saved bytes replay).
fn simpler(codec: &Codec, op: &FuzzOp) -> Vec<FuzzOp> {
    let mut out: Vec<FuzzOp> = Vec::new();
    let smaller = |v: u64| -> Vec<u64> {
        let mut c = vec![0, v >> 1, v.saturating_sub(1)];
        c.retain(|x| *x < v);
        c.dedup();
        c
    };
    match op {
        FuzzOp::Read { region, offset, size } => {
            if *region != 0 {
                out.push(FuzzOp::Read { region: 0, offset: *offset, size: *size });
            }
            for o in smaller(*offset) {
                out.push(FuzzOp::Read { region: *region, offset: o - o % u64::from(*size), size: *size });
            }
        }
        FuzzOp::Write { region, offset, size, value } => {
            for v in smaller(*value) {
                out.push(FuzzOp::Write { region: *region, offset: *offset, size: *size, value: v });
            }
            for o in smaller(*offset) {
                out.push(FuzzOp::Write {
                    region: *region,
                    offset: o - o % u64::from(*size),
                    size: *size,
                    value: *value,
                });
            }
        }
        FuzzOp::Irq { line } => {
            for l in smaller(u64::from(*line)) {
                out.push(FuzzOp::Irq { line: l as u32 });
            }
        }
        FuzzOp::Advance { ns } => {
            for n in smaller(*ns) {
                out.push(FuzzOp::Advance { ns: n });
            }
        }
        FuzzOp::Input { port, data } => {
            if data.len() > 1 {
                out.push(FuzzOp::Input { port: *port, data: data[..1].to_vec() });
                out.push(FuzzOp::Input { port: *port, data: data[..data.len() / 2].to_vec() });
            }
            if data.iter().any(|b| *b != 0) {
                out.push(FuzzOp::Input { port: *port, data: vec![0; data.len()] });
            }
        }
        FuzzOp::Poke { offset, data } => {
            if data.len() > 1 {
                out.push(FuzzOp::Poke { offset: *offset, data: data[..data.len() / 2].to_vec() });
            }
            if *offset != 0 {
                out.push(FuzzOp::Poke { offset: 0, data: data.clone() });
            }
        }
        FuzzOp::BlockFail { count } => {
            for c in smaller(u64::from(*count)).into_iter().filter(|c| *c > 0) {
                out.push(FuzzOp::BlockFail { count: c as u32 });
            }
        }
        FuzzOp::Reset | FuzzOp::SaveRestore => {}
    }
    out.into_iter()
        .filter_map(|o| codec.decode(&codec.encode(std::slice::from_ref(&o))).into_iter().next())
        .filter(|o| o != op)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Profile;

    #[test]
    fn simpler_variants_are_smaller_and_representable() {
        let codec =
            Codec::new(Profile { regions: vec![("r".into(), 0x40)], timers: true, ..Profile::default() });
        let w = FuzzOp::Write { region: 0, offset: 0x10, size: 4, value: 0x34 };
        let s = simpler(&codec, &w);
        assert!(s.contains(&FuzzOp::Write { region: 0, offset: 0x10, size: 4, value: 0 }));
        assert!(s.contains(&FuzzOp::Write { region: 0, offset: 0, size: 4, value: 0x34 }));
        assert!(s.iter().all(|o| o != &w));
        let a = simpler(&codec, &FuzzOp::Advance { ns: 5_000_000 });
        assert!(a.contains(&FuzzOp::Advance { ns: 0 }));
        assert!(simpler(&codec, &FuzzOp::Reset).is_empty());
    }
}
