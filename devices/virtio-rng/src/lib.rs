//! virtio-rng (virtio 1.1 §5.4, device ID 4) on the virtio-mmio transport.
//!
//! The "entropy" is a deterministic PRNG, xoshiro256** seeded through
//! SplitMix64 from the `seed` property (default 0), so that two runs of a
//! machine see the same bytes. It is not cryptographically secure, and is
//! not meant to be: reproducible runs are the point. A machine reset
//! restarts the sequence from the seed; a driver reset (Status = 0) does
//! not, so a driver that re-probes gets fresh bytes.
//!
//! One queue of 8 entries (as QEMU); each request's writable buffers are
//! filled, up to 64 KiB per request. Device-readable buffers are ignored.

use serde::{Deserialize, Serialize};
use wemu_device_sdk::Props;
use wemu_device_virtio::{Backend, Chain, Fault};

pub type VirtioRng = wemu_device_virtio::VirtioMmio<Rng>;

wemu_device_sdk::export_device!(VirtioRng);

/// Most bytes one request receives.
pub const MAX_REQUEST: u32 = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    seed: u64,
    state: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let state = [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)];
        Rng { seed, state }
    }

    /// xoshiro256** (Blackman and Vigna).
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

impl Backend for Rng {
    const NAME: &'static str = "virtio-rng";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DEVICE_ID: u32 = 4;
    const QUEUES: &'static [u16] = &[8];

    fn create(props: &Props) -> Result<Self, String> {
        let seed = props.u64_or("seed", 0)?;
        props.finish()?;
        Ok(Rng::new(seed))
    }

    fn features(&self) -> u64 {
        0
    }

    fn config(&self) -> Vec<u8> {
        Vec::new()
    }

    fn process(&mut self, _queue: u16, chain: &Chain, _features: u64) -> Result<u32, Fault> {
        let n = chain.writable_len().min(u64::from(MAX_REQUEST)) as usize;
        let mut bytes = vec![0u8; n];
        self.fill(&mut bytes);
        chain.write(0, &bytes)
    }

    fn power_on_reset(&mut self) {
        *self = Rng::new(self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::testing::TestHost;
    use wemu_device_sdk::{Device, PropValue};
    use wemu_device_virtio::testing::{Buf, Driver, mem, rd, wr};
    use wemu_device_virtio::{reg, status};

    fn running(seed: Option<i64>) -> (VirtioRng, Driver) {
        TestHost::reset();
        let props = Props::new(seed.map(|s| ("seed".to_owned(), PropValue::Int(s))).into_iter().collect());
        let mut d = VirtioRng::create(&props).expect("create");
        let mut drv = Driver::new();
        drv.init(&mut d, 0, &[8]);
        (d, drv)
    }

    fn entropy(d: &mut VirtioRng, drv: &mut Driver, len: u32) -> Vec<u8> {
        let (_, ins) = drv.submit(0, &[Buf::In(len)]);
        drv.notify(d, 0);
        let used = drv.used(0);
        assert_eq!(used.len(), 1);
        mem(ins[0].addr, used[0].1 as usize)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let (mut a, mut da) = running(None);
        let first = entropy(&mut a, &mut da, 64);
        assert_eq!(first.len(), 64);
        assert!(first.iter().any(|&b| b != 0));
        let (mut b, mut db) = running(Some(0));
        assert_eq!(entropy(&mut b, &mut db, 64), first, "default seed is 0");
        let (mut c, mut dc) = running(Some(42));
        assert_ne!(entropy(&mut c, &mut dc, 64), first);
        assert_ne!(entropy(&mut a, &mut da, 64), first, "the stream moves on");
    }

    #[test]
    fn known_first_output_for_seed_zero() {
        // SplitMix64(0) → xoshiro256** state; pins the documented sequence.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0x99ec_5f36_cb75_f2b4);
    }

    #[test]
    fn machine_reset_replays_driver_reset_does_not() {
        let (mut d, mut drv) = running(Some(7));
        let first = entropy(&mut d, &mut drv, 16);
        wr(&mut d, reg::STATUS, 0);
        drv.init(&mut d, 0, &[8]);
        assert_ne!(entropy(&mut d, &mut drv, 16), first, "driver reset keeps the stream");
        d.reset();
        drv.init(&mut d, 0, &[8]);
        assert_eq!(entropy(&mut d, &mut drv, 16), first, "power-on reset replays from the seed");
    }

    #[test]
    fn a_queue_num_above_the_maximum_survives_save_and_restore() {
        // `wemu fuzz` found QueueNum 9 (QueueNumMax is 8) then save: restore
        // refused the state save had just produced.
        TestHost::reset();
        let mut d = VirtioRng::create(&Props::default()).expect("create");
        wr(&mut d, reg::QUEUE_SEL, 0);
        wr(&mut d, reg::QUEUE_NUM, 9);
        let mut copy = VirtioRng::create(&Props::default()).expect("create");
        copy.restore(&d.save()).expect("restore takes what save gave");
        // The copy goes on as the original: the size is refused at QueueReady.
        for dev in [&mut d, &mut copy] {
            wr(dev, reg::QUEUE_READY, 1);
            assert_eq!(rd(dev, reg::QUEUE_READY), 0);
            assert_eq!(rd(dev, reg::STATUS) & status::DEVICE_NEEDS_RESET, status::DEVICE_NEEDS_RESET);
        }
    }

    #[test]
    fn large_requests_are_capped() {
        let (mut d, mut drv) = running(None);
        assert_eq!(entropy(&mut d, &mut drv, 100_000).len(), MAX_REQUEST as usize);
        assert_eq!(rd(&mut d, reg::DEVICE_ID), 4);
        assert_eq!(rd(&mut d, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }
}
