//! Size caps on the files wemu reads, so that a wrong path (`/dev/zero`,
//! a disk image given as a machine file) is an error naming the file
//! instead of the host's memory filling up. The caps are documented in
//! docs/machine-format.md ("Input files").
//!
//! Files are read through `Read::take(cap + 1)`: a device or a pipe has no
//! useful size in its metadata, and one byte past the cap is enough to
//! know the file is too large.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest machine file (TOML). Real ones are a few KiB; 100,000
/// `[[memory]]` entries are about 6 MiB.
pub const MACHINE_FILE_MAX: u64 = 16 << 20;

/// Largest device component (`.wasm`). The JavaScript device
/// (`devices/doorbell-js`, a whole JS engine) is about 12 MiB.
pub const COMPONENT_MAX: u64 = 256 << 20;

/// Largest `wemu fuzz` input (`--replay`, `--minimize`, corpus files).
/// The fuzzer writes inputs of at most 1 KiB.
pub const FUZZ_INPUT_MAX: u64 = 1 << 20;

/// Largest ELF symbol table (and its string table) wemu reads to find
/// `tohost`/`fromhost`: the rest of an ELF (debug sections) is never
/// read, only its loadable segments, which must fit in the machine's
/// memory.
pub const ELF_SYMTAB_MAX: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: larger than {limit} bytes, the most a {what} may have", path.display())]
    TooLarge { path: PathBuf, what: String, limit: u64 },
}

/// Read at most `limit` bytes of `path`; a longer file is an error naming
/// it and `what` it was read as ("machine file", "device component", …).
pub fn read_capped(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    read_to_cap(file, limit).map_err(io)?.ok_or_else(|| FileError::TooLarge {
        path: path.to_owned(),
        what: what.to_owned(),
        limit,
    })
}

/// Read `r` to its end if that is at most `limit` bytes; `None` if it is
/// longer (having read `limit + 1` bytes).
pub fn read_to_cap(r: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// A machine file's text.
pub fn read_machine_file(path: &Path) -> Result<String, FileError> {
    let bytes = read_capped(path, MACHINE_FILE_MAX, "machine file")?;
    String::from_utf8(bytes).map_err(|e| FileError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

/// A device component's bytes.
pub fn read_component(path: &Path) -> Result<Vec<u8>, FileError> {
    read_capped(path, COMPONENT_MAX, "device component")
}

/// A `wemu fuzz` input file.
pub fn read_fuzz_input(path: &Path) -> Result<Vec<u8>, FileError> {
    read_capped(path, FUZZ_INPUT_MAX, "fuzz input")
}

/// A corpus entry: a file that cannot be read, or is too large, is
/// skipped with a warning naming it (the corpus is a cache of inputs, and
/// one bad file should not stop a campaign).
pub fn read_corpus_entry(path: &Path) -> Option<Vec<u8>> {
    read_fuzz_input(path)
        .map_err(|e| tracing::warn!(target: "wemu::limits", "fuzz corpus: skipping {e}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_more_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "machine file").unwrap(), b"12345");
        let err = read_capped(&path, 4, "machine file").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("4 bytes"), "{err}");
        assert!(err.contains("machine file"), "{err}");
        assert_eq!(read_to_cap(&b"abc"[..], 2).unwrap(), None);
        assert_eq!(read_to_cap(&b"abc"[..], u64::MAX).unwrap(), Some(b"abc".to_vec()));
        assert!(read_corpus_entry(&dir.path().join("missing")).is_none());
    }
}
