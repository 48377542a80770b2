//! Save/restore of device state through serde.
//!
//! The bytes are a magic tag followed by the postcard encoding of the
//! state, so a snapshot of something else is refused rather than misread.

use serde::{Serialize, de::DeserializeOwned};

const MAGIC: &[u8; 8] = b"wemu-st1";

/// Serialize `state` (usually the whole device struct).
pub fn save<T: Serialize>(state: &T) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    // Serializing plain structs into a Vec cannot fail; a device whose
    // Serialize impl errors gets an empty (and thus unrestorable) state.
    match postcard::to_allocvec(state) {
        Ok(body) => out.extend_from_slice(&body),
        Err(_) => out.clear(),
    }
    out
}

/// Deserialize a state written by [`save`].
pub fn restore<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| "not a wemu device state (bad magic)".to_owned())?;
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| format!("corrupt device state: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("corrupt device state: {} trailing bytes", rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct S {
        a: u32,
        fifo: Vec<u8>,
    }

    #[test]
    fn round_trips() {
        let s = S { a: 7, fifo: vec![1, 2, 3] };
        assert_eq!(restore::<S>(&save(&s)), Ok(s));
    }

    #[test]
    fn refuses_foreign_or_truncated_bytes() {
        assert!(restore::<S>(b"garbage").unwrap_err().contains("magic"));
        let mut bytes = save(&S { a: 1, fifo: vec![9; 10] });
        bytes.truncate(bytes.len() - 3);
        assert!(restore::<S>(&bytes).unwrap_err().contains("corrupt"));
    }
}
