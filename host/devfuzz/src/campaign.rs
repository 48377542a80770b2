//! The fuzz campaign of the devices wemu ships, which must find nothing:
//! `just test` runs a short one (tests/integration/fuzz.rs, bounded runs),
//! `just bench-fuzz` a longer one (host/cli/benches/fuzz.rs).

use super::finding::FindingKind;

/// One shipped device in the campaign.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Its built-in component name (the directory under `devices/`).
    pub device: &'static str,
    /// Finding kinds not reported. Only `dma`, and only for bus masters
    /// whose DMA addresses the guest programs: a request outside the
    /// window is then the guest's choice, which the host refuses, not a
    /// device bug.
    pub ignore: &'static [FindingKind],
    /// Seed of the mutation engine (fixed: a campaign is reproducible).
    pub seed: u64,
}

const GUEST_PICKS_DMA: &[FindingKind] = &[FindingKind::Dma];

/// Every device under `devices/` built into the binary.
pub const SHIPPED: &[Entry] = &[
    Entry { device: "aclint", ignore: &[], seed: 1 },
    Entry { device: "crc32-dma", ignore: GUEST_PICKS_DMA, seed: 2 },
    Entry { device: "goldfish-rtc", ignore: &[], seed: 3 },
    Entry { device: "ns16550a", ignore: &[], seed: 4 },
    Entry { device: "plic", ignore: &[], seed: 5 },
    Entry { device: "sifive-test", ignore: &[], seed: 6 },
    Entry { device: "virtio-blk", ignore: GUEST_PICKS_DMA, seed: 7 },
    Entry { device: "virtio-mmio", ignore: &[], seed: 8 },
    Entry { device: "virtio-rng", ignore: GUEST_PICKS_DMA, seed: 9 },
];
