//! The command line's changes to a machine file: `--cpu`, `--device` and
//! `--drive`.

use super::layering::{ByName, merge_device};
use super::*;
use wemu_sandbox::contract::types::PropValue;

/// The `[cpu]` keys `--cpu` sets (`--smp` sets the hart count).
const CPU_KEYS: [&str; 1] = ["misaligned"];

/// Apply one `--cpu key=value[,key=value...]` option: the `[cpu]` keys of
/// the machine file that describe the harts' behaviour.
pub fn apply_cpu_option(spec: &mut MachineSpec, option: &str) -> Result<(), ConfigError> {
    let loc = Loc { origin: format!("--cpu {option}"), line: None };
    for part in option.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = wemu_sandbox::props::split_pair(part).map_err(|e| err(&loc, e.to_string()))?;
        match k.trim() {
            "misaligned" => {
                spec.misaligned = Misaligned::parse(v.trim()).ok_or_else(|| {
                    let names: Vec<&str> = Misaligned::ALL.iter().map(|m| m.name()).collect();
                    err(&loc, format!("misaligned '{v}': expected one of {}", names.join(", ")))
                })?;
            }
            other => {
                return Err(err(&loc, format!("unknown key '{other}' (known: {})", CPU_KEYS.join(", "))));
            }
        }
    }
    Ok(())
}

/// Apply one `--device NAME,key=value,...` option to the machine: adds a
/// device, or changes the one whose `id` matches.
pub fn apply_device_option(spec: &mut MachineSpec, option: &str) -> Result<(), ConfigError> {
    let loc = Loc { origin: format!("--device {option}"), line: None };
    let mut parts = option.split(',');
    let component = parts.next().unwrap_or("").trim().to_owned();
    if component.is_empty() {
        return Err(err(&loc, "expected NAME[,key=value...]"));
    }
    let mut d = DeviceRepr { component: Some(component.clone()), ..Default::default() };
    let mut id = None;
    let mut props = toml::Table::new();
    let mut regions = Vec::new();
    let mut irqs = Vec::new();
    let mut dma = Vec::new();
    let mut chardevs = Vec::new();
    for part in parts {
        let (k, v) = wemu_sandbox::props::split_pair(part).map_err(|e| err(&loc, e.to_string()))?;
        let bool_of = |v: &str| match v {
            "on" | "true" | "yes" | "1" => Ok(true),
            "off" | "false" | "no" | "0" => Ok(false),
            _ => Err(err(&loc, format!("'{k}={v}': expected on or off"))),
        };
        match k {
            "id" => id = Some(v.to_owned()),
            "addr" => {
                regions.push(parse_u64(v).ok_or_else(|| err(&loc, format!("addr '{v}' is not a number")))?)
            }
            "irq" => irqs.push(match v.parse::<u32>() {
                Ok(n) => IrqSpec::Number(n),
                Err(_) => IrqSpec::Target(v.to_owned()),
            }),
            "chardev" => chardevs.push(v.to_owned()),
            "block" => d.block = Some(BlockSpec::Path(v.to_owned())),
            "block-ro" => d.block = Some(BlockSpec::Table { file: v.to_owned(), readonly: true }),
            "dma" => match v.split_once('+') {
                Some((b, s)) => {
                    let base =
                        parse_u64(b).ok_or_else(|| err(&loc, format!("dma base '{b}' is not a number")))?;
                    let size = parse_size(s).map_err(|e| err(&loc, e.to_string()))?;
                    dma.push(WindowRepr { base: Some(base), size: Some(Size(size)), memory: None });
                }
                // `dma=ram`: a memory region by name.
                None => dma.push(WindowRepr { memory: Some(v.to_owned()), ..Default::default() }),
            },
            "timers" => d.timers = Some(bool_of(v)?),
            "power" => d.power = Some(bool_of(v)?),
            "memory-limit" => {
                d.memory_limit = Some(Size(parse_size(v).map_err(|e| err(&loc, e.to_string()))?))
            }
            "fuel" => {
                d.fuel = Some(parse_u64(v).ok_or_else(|| err(&loc, format!("fuel '{v}' is not a number")))?)
            }
            "max-timers" | "max-irq-changes" | "log-limit" => {
                let n = parse_u64(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err(&loc, format!("{k} '{v}' is not a number up to {}", u32::MAX)))?;
                match k {
                    "max-timers" => d.max_timers = Some(n),
                    "max-irq-changes" => d.max_irq_changes = Some(n),
                    _ => d.log_limit = Some(n),
                }
            }
            "on-fault" => {
                d.on_fault =
                    Some(v.parse().map_err(|e: crate::machine::UnknownPolicy| err(&loc, e.to_string()))?)
            }
            _ => {
                let value = match wemu_sandbox::props::parse_value(v) {
                    PropValue::Integer(n) => toml::Value::Integer(n),
                    PropValue::Boolean(b) => toml::Value::Boolean(b),
                    PropValue::Text(t) => toml::Value::String(t),
                };
                props.insert(k.to_owned(), value);
            }
        }
    }
    d.name = id.unwrap_or(component);
    if !regions.is_empty() {
        d.regions = Some(regions);
    }
    if !irqs.is_empty() {
        d.irqs = Some(irqs);
    }
    if !dma.is_empty() {
        d.dma = Some(dma);
    }
    if !chardevs.is_empty() {
        d.chardev = Some(OneOrMany::Many(chardevs));
    }
    if !props.is_empty() {
        d.props = Some(props);
    }
    let mut devices = ByName::new(std::mem::take(&mut spec.devices), |d| &d.name);
    let merged = merge_device(&mut devices, d, loc, None);
    spec.devices = devices.into_vec();
    merged
}

/// Component of an empty virtio-mmio slot, and what `--drive` turns it into.
const VIRTIO_SLOT: &str = "virtio-mmio";
const VIRTIO_BLK: &str = "virtio-blk";

/// `--drive file=PATH[,readonly=on]`: attach a raw disk image to the first
/// empty virtio-mmio slot (component `virtio-mmio`, in machine-file order)
/// by making it a `virtio-blk` with that image as its block backend.
pub fn apply_drive_option(spec: &mut MachineSpec, option: &str) -> Result<(), ConfigError> {
    let loc = Loc { origin: format!("--drive {option}"), line: None };
    let (mut file, mut readonly) = (None, false);
    for part in option.split(',') {
        match part.split_once('=') {
            Some(("file", v)) if !v.is_empty() => file = Some(v.to_owned()),
            Some(("readonly", "on" | "true" | "yes" | "1")) => readonly = true,
            Some(("readonly", "off" | "false" | "no" | "0")) => readonly = false,
            Some(("format", "raw")) => {}
            _ => {
                return Err(err(
                    &loc,
                    format!("'{part}': expected file=PATH, readonly=on|off or format=raw"),
                ));
            }
        }
    }
    let file = file.ok_or_else(|| err(&loc, "missing file=PATH"))?;
    let slot = spec.devices.iter_mut().find(|d| d.component == VIRTIO_SLOT).ok_or_else(|| {
        err(
            &loc,
            format!(
                "machine '{}' has no free virtio-mmio slot (a device with component \"{VIRTIO_SLOT}\")",
                spec.name
            ),
        )
    })?;
    slot.component = VIRTIO_BLK.to_owned();
    slot.block = Some((PathBuf::from(file), readonly));
    slot.loc = loc;
    Ok(())
}
