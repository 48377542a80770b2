//! `wemu devices`: list the device components on the search path.

use anyhow::Result;
use wemu_sandbox::loader::check;

use crate::options::{PathArgs, loader};

pub(crate) fn run(args: PathArgs) -> Result<()> {
    let mut loader = loader(&args)?;
    let listed = wemu_sandbox::loader::search::list_devices(loader.search_path());
    println!("contract: {}@{}", wemu_sandbox::contract::PACKAGE, wemu_sandbox::contract::version_string());
    for (name, origin) in listed {
        match loader.load(&name) {
            Err(e) => println!("\n{name}  [{origin}]\n  unusable: {e}"),
            Ok(loaded) => {
                println!("\n{name}  [{origin}]");
                println!(
                    "  contract: {}@{}",
                    wemu_sandbox::contract::PACKAGE,
                    check::fmt_version(loaded.checked.version)
                );
                let caps = if loaded.checked.capabilities.is_empty() {
                    "none".to_owned()
                } else {
                    loaded.checked.capabilities.join(", ")
                };
                println!("  capabilities: {caps}");
                let imports = wemu_sandbox::device::DeviceImports::new(
                    &name,
                    wemu_sandbox::device::DEFAULT_MEMORY_LIMIT,
                );
                match loader.instantiate(&loaded, imports, wemu_sandbox::device::DEFAULT_FUEL, Vec::new()) {
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
