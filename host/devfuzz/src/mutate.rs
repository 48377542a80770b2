//! The mutation engine: AFL-style byte-level havoc, plus operation-level
//! changes (insert, delete, duplicate, swap, splice with another corpus
//! entry, dictionary values) made by decoding, editing and re-encoding.
//! Deterministic for a given seed.

use super::ops::{Codec, FuzzOp, MAX_OPS, mask};

/// Largest input produced, in bytes.
pub const MAX_LEN: usize = 1024;

/// splitmix64: small, fast, good enough for choosing mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const INTERESTING: [u8; 9] = [0, 1, 2, 0x10, 0x20, 0x40, 0x7f, 0x80, 0xff];

/// Produces new inputs from corpus entries.
#[derive(Debug, Clone)]
pub struct Mutator {
    pub rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator { rng: Rng::new(seed) }
    }

    /// A fresh random input of a few operations.
    pub fn generate(&mut self, codec: &Codec) -> Vec<u8> {
        let n = 1 + self.rng.below(8);
        let ops: Vec<FuzzOp> = (0..n).map(|_| self.random_op(codec)).collect();
        codec.encode(&ops)
    }

    fn random_op(&mut self, codec: &Codec) -> FuzzOp {
        let bytes = self.rng.bytes(24);
        codec.decode(&bytes).into_iter().next().unwrap_or(FuzzOp::Reset)
    }

    /// Mutate `input` (1, 2, 4 or 8 stacked changes); `other` is another
    /// corpus entry to splice with.
    #[cfg(test)]
    pub fn mutate(&mut self, codec: &Codec, input: &[u8], other: &[u8]) -> Vec<u8> {
        self.mutate_ops(codec, input, other).0
    }

    /// `mutate`, also returning the operations when the change was made on
    /// them (they are exactly what the bytes decode to, which saves the
    /// caller a decode).
    pub fn mutate_ops(
        &mut self,
        codec: &Codec,
        input: &[u8],
        other: &[u8],
    ) -> (Vec<u8>, Option<Vec<FuzzOp>>) {
        let rounds = 1 << self.rng.below(4);
        // Mostly structured edits: byte havoc shifts the operation
        // boundaries and so rewrites everything after it. One kind per
        // call, so the input is decoded and encoded at most once.
        if self.rng.below(16) < 5 {
            let mut data = input.to_vec();
            for _ in 0..rounds {
                self.havoc(codec, &mut data);
            }
            data.truncate(MAX_LEN);
            (data, None)
        } else {
            let mut ops = codec.decode(input);
            for _ in 0..rounds {
                self.edit_ops(codec, &mut ops, other);
            }
            let data = codec.encode(&ops);
            if data.len() > MAX_LEN {
                let mut data = data;
                data.truncate(MAX_LEN);
                (data, None)
            } else {
                (data, Some(ops))
            }
        }
    }

    fn havoc(&mut self, codec: &Codec, data: &mut Vec<u8>) {
        let len = data.len();
        if len == 0 {
            let n = 1 + self.rng.below(16);
            data.extend(self.rng.bytes(n));
            return;
        }
        let pos = self.rng.below(len);
        match self.rng.below(9) {
            0 => data[pos] ^= 1 << self.rng.below(8),
            1 => data[pos] = INTERESTING[self.rng.below(INTERESTING.len())],
            2 => data[pos] = self.rng.next_u64() as u8,
            3 => {
                let delta = 1 + self.rng.below(16) as u8;
                data[pos] = if self.rng.below(2) == 0 {
                    data[pos].wrapping_add(delta)
                } else {
                    data[pos].wrapping_sub(delta)
                };
            }
            4 => {
                let n = 1 + self.rng.below(16);
                let bytes = self.rng.bytes(n);
                data.splice(pos..pos, bytes);
            }
            5 => {
                let n = (1 + self.rng.below(16)).min(len - pos);
                data.drain(pos..pos + n);
            }
            6 => {
                // Copy a chunk over another place in the input.
                let from = self.rng.below(len);
                let n = (1 + self.rng.below(16)).min(len - from).min(len - pos);
                let chunk: Vec<u8> = data[from..from + n].to_vec();
                data[pos..pos + n].copy_from_slice(&chunk);
            }
            7 => {
                // A dictionary constant over 1, 2 or 4 bytes.
                let dict = &codec.profile().dictionary;
                if !dict.is_empty() {
                    let v = dict[self.rng.below(dict.len())].to_le_bytes();
                    let n = [1, 2, 4][self.rng.below(3)].min(len - pos);
                    data[pos..pos + n].copy_from_slice(&v[..n]);
                }
            }
            _ => {
                let bytes = self.rng.bytes(16);
                data.extend(bytes);
            }
        }
    }

    fn edit_ops(&mut self, codec: &Codec, ops: &mut Vec<FuzzOp>, other: &[u8]) {
        let n = ops.len();
        // Longer inputs cost time on every run: past half the limit, most
        // edits delete (as many ways to shrink as to grow otherwise).
        if n > MAX_OPS / 2 && self.rng.below(2) == 0 {
            let at = self.rng.below(n);
            let len = (1 + self.rng.below(4)).min(n - at);
            ops.drain(at..at + len);
            return;
        }
        match self.rng.below(10) {
            7 if n > 0 && n < MAX_OPS => {
                // Read back a register the input touches (or its
                // neighbour), somewhere after that access: state a write
                // sequence built up is only seen when something reads it.
                let i = self.rng.below(n);
                if let FuzzOp::Read { region, offset, size } | FuzzOp::Write { region, offset, size, .. } =
                    ops[i].clone()
                {
                    let limit = codec.profile().regions.get(region as usize).map_or(0, |r| r.1);
                    let step = u64::from(size) * self.rng.below(3) as u64;
                    let offset =
                        if self.rng.below(2) == 0 { offset + step } else { offset.saturating_sub(step) };
                    if offset + u64::from(size) <= limit {
                        let at = i + 1 + self.rng.below(n - i);
                        ops.insert(at, FuzzOp::Read { region, offset, size });
                    }
                }
            }
            0 | 1 if n < MAX_OPS => {
                let op = self.random_op(codec);
                ops.insert(self.rng.below(n + 1), op);
            }
            2 | 8 if n > 0 => {
                let at = self.rng.below(n);
                let len = (1 + self.rng.below(4)).min(n - at);
                ops.drain(at..at + len);
            }
            3 if n > 0 && n < MAX_OPS => {
                let i = self.rng.below(n);
                let op = ops[i].clone();
                ops.insert(i + 1, op);
            }
            4 if n > 1 => {
                let (a, b) = (self.rng.below(n), self.rng.below(n));
                ops.swap(a, b);
            }
            5 => {
                // Splice: our head, the other entry's tail.
                let theirs = codec.decode(other);
                let cut = self.rng.below(n + 1);
                let from = self.rng.below(theirs.len() + 1);
                ops.truncate(cut);
                ops.extend(theirs.into_iter().skip(from));
                ops.truncate(MAX_OPS);
            }
            6 if n < MAX_OPS => {
                // One operation of the other entry, inserted here.
                let theirs = codec.decode(other);
                if !theirs.is_empty() {
                    let op = theirs[self.rng.below(theirs.len())].clone();
                    ops.insert(self.rng.below(n + 1), op);
                }
            }
            _ => {
                // A write's value from the dictionary, or a nearby register.
                let writes: Vec<usize> = (0..n)
                    .filter(|&i| matches!(ops[i], FuzzOp::Write { .. } | FuzzOp::Read { .. }))
                    .collect();
                if writes.is_empty() {
                    return;
                }
                let i = writes[self.rng.below(writes.len())];
                let dict = &codec.profile().dictionary;
                match &mut ops[i] {
                    FuzzOp::Write { value, size, .. } if !dict.is_empty() && self.rng.below(2) == 0 => {
                        *value = mask(dict[self.rng.below(dict.len())], *size);
                    }
                    FuzzOp::Write { region, offset, size, .. } | FuzzOp::Read { region, offset, size } => {
                        let limit = codec.profile().regions.get(*region as usize).map_or(0, |r| r.1);
                        let step = u64::from(*size);
                        let moved = if self.rng.below(2) == 0 {
                            offset.checked_add(step)
                        } else {
                            offset.checked_sub(step)
                        };
                        if let Some(o) = moved.filter(|o| o + step <= limit) {
                            *offset = o;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Profile;

    fn codec() -> Codec {
        Codec::new(Profile {
            regions: vec![("regs".into(), 0x40)],
            ports: 1,
            dictionary: vec![0x12, 0x34],
            ..Profile::default()
        })
    }

    #[test]
    fn mutation_is_deterministic_for_a_seed_and_bounded() {
        let c = codec();
        let run = |seed| {
            let mut m = Mutator::new(seed);
            let mut x = m.generate(&c);
            let mut all = Vec::new();
            for _ in 0..500 {
                let (bytes, ops) = m.mutate_ops(&c, &x, &[4, 0, 0x12]);
                x = bytes;
                assert!(x.len() <= MAX_LEN);
                assert!(c.decode(&x).len() <= MAX_OPS);
                if let Some(ops) = ops {
                    assert_eq!(c.decode(&x), ops, "the operations are what the bytes decode to");
                }
                all.push(x.clone());
            }
            all
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mutations_reach_dictionary_values() {
        let c = codec();
        let mut m = Mutator::new(1);
        let mut x = m.generate(&c);
        let mut seen = false;
        for _ in 0..2000 {
            x = m.mutate(&c, &x, &[]);
            if c.decode(&x).iter().any(|op| matches!(op, FuzzOp::Write { value: 0x34, .. })) {
                seen = true;
                break;
            }
        }
        assert!(seen, "no write of a dictionary value in 2000 mutations");
    }
}
