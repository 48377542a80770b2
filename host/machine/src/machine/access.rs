//! A hart's memory accesses, in the two pieces generated code (the coming
//! JIT) will call and the interpreter's [`Memory`] impl is built on:
//!
//! - the **RAM window** ([`Platform::ram_window`]): the RAM block an
//!   address falls in, as a host pointer, guest-physical base, length and
//!   whether it is writable. Code may load and store inside it directly;
//!   the interpreter keeps the block its last access hit (`last_ram`) and
//!   tries it first;
//! - the **slow path** ([`Platform::access_slow`], and [`slow_access`] for
//!   generated code): everything else, through the address map — RAM the
//!   window missed, device registers (MMIO dispatch, one function for reads
//!   and writes), holes. A device fault the machine survives completes the
//!   access here with its policy's value (reads all-ones, writes dropped)
//!   and asks the hart to yield; only a fault under `stop` and a power
//!   request end the instruction ([`MemError::Stop`]).
//!
//! Every access carries its [`AccessInfo`] (hart and pc), which is where
//! fault reports and storm warnings take the guest pc from.

use wemu_cpu::{AccessInfo, MemError, Memory, RangeKind};

use super::Platform;
use super::fault::all_ones;
use crate::bus::Backing;

/// The RAM block an address falls in, as generated code uses it: bytes
/// `[base, base + len)` of guest-physical memory are at `host..host + len`.
/// Valid while the machine lives (blocks are never moved or unmapped while
/// it runs); writes through it must honour `writable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RamWindowInfo {
    /// Host address of the block's first byte.
    pub host: *mut u8,
    /// Guest-physical address of the block's first byte.
    pub base: u64,
    /// Length of the block in bytes.
    pub len: u64,
    /// False for ROM: stores take the slow path (and fault).
    pub writable: bool,
}

/// What an access is: a load, or a store of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemOp {
    Load,
    Store(u64),
}

/// The slow path's answer in C layout: `status` 0 = done (`value` is what
/// a load read; 0 for a store), 1 = access fault (the guest traps), 2 =
/// the machine must stop before the instruction completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct SlowResult {
    pub value: u64,
    pub status: u32,
}

impl SlowResult {
    pub const OK: u32 = 0;
    pub const ACCESS_FAULT: u32 = 1;
    pub const STOP: u32 = 2;

    pub fn from_result(r: Result<u64, MemError>) -> Self {
        match r {
            Ok(value) => SlowResult { value, status: Self::OK },
            Err(MemError::AccessFault) => SlowResult { value: 0, status: Self::ACCESS_FAULT },
            Err(MemError::Stop) => SlowResult { value: 0, status: Self::STOP },
        }
    }

    pub fn into_result(self) -> Result<u64, MemError> {
        match self.status {
            Self::OK => Ok(self.value),
            Self::ACCESS_FAULT => Err(MemError::AccessFault),
            _ => Err(MemError::Stop),
        }
    }
}

/// The slow path as generated code calls it: a load (`write` false) or a
/// store of `value` of `size` bytes at guest-physical `addr`, made by the
/// instruction `at` describes. After it, generated code polls
/// [`Memory::yield_requested`] as the interpreter does.
pub extern "C" fn slow_access(
    platform: &mut Platform,
    at: AccessInfo,
    addr: u64,
    size: u8,
    write: bool,
    value: u64,
) -> SlowResult {
    let op = if write { MemOp::Store(value) } else { MemOp::Load };
    SlowResult::from_result(platform.access_slow(at, addr, size, op))
}

impl Platform {
    /// The RAM block `addr` falls in; `None` for device registers and holes.
    pub fn ram_window(&self, addr: u64) -> Option<RamWindowInfo> {
        let (m, _) = self.bus.find(addr)?;
        let Backing::Memory(i) = m.backing else { return None };
        let ram = &self.rams[i];
        Some(RamWindowInfo {
            host: ram.host_ptr(),
            base: ram.base(),
            len: ram.size(),
            writable: !ram.read_only(),
        })
    }

    /// An access the RAM window missed: through the address map. A RAM
    /// block it reaches becomes the interpreter's window.
    #[inline(never)]
    pub fn access_slow(&mut self, at: AccessInfo, addr: u64, size: u8, op: MemOp) -> Result<u64, MemError> {
        let Some((m, off)) = self.bus.find_range(addr, u64::from(size)) else {
            return Err(MemError::AccessFault);
        };
        match m.backing {
            Backing::Memory(i) => {
                self.last_ram.show(&self.rams[i]);
                let ram = &self.rams[i];
                match op {
                    MemOp::Load => ram.load(off as usize, size).ok_or(MemError::AccessFault),
                    MemOp::Store(v) if !ram.read_only() && ram.store(off as usize, size, v) => Ok(0),
                    MemOp::Store(_) => Err(MemError::AccessFault),
                }
            }
            Backing::Mmio { device, region } => self.mmio(at, device, region, off, size, op),
        }
    }

    /// One access to a device register, read or write. An isolated device
    /// reads all-ones and drops writes. A fault the machine survives
    /// completes the access the same way, at once, without calling the
    /// device again; its incident takes the pc from `at`. A pending stop
    /// (a fault under `stop`, a power request) ends the instruction.
    fn mmio(
        &mut self,
        at: AccessInfo,
        device: usize,
        region: u32,
        off: u64,
        size: u8,
        op: MemOp,
    ) -> Result<u64, MemError> {
        // What the access completes with when the device cannot answer.
        let fenced = match op {
            MemOp::Load => all_ones(size),
            MemOp::Store(_) => 0,
        };
        if self.is_isolated(device) {
            if self.trace_mmio {
                self.trace_mmio_access(device, region, off, size, op, "isolated");
            }
            return Ok(fenced);
        }
        if let Some(pc) = at.guest_pc() {
            self.guest_pc = Some(pc);
        }
        let now = self.now_ns;
        let dev = &mut self.slots[device].dev;
        let res = match op {
            MemOp::Load => dev.read(now, region, off, size),
            MemOp::Store(v) => dev.write(now, region, off, size, v).map(|r| r.map(|()| 0)),
        };
        if self.trace_mmio {
            let shown = match (&res, op) {
                (Ok(Ok(v)), MemOp::Load) => format!("{v:#x}"),
                (Ok(Ok(_)), MemOp::Store(_)) => "ok".to_owned(),
                (Ok(Err(e)), _) => format!("refused ({e:?})"),
                (Err(_), _) => "device fault".to_owned(),
            };
            self.trace_mmio_access(device, region, off, size, op, &shown);
        }
        let result = match res {
            Ok(Ok(v)) => {
                self.apply_effects(device);
                Ok(v)
            }
            Ok(Err(_)) => {
                self.apply_effects(device);
                Err(MemError::AccessFault)
            }
            Err(f) => {
                self.on_fault(device, f);
                Ok(fenced)
            }
        };
        if self.stop.is_some() {
            return Err(MemError::Stop);
        }
        result
    }

    /// `--trace mmio`: one line per device access.
    fn trace_mmio_access(&self, device: usize, region: u32, off: u64, size: u8, op: MemOp, shown: &str) {
        let name = &self.slots[device].spec.name;
        match op {
            MemOp::Load => {
                tracing::info!(target: "wemu::mmio", "{name} read  region {region} off {off:#x} size {size} -> {shown}")
            }
            MemOp::Store(value) => tracing::info!(
                target: "wemu::mmio",
                "{name} write region {region} off {off:#x} size {size} value {value:#x} -> {shown}"
            ),
        }
    }
}

impl Memory for Platform {
    // Loads and stores: the RAM window inline, the slow path out of line so
    // `Hart::run`'s loop stays small. The window is the block the previous
    // access hit; each block covers exactly its bus mapping, so the answer
    // is the one the address map would give. `at` is only read on the slow
    // path.
    #[inline]
    fn load(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        match self.last_ram.load(addr, size) {
            Some(v) => Ok(v),
            None => self.access_slow(at, addr, size, MemOp::Load),
        }
    }

    #[inline]
    fn store(&mut self, at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        match self.last_ram.store(addr, size, value) {
            Some(true) => Ok(()),
            Some(false) => Err(MemError::AccessFault),
            None => self.access_slow(at, addr, size, MemOp::Store(value)).map(drop),
        }
    }

    fn ram_window(&self) -> Option<wemu_cpu::RamWindow> {
        // The largest writable block: the machine's main memory.
        let ram = self.rams.iter().filter(|r| !r.read_only()).max_by_key(|r| r.size())?;
        Some(wemu_cpu::RamWindow { host: ram.host_ptr(), base: ram.base(), len: ram.size(), writable: true })
    }

    #[inline]
    fn yield_requested(&mut self) -> bool {
        !self.pin_changes.is_empty() || self.yield_now
    }

    /// For a misaligned access, which the hart completes only in memory:
    /// RAM/ROM blocks (adjacent ones too), a device register anywhere in
    /// the range, or a byte with nothing behind it.
    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let Some(last) = addr.checked_add(len.saturating_sub(1)) else { return RangeKind::Nothing };
        let (mut covered, mut writable) = (0, true);
        for m in self.bus.overlapping(addr, last) {
            match m.backing {
                Backing::Mmio { .. } => return RangeKind::Device,
                Backing::Memory(i) => {
                    writable &= !self.rams[i].read_only();
                    covered += last.min(m.base + (m.size - 1)) - addr.max(m.base) + 1;
                }
            }
        }
        if covered == len { RangeKind::Memory { writable } } else { RangeKind::Nothing }
    }

    #[inline]
    fn fetch(&mut self, _at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        // Code runs from memory only, never from device registers.
        match self.bus.find_range(addr, u64::from(size)) {
            Some((m, off)) => match m.backing {
                Backing::Memory(i) => self.rams[i].load(off as usize, size).ok_or(MemError::AccessFault),
                Backing::Mmio { .. } => Err(MemError::AccessFault),
            },
            None => Err(MemError::AccessFault),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;
    use crate::machine::fault::tests::{LSR, UART, uart_machine, uart_machine_with};
    use crate::machine::fault::{Action, FaultPolicy, Incident};

    const RAM: u64 = 0x8000_0000;
    /// A load or store made by hart 0's instruction at this pc.
    const AT: AccessInfo = AccessInfo { hart: 0, pc: 0x8000_0124 };

    #[test]
    fn the_ram_window_is_the_block_an_address_falls_in() {
        let mut m = uart_machine(FaultPolicy::Stop);
        let p = &mut m.platform;
        let w = p.ram_window(RAM + 0x10).expect("RAM");
        assert_eq!((w.base, w.len, w.writable), (RAM, 1 << 20, true));
        assert_eq!(p.ram_window(RAM + (1 << 20) - 1), Some(w), "its last byte");
        assert_eq!(p.ram_window(RAM + (1 << 20)), None, "past its end");
        assert_eq!(p.ram_window(UART), None, "device registers");
        // Generated code stores through the window; the bus sees it.
        // SAFETY: offset 0x10 of a 1 MiB block the machine keeps alive.
        unsafe { w.host.add(0x10).cast::<u32>().write_unaligned(0x1234_5678u32.to_le()) };
        assert_eq!(p.load(AccessInfo::HOST, RAM + 0x10, 4), Ok(0x1234_5678));
    }

    #[test]
    fn the_slow_path_reaches_memory_devices_and_holes() {
        let mut m = uart_machine(FaultPolicy::Stop);
        let p = &mut m.platform;
        let ok = |value| SlowResult { value, status: SlowResult::OK };
        assert_eq!(slow_access(p, AT, RAM + 8, 8, true, 0x55aa), ok(0));
        assert_eq!(slow_access(p, AT, RAM + 8, 8, false, 0), ok(0x55aa));
        assert_eq!(p.last_ram.load(RAM + 8, 2), Some(0x55aa), "the interpreter's window is the block");
        let hole = slow_access(p, AT, 0x4000_0000, 4, false, 0);
        assert_eq!(hole.status, SlowResult::ACCESS_FAULT);
        assert_eq!(hole.into_result(), Err(MemError::AccessFault));
        // LSR of an idle UART: the transmitter is empty (THRE and TEMT).
        let lsr = slow_access(p, AT, LSR, 1, false, 0);
        assert_eq!((lsr.status, lsr.value & 0x60), (SlowResult::OK, 0x60));
        assert_eq!(p.slots[0].dev.calls(), 1);
    }

    #[test]
    fn range_kind_tells_memory_devices_and_holes_apart() {
        let mut m = uart_machine(FaultPolicy::Stop);
        let p = &mut m.platform;
        let end = RAM + (1 << 20);
        let ram = RangeKind::Memory { writable: true };
        assert_eq!(p.range_kind(RAM + 1, 8), ram);
        assert_eq!(p.range_kind(end - 4, 4), ram, "the last bytes");
        assert_eq!(p.range_kind(end - 2, 4), RangeKind::Nothing, "past the end");
        assert_eq!(p.range_kind(0x4000_0000, 2), RangeKind::Nothing);
        assert_eq!(p.range_kind(UART + 1, 2), RangeKind::Device);
        assert_eq!(p.range_kind(UART - 1, 2), RangeKind::Device, "a hole and the device");
        assert_eq!(p.range_kind(u64::MAX, 2), RangeKind::Nothing, "wraps");
    }

    /// A UART whose every call runs out of fuel, under `policy`: a hart's
    /// read of LSR completes at once with all-ones, the incident has the
    /// pc of the access, and the hart is asked to yield, not to stop.
    fn survived_read(policy: FaultPolicy) -> Machine {
        let mut m = uart_machine_with(policy, "fuel = 1\n");
        let p = &mut m.platform;
        assert_eq!(p.slots[0].dev.calls(), 0);
        p.yield_now = false;
        assert_eq!(p.load(AT, LSR, 1), Ok(0xff), "all-ones of the access size");
        assert!(p.stop.is_none(), "the machine survives");
        assert!(p.yield_requested(), "the hart yields after the instruction");
        match &p.incidents[..] {
            [Incident::Fault { fault, pc, .. }] => {
                assert_eq!(*pc, Some(AT.pc), "the guest pc comes from the access record");
                assert!(fault.op.starts_with("read(region 0, offset 0x5"), "{}", fault.op);
            }
            other => panic!("{other:?}"),
        }
        m
    }

    #[test]
    fn a_survived_fault_completes_the_access_without_calling_a_device_again() {
        let m = survived_read(FaultPolicy::Isolate);
        assert_eq!(m.platform.slots[0].dev.calls(), 1, "only the read that faulted");
        assert!(m.platform.is_isolated(0));

        let m = survived_read(FaultPolicy::Reset);
        assert!(matches!(
            m.platform.incidents[0],
            Incident::Fault { action: Action::Reset { count: 1 }, .. }
        ));
        assert_eq!(m.platform.slots[0].dev.calls(), 0, "the new instance was not asked to read");
    }

    #[test]
    fn a_fault_under_stop_ends_the_instruction() {
        let mut m = uart_machine_with(FaultPolicy::Stop, "fuel = 1\n");
        assert_eq!(m.platform.load(AT, LSR, 1), Err(MemError::Stop));
        assert!(m.platform.incidents.is_empty());
        let err = m.run(Some(1)).expect_err("stopped").to_string();
        assert!(err.contains("device 'uart0' (ns16550a)"), "{err}");
    }
}
