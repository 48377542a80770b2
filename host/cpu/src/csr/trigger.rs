//! The trigger CSRs of Sdtrig (RISC-V debug spec 1.0, "Trigger Module"):
//! tselect, tdata1-3 and tinfo, M-mode only (their numbers, 0x7a0-0x7a4,
//! say so). There are two triggers, each an address/data match trigger of
//! type 2 (mcontrol) or 6 (mcontrol6), read and written exactly as QEMU
//! 7.2 with `debug=true` does (its `target/riscv/debug.c`), so the
//! architecture tests compare them; one difference the spec decides:
//! mcontrol6's VS and VU bits are read-only zero without the H extension
//! (QEMU stores them).
//!
//! - tselect is WARL over 0..=1: a larger value is ignored.
//! - tdata1 resets to type 2 with every other field zero. A write whose
//!   type field is 2 or 6 makes the trigger that type and keeps its load,
//!   store and execute bits, its U, S and M bits and its size field (a
//!   size other than any, 1, 2, 4 or 8 bytes becomes any); match, chain,
//!   action, timing, select, hit, maskmax and dmode read zero (address
//!   equality, a breakpoint exception, before the access). A write of
//!   any other type is ignored.
//! - tdata2 holds any value (the address to match); tdata3 reads zero
//!   (no data or context match) and ignores writes.
//! - tinfo reads 0x44 (types 2 and 6 supported) and ignores writes.
//!
//! The triggers do not fire yet: the CSRs are there so software that sets
//! up (or only probes) triggers runs, and for the gdb stub to come.
//! tcontrol, mcontext and the debug-mode CSRs are absent, as in QEMU 7.2.

use super::addr;

/// How many triggers there are.
pub const TRIGGERS: usize = 2;

/// tdata1 fields common to every type (RV64).
const TYPE_SHIFT: u32 = 60;
const TYPE_MCONTROL: u64 = 2;
const TYPE_MCONTROL6: u64 = 6;
/// Load, store, execute (bits 2:0), U (3), S (4), M (6): kept by both types.
const MATCH_ON: u64 = 0b101_1111;
/// mcontrol's size: sizelo (bits 17:16) and sizehi (bits 22:21).
const MCONTROL_SIZE: u64 = (3 << 16) | (3 << 21);
/// mcontrol6's size (bits 19:16).
const MCONTROL6_SIZE: u64 = 0xf << 16;

/// The trigger module's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Triggers {
    select: usize,
    tdata1: [u64; TRIGGERS],
    tdata2: [u64; TRIGGERS],
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers { select: 0, tdata1: [TYPE_MCONTROL << TYPE_SHIFT; TRIGGERS], tdata2: [0; TRIGGERS] }
    }
}

/// Whether a size encoding is one QEMU 7.2 supports: any (0), 1, 2, 4 or
/// 8 bytes (1, 2, 3, 5).
fn size_ok(size: u64) -> bool {
    matches!(size, 0 | 1 | 2 | 3 | 5)
}

/// What tdata1 holds after `v` is written; `None` if the write is ignored.
fn legal_tdata1(v: u64) -> Option<u64> {
    let (kind, size_bits, size) = match v >> TYPE_SHIFT {
        TYPE_MCONTROL => (TYPE_MCONTROL, v & MCONTROL_SIZE, ((v >> 19) & 0xc) | ((v >> 16) & 3)),
        TYPE_MCONTROL6 => (TYPE_MCONTROL6, v & MCONTROL6_SIZE, (v >> 16) & 0xf),
        _ => return None,
    };
    let size_bits = if size_ok(size) { size_bits } else { 0 };
    Some((kind << TYPE_SHIFT) | size_bits | (v & MATCH_ON))
}

impl Triggers {
    /// Whether `csr` is one of the trigger CSRs.
    pub(super) fn has(csr: u16) -> bool {
        (addr::TSELECT..=addr::TINFO).contains(&csr)
    }

    /// Read a trigger CSR (`has(csr)`).
    pub(super) fn read(&self, csr: u16) -> u64 {
        match csr {
            addr::TSELECT => self.select as u64,
            addr::TDATA1 => self.tdata1[self.select],
            addr::TDATA2 => self.tdata2[self.select],
            addr::TINFO => (1 << TYPE_MCONTROL) | (1 << TYPE_MCONTROL6),
            _ => 0,
        }
    }

    /// Write a trigger CSR (`has(csr)`); WARL fields are legalised.
    pub(super) fn write(&mut self, csr: u16, v: u64) {
        match csr {
            addr::TSELECT => {
                if let Ok(i) = usize::try_from(v)
                    && i < TRIGGERS
                {
                    self.select = i;
                }
            }
            addr::TDATA1 => {
                if let Some(t) = legal_tdata1(v) {
                    self.tdata1[self.select] = t;
                }
            }
            addr::TDATA2 => self.tdata2[self.select] = v,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_triggers_of_type_2_at_reset() {
        let mut t = Triggers::default();
        assert_eq!(t.read(addr::TSELECT), 0);
        assert_eq!(t.read(addr::TINFO), 0x44);
        for i in 0..2 {
            t.write(addr::TSELECT, i);
            assert_eq!(t.read(addr::TSELECT), i);
            assert_eq!(t.read(addr::TDATA1), 0x2000_0000_0000_0000);
            assert_eq!(t.read(addr::TDATA2), 0);
            assert_eq!(t.read(addr::TDATA3), 0);
        }
        t.write(addr::TSELECT, 2);
        t.write(addr::TSELECT, u64::MAX);
        assert_eq!(t.read(addr::TSELECT), 1, "tselect is WARL over the triggers that exist");
    }

    #[test]
    fn tdata1_keeps_the_fields_qemu_keeps() {
        let mut t = Triggers::default();
        // mcontrol, all ones below the type: dmode, maskmax, hit, select,
        // timing, action, chain, match and bit 5 read zero; size 15 is
        // not supported (any).
        t.write(addr::TDATA1, (2 << 60) | ((1 << 60) - 1));
        assert_eq!(t.read(addr::TDATA1), (2 << 60) | 0x5f);
        // Size 8 bytes (sizehi 1, sizelo 1) is kept.
        t.write(addr::TDATA1, (2 << 60) | (1 << 21) | (1 << 16) | 0x44);
        assert_eq!(t.read(addr::TDATA1), (2 << 60) | (1 << 21) | (1 << 16) | 0x44);
        // mcontrol6: VS/VU read zero here; size 4 (6 bytes) becomes any.
        t.write(addr::TDATA1, (6 << 60) | (3 << 23) | (4 << 16) | 0x41);
        assert_eq!(t.read(addr::TDATA1), (6 << 60) | 0x41);
        t.write(addr::TDATA1, (6 << 60) | (5 << 16));
        assert_eq!(t.read(addr::TDATA1), (6 << 60) | (5 << 16));
        // Other types, and zero, are ignored; tdata2 takes anything,
        // tdata3 nothing; each trigger has its own.
        for ignored in [0, u64::MAX, 1 << 60, 3 << 60, 15 << 60] {
            t.write(addr::TDATA1, ignored);
            assert_eq!(t.read(addr::TDATA1), (6 << 60) | (5 << 16), "{ignored:#x}");
        }
        t.write(addr::TDATA2, u64::MAX);
        t.write(addr::TDATA3, u64::MAX);
        assert_eq!((t.read(addr::TDATA2), t.read(addr::TDATA3)), (u64::MAX, 0));
        t.write(addr::TSELECT, 1);
        assert_eq!((t.read(addr::TDATA1), t.read(addr::TDATA2)), (2 << 60, 0));
    }
}
