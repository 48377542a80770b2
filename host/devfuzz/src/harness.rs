//! Running one input against the device and judging the outcome.
//!
//! One instance is reused across inputs: after each input the harness
//! calls the device's `reset` and checks that `save()` then gives the same
//! bytes as right after `create` (otherwise state would leak from one
//! input into the next and reproducers would not reproduce; a device whose
//! reset fails that check is reported once, then gets a fresh instance per
//! input). After any finding the instances are replaced.
//!
//! ## The save/restore oracle
//!
//! At a `save-restore` operation the harness saves the device, resets a
//! second "shadow" instance, gives it a copy of the environment (clock,
//! IRQ levels, RAM, block image; no timers: a device re-arms its timers in
//! `restore`) and restores the saved bytes into it. For the next
//! `SHADOW_WINDOW` operations (or to the end of the input) every operation
//! runs on both, and everything observable must match: the
//! answer, the IRQ line changes, character output, power requests, DMA
//! requests, and, if the window lasts to the end, the RAM and block image
//! contents. A `restore`
//! that refuses its own `save`, a fault in the copy only, or any
//! difference is a `save-restore` finding. Comparing behaviour instead of
//! the bytes of a second `save` catches state that `save` leaves out, and
//! does not complain about serializations that differ harmlessly.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::env::{Observation, Sandbox, Stop, describe};
use super::finding::{Finding, FindingKind};
use super::ops::{Codec, FuzzOp};
use super::target::FuzzTarget;
use wemu_sandbox::device::CreateError;

/// Operations the restored copy shadows the original for after a
/// `save-restore` (state that `save` forgot shows when it is next used;
/// a mutation moves that use closer if it is further away).
pub const SHADOW_WINDOW: usize = 16;

thread_local! {
    /// The last host panic on this thread (message and location), recorded
    /// by the hook `install_panic_hook` sets.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many `catch_host_panic` calls this thread is inside: their
    /// panics are recorded for a report, any other is printed as usual.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Record the host panics `catch_host_panic` catches instead of printing
/// them (the fuzzer reports them); any other panic goes to the hook that
/// was there before (Rust's, which prints it). Idempotent.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while the thread's locals are torn down.
            if CATCHING.try_with(Cell::get).unwrap_or(0) > 0 {
                let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// Run `f`, turning a panic into its message (with the location when the
/// hook of `install_panic_hook` recorded one). Nests.
pub fn catch_host_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    /// Leaves the catching state however `f` ends.
    struct Catching;
    impl Drop for Catching {
        fn drop(&mut self) {
            CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    CATCHING.with(|c| c.set(c.get() + 1));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let guard = Catching;
    let result = catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    result.map_err(|payload| {
        LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned())
        })
    })
}

/// Where trace lines go (`--replay`).
pub type Trace<'a> = &'a mut dyn FnMut(String);

/// Runs inputs against one device.
pub struct Harness {
    target: Arc<FuzzTarget>,
    main: Option<Sandbox>,
    shadow: Option<Sandbox>,
    /// Catch host panics and report them (off under libFuzzer, which must
    /// see them).
    pub catch_panics: bool,
    /// Kinds not reported (and not stopping an input).
    ignore: Vec<FindingKind>,
    /// `reset` cannot be trusted: a fresh instance for every input.
    fresh_each_input: bool,
    /// Coverage of the last input: (block, hit-count bucket).
    pub hits: Vec<(u32, u8)>,
    /// Operations in the last input.
    pub last_ops: usize,
    /// Record `compared` for the next inputs.
    pub want_compared: bool,
    /// Comparisons with constants the last input made (when
    /// `want_compared`): the site and the value compared.
    pub compared: Vec<(super::instrument::CmpSite, u64)>,
}

impl Harness {
    pub fn new(target: Arc<FuzzTarget>, ignore: &[FindingKind]) -> Self {
        Harness {
            target,
            main: None,
            shadow: None,
            catch_panics: true,
            ignore: ignore.to_vec(),
            fresh_each_input: ignore.contains(&FindingKind::Reset),
            hits: Vec::new(),
            last_ops: 0,
            want_compared: false,
            compared: Vec::new(),
        }
    }

    pub fn codec(&self) -> &Codec {
        &self.target.codec
    }

    pub fn target(&self) -> &Arc<FuzzTarget> {
        &self.target
    }

    /// Run `input`; the finding, if any. `trace` gets one line per
    /// operation.
    pub fn run(&mut self, input: &[u8], trace: Option<Trace<'_>>) -> Option<Finding> {
        let ops = self.target.codec.decode(input);
        self.run_ops(&ops, trace)
    }

    pub fn run_ops(&mut self, ops: &[FuzzOp], trace: Option<Trace<'_>>) -> Option<Finding> {
        let reused = self.main.is_some() && !self.fresh_each_input;
        let finding = self.run_once(ops, trace);
        // A finding on an instance that ran earlier inputs may depend on
        // them (linear memory never shrinks, so a heap grown by earlier
        // inputs meets the limit sooner). Report it only if the input alone
        // gives it on a fresh instance, as its reproducer will be replayed.
        // (Instances are dropped after a finding, so this run is fresh.)
        if reused && finding.is_some() { self.run_once(ops, None) } else { finding }
    }

    fn run_once(&mut self, ops: &[FuzzOp], trace: Option<Trace<'_>>) -> Option<Finding> {
        self.hits.clear();
        self.compared.clear();
        self.last_ops = ops.len();
        let finding = if self.catch_panics {
            match catch_host_panic(|| self.execute(ops, trace)) {
                Ok(f) => f,
                Err(message) => {
                    // Whatever state the instances are in, drop them.
                    self.main = None;
                    self.shadow = None;
                    let location = message.lines().next().unwrap_or("").to_owned();
                    Some(Finding::new(
                        FindingKind::HostPanic,
                        None,
                        format!("the host panicked (a wemu bug, not the device's): {message}"),
                        &location,
                    ))
                }
            }
        } else {
            self.execute(ops, trace)
        };
        finding.filter(|f| !self.ignore.contains(&f.kind))
    }

    fn ignored(&self, kind: FindingKind) -> bool {
        self.ignore.contains(&kind)
    }

    fn execute(&mut self, ops: &[FuzzOp], mut trace: Option<Trace<'_>>) -> Option<Finding> {
        let codec = &self.target.codec;
        if self.fresh_each_input {
            self.main = None;
        }
        if self.main.is_none() {
            match Sandbox::new(&self.target) {
                Ok(s) => self.main = Some(s),
                Err(e) => return Some(create_failure(e)),
            }
        }
        let ignore_dma = self.ignored(FindingKind::Dma);
        let ignore_reset = self.ignored(FindingKind::Reset);
        let main = self.main.as_mut()?;
        main.clear();
        if let Some(cov) = &mut main.coverage {
            cov.begin(&main.dev);
        }
        let mut shadow_active = false;
        let mut shadow_until = 0usize;
        let mut finding = None;
        // Which instances faulted (and must be replaced).
        let (mut main_dead, mut shadow_dead) = (false, false);

        for (i, op) in ops.iter().enumerate() {
            if let FuzzOp::SaveRestore = op {
                let state = match main.dev.save(main.now) {
                    Ok(s) => s,
                    Err(f) => {
                        main_dead = true;
                        finding = Some(Finding::from_fault(&f, Some(i), "save"));
                        break;
                    }
                };
                if self.shadow.is_none() {
                    match Sandbox::new(&self.target) {
                        Ok(s) => self.shadow = Some(s),
                        Err(e) => {
                            finding = Some(create_failure(e));
                            break;
                        }
                    }
                }
                let Some(shadow) = self.shadow.as_mut() else { break };
                if let Some(cov) = &mut shadow.coverage {
                    if shadow_active {
                        cov.collect(&shadow.dev, &mut self.hits);
                    }
                    cov.begin(&shadow.dev);
                }
                let restored = match shadow.exec(&FuzzOp::Reset) {
                    Ok(_) => shadow.become_copy(main, &state),
                    Err(stop) => Err(stop),
                };
                match restored {
                    Ok(Ok(obs)) => {
                        shadow_active = true;
                        shadow_until = i + SHADOW_WINDOW;
                        if let Some(t) = trace.as_mut() {
                            t(format!(
                                "#{i} {} -> saved {} bytes, restored; {}",
                                codec.describe(op),
                                state.len(),
                                describe(&obs)
                            ));
                        }
                    }
                    Ok(Err(msg)) => {
                        finding = Some(Finding::new(
                            FindingKind::SaveRestore,
                            Some(i),
                            format!("restore refused the state save had just produced: {msg}"),
                            "restore refused its own state",
                        ));
                        break;
                    }
                    Err(stop) => {
                        shadow_dead = true;
                        finding = Some(stop_finding(&stop, Some(i), "restore"));
                        break;
                    }
                }
                continue;
            }

            let obs = match main.exec(op) {
                Ok(obs) => obs,
                Err(stop) => {
                    main_dead = matches!(stop, Stop::Fault(_));
                    if let Some(t) = trace.as_mut() {
                        t(format!("#{i} {} -> stopped", codec.describe(op)));
                    }
                    finding = Some(stop_finding(&stop, Some(i), Codec::kind_name(op)));
                    break;
                }
            };
            if let Some(t) = trace.as_mut() {
                t(format!("#{i} {} {}", codec.describe(op), describe(&obs)));
            }
            if let Some(e) = Sandbox::refused_dma(&obs)
                && !ignore_dma
            {
                finding = Some(Finding::new(
                    FindingKind::Dma,
                    Some(i),
                    format!(
                        "DMA {} of {} bytes at {:#x} outside the granted window {:#x}+{:#x} ({:?})",
                        if e.write { "write" } else { "read" },
                        e.len,
                        e.addr,
                        super::ops::RAM_BASE,
                        super::ops::RAM_SIZE,
                        e.result
                    ),
                    &format!("{} during {}", if e.write { "write" } else { "read" }, Codec::kind_name(op)),
                ));
                break;
            }
            if shadow_active && i > shadow_until {
                // The window is over: the copy stops shadowing.
                shadow_active = false;
                if let Some(shadow) = &self.shadow
                    && let Some(cov) = &shadow.coverage
                {
                    cov.collect(&shadow.dev, &mut self.hits);
                }
            }
            if shadow_active && let Some(shadow) = self.shadow.as_mut() {
                let copy = shadow.exec(op);
                if let Some(f) = compare(&obs, copy, i, op) {
                    shadow_dead = f.1;
                    if let Some(t) = trace.as_mut() {
                        t(format!("   the restored copy differs: {}", f.0.message));
                    }
                    finding = Some(f.0);
                    break;
                }
            }
        }

        if finding.is_none()
            && shadow_active
            && let Some(shadow) = &self.shadow
            && let Some(diff) = main.memory_difference(shadow)
        {
            finding = Some(Finding::new(
                FindingKind::SaveRestore,
                None,
                format!("after the last operation, {diff}"),
                "memory differs",
            ));
        }

        if let Some(cov) = &main.coverage {
            cov.collect(&main.dev, &mut self.hits);
            if self.want_compared {
                let t = &self.target;
                self.compared = cov.compared(&main.dev, &t.sites, t.slots, &self.hits);
            }
        }
        if shadow_active
            && let Some(shadow) = &self.shadow
            && let Some(cov) = &shadow.coverage
        {
            cov.collect(&shadow.dev, &mut self.hits);
        }

        // Back to power-on state for the next input, and check it.
        // (Also with fresh instances: the same input must give the same
        // finding however the instance was obtained.)
        if finding.is_none() {
            match main.exec(&FuzzOp::Reset) {
                Err(stop) => {
                    main_dead = true;
                    finding = Some(stop_finding(&stop, None, "reset"));
                }
                Ok(_) => {
                    match main.dev.save(0) {
                        Err(f) => {
                            main_dead = true;
                            finding = Some(Finding::from_fault(&f, None, "save"));
                        }
                        Ok(state) if state != main.baseline => {
                            if !ignore_reset {
                                finding = Some(Finding::new(
                                    FindingKind::Reset,
                                    None,
                                    format!(
                                        "after reset, save() gives {} bytes that differ from the {} bytes \
                                         saved right after create: reset does not return to power-on state",
                                        state.len(),
                                        main.baseline.len()
                                    ),
                                    "state after reset differs",
                                ));
                            }
                            // From now on reset cannot be trusted.
                            self.fresh_each_input = true;
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
        // After a finding the instances are in whatever state the input
        // left (the reset above was skipped): start the next input afresh.
        if main_dead || finding.is_some() {
            self.main = None;
        }
        if shadow_dead || finding.is_some() {
            self.shadow = None;
        }
        finding
    }
}

/// A fault or timer storm during an operation, as a finding.
fn stop_finding(stop: &Stop, op: Option<usize>, what: &str) -> Finding {
    match stop {
        Stop::Fault(f) => Finding::from_fault(f, op, what),
        Stop::TimerStorm(id) => Finding::new(
            FindingKind::Hang,
            op,
            format!(
                "timer {id} fired more than {} times without time passing (a timer re-armed \
                 in the past from timer-fired would spin the host forever)",
                super::env::MAX_FIRES
            ),
            "timer storm",
        ),
    }
}

/// Compare the original's observation with the copy's; the finding and
/// whether the copy faulted.
fn compare(
    orig: &Observation,
    copy: Result<Observation, Stop>,
    i: usize,
    op: &FuzzOp,
) -> Option<(Finding, bool)> {
    match copy {
        Err(stop) => {
            let why = match &stop {
                Stop::Fault(f) => f.to_string(),
                Stop::TimerStorm(id) => format!("timer {id} fired endlessly"),
            };
            Some((
                Finding::new(
                    FindingKind::SaveRestore,
                    Some(i),
                    format!("the restored copy failed where the original did not: {why}"),
                    &format!("copy failed during {}", Codec::kind_name(op)),
                ),
                matches!(stop, Stop::Fault(_)),
            ))
        }
        Ok(copy) => orig.difference(&copy).map(|d| {
            (
                Finding::new(
                    FindingKind::SaveRestore,
                    Some(i),
                    format!("after save and restore, the original {d}"),
                    &format!("differs during {}", Codec::kind_name(op)),
                ),
                false,
            )
        }),
    }
}

fn create_failure(e: CreateError) -> Finding {
    match e {
        CreateError::Fault(f) => Finding::from_fault(&f, None, "create"),
        other => Finding::new(
            FindingKind::Contract,
            None,
            format!("creating a fresh instance failed: {other}"),
            "create failed",
        ),
    }
}
