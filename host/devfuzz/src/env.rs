//! The world a fuzzed device lives in: one instance with every capability
//! it imports granted against fuzzer-owned backends.
//!
//! | capability | sandbox |
//! |------------|---------|
//! | irq | output levels observed; input lines toggled by `irq` ops |
//! | clock | a virtual clock the input advances; due timers fire in deadline order |
//! | dma | 1 MiB of RAM at `RAM_BASE`, the only window (`poke` ops fill it) |
//! | chardev | `PORTS` ports, output captured per operation (at most `OUTPUT_PER_OP` bytes: then the ports take nothing, as a full line), input from `input` ops |
//! | block | a 64 KiB image in memory |
//! | power | requests recorded |
//!
//! Everything is put back between inputs cheaply: only RAM pages and the
//! block image that were written are cleared.

use std::cell::RefCell;
use std::rc::Rc;

use super::coverage::CoverageMap;
use super::ops::{FuzzOp, RAM_BASE, RAM_SIZE};
use super::target::FuzzTarget;
use crate::block::MemoryImage;
use crate::memory::SandboxRam;
use wemu_sandbox::EventQueue;
use wemu_sandbox::backend::{BlockBackend, CharSink, DmaMemory};
use wemu_sandbox::contract::types::AccessError;
use wemu_sandbox::device::{
    CreateError, DeviceFault, DeviceImports, DmaEvent, PowerRequest, TimerOp, WasmDevice,
};

/// Character ports granted.
pub const PORTS: u32 = 2;
/// Size of the in-memory block image.
pub const BLOCK_SIZE: usize = 64 << 10;
/// Timer firings allowed at one instant before it counts as a hang (a
/// device that re-arms a timer in the past from `timer-fired` would
/// otherwise spin the host forever).
pub const MAX_FIRES: usize = 64;
const PAGE: usize = 4096;
const PAGES: usize = RAM_SIZE as usize / PAGE;

/// What the device answered to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    None,
    Read(Result<u64, AccessError>),
    Write(Result<(), AccessError>),
    /// Bytes taken by `char-input`.
    Taken(u32),
    /// The level an input line was toggled to.
    Level(bool),
    /// Timers that fired during an `advance`.
    Fired(Vec<u32>),
    /// Size of the saved state.
    Saved(usize),
}

/// Everything observable that one operation caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub answer: Answer,
    /// IRQ output lines that changed level, in order.
    pub irqs: Vec<(u32, bool)>,
    /// Bytes written to character ports.
    pub output: Vec<(u32, Vec<u8>)>,
    pub power: Option<PowerRequest>,
    pub dma: Vec<DmaEvent>,
}

impl Observation {
    fn new(answer: Answer) -> Self {
        Observation { answer, irqs: Vec::new(), output: Vec::new(), power: None, dma: Vec::new() }
    }

    /// The first way `self` (the original) and `other` (the restored copy)
    /// differ, if any. Which timers fired is not compared: a stale timer
    /// that does nothing when it fires is not a difference in behaviour.
    pub fn difference(&self, other: &Observation) -> Option<String> {
        let answers_differ = match (&self.answer, &other.answer) {
            (Answer::Fired(_), Answer::Fired(_)) => false,
            (a, b) => a != b,
        };
        if answers_differ {
            return Some(format!("answered {:?}, the restored copy {:?}", self.answer, other.answer));
        }
        if self.irqs != other.irqs {
            return Some(format!("changed IRQ lines {:?}, the restored copy {:?}", self.irqs, other.irqs));
        }
        if self.output != other.output {
            return Some(format!("wrote {:?}, the restored copy {:?}", self.output, other.output));
        }
        if self.power != other.power {
            return Some(format!("asked for power {:?}, the restored copy {:?}", self.power, other.power));
        }
        if self.dma != other.dma {
            return Some(format!("made DMA requests {:?}, the restored copy {:?}", self.dma, other.dma));
        }
        None
    }
}

/// Why an operation could not complete.
#[derive(Debug)]
pub enum Stop {
    /// The device faulted (the instance is unusable from now on).
    Fault(DeviceFault),
    /// Timers kept firing without time passing.
    TimerStorm(u32),
}

/// Bytes written per port, in order, since the last operation's effects
/// were taken, and how many in all.
#[derive(Default)]
struct Captured {
    chunks: Vec<(u32, Vec<u8>)>,
    bytes: usize,
}
type Output = Rc<RefCell<Captured>>;

/// Output bytes captured in one operation, all ports together. Past it the
/// ports take nothing (`chardev.write` may take fewer bytes than offered,
/// as a full line does), so a device writing in a loop cannot fill the
/// host's memory, and a device's handling of a full line gets fuzzed too.
pub const OUTPUT_PER_OP: usize = 64 << 10;

/// Output captured from the device's character ports.
struct PortSink {
    port: u32,
    out: Output,
}

impl CharSink for PortSink {
    fn write(&mut self, data: &[u8]) -> usize {
        let mut out = self.out.borrow_mut();
        let data = &data[..data.len().min(OUTPUT_PER_OP.saturating_sub(out.bytes))];
        if data.is_empty() {
            return 0;
        }
        out.bytes += data.len();
        match out.chunks.last_mut() {
            Some((p, bytes)) if *p == self.port => bytes.extend_from_slice(data),
            _ => out.chunks.push((self.port, data.to_vec())),
        }
        data.len()
    }
}

/// One device instance in its sandbox.
pub struct Sandbox {
    pub dev: WasmDevice,
    ram: Rc<SandboxRam>,
    /// The block image, when the device imports `block`.
    block: Option<Rc<MemoryImage>>,
    output: Output,
    pub coverage: Option<CoverageMap>,
    timers: EventQueue,
    pub now: u64,
    /// Output line levels.
    levels: Vec<bool>,
    /// Input line levels.
    inputs: Vec<bool>,
    /// RAM pages written since the last `clear`.
    dirty: [u64; PAGES / 64],
    /// Serialized state right after `create` (what `reset` must return to).
    pub baseline: Vec<u8>,
}

impl Sandbox {
    /// Instantiate the target in a fresh sandbox.
    pub fn new(target: &FuzzTarget) -> Result<Self, CreateError> {
        let ram = Rc::new(SandboxRam::new(RAM_BASE, RAM_SIZE as usize));
        let output = Rc::new(RefCell::new(Captured::default()));
        let mut imports = DeviceImports::new(&target.name, target.memory_limit);
        imports.limiter.exempt = target.coverage_bytes;
        imports.dma.windows = vec![(RAM_BASE, RAM_SIZE)];
        imports.dma.rams = vec![Rc::clone(&ram) as Rc<dyn DmaMemory>];
        imports.dma_log = Some(Vec::new());
        imports.chardevs = (0..PORTS)
            .map(|port| Box::new(PortSink { port, out: output.clone() }) as Box<dyn CharSink>)
            .collect();
        let block = target
            .loaded
            .checked
            .capabilities
            .contains(&"block")
            .then(|| Rc::new(MemoryImage::new(vec![0; BLOCK_SIZE], false)));
        if let Some(img) = &block {
            imports.blocks = vec![Rc::clone(img) as Rc<dyn BlockBackend>];
        }
        let mut dev = WasmDevice::create(
            &target.engine,
            &target.loaded.pre,
            &target.name,
            imports,
            target.fuel,
            target.props.clone(),
        )?;
        let coverage = match target.blocks {
            Some(_) => Some(CoverageMap::attach(&mut dev, target.counters).map_err(|e| {
                CreateError::Instantiate {
                    device: target.name.clone(),
                    component: target.name.clone(),
                    message: format!("{e:#}"),
                }
            })?),
            None => None,
        };
        let d = dev.description();
        let (outputs, inputs) = (d.irq_outputs as usize, d.irq_inputs as usize);
        let mut sb = Sandbox {
            dev,
            ram,
            block,
            output,
            coverage,
            timers: EventQueue::default(),
            now: 0,
            levels: vec![false; outputs],
            inputs: vec![false; inputs],
            dirty: [0; PAGES / 64],
            baseline: Vec::new(),
        };
        // Lines and timers set by `create` are part of power-on state.
        let mut obs = Observation::new(Answer::None);
        sb.apply_effects(&mut obs);
        sb.baseline = sb.dev.save(0).map_err(CreateError::Fault)?;
        Ok(sb)
    }

    /// Put the environment back to its start state (the device itself is
    /// reset by the caller).
    pub fn clear(&mut self) {
        self.now = 0;
        self.timers.clear();
        self.inputs.fill(false);
        for (w, word) in self.dirty.iter_mut().enumerate() {
            while *word != 0 {
                let bit = word.trailing_zeros() as usize;
                *word &= *word - 1;
                self.ram.write((w * 64 + bit) * PAGE, &[0; PAGE]);
            }
        }
        if let Some(img) = &self.block {
            img.fail_next(0);
            if img.take_dirty() {
                img.set_contents(&[]);
                img.take_dirty();
            }
        }
        if let Some(log) = &mut self.dev.imports_mut().dma_log {
            log.clear();
        }
        *self.output.borrow_mut() = Captured::default();
    }

    fn mark_dirty(&mut self, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = (offset / PAGE as u64) as usize;
        let last = ((offset + len - 1) / PAGE as u64) as usize;
        for page in first..=last.min(PAGES - 1) {
            self.dirty[page / 64] |= 1 << (page % 64);
        }
    }

    /// Apply the effects the device queued (IRQs, timers, power) and move
    /// captured output and DMA requests into `obs`.
    fn apply_effects(&mut self, obs: &mut Observation) {
        // Drained in place: the queues keep their capacity for the next call.
        let Sandbox { dev, levels, timers, .. } = self;
        let st = dev.imports_mut();
        for (line, level) in st.irq_changes.drain(..) {
            // The host checked the line against the declared outputs.
            if let Some(l) = levels.get_mut(line as usize)
                && *l != level
            {
                *l = level;
                obs.irqs.push((line, level));
            }
        }
        for op in st.timers.take() {
            match op {
                TimerOp::Set { id, deadline_ns } => timers.set(0, id, deadline_ns),
                TimerOp::Cancel { id } => timers.cancel(0, id),
            }
        }
        let power = st.power.take();
        if power.is_some() {
            obs.power = power;
        }
        let mut out = self.output.borrow_mut();
        if !out.chunks.is_empty() {
            obs.output.append(&mut out.chunks);
        }
        out.bytes = 0;
        drop(out);
        let writes: Vec<(u64, u64)> = match &mut self.dev.imports_mut().dma_log {
            Some(log) if !log.is_empty() => {
                let w = log
                    .iter()
                    .filter(|e| e.write && e.result.is_ok())
                    .map(|e| (e.addr - RAM_BASE, e.len))
                    .collect();
                obs.dma.append(log);
                w
            }
            _ => Vec::new(),
        };
        for (off, len) in writes {
            self.mark_dirty(off, len);
        }
    }

    /// Run one operation. `FuzzOp::SaveRestore` is the harness's business: here
    /// it only saves (the answer is the state's size).
    pub fn exec(&mut self, op: &FuzzOp) -> Result<Observation, Stop> {
        let now = self.now;
        let answer = match op {
            FuzzOp::Read { region, offset, size } => {
                Answer::Read(self.dev.read(now, *region, *offset, *size).map_err(Stop::Fault)?)
            }
            FuzzOp::Write { region, offset, size, value } => {
                Answer::Write(self.dev.write(now, *region, *offset, *size, *value).map_err(Stop::Fault)?)
            }
            FuzzOp::Irq { line } => {
                let Some(level) = self.inputs.get_mut(*line as usize) else {
                    return Ok(Observation::new(Answer::None));
                };
                *level = !*level;
                let level = *level;
                self.dev.irq_input(now, *line, level).map_err(Stop::Fault)?;
                Answer::Level(level)
            }
            FuzzOp::Advance { ns } => {
                self.now = now.saturating_add(*ns);
                let mut obs = Observation::new(Answer::None);
                let mut fired = Vec::new();
                while let Some((_, id)) = self.timers.pop_due(self.now) {
                    if fired.len() >= MAX_FIRES {
                        return Err(Stop::TimerStorm(id));
                    }
                    fired.push(id);
                    self.dev.timer_fired(self.now, id).map_err(Stop::Fault)?;
                    self.apply_effects(&mut obs);
                }
                obs.answer = Answer::Fired(fired);
                return Ok(obs);
            }
            FuzzOp::Input { port, data } => {
                Answer::Taken(self.dev.char_input(now, *port, data).map_err(Stop::Fault)? as u32)
            }
            FuzzOp::Reset => {
                self.dev.reset(now).map_err(Stop::Fault)?;
                // As on a machine reset: the host drops the device's timers.
                self.timers.clear();
                Answer::None
            }
            FuzzOp::SaveRestore => Answer::Saved(self.dev.save(now).map_err(Stop::Fault)?.len()),
            FuzzOp::Poke { offset, data } => {
                if self.ram.write(*offset as usize, data) {
                    self.mark_dirty(u64::from(*offset), data.len() as u64);
                }
                Answer::None
            }
            FuzzOp::BlockFail { count } => {
                if let Some(img) = &self.block {
                    img.fail_next(*count);
                }
                Answer::None
            }
        };
        let mut obs = Observation::new(answer);
        self.apply_effects(&mut obs);
        Ok(obs)
    }

    /// Make `self` (a freshly reset instance) the restored copy of `from`:
    /// its environment takes `from`'s clock, line levels, RAM and block
    /// image; its timers start empty (a device re-arms what it needs in
    /// `restore`, as `goldfish-rtc` does); then `restore(state)`.
    pub fn become_copy(&mut self, from: &Sandbox, state: &[u8]) -> Result<Result<Observation, String>, Stop> {
        self.clear();
        self.now = from.now;
        self.levels.clone_from(&from.levels);
        self.inputs.clone_from(&from.inputs);
        for (w, word) in from.dirty.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let page = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let mut buf = [0u8; PAGE];
                from.ram.read(page * PAGE, &mut buf);
                self.ram.write(page * PAGE, &buf);
                self.dirty[w] |= 1 << (page % 64);
            }
        }
        // Both start zeroed; only a written image needs copying.
        if let (Some(src), Some(dst)) = (&from.block, &self.block) {
            dst.fail_next(src.failures_pending());
            if src.is_dirty() {
                dst.set_contents(&src.contents());
            }
        }
        match self.dev.restore(self.now, state).map_err(Stop::Fault)? {
            Ok(()) => {
                let mut obs = Observation::new(Answer::None);
                self.apply_effects(&mut obs);
                Ok(Ok(obs))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// The first RAM page or block image byte where two sandboxes differ.
    pub fn memory_difference(&self, other: &Sandbox) -> Option<String> {
        let mut a = [0u8; PAGE];
        let mut b = [0u8; PAGE];
        for w in 0..self.dirty.len() {
            let mut word = self.dirty[w] | other.dirty[w];
            while word != 0 {
                let page = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                self.ram.read(page * PAGE, &mut a);
                other.ram.read(page * PAGE, &mut b);
                if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
                    let addr = RAM_BASE + (page * PAGE + i) as u64;
                    return Some(format!(
                        "RAM at {addr:#x} holds {:#04x}, in the restored copy {:#04x}",
                        a[i], b[i]
                    ));
                }
            }
        }
        let written = |s: &Sandbox| s.block.as_ref().is_some_and(|b| b.is_dirty());
        if !written(self) && !written(other) {
            return None;
        }
        let image = |s: &Sandbox| s.block.as_ref().map(|b| b.contents());
        match (image(self), image(other)) {
            (Some(x), Some(y)) if x != y => {
                let i = x.iter().zip(&y).position(|(p, q)| p != q).unwrap_or(0);
                Some(format!("the block image differs at byte {i:#x}"))
            }
            _ => None,
        }
    }

    /// The first refused DMA request in `obs` (outside the window).
    pub fn refused_dma(obs: &Observation) -> Option<&DmaEvent> {
        obs.dma.iter().find(|e| e.result.is_err())
    }
}

/// How a trace prints one observation.
pub fn describe(obs: &Observation) -> String {
    let mut parts = vec![match &obs.answer {
        Answer::None => "ok".to_owned(),
        Answer::Read(Ok(v)) => format!("-> {v:#x}"),
        Answer::Read(Err(e)) | Answer::Write(Err(e)) => format!("-> refused ({e:?})"),
        Answer::Write(Ok(())) => "-> ok".to_owned(),
        Answer::Taken(n) => format!("-> took {n}"),
        Answer::Level(l) => format!("-> line now {}", u8::from(*l)),
        Answer::Fired(ids) if ids.is_empty() => "-> no timer due".to_owned(),
        Answer::Fired(ids) => format!("-> fired timers {ids:?}"),
        Answer::Saved(n) => format!("-> saved {n} bytes"),
    }];
    for (line, level) in &obs.irqs {
        parts.push(format!("irq {line}={}", u8::from(*level)));
    }
    for (port, bytes) in &obs.output {
        parts.push(format!("out[{port}] {}", super::ops::Bytes(bytes)));
    }
    if let Some(p) = &obs.power {
        parts.push(format!("power {p:?}"));
    }
    for e in &obs.dma {
        parts.push(format!(
            "dma {} {:#x}+{} {}",
            if e.write { "write" } else { "read" },
            e.addr,
            e.len,
            match e.result {
                Ok(()) => "ok".to_owned(),
                Err(err) => format!("refused ({err:?})"),
            }
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_output_is_bounded_per_operation() {
        let out: Output = Rc::default();
        let mut a = PortSink { port: 0, out: out.clone() };
        let mut b = PortSink { port: 1, out: out.clone() };
        let big = vec![b'x'; OUTPUT_PER_OP - 10];
        assert_eq!(a.write(&big), big.len());
        assert_eq!(b.write(b"0123456789abcdef"), 10, "the rest of the budget, on another port");
        assert_eq!(a.write(b"more"), 0, "a full line takes nothing");
        assert_eq!(out.borrow().bytes, OUTPUT_PER_OP);
        // Taking the operation's output (apply_effects) makes room again.
        let taken = std::mem::take(&mut *out.borrow_mut());
        assert_eq!(taken.chunks.len(), 2);
        assert_eq!(a.write(b"more"), 4);
    }
}
