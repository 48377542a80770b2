//! `wemu validate`: check a device component and run it in a sandbox.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::options::{DeviceLimitArgs, PathArgs, loader};

#[derive(Args)]
pub(crate) struct ValidateArgs {
    /// The component: a .wasm file, or a name on the device search path
    /// (see `wemu devices`).
    #[arg(value_name = "FILE|NAME")]
    pub(crate) component: String,

    /// Properties for `create`, as in --device: k=v,k=v (default: none).
    #[arg(long, value_name = "K=V,...")]
    pub(crate) props: Option<String>,

    #[command(flatten)]
    pub(crate) limits: DeviceLimitArgs,

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
    let props = wemu_sandbox::props::parse_list(args.props.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--props: {e}"))?;
    let opts =
        wemu_tools::validate::Options { props, fuel: args.limits.fuel, memory_limit: args.limits.memory() };
    println!(
        "validating {origin} against {}@{}",
        wemu_sandbox::contract::PACKAGE,
        wemu_sandbox::contract::version_string()
    );
    let report = wemu_tools::validate::validate(&loader, &name, origin, &bytes, &opts);
    println!("{report}");
    Ok(if report.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
