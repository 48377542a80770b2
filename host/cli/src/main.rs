//! The `wemu` command line.

mod componentize;
mod devices;
mod dtb;
mod fuzz;
mod machines;
mod new_device;
mod options;
mod run;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::componentize::ComponentizeArgs;
use crate::dtb::DtbArgs;
use crate::fuzz::FuzzArgs;
use crate::new_device::NewDeviceArgs;
use crate::options::PathArgs;
use crate::run::RunArgs;
use crate::validate::ValidateArgs;

/// Exit status when a device model faults.
pub(crate) const EXIT_DEVICE_FAULT: u8 = 125;
/// Exit status when the guest cannot continue (trap loop, deadlock).
pub(crate) const EXIT_GUEST_FATAL: u8 = 126;

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
        .add_directive("wemu::irq=info".parse().expect("static directive"))
        .add_directive("wemu::jit=info".parse().expect("static directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();

    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Dtb(args) => dtb::run(args).map(|()| ExitCode::SUCCESS),
        Command::Devices(args) => devices::run(args).map(|()| ExitCode::SUCCESS),
        Command::Machines(args) => machines::run(args).map(|()| ExitCode::SUCCESS),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Validate(args) => validate::run(args),
        Command::NewDevice(args) => new_device::run(args).map(|()| ExitCode::SUCCESS),
        Command::Componentize(args) => componentize::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wemu: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
