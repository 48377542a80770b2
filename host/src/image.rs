//! Guest images: ELF files (via the `object` crate) or raw binaries
//! placed at an address.

use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol};

/// A loadable piece of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub addr: u64,
    /// Bytes from the file; the rest up to `mem_size` is zero.
    pub data: Vec<u8>,
    pub mem_size: u64,
}

/// A guest program ready to place in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub entry: u64,
    pub segments: Vec<Segment>,
    /// Addresses of the `tohost`/`fromhost` symbols, when the ELF has
    /// them (Spike's HTIF convention).
    pub htif: Option<HtifSymbols>,
}

/// Where a program's HTIF mailboxes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtifSymbols {
    pub tohost: u64,
    pub fromhost: Option<u64>,
}

/// Why an image cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ImageError {
    pub file: String,
    pub message: String,
}

/// Load `path`: an ELF if it starts with the ELF magic, else a raw
/// binary placed (and entered) at `raw_addr`.
pub fn load(path: &Path, raw_addr: u64) -> Result<Image, ImageError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImageError { file: file.clone(), message: e.to_string() })?;
    parse(&bytes, raw_addr).map_err(|message| ImageError { file, message })
}

/// Parse image bytes (see [`load`]).
pub fn parse(bytes: &[u8], raw_addr: u64) -> Result<Image, String> {
    if !bytes.starts_with(b"\x7fELF") {
        if bytes.is_empty() {
            return Err("empty file".into());
        }
        return Ok(Image {
            entry: raw_addr,
            segments: vec![Segment { addr: raw_addr, data: bytes.to_vec(), mem_size: bytes.len() as u64 }],
            htif: None,
        });
    }
    match bytes.get(4) {
        Some(1) => return Err("32-bit ELF: wemu runs RV64 guests (build for riscv64)".into()),
        Some(2) => {}
        _ => return Err("bad ELF header (unknown class)".into()),
    }
    let elf = ElfFile64::<Endianness>::parse(bytes).map_err(|e| format!("bad ELF: {e}"))?;
    let endian = elf.endian();
    let header = elf.elf_header();
    let machine = header.e_machine(endian);
    if machine != elf::EM_RISCV {
        return Err(format!("ELF for machine {machine}, not RISC-V (EM_RISCV = {})", elf::EM_RISCV));
    }
    let mut segments = Vec::new();
    for ph in elf.elf_program_headers() {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let data = ph.data(endian, bytes).map_err(|_| {
            format!("program header at {:#x}: file range runs past the end of the file", ph.p_offset(endian))
        })?;
        let mem_size = ph.p_memsz(endian);
        if (data.len() as u64) > mem_size {
            return Err(format!("segment at {:#x}: file size exceeds memory size", ph.p_paddr(endian)));
        }
        if mem_size == 0 {
            continue;
        }
        segments.push(Segment { addr: ph.p_paddr(endian), data: data.to_vec(), mem_size });
    }
    if segments.is_empty() {
        return Err("ELF has no loadable segments".into());
    }
    let symbol = |name: &str| elf.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address());
    let htif = symbol("tohost").map(|tohost| HtifSymbols { tohost, fromhost: symbol("fromhost") });
    Ok(Image { entry: header.e_entry(endian), segments, htif })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_binaries_load_at_the_given_address() {
        let img = parse(&[0x13, 0, 0, 0], 0x8000_0000).unwrap();
        assert_eq!(img.entry, 0x8000_0000);
        assert_eq!(img.segments[0].data, vec![0x13, 0, 0, 0]);
    }

    #[test]
    fn broken_elves_are_refused_not_panicked_on() {
        assert!(parse(b"\x7fELF", 0).unwrap_err().contains("ELF"));
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 1;
        assert!(parse(&hdr, 0).unwrap_err().contains("32-bit"));
        hdr[4] = 2;
        hdr[5] = 1;
        assert!(parse(&hdr, 0).is_err());
        assert!(parse(&[], 0).unwrap_err().contains("empty"));
        // Truncations of a valid-looking header at every length.
        for n in 0..64 {
            let _ = parse(&hdr[..n], 0);
        }
    }
}
