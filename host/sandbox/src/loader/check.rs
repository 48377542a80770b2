//! What a component says about itself before it runs: which contract
//! release it was built against (its export's version) and which host
//! interfaces it imports (its capabilities).

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::contract;

/// A semver triple.
pub type Version = (u64, u64, u64);

/// Why a component is not loadable as a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("it does not export {pkg}/device (exports: {found}); is it a wemu device?", pkg = contract::PACKAGE)]
    NotADevice { found: String },
    #[error(
        "it was built against contract {pkg}@{}, but this wemu implements {pkg}@{} (compatible: {})",
        fmt_version(*.device), fmt_version(*.host), compat_range(*.host), pkg = contract::PACKAGE
    )]
    Incompatible { device: Version, host: Version },
    #[error("it imports {0}: devices must not use WASI (no files, clocks or stdio); log through {pkg}/log instead", pkg = contract::PACKAGE)]
    Wasi(String),
    #[error("it imports {0}, which this wemu (contract {pkg}@{ver}) does not provide", pkg = contract::PACKAGE, ver = contract::version_string())]
    UnknownImport(String),
}

pub fn fmt_version(v: Version) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// The contract releases a host implementing `v` loads, e.g. "0.1.0 to 0.1.3".
pub fn compat_range(v: Version) -> String {
    if v.0 == 0 {
        format!("0.{}.0 to {}", v.1, fmt_version(v))
    } else {
        format!("{}.0.0 to {}", v.0, fmt_version(v))
    }
}

/// Cargo's semver compatibility: same leftmost non-zero number, and not
/// newer than what the host implements.
pub fn compatible(device: Version, host: Version) -> bool {
    let same_line = if host.0 == 0 { device.0 == 0 && device.1 == host.1 } else { device.0 == host.0 };
    same_line && device <= host
}

fn parse_version(s: &str) -> Option<Version> {
    let mut it = s.split('.').map(|p| p.parse::<u64>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

/// Split `wemu:device/log@0.1.0` into (`wemu:device`, `log`, version).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (pkg, rest) = name.split_once('/')?;
    match rest.split_once('@') {
        Some((iface, ver)) => Some((pkg, iface, Some(ver))),
        None => Some((pkg, rest, None)),
    }
}

/// The checked facts about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Contract version of its `device` export.
    pub version: Version,
    /// Capability interfaces it imports (subset of `contract::CAPABILITIES`).
    pub capabilities: Vec<&'static str>,
}

/// The names a component exports.
pub fn exports(engine: &Engine, component: &Component) -> Vec<String> {
    component.component_type().exports(engine).map(|(n, _)| n.to_owned()).collect()
}

/// The contract release of the component's `device` export, if this host
/// can use it.
pub fn export_version(engine: &Engine, component: &Component) -> Result<Version, CheckError> {
    let exports = exports(engine, component);
    let version = exports
        .iter()
        .filter_map(|n| split_name(n))
        .find(|(pkg, iface, _)| *pkg == contract::PACKAGE && *iface == "device")
        .and_then(|(_, _, v)| v.and_then(parse_version))
        .ok_or_else(|| CheckError::NotADevice {
            found: if exports.is_empty() { "nothing".into() } else { exports.join(", ") },
        })?;
    let host = contract::VERSION;
    if !compatible(version, host) {
        return Err(CheckError::Incompatible { device: version, host });
    }
    Ok(version)
}

/// Every import of the component with what it means here: the capability
/// it needs (`None` for `log`, `irq`, `types`), or why it is refused.
pub fn imports(
    engine: &Engine,
    component: &Component,
) -> Vec<(String, Result<Option<&'static str>, CheckError>)> {
    let host = contract::VERSION;
    let classify = |name: &str| {
        let Some((pkg, iface, ver)) = split_name(name) else {
            return Err(CheckError::UnknownImport(name.to_owned()));
        };
        if pkg.starts_with("wasi:") {
            return Err(CheckError::Wasi(name.to_owned()));
        }
        if pkg != contract::PACKAGE {
            return Err(CheckError::UnknownImport(name.to_owned()));
        }
        match ver.and_then(parse_version) {
            Some(v) if compatible(v, host) => {}
            Some(v) => return Err(CheckError::Incompatible { device: v, host }),
            None => return Err(CheckError::UnknownImport(name.to_owned())),
        }
        if let Some((cap, _, _)) = contract::CAPABILITIES.iter().find(|(c, _, _)| *c == iface) {
            Ok(Some(*cap))
        } else if contract::BASELINE.contains(&iface) {
            Ok(None)
        } else {
            Err(CheckError::UnknownImport(name.to_owned()))
        }
    };
    component.component_type().imports(engine).map(|(name, _)| (name.to_owned(), classify(name))).collect()
}

/// Check a compiled component against the contract.
pub fn check(engine: &Engine, component: &Component) -> Result<Checked, CheckError> {
    let version = export_version(engine, component)?;
    let mut capabilities = Vec::new();
    for (_, found) in imports(engine, component) {
        if let Some(cap) = found? {
            capabilities.push(cap);
        }
    }
    // Report in the contract's order, whatever order the imports came in.
    capabilities.sort_by_key(|c| contract::CAPABILITIES.iter().position(|(k, _, _)| k == c));
    capabilities.dedup();
    Ok(Checked { version, capabilities })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_cargo_semver() {
        assert!(compatible((0, 1, 0), (0, 1, 0)));
        assert!(compatible((0, 1, 0), (0, 1, 3)), "older patch-level additions load");
        assert!(!compatible((0, 1, 4), (0, 1, 3)), "newer than the host");
        assert!(!compatible((0, 2, 0), (0, 1, 3)));
        assert!(!compatible((1, 0, 0), (0, 1, 0)));
        assert!(compatible((1, 2, 0), (1, 5, 0)));
        assert!(!compatible((2, 0, 0), (1, 5, 0)));
    }

    #[test]
    fn names_split() {
        assert_eq!(split_name("wemu:device/log@0.1.0"), Some(("wemu:device", "log", Some("0.1.0"))));
        assert_eq!(parse_version("0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("0.1"), None);
        assert_eq!(parse_version("0.1.0-rc1"), None);
    }
}
