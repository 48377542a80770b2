//! virtio-blk (virtio 1.1 §5.2, device ID 2) on the virtio-mmio transport:
//! a raw disk image served through the `block` import (port 0).
//!
//! | request           | effect                                                  |
//! |-------------------|---------------------------------------------------------|
//! | `VIRTIO_BLK_T_IN`     | read sectors into the writable buffers              |
//! | `VIRTIO_BLK_T_OUT`    | write the readable buffers after the header         |
//! | `VIRTIO_BLK_T_FLUSH`  | `block.flush`                                       |
//! | `VIRTIO_BLK_T_GET_ID` | the `serial` property, zero-padded to 20 bytes      |
//! | anything else     | `VIRTIO_BLK_S_UNSUPP`                                   |
//!
//! Features: SEG_MAX (queue size − 2, as QEMU), BLK_SIZE (512), FLUSH, and
//! RO when the image is read-only — either `readonly = true` or a backend
//! that refuses writes (probed at `create` with a zero-length write, which
//! the contract answers with `read-only` without touching the image).
//! Requests out of range, not a multiple of 512 bytes, larger than 64 MiB,
//! or failing in the backend complete with `VIRTIO_BLK_S_IOERR`. A request
//! without a 16-byte header or a status byte is a driver bug:
//! DEVICE_NEEDS_RESET. With no image bound the device still probes, with
//! capacity 0.

use serde::{Deserialize, Serialize};
use wemu_device_sdk::block::{self, BlockError};
use wemu_device_sdk::{Props, log};
use wemu_device_virtio::queue::{dma_read, dma_write};
use wemu_device_virtio::{Backend, Chain, Fault};

pub type VirtioBlk = wemu_device_virtio::VirtioMmio<Blk>;

wemu_device_sdk::export_device!(VirtioBlk);

pub const SECTOR: u64 = 512;
/// Queue size (QEMU's default `queue-size`).
pub const QUEUE_SIZE: u16 = 256;
/// Largest data transfer in one request.
pub const MAX_REQUEST: u64 = 64 << 20;
/// Length of the `GET_ID` answer.
pub const ID_BYTES: usize = 20;

/// Request types (§5.2.6).
pub const T_IN: u32 = 0;
pub const T_OUT: u32 = 1;
pub const T_FLUSH: u32 = 4;
pub const T_GET_ID: u32 = 8;
/// Status values.
pub const S_OK: u8 = 0;
pub const S_IOERR: u8 = 1;
pub const S_UNSUPP: u8 = 2;

/// Feature bits (§5.2.3).
pub const F_SEG_MAX: u64 = 1 << 2;
pub const F_RO: u64 = 1 << 5;
pub const F_BLK_SIZE: u64 = 1 << 6;
pub const F_FLUSH: u64 = 1 << 9;

/// Size of `struct virtio_blk_config` up to `write_zeroes_may_unmap`.
const CONFIG_SIZE: usize = 60;
const PORT: u32 = 0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blk {
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    pub read_only: bool,
    pub serial: String,
}

/// `Ok(())` or the status byte to report.
type Status = Result<(), u8>;

impl Blk {
    fn io_error(what: &str, offset: u64, e: BlockError) -> u8 {
        log::debug(&format!("virtio-blk: {what} at byte {offset:#x} failed: {e:?}"));
        S_IOERR
    }

    /// Byte offset of a `len`-byte transfer at `sector`, if the request is
    /// well formed and inside the disk.
    fn range(&self, sector: u64, len: u64) -> Result<u64, u8> {
        let offset = sector.checked_mul(SECTOR).ok_or(S_IOERR)?;
        let end = offset.checked_add(len).ok_or(S_IOERR)?;
        if !len.is_multiple_of(SECTOR) || len > MAX_REQUEST || end > self.capacity * SECTOR {
            log::debug(&format!(
                "virtio-blk: refusing {len} bytes at sector {sector} (capacity {})",
                self.capacity
            ));
            return Err(S_IOERR);
        }
        Ok(offset)
    }

    /// `T_IN`: disk → the writable buffers before the status byte.
    fn read(&self, chain: &Chain, sector: u64, len: u64, done: &mut u64) -> Result<Status, Fault> {
        let mut at = match self.range(sector, len) {
            Ok(at) => at,
            Err(s) => return Ok(Err(s)),
        };
        for p in Chain::pieces(&chain.writable, 0, len) {
            let data = match block::read(PORT, at, p.len) {
                Ok(d) => d,
                Err(e) => return Ok(Err(Self::io_error("read", at, e))),
            };
            dma_write(p.addr, &data, "write of read data")?;
            *done += u64::from(p.len);
            at += u64::from(p.len);
        }
        Ok(Ok(()))
    }

    /// `T_OUT`: the readable buffers after the header → disk.
    fn write(&self, chain: &Chain, sector: u64, len: u64) -> Result<Status, Fault> {
        if self.read_only {
            return Ok(Err(S_IOERR));
        }
        let mut at = match self.range(sector, len) {
            Ok(at) => at,
            Err(s) => return Ok(Err(s)),
        };
        for p in Chain::pieces(&chain.readable, 16, len) {
            let data = dma_read(p.addr, p.len, "read of write data")?;
            if let Err(e) = block::write(PORT, at, &data) {
                return Ok(Err(Self::io_error("write", at, e)));
            }
            at += u64::from(p.len);
        }
        Ok(Ok(()))
    }
}

impl Backend for Blk {
    const NAME: &'static str = "virtio-blk";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DEVICE_ID: u32 = 2;
    const QUEUES: &'static [u16] = &[QUEUE_SIZE];

    fn create(props: &Props) -> Result<Self, String> {
        let serial = props.str_or("serial", "")?;
        if serial.len() > ID_BYTES {
            return Err(format!("property 'serial' is {} bytes long (at most {ID_BYTES})", serial.len()));
        }
        let forced_ro = props.bool_or("readonly", false)?;
        props.finish()?;
        // A zero-length write changes nothing; a read-only backend refuses it.
        let backend_ro = block::write(PORT, 0, &[]) == Err(BlockError::ReadOnly);
        Ok(Blk { capacity: block::size(PORT) / SECTOR, read_only: forced_ro || backend_ro, serial })
    }

    fn features(&self) -> u64 {
        F_SEG_MAX | F_BLK_SIZE | F_FLUSH | if self.read_only { F_RO } else { 0 }
    }

    fn config(&self) -> Vec<u8> {
        let mut c = vec![0u8; CONFIG_SIZE];
        c[0..8].copy_from_slice(&self.capacity.to_le_bytes());
        c[12..16].copy_from_slice(&u32::from(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
        c[20..24].copy_from_slice(&(SECTOR as u32).to_le_bytes()); // blk_size
        c
    }

    fn process(&mut self, _queue: u16, chain: &Chain, _features: u64) -> Result<u32, Fault> {
        let in_len = chain.writable_len();
        if in_len == 0 {
            return Err(Fault::new(format!("virtio-blk request {} has no status byte", chain.head)));
        }
        let hdr = chain.read(0, 16)?;
        if hdr.len() < 16 {
            return Err(Fault::new(format!(
                "virtio-blk request {} has a {}-byte header",
                chain.head,
                hdr.len()
            )));
        }
        let ty = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let sector =
            u64::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15]]);
        let data_in = in_len - 1; // the last writable byte is the status
        let mut done = 0u64;
        let status = match ty {
            T_IN => self.read(chain, sector, data_in, &mut done)?,
            T_OUT => self.write(chain, sector, chain.readable_len() - 16)?,
            T_FLUSH => match block::flush(PORT) {
                // Nothing bound, nothing to make durable.
                Ok(()) | Err(BlockError::NoBackend) => Ok(()),
                Err(e) => Err(Self::io_error("flush", 0, e)),
            },
            T_GET_ID => {
                let mut id = [0u8; ID_BYTES];
                id[..self.serial.len()].copy_from_slice(self.serial.as_bytes());
                let n = data_in.min(ID_BYTES as u64) as usize;
                done = u64::from(chain.write(0, &id[..n])?);
                Ok(())
            }
            other => {
                log::debug(&format!("virtio-blk: unsupported request type {other}"));
                Err(S_UNSUPP)
            }
        };
        chain.write(data_in, &[status.err().unwrap_or(S_OK)])?;
        // `done` ≤ MAX_REQUEST: fits.
        Ok(u32::try_from(done).unwrap_or(u32::MAX - 1) + 1)
    }

    fn validate(&self) -> Result<(), String> {
        if self.serial.len() > ID_BYTES {
            return Err("virtio-blk state: serial too long".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
