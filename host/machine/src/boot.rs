//! The boot flow, as QEMU's riscv `virt` does it: firmware (OpenSBI's
//! `fw_dynamic`) at the start of RAM, the kernel at the next 2 MiB
//! boundary after it, the initrd halfway into RAM (at most 128 MiB past
//! the kernel), the device tree at the top of RAM (2 MiB aligned, below
//! 3 GiB), and every hart starting at the firmware's entry with a0 = hart
//! id, a1 = the device tree, a2 = a `fw_dynamic_info` telling OpenSBI where
//! the kernel is and that it runs in S-mode.
//!
//! Without firmware (`--bios none`) the harts start at the kernel's entry
//! with the same a0/a1: a bare-metal program runs in M-mode.

use std::path::{Path, PathBuf};

use crate::fdt::{self, Chosen, FdtError};
use crate::image::{self, Image, ImageError, Segment};
use crate::machine::{Boot, Machine};

const MIB: u64 = 1 << 20;

/// Where Debian's `opensbi` package (and other distributions') put the
/// generic platform's `fw_dynamic`.
const OPENSBI_PATHS: &[&str] = &[
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
    "/usr/share/opensbi/lp64/generic/firmware/fw_dynamic.bin",
    "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
];

/// `--bios`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bios {
    /// OpenSBI when the kernel is a Linux `Image`, none for anything else
    /// (ELF programs run bare metal): the default.
    Auto,
    /// OpenSBI, found on the system (`default`, as QEMU says).
    Default,
    /// No firmware (`none`).
    None,
    /// This file (ELF, or raw placed at the start of RAM).
    File(PathBuf),
}

/// Why a machine could not be booted.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("machine '{machine}' has no RAM to boot from")]
    NoRam { machine: String },
    /// A firmware or kernel image (`what`) that cannot be read or placed.
    #[error("{what} {}: {error}", path.display())]
    Image { what: &'static str, path: PathBuf, error: ImageError },
    #[error(
        "--kernel-addr {addr:#x}: kernel {} is an ELF, loaded at the addresses in its program headers; \
         --kernel-addr places a raw binary (or a Linux Image): drop it, or link the ELF at that address",
        kernel.display()
    )]
    KernelAddrOfElf { addr: u64, kernel: PathBuf },
    #[error(
        "no OpenSBI firmware found (looked for {}; set WEMU_OPENSBI): install Debian's `opensbi` \
         package, or pass --bios FILE, or --bios none to run the kernel bare metal",
        OPENSBI_PATHS.join(", ")
    )]
    NoFirmware,
    #[error("nothing to run: give --kernel FILE (and/or --bios FILE)")]
    NothingToRun,
    #[error("--initrd needs a --kernel to go with it")]
    InitrdWithoutKernel,
    #[error("initrd {}: {error}", path.display())]
    Initrd { path: PathBuf, error: std::io::Error },
    #[error(
        "initrd {} (more than {room} bytes) does not fit in RAM at {start:#x} (RAM ends at \
         {ram_end:#x}); give the machine more memory with -m",
        path.display()
    )]
    InitrdTooLarge { path: PathBuf, room: u64, start: u64, ram_end: u64 },
    #[error(transparent)]
    Fdt(#[from] FdtError),
    #[error("the device tree ({len} bytes) does not fit in RAM")]
    DtbTooLarge { len: u64 },
    #[error("no room below the device tree at {dtb_addr:#x} for the firmware's boot information")]
    NoRoomForFirmwareInfo { dtb_addr: u64 },
    /// Two images would share bytes.
    #[error(
        "{a} [{a0:#x}..{a1:#x}) overlaps {b} [{b0:#x}..{b1:#x}): give the machine more memory \
         with -m, or move the kernel with --kernel-addr"
    )]
    Overlap { a: String, a0: u64, a1: u64, b: String, b0: u64, b1: u64 },
    /// Placing the images in memory failed.
    #[error(transparent)]
    Install(ImageError),
}

impl std::str::FromStr for Bios {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Bios::Auto,
            "default" => Bios::Default,
            "none" => Bios::None,
            path => Bios::File(path.into()),
        })
    }
}

/// What to boot: the command line's `--bios`, `--kernel`, `--initrd`,
/// `--append`.
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub bios: Bios,
    pub kernel: Option<PathBuf>,
    /// Load address of a raw kernel; default: after the firmware, or the
    /// start of RAM without one.
    pub kernel_addr: Option<u64>,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
}

/// `fw_dynamic_info` (OpenSBI include/sbi/fw_dynamic.h), version 2.
const FW_DYNAMIC_MAGIC: u64 = 0x4942_534f; // "OSBI"
const FW_DYNAMIC_VERSION: u64 = 2;
const FW_DYNAMIC_NEXT_MODE_S: u64 = 1;

/// A Linux RISC-V `Image` (Documentation/arch/riscv/boot-image-header.rst):
/// "RSC\x05" at offset 0x38.
pub fn is_linux_image(bytes: &[u8]) -> bool {
    bytes.get(0x38..0x3c) == Some(b"RSC\x05".as_slice())
}

/// OpenSBI's `fw_dynamic` on this system.
pub fn find_opensbi() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WEMU_OPENSBI") {
        return Some(PathBuf::from(p));
    }
    OPENSBI_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Load an image file as `what` ("kernel", "firmware") for `machine`: a
/// raw one must fit in the memory region it is placed in, an ELF's
/// loadable segments in the machine's memory (see [`image::load`]).
fn load(machine: &Machine, path: &Path, raw_addr: u64, what: &'static str) -> Result<Image, BootError> {
    let limits = image::Limits { raw: room_at(machine, raw_addr), segments: memory_total(machine) };
    image::load(path, raw_addr, limits).map_err(|error| BootError::Image {
        what,
        path: path.to_owned(),
        error,
    })
}

/// Bytes of memory from `addr` to the end of the region holding it (0 if
/// none does: the placement then reports where the image fell).
fn room_at(machine: &Machine, addr: u64) -> u64 {
    machine
        .spec
        .memory
        .iter()
        .find(|m| addr >= m.base && addr - m.base < m.size)
        .map_or(0, |m| m.size - (addr - m.base))
}

fn memory_total(machine: &Machine) -> u64 {
    machine.spec.memory.iter().fold(0u64, |sum, m| sum.saturating_add(m.size))
}

fn end_of(img: &Image) -> u64 {
    img.segments.iter().map(|s| s.addr.saturating_add(s.mem_size)).max().unwrap_or(0)
}

fn start_of(img: &Image) -> u64 {
    img.segments.iter().map(|s| s.addr).min().unwrap_or(0)
}

/// Lay out firmware, kernel, initrd and device tree in `machine`'s RAM and
/// start its harts. Returns what was placed, for the log.
pub fn boot(machine: &mut Machine, opts: &BootOptions) -> Result<Boot, BootError> {
    let ram = machine
        .spec
        .memory
        .iter()
        .find(|m| !m.readonly)
        .cloned()
        .ok_or_else(|| BootError::NoRam { machine: machine.spec.name.clone() })?;
    let ram_end = ram.base.saturating_add(ram.size);

    // The header tells a Linux `Image` (which wants firmware) apart; the
    // file itself is read once its load address is known.
    let head = match &opts.kernel {
        Some(p) => image::read_head(p, 0x40).map_err(|error| BootError::Image {
            what: "kernel",
            path: p.clone(),
            error,
        })?,
        None => Vec::new(),
    };
    let linux = is_linux_image(&head);
    if let (Some(addr), Some(p)) = (opts.kernel_addr, &opts.kernel)
        && head.starts_with(image::ELF_MAGIC)
    {
        // An ELF goes where its program headers say; moving it would break
        // its absolute addresses, so the option cannot be honoured.
        return Err(BootError::KernelAddrOfElf { addr, kernel: p.clone() });
    }
    let firmware_path = match &opts.bios {
        Bios::None => None,
        Bios::Auto if !linux => None,
        Bios::File(p) => Some(p.clone()),
        Bios::Auto | Bios::Default => Some(find_opensbi().ok_or(BootError::NoFirmware)?),
    };
    if opts.kernel.is_none() && firmware_path.is_none() {
        return Err(BootError::NothingToRun);
    }

    let mut images: Vec<(String, Image)> = Vec::new();
    let firmware = match &firmware_path {
        Some(p) => {
            let img = load(machine, p, ram.base, "firmware")?;
            images.push((p.display().to_string(), img.clone()));
            Some(img)
        }
        None => None,
    };

    let mut kernel_entry = None;
    if let Some(path) = &opts.kernel {
        let raw_addr = opts.kernel_addr.unwrap_or(match &firmware {
            Some(fw) => end_of(fw).next_multiple_of(2 * MIB),
            None => ram.base,
        });
        let img = load(machine, path, raw_addr, "kernel")?;
        kernel_entry = Some(img.entry);
        images.push((path.display().to_string(), img));
    }

    let mut chosen = Chosen { bootargs: opts.append.clone(), initrd: None };
    if let Some(path) = &opts.initrd {
        let Some(entry) = kernel_entry else { return Err(BootError::InitrdWithoutKernel) };
        // QEMU's riscv_load_initrd: far enough that the kernel does not
        // clobber it when it unpacks, low enough to stay in low memory.
        let start = entry.saturating_add((ram.size / 2).min(128 * MIB));
        // Read no more than fits: the file may be a device or a pipe.
        let room = ram_end.saturating_sub(start);
        let initrd_err = |error| BootError::Initrd { path: path.clone(), error };
        let file = std::fs::File::open(path).map_err(initrd_err)?;
        let Some(data) = wemu_sandbox::file_caps::read_to_cap(file, room).map_err(initrd_err)? else {
            return Err(BootError::InitrdTooLarge { path: path.clone(), room, start, ram_end });
        };
        let end = start.saturating_add(data.len() as u64);
        chosen.initrd = Some((start, end));
        images.push((
            path.display().to_string(),
            Image {
                entry: start,
                segments: vec![Segment { addr: start, mem_size: data.len() as u64, data }],
                htif: None,
            },
        ));
    }

    let dtb = fdt::build(machine, &chosen)?;
    // QEMU's riscv_load_fdt: the top of RAM below 3 GiB, 2 MiB aligned (in
    // a RAM too small for that, 8-byte aligned at the top).
    let top = if ram.base < 3072 * MIB { ram_end.min(3072 * MIB) } else { ram_end };
    let dtb_len = dtb.len() as u64;
    let fits = top
        .checked_sub(dtb_len)
        .and_then(|a| [a & !(2 * MIB - 1), a & !7].into_iter().find(|&a| a >= ram.base));
    let dtb_image = fits.map(|addr| {
        let seg = Segment { addr, mem_size: dtb_len, data: dtb };
        ("<device tree>".to_owned(), Image { entry: addr, segments: vec![seg], htif: None })
    });
    // A bare-metal program may use all of RAM and not want a device tree:
    // then it gets none (a1 = 0). Firmware always needs one.
    let room = dtb_image
        .as_ref()
        .is_some_and(|d| check_overlaps(&[images.as_slice(), std::slice::from_ref(d)].concat()).is_ok());
    let dtb_addr = match dtb_image {
        Some(d) if room || firmware.is_some() => {
            let addr = d.1.entry;
            images.push(d);
            addr
        }
        None if firmware.is_some() => return Err(BootError::DtbTooLarge { len: dtb_len }),
        _ => {
            tracing::info!(target: "wemu::boot", "boot: no room for the device tree beside the program; a1 = 0");
            0
        }
    };

    let (entry, a2) = match (&firmware, kernel_entry) {
        (Some(fw), next) => {
            // The page below the device tree: free in QEMU's layout too.
            let info_addr = dtb_addr
                .checked_sub(0x1000)
                .filter(|&a| a >= ram.base)
                .ok_or(BootError::NoRoomForFirmwareInfo { dtb_addr })?;
            let fields = [
                FW_DYNAMIC_MAGIC,
                FW_DYNAMIC_VERSION,
                next.unwrap_or(end_of(fw).next_multiple_of(2 * MIB)),
                FW_DYNAMIC_NEXT_MODE_S,
                0, // options
                0, // boot_hart: hart 0 does the cold boot
            ];
            let data: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
            images.push((
                "<fw_dynamic_info>".to_owned(),
                Image {
                    entry: info_addr,
                    segments: vec![Segment { addr: info_addr, mem_size: data.len() as u64, data }],
                    htif: None,
                },
            ));
            (fw.entry, info_addr)
        }
        (None, Some(entry)) => (entry, 0),
        (None, None) => unreachable!("checked above: a kernel or a firmware"),
    };

    check_overlaps(&images)?;
    let boot = Boot { images, entry, a1: dtb_addr, a2 };
    machine.install(boot.clone()).map_err(BootError::Install)?;
    for (name, img) in &boot.images {
        tracing::info!(target: "wemu::boot", "boot: {name} at [{:#x}..{:#x})", start_of(img), end_of(img));
    }
    Ok(boot)
}

/// Two images sharing bytes would silently corrupt one another.
fn check_overlaps(images: &[(String, Image)]) -> Result<(), BootError> {
    for (i, (a, ia)) in images.iter().enumerate() {
        for (b, ib) in &images[i + 1..] {
            for sa in &ia.segments {
                for sb in &ib.segments {
                    let (a0, a1) = (sa.addr, sa.addr.saturating_add(sa.mem_size));
                    let (b0, b1) = (sb.addr, sb.addr.saturating_add(sb.mem_size));
                    if a0 < b1 && b0 < a1 {
                        return Err(BootError::Overlap { a: a.clone(), a0, a1, b: b.clone(), b0, b1 });
                    }
                }
            }
        }
    }
    Ok(())
}
