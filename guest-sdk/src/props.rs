//! Typed access to the properties a machine file gives a device.

use std::cell::RefCell;
use std::collections::BTreeSet;

/// One property value (the contract's `prop-value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl PropValue {
    fn kind(&self) -> &'static str {
        match self {
            PropValue::Bool(_) => "a boolean",
            PropValue::Int(_) => "an integer",
            PropValue::Text(_) => "a string",
        }
    }
}

/// The properties given to [`crate::Device::create`]. Each getter marks the
/// property as used, so [`Props::finish`] can refuse unknown ones.
#[derive(Debug, Default)]
pub struct Props {
    items: Vec<(String, PropValue)>,
    used: RefCell<BTreeSet<String>>,
}

impl Props {
    /// Build from name/value pairs (the runtime and tests do this).
    pub fn new(items: Vec<(String, PropValue)>) -> Self {
        Props { items, used: RefCell::default() }
    }

    fn get(&self, name: &str) -> Option<&PropValue> {
        self.used.borrow_mut().insert(name.to_owned());
        self.items.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn wrong_type(name: &str, want: &str, got: &PropValue) -> String {
        format!("property '{name}' must be {want}, not {}", got.kind())
    }

    /// An unsigned integer property, or `default` when absent.
    pub fn u64_or(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(PropValue::Int(v)) => {
                u64::try_from(*v).map_err(|_| format!("property '{name}' must not be negative"))
            }
            Some(other) => Err(Self::wrong_type(name, "an integer", other)),
        }
    }

    /// A `u32` property with a range check, or `default` when absent.
    pub fn u32_or(&self, name: &str, default: u32) -> Result<u32, String> {
        let v = self.u64_or(name, u64::from(default))?;
        u32::try_from(v).map_err(|_| format!("property '{name}' = {v} does not fit in 32 bits"))
    }

    /// A boolean property, or `default` when absent.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(default),
            Some(PropValue::Bool(b)) => Ok(*b),
            Some(other) => Err(Self::wrong_type(name, "a boolean", other)),
        }
    }

    /// A string property, or `default` when absent.
    pub fn str_or(&self, name: &str, default: &str) -> Result<String, String> {
        match self.get(name) {
            None => Ok(default.to_owned()),
            Some(PropValue::Text(s)) => Ok(s.clone()),
            Some(other) => Err(Self::wrong_type(name, "a string", other)),
        }
    }

    /// Refuse properties no getter asked for, naming them.
    pub fn finish(&self) -> Result<(), String> {
        let used = self.used.borrow();
        let unknown: Vec<&str> =
            self.items.iter().map(|(n, _)| n.as_str()).filter(|n| !used.contains(*n)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = used.iter().map(String::as_str).collect();
        Err(format!(
            "unknown propert{} {} (known: {})",
            if unknown.len() == 1 { "y" } else { "ies" },
            unknown.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(items: &[(&str, PropValue)]) -> Props {
        Props::new(items.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect())
    }

    #[test]
    fn typed_getters_read_values_and_defaults() {
        let p = props(&[("freq", PropValue::Int(10)), ("on", PropValue::Bool(true))]);
        assert_eq!(p.u64_or("freq", 1), Ok(10));
        assert_eq!(p.bool_or("on", false), Ok(true));
        assert_eq!(p.str_or("label", "x"), Ok("x".to_owned()));
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn wrong_type_and_range_are_named() {
        let p = props(&[("freq", PropValue::Text("fast".into())), ("n", PropValue::Int(-1))]);
        let err = p.u64_or("freq", 0).unwrap_err();
        assert!(err.contains("'freq'") && err.contains("a string"), "{err}");
        assert!(p.u64_or("n", 0).unwrap_err().contains("negative"));
        let big = props(&[("w", PropValue::Int(1 << 40))]);
        assert!(big.u32_or("w", 0).unwrap_err().contains("32 bits"));
    }

    #[test]
    fn finish_names_unknown_properties() {
        let p = props(&[("freq", PropValue::Int(1)), ("bogus", PropValue::Bool(true))]);
        let _ = p.u64_or("freq", 0);
        let err = p.finish().unwrap_err();
        assert!(err.contains("'bogus'") && err.contains("known: freq"), "{err}");
    }
}
