//! Block backends: a raw disk image file behind a device's block port.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use wemu_sandbox::backend::BlockBackend;
pub use wemu_sandbox::backend::BlockError;

/// A block image that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BlockOpenError {
    #[error("opening block image {}: {error}", path.display())]
    Open { path: PathBuf, error: std::io::Error },
    /// Its size could not be read.
    #[error("{0}")]
    Size(std::io::Error),
}

/// A raw image opened read-only or read-write.
pub struct BlockImage {
    path: PathBuf,
    file: File,
    size: u64,
    read_only: bool,
}

impl BlockImage {
    pub fn open(path: &Path, read_only: bool) -> Result<Self, BlockOpenError> {
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(|error| BlockOpenError::Open { path: path.to_owned(), error })?;
        let size = file.metadata().map_err(BlockOpenError::Size)?.len();
        Ok(BlockImage { path: path.to_owned(), file, size, read_only })
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), BlockError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(BlockError::OutOfRange),
        }
    }
}

impl BlockBackend for BlockImage {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, BlockError> {
        self.check(offset, u64::from(len))?;
        let mut buf = vec![0; len as usize];
        self.file.read_exact_at(&mut buf, offset).map_err(|e| {
            tracing::error!(target: "wemu::backend::block", "block image {}: read failed: {e}", self.path.display());
            BlockError::Io
        })?;
        Ok(buf)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        self.check(offset, data.len() as u64)?;
        self.file.write_all_at(data, offset).map_err(|e| {
            tracing::error!(target: "wemu::backend::block", "block image {}: write failed: {e}", self.path.display());
            BlockError::Io
        })
    }

    fn flush(&self) -> Result<(), BlockError> {
        if self.read_only { Ok(()) } else { self.file.sync_data().map_err(|_| BlockError::Io) }
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
}
