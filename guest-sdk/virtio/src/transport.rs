//! The virtio-mmio register block (virtio 1.1 §4.2.2, version 2) around a
//! [`Backend`], and queue processing.
//!
//! Deviations from the letter of the spec follow QEMU's `virtio-mmio`:
//! control registers take only 32-bit accesses, anything else reads as 0
//! and is ignored on write (with a warning); unknown offsets likewise;
//! configuration-space reads past its end return all ones. An empty slot
//! (device ID 0) reads as zero except MagicValue, Version and VendorID,
//! and ignores writes.

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, clock, irq, log};

use crate::queue::{Fault, Queue, needs_interrupt};
use crate::{Backend, MAGIC, REGION_SIZE, VENDOR_ID, VERSION, feature, int, reg, status};

/// Timer that continues a burst of requests left over from the last call.
const CONTINUE_TIMER: u32 = 0;
/// Work done in one call before the rest is left to [`CONTINUE_TIMER`]:
/// one unit per request, per descriptor and per 64 KiB moved. A full
/// 256-entry queue of typical 3-descriptor requests is about 1,000 units;
/// the budget keeps a hostile driver (every head pointing at one maximal
/// chain) well inside the default fuel per call.
const WORK_BUDGET: u64 = 4096;

/// A virtio device on the MMIO transport. `B` is the device type.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "B: Backend")]
pub struct VirtioMmio<B> {
    pub backend: B,
    pub queues: Vec<Queue>,
    device_features_sel: u32,
    driver_features_sel: u32,
    /// Features the driver accepted (final once FEATURES_OK is set).
    pub driver_features: u64,
    queue_sel: u32,
    pub status: u32,
    pub interrupt_status: u32,
    config_generation: u32,
    irq_level: bool,
    /// CONTINUE_TIMER is armed.
    continuing: bool,
}

/// The empty slot: device ID 0, which drivers skip ("no device here").
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Empty;

impl Backend for Empty {
    const NAME: &'static str = "virtio-mmio";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DEVICE_ID: u32 = 0;
    const QUEUES: &'static [u16] = &[];

    fn create(props: &Props) -> Result<Self, String> {
        props.finish()?;
        Ok(Empty)
    }
    fn features(&self) -> u64 {
        0
    }
    fn config(&self) -> Vec<u8> {
        Vec::new()
    }
    fn process(&mut self, _queue: u16, _chain: &crate::Chain, _features: u64) -> Result<u32, Fault> {
        Err(Fault::new("an empty slot has no queues"))
    }
}

impl<B: Backend> VirtioMmio<B> {
    /// A device in power-on state around `backend`.
    pub fn new(backend: B) -> Self {
        VirtioMmio {
            backend,
            queues: B::QUEUES.iter().map(|&max| Queue::new(max)).collect(),
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            status: 0,
            interrupt_status: 0,
            config_generation: 0,
            irq_level: false,
            continuing: false,
        }
    }

    /// Every feature bit offered: the device type's plus the transport's.
    pub fn device_features(&self) -> u64 {
        self.backend.features() | feature::VERSION_1 | feature::INDIRECT_DESC | feature::EVENT_IDX
    }

    fn has(&self, f: u64) -> bool {
        self.driver_features & f != 0
    }

    fn update_irq(&mut self) {
        let level = self.interrupt_status != 0;
        if level != self.irq_level {
            self.irq_level = level;
            irq::set(0, level);
        }
    }

    /// The driver's reset (Status = 0): everything but the backend's own
    /// persistent state back to power-on values (§4.2.3.1).
    fn driver_reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.status = 0;
        self.interrupt_status = 0;
        // (The const test lets an empty slot's component drop the clock import.)
        if !B::QUEUES.is_empty() && self.continuing {
            clock::cancel_timer(CONTINUE_TIMER);
            self.continuing = false;
        }
        self.backend.driver_reset();
        self.update_irq();
    }

    /// The device can no longer serve the driver: §2.1.2 DEVICE_NEEDS_RESET,
    /// with a configuration-change interrupt once the driver is running.
    fn device_error(&mut self, fault: &Fault) {
        log::warn(&format!("{}: {}; setting DEVICE_NEEDS_RESET", B::NAME, fault.0));
        self.status |= status::DEVICE_NEEDS_RESET;
        if self.status & status::DRIVER_OK != 0 {
            self.interrupt_status |= int::CONFIG;
            self.update_irq();
        }
    }

    /// Queues are served only between DRIVER_OK and a reset or error.
    fn live(&self) -> bool {
        self.status & (status::DRIVER_OK | status::DEVICE_NEEDS_RESET) == status::DRIVER_OK
    }

    fn selected(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.driver_reset();
            return;
        }
        let old = self.status;
        // DEVICE_NEEDS_RESET belongs to the device: the driver can't clear it.
        let mut new = (value & !status::DEVICE_NEEDS_RESET) | (old & status::DEVICE_NEEDS_RESET);
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            // §2.2.2 / §6.1: accept only offered features, and VERSION_1 is
            // required (this transport has no legacy interface).
            let extra = self.driver_features & !self.device_features();
            if extra != 0 || !self.has(feature::VERSION_1) {
                log::warn(&format!(
                    "{}: refusing FEATURES_OK for driver features {:#x} (unoffered {extra:#x}, VERSION_1 {})",
                    B::NAME,
                    self.driver_features,
                    self.has(feature::VERSION_1)
                ));
                new &= !status::FEATURES_OK;
            }
        }
        if new & status::DRIVER_OK != 0 && new & status::FEATURES_OK == 0 {
            log::warn(&format!("{}: DRIVER_OK without FEATURES_OK", B::NAME));
            new &= !status::DRIVER_OK;
        }
        self.status = new;
        if new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0 {
            // Buffers made available before DRIVER_OK are served now.
            self.run_queues(None);
        }
    }

    fn write_queue_ready(&mut self, value: u32) {
        let Some(q) = self.queues.get_mut(self.queue_sel as usize) else {
            log::warn(&format!("{}: QueueReady for a queue that does not exist", B::NAME));
            return;
        };
        if value & 1 == 0 {
            q.ready = false;
            return;
        }
        if q.ready {
            return;
        }
        match q.validate() {
            Ok(()) => {
                q.ready = true;
                q.last_avail = 0;
                q.used_idx = 0;
            }
            Err(f) => self.device_error(&f),
        }
    }

    /// Set the low or high half of a queue address, while the queue is
    /// not live (§4.2.3.2: the driver configures a queue before QueueReady).
    fn write_queue_addr(&mut self, which: u64, value: u32) {
        let name = B::NAME;
        let Some(q) = self.selected() else {
            log::warn(&format!("{name}: queue address write for a queue that does not exist"));
            return;
        };
        if q.ready {
            log::warn(&format!("{name}: queue address write while the queue is ready ignored"));
            return;
        }
        let (field, high) = match which {
            reg::QUEUE_DESC_LOW => (&mut q.desc, false),
            reg::QUEUE_DESC_HIGH => (&mut q.desc, true),
            reg::QUEUE_DRIVER_LOW => (&mut q.avail, false),
            reg::QUEUE_DRIVER_HIGH => (&mut q.avail, true),
            reg::QUEUE_DEVICE_LOW => (&mut q.used, false),
            _ => (&mut q.used, true),
        };
        *field = if high {
            (*field & 0xffff_ffff) | (u64::from(value) << 32)
        } else {
            (*field & !0xffff_ffff) | u64::from(value)
        };
    }

    /// Serve queue `only` (or every queue), within the work budget; arm
    /// the continuation timer if requests are left.
    fn run_queues(&mut self, only: Option<usize>) {
        if B::QUEUES.is_empty() || !self.live() {
            return;
        }
        let mut budget = WORK_BUDGET;
        let mut more = false;
        for qi in 0..self.queues.len() {
            if only.is_some_and(|o| o != qi) {
                continue;
            }
            match self.run_queue(qi, &mut budget) {
                Ok(left) => more |= left,
                Err(f) => {
                    self.device_error(&f);
                    return;
                }
            }
        }
        if more && !self.continuing {
            clock::set_timer(CONTINUE_TIMER, clock::now_ns());
            self.continuing = true;
        }
    }

    /// Serve queue `qi` until it is empty or the budget is spent; returns
    /// whether requests are left.
    fn run_queue(&mut self, qi: usize, budget: &mut u64) -> Result<bool, Fault> {
        let event_idx = self.has(feature::EVENT_IDX);
        let indirect = self.has(feature::INDIRECT_DESC);
        let features = self.driver_features;
        let Some(q) = self.queues.get(qi) else { return Ok(false) };
        if !q.ready {
            return Ok(false);
        }
        let (view, mut pending) = q.poll(event_idx)?;
        if pending == 0 {
            return Ok(false);
        }
        let table = q.table()?;
        let mut notify = false;
        while pending > 0 && *budget > 0 {
            let q = &self.queues[qi];
            let head = q.next_head()?;
            let chain = q.walk(&table, head, indirect)?;
            let written = self.backend.process(qi as u16, &chain, features)?;
            let cost =
                1 + u64::from(chain.descriptors) + ((chain.readable_len() + chain.writable_len()) >> 16);
            *budget = budget.saturating_sub(cost);
            let q = &mut self.queues[qi];
            q.last_avail = q.last_avail.wrapping_add(1);
            let old = q.used_idx;
            q.push_used(head, written)?;
            notify |= needs_interrupt(event_idx, &view, old, q.used_idx);
            pending -= 1;
        }
        if event_idx {
            self.queues[qi].set_avail_event()?;
        }
        if notify {
            self.interrupt_status |= int::VRING;
            self.update_irq();
        }
        Ok(pending > 0)
    }

    fn read_control(&mut self, offset: u64) -> u32 {
        if B::DEVICE_ID == 0 {
            // QEMU's empty slot: read-as-zero but for the identification.
            return match offset {
                reg::MAGIC_VALUE => MAGIC,
                reg::VERSION => VERSION,
                reg::VENDOR_ID => VENDOR_ID,
                _ => 0,
            };
        }
        let q = self.queues.get(self.queue_sel as usize);
        match offset {
            reg::MAGIC_VALUE => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => B::DEVICE_ID,
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => q.map_or(0, |q| u32::from(q.max)),
            reg::QUEUE_READY => q.map_or(0, |q| u32::from(q.ready)),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            reg::CONFIG_GENERATION => self.config_generation,
            _ => {
                log::warn(&format!("{}: read of write-only or unknown register {offset:#x}", B::NAME));
                0
            }
        }
    }

    fn write_control(&mut self, offset: u64, value: u32) {
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = value,
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            reg::DRIVER_FEATURES => {
                if self.status & status::FEATURES_OK != 0 {
                    log::warn(&format!("{}: DriverFeatures write after FEATURES_OK ignored", B::NAME));
                    return;
                }
                match self.driver_features_sel {
                    0 => self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(value),
                    1 => {
                        self.driver_features = (self.driver_features & 0xffff_ffff) | (u64::from(value) << 32)
                    }
                    // Bits 64 and up: none are offered, so none can be accepted.
                    _ if value != 0 => {
                        log::warn(&format!("{}: driver accepts unoffered feature bits", B::NAME))
                    }
                    _ => {}
                }
            }
            reg::QUEUE_SEL => self.queue_sel = value,
            reg::QUEUE_NUM => {
                let name = B::NAME;
                match self.selected() {
                    Some(q) if !q.ready => q.num = value.min(u32::from(u16::MAX)) as u16,
                    Some(_) => log::warn(&format!("{name}: QueueNum write while the queue is ready ignored")),
                    None => log::warn(&format!("{name}: QueueNum for a queue that does not exist")),
                }
            }
            reg::QUEUE_READY => self.write_queue_ready(value),
            reg::QUEUE_NOTIFY => {
                if (value as usize) < self.queues.len() {
                    self.run_queues(Some(value as usize));
                } else {
                    log::warn(&format!("{}: notify of queue {value}, which does not exist", B::NAME));
                }
            }
            reg::INTERRUPT_ACK => {
                self.interrupt_status &= !value;
                self.update_irq();
            }
            reg::STATUS => self.write_status(value),
            reg::QUEUE_DESC_LOW
            | reg::QUEUE_DESC_HIGH
            | reg::QUEUE_DRIVER_LOW
            | reg::QUEUE_DRIVER_HIGH
            | reg::QUEUE_DEVICE_LOW
            | reg::QUEUE_DEVICE_HIGH => self.write_queue_addr(offset, value),
            _ => log::warn(&format!(
                "{}: write of {value:#x} to read-only or unknown register {offset:#x} ignored",
                B::NAME
            )),
        }
    }

    fn read_config(&self, offset: u64, size: u8) -> u64 {
        let cfg = self.backend.config();
        let start = (offset - reg::CONFIG) as usize;
        match cfg.get(start..start + size as usize) {
            Some(bytes) => bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
            // QEMU: reads past the configuration space return all ones.
            None => u64::MAX >> (64 - 8 * u32::from(size)),
        }
    }
}

impl<B: Backend> Device for VirtioMmio<B> {
    fn create(props: &Props) -> Result<Self, String> {
        Ok(VirtioMmio::new(B::create(props)?))
    }

    fn describe(&self) -> Description {
        Description::new(B::NAME, B::VERSION)
            .region("regs", REGION_SIZE)
            .irq_outputs(1)
            .dt_node(DtNode::new("virtio_mmio", &["virtio,mmio"]))
    }

    fn reset(&mut self) {
        self.driver_reset();
        self.backend.power_on_reset();
        self.config_generation = 0;
    }

    fn read(&mut self, _region: u32, offset: u64, size: u8) -> Result<u64, AccessError> {
        if offset >= REGION_SIZE || !matches!(size, 1 | 2 | 4 | 8) {
            return Err(AccessError::InvalidOffset);
        }
        if B::DEVICE_ID == 0 {
            // Before the width check, silently, as QEMU.
            return Ok(u64::from(self.read_control(offset)) & (u64::MAX >> (64 - 8 * u32::from(size))));
        }
        if offset >= reg::CONFIG {
            return Ok(self.read_config(offset, size));
        }
        if size != 4 {
            log::warn(&format!("{}: {size}-byte read of register {offset:#x} (32-bit only)", B::NAME));
            return Ok(0);
        }
        Ok(u64::from(self.read_control(offset)))
    }

    fn write(&mut self, _region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError> {
        if offset >= REGION_SIZE || !matches!(size, 1 | 2 | 4 | 8) {
            return Err(AccessError::InvalidOffset);
        }
        if B::DEVICE_ID == 0 {
            return Ok(());
        }
        if offset >= reg::CONFIG {
            let bytes = value.to_le_bytes();
            self.backend.write_config(offset - reg::CONFIG, &bytes[..size as usize]);
            return Ok(());
        }
        if size != 4 {
            log::warn(&format!("{}: {size}-byte write of register {offset:#x} (32-bit only)", B::NAME));
            return Ok(());
        }
        self.write_control(offset, value as u32);
        Ok(())
    }

    fn timer_fired(&mut self, id: u32) {
        if id == CONTINUE_TIMER && self.continuing {
            self.continuing = false;
            self.run_queues(None);
        }
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let s: VirtioMmio<B> = wemu_device_sdk::snapshot::restore(state)?;
        // QueueNum is stored as the driver wrote it and checked at
        // QueueReady (a size above QueueNumMax sets DEVICE_NEEDS_RESET
        // there), so only a ready queue must hold a valid layout: refusing
        // any other would refuse states `save` produces.
        let shapes_match = s.queues.len() == B::QUEUES.len()
            && s.queues.iter().zip(B::QUEUES).all(|(q, &max)| q.max == max)
            && s.queues.iter().all(|q| !q.ready || q.validate().is_ok());
        if !shapes_match {
            return Err(format!("{} state does not match this model's queues", B::NAME));
        }
        s.backend.validate()?;
        *self = s;
        // Timers are the host's: a continuation in flight is asked for again.
        if !B::QUEUES.is_empty() && self.continuing {
            clock::set_timer(CONTINUE_TIMER, clock::now_ns());
        }
        Ok(())
    }
}
