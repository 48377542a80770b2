//! The physical address map: RAM, ROM and device MMIO regions in an
//! ordered map keyed by base address. Overlapping or empty regions are
//! refused when the machine is built; an address that maps to nothing is
//! the guest's access fault, never the host's problem.

use std::collections::BTreeMap;

/// What a region is backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Index into the machine's RAM/ROM blocks.
    Memory(usize),
    /// Region `region` of device `device` (index into the machine's devices).
    Mmio { device: usize, region: u32 },
}

/// One region of the address map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Who owns it, e.g. "ram" or "uart0.regs" (used in errors and traces).
    pub name: String,
    pub base: u64,
    pub size: u64,
    pub backing: Backing,
}

impl Mapping {
    fn last(&self) -> u64 {
        self.base + (self.size - 1)
    }
}

/// Why a region cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("region '{name}' at {base:#x} has size 0")]
    ZeroSize { name: String, base: u64 },
    #[error("region '{name}' at {base:#x} with size {size:#x} runs past the end of the address space")]
    Wraps { name: String, base: u64, size: u64 },
    #[error(
        "region '{name}' [{base:#x}..={last:#x}] overlaps region '{other}' [{other_base:#x}..={other_last:#x}]"
    )]
    Overlap { name: String, base: u64, last: u64, other: String, other_base: u64, other_last: u64 },
}

/// The address map.
#[derive(Debug, Default)]
pub struct Bus {
    map: BTreeMap<u64, Mapping>,
}

impl Bus {
    pub fn new() -> Self {
        Bus::default()
    }

    /// Place a region, refusing empty, wrapping or overlapping ones.
    pub fn add(&mut self, m: Mapping) -> Result<(), BusError> {
        if m.size == 0 {
            return Err(BusError::ZeroSize { name: m.name, base: m.base });
        }
        if m.base.checked_add(m.size - 1).is_none() {
            return Err(BusError::Wraps { name: m.name, base: m.base, size: m.size });
        }
        let last = m.last();
        // The only candidates: the last region starting at or before our
        // end; regions are disjoint, so if it misses us all earlier ones do.
        if let Some((_, other)) = self.map.range(..=last).next_back()
            && other.last() >= m.base
        {
            return Err(BusError::Overlap {
                name: m.name,
                base: m.base,
                last,
                other: other.name.clone(),
                other_base: other.base,
                other_last: other.last(),
            });
        }
        self.map.insert(m.base, m);
        Ok(())
    }

    /// The region holding `addr`, and the offset of `addr` inside it.
    #[inline]
    pub fn find(&self, addr: u64) -> Option<(&Mapping, u64)> {
        let (_, m) = self.map.range(..=addr).next_back()?;
        let off = addr - m.base;
        (off < m.size).then_some((m, off))
    }

    /// The region holding all of `[addr, addr+len)`.
    pub fn find_range(&self, addr: u64, len: u64) -> Option<(&Mapping, u64)> {
        let (m, off) = self.find(addr)?;
        (len <= m.size - off).then_some((m, off))
    }

    /// The regions sharing at least one byte with `[base, last]`, in
    /// address order.
    pub fn overlapping(&self, base: u64, last: u64) -> impl Iterator<Item = &Mapping> {
        // Regions are disjoint: only the last one starting below `base` can
        // reach into the range from below.
        let below = self.map.range(..base).next_back().map(|(_, m)| m).filter(|m| m.last() >= base);
        below.into_iter().chain(self.map.range(base..=last.max(base)).map(|(_, m)| m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, base: u64, size: u64) -> Mapping {
        Mapping { name: name.into(), base, size, backing: Backing::Memory(0) }
    }

    #[test]
    fn finds_regions_and_offsets() {
        let mut bus = Bus::new();
        bus.add(m("ram", 0x8000_0000, 0x1000)).unwrap();
        bus.add(m("uart0", 0x1000_0000, 0x100)).unwrap();
        assert_eq!(bus.find(0x8000_0fff).map(|(m, o)| (m.name.as_str(), o)), Some(("ram", 0xfff)));
        assert!(bus.find(0x8000_1000).is_none());
        assert!(bus.find(0).is_none());
        assert!(bus.find(u64::MAX).is_none());
        assert!(bus.find_range(0x8000_0ffc, 8).is_none(), "straddles the end");
        assert!(bus.find_range(0x8000_0ff8, 8).is_some());
    }

    #[test]
    fn overlaps_name_both_regions() {
        let mut bus = Bus::new();
        bus.add(m("ram", 0x8000_0000, 0x1000)).unwrap();
        let err = bus.add(m("rom", 0x8000_0800, 0x1000)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'rom'") && msg.contains("'ram'"), "{msg}");
        // Touching but not overlapping is fine, on both sides.
        bus.add(m("below", 0x7fff_f000, 0x1000)).unwrap();
        bus.add(m("above", 0x8000_1000, 0x1000)).unwrap();
        // A region swallowing an existing one is caught too.
        assert!(matches!(bus.add(m("big", 0x7000_0000, 0x2000_0000)), Err(BusError::Overlap { .. })));
    }

    #[test]
    fn overlapping_lists_every_region_touching_a_range() {
        let mut bus = Bus::new();
        for i in 0..10u64 {
            bus.add(m(&format!("r{i}"), 0x1000 * (2 * i), 0x1000)).unwrap();
        }
        let names = |base, last| bus.overlapping(base, last).map(|m| m.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(0x800, 0x4000), ["r0", "r1", "r2"], "one reaching in from below, the rest inside");
        assert_eq!(names(0x1000, 0x1fff), Vec::<String>::new(), "a gap");
        assert_eq!(names(0x2fff, 0x2fff), ["r1"]);
        assert_eq!(names(0, u64::MAX).len(), 10);
    }

    #[test]
    fn empty_and_wrapping_regions_are_refused() {
        let mut bus = Bus::new();
        assert_eq!(bus.add(m("z", 0x1000, 0)), Err(BusError::ZeroSize { name: "z".into(), base: 0x1000 }));
        assert!(matches!(bus.add(m("w", u64::MAX - 1, 4)), Err(BusError::Wraps { .. })));
        bus.add(m("top", u64::MAX - 0xfff, 0x1000)).unwrap();
        assert!(bus.find(u64::MAX).is_some());
    }
}
