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

    /// wemu source tree providing the SDKs and the guest runtime
    /// [default: the tree this wemu was built from].
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
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

fn parse_policy(s: &str) -> Result<machine::FaultPolicy, String> {
    s.parse()
}

fn parse_addr(s: &str) -> Result<u64, String> {
    config::parse_u64(s).ok_or_else(|| format!("'{s}' is not an address"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
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
    let opts = wemu::validate::Options { props, ..Default::default() };
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
        sdk: args.sdk.unwrap_or_else(wemu::newdev::default_sdk),
    };
    wemu::newdev::create(&opts)?;
    print!("{}", wemu::newdev::next_steps(&opts));
    Ok(())
}

fn componentize(args: ComponentizeArgs) -> Result<()> {
    let module = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
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
