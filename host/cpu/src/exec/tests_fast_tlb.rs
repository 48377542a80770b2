//! The fast TLB that translated code probes (`tlb::FastEntry`,
//! `Hart::fill_fast`, docs/jit.md "Memory"): filled only with what
//! `translate` itself would allow, for one regime, and never outliving the
//! TLB entry it was made from.

use super::tests_mmu::{DATA, DATA_RW, LD, PC, SD, SV39, VA, Vm, set_csr};
use crate::csr::{addr, mstatus};
use crate::mmu::pte::{A, R, U, W, X};
use crate::pmp::cfg;
use crate::tlb::{ENTRIES, FastEntry, vpn_of};
use crate::{PrivMode, RamWindow};

const S: PrivMode = PrivMode::Supervisor;
/// What a tag is when the page may not be accessed that way.
const NONE: u64 = u64::MAX;

fn window(vm: &mut Vm) -> RamWindow {
    RamWindow {
        host: vm.mem.bytes.as_mut_ptr(),
        base: vm.mem.base,
        len: vm.mem.bytes.len() as u64,
        writable: true,
    }
}

fn fast(vm: &Vm, va: u64) -> FastEntry {
    vm.hart.tlb.fast[(vpn_of(va) as usize) & (ENTRIES - 1)]
}

/// Run the access at PC on `va` through the interpreter (which fills the
/// TLB), then let it fill the fast entry as the JIT's helpers do.
fn touch(vm: &mut Vm, va: u64) {
    vm.access(va).unwrap_or_else(|t| panic!("access at {va:#x} trapped: {t:?}"));
    let w = window(vm);
    vm.hart.fill_fast(va, &w);
}

#[test]
fn a_data_page_gets_both_tags_and_its_host_address() {
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, DATA_RW);
    touch(&mut vm, VA + 8);
    let e = fast(&vm, VA);
    assert_eq!((e.read, e.write), (VA, VA));
    let w = window(&mut vm);
    assert_eq!(VA.wrapping_add(e.addend), w.host as u64 + (DATA - w.base));
}

#[test]
fn tags_follow_the_pte_and_the_regime() {
    // Read-only, and writable but not yet dirty (Svade: a store faults).
    for flags in [R | A, R | W | A] {
        let mut vm = Vm::new(SV39, S, &[LD]);
        vm.map(VA, DATA, 0, flags);
        touch(&mut vm, VA);
        assert_eq!((fast(&vm, VA).read, fast(&vm, VA).write), (VA, NONE), "PTE flags {flags:#x}");
    }
    // Execute-only: readable only under MXR, and only for that regime.
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, X | A);
    set_csr(&mut vm.hart, addr::MSTATUS, mstatus::MXR);
    touch(&mut vm, VA);
    assert_eq!(fast(&vm, VA).read, VA);
    set_csr(&mut vm.hart, addr::MSTATUS, 0);
    let w = window(&mut vm);
    let key = vm.hart.fast_key(&w);
    vm.hart.tlb.set_fast_key(key);
    assert_eq!(fast(&vm, VA).read, NONE, "MXR cleared: the entry is gone");
    // A user page from S-mode: only with SUM.
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, DATA_RW | U);
    assert!(vm.access(VA).is_err(), "no SUM: a fault");
    vm.hart.mode = S; // back from the trap
    set_csr(&mut vm.hart, addr::MSTATUS, mstatus::SUM);
    touch(&mut vm, VA);
    assert_eq!((fast(&vm, VA).read, fast(&vm, VA).write), (VA, VA));
}

#[test]
fn a_page_pmp_splits_or_outside_the_window_gets_nothing() {
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, DATA_RW);
    // PMP entry 0: the first 8 bytes of DATA, read-only (entry 15 still
    // opens everything else): the page's verdict is mixed.
    set_csr(&mut vm.hart, addr::PMPADDR0, DATA >> 2);
    let cfgs = vm.hart.peek_csr(addr::PMPCFG0).expect("pmpcfg0");
    set_csr(&mut vm.hart, addr::PMPCFG0, (cfgs & !0xff) | u64::from(cfg::NA4 | cfg::R));
    touch(&mut vm, VA + 0x100);
    assert_eq!((fast(&vm, VA).read, fast(&vm, VA).write), (NONE, NONE));

    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, DATA_RW);
    vm.access(VA).expect("access");
    let mut w = window(&mut vm);
    w.len = DATA - w.base + 0x800; // half of DATA's page
    vm.hart.fill_fast(VA, &w);
    assert_eq!((fast(&vm, VA).read, fast(&vm, VA).write), (NONE, NONE));
}

#[test]
fn an_entry_goes_with_its_tlb_entry() {
    let fresh = || {
        let mut vm = Vm::new(SV39, S, &[LD, SD]);
        vm.map(VA, DATA, 0, DATA_RW);
        touch(&mut vm, VA);
        assert_eq!(fast(&vm, VA).read, VA);
        vm
    };
    // sfence.vma; a flush by the machine (or by a satp or PMP write).
    let mut vm = fresh();
    vm.hart.tlb.sfence(Some(VA), None);
    assert_eq!(fast(&vm, VA).read, NONE, "sfence.vma");
    let mut vm = fresh();
    vm.hart.flush_tlb();
    assert_eq!(fast(&vm, VA).read, NONE, "flush_tlb");
    // Another page taking the same TLB slot.
    let mut vm = fresh();
    let other = VA + ((ENTRIES as u64) << 12);
    vm.map(other, DATA + 0x1000, 0, DATA_RW);
    vm.access(other).expect("access");
    assert_eq!(fast(&vm, VA).read, NONE, "slot reused");
    assert_eq!(fast(&vm, other).read, NONE, "not filled without fill_fast");
    // A mode change (to M: untranslated) empties the table for the regime.
    let mut vm = fresh();
    vm.hart.mode = PrivMode::Machine;
    let w = window(&mut vm);
    let key = vm.hart.fast_key(&w);
    vm.hart.tlb.set_fast_key(key);
    assert_eq!(fast(&vm, VA).read, NONE, "mode change");
    // Unchanged regime: kept.
    let mut vm = fresh();
    let w = window(&mut vm);
    let key = vm.hart.fast_key(&w);
    vm.hart.tlb.set_fast_key(key);
    assert_eq!(fast(&vm, VA).read, VA, "same regime");
}

// The interpreter probes the same table in `run` (`Hart::load_paged`).

const LD13: u32 = 0x0005_3683; // ld x13, 0(x10)
const BACK_12: u32 = 0xff5f_f06f; // jal x0, -12

/// Run `LD; SD; LD13; back to LD` twice in S-mode on a page mapped with
/// `flags`; the memory's RAM window is on if `window`. Returns the VM and
/// how many loads and stores reached the memory in the second pass (the
/// first one decodes, through `step`).
fn two_passes(flags: u64, window: bool) -> (Vm, usize) {
    let mut vm = Vm::new(SV39, S, &[LD, SD, LD13, BACK_12]);
    if window {
        vm.mem.set_window();
    }
    vm.map(VA, DATA, 0, flags);
    vm.mem.put64(DATA, 7);
    vm.hart.x[10] = VA;
    vm.hart.x[11] = 0x5a;
    assert_eq!(vm.hart.run(&mut vm.mem, 4), crate::RunExit::Budget);
    let before = vm.mem.accesses.len();
    vm.hart.run(&mut vm.mem, 4);
    let n = vm.mem.accesses.len() - before;
    (vm, n)
}

#[test]
fn run_serves_a_mapped_page_from_ram_after_one_access() {
    let (plain, through_memory) = two_passes(DATA_RW, false);
    let (mut vm, with_window) = two_passes(DATA_RW, true);
    assert_eq!(through_memory, 3, "without a window every access reaches the memory");
    assert_eq!(with_window, 1, "the second pass's first load fills the entry, the rest hit it");
    assert_eq!((vm.hart.x[12], vm.hart.x[13], vm.hart.pc), (0x5a, 0x5a, PC));
    assert_eq!((plain.hart.x[12], plain.hart.x[13]), (0x5a, 0x5a));
    assert_eq!(vm.mem.get(DATA, 8), 0x5a);
}

#[test]
fn run_still_faults_a_store_to_a_read_only_page() {
    // `LD; SD` decoded on a writable page first, then run from the cache
    // on a read-only one: LD fills the entry for reading only, and SD must
    // take a store page fault.
    let mut vm = Vm::new(SV39, S, &[LD, SD]);
    vm.mem.set_window();
    let writable = VA + 0x1000;
    vm.map(writable, DATA + 0x1000, 0, DATA_RW);
    vm.map(VA, DATA, 0, R | A);
    vm.mem.put64(DATA, 7);
    vm.hart.x[10] = writable;
    vm.hart.x[11] = 0x5a;
    vm.hart.run(&mut vm.mem, 2);
    vm.hart.x[10] = VA;
    vm.hart.pc = PC;
    vm.hart.run(&mut vm.mem, 2);
    assert_eq!(vm.hart.x[12], 7);
    assert_eq!(vm.hart.peek_csr(addr::MCAUSE), Some(15));
    assert_eq!(vm.hart.peek_csr(addr::MTVAL), Some(VA));
    assert_eq!(vm.hart.peek_csr(addr::MEPC), Some(PC + 4));
    assert_eq!(vm.mem.get(DATA, 8), 7, "nothing written");
}

#[test]
fn run_drops_entries_when_the_regime_changes() {
    // A user page read from S-mode with SUM, then without.
    let (mut vm, _) = two_passes(DATA_RW | U, true);
    set_csr(&mut vm.hart, addr::MSTATUS, mstatus::SUM);
    vm.hart.mode = S;
    vm.hart.pc = PC;
    vm.hart.run(&mut vm.mem, 8);
    assert_eq!(vm.hart.x[13], 0x5a, "with SUM: readable");
    set_csr(&mut vm.hart, addr::MSTATUS, 0);
    vm.hart.mode = S;
    vm.hart.pc = PC;
    vm.hart.run(&mut vm.mem, 1);
    assert_eq!(vm.hart.peek_csr(addr::MCAUSE), Some(13), "without SUM: a load page fault");
    assert_eq!(vm.hart.peek_csr(addr::MTVAL), Some(VA));
}

#[test]
fn exec_tags_follow_fetch_permission() {
    let exec = |flags: u64, mode: PrivMode| {
        // A TLB entry for VA, made by a load in a mode that may read it.
        let loader = if flags & U != 0 { PrivMode::User } else { S };
        let mut vm = Vm::new(SV39, loader, &[LD]);
        vm.map(VA, DATA, 0, flags);
        touch(&mut vm, VA);
        vm.hart.mode = mode;
        vm.hart.fill_fast_exec(VA + 0x10);
        fast(&vm, VA).exec
    };
    assert_eq!(exec(R | X | A, S), VA, "S may fetch from a supervisor page");
    assert_eq!(exec(R | A, S), NONE, "no X");
    assert_eq!(exec(R | X | A | U, PrivMode::User), VA, "U from a user page");
    assert_eq!(exec(R | X | A | U, S), NONE, "S never fetches from a user page, SUM or not");
    // Kept by a later data fill of the same entry, gone with the entry.
    let mut vm = Vm::new(SV39, S, &[LD]);
    vm.map(VA, DATA, 0, R | X | A);
    touch(&mut vm, VA);
    vm.hart.fill_fast_exec(VA);
    touch(&mut vm, VA + 8);
    assert_eq!(fast(&vm, VA).exec, VA);
    vm.hart.tlb.sfence(Some(VA), None);
    assert_eq!(fast(&vm, VA).exec, NONE);
}
