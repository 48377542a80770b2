use super::cfg::{A, L, NA4, NAPOT, OFF, R, RWX, TOR, W, X};
use super::*;
use crate::csr::{CsrCtx, Csrs, IllegalCsr, addr, mstatus};
use crate::hart::PrivMode;
use crate::insn::CsrOp;

const BASE: u64 = 0x8000_0000;

/// A PMP with `entries` (index, cfg byte, pmpaddr) written in order, each
/// address before its configuration (as software does).
fn pmp(entries: &[(usize, u8, u64)]) -> Pmp {
    let mut p = Pmp::default();
    for &(i, c, a) in entries {
        p.write_addr(i, a);
        let n = i / 8 * 2;
        let shift = 8 * (i % 8);
        p.write_cfg(n, (p.read_cfg(n) & !(0xff << shift)) | u64::from(c) << shift);
    }
    p
}

fn napot(base: u64, size: u64) -> u64 {
    (base >> 2) | ((size >> 3) - 1)
}

const S: bool = false;
const M: bool = true;

#[test]
fn napot_covers_exactly_its_power_of_two_region() {
    let p = pmp(&[(0, NAPOT | R, napot(BASE + 0x1000, 0x1000))]);
    assert_eq!(p.check(BASE + 0x1000, 8, S), R);
    assert_eq!(p.check(BASE + 0x1ffc, 4, S), R, "last word");
    assert_eq!(p.check(BASE + 0x0ffc, 4, S), 0, "word below");
    assert_eq!(p.check(BASE + 0x2000, 1, S), 0, "byte above");
    // No trailing one: 8 bytes.
    let p = pmp(&[(0, NAPOT | W | R, (BASE + 0x10) >> 2)]);
    assert_eq!(p.check(BASE + 0x10, 8, S), R | W);
    assert_eq!(p.check(BASE + 0x18, 1, S), 0);
    assert_eq!(p.check(BASE + 0x0f, 1, S), 0);
    // All 54 address bits set: everything.
    let p = pmp(&[(0, NAPOT | X, u64::MAX)]);
    assert_eq!(p.check(0, 8, S), X);
    assert_eq!(p.check((1 << 56) - 8, 8, S), X);
}

#[test]
fn na4_covers_one_word() {
    let p = pmp(&[(3, NA4 | RWX, (BASE + 0x104) >> 2)]);
    assert_eq!(p.check(BASE + 0x104, 4, S), RWX);
    assert_eq!(p.check(BASE + 0x106, 2, S), RWX);
    assert_eq!(p.check(BASE + 0x100, 4, S), 0);
    assert_eq!(p.check(BASE + 0x108, 1, S), 0);
}

#[test]
fn tor_spans_from_the_previous_address_to_its_own() {
    // Entry 1 is off but its address is the bottom of entry 2.
    let p = pmp(&[(1, OFF, (BASE + 0x100) >> 2), (2, TOR | R | W, (BASE + 0x200) >> 2)]);
    assert_eq!(p.check(BASE + 0x100, 8, S), R | W, "bottom is inclusive");
    assert_eq!(p.check(BASE + 0x1f8, 8, S), R | W);
    assert_eq!(p.check(BASE + 0x200, 1, S), 0, "top is exclusive");
    assert_eq!(p.check(BASE + 0xfc, 4, S), 0);
    // Entry 0 starts at address 0.
    let p = pmp(&[(0, TOR | X, 0x1000 >> 2)]);
    assert_eq!(p.check(0, 8, S), X);
    assert_eq!(p.check(0xff8, 8, S), X);
    assert_eq!(p.check(0x1000, 8, S), 0);
}

#[test]
fn tor_with_bottom_not_below_top_matches_nothing() {
    for bottom in [BASE + 0x200, BASE + 0x300] {
        let p = pmp(&[(4, OFF, bottom >> 2), (5, TOR | RWX, (BASE + 0x200) >> 2)]);
        assert_eq!(p.check(BASE + 0x1fc, 4, M), RWX, "no match: M succeeds");
        assert_eq!(p.check(BASE + 0x200, 4, S), 0);
        assert_eq!(p.check(BASE + 0x1fc, 4, S), 0);
        assert!(p.m_fetch_unrestricted());
    }
    let p = pmp(&[(0, TOR | RWX, 0)]);
    assert_eq!(p.check(0, 4, S), 0, "TOR entry 0 with pmpaddr0 = 0 is empty");
}

#[test]
fn an_access_partly_inside_the_first_matching_entry_fails() {
    // NA4 at +4 (no permissions) above a NAPOT page that grants RW:
    let p = pmp(&[(0, NA4 | R | W, (BASE + 4) >> 2), (1, NAPOT | R | W, napot(BASE, 0x1000))]);
    assert_eq!(p.check(BASE + 4, 4, S), R | W);
    assert_eq!(p.check(BASE, 4, S), R | W, "entry 1");
    assert_eq!(p.check(BASE, 8, S), 0, "bytes 4..8 in entry 0, 0..4 not: fails");
    assert_eq!(p.check(BASE, 8, M), 0, "also for M, even unlocked");
    assert!(!p.m_data_unrestricted(), "so M loads and stores must be checked");
    assert!(p.m_fetch_unrestricted(), "but a 2-byte fetch parcel cannot straddle");
    let p = pmp(&[(0, NAPOT | R, napot(BASE, 8)), (2, OFF, BASE >> 2), (3, TOR, (BASE + 0x18) >> 2)]);
    assert!(p.m_data_unrestricted(), "8-byte aligned bounds only");
    // Straddling the top of a TOR region.
    let p = pmp(&[(0, TOR | R, (BASE + 0x104) >> 2)]);
    assert_eq!(p.check(BASE + 0x100, 8, S), 0);
    assert_eq!(p.check(BASE + 0x100, 4, S), R);
}

#[test]
fn the_lowest_numbered_matching_entry_wins() {
    let deny_word = (2, NA4, (BASE + 0x40) >> 2);
    let allow_page = (3, NAPOT | R | W, napot(BASE, 0x1000));
    let p = pmp(&[deny_word, allow_page]);
    assert_eq!(p.check(BASE + 0x40, 4, S), 0);
    assert_eq!(p.check(BASE + 0x44, 4, S), R | W);
    let p = pmp(&[(1, allow_page.1, allow_page.2), (2, deny_word.1, deny_word.2)]);
    assert_eq!(p.check(BASE + 0x40, 4, S), R | W, "the page entry is first now");
}

#[test]
fn m_mode_is_bound_only_by_locked_entries() {
    let p = pmp(&[(0, NAPOT, napot(BASE, 0x1000))]);
    assert_eq!(p.check(BASE, 4, M), RWX, "unlocked match: M succeeds");
    assert_eq!(p.check(BASE, 4, S), 0);
    assert!(p.m_fetch_unrestricted());
    let p = pmp(&[(0, L | NAPOT | R, napot(BASE, 0x1000))]);
    assert_eq!(p.check(BASE, 4, M), R, "locked: M gets the entry's bits");
    assert_eq!(p.check(BASE + 0x1000, 4, M), RWX, "no match: M succeeds");
    assert!(!p.m_fetch_unrestricted());
    // A locked entry that is off binds nobody.
    let p = pmp(&[(0, L | OFF | R, napot(BASE, 0x1000))]);
    assert!(p.m_fetch_unrestricted());
}

#[test]
fn s_and_u_fail_without_a_match_even_with_no_entry_active() {
    let p = Pmp::default();
    assert_eq!(p.check(BASE, 4, S), 0);
    assert_eq!(p.check(BASE, 4, M), RWX);
    let p = pmp(&[(7, NAPOT | RWX, napot(BASE, 0x1000))]);
    assert_eq!(p.check(BASE + 0x1000, 4, S), 0);
}

#[test]
fn locked_entries_ignore_writes_to_their_cfg_and_address() {
    let mut p = pmp(&[(1, L | NAPOT | R, napot(BASE, 0x1000))]);
    // One pmpcfg0 write: entry 0 and 2 change, entry 1 keeps its byte.
    p.write_cfg(0, 0x1f_00_1f);
    assert_eq!(p.read_cfg(0), 0x1f_99_1f);
    p.write_addr(1, 0);
    assert_eq!(p.addr(1), napot(BASE, 0x1000));
    // pmpaddr0 is not locked by a locked NAPOT entry 1.
    p.write_addr(0, 0x1234);
    assert_eq!(p.addr(0), 0x1234);
}

#[test]
fn a_locked_tor_entry_also_locks_the_address_below() {
    let mut p = pmp(&[(4, OFF, (BASE + 0x100) >> 2), (5, L | TOR | R, (BASE + 0x200) >> 2)]);
    p.write_addr(4, 0);
    assert_eq!(p.addr(4), (BASE + 0x100) >> 2, "pmpaddr4 is entry 5's bottom");
    assert_eq!(p.check(BASE + 0x100, 4, S), R);
    // Entry 4's configuration itself stays writable.
    p.write_cfg(0, u64::from(NA4 | R) << 32 | u64::from(p.cfg(5)) << 40);
    assert_eq!(p.cfg(4), NA4 | R);
    assert_eq!(p.cfg(5), L | TOR | R);
    // Entry 0's bottom is the constant 0; pmpaddr1 belongs to entry 1.
    let mut p = pmp(&[(0, L | TOR | R, (BASE + 0x200) >> 2)]);
    p.write_addr(1, 0x42);
    assert_eq!(p.addr(1), 0x42);
    p.write_addr(0, 0x42);
    assert_eq!(p.addr(0), (BASE + 0x200) >> 2);
}

#[test]
fn field_legalisation() {
    let mut p = Pmp::default();
    p.write_addr(0, u64::MAX);
    assert_eq!(p.addr(0), (1 << 54) - 1, "address bits 55:2 only");
    // Bits 6:5 are reserved (read 0); R=0 W=1 stays as written (QEMU 7.2).
    p.write_cfg(0, 0x60 | u64::from(NAPOT | W));
    assert_eq!(p.read_cfg(0), u64::from(NAPOT | W));
    assert_eq!(p.check(BASE, 4, S), W);
    // Entries 16.. do not exist.
    p.write_cfg(4, u64::MAX);
    p.write_addr(16, 1);
    assert_eq!((p.read_cfg(4), p.addr(16)), (0, 0));
}

#[test]
fn page_verdicts_for_the_tlb() {
    let p = pmp(&[
        (0, NA4 | R, (BASE + 0x2004) >> 2),
        (1, NAPOT | R | X, napot(BASE, 0x4000)),
        (2, NAPOT | RWX, napot(BASE + 0x10_0000, 0x10_0000)),
    ]);
    assert_eq!(p.page_perms(BASE), R | X);
    assert_eq!(p.page_perms(BASE + 0x3000), R | X);
    assert_eq!(p.page_perms(BASE + 0x2000), MIXED, "entry 0 covers one word of it");
    assert_eq!(p.page_perms(BASE + 0x4000), 0, "no entry");
    assert_eq!(p.page_perms(BASE + 0x10_0000), RWX);
    // A region ending inside a page.
    let p = pmp(&[(0, TOR | R, (BASE + 0x800) >> 2)]);
    assert_eq!(p.page_perms(BASE), MIXED);
    assert_eq!(p.page_perms(0), R);
    // M's half of the verdict: everything unless a locked entry decides.
    let p = pmp(&[(0, L | NAPOT | R, napot(BASE, 0x1000)), (1, NAPOT, napot(BASE + 0x1000, 0x1000))]);
    assert_eq!(p.page_verdict(BASE), Verdict { su: R, m: R });
    assert_eq!(p.page_verdict(BASE + 0x1000), Verdict { su: 0, m: RWX });
    assert_eq!(p.page_verdict(BASE + 0x2000), Verdict { su: 0, m: RWX });
    let p = pmp(&[(0, L | NA4 | R, BASE >> 2)]);
    assert_eq!(p.page_verdict(BASE), Verdict { su: MIXED, m: MIXED });
}

#[test]
fn the_page_verdict_cache_is_direct_mapped_by_page() {
    let mut c = PageVerdicts::default();
    let v = Verdict { su: R, m: RWX };
    assert_eq!(c.get(BASE), None);
    c.insert(BASE + 0x123, v);
    assert_eq!(c.get(BASE + 0xfff), Some(v), "any address in the page");
    assert_eq!(c.get(BASE + 0x1000), None);
    c.insert(BASE + 0x40_000, Verdict { su: 0, m: 0 });
    assert_eq!(c.get(BASE), None, "same slot, another page evicts it");
    c.insert(BASE, v);
    c.flush();
    assert_eq!(c.get(BASE), None);
}

const MCTX: CsrCtx = CsrCtx { mode: PrivMode::Machine, retired: 0, hart_id: 0 };

fn csr_w(c: &mut Csrs, csr: u16, v: u64, ctx: &CsrCtx) -> Result<u64, IllegalCsr> {
    c.rmw(csr, CsrOp::Rw, v, true, false, ctx)
}

#[test]
fn pmp_csrs_legality() {
    let mut c = Csrs::new();
    for odd in [1, 3, 5, 15] {
        let csr = addr::PMPCFG0 + odd;
        assert_eq!(c.read(csr, &MCTX), Err(IllegalCsr), "pmpcfg{odd} does not exist on RV64");
        assert_eq!(csr_w(&mut c, csr, 0, &MCTX), Err(IllegalCsr));
    }
    for mode in [PrivMode::Supervisor, PrivMode::User] {
        let ctx = CsrCtx { mode, ..MCTX };
        for csr in [addr::PMPCFG0, addr::PMPADDR0] {
            assert_eq!(c.rmw(csr, CsrOp::Rs, 0, false, false, &ctx), Err(IllegalCsr), "{mode:?}");
        }
    }
    // pmpcfg2 holds entries 8..15; pmpaddrN is entry N.
    csr_w(&mut c, addr::PMPADDR0 + 9, napot(BASE, 0x1000), &MCTX).expect("pmpaddr9");
    csr_w(&mut c, addr::PMPCFG0 + 2, u64::from(NAPOT | R) << 8, &MCTX).expect("pmpcfg2");
    assert_eq!(c.pmp().cfg(9), NAPOT | R);
    assert_eq!(c.read(addr::PMPADDR0 + 9, &MCTX), Ok(napot(BASE, 0x1000)));
    assert_eq!(c.pmp().check(BASE, 4, false), R);
    assert_eq!(c.read(addr::PMPCFG0, &MCTX), Ok(0));
    for csr in [addr::PMPCFG0 + 4, addr::PMPCFG0 + 14, addr::PMPADDR0 + 16, addr::PMPADDR63] {
        assert_eq!(csr_w(&mut c, csr, u64::MAX, &MCTX), Ok(0), "{csr:#x} exists");
        assert_eq!(c.read(csr, &MCTX), Ok(0), "{csr:#x} is read-only zero");
    }
}

#[test]
fn fast_path_flags_follow_locks_and_mprv() {
    let m = PrivMode::Machine as u8;
    let mut c = Csrs::new();
    assert_eq!((c.pmp_fetch_free(), c.pmp_data_free()), (m, m), "reset: M unchecked");
    // MPRV with MPP = S: M's loads and stores are S's.
    c.set_mstatus((c.mstatus() & !mstatus::MPP) | mstatus::MPRV | (1 << mstatus::MPP_SHIFT));
    assert_eq!(c.pmp_fetch_free(), m);
    assert_ne!(c.pmp_data_free(), m);
    c.set_mstatus(c.mstatus() | mstatus::MPP);
    assert_eq!(c.pmp_data_free(), m, "MPRV with MPP = M changes nothing");
    // An unlocked entry does not bind M; a locked one does, for good.
    csr_w(&mut c, addr::PMPADDR0, napot(BASE, 0x1000), &MCTX).expect("pmpaddr0");
    csr_w(&mut c, addr::PMPCFG0, u64::from(NAPOT), &MCTX).expect("pmpcfg0");
    assert_eq!(c.pmp_fetch_free(), m);
    // An unlocked NA4 entry: an M ld can straddle it.
    csr_w(&mut c, addr::PMPADDR0 + 1, (BASE + 4) >> 2, &MCTX).expect("pmpaddr1");
    csr_w(&mut c, addr::PMPCFG0, u64::from(NAPOT) | u64::from(NA4) << 8, &MCTX).expect("pmpcfg0");
    assert_eq!(c.pmp_fetch_free(), m);
    assert_ne!(c.pmp_data_free(), m);
    csr_w(&mut c, addr::PMPCFG0, u64::from(L | NAPOT), &MCTX).expect("pmpcfg0");
    assert_ne!(c.pmp_fetch_free(), m);
    assert_ne!(c.pmp_data_free(), m);
    csr_w(&mut c, addr::PMPCFG0, 0, &MCTX).expect("ignored");
    assert_eq!(c.pmp().cfg(0) & (L | A), L | NAPOT);
    assert_ne!(c.pmp_fetch_free(), m);
}
