//! The flattened device tree handed to the guest (a1 at boot), built from
//! the machine: cpus from `[cpu]`, memory nodes from the RAM regions, one
//! node per device from the node the device declared in `create`, and the
//! parts only the host knows added to it: `reg` from where the machine
//! file placed the regions, `interrupts`/`interrupt-parent` or
//! `interrupts-extended` from the IRQ wiring, `phandle` on every interrupt
//! controller. The layout follows QEMU's riscv `virt` board so that
//! OpenSBI and Linux find what they look for.

use std::collections::{BTreeSet, HashMap};

use vm_fdt::FdtWriter;

use crate::irq::{IrqPin, Sink};
use crate::machine::Machine;
use wemu_sandbox::contract::types::{DtNode, DtValue};

/// What the tree's `/chosen` node says.
#[derive(Debug, Clone, Default)]
pub struct Chosen {
    /// Kernel command line (`--append`).
    pub bootargs: Option<String>,
    /// Where the initrd was placed: `[start, end)`.
    pub initrd: Option<(u64, u64)>,
}

/// Why the tree could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FdtError {
    /// A device declared a node the writer refused (bad name, NUL in a
    /// string, ...).
    #[error("device '{device}': its device-tree node is invalid: {error}")]
    Device { device: String, error: String },
    #[error("device tree: {0}")]
    Host(String),
}

/// Properties the host writes itself; a device declaring one is ignored
/// for that property (with a warning), since the host's value is the one
/// that matches the machine.
const HOST_OWNED: &[&str] =
    &["reg", "interrupts", "interrupt-parent", "interrupts-extended", "phandle", "linux,phandle"];

/// The hart's local interrupt cause number for a pin, as the cpu
/// interrupt-controller (`riscv,cpu-intc`) numbers them.
fn cause_of(pin: IrqPin) -> u32 {
    match pin {
        IrqPin::MachineSoftware => 3,
        IrqPin::MachineTimer => 7,
        IrqPin::SupervisorExternal => 9,
        IrqPin::MachineExternal => 11,
    }
}

/// The MMU the hart implements: the largest mode `satp` accepts.
const MMU_TYPE: &str = "riscv,sv48";

/// Build the DTB of `machine`.
pub fn build(machine: &Machine, chosen: &Chosen) -> Result<Vec<u8>, FdtError> {
    let host = |e: vm_fdt::Error| FdtError::Host(e.to_string());
    let spec = &machine.spec;
    let slots = &machine.platform.slots;
    let harts = machine.harts.len();

    // Phandles: each hart's interrupt controller, then every device some
    // line is wired into.
    let intc_phandle = |hart: usize| 1 + hart as u32;
    let mut next_phandle = 1 + harts as u32;
    let mut controllers: BTreeSet<usize> = BTreeSet::new();
    for (idx, slot) in slots.iter().enumerate() {
        for line in 0..slot.dev.description().irq_outputs {
            if let Some(Sink::Device { device, .. }) = machine.platform.irq.sink_of(idx, line) {
                controllers.insert(*device);
            }
        }
    }
    let mut phandles: HashMap<usize, u32> = HashMap::new();
    for d in controllers {
        phandles.insert(d, next_phandle);
        next_phandle += 1;
    }

    let mut fdt = FdtWriter::new().map_err(host)?;
    let root = fdt.begin_node("").map_err(host)?;
    fdt.property_u32("#address-cells", 2).map_err(host)?;
    fdt.property_u32("#size-cells", 2).map_err(host)?;
    fdt.property_string("compatible", "riscv-virtio").map_err(host)?;
    fdt.property_string("model", &format!("wemu {}", spec.name)).map_err(host)?;

    write_chosen(&mut fdt, machine, chosen).map_err(host)?;
    write_cpus(&mut fdt, machine, intc_phandle).map_err(host)?;

    for m in spec.memory.iter().filter(|m| !m.readonly) {
        let node = fdt.begin_node(&format!("memory@{:x}", m.base)).map_err(host)?;
        fdt.property_string("device_type", "memory").map_err(host)?;
        fdt.property_array_u64("reg", &[m.base, m.size]).map_err(host)?;
        fdt.end_node(node).map_err(host)?;
    }

    let soc = fdt.begin_node("soc").map_err(host)?;
    fdt.property_u32("#address-cells", 2).map_err(host)?;
    fdt.property_u32("#size-cells", 2).map_err(host)?;
    fdt.property_string("compatible", "simple-bus").map_err(host)?;
    fdt.property_null("ranges").map_err(host)?;
    let mut names = BTreeSet::new();
    for (idx, slot) in slots.iter().enumerate() {
        let Some(node) = &slot.dev.description().dt_node else { continue };
        let name = node_name(node, &slot.spec.regions);
        if !names.insert(name.clone()) {
            return Err(FdtError::Device {
                device: slot.spec.name.clone(),
                error: format!("a second node named '{name}' (two devices at one address?)"),
            });
        }
        let dev_err =
            |e: vm_fdt::Error| FdtError::Device { device: slot.spec.name.clone(), error: e.to_string() };
        let n = fdt.begin_node(&name).map_err(dev_err)?;
        write_device_props(&mut fdt, node, &slot.spec.name).map_err(dev_err)?;
        let regs: Vec<u64> = slot
            .dev
            .description()
            .regions
            .iter()
            .zip(&slot.spec.regions)
            .flat_map(|((_, size), base)| [*base, *size])
            .collect();
        if !regs.is_empty() {
            fdt.property_array_u64("reg", &regs).map_err(dev_err)?;
        }
        let lines: Vec<Option<&Sink>> =
            (0..slot.dev.description().irq_outputs).map(|l| machine.platform.irq.sink_of(idx, l)).collect();
        write_interrupts(&mut fdt, &lines, &phandles, intc_phandle).map_err(dev_err)?;
        if let Some(p) = phandles.get(&idx) {
            fdt.property_phandle(*p).map_err(dev_err)?;
        }
        fdt.end_node(n).map_err(dev_err)?;
    }
    fdt.end_node(soc).map_err(host)?;
    fdt.end_node(root).map_err(host)?;
    fdt.finish().map_err(host)
}

/// Check a device's node as [`build`] would write it (at an example unit
/// address), without a machine: `Err` if the FDT writer refuses it, else
/// the warnings (properties the host ignores, no `compatible` string). `wemu validate` reports these.
pub fn check_node(node: &DtNode) -> Result<Vec<String>, String> {
    if node.name.is_empty() {
        return Err("the node name is empty".into());
    }
    if node.name.contains('@') {
        return Err(format!("node name '{}' has a unit address; the host adds it", node.name));
    }
    let mut fdt = FdtWriter::new().map_err(|e| e.to_string())?;
    let n = fdt
        .begin_node(&node_name(node, &[0x1000_0000]))
        .map_err(|e| format!("node name '{}': {e}", node.name))?;
    for c in &node.compatible {
        if c.is_empty() || c.contains('\0') {
            return Err(format!("compatible string {c:?} is empty or contains NUL"));
        }
    }
    // What build writes: host-owned and repeated properties are dropped
    // (reported below as warnings rather than logged).
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::from(["compatible"]);
    let mut kept = Vec::new();
    for p in &node.properties {
        if HOST_OWNED.contains(&p.name.as_str()) {
            warnings
                .push(format!("property '{}' is written by the host; the device's value is ignored", p.name));
        } else if !seen.insert(p.name.as_str()) {
            warnings.push(format!("property '{}' is declared twice; the second is ignored", p.name));
        } else {
            kept.push(p.clone());
        }
    }
    // Each property alone first, so an error names it.
    for p in &kept {
        let mut one = FdtWriter::new().map_err(|e| e.to_string())?;
        let node = one.begin_node("n").map_err(|e| e.to_string())?;
        let single = DtNode { name: "n".into(), compatible: Vec::new(), properties: vec![p.clone()] };
        write_device_props(&mut one, &single, "").map_err(|e| format!("property '{}': {e}", p.name))?;
        one.end_node(node).map_err(|e| e.to_string())?;
    }
    let written = DtNode { properties: kept, ..node.clone() };
    write_device_props(&mut fdt, &written, "").map_err(|e| e.to_string())?;
    fdt.end_node(n).map_err(|e| e.to_string())?;
    fdt.finish().map_err(|e| e.to_string())?;

    if node.name.len() > 31 {
        warnings
            .push(format!("node name '{}' is longer than the 31 characters the DT spec allows", node.name));
    }
    if node.compatible.is_empty() {
        warnings.push("no compatible strings: an OS cannot bind a driver to it".into());
    }
    Ok(warnings)
}

/// `serial@10000000`: the declared name at the first region's address.
fn node_name(node: &DtNode, regions: &[u64]) -> String {
    match regions.first() {
        Some(base) => format!("{}@{base:x}", node.name),
        None => node.name.clone(),
    }
}

fn write_chosen(fdt: &mut FdtWriter, machine: &Machine, chosen: &Chosen) -> Result<(), vm_fdt::Error> {
    let node = fdt.begin_node("chosen")?;
    if let Some(args) = &chosen.bootargs {
        fdt.property_string("bootargs", args)?;
    }
    if let Some(path) = stdout_path(machine) {
        fdt.property_string("stdout-path", &path)?;
    }
    if let Some((start, end)) = chosen.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    fdt.end_node(node)
}

/// The console: the first device with a node whose port 0 is bound to
/// the first serial (`serial0`, or `stdio` written out).
fn stdout_path(machine: &Machine) -> Option<String> {
    machine.platform.slots.iter().find_map(|slot| {
        let node = slot.dev.description().dt_node.as_ref()?;
        let port0 = slot.spec.chardevs.first()?;
        (port0 == "serial0" || port0 == "stdio")
            .then(|| format!("/soc/{}", node_name(node, &slot.spec.regions)))
    })
}

fn write_cpus(
    fdt: &mut FdtWriter,
    machine: &Machine,
    intc_phandle: impl Fn(usize) -> u32,
) -> Result<(), vm_fdt::Error> {
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    // The DT cell is 32 bits; a machine file asking for more is clamped.
    fdt.property_u32(
        "timebase-frequency",
        u32::try_from(machine.spec.timebase_frequency).unwrap_or(u32::MAX),
    )?;
    for hart in 0..machine.harts.len() {
        let cpu = fdt.begin_node(&format!("cpu@{hart}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_u32("reg", hart as u32)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", &machine.spec.isa)?;
        fdt.property_string("mmu-type", MMU_TYPE)?;
        let intc = fdt.begin_node("interrupt-controller")?;
        fdt.property_u32("#interrupt-cells", 1)?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_string("compatible", "riscv,cpu-intc")?;
        fdt.property_phandle(intc_phandle(hart))?;
        fdt.end_node(intc)?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)
}

fn write_device_props(fdt: &mut FdtWriter, node: &DtNode, device: &str) -> Result<(), vm_fdt::Error> {
    if !node.compatible.is_empty() {
        fdt.property_string_list("compatible", node.compatible.clone())?;
    }
    let mut seen = BTreeSet::from(["compatible"]);
    for p in &node.properties {
        if HOST_OWNED.contains(&p.name.as_str()) || !seen.insert(p.name.as_str()) {
            tracing::warn!(target: "wemu::fdt",
                "device '{device}': device-tree property '{}' ignored (host-owned or repeated)",
                p.name
            );
            continue;
        }
        match &p.value {
            DtValue::Empty => fdt.property_null(&p.name)?,
            DtValue::Cells(c) => fdt.property_array_u32(&p.name, c)?,
            DtValue::Cells64(c) => fdt.property_array_u64(&p.name, c)?,
            DtValue::Text(s) => fdt.property_string(&p.name, s)?,
            DtValue::Texts(v) => fdt.property_string_list(&p.name, v.clone())?,
            DtValue::Bytes(b) => fdt.property(&p.name, b)?,
        }
    }
    Ok(())
}

/// `interrupt-parent` + `interrupts` when every wired line goes to one
/// controller (QEMU's style for the UART and virtio), else
/// `interrupts-extended` (the PLIC's and CLINT's per-hart contexts). A
/// line left unconnected in the middle of `interrupts-extended` would
/// shift the positions after it, which a PLIC reads as context numbers: it
/// is written against hart 0's controller with cause 0xffffffff, which
/// Linux and OpenSBI skip (QEMU writes absent contexts the same way).
fn write_interrupts(
    fdt: &mut FdtWriter,
    lines: &[Option<&Sink>],
    phandles: &HashMap<usize, u32>,
    intc_phandle: impl Fn(usize) -> u32,
) -> Result<(), vm_fdt::Error> {
    let wired: Vec<(usize, &Sink)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(|s| !matches!(s, Sink::Unconnected { .. })).map(|s| (i, s)))
        .collect();
    let Some(&(last, _)) = wired.last() else { return Ok(()) };
    let parents: BTreeSet<usize> = wired
        .iter()
        .filter_map(|(_, s)| match s {
            Sink::Device { device, .. } => Some(*device),
            _ => None,
        })
        .collect();
    if let Some(&parent) = parents.first().filter(|_| parents.len() == 1)
        && wired.iter().all(|(_, s)| matches!(s, Sink::Device { .. }))
    {
        // Lines must be contiguous from 0 for plain `interrupts`.
        if wired.len() == last + 1 {
            fdt.property_u32("interrupt-parent", phandles[&parent])?;
            let cells: Vec<u32> = wired
                .iter()
                .map(|(_, s)| match s {
                    Sink::Device { line, .. } => *line,
                    _ => unreachable!("filtered to device sinks"),
                })
                .collect();
            return fdt.property_array_u32("interrupts", &cells);
        }
    }
    let mut cells = Vec::new();
    for sink in &lines[..=last] {
        match sink {
            Some(Sink::Hart { hart, pin }) => cells.extend([intc_phandle(*hart), cause_of(*pin)]),
            Some(Sink::Device { device, line }) => cells.extend([phandles[device], *line]),
            Some(Sink::Unconnected { .. }) | None => cells.extend([intc_phandle(0), u32::MAX]),
        }
    }
    fdt.property_array_u32("interrupts-extended", &cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_sandbox::contract::types::DtProperty;

    fn node(name: &str, compatible: &[&str], props: Vec<DtProperty>) -> DtNode {
        DtNode {
            name: name.into(),
            compatible: compatible.iter().map(|c| (*c).to_owned()).collect(),
            properties: props,
        }
    }

    #[test]
    fn a_plain_node_passes_without_warnings() {
        let n = node(
            "serial",
            &["ns16550a"],
            vec![DtProperty { name: "clock-frequency".into(), value: DtValue::Cells(vec![3_686_400]) }],
        );
        assert_eq!(check_node(&n), Ok(vec![]));
        let bare = check_node(&node("crc", &[], vec![])).unwrap();
        assert!(bare[0].contains("no compatible strings"), "{bare:?}");
    }

    #[test]
    fn what_the_writer_refuses_is_named() {
        assert!(check_node(&node("", &["a,b"], vec![])).unwrap_err().contains("empty"));
        assert!(check_node(&node("uart@10", &["a,b"], vec![])).unwrap_err().contains("unit address"));
        assert!(check_node(&node("bad name", &["a,b"], vec![])).unwrap_err().contains("'bad name'"));
        let bad_prop = DtProperty { name: "no spaces".into(), value: DtValue::Empty };
        assert!(check_node(&node("x", &["a,b"], vec![bad_prop])).unwrap_err().contains("'no spaces'"));
        assert!(check_node(&node("x", &["a\0b"], vec![])).unwrap_err().contains("NUL"));
    }

    #[test]
    fn host_owned_and_repeated_properties_are_warnings() {
        let p = |n: &str| DtProperty { name: n.into(), value: DtValue::Empty };
        let w = check_node(&node("x", &["a,b"], vec![p("reg"), p("foo"), p("foo")])).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("'reg'") && w[1].contains("twice"), "{w:?}");
    }
}
