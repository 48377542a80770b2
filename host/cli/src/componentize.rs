//! `wemu componentize`: wrap a core wasm module into a component.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub(crate) struct ComponentizeArgs {
    /// The core module (e.g. target/wasm32-unknown-unknown/release/NAME.wasm).
    #[arg(value_name = "CORE.wasm")]
    pub(crate) input: PathBuf,

    /// Where to write the component (NAME.wasm: the name wemu loads it by).
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    pub(crate) output: PathBuf,
}

pub(crate) fn run(args: ComponentizeArgs) -> Result<()> {
    let module = wemu_sandbox::file_caps::read_component(&args.input)?;
    let component =
        wemu_tools::newdev::componentize(&module).with_context(|| format!("{}", args.input.display()))?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.output, component).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
