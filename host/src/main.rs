//! The `wemu` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use wemu::backend::chardev::{ChardevSpec, RawTerminal};
use wemu::loader::{CompileCache, Loader, SearchPath, check};
use wemu::machine::{self, Exit, Machine, RunError, config};

/// Exit status when a device model faults.
const EXIT_DEVICE_FAULT: u8 = 125;
/// Exit status when the guest cannot continue (trap loop, deadlock).
const EXIT_GUEST_FATAL: u8 = 126;

/// wemu — a RISC-V machine emulator whose devices are sandboxed
/// WebAssembly components, loaded by name at run time.
#[derive(Parser)]
#[command(name = "wemu", version, about, long_about = None, after_help = EXIT_HELP)]
struct Cli {
    /// Log filter for wemu's own messages on stderr (e.g. "info",
    /// "wemu::device=debug"). Also read from WEMU_LOG.
    #[arg(long, global = true, env = "WEMU_LOG", default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

const EXIT_HELP: &str = "\
Exit status of `wemu run`: the guest's own status when it powers off
(sifive_test: 0x5555 -> 0, (code << 16) | 0x3333 -> code, capped at 255);
1 for a setup error (bad machine file, missing device, bad image);
125 when a device model faults (with --on-device-fault stop, the default);
126 when the guest cannot continue.";

#[derive(Subcommand)]
enum Command {
    /// Boot a machine with a guest program.
    Run(RunArgs),
    /// Write the device tree a machine would give its guest (what `run`
    /// places in RAM, a1 at boot), as a DTB; decompile with `dtc -I dtb`.
    Dtb(DtbArgs),
    /// List the device components on the search path, with their descriptions.
    Devices(PathArgs),
    /// List the machines on the machine path.
    Machines(PathArgs),
    /// Fuzz one device component alone, in a sandbox (docs/fuzzing.md).
    Fuzz(FuzzArgs),
    /// Check a device component against the contract and run it in a
    /// sandbox; one line per check. Exit status 1 if any check fails.
    Validate(ValidateArgs),
    /// Write a new device project (Rust, C or JavaScript) with a
    /// unit-tested register, an interrupt, a guest program and a machine
    /// file; prints how to build and run it.
    NewDevice(NewDeviceArgs),
    /// Wrap a core wasm module (as cargo or clang build it) into the
    /// component wemu loads.
    Componentize(ComponentizeArgs),
}

#[derive(Args)]
struct NewDeviceArgs {
    /// Device name: lowercase letters, digits and dashes (the component
    /// becomes NAME.wasm and loads by this name).
    name: String,

    /// Language of the skeleton: rust, c or js (JavaScript, built with
    /// componentize-js).
    #[arg(long, value_name = "rust|c|js")]
    lang: wemu::newdev::Lang,

    /// Directory to create [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct ComponentizeArgs {
    /// The core module (e.g. target/wasm32-unknown-unknown/release/NAME.wasm).
    #[arg(value_name = "CORE.wasm")]
    input: PathBuf,

    /// Where to write the component (NAME.wasm: the name wemu loads it by).
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    output: PathBuf,
}

#[derive(Args)]
struct ValidateArgs {
    /// The component: a .wasm file, or a name on the device search path
    /// (see `wemu devices`).
    #[arg(value_name = "FILE|NAME")]
    component: String,

    /// Properties for `create`, as in --device: k=v,k=v (default: none).
    #[arg(long, value_name = "K=V,...")]
    props: Option<String>,

    /// Fuel budget of one device call (as `fuel` in a machine file).
    #[arg(long, value_name = "N", default_value_t = wemu::device::DEFAULT_FUEL)]
    fuel: u64,

    /// Memory limit of the instance, all memories and tables together,
    /// e.g. 128M (as `memory-limit` in a machine file; default 64M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,

    #[command(flatten)]
    paths: PathArgs,
}

#[derive(Args)]
struct PathArgs {
    /// Directory searched for device components (NAME.wasm) before
    /// WEMU_DEVICE_PATH and the built-in devices. Repeatable.
    #[arg(long = "device-path", value_name = "DIR")]
    device_path: Vec<PathBuf>,

    /// Directory searched for machine files (NAME.toml) before
    /// WEMU_MACHINE_PATH and the built-in machines. Repeatable.
    #[arg(long = "machine-path", value_name = "DIR")]
    machine_path: Vec<PathBuf>,

    /// Do not use the on-disk cache of compiled components
    /// (default location: WEMU_CACHE_DIR, else ~/.cache/wemu).
    #[arg(long)]
    no_cache: bool,
}

/// The machine and what boots on it: shared by `run` and `dtb`.
#[derive(Args)]
struct MachineArgs {
    /// Machine: a name on the machine path (see `wemu machines`) or a path
    /// to a .toml machine file.
    #[arg(short = 'M', long = "machine", value_name = "NAME|FILE", default_value = "virt")]
    machine: String,

    /// Firmware: "default" (OpenSBI's fw_dynamic from Debian's `opensbi`
    /// package, or WEMU_OPENSBI), "none" (the kernel runs bare metal, in
    /// M-mode), or a FILE (ELF, or raw at the start of RAM). Without
    /// --bios: OpenSBI when --kernel is a Linux Image, none for an ELF.
    #[arg(long, value_name = "default|none|FILE", default_value = "auto", hide_default_value = true)]
    bios: wemu::boot::Bios,

    /// Guest program or OS kernel: an RV64 ELF, a Linux Image, or a raw
    /// binary (placed after the firmware at the next 2 MiB boundary, or at
    /// the start of RAM without firmware; see --kernel-addr).
    #[arg(long, value_name = "FILE")]
    kernel: Option<PathBuf>,

    /// Load (and entry) address of a raw --kernel binary.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    kernel_addr: Option<u64>,

    /// Initial ramdisk, placed in RAM and named in the device tree's /chosen.
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,

    /// Kernel command line (/chosen/bootargs), e.g. "console=ttyS0".
    #[arg(long, value_name = "ARGS")]
    append: Option<String>,

    /// Size of the machine's RAM (its first writable memory region), e.g.
    /// 512M or 2G.
    #[arg(short = 'm', long = "memory", value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,

    /// Add a device, or change one by id: NAME[,id=ID][,addr=ADDR]...[,irq=N|TARGET]...
    /// [,chardev=BACKEND][,dma=BASE+SIZE][,timers=on][,power=on][,block=FILE|block-ro=FILE]
    /// [,memory-limit=SIZE][,fuel=N][,on-fault=stop|isolate|reset][,PROP=VALUE]... Repeatable. Other keys are the
    /// device's properties.
    #[arg(long = "device", value_name = "SPEC")]
    devices: Vec<String>,

    /// Attach a raw disk image to the next free virtio-mmio slot as a
    /// virtio-blk device: file=PATH[,readonly=on]. Repeatable. Without
    /// readonly=on the guest's writes go to the file.
    #[arg(long = "drive", value_name = "file=PATH[,readonly=on]")]
    drives: Vec<String>,

    /// Number of harts [default: the machine file's `[cpu] harts`]. All start
    /// at the boot entry with their hart id in a0.
    #[arg(long, value_name = "N")]
    smp: Option<u32>,

    #[command(flatten)]
    paths: PathArgs,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    machine: MachineArgs,

    /// Backend of the machine's serial0, serial1, ... (in order):
    /// stdio, file:PATH or null. Default: serial0 on stdio.
    #[arg(long = "serial", value_name = "BACKEND")]
    serial: Vec<ChardevSpec>,

    /// Trace categories, to stderr: "mmio" logs every device register access,
    /// "irq" every interrupt line change, "in_asm" every executed
    /// instruction (pc, bits, disassembly).
    #[arg(long = "trace", short = 'd', value_name = "WHAT", value_delimiter = ',')]
    trace: Vec<String>,

    /// Guest time: "virtual" (default; derived from retired instructions, so
    /// two runs are identical, and idle time is skipped) or "realtime" (the
    /// host's clock).
    #[arg(long, value_name = "KIND", default_value = "virtual", value_parser = ["virtual", "realtime"])]
    clock: String,

    /// Stop after this many guest instructions (exit status 0).
    #[arg(long, value_name = "N")]
    max_insns: Option<u64>,

    /// What a device model's fault (trap, fuel or memory exhausted, contract
    /// violation) does: "stop" the machine (exit status 125), "isolate" the
    /// device (its reads return all-ones, writes are dropped, its IRQ lines
    /// go low; the guest goes on) or "reset" it (a new instance; more than 3
    /// resets of one device within a second of virtual time isolate it).
    /// A device's `on-fault` in the machine file or --device overrides it.
    #[arg(long, value_name = "POLICY", default_value = "stop", value_parser = parse_policy)]
    on_device_fault: machine::FaultPolicy,

    /// At exit, print instructions retired, wall time and MIPS to stderr
    /// (used by `just bench-cpu`).
    #[arg(long)]
    stats: bool,
}

/// `wemu fuzz NAME`: exit status 0 when nothing was found, 125 when the
/// device has findings, 101 when the host itself panicked.
#[derive(Args)]
struct FuzzArgs {
    /// Device component: a name on the device path or a path to a .wasm file.
    #[arg(value_name = "NAME|FILE")]
    name: String,

    /// The device's properties, as in --device: k=v,k2=v2.
    #[arg(long, value_name = "K=V,...")]
    props: Option<String>,

    /// Stop after this long (e.g. 60s, 5m, 1h) [default: run until interrupted].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    time: Option<std::time::Duration>,

    /// Stop after this many executions (all workers together).
    #[arg(long, value_name = "N")]
    runs: Option<u64>,

    /// Seed of the mutation engine (with --jobs 1, a run is reproducible).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,

    /// Corpus directory, read at start, new inputs added [default: ./wemu-fuzz/NAME/corpus].
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,

    /// Where reproducers go, named KIND-HASH [default: ./wemu-fuzz/NAME/crashes].
    #[arg(long, value_name = "DIR")]
    crashes: Option<PathBuf>,

    /// Worker threads, each with its own instances, sharing the corpus.
    #[arg(long, value_name = "J", default_value_t = 1)]
    jobs: usize,

    /// Run FILE once and print the operation trace and the finding.
    #[arg(long, value_name = "FILE", conflicts_with = "minimize")]
    replay: Option<PathBuf>,

    /// Shrink FILE while the same kind of finding reproduces; writes FILE.min.
    #[arg(long, value_name = "FILE")]
    minimize: Option<PathBuf>,

    /// Stop at the first finding (as libFuzzer does).
    #[arg(long)]
    stop_on_finding: bool,

    /// Do not instrument the device for coverage (blind mutation).
    #[arg(long)]
    no_coverage: bool,

    /// Do not report these finding kinds (trap, hang, memory, contract, dma,
    /// save-restore, reset, host-panic). Repeatable or comma-separated.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    ignore: Vec<wemu::fuzz::FindingKind>,

    /// Fuel budget of one device call.
    #[arg(long, value_name = "N", default_value_t = wemu::device::DEFAULT_FUEL)]
    fuel: u64,

    /// Memory limit of one instance, e.g. 8M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,

    #[command(flatten)]
    paths: PathArgs,
}

#[derive(Args)]
struct DtbArgs {
    #[command(flatten)]
    machine: MachineArgs,

    /// Where to write the DTB.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    config::parse_size(s)
}

/// "90" (seconds), "90s", "5m", "1h", "250ms".
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a duration (e.g. 60s, 5m)"))?;
    let secs = |k: u64| std::time::Duration::from_secs(n.saturating_mul(k));
    match unit {
        "" | "s" => Ok(secs(1)),
        "m" | "min" => Ok(secs(60)),
        "h" => Ok(secs(3600)),
        "ms" => Ok(std::time::Duration::from_millis(n)),
        _ => Err(format!("'{s}': unknown unit '{unit}' (s, m, h, ms)")),
    }
}

fn parse_policy(s: &str) -> Result<machine::FaultPolicy, String> {
    s.parse()
}

fn parse_addr(s: &str) -> Result<u64, String> {
    config::parse_u64(s).ok_or_else(|| format!("'{s}' is not an address"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    if let Command::Fuzz(a) = &cli.command
        && a.replay.is_none()
    {
        // Millions of inputs: the device's own log lines and refused DMA
        // would drown the progress line (a replay shows them).
        filter = filter
            .add_directive("wemu::device=off".parse().expect("static directive"))
            .add_directive("wemu::dma=off".parse().expect("static directive"));
    }
    let filter = filter
        // `--trace` output is gated by its own flag; let it through.
        .add_directive("wemu::mmio=info".parse().expect("static directive"))
        .add_directive("wemu::insn=info".parse().expect("static directive"))
        .add_directive("wemu::irq=info".parse().expect("static directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();

    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Dtb(args) => dtb(args).map(|()| ExitCode::SUCCESS),
        Command::Devices(args) => devices(args).map(|()| ExitCode::SUCCESS),
        Command::Machines(args) => machines(args).map(|()| ExitCode::SUCCESS),
        Command::Fuzz(args) => fuzz(args),
        Command::Validate(args) => validate(args),
        Command::NewDevice(args) => new_device(args).map(|()| ExitCode::SUCCESS),
        Command::Componentize(args) => componentize(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wemu: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn loader(paths: &PathArgs) -> Result<Loader> {
    let search = SearchPath::new(&paths.device_path, "WEMU_DEVICE_PATH");
    let cache = if paths.no_cache { None } else { CompileCache::default_dir().map(CompileCache::new) };
    Loader::new(search, cache)
}

/// The machine file with the command line's changes applied.
fn machine_spec(args: &MachineArgs) -> Result<config::MachineSpec> {
    let mut spec = config::load(&machine::machine_search_path(&args.paths.machine_path), &args.machine)?;
    for d in &args.devices {
        config::apply_device_option(&mut spec, d)?;
    }
    for d in &args.drives {
        config::apply_drive_option(&mut spec, d)?;
    }
    if let Some(n) = args.smp {
        spec.harts = n;
    }
    if let Some(size) = args.memory {
        let ram = spec
            .memory
            .iter_mut()
            .find(|m| !m.readonly)
            .ok_or_else(|| anyhow::anyhow!("-m: machine '{}' has no RAM", spec.name))?;
        ram.size = size;
    }
    Ok(spec)
}

fn boot_options(args: &MachineArgs) -> wemu::boot::BootOptions {
    wemu::boot::BootOptions {
        bios: args.bios.clone(),
        kernel: args.kernel.clone(),
        kernel_addr: args.kernel_addr,
        initrd: args.initrd.clone(),
        append: args.append.clone(),
    }
}

fn dtb(args: DtbArgs) -> Result<()> {
    let spec = machine_spec(&args.machine)?;
    let opts = machine::Options { serials: vec![ChardevSpec::Null], ..machine::Options::default() };
    let mut machine = Machine::build(spec, &mut loader(&args.machine.paths)?, &opts)?;
    let chosen = wemu::fdt::Chosen { bootargs: args.machine.append.clone(), initrd: None };
    let blob = if args.machine.kernel.is_some() || args.machine.bios != wemu::boot::Bios::Auto {
        // The whole boot flow, so /chosen says where the initrd went.
        let boot = wemu::boot::boot(&mut machine, &boot_options(&args.machine))?;
        let dtb =
            boot.images.iter().find(|(n, _)| n == "<device tree>").and_then(|(_, i)| i.segments.first());
        dtb.context("the boot flow placed no device tree")?.data.clone()
    } else {
        wemu::fdt::build(&machine, &chosen)?
    };
    std::fs::write(&args.output, blob).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let spec = machine_spec(&args.machine)?;
    let (mut trace_mmio, mut trace_insns, mut trace_irq) = (false, false, false);
    for t in &args.trace {
        match t.as_str() {
            "mmio" => trace_mmio = true,
            "in_asm" => trace_insns = true,
            "irq" => trace_irq = true,
            other => anyhow::bail!("unknown trace category '{other}' (known: mmio, irq, in_asm)"),
        }
    }
    let opts = machine::Options {
        serials: if args.serial.is_empty() { vec![ChardevSpec::Stdio] } else { args.serial.clone() },
        trace_mmio,
        trace_insns,
        trace_irq,
        realtime: args.clock == "realtime",
        on_device_fault: args.on_device_fault,
    };
    let mut loader = loader(&args.machine.paths)?;
    let mut machine = Machine::build(spec, &mut loader, &opts)?;
    wemu::boot::boot(&mut machine, &boot_options(&args.machine))?;

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

fn devices(args: PathArgs) -> Result<()> {
    let mut loader = loader(&args)?;
    let listed = wemu::loader::search::list_devices(loader.search_path());
    println!("contract: {}@{}", wemu::contract::PACKAGE, wemu::contract::version_string());
    for (name, origin) in listed {
        match loader.load(&name) {
            Err(e) => println!("\n{name}  [{origin}]\n  unusable: {e}"),
            Ok(loaded) => {
                println!("\n{name}  [{origin}]");
                println!(
                    "  contract: {}@{}",
                    wemu::contract::PACKAGE,
                    check::fmt_version(loaded.checked.version)
                );
                let caps = if loaded.checked.capabilities.is_empty() {
                    "none".to_owned()
                } else {
                    loaded.checked.capabilities.join(", ")
                };
                println!("  capabilities: {caps}");
                let state = wemu::device::DeviceState::new(&name, wemu::device::DEFAULT_MEMORY_LIMIT);
                match loader.instantiate(&loaded, state, wemu::device::DEFAULT_FUEL, Vec::new()) {
                    Ok(dev) => {
                        let d = dev.description();
                        println!("  model: {} {}", d.model, d.version);
                        let regions: Vec<String> =
                            d.regions.iter().map(|(n, s)| format!("{n} ({s:#x} bytes)")).collect();
                        println!(
                            "  regions: {}",
                            if regions.is_empty() { "none".into() } else { regions.join(", ") }
                        );
                        println!("  irq lines: {} out, {} in", d.irq_outputs, d.irq_inputs);
                        if let Some(node) = &d.dt_node {
                            println!("  device tree: {} compatible = {:?}", node.name, node.compatible);
                        }
                    }
                    Err(e) => println!("  (with no properties: {e})"),
                }
            }
        }
    }
    Ok(())
}

fn fuzz(args: FuzzArgs) -> Result<ExitCode> {
    use wemu::fuzz::{self, FindingKind};
    const EXIT_FINDING: u8 = EXIT_DEVICE_FAULT;
    const EXIT_HOST_PANIC: u8 = 101;

    let loader = loader(&args.paths)?;
    let mut opts = fuzz::TargetOptions::new(&args.name);
    opts.props = fuzz::parse_props(args.props.as_deref().unwrap_or(""))?;
    // Replays run instrumented too: the same code burns the same fuel.
    opts.coverage = !args.no_coverage;
    opts.fuel = args.fuel;
    if let Some(m) = args.memory_limit {
        opts.memory_limit = m;
    }
    let target = std::sync::Arc::new(fuzz::Target::load(&loader, &opts)?);
    if let Some(note) = &target.coverage_note {
        eprintln!("wemu fuzz: warning: {note}; fuzzing without coverage");
    }
    fuzz::install_panic_hook();
    let status = |kind: Option<FindingKind>| match kind {
        None => ExitCode::SUCCESS,
        Some(FindingKind::HostPanic) => ExitCode::from(EXIT_HOST_PANIC),
        Some(_) => ExitCode::from(EXIT_FINDING),
    };

    if let Some(file) = &args.replay {
        let input = wemu::limits::read_fuzz_input(file)?;
        let (trace, finding) = fuzz::replay(&target, &input, &args.ignore);
        println!("{} operations from {} ({} bytes)", trace.len(), file.display(), input.len());
        for line in &trace {
            println!("{line}");
        }
        match &finding {
            Some(f) => println!("FINDING {f}"),
            None => println!("no finding"),
        }
        return Ok(status(finding.map(|f| f.kind)));
    }

    if let Some(file) = &args.minimize {
        let input = wemu::limits::read_fuzz_input(file)?;
        let Some(m) = fuzz::minimize(&target, &input, &args.ignore, 20_000) else {
            anyhow::bail!("{} produces no finding: nothing to minimize", file.display());
        };
        let mut out = file.clone().into_os_string();
        out.push(".min");
        let out = PathBuf::from(out);
        std::fs::write(&out, &m.input).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "minimized {} -> {} operations ({} -> {} bytes, {} runs), written to {}",
            m.ops_before,
            m.ops_after,
            input.len(),
            m.input.len(),
            m.execs,
            out.display()
        );
        let (trace, finding) = fuzz::replay(&target, &m.input, &args.ignore);
        for line in &trace {
            println!("{line}");
        }
        match &finding {
            Some(f) => println!("FINDING {f}"),
            None => println!("no finding (the minimized input did not reproduce on a fresh instance)"),
        }
        return Ok(status(finding.map(|f| f.kind)));
    }

    let base = PathBuf::from("wemu-fuzz").join(args.name.replace('/', "_"));
    let options = fuzz::FuzzOptions {
        jobs: args.jobs,
        seed: args.seed,
        runs: args.runs,
        time: args.time,
        corpus_dir: args.corpus.clone().unwrap_or_else(|| base.join("corpus")),
        crashes_dir: args.crashes.clone().unwrap_or_else(|| base.join("crashes")),
        ignore: args.ignore.clone(),
        stop_on_finding: args.stop_on_finding,
    };
    let d = target.codec.profile();
    let regions: Vec<String> = d.regions.iter().map(|(n, s)| format!("{n} ({s:#x})")).collect();
    eprintln!(
        "wemu fuzz: {} — regions {}, {} IRQ inputs, capabilities [{}], {} dictionary values, {}, {} worker(s), seed {}",
        args.name,
        if regions.is_empty() { "none".into() } else { regions.join(", ") },
        d.irq_inputs,
        target.loaded.checked.capabilities.join(", "),
        d.dictionary.len(),
        match target.blocks {
            Some(b) => format!(
                "{b} blocks and {} comparisons instrumented ({} counters)",
                target.sites.len(),
                target.counters
            ),
            None => "no coverage".into(),
        },
        options.jobs.max(1),
        options.seed
    );
    let summary = fuzz::fuzz(target.clone(), &options, &mut |p| eprintln!("wemu fuzz: {p}"))?;
    let p = &summary.progress;
    eprintln!(
        "wemu fuzz: done: {} execs in {:.2} s = {:.0} execs/s ({:.0} per worker, {:.1} operations per input); corpus {}; {}; {} finding(s)",
        p.execs,
        p.elapsed.as_secs_f64(),
        p.rate(),
        p.rate() / options.jobs.max(1) as f64,
        p.ops_per_exec,
        p.corpus,
        match p.blocks {
            Some(total) =>
                format!("coverage {}/{} blocks + {} cmp features", p.blocks_hit, total, p.features),
            None => "coverage off".into(),
        },
        summary.findings.len()
    );
    for (f, path) in &summary.findings {
        println!("{}	{}", f.kind, path.display());
    }
    if summary.fuzzer_panic.is_some() {
        // Reported when it happened; the run stopped there.
        eprintln!(
            "wemu fuzz: the run ended on a panic of the fuzzer itself (above): a wemu bug, please report it"
        );
        return Ok(ExitCode::from(EXIT_HOST_PANIC));
    }
    let worst =
        summary.findings.iter().map(|(f, _)| f.kind).max_by_key(|k| u8::from(*k == FindingKind::HostPanic));
    Ok(status(worst))
}

fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let loader = loader(&args.paths)?;
    let origin = wemu::loader::search::find_device(loader.search_path(), &args.component)
        .with_context(|| format!("no device component named '{}'", args.component))?;
    let bytes = wemu::loader::search::read_device(&origin).with_context(|| format!("reading {origin}"))?;
    let name = match &origin {
        wemu::loader::Origin::File(p) => {
            p.file_stem().and_then(|s| s.to_str()).unwrap_or("device").to_owned()
        }
        wemu::loader::Origin::BuiltIn(n) => (*n).to_owned(),
    };
    let props = wemu::validate::parse_props(args.props.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--props: {e}"))?;
    let mut opts = wemu::validate::Options { props, fuel: args.fuel, ..Default::default() };
    if let Some(m) = args.memory_limit {
        opts.memory_limit = m;
    }
    println!("validating {origin} against {}@{}", wemu::contract::PACKAGE, wemu::contract::version_string());
    let report = wemu::validate::validate(&loader, &name, origin, &bytes, &opts);
    println!("{report}");
    Ok(if report.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn new_device(args: NewDeviceArgs) -> Result<()> {
    let opts = wemu::newdev::Options {
        dir: args.dir.unwrap_or_else(|| PathBuf::from(&args.name)),
        name: args.name,
        lang: args.lang,
    };
    wemu::newdev::create(&opts)?;
    print!("{}", wemu::newdev::next_steps(&opts));
    Ok(())
}

fn componentize(args: ComponentizeArgs) -> Result<()> {
    let module = wemu::limits::read_component(&args.input)?;
    let component =
        wemu::newdev::componentize(&module).with_context(|| format!("{}", args.input.display()))?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.output, component).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

fn machines(args: PathArgs) -> Result<()> {
    let path = machine::machine_search_path(&args.machine_path);
    for (name, desc, origin) in config::describe_all(&path) {
        println!("{name:<16} {desc}  [{origin}]");
    }
    Ok(())
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), in KiB,
/// where the system reports it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
