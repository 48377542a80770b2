//! Sdtrig's trigger CSRs (debug spec 1.0, "Trigger Module"): tselect,
//! tdata1-3 and tinfo. Both emulators have two address/data match
//! triggers (QEMU 7.2 with `debug=true`): type 2 (mcontrol) at reset, or
//! type 6 (mcontrol6), with the fields QEMU implements. Every trigger
//! written here matches nothing the program touches (tdata2 = 0), and is
//! put back to its reset value, so nothing fires.
//!
//! Writing tdata1 with type 1 or 8-14 is left out: QEMU 7.2 aborts on it.

use rt::enc::{A0, csrw};
use rt::lower::Mode;
use rt::{check_eq, check_spec};

use crate::{expect_illegal, m_read, m_write, num, write_read_restore};

/// tdata1 types.
const MCONTROL: u64 = 2 << 60;
const MCONTROL6: u64 = 6 << 60;
/// Load, store, execute, U, S, M: the match bits both types keep.
const MATCH_ON: u64 = 0x5f;

pub fn run() {
    check_eq!(m_read(num::TINFO), 0x44, "tinfo (types 2 and 6)");
    for i in 0..2 {
        m_write(num::TSELECT, i);
        check_eq!(m_read(num::TSELECT), i, "tselect after writing {i}");
        check_eq!(m_read(num::TDATA1), MCONTROL, "trigger {i}: tdata1 at reset (type 2, nothing enabled)");
        check_eq!(m_read(num::TDATA2), 0, "trigger {i}: tdata2 at reset");
        check_eq!(m_read(num::TDATA3), 0, "trigger {i}: tdata3");
    }
    for v in [2, u64::MAX] {
        m_write(num::TSELECT, v);
        check_eq!(m_read(num::TSELECT), 1, "tselect after writing {v:#x} (no such trigger: ignored)");
    }
    m_write(num::TSELECT, 0);
    check_eq!(write_read_restore(num::TDATA2, u64::MAX, None), u64::MAX, "tdata2 after writing all-ones");
    check_eq!(write_read_restore(num::TDATA3, u64::MAX, None), 0, "tdata3 after writing all-ones");
    check_eq!(write_read_restore(num::TINFO, 0, None), 0x44, "tinfo after writing 0 (ignored)");
    tdata1();
    // M-mode only (the numbers' privilege bits): illegal from S and U.
    for mode in [Mode::Supervisor, Mode::User] {
        let what = format_args!("csrw tselect, a0 from {}", mode.letter());
        expect_illegal(what, mode, csrw(num::TSELECT, A0), 0);
    }
}

/// tdata1 writes, read back and undone at once (trigger 0).
fn tdata1() {
    let cases: [(&str, u64, u64); 8] = [
        ("type 2, every field set (size 15: any)", MCONTROL | ((1 << 60) - 1), MCONTROL | MATCH_ON),
        (
            "type 2, M load, size 8",
            MCONTROL | (1 << 21) | (1 << 16) | 0x41,
            MCONTROL | (1 << 21) | (1 << 16) | 0x41,
        ),
        ("type 2, U/S exec, size 2", MCONTROL | (2 << 16) | 0x1c, MCONTROL | (2 << 16) | 0x1c),
        ("type 6, size 8, M load/store/exec", MCONTROL6 | (5 << 16) | 0x47, MCONTROL6 | (5 << 16) | 0x47),
        ("type 6, size 6 bytes (any)", MCONTROL6 | (4 << 16) | 0x41, MCONTROL6 | 0x41),
        ("0 (type 0: ignored)", 0, MCONTROL),
        ("all-ones (type 15: ignored)", u64::MAX, MCONTROL),
        ("type 3 (icount: ignored)", 3 << 60, MCONTROL),
    ];
    for (what, v, want) in cases {
        check_eq!(write_read_restore(num::TDATA1, v, None), want, "tdata1 after writing {what}");
    }
    for ty in [4u64, 5, 7] {
        check_eq!(
            write_read_restore(num::TDATA1, ty << 60, None),
            MCONTROL,
            "tdata1 after writing type {ty}"
        );
    }
    // Each trigger has its own tdata1.
    m_write(num::TDATA1, MCONTROL6);
    m_write(num::TSELECT, 1);
    check_eq!(m_read(num::TDATA1), MCONTROL, "trigger 1's tdata1 after trigger 0 became type 6");
    m_write(num::TSELECT, 0);
    check_eq!(m_read(num::TDATA1), MCONTROL6, "trigger 0's tdata1");
    // mcontrol6.VS/VU are "hard-wired to 0 if the hart does not support
    // virtualization mode"; QEMU 7.2 stores them.
    let vs_vu = write_read_restore(num::TDATA1, MCONTROL6 | (3 << 23), None);
    check_spec!(vs_vu == MCONTROL6, "tdata1 type 6 with VS and VU set reads {vs_vu:#x} (no H: they read 0)");
    m_write(num::TDATA1, MCONTROL);
}
