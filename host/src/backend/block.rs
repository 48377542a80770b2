//! Block backends: a raw disk image file, or an image held in memory (the
//! fuzzer's sandbox, which must reset it between inputs without I/O).

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Why a block request failed (mirrors the contract's `block-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    OutOfRange,
    ReadOnly,
    Io,
}

/// A raw image opened read-only or read-write.
pub struct BlockImage {
    path: PathBuf,
    backing: Backing,
    size: u64,
    read_only: bool,
    /// Requests left to fail with `Io` (fault injection: the fuzzer decides
    /// how the backend answers; a machine never sets it).
    failures: Cell<u32>,
}

enum Backing {
    File(File),
    /// The bytes, and whether a write touched them since `take_dirty`.
    Memory(RefCell<Vec<u8>>, Cell<bool>),
}

impl BlockImage {
    pub fn open(path: &Path, read_only: bool) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .with_context(|| format!("opening block image {}", path.display()))?;
        let size = file.metadata()?.len();
        Ok(BlockImage {
            path: path.to_owned(),
            backing: Backing::File(file),
            size,
            read_only,
            failures: Cell::new(0),
        })
    }

    /// An image of `bytes` kept in memory (writes never reach a file).
    pub fn in_memory(bytes: Vec<u8>, read_only: bool) -> Self {
        let size = bytes.len() as u64;
        BlockImage {
            path: PathBuf::from("<memory>"),
            backing: Backing::Memory(RefCell::new(bytes), Cell::new(false)),
            size,
            read_only,
            failures: Cell::new(0),
        }
    }

    /// Make the next `n` requests (read, write or flush) fail with `Io`,
    /// as a failing disk would.
    pub fn fail_next(&self, n: u32) {
        self.failures.set(n);
    }

    /// Requests still to fail (see `fail_next`).
    pub fn failures_pending(&self) -> u32 {
        self.failures.get()
    }

    /// Consume one injected failure, if any is pending.
    fn injected_failure(&self) -> Result<(), BlockError> {
        match self.failures.get() {
            0 => Ok(()),
            n => {
                self.failures.set(n - 1);
                Err(BlockError::Io)
            }
        }
    }

    /// For an in-memory image: whether it was written since the last call
    /// (and clear that mark). Always false for a file.
    pub fn take_dirty(&self) -> bool {
        match &self.backing {
            Backing::Memory(_, dirty) => dirty.replace(false),
            Backing::File(_) => false,
        }
    }

    /// For an in-memory image: whether it was written since `take_dirty`.
    pub fn is_dirty(&self) -> bool {
        match &self.backing {
            Backing::Memory(_, dirty) => dirty.get(),
            Backing::File(_) => false,
        }
    }

    /// For an in-memory image: replace its contents with `bytes` (same
    /// size; extra bytes are ignored, missing ones zeroed). Counts as a write.
    pub fn set_contents(&self, bytes: &[u8]) {
        if let Backing::Memory(data, dirty) = &self.backing {
            let mut data = data.borrow_mut();
            let n = data.len().min(bytes.len());
            data[..n].copy_from_slice(&bytes[..n]);
            data[n..].fill(0);
            dirty.set(true);
        }
    }

    /// For an in-memory image: a copy of its contents.
    pub fn contents(&self) -> Option<Vec<u8>> {
        match &self.backing {
            Backing::Memory(data, _) => Some(data.borrow().clone()),
            Backing::File(_) => None,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), BlockError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(BlockError::OutOfRange),
        }
    }

    pub fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        self.injected_failure()?;
        self.check(offset, u64::from(len))?;
        let mut buf = vec![0; len as usize];
        match &self.backing {
            Backing::File(file) => file.read_exact_at(&mut buf, offset).map_err(|e| {
                tracing::error!("block image {}: read failed: {e}", self.path.display());
                BlockError::Io
            })?,
            // In range: checked above against `size`, which is the length.
            Backing::Memory(data, _) => {
                buf.copy_from_slice(&data.borrow()[offset as usize..][..len as usize])
            }
        }
        Ok(buf)
    }

    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        self.injected_failure()?;
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        self.check(offset, data.len() as u64)?;
        match &self.backing {
            Backing::File(file) => file.write_all_at(data, offset).map_err(|e| {
                tracing::error!("block image {}: write failed: {e}", self.path.display());
                BlockError::Io
            }),
            Backing::Memory(bytes, dirty) => {
                bytes.borrow_mut()[offset as usize..][..data.len()].copy_from_slice(data);
                dirty.set(true);
                Ok(())
            }
        }
    }

    pub fn flush(&self) -> Result<(), BlockError> {
        self.injected_failure()?;
        match &self.backing {
            Backing::File(file) if !self.read_only => file.sync_data().map_err(|_| BlockError::Io),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_refuses_out_of_range_or_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        std::fs::write(&path, vec![0u8; 1024]).unwrap();
        let img = BlockImage::open(&path, false).unwrap();
        img.write(512, b"wemu").unwrap();
        img.flush().unwrap();
        assert_eq!(img.read(512, 4).unwrap(), b"wemu");
        assert_eq!(img.read(1022, 4), Err(BlockError::OutOfRange));
        let ro = BlockImage::open(&path, true).unwrap();
        assert_eq!(ro.write(0, b"x"), Err(BlockError::ReadOnly));
        assert_eq!(std::fs::read(&path).unwrap()[512..516], *b"wemu");
    }

    #[test]
    fn in_memory_images_track_writes() {
        let img = BlockImage::in_memory(vec![0; 1024], false);
        assert!(!img.take_dirty());
        img.write(1020, b"wemu").unwrap();
        assert_eq!(img.read(1020, 4).unwrap(), b"wemu");
        assert_eq!(img.read(1021, 4), Err(BlockError::OutOfRange));
        assert!(img.is_dirty());
        assert!(img.take_dirty());
        assert!(!img.take_dirty(), "the mark is cleared by taking it");
        assert!(!img.is_dirty());
        img.fail_next(2);
        assert_eq!(img.read(0, 4), Err(BlockError::Io));
        assert_eq!(img.write(0, b"x"), Err(BlockError::Io));
        assert_eq!(img.failures_pending(), 0);
        assert_eq!(img.flush(), Ok(()));
        assert!(!img.take_dirty(), "a failed write writes nothing");
        img.set_contents(&[7; 4]);
        assert_eq!(img.contents().unwrap()[..5], [7, 7, 7, 7, 0]);
        assert!(img.take_dirty());
        assert_eq!(BlockImage::in_memory(vec![0; 8], true).write(0, b"x"), Err(BlockError::ReadOnly));
    }
}
