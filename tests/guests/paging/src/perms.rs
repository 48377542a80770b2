//! Permissions (privileged spec §4.3.1 R/W/X/U, §3.1.6.3 SUM, MXR, MPRV)
//! and where page faults go (§3.1.8 medeleg).

use rt::check;
use rt::lower::Mode;

use crate::pt::{self, PAGES};
use crate::{Access, Seen, Sv, Target, access, delegate_page_faults, mprv_load, ms, set_status};

const ACCESSES: [Access; 3] = [Access::Load, Access::Store, Access::Exec];

pub fn run(sv: Sv) {
    matrix(sv);
    sum_mxr(sv);
    mprv(sv);
    delegation(sv);
}

/// Every test page from S (SUM=0, MXR=0) and U: load, store, fetch. Faults
/// go to M (nothing delegated).
fn matrix(sv: Sv) {
    let s = sv.name();
    for (i, p) in PAGES.iter().enumerate() {
        for (mode, expect) in [(Mode::Supervisor, p.s), (Mode::User, p.u)] {
            let seen = ACCESSES.map(|a| access(mode, a, Target::page(i), Mode::Machine));
            let ok = seen.iter().zip(expect.bytes()).all(|(s, e)| s.right && s.succeeded() == (e == b'y'));
            let m = mode.letter();
            let [l, st, x] = seen;
            if ok {
                check!(true, "{s} 4K page {} from {m}: load {l}, store {st}, exec {x}", p.name);
            } else {
                check!(
                    false,
                    "{s} 4K page {} from {m}: load {l}, store {st}, exec {x}; expected {expect}",
                    p.name
                );
            }
        }
    }
}

/// One access: (label, mstatus bits to set, mode, access, test page,
/// must it succeed); a fault must go to `handler`.
type Case = (&'static str, u64, Mode, Access, usize, bool);

fn one(sv: Sv, handler: Mode, (label, status, mode, a, page, allowed): Case) {
    set_status(status);
    let seen = access(mode, a, Target::page(page), handler);
    set_status(0);
    report(sv, label, mode, a, page, allowed, seen);
}

fn report(sv: Sv, label: &str, mode: Mode, a: Access, page: usize, allowed: bool, seen: Seen) {
    let name = PAGES.get(page).map_or("special", |p| p.name);
    check!(
        seen.right && seen.succeeded() == allowed,
        "{} {label}: {} {} page {name}: {seen}",
        sv.name(),
        mode.letter(),
        a.name()
    );
}

fn sum_mxr(sv: Sv) {
    use Access::{Exec, Load, Store};
    use Mode::{Supervisor as S, User as U};
    let cases: [Case; 13] = [
        // SUM: S may load and store U pages, never execute them.
        ("SUM=1", ms::SUM, S, Load, 5, true),
        ("SUM=1", ms::SUM, S, Store, 6, true),
        ("SUM=1", ms::SUM, S, Exec, 7, false),
        ("SUM=1", ms::SUM, S, Exec, 8, false),
        ("SUM=1", ms::SUM, S, Load, 0, true),
        ("SUM=1", ms::SUM, U, Load, 0, false),
        // MXR: loads from executable pages succeed.
        ("MXR=1", ms::MXR, S, Load, 2, true),
        ("MXR=1", ms::MXR, U, Load, 7, true),
        ("MXR=1", ms::MXR, S, Load, 7, false),
        ("MXR=1 SUM=1", ms::MXR | ms::SUM, S, Load, 7, true),
        ("MXR=1", ms::MXR, S, Store, 2, false),
        ("MXR=1", ms::MXR, S, Load, 9, false),
        ("MXR=0", 0, S, Load, 2, false),
    ];
    for case in cases {
        one(sv, Mode::Machine, case);
    }
}

/// MPRV: M-mode loads translated and checked as MPP (fetches are not:
/// the code keeps running from physical memory even with MPP=U).
fn mprv(sv: Sv) {
    let cases = [
        ("MPRV MPP=S", Mode::Supervisor, 0, 0, true),
        ("MPRV MPP=S", Mode::Supervisor, 0, 5, false),
        ("MPRV MPP=S SUM=1", Mode::Supervisor, ms::SUM, 5, true),
        ("MPRV MPP=S MXR=1", Mode::Supervisor, ms::MXR, 2, true),
        ("MPRV MPP=U", Mode::User, 0, 5, true),
        ("MPRV MPP=U", Mode::User, 0, 0, false),
        ("MPRV MPP=U", Mode::User, 0, 9, false),
    ];
    for (label, mpp, extra, page, allowed) in cases {
        let seen = mprv_load(mpp, extra, Target::page(page));
        report(sv, label, Mode::Machine, Access::Load, page, allowed, seen);
    }
    // MPP=M: no translation at all, the physical address works.
    let phys = Target { va: pt::data(0), pa: pt::data(0), id: 0 };
    let seen = mprv_load(Mode::Machine, 0, phys);
    check!(seen.right && seen.succeeded(), "{} MPRV MPP=M: M load at a physical address: {seen}", sv.name());
}

/// medeleg bits 12/13/15: faults from S and U go to S (scause, sepc,
/// stval); from M (MPRV) they stay in M.
fn delegation(sv: Sv) {
    use Access::{Exec, Load, Store};
    use Mode::{Supervisor as S, User as U};
    delegate_page_faults(true);
    for (mode, a, page) in
        [(U, Load, 0), (U, Store, 5), (U, Exec, 0), (S, Load, 5), (S, Store, 0), (S, Exec, 5)]
    {
        one(sv, S, ("delegated", 0, mode, a, page, false));
    }
    // Allowed accesses are unaffected.
    one(sv, S, ("delegated", 0, U, Load, 5, true));
    one(sv, S, ("delegated", 0, S, Exec, 2, true));
    let seen = mprv_load(Mode::User, 0, Target::page(0));
    report(sv, "delegated, MPRV MPP=U (fault stays in M)", Mode::Machine, Load, 0, false, seen);
    delegate_page_faults(false);
}
