//! The hart never panics, whatever the guest: random bytes as code and
//! data, random register and CSR state, many seeds. Halts (trap loops)
//! and guest exceptions are fine; a Rust panic is a host bug.
//!
//! The seeds are fixed so a failure reproduces; `WEMU_STREAM_SEEDS=N`
//! runs more.

use wemu_cpu::{AccessInfo, Hart, MemError, Memory, RangeKind, RunExit};

const BASE: u64 = 0x8000_0000;
const SIZE: usize = 64 * 1024;

/// xorshift64*: small, deterministic, good enough to scramble bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// RAM at BASE; a few "device" addresses that refuse or stop.
struct Mem {
    ram: Vec<u8>,
}

impl Mem {
    fn range(&self, addr: u64, size: u8) -> Result<usize, MemError> {
        match addr {
            0x1000_0000..=0x1000_00ff => Err(MemError::AccessFault),
            _ => {
                let off = addr.checked_sub(BASE).ok_or(MemError::AccessFault)? as usize;
                if off.checked_add(usize::from(size)).is_none_or(|end| end > self.ram.len()) {
                    return Err(MemError::AccessFault);
                }
                Ok(off)
            }
        }
    }
}

impl Memory for Mem {
    fn load(&mut self, _at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        let off = self.range(addr, size)?;
        Ok(self.ram[off..off + usize::from(size)].iter().rev().fold(0, |a, b| (a << 8) | u64::from(*b)))
    }
    fn store(&mut self, _at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        if addr == 0x10_0000 {
            return Err(MemError::Stop); // a "finisher": the machine stops
        }
        let off = self.range(addr, size)?;
        self.ram[off..off + usize::from(size)].copy_from_slice(&value.to_le_bytes()[..usize::from(size)]);
        Ok(())
    }
    fn fetch(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        self.load(at, addr, size)
    }
    // Misaligned accesses in RAM complete; near the "devices" they trap.
    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let last = addr.saturating_add(len - 1);
        if (addr <= 0x1000_00ff && last >= 0x1000_0000) || (addr..=last).contains(&0x10_0000) {
            return RangeKind::Device;
        }
        let off = addr.checked_sub(BASE).and_then(|o| o.checked_add(len));
        match off {
            Some(end) if end <= self.ram.len() as u64 => RangeKind::Memory { writable: true },
            _ => RangeKind::Nothing,
        }
    }
}

fn run_seed(seed: u64) -> RunExit {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut mem = Mem { ram: (0..SIZE).map(|_| rng.next() as u8).collect() };
    let mut hart = Hart::new(0, BASE + ((rng.next() % SIZE as u64) & !1));
    for r in 1..32 {
        // Mostly pointers into RAM, so loads and stores often succeed.
        hart.x[r] = if rng.next().is_multiple_of(4) { rng.next() } else { BASE + rng.next() % SIZE as u64 };
    }
    let mut last = RunExit::Budget;
    for round in 0..20 {
        hart.set_time(round * 1000);
        if rng.next().is_multiple_of(3) {
            hart.set_irq_pin(wemu_cpu::IrqPin::MachineTimer, rng.next().is_multiple_of(2));
        }
        last = hart.run(&mut mem, 2_000);
        if let RunExit::Halt(h) = last {
            // A halt must name a pc and render without panicking.
            assert!(!h.to_string().is_empty());
            break;
        }
    }
    last
}

#[test]
fn random_guests_never_panic_the_host() {
    let seeds: u64 = std::env::var("WEMU_STREAM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut halts = 0;
    for seed in 0..seeds {
        if matches!(run_seed(seed), RunExit::Halt(_)) {
            halts += 1;
        }
    }
    // Random code mostly ends in a trap loop (mtvec = 0): the detector
    // must have fired on some seeds, or this test exercised nothing.
    assert!(halts > 0, "no seed halted");
}

#[test]
fn random_instruction_words_all_disassemble() {
    let mut rng = Rng(42);
    for _ in 0..200_000 {
        let raw = rng.next() as u32;
        let _ = wemu_cpu::disassemble_at(raw, BASE);
    }
}
