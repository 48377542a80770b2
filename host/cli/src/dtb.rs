//! `wemu dtb`: write the device tree a machine would give its guest.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use wemu_machine::backend::chardev::ChardevSpec;
use wemu_machine::machine::{self, Machine};

use crate::options::{MachineArgs, boot_options, loader, machine_spec};

#[derive(Args)]
pub(crate) struct DtbArgs {
    #[command(flatten)]
    pub(crate) machine: MachineArgs,

    /// Where to write the DTB.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: PathBuf,
}

pub(crate) fn run(args: DtbArgs) -> Result<()> {
    let spec = machine_spec(&args.machine)?;
    let opts = machine::Options { serials: vec![ChardevSpec::Null], ..machine::Options::default() };
    let mut machine = Machine::build(spec, &mut loader(&args.machine.paths)?, &opts)?;
    let chosen = wemu_machine::fdt::Chosen { bootargs: args.machine.append.clone(), initrd: None };
    let blob = if args.machine.kernel.is_some() || args.machine.bios != wemu_machine::boot::Bios::Auto {
        // The whole boot flow, so /chosen says where the initrd went.
        let boot = wemu_machine::boot::boot(&mut machine, &boot_options(&args.machine))?;
        let dtb =
            boot.images.iter().find(|(n, _)| n == "<device tree>").and_then(|(_, i)| i.segments.first());
        dtb.context("the boot flow placed no device tree")?.data.clone()
    } else {
        wemu_machine::fdt::build(&machine, &chosen)?
    };
    std::fs::write(&args.output, blob).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
