//! `wemu run`: boot a machine and run it to the end.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use wemu_machine::backend::chardev::{ChardevSpec, RawTerminal};
use wemu_machine::machine::{self, Exit, Machine, RunError};

use crate::options::{MachineArgs, boot_options, loader, machine_spec};
use crate::{EXIT_DEVICE_FAULT, EXIT_GUEST_FATAL};

#[derive(Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) machine: MachineArgs,

    /// Backend of the machine's serial0, serial1, ... (in order):
    /// stdio, file:PATH or null. Default: serial0 on stdio.
    #[arg(long = "serial", value_name = "BACKEND")]
    pub(crate) serial: Vec<ChardevSpec>,

    /// Trace categories, to stderr: "mmio" logs every device register access,
    /// "irq" every interrupt line change, "in_asm" every executed
    /// instruction (pc, bits, disassembly; runs the interpreter), "jit"
    /// every region the JIT compiles (guest range, instructions, host code
    /// size, compile time), "jit-code" that and each region's host code.
    #[arg(long = "trace", short = 'd', value_name = "WHAT", value_delimiter = ',')]
    pub(crate) trace: Vec<String>,

    /// Guest time: "virtual" (default; derived from retired instructions, so
    /// two runs are identical, and idle time is skipped) or "realtime" (the
    /// host's clock).
    #[arg(long, value_name = "KIND", default_value = "virtual", value_parser = ["virtual", "realtime"])]
    pub(crate) clock: String,

    /// Stop after this many guest instructions (exit status 0).
    #[arg(long, value_name = "N")]
    pub(crate) max_insns: Option<u64>,

    /// What a device model's fault (trap, fuel or memory exhausted, contract
    /// violation) does: "stop" the machine (exit status 125), "isolate" the
    /// device (its reads return all-ones, writes are dropped, its IRQ lines
    /// go low; the guest goes on) or "reset" it (a new instance; more than 3
    /// resets of one device within a second of virtual time isolate it).
    /// A device's `on-fault` in the machine file or --device overrides it.
    #[arg(long, value_name = "POLICY", default_value = "stop")]
    pub(crate) on_device_fault: machine::FaultPolicy,

    /// How harts execute: "jit" translates hot guest code to host code with
    /// Cranelift (the default where Cranelift can target the host:
    /// x86_64, aarch64, riscv64, s390x; an error elsewhere), "interp" runs
    /// the interpreter only. Both give the same results, instruction for
    /// instruction.
    #[arg(long, value_name = "ACCEL", value_parser = ["jit", "interp"])]
    pub(crate) accel: Option<String>,

    /// With the JIT: how many times a guest pc must be reached before the
    /// code from it is translated.
    #[arg(long, value_name = "N", default_value_t = wemu_cpu::JitConfig::default().threshold)]
    pub(crate) jit_threshold: u32,

    /// With the JIT: the same for code running under address translation
    /// or PMP checks (default: --jit-threshold; docs/jit.md).
    #[arg(long, value_name = "N")]
    pub(crate) jit_paged_threshold: Option<u32>,

    /// With the JIT: write each translated region's host code address to
    /// /tmp/perf-PID.map, so `perf record` / `perf report` name JIT code.
    #[arg(long)]
    pub(crate) perf_map: bool,

    /// With the JIT: compile each region on the hart's thread, waiting for
    /// it, instead of on a compiler thread while the hart goes on
    /// interpreting (the statistics then do not depend on timing; the
    /// guest sees no difference either way).
    #[arg(long)]
    pub(crate) jit_sync: bool,

    /// At exit, print instructions retired, wall time and MIPS to stderr
    /// (used by `just bench-cpu`).
    #[arg(long)]
    pub(crate) stats: bool,
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode> {
    let spec = machine_spec(&args.machine)?;
    let (mut trace_mmio, mut trace_insns, mut trace_irq) = (false, false, false);
    let (mut log_jit, mut show_code) = (false, false);
    for t in &args.trace {
        match t.as_str() {
            "mmio" => trace_mmio = true,
            "in_asm" => trace_insns = true,
            "irq" => trace_irq = true,
            "jit" => log_jit = true,
            "jit-code" => (log_jit, show_code) = (true, true),
            other => {
                anyhow::bail!("unknown trace category '{other}' (known: mmio, irq, in_asm, jit, jit-code)")
            }
        }
    }
    let jit = wemu_cpu::JitConfig {
        threshold: args.jit_threshold,
        paged_threshold: args.jit_paged_threshold,
        perf_map: args.perf_map,
        show_code,
        background: !args.jit_sync,
        ..wemu_cpu::JitConfig::default()
    };
    let accel = match args.accel.as_deref() {
        Some("interp") => machine::Accel::Interp,
        Some(_) => machine::Accel::Jit(jit),
        None if wemu_cpu::Jit::supported() => machine::Accel::Jit(jit),
        None => machine::Accel::Interp,
    };
    let opts = machine::Options {
        serials: if args.serial.is_empty() { vec![ChardevSpec::Stdio] } else { args.serial.clone() },
        trace_mmio,
        trace_insns,
        trace_irq,
        realtime: args.clock == "realtime",
        on_device_fault: args.on_device_fault,
        accel,
        log_jit,
    };
    let mut loader = loader(&args.machine.paths)?;
    let mut machine = Machine::build(spec, &mut loader, &opts)?;
    wemu_machine::boot::boot(&mut machine, &boot_options(&args.machine))?;

    // Raw terminal only while the guest runs with the console on stdin.
    let _raw = opts.serials.first().filter(|s| **s == ChardevSpec::Stdio).and_then(|_| RawTerminal::enter());
    let started = std::time::Instant::now();
    let result = machine.run(args.max_insns);
    if args.stats {
        // Measured around `run` only: machine building and component
        // loading are not interpreter time.
        let secs = started.elapsed().as_secs_f64();
        let retired = machine.harts.iter().map(|h| h.instret()).sum::<u64>();
        let mips = if secs > 0.0 { retired as f64 / secs / 1e6 } else { 0.0 };
        eprintln!("wemu: stats: {retired} instructions retired in {secs:.3} s, {mips:.1} MIPS");
        if let Some(kib) = peak_rss_kib() {
            eprintln!("wemu: stats: peak host memory (resident) {} MiB", kib / 1024);
        }
        if let Some(j) = machine.jit_stats() {
            let mean_us = if j.regions > 0 { j.compile_ns as f64 / j.regions as f64 / 1e3 } else { 0.0 };
            let per_region = if j.regions > 0 { j.guest_insns as f64 / j.regions as f64 } else { 0.0 };
            let share = if retired > 0 { 100.0 * j.jit_insns as f64 / retired as f64 } else { 0.0 };
            eprintln!(
                "wemu: stats: jit: {} regions ({per_region:.1} guest instructions each, {} KiB of host code), \
                 {mean_us:.1} us to compile each ({:.3} s in all); {share:.1}% of instructions in translated \
                 code, {} region entries; {} stale regions dropped, {} revalidated, {} code cache flushes",
                j.regions,
                j.code_bytes / 1024,
                j.compile_ns as f64 / 1e9,
                j.entries,
                j.stale,
                j.revalidated,
                j.flushes
            );
        }
        if let Some((dev, line, n)) = machine.busiest_irq_line() {
            eprintln!(
                "wemu: stats: busiest IRQ line: '{dev}' line {line}, {n} level changes within {} ms \
                 (storm limit {})",
                machine::storm::STORM_WINDOW_NS / 1_000_000,
                machine::storm::STORM_LIMIT
            );
        }
    }
    summarize_incidents(machine.incidents());
    match result {
        Ok(Exit::Poweroff(code)) => Ok(ExitCode::from(code.min(255) as u8)),
        Ok(Exit::InstructionLimit) => Ok(ExitCode::SUCCESS),
        Err(e @ RunError::Device { .. }) => {
            eprintln!("wemu: device fault: {e}");
            Ok(ExitCode::from(EXIT_DEVICE_FAULT))
        }
        Err(e) => {
            eprintln!("wemu: {e}");
            Ok(ExitCode::from(EXIT_GUEST_FATAL))
        }
    }
}

/// Device faults the machine survived and IRQ storms were warned about
/// when they happened; repeat them at exit, where they are not lost in the
/// guest's output (and are seen with a quieter --log).
fn summarize_incidents(incidents: &[machine::Incident]) {
    const SHOWN: usize = 20;
    if incidents.is_empty() {
        return;
    }
    eprintln!("wemu: {} device incident(s) during the run:", incidents.len());
    for inc in incidents.iter().take(SHOWN) {
        eprintln!("  - {inc}");
    }
    if incidents.len() > SHOWN {
        eprintln!("  ... and {} more", incidents.len() - SHOWN);
    }
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), in KiB,
/// where the system reports it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
