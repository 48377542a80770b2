//! `wemu new-device`: write a new device project.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(crate) struct NewDeviceArgs {
    /// Device name: lowercase letters, digits and dashes (the component
    /// becomes NAME.wasm and loads by this name).
    pub(crate) name: String,

    /// Language of the skeleton: rust, c or js (JavaScript, built with
    /// componentize-js).
    #[arg(long, value_name = "rust|c|js")]
    pub(crate) lang: wemu_tools::newdev::Lang,

    /// Directory to create [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

pub(crate) fn run(args: NewDeviceArgs) -> Result<()> {
    let opts = wemu_tools::newdev::Options {
        dir: args.dir.unwrap_or_else(|| PathBuf::from(&args.name)),
        name: args.name,
        lang: args.lang,
    };
    wemu_tools::newdev::create(&opts)?;
    print!("{}", wemu_tools::newdev::next_steps(&opts));
    Ok(())
}
