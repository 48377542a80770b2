//! `wemu validate`: check a device component and run it in a sandbox.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::options::{PathArgs, loader, parse_size};

#[derive(Args)]
pub(crate) struct ValidateArgs {
    /// The component: a .wasm file, or a name on the device search path
    /// (see `wemu devices`).
    #[arg(value_name = "FILE|NAME")]
    pub(crate) component: String,

    /// Properties for `create`, as in --device: k=v,k=v (default: none).
    #[arg(long, value_name = "K=V,...")]
    pub(crate) props: Option<String>,

    /// Fuel budget of one device call (as `fuel` in a machine file).
    #[arg(long, value_name = "N", default_value_t = wemu_sandbox::device::DEFAULT_FUEL)]
    pub(crate) fuel: u64,

    /// Memory limit of the instance, all memories and tables together,
    /// e.g. 128M (as `memory-limit` in a machine file; default 64M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory_limit: Option<u64>,

    #[command(flatten)]
    pub(crate) paths: PathArgs,
}

pub(crate) fn run(args: ValidateArgs) -> Result<ExitCode> {
    let loader = loader(&args.paths)?;
    let origin = wemu_sandbox::loader::search::find_device(loader.search_path(), &args.component)
        .with_context(|| format!("no device component named '{}'", args.component))?;
    let bytes =
        wemu_sandbox::loader::search::read_device(&origin).with_context(|| format!("reading {origin}"))?;
    let name = match &origin {
        wemu_sandbox::loader::Origin::File(p) => {
            p.file_stem().and_then(|s| s.to_str()).unwrap_or("device").to_owned()
        }
        wemu_sandbox::loader::Origin::BuiltIn(n) => (*n).to_owned(),
    };
    let props = wemu_tools::validate::parse_props(args.props.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--props: {e}"))?;
    let mut opts = wemu_tools::validate::Options { props, fuel: args.fuel, ..Default::default() };
    if let Some(m) = args.memory_limit {
        opts.memory_limit = m;
    }
    println!(
        "validating {origin} against {}@{}",
        wemu_sandbox::contract::PACKAGE,
        wemu_sandbox::contract::version_string()
    );
    let report = wemu_tools::validate::validate(&loader, &name, origin, &bytes, &opts);
    println!("{report}");
    Ok(if report.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
