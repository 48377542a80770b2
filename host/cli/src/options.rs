//! The options several subcommands share (search paths, the machine and
//! what boots on it) and the value parsers of every subcommand.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wemu_machine::machine::{self, config};
use wemu_sandbox::loader::{CompileCache, Loader, SearchPath};

/// The limits a device instance is held to, for the commands that make
/// one outside a machine (`validate`, `fuzz`); a machine file sets them per
/// device (`fuel`, `memory-limit`).
#[derive(Args)]
pub(crate) struct DeviceLimitArgs {
    /// Fuel budget of one device call (as `fuel` in a machine file).
    #[arg(long, value_name = "N", default_value_t = wemu_sandbox::device::DEFAULT_FUEL)]
    pub(crate) fuel: u64,

    /// Memory limit of the instance, all its memories and tables together,
    /// e.g. 128M (as `memory-limit` in a machine file) [default: 64M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory_limit: Option<u64>,
}

impl DeviceLimitArgs {
    /// The memory limit, or the default.
    pub(crate) fn memory(&self) -> u64 {
        self.memory_limit.unwrap_or(wemu_sandbox::device::DEFAULT_MEMORY_LIMIT)
    }
}

#[derive(Args)]
pub(crate) struct PathArgs {
    /// Directory searched for device components (NAME.wasm) before
    /// WEMU_DEVICE_PATH and the built-in devices. Repeatable.
    #[arg(long = "device-path", value_name = "DIR")]
    pub(crate) device_path: Vec<PathBuf>,

    /// Directory searched for machine files (NAME.toml) before
    /// WEMU_MACHINE_PATH and the built-in machines. Repeatable.
    #[arg(long = "machine-path", value_name = "DIR")]
    pub(crate) machine_path: Vec<PathBuf>,

    /// Do not use the on-disk cache of compiled components
    /// (default location: WEMU_CACHE_DIR, else ~/.cache/wemu).
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// The machine and what boots on it: shared by `run` and `dtb`.
#[derive(Args)]
pub(crate) struct MachineArgs {
    /// Machine: a name on the machine path (see `wemu machines`) or a path
    /// to a .toml machine file.
    #[arg(short = 'M', long = "machine", value_name = "NAME|FILE", default_value = "virt")]
    pub(crate) machine: String,

    /// Firmware: "default" (OpenSBI's fw_dynamic from Debian's `opensbi`
    /// package, or WEMU_OPENSBI), "none" (the kernel runs bare metal, in
    /// M-mode), or a FILE (ELF, or raw at the start of RAM). Without
    /// --bios: OpenSBI when --kernel is a Linux Image, none for an ELF.
    #[arg(long, value_name = "default|none|FILE", default_value = "auto", hide_default_value = true)]
    pub(crate) bios: wemu_machine::boot::Bios,

    /// Guest program or OS kernel: an RV64 ELF, a Linux Image, or a raw
    /// binary (placed after the firmware at the next 2 MiB boundary, or at
    /// the start of RAM without firmware; see --kernel-addr).
    #[arg(long, value_name = "FILE")]
    pub(crate) kernel: Option<PathBuf>,

    /// Load (and entry) address of a raw --kernel binary.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub(crate) kernel_addr: Option<u64>,

    /// Initial ramdisk, placed in RAM and named in the device tree's /chosen.
    #[arg(long, value_name = "FILE")]
    pub(crate) initrd: Option<PathBuf>,

    /// Kernel command line (/chosen/bootargs), e.g. "console=ttyS0".
    #[arg(long, value_name = "ARGS")]
    pub(crate) append: Option<String>,

    /// Size of the machine's RAM (its first writable memory region), e.g.
    /// 512M or 2G.
    #[arg(short = 'm', long = "memory", value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory: Option<u64>,

    /// Add a device, or change one by id: NAME[,id=ID][,addr=ADDR]...[,irq=N|TARGET]...
    /// [,chardev=BACKEND][,dma=BASE+SIZE][,timers=on][,power=on][,block=FILE|block-ro=FILE]
    /// [,memory-limit=SIZE][,fuel=N][,on-fault=stop|isolate|reset][,PROP=VALUE]... Repeatable. Other keys are the
    /// device's properties.
    #[arg(long = "device", value_name = "SPEC")]
    pub(crate) devices: Vec<String>,

    /// Attach a raw disk image to the next free virtio-mmio slot as a
    /// virtio-blk device: file=PATH[,readonly=on]. Repeatable. Without
    /// readonly=on the guest's writes go to the file.
    #[arg(long = "drive", value_name = "file=PATH[,readonly=on]")]
    pub(crate) drives: Vec<String>,

    /// Number of harts [default: the machine file's `[cpu] harts`]. All start
    /// at the boot entry with their hart id in a0.
    #[arg(long, value_name = "N")]
    pub(crate) smp: Option<u32>,

    /// Set `[cpu]` keys of the machine file: misaligned=emulate|trap (complete
    /// misaligned loads and stores in hardware, the default, or raise the
    /// address-misaligned exception). Repeatable; comma-separated.
    #[arg(long = "cpu", value_name = "KEY=VALUE[,...]")]
    pub(crate) cpu: Vec<String>,

    #[command(flatten)]
    pub(crate) paths: PathArgs,
}

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    config::parse_size(s).map_err(|e| e.to_string())
}

/// "90" (seconds), "90s", "5m", "1h", "250ms".
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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

pub(crate) fn parse_addr(s: &str) -> Result<u64, String> {
    config::parse_u64(s).ok_or_else(|| format!("'{s}' is not an address"))
}

pub(crate) fn loader(paths: &PathArgs) -> Result<Loader> {
    let search = SearchPath::new(&paths.device_path, "WEMU_DEVICE_PATH");
    let cache = if paths.no_cache { None } else { CompileCache::default_dir().map(CompileCache::new) };
    Ok(Loader::new(search, cache)?)
}

/// The machine file with the command line's changes applied.
pub(crate) fn machine_spec(args: &MachineArgs) -> Result<config::MachineSpec> {
    let mut spec = config::load(&machine::machine_search_path(&args.paths.machine_path), &args.machine)?;
    for c in &args.cpu {
        config::apply_cpu_option(&mut spec, c)?;
    }
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

pub(crate) fn boot_options(args: &MachineArgs) -> wemu_machine::boot::BootOptions {
    wemu_machine::boot::BootOptions {
        bios: args.bios.clone(),
        kernel: args.kernel.clone(),
        kernel_addr: args.kernel_addr,
        initrd: args.initrd.clone(),
        append: args.append.clone(),
    }
}
