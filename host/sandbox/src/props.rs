//! Device properties written as text: `key=value` pairs, comma-separated,
//! as `--device`, `wemu fuzz --props` and `wemu validate --props` take them.
//! A value is typed the way a machine file would type it: an integer
//! (decimal, `0x` hex, `_` separators, a leading `-`), `true`/`false`, or
//! else text.

use crate::contract::types::{PropValue, Property};
use crate::numbers::parse_u64;

/// A `key=value` list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropsError {
    /// A comma-separated item without `=`.
    #[error("'{0}' is not key=value")]
    NotKeyValue(String),
}

/// Type one value: integer, boolean, or text.
pub fn parse_value(v: &str) -> PropValue {
    let int = |t: &str| parse_u64(t).and_then(|n| i64::try_from(n).ok());
    if let Some(n) = int(v) {
        PropValue::Integer(n)
    } else if let Some(n) = v.strip_prefix('-').and_then(int) {
        PropValue::Integer(-n)
    } else if v == "true" || v == "false" {
        PropValue::Boolean(v == "true")
    } else {
        PropValue::Text(v.to_owned())
    }
}

/// Split one `key=value` item (not trimmed) into its key and value text.
pub fn split_pair(part: &str) -> Result<(&str, &str), PropsError> {
    part.split_once('=').ok_or_else(|| PropsError::NotKeyValue(part.to_owned()))
}

/// Parse `k=v,k=v`: items and keys are trimmed, empty items skipped.
pub fn parse_list(s: &str) -> Result<Vec<Property>, PropsError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = split_pair(part)?;
        out.push(Property { name: k.trim().to_owned(), value: parse_value(v) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_like_machine_file_values() {
        let p = parse_list("a=1,b=0x10,c=-3,d=true,e=text,f=false,g=1_000").unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g"]);
        let values: Vec<&PropValue> = p.iter().map(|p| &p.value).collect();
        assert!(matches!(
            values[..],
            [
                PropValue::Integer(1),
                PropValue::Integer(16),
                PropValue::Integer(-3),
                PropValue::Boolean(true),
                PropValue::Text(_),
                PropValue::Boolean(false),
                PropValue::Integer(1000),
            ]
        ));
    }

    #[test]
    fn out_of_range_integers_and_other_words_are_text() {
        assert!(matches!(parse_value("0xffffffffffffffff"), PropValue::Text(_)));
        assert!(matches!(parse_value("on"), PropValue::Text(_)));
        assert!(matches!(parse_value("-x"), PropValue::Text(_)));
        assert!(matches!(parse_value("-0x8"), PropValue::Integer(-8)));
    }

    #[test]
    fn items_are_trimmed_and_empty_ones_skipped() {
        let p = parse_list(" a = 1 ,, b=x ,").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "a");
        assert!(matches!(p[0].value, PropValue::Integer(1)));
        assert_eq!(p[1].name, "b");
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn an_item_without_equals_is_named_in_the_error() {
        let e = parse_list("a=1,novalue").unwrap_err();
        assert_eq!(e, PropsError::NotKeyValue("novalue".into()));
        assert_eq!(e.to_string(), "'novalue' is not key=value");
    }
}
