//! Number syntax shared by machine files, `--device`/`--props` options and
//! the command line: decimal or `0x` hex with `_` separators, and sizes
//! with a `K`/`M`/`G` suffix.

/// A size that does not parse (or overflows 64 bits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a size (e.g. 128M, 64K, 0x1000)")]
pub struct SizeError {
    /// The text as given.
    pub text: String,
}

/// Parse "128M", "4k", "1G", "0x1000", "4096".
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    parse_u64(num).and_then(|n| n.checked_mul(mul)).ok_or_else(|| SizeError { text: s.to_owned() })
}

/// Decimal or 0x-hex, underscores allowed.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}
