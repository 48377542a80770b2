//! Reading the device's block counters (see `instrument.rs`) and deciding
//! whether an execution reached anything new.
//!
//! The counters are never cleared: at the start of an execution we copy
//! them, at the end the difference (mod 256) is what this execution hit.
//! Hit counts are bucketed as AFL does (1, 2, 3, 4–7, 8–15, 16–31, 32–127,
//! 128+), so a loop running more often also counts as new behaviour.

use wasmtime::component::WasmList;

use super::instrument::{COVERAGE_EXPORT, CmpSite};
use wemu_sandbox::device::{SETUP_FUEL, WasmDevice};

/// The live counters of one instance.
pub struct CoverageMap {
    /// The counters as little-endian words, then the comparison slots.
    list: WasmList<u64>,
    /// The counter words at `begin`.
    start: Vec<u64>,
    counters: usize,
}

/// The coverage export of an instrumented instance is missing or broken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CoverageError {
    #[error("the component has no coverage export: {0}")]
    NoExport(String),
    /// Setting the call's fuel failed.
    #[error("{0}")]
    Fuel(String),
    #[error("calling the coverage export: {0}")]
    Call(String),
    #[error("the coverage map has {words} words, expected at least {expected}")]
    Short { words: usize, expected: usize },
}

impl CoverageMap {
    /// Look up the coverage export of an instrumented instance with
    /// `counters` counters (the list also holds the comparison slots).
    pub fn attach(dev: &mut WasmDevice, counters: usize) -> Result<Self, CoverageError> {
        let (store, instance) = dev.store_and_instance();
        let func = instance
            .get_typed_func::<(), (WasmList<u64>,)>(&mut *store, COVERAGE_EXPORT)
            .map_err(|e| CoverageError::NoExport(format!("{e:#}")))?;
        store.set_fuel(SETUP_FUEL).map_err(|e| CoverageError::Fuel(format!("{e:#}")))?;
        let (list,) = func.call(&mut *store, ()).map_err(|e| CoverageError::Call(format!("{e:#}")))?;
        let words = counters.div_ceil(8);
        if list.len() < words {
            return Err(CoverageError::Short { words: list.len(), expected: words });
        }
        Ok(CoverageMap { list, start: vec![0; words], counters })
    }

    /// Remember the counters before an execution.
    pub fn begin(&mut self, dev: &WasmDevice) {
        let now = &self.list.as_le_slice(dev.store())[..self.start.len()];
        self.start.copy_from_slice(now);
    }

    /// Append `(counter, bucket bit)` for every counter hit since `begin`.
    pub fn collect(&self, dev: &WasmDevice, hits: &mut Vec<(u32, u8)>) {
        let now = &self.list.as_le_slice(dev.store())[..self.start.len()];
        // Eight counters per word, four words per step: most did not move.
        let mut chunks = now.chunks_exact(4).zip(self.start.chunks_exact(4));
        let mut w = 0;
        for (a, b) in &mut chunks {
            if (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) != 0 {
                for k in 0..4 {
                    self.word(w + k, a[k], b[k], hits);
                }
            }
            w += 4;
        }
        let tail = now.len() / 4 * 4;
        for (k, (a, b)) in now[tail..].iter().zip(&self.start[tail..]).enumerate() {
            self.word(tail + k, *a, *b, hits);
        }
    }

    /// The counters of word `w` that moved from `then` to `now`.
    #[inline]
    fn word(&self, w: usize, now: u64, then: u64, hits: &mut Vec<(u32, u8)>) {
        let (a, b) = (u64::from_le(now), u64::from_le(then));
        // Visit only the bytes that differ.
        let mut diff = a ^ b;
        while diff != 0 {
            let byte = diff.trailing_zeros() / 8;
            diff &= !(0xff << (byte * 8));
            let index = w * 8 + byte as usize;
            if index < self.counters {
                let hits_now = (a >> (byte * 8)) as u8;
                let hits_then = (b >> (byte * 8)) as u8;
                hits.push((index as u32, bucket(hits_now.wrapping_sub(hits_then))));
            }
        }
    }

    /// For every comparison site hit in `hits` (and not equal), the value
    /// it last compared with its constant.
    pub fn compared(
        &self,
        dev: &WasmDevice,
        sites: &[CmpSite],
        slots: usize,
        hits: &[(u32, u8)],
    ) -> Vec<(CmpSite, u64)> {
        let all = self.list.as_le_slice(dev.store());
        let mut out: Vec<(CmpSite, u64)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &(i, _) in hits {
            let k = sites.partition_point(|s| s.base <= i);
            let Some((k, site)) = k.checked_sub(1).and_then(|k| sites.get(k).map(|s| (k, *s))) else {
                continue;
            };
            // Counter `base` is popcount 0: the values were equal.
            if i >= site.base + site.features() || i == site.base || !seen.insert(k) {
                continue;
            }
            if let Some(v) = all.get(slots + k) {
                out.push((site, u64::from_le(*v)));
            }
        }
        out
    }
}

/// AFL's hit-count classes, one bit each.
pub fn bucket(hits: u8) -> u8 {
    match hits {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4..=7 => 8,
        8..=15 => 16,
        16..=31 => 32,
        32..=127 => 64,
        128..=255 => 128,
    }
}

/// Every (counter, bucket) seen so far. The first `block_limit` counters
/// are blocks, the rest value-profile features.
#[derive(Debug, Clone)]
pub struct Virgin {
    seen: Vec<u8>,
    block_limit: usize,
    blocks: usize,
    features: usize,
}

impl Virgin {
    pub fn new(len: usize, block_limit: usize) -> Self {
        Virgin { seen: vec![0; len], block_limit, blocks: 0, features: 0 }
    }

    /// Blocks hit at least once.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Value-profile features hit at least once.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Would `hits` add anything?
    pub fn is_new(&self, hits: &[(u32, u8)]) -> bool {
        hits.iter().any(|&(i, b)| self.seen.get(i as usize).is_some_and(|s| s & b == 0))
    }

    /// Record `hits`; returns whether anything was new.
    pub fn merge(&mut self, hits: &[(u32, u8)]) -> bool {
        let mut new = false;
        for &(i, b) in hits {
            if let Some(s) = self.seen.get_mut(i as usize)
                && *s & b == 0
            {
                if *s == 0 {
                    if (i as usize) < self.block_limit {
                        self.blocks += 1;
                    } else {
                        self.features += 1;
                    }
                }
                *s |= b;
                new = true;
            }
        }
        new
    }

    /// Take everything `other` has seen.
    pub fn absorb(&mut self, other: &Virgin) {
        if self.seen.len() == other.seen.len() {
            self.seen.copy_from_slice(&other.seen);
            self.blocks = other.blocks;
            self.features = other.features;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_single_bits_in_afl_classes() {
        assert_eq!(bucket(0), 0);
        assert_eq!([bucket(1), bucket(2), bucket(3), bucket(5), bucket(9)], [1, 2, 4, 8, 16]);
        assert_eq!([bucket(20), bucket(100), bucket(200)], [32, 64, 128]);
    }

    #[test]
    fn virgin_map_reports_new_blocks_and_new_hit_classes() {
        let mut v = Virgin::new(4, 3);
        assert!(v.merge(&[(0, 1), (2, 8)]));
        assert_eq!(v.blocks(), 2);
        assert!(!v.is_new(&[(0, 1)]), "same block, same class");
        assert!(v.is_new(&[(0, 2)]), "same block, more hits");
        assert!(!v.is_new(&[(99, 1)]), "out of range is ignored");
        assert!(v.merge(&[(0, 2)]));
        assert_eq!(v.blocks(), 2, "a new class of a known block is not a new block");
        assert!(v.merge(&[(3, 1)]));
        assert_eq!((v.blocks(), v.features()), (2, 1), "counter 3 is a feature");
    }
}
