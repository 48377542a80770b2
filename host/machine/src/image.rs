//! Guest images: ELF files (via the `object` crate) or raw binaries
//! placed at an address.

use std::io::Read;
use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader, SectionHeader};
use object::read::{ReadCache, ReadRef};
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

/// Why an image cannot be loaded: the file and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {cause}")]
pub struct ImageError {
    pub file: String,
    pub cause: ImageFault,
}

/// What is wrong with an image file.
#[derive(Debug, thiserror::Error)]
pub enum ImageFault {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("its load address {raw_addr:#x} is not in any memory region of this machine")]
    NotInMemory { raw_addr: u64 },
    #[error(
        "larger than the {room} bytes of memory from its load address {raw_addr:#x} to the end of \
         that memory region (give the machine more memory with -m, or a lower --kernel-addr)"
    )]
    TooLarge { raw_addr: u64, room: u64 },
    #[error(transparent)]
    Place(#[from] PlaceError),
}

/// Why an image's segment cannot be copied into the machine's memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("segment [{start:#x}..{end:#x}) is not inside one memory region of this machine")]
    Outside { start: u64, end: u64 },
    #[error("segment at {addr:#x} falls on device region '{region}', not memory")]
    OnDevice { addr: u64, region: String },
}

/// Why image bytes are not a loadable RV64 image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("empty file")]
    Empty,
    #[error("bad ELF header (truncated)")]
    Truncated,
    #[error("32-bit ELF: wemu runs RV64 guests (build for riscv64)")]
    Elf32,
    #[error("bad ELF header (unknown class)")]
    UnknownClass,
    /// What the ELF reader said.
    #[error("bad ELF: {0}")]
    BadElf(String),
    #[error("ELF for machine {machine}, not RISC-V (EM_RISCV = {})", elf::EM_RISCV)]
    NotRiscv { machine: elf::Machine },
    #[error(
        "its loadable segments hold more than {limit} bytes, more than this machine's memory \
         (segment at {addr:#x}, {file_size} bytes in the file)"
    )]
    TooLarge { limit: u64, addr: u64, file_size: u64 },
    #[error("program header at {offset:#x}: file range runs past the end of the file")]
    PastEnd { offset: u64 },
    #[error("segment at {addr:#x}: file size exceeds memory size")]
    FileOverMemory { addr: u64 },
    #[error("ELF has no loadable segments")]
    NoSegments,
}

/// What an ELF file starts with.
pub const ELF_MAGIC: &[u8] = b"\x7fELF";

/// How much of an image file may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A raw binary: the bytes of memory from its load address to the end
    /// of the memory region there (a larger file cannot fit).
    pub raw: u64,
    /// An ELF: its loadable segments' file bytes, all together (the
    /// machine's memory). The rest of the file (debug sections) is not
    /// read, however large.
    pub segments: u64,
}

/// Load `path`: an ELF if it starts with the ELF magic (only its program
/// headers, loadable segments and symbol table are read), else a raw
/// binary placed (and entered) at `raw_addr`. Files beyond `limits` are
/// refused, naming the file and the size.
pub fn load(path: &Path, raw_addr: u64, limits: Limits) -> Result<Image, ImageError> {
    let file = path.display().to_string();
    let fail = |cause: ImageFault| ImageError { file: file.clone(), cause };
    let mut f = std::fs::File::open(path).map_err(|e| fail(e.into()))?;
    let mut magic = Vec::new();
    (&mut f).take(4).read_to_end(&mut magic).map_err(|e| fail(e.into()))?;
    if magic == ELF_MAGIC {
        return parse_elf(&ReadCache::new(f), limits.segments).map_err(|e| fail(e.into()));
    }
    let rest = wemu_sandbox::file_caps::read_to_cap(f, limits.raw.saturating_sub(magic.len() as u64))
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| {
            fail(match limits.raw {
                0 => ImageFault::NotInMemory { raw_addr },
                room => ImageFault::TooLarge { raw_addr, room },
            })
        })?;
    magic.extend_from_slice(&rest);
    parse(&magic, raw_addr).map_err(|e| fail(e.into()))
}

/// The first `n` bytes of `path` (fewer if it is shorter): enough to tell
/// what kind of image it is without reading it all.
pub fn read_head(path: &Path, n: u64) -> Result<Vec<u8>, ImageError> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(n).read_to_end(&mut head))
        .map_err(|e| ImageError { file: path.display().to_string(), cause: e.into() })?;
    Ok(head)
}

/// Parse image bytes (see [`load`]).
pub fn parse(bytes: &[u8], raw_addr: u64) -> Result<Image, FormatError> {
    if !bytes.starts_with(ELF_MAGIC) {
        if bytes.is_empty() {
            return Err(FormatError::Empty);
        }
        return Ok(Image {
            entry: raw_addr,
            segments: vec![Segment { addr: raw_addr, data: bytes.to_vec(), mem_size: bytes.len() as u64 }],
            htif: None,
        });
    }
    parse_elf(bytes, u64::MAX)
}

/// Parse an ELF from `data` (bytes in memory, or a file through a
/// `ReadCache`, which reads only the ranges asked for), refusing
/// loadable segments of more than `limit` file bytes in all.
fn parse_elf<'a, R: ReadRef<'a>>(data: R, limit: u64) -> Result<Image, FormatError> {
    let ident = data.read_bytes_at(0, 5).map_err(|()| FormatError::Truncated)?;
    match ident.get(4) {
        Some(1) => return Err(FormatError::Elf32),
        Some(2) => {}
        _ => return Err(FormatError::UnknownClass),
    }
    let elf = ElfFile64::<Endianness, R>::parse(data).map_err(|e| FormatError::BadElf(e.to_string()))?;
    let endian = elf.endian();
    let header = elf.elf_header();
    let machine = header.e_machine(endian);
    if machine != elf::EM_RISCV {
        return Err(FormatError::NotRiscv { machine });
    }
    let mut segments = Vec::new();
    let mut total = 0u64;
    for ph in elf.elf_program_headers() {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        // Checked before reading: a header may claim any size.
        total = total.saturating_add(ph.p_filesz(endian));
        if total > limit {
            return Err(FormatError::TooLarge {
                limit,
                addr: ph.p_paddr(endian),
                file_size: ph.p_filesz(endian),
            });
        }
        let data = ph.data(endian, data).map_err(|_| FormatError::PastEnd { offset: ph.p_offset(endian) })?;
        let mem_size = ph.p_memsz(endian);
        if (data.len() as u64) > mem_size {
            return Err(FormatError::FileOverMemory { addr: ph.p_paddr(endian) });
        }
        if mem_size == 0 {
            continue;
        }
        segments.push(Segment { addr: ph.p_paddr(endian), data: data.to_vec(), mem_size });
    }
    if segments.is_empty() {
        return Err(FormatError::NoSegments);
    }
    Ok(Image { entry: header.e_entry(endian), segments, htif: htif_symbols(&elf) })
}

/// `tohost`/`fromhost`, unless the symbol table (or its strings) is over
/// [`wemu_sandbox::file_caps::ELF_SYMTAB_MAX`]: then the image runs without HTIF,
/// with a warning.
fn htif_symbols<'a, R: ReadRef<'a>>(elf: &ElfFile64<'a, Endianness, R>) -> Option<HtifSymbols> {
    let endian = elf.endian();
    let sections = elf.elf_section_table();
    for s in sections.iter() {
        if s.sh_type(endian) != elf::SHT_SYMTAB {
            continue;
        }
        let strings = sections.section(object::SectionIndex(s.sh_link(endian) as usize)).ok();
        let size = s.sh_size(endian).max(strings.map_or(0, |t| t.sh_size(endian)));
        if size > wemu_sandbox::file_caps::ELF_SYMTAB_MAX {
            tracing::warn!(target: "wemu::image",
                "ELF symbol table of {size} bytes (over {}): not looking for tohost/fromhost",
                wemu_sandbox::file_caps::ELF_SYMTAB_MAX
            );
            return None;
        }
    }
    let symbol = |name: &str| elf.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address());
    symbol("tohost").map(|tohost| HtifSymbols { tohost, fromhost: symbol("fromhost") })
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
        assert!(parse(b"\x7fELF", 0).unwrap_err().to_string().contains("ELF"));
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 1;
        assert_eq!(parse(&hdr, 0).unwrap_err(), FormatError::Elf32);
        hdr[4] = 2;
        hdr[5] = 1;
        assert!(parse(&hdr, 0).is_err());
        assert_eq!(parse(&[], 0).unwrap_err(), FormatError::Empty);
        // Truncations of a valid-looking header at every length.
        for n in 0..64 {
            let _ = parse(&hdr[..n], 0);
        }
    }
}
