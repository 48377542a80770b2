//! SiFive PLIC (`sifive,plic-1.0.0`, `riscv,plic0`), register-compatible
//! with QEMU 7.2's `hw/intc/sifive_plic.c` in the layout of the riscv
//! `virt` board (one window of 0x60_0000 bytes):
//!
//! | offset                          | register                                   |
//! |---------------------------------|--------------------------------------------|
//! | `0x0 + 4*s`                     | priority of source `s` (source 0 reserved) |
//! | `0x1000 + 4*w`                  | pending bits of sources `32w..32w+31` (RO) |
//! | `0x2000 + 0x80*c + 4*w`         | enable bits of context `c`                 |
//! | `0x20_0000 + 0x1000*c`          | priority threshold of context `c`          |
//! | `0x20_0000 + 0x1000*c + 4`      | claim (read) / complete (write)            |
//!
//! Contexts follow QEMU's `hart-config` (default `"MS"` per hart): hart 0
//! M-mode is context 0, hart 0 S-mode context 1, hart 1 M-mode context 2…
//! Output line `c` is context `c`'s interrupt: high while some pending,
//! enabled, unclaimed source has a priority above the context's threshold.
//! Input line `s` is source `s`.
//!
//! As in QEMU: only 4-byte accesses (others fault); offsets inside the
//! window that hold no register read as zero and ignore writes; priority
//! and threshold writes are WARL (`value % (priorities + 1)`) when
//! `priorities + 1` is a power of two, else values above `priorities` are
//! ignored; enable words are stored as written; a completion clears the
//! claimed bit of any source below `sources`.
//!
//! Sources are level-triggered. QEMU sets a pending bit each time a device
//! calls `qemu_set_irq(line, 1)`, which QEMU devices do on every register
//! update; wemu delivers only level *changes*, so this model keeps each
//! input's level and re-pends a source that is still high when its claim
//! is completed, and re-evaluates the outputs when enable bits change
//! (QEMU waits for the next event). A level that drops does not clear a
//! pending bit (neither does QEMU's, nor a PLIC gateway).

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, DtValue, Props, irq, log};

/// Size of the register window (QEMU virt's `VIRT_PLIC_SIZE` for its
/// maximum of 512 harts × 2 contexts).
pub const WINDOW: u64 = 0x60_0000;
const PENDING_BASE: u64 = 0x1000;
const ENABLE_BASE: u64 = 0x2000;
const ENABLE_STRIDE: u64 = 0x80;
const CONTEXT_BASE: u64 = 0x20_0000;
const CONTEXT_STRIDE: u64 = 0x1000;
/// Most sources the layout has room for (priority words below 0x1000,
/// enable bits within one 0x80 stride).
const MAX_SOURCES: u32 = 1024;
/// Most contexts whose registers fit in the window.
const MAX_CONTEXTS: usize = ((WINDOW - CONTEXT_BASE) / CONTEXT_STRIDE) as usize;

/// Privilege mode a context interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    M,
    S,
    U,
}

/// One interrupt target: a hart and a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub hart: u32,
    pub mode: Mode,
}

/// Parse QEMU's `hart-config`: comma-separated hart groups, each a set of
/// mode letters in context order ("MS,MS" = two harts with an M and an S
/// context each; "M,MS" = hart 0 M only, hart 1 M and S).
pub fn parse_hart_config(config: &str) -> Result<Vec<Context>, String> {
    let mut contexts = Vec::new();
    for (hart, group) in config.split(',').enumerate() {
        let hart = u32::try_from(hart).map_err(|_| "property 'hart-config': too many harts".to_owned())?;
        if group.is_empty() {
            return Err(format!("property 'hart-config' = {config:?}: hart {hart} has no modes"));
        }
        let mut seen = Vec::new();
        for c in group.chars() {
            let mode = match c {
                'M' => Mode::M,
                'S' => Mode::S,
                'U' => Mode::U,
                _ => {
                    return Err(format!(
                        "property 'hart-config' = {config:?}: invalid mode '{c}' (expected M, S or U)"
                    ));
                }
            };
            if seen.contains(&mode) {
                return Err(format!("property 'hart-config' = {config:?}: duplicate mode '{c}'"));
            }
            seen.push(mode);
            contexts.push(Context { hart, mode });
        }
    }
    Ok(contexts)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plic {
    // Configuration (from properties).
    sources: u32,
    priorities: u32,
    harts: u32,
    contexts: Vec<Context>,
    // State: bit arrays hold one bit per source, 32 per word.
    priority: Vec<u32>,
    pending: Vec<u32>,
    claimed: Vec<u32>,
    /// `contexts × words` enable words, context-major.
    enable: Vec<u32>,
    threshold: Vec<u32>,
    /// Current level of each input line.
    level: Vec<u32>,
    /// Level each output line is driven to.
    out: Vec<bool>,
}

fn bit(words: &[u32], n: u32) -> bool {
    words.get((n >> 5) as usize).is_some_and(|w| w & (1 << (n & 31)) != 0)
}

fn set_bit(words: &mut [u32], n: u32, on: bool) {
    if let Some(w) = words.get_mut((n >> 5) as usize) {
        if on {
            *w |= 1 << (n & 31);
        } else {
            *w &= !(1 << (n & 31));
        }
    }
}

impl Plic {
    fn words(&self) -> usize {
        self.sources.div_ceil(32) as usize
    }

    fn power_on(sources: u32, priorities: u32, harts: u32, contexts: Vec<Context>) -> Self {
        let words = sources.div_ceil(32) as usize;
        let n = contexts.len();
        Plic {
            sources,
            priorities,
            harts,
            priority: vec![0; sources as usize],
            pending: vec![0; words],
            claimed: vec![0; words],
            enable: vec![0; n * words],
            threshold: vec![0; n],
            level: vec![0; words],
            out: vec![false; n],
            contexts,
        }
    }

    /// A priority or threshold value as QEMU stores it, or None if the
    /// write is ignored.
    fn legal_priority(&self, value: u64) -> Option<u32> {
        let levels = u64::from(self.priorities) + 1;
        if levels.is_power_of_two() {
            Some((value % levels) as u32)
        } else if value <= u64::from(self.priorities) {
            Some(value as u32)
        } else {
            None
        }
    }

    /// The source context `ctx` would claim now: the highest priority
    /// above its threshold among pending, enabled, unclaimed sources;
    /// ties go to the lowest id. 0 if none.
    fn best(&self, ctx: usize) -> u32 {
        let words = self.words();
        let mut best = 0;
        let mut best_prio = self.threshold[ctx];
        for w in 0..words {
            let mut candidates = self.pending[w] & !self.claimed[w] & self.enable[ctx * words + w];
            while candidates != 0 {
                let source = (w as u32) * 32 + candidates.trailing_zeros();
                candidates &= candidates - 1;
                let prio = self.priority.get(source as usize).copied().unwrap_or(0);
                if prio > best_prio {
                    best = source;
                    best_prio = prio;
                }
            }
        }
        best
    }

    /// Drive every output line to its context's current condition.
    fn update(&mut self) {
        for ctx in 0..self.contexts.len() {
            let level = self.contexts[ctx].mode != Mode::U && self.best(ctx) != 0;
            if level != self.out[ctx] {
                self.out[ctx] = level;
                irq::set(ctx as u32, level);
            }
        }
    }

    fn claim(&mut self, ctx: usize) -> u32 {
        let source = self.best(ctx);
        if source != 0 {
            set_bit(&mut self.pending, source, false);
            set_bit(&mut self.claimed, source, true);
        }
        self.update();
        source
    }

    fn complete(&mut self, source: u64) {
        // QEMU accepts any source id below `sources`, whether or not the
        // completing context had it enabled or claimed.
        let Ok(source) = u32::try_from(source) else { return };
        if source >= self.sources {
            log::debug(&format!("completion of source {source} ignored: only {} sources", self.sources));
            return;
        }
        set_bit(&mut self.claimed, source, false);
        if source != 0 && bit(&self.level, source) {
            set_bit(&mut self.pending, source, true);
        }
        self.update();
    }

    /// Which register `offset` is.
    fn decode(&self, offset: u64) -> Reg {
        let words = self.words() as u64;
        let contexts = self.contexts.len() as u64;
        if offset < u64::from(self.sources) * 4 {
            Reg::Priority((offset / 4) as u32)
        } else if (PENDING_BASE..PENDING_BASE + words * 4).contains(&offset) {
            Reg::Pending(((offset - PENDING_BASE) / 4) as usize)
        } else if (ENABLE_BASE..ENABLE_BASE + contexts * ENABLE_STRIDE).contains(&offset) {
            let ctx = ((offset - ENABLE_BASE) / ENABLE_STRIDE) as usize;
            let word = ((offset - ENABLE_BASE) % ENABLE_STRIDE / 4) as usize;
            if (word as u64) < words { Reg::Enable(ctx, word) } else { Reg::None }
        } else if (CONTEXT_BASE..CONTEXT_BASE + contexts * CONTEXT_STRIDE).contains(&offset) {
            let ctx = ((offset - CONTEXT_BASE) / CONTEXT_STRIDE) as usize;
            match (offset - CONTEXT_BASE) % CONTEXT_STRIDE {
                0 => Reg::Threshold(ctx),
                4 => Reg::Claim(ctx),
                _ => Reg::None,
            }
        } else {
            Reg::None
        }
    }
}

/// A decoded register offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reg {
    Priority(u32),
    Pending(usize),
    Enable(usize, usize),
    Threshold(usize),
    Claim(usize),
    /// Inside the window but no register: reads 0, writes ignored.
    None,
}

impl Device for Plic {
    fn create(props: &Props) -> Result<Self, String> {
        let sources = props.u32_or("sources", 96)?;
        if !(1..=MAX_SOURCES).contains(&sources) {
            return Err(format!(
                "property 'sources' = {sources} must be 1..={MAX_SOURCES} (the count includes the reserved source 0)"
            ));
        }
        let priorities = props.u32_or("priorities", 7)?;
        if priorities == 0 {
            return Err("property 'priorities' must be at least 1".to_owned());
        }
        let harts = props.u32_or("harts", 1)?;
        let config = props.str_or("hart-config", "")?;
        props.finish()?;
        let contexts = if config.is_empty() {
            if harts == 0 {
                return Err("property 'harts' must be at least 1".to_owned());
            }
            (0..harts)
                .flat_map(|hart| [Context { hart, mode: Mode::M }, Context { hart, mode: Mode::S }])
                .collect()
        } else {
            let contexts = parse_hart_config(&config)?;
            let described = contexts.last().map_or(0, |c| c.hart + 1);
            if props_has_harts(props) && described != harts {
                return Err(format!(
                    "property 'hart-config' = {config:?} describes {described} hart(s) but 'harts' = {harts}"
                ));
            }
            contexts
        };
        if contexts.len() > MAX_CONTEXTS {
            return Err(format!(
                "{} contexts do not fit in the register window (at most {MAX_CONTEXTS})",
                contexts.len()
            ));
        }
        let harts = contexts.last().map_or(0, |c| c.hart + 1);
        Ok(Self::power_on(sources, priorities, harts, contexts))
    }

    fn describe(&self) -> Description {
        let node = DtNode::new("plic", &["sifive,plic-1.0.0", "riscv,plic0"])
            .prop_u32("#interrupt-cells", 1)
            .prop_u32("#address-cells", 0)
            .prop("interrupt-controller", DtValue::Empty)
            .prop_u32("riscv,ndev", self.sources - 1);
        Description::new("plic", env!("CARGO_PKG_VERSION"))
            .region("regs", WINDOW)
            .irq_inputs(self.sources)
            .irq_outputs(self.contexts.len() as u32)
            .dt_node(node)
    }

    fn reset(&mut self) {
        let out = std::mem::take(&mut self.out);
        *self = Self::power_on(self.sources, self.priorities, self.harts, self.contexts.clone());
        for (ctx, high) in out.into_iter().enumerate() {
            if high {
                irq::set(ctx as u32, false);
            }
        }
    }

    fn read(&mut self, _region: u32, offset: u64, size: u8) -> Result<u64, AccessError> {
        if size != 4 {
            return Err(AccessError::InvalidSize);
        }
        let words = self.words();
        let value = match self.decode(offset) {
            Reg::Priority(s) => self.priority[s as usize],
            Reg::Pending(w) => self.pending[w],
            Reg::Enable(ctx, w) => self.enable[ctx * words + w],
            Reg::Threshold(ctx) => self.threshold[ctx],
            Reg::Claim(ctx) => self.claim(ctx),
            Reg::None => {
                log::debug(&format!("read of unimplemented offset {offset:#x}"));
                0
            }
        };
        Ok(u64::from(value))
    }

    fn write(&mut self, _region: u32, offset: u64, size: u8, value: u64) -> Result<(), AccessError> {
        if size != 4 {
            return Err(AccessError::InvalidSize);
        }
        let value = value & 0xffff_ffff;
        let words = self.words();
        match self.decode(offset) {
            Reg::Priority(0) => log::debug("write to reserved source 0 priority ignored"),
            Reg::Priority(s) => {
                if let Some(p) = self.legal_priority(value) {
                    self.priority[s as usize] = p;
                    self.update();
                }
            }
            Reg::Pending(_) => log::debug("write to read-only pending bits ignored"),
            Reg::Enable(ctx, w) => {
                // QEMU re-evaluates its lines only at the next event, which
                // its devices provide by re-signalling their level on every
                // register access. wemu signals only changes, so a source
                // already pending would wait forever: evaluate now, as a
                // PLIC does.
                self.enable[ctx * words + w] = value as u32;
                self.update();
            }
            Reg::Threshold(ctx) => {
                if let Some(t) = self.legal_priority(value) {
                    self.threshold[ctx] = t;
                    self.update();
                }
            }
            Reg::Claim(_) => self.complete(value),
            Reg::None => log::debug(&format!("write of {value:#x} to unimplemented offset {offset:#x}")),
        }
        Ok(())
    }

    fn irq_input(&mut self, line: u32, level: bool) {
        if line == 0 || line >= self.sources {
            log::debug(&format!("input {line} is not a source; ignored"));
            return;
        }
        let rising = level && !bit(&self.level, line);
        set_bit(&mut self.level, line, level);
        if rising {
            set_bit(&mut self.pending, line, true);
            self.update();
        }
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let restored: Plic = wemu_device_sdk::snapshot::restore(state)?;
        let words = restored.sources.div_ceil(32) as usize;
        let n = restored.contexts.len();
        let consistent = restored.sources == self.sources
            && restored.contexts == self.contexts
            && restored.priority.len() == restored.sources as usize
            && [&restored.pending, &restored.claimed, &restored.level].iter().all(|v| v.len() == words)
            && restored.enable.len() == n * words
            && restored.threshold.len() == n
            && restored.out.len() == n;
        if !consistent {
            return Err("plic state does not match this instance's sources and contexts".to_owned());
        }
        *self = restored;
        // Drive every line to the restored level.
        for (ctx, &high) in self.out.iter().enumerate() {
            irq::set(ctx as u32, high);
        }
        Ok(())
    }
}

/// Whether the machine file gave `harts` (as opposed to the default).
fn props_has_harts(props: &Props) -> bool {
    // `u32_or` with two different defaults tells a given value from the
    // default without a dedicated API.
    matches!((props.u32_or("harts", 0), props.u32_or("harts", 1)), (Ok(a), Ok(b)) if a == b)
}

wemu_device_sdk::export_device!(Plic);

#[cfg(test)]
mod tests;
