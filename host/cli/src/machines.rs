//! `wemu machines`: list the machines on the machine path.

use anyhow::Result;
use wemu_machine::machine::{self, config};

use crate::options::PathArgs;

pub(crate) fn run(args: PathArgs) -> Result<()> {
    let path = machine::machine_search_path(&args.machine_path);
    for (name, desc, origin) in config::describe_all(&path) {
        println!("{name:<16} {desc}  [{origin}]");
    }
    Ok(())
}
