//! Superpages, invalid PTEs, canonical addresses, A/D bits, sfence.vma,
//! ASIDs and satp's MODE field.

use rt::enc::{self, A0, A1, A2, A3};
use rt::lower::{self, Code, Mode, Outcome};
use rt::{check, check_eq, info};

use crate::pt::{self, pte};
use crate::{Access, Seen, Sv, Target, access, flush, ms, num, set_status};

pub fn run(sv: Sv, t: &pt::Tables) {
    superpages(sv);
    invalid(sv);
    canonical(sv);
    access_dirty(sv, t);
    sfence(sv, t);
    asids(sv, t);
}

fn line(sv: Sv, what: &str, seen: Seen, allowed: bool) {
    check!(seen.right && seen.succeeded() == allowed, "{} {what}: {seen}", sv.name());
}

/// An address in the RAM alias at `base` (which maps physical
/// `phys_base`) that reaches data page 0.
fn alias(base: usize, phys_base: usize) -> Target {
    Target { va: base + (pt::data(0) - phys_base), pa: pt::data(0), id: 0 }
}

fn superpages(sv: Sv) {
    use Access::{Exec, Load, Store};
    use Mode::{Machine as M, Supervisor as S, User as U};
    let mega = Target { va: pt::MEGA_VA + 0x1_2340, pa: pt::MEGA_A + 0x1_2340, id: 0 };
    line(sv, "2M page: S load", access(S, Load, mega, M), true);
    line(sv, "2M page: S store", access(S, Store, mega, M), true);
    let mega_code = Target { va: pt::MEGA_VA, pa: pt::MEGA_A, id: 0x200 };
    line(sv, "2M page: S exec", access(S, Exec, mega_code, M), true);
    line(sv, "2M page (no U): U load", access(U, Load, mega, M), false);
    let misaligned = Target { va: pt::MEGA_MISALIGNED_VA, pa: 0, id: 0 };
    line(sv, "2M page with PPN[0] != 0 (misaligned): S load", access(S, Load, misaligned, M), false);

    let giga = alias(pt::GIGA_VA, 0x8000_0000);
    line(sv, "1G page (U, R): U load", access(U, Load, giga, M), true);
    line(sv, "1G page (U, R): U store", access(U, Store, giga, M), false);
    line(sv, "1G page (U, R): S load, SUM=0", access(S, Load, giga, M), false);
    set_status(ms::SUM);
    line(sv, "1G page (U, R): S load, SUM=1", access(S, Load, giga, M), true);
    set_status(0);
    let misaligned = Target { va: pt::GIGA_MISALIGNED_VA, pa: 0, id: 0 };
    line(sv, "1G page with PPN[1:0] != 0 (misaligned): S load", access(S, Load, misaligned, M), false);
    line(
        sv,
        "1G page at the top of the upper half: S load",
        access(S, Load, alias(pt::TOP_VA, 0x8000_0000), M),
        true,
    );

    // 0x80_0000_0000 is a 512 GiB page under Sv48 and not canonical under
    // Sv39 (bit 39 set, bit 38 clear).
    let tera = alias(pt::TERA_VA, 0);
    line(sv, "512G page (Sv48) / non-canonical (Sv39): S load", access(S, Load, tera, M), sv == Sv::Sv48);
    if sv == Sv::Sv48 {
        line(sv, "512G page: S store", access(S, Store, tera, M), true);
        let misaligned = Target { va: pt::TERA_MISALIGNED_VA, pa: 0, id: 0 };
        line(sv, "512G page with PPN[2:0] != 0 (misaligned): S load", access(S, Load, misaligned, M), false);
    }
}

fn invalid(sv: Sv) {
    use Mode::{Machine as M, Supervisor as S};
    // The table entries of `PAGES` already cover V=0, W without R and a
    // reserved bit; here: a level-0 PTE that points to another table.
    let t = Target::page(pt::PAGE_POINTER);
    line(sv, "non-leaf PTE at level 0: S load", access(S, Access::Load, t, M), false);
    line(sv, "non-leaf PTE at level 0: S exec", access(S, Access::Exec, t, M), false);
    // §4.3.1: D, A and U are reserved in non-leaf PTEs, and §4.3.2 step 3
    // faults on reserved bits.
    let t = Target { va: pt::NONLEAF_A_VA, pa: pt::data(0), id: 0 };
    line(sv, "non-leaf PTE with A set: S load", access(S, Access::Load, t, M), false);
}

/// §4.4.1/§4.5.1: VA bits above the top one must copy it, else a page
/// fault with xtval = the address.
fn canonical(sv: Sv) {
    use Mode::{Machine as M, Supervisor as S, User as U};
    let addrs: [usize; 2] = match sv {
        Sv::Sv39 => [0x0000_0040_0000_0000, 0xffff_ffbf_ffff_f000],
        Sv::Sv48 => [0x0000_8000_0000_0000, 0xffff_7fff_ffff_f000],
    };
    for va in addrs {
        let t = Target { va, pa: 0, id: 0 };
        for (mode, a) in [(S, Access::Load), (S, Access::Store), (U, Access::Exec)] {
            let seen = access(mode, a, t, M);
            check!(
                seen.right && !seen.succeeded(),
                "{} non-canonical {va:#x}: {} {}: {seen}",
                sv.name(),
                mode.letter(),
                a.name()
            );
        }
    }
}

/// The A/D policy: a clear A (or D, for a store) either page-faults, and
/// software sets the bit (Svade, wemu), or the hart sets it in the PTE
/// (QEMU 7.2). Both are allowed (§4.3.1); the check accepts either, the
/// `info:` line says which, and after a fault the retry must succeed once
/// software has set the bit and executed sfence.vma.
fn access_dirty(sv: Sv, t: &pt::Tables) {
    use Mode::{Machine as M, Supervisor as S};
    let cases = [
        ("A=0 page: S load", pt::PAGE_NO_A, Access::Load, pte::A),
        ("A=0 page: S exec", pt::PAGE_NO_A, Access::Exec, pte::A),
        ("A=1 D=0 page: S store", pt::PAGE_NO_D, Access::Store, pte::D),
    ];
    for (what, page, a, bit) in cases {
        let original = if page == pt::PAGE_NO_A {
            pt::leaf(pt::data(page), pte::V | pte::R | pte::X)
        } else {
            pt::leaf(pt::data(page), pte::V | pte::R | pte::W | pte::A)
        };
        pt::set(t.t0, page, original);
        flush();
        let first = access(S, a, Target::page(page), M);
        let after = pt::get(t.t0, page);
        let (ok, how) = if first.succeeded() {
            // Hardware update: the bit (and A with D) is now set, the
            // access itself was right.
            (first.right && after & (bit | pte::A) == bit | pte::A, "the hart set it")
        } else {
            // Svade: a precise fault, the PTE untouched; set the bit, fence,
            // retry.
            let precise = first.right && after == original;
            pt::set(t.t0, page, original | bit | pte::A);
            flush();
            let retry = access(S, a, Target::page(page), M);
            (precise && retry.right && retry.succeeded(), "page fault, software set it")
        };
        check!(ok, "{} {what}: page fault and retry, or the hart sets the bit", sv.name());
        info!("{} {what}: {how}", sv.name());
    }
    // A load needs no D and sets none (under either policy).
    let page = pt::PAGE_NO_D;
    let original = pt::leaf(pt::data(page), pte::V | pte::R | pte::W | pte::A);
    pt::set(t.t0, page, original);
    flush();
    let seen = access(S, Access::Load, Target::page(page), M);
    let after = pt::get(t.t0, page);
    check!(
        seen.right && seen.succeeded() && after & pte::D == 0,
        "{} A=1 D=0 page: S load: {seen}, D still clear",
        sv.name()
    );
}

/// `sfence.vma` then a load, in S-mode: rs1 = a2 (fence address) or x0,
/// rs2 = a1 (ASID) or x0; loads from a0.
fn fence_then_load(by_addr: bool, by_asid: bool, load_va: usize, fence_va: usize, asid: u64) -> Outcome {
    let rs1 = if by_addr { A2 } else { 0 };
    let rs2 = if by_asid { A1 } else { 0 };
    let code = Code::new().i32(enc::sfence_vma(rs1, rs2)).i32(enc::load(3, A0, A0, 0));
    lower::exec(Mode::Supervisor, &code, [load_va, asid as usize, fence_va, 0])
}

/// Only what the spec guarantees: after M changes a PTE, a translation
/// cached before may or may not be used until an sfence.vma covering the
/// address (and ASID) executes; after it, the new PTE must be used.
fn sfence(sv: Sv, t: &pt::Tables) {
    let page = pt::PAGE_SFENCE;
    let va = pt::va(page);
    let leaf_to = |data_page: usize| pt::leaf(pt::data(data_page), pte::V | pte::R | pte::A);
    let magic = |data_page: usize| pt::magic(pt::data(data_page));
    // (what, by address, by ASID, new target)
    let steps = [
        ("sfence.vma va, x0", true, false, pt::PAGE_ALT),
        ("sfence.vma x0, asid", false, true, page),
        ("sfence.vma va, asid", true, true, pt::PAGE_ALT),
        ("sfence.vma x0, x0", false, false, page),
    ];
    for (what, by_addr, by_asid, target) in steps {
        // Use the current mapping (so a TLB may hold it), then change it.
        let before = crate::probe::load(Mode::Supervisor, va).ret as u64;
        pt::set(t.t0, page, leaf_to(target));
        // Before the fence either page may be seen (the TLB may hold the
        // old translation or not): printed, not checked.
        let unfenced = crate::probe::load(Mode::Supervisor, va).ret as u64;
        let seen = if unfenced == before { "the old page" } else { "the new page" };
        info!("{} PTE changed, no fence yet: the load sees {seen}", sv.name());
        let o = fence_then_load(by_addr, by_asid, va, va, 1);
        check!(
            o.trap.is_none() && o.ret as u64 == magic(target),
            "{} PTE changed, then {what} in S: the load sees the new page",
            sv.name()
        );
    }
    // A 2 MiB page, fenced by an address in another of its 4 KiB pages.
    let load_va = pt::MEGA_VA + 0x1_2340;
    let _ = crate::probe::load(Mode::Supervisor, load_va);
    let mega = pt::vpn(pt::MEGA_VA, 1);
    let old = pt::get(t.t1, mega);
    pt::set(t.t1, mega, pt::leaf(pt::MEGA_B, pte::V | pte::R | pte::W | pte::X | pte::A | pte::D));
    let o = fence_then_load(true, false, load_va, pt::MEGA_VA + 0x1f_f000, 0);
    check!(
        o.trap.is_none() && o.ret as u64 == pt::magic(pt::MEGA_B + 0x1_2340),
        "{} 2M PTE changed, sfence.vma at another 4K page of it: the load sees the new page",
        sv.name()
    );
    pt::set(t.t1, mega, old);
    flush();
}

/// Two roots with ASIDs 1 and 2 mapping one VA to different pages: S
/// switches satp between them (both fenced before) and each load sees its
/// own root's page.
fn asids(sv: Sv, t: &pt::Tables) {
    let satp_a = sv.satp(sv.root(t, false), 1);
    let satp_b = sv.satp(sv.root(t, true), 2);
    flush();
    let va = pt::va(pt::PAGE_ASID);
    let switch_and_load = |satp: u64| {
        let code = Code::new().i32(enc::csrw(num::SATP, A1)).i32(enc::load(3, A0, A0, 0));
        lower::exec(Mode::Supervisor, &code, [va, satp as usize, 0, 0])
    };
    for (name, satp, data_page) in
        [("B", satp_b, pt::PAGE_ASID + 1), ("A", satp_a, pt::PAGE_ASID), ("B", satp_b, pt::PAGE_ASID + 1)]
    {
        let o = switch_and_load(satp);
        check!(
            o.trap.is_none() && o.ret as u64 == pt::magic(pt::data(data_page)),
            "{} S switches satp to root {name} (ASID {}): the load sees data page {data_page}",
            sv.name(),
            if name == "A" { 1 } else { 2 }
        );
    }
    lower::m_write(num::SATP, satp_a);
    flush();
}

/// satp.MODE is WARL (§4.1.11): a write with a MODE the hart does not
/// implement "has no effect". Sv57 (10) is optional: QEMU 7.2 has it.
pub fn satp_modes() {
    lower::m_write(num::SATP, 0);
    for mode in [1u64, 7, 11, 15] {
        let code = Code::new().i32(enc::csrw(num::SATP, A0)).i32(enc::csrr(A0, num::SATP));
        let o = lower::exec(Mode::Supervisor, &code, [((mode << 60) | 0x8_0200) as usize, 0, 0, 0]);
        check!(o.trap.is_none(), "S writes satp MODE {mode}: no trap");
        check_eq!(o.ret, 0, "satp after S writes reserved MODE {mode}");
    }
    // One piece of M-mode code, so an accepted Sv57 is undone at once.
    let code = Code::new()
        .i32(enc::csrrw(A3, num::SATP, A0))
        .i32(enc::csrr(A0, num::SATP))
        .i32(enc::csrw(num::SATP, A3));
    let o = lower::exec(Mode::Machine, &code, [((10u64 << 60) | 0x8_0200) as usize, 0, 0, 0]);
    info!("satp <- Sv57: {}", if o.ret == 0 { "no effect (not implemented)" } else { "accepted" });
}
