//! Misaligned loads and stores completed in hardware (`exec/misaligned.rs`):
//! every width and form, page-crossing accesses and their faults, device
//! registers, ROM and holes. The trapping setting is tested with the
//! exceptions (`tests_system`, `tests_mmu`, `tests_fp`).

use super::tests_mmu::{DATA_RW, LD, PC, SD, SV39, VA, Vm, assert_fault};
use crate::csr::mstatus;
use crate::mmu::pte::{A, R};
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, RAM_SIZE, TestMem, setup};
use crate::{AccessInfo, Exception, Hart, Memory, PrivMode, RunExit, StepEvent, TrapCause};

const DATA: u64 = RAM_BASE + 0x1000;
const HANDLER: u64 = RAM_BASE + 0x800;

/// DATA..DATA+32 holds byte i = 0x80 + i (bit 7 set, so sign extension
/// shows), everything after it zero.
fn fill(mem: &mut TestMem) {
    for i in 0..32 {
        mem.store(AccessInfo::HOST, DATA + i, 1, 0x80 + i).expect("RAM");
    }
}

/// The little-endian value of `len` pattern bytes at offset `off`,
/// sign-extended if `signed`.
fn pattern(off: u64, len: u32, signed: bool) -> u64 {
    let v = (0..u64::from(len)).fold(0u64, |v, i| v | ((0x80 + off + i) << (8 * i)));
    let shift = 64 - 8 * len;
    if signed { (((v << shift) as i64) >> shift) as u64 } else { v }
}

/// A hart running `words` at PC with x11 = DATA, traps to a nop at HANDLER.
fn hart_with(words: &[u32]) -> (Hart, TestMem) {
    let (mut hart, mut mem) = setup(words);
    mem.put32(HANDLER, NOP);
    let ctx = hart.csr_ctx();
    let op = crate::insn::CsrOp::Rw;
    hart.csrs.rmw(crate::csr::addr::MTVEC, op, HANDLER, true, true, &ctx).expect("mtvec");
    hart.csrs.set_mstatus(hart.csrs.mstatus() | (1 << mstatus::FS_SHIFT));
    hart.x[11] = DATA;
    fill(&mut mem);
    (hart, mem)
}

fn trap_of(ev: Result<StepEvent, crate::Halt>) -> (Exception, u64) {
    match ev {
        Ok(StepEvent::Trap(rec)) => match rec.cause {
            TrapCause::Exception(e) => (e, rec.tval),
            other => panic!("expected an exception, got {other:?}"),
        },
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn misaligned_loads_of_every_width_complete_in_ram() {
    type Enc = fn(u32, u32, i32) -> u32;
    let loads: [(&str, Enc, u32, bool); 5] = [
        ("lh", lh, 2, true),
        ("lhu", lhu, 2, false),
        ("lw", lw, 4, true),
        ("lwu", lwu, 4, false),
        ("ld", ld, 8, true),
    ];
    for (name, enc, len, signed) in loads {
        for off in (1..16u64).filter(|o| o % u64::from(len) != 0) {
            let (mut hart, mut mem) = hart_with(&[enc(10, 11, off as i32)]);
            assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired), "{name} at DATA+{off}");
            assert_eq!(hart.x[10], pattern(off, len, signed), "{name} at DATA+{off} (step)");
            // The same through `run`, which executes from the cached page.
            hart.pc = PC;
            hart.x[10] = 0;
            assert_eq!(hart.run(&mut mem, 1), RunExit::Budget);
            assert_eq!(hart.x[10], pattern(off, len, signed), "{name} at DATA+{off} (run)");
        }
    }
}

#[test]
fn misaligned_stores_of_every_width_complete_in_ram() {
    type Enc = fn(u32, u32, i32) -> u32;
    let stores: [(&str, Enc, u64); 3] = [("sh", sh, 2), ("sw", sw, 4), ("sd", sd, 8)];
    let value = 0x1122_3344_5566_7788u64;
    for (name, enc, len) in stores {
        for off in (1..16u64).filter(|o| o % len != 0) {
            let (mut hart, mut mem) = hart_with(&[enc(12, 11, off as i32)]);
            hart.x[12] = value;
            assert_eq!(hart.run(&mut mem, 1), RunExit::Budget, "{name} at DATA+{off}");
            for i in 0..32 {
                let want =
                    if (off..off + len).contains(&i) { (value >> (8 * (i - off))) & 0xff } else { 0x80 + i };
                assert_eq!(mem.get(DATA + i, 1), want, "{name} at DATA+{off}: byte {i}");
            }
        }
    }
}

#[test]
fn compressed_and_fp_forms_complete_too() {
    // c.lw a0,0(a0) with a0 = DATA+2 (c.sw: `c_sw_stores_where_the_register_points`).
    let (mut hart, mut mem) = hart_with(&[]);
    mem.put16(PC, 0x4108);
    hart.x[10] = DATA + 2;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(hart.x[10], pattern(2, 4, true));

    // flw/fld from odd addresses, fsw/fsd to them.
    let (mut hart, mut mem) = hart_with(&[
        fload(2, 1, 11, 3),   // flw ft1,3(a1)
        fload(3, 2, 11, 5),   // fld ft2,5(a1)
        fstore(2, 1, 11, 17), // fsw ft1,17(a1)
        fstore(3, 2, 11, 22), // fsd ft2,22(a1)
    ]);
    assert_eq!(hart.run(&mut mem, 4), RunExit::Budget);
    assert_eq!(hart.f[1], 0xffff_ffff_0000_0000 | pattern(3, 4, false), "flw NaN-boxes");
    assert_eq!(hart.f[2], pattern(5, 8, false));
    assert_eq!(mem.get(DATA + 17, 4), pattern(3, 4, false));
    assert_eq!(mem.get(DATA + 22, 8), pattern(5, 8, false));
}

#[test]
fn c_sw_stores_where_the_register_points() {
    let (mut hart, mut mem) = hart_with(&[]);
    mem.put16(PC, 0xc10c); // c.sw a1,0(a0)
    hart.x[10] = DATA + 6;
    hart.x[11] = 0xdead_beef;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(mem.get(DATA + 4, 8), 0x8b8a_dead_beef_8584);
}

/// Sv39, S-mode: VA's page maps to physical P1, the next one to P2 (not
/// the page after P1), so a page-crossing access uses both translations.
const P1: u64 = RAM_BASE + 0x2_0000;
const P2: u64 = RAM_BASE + 0x5_0000;

fn crossing_vm(code: u32, second: Option<u64>) -> Vm {
    let mut vm = Vm::new(SV39, PrivMode::Supervisor, &[code]);
    vm.map(VA, P1, 0, DATA_RW);
    if let Some(flags) = second {
        vm.map(VA + 0x1000, P2, 0, flags);
    }
    for i in 0..4 {
        vm.mem.put16(P1 + 0xff8 + 2 * i, 0x1110 * (i as u16 + 1));
        vm.mem.put16(P2 + 2 * i, 0xa0a0 + i as u16);
    }
    vm
}

#[test]
fn a_page_crossing_access_uses_both_translations() {
    let mut vm = crossing_vm(LD, Some(DATA_RW));
    let want = vm.mem.get(P1 + 0xffc, 4) | (vm.mem.get(P2, 4) << 32);
    assert_eq!(vm.access(VA + 0xffc), Ok(want));

    let mut vm = crossing_vm(SD, Some(DATA_RW));
    vm.hart.x[11] = 0x5a;
    vm.access(VA + 0xffd).expect("sd across the page boundary");
    assert_eq!(vm.mem.get(P1 + 0xffd, 2), 0x5a, "first page: 3 bytes, the low one 0x5a");
    assert_eq!(vm.mem.get(P1 + 0xfff, 1), 0);
    assert_eq!(vm.mem.get(P2, 4), 0, "second page: 5 zero bytes");
    assert_eq!(vm.mem.get(P2 + 4, 1), 0);
    assert_eq!(vm.mem.get(P2 + 5, 1), 0xa0, "untouched after them");
}

#[test]
fn a_fault_on_the_second_page_reports_its_first_byte_and_stores_nothing() {
    let mut vm = crossing_vm(LD, None);
    assert_fault(vm.access(VA + 0xffc), Exception::LoadPageFault, VA + 0x1000, "ld, second page unmapped");

    let mut vm = crossing_vm(SD, None);
    let before = vm.mem.get(P1 + 0xff8, 8);
    assert_fault(vm.access(VA + 0xffa), Exception::StorePageFault, VA + 0x1000, "sd, second page unmapped");
    assert_eq!(vm.mem.get(P1 + 0xff8, 8), before, "nothing stored in the first page");

    // Readable but not writable: the store faults, the load does not.
    let mut vm = crossing_vm(SD, Some(R | A));
    assert_fault(vm.access(VA + 0xffa), Exception::StorePageFault, VA + 0x1000, "sd, second page read-only");
    assert_eq!(vm.mem.get(P1 + 0xff8, 8), before, "nothing stored in the first page");
    let mut vm = crossing_vm(LD, Some(R | A));
    assert!(vm.access(VA + 0xffa).is_ok());
}

#[test]
fn a_fault_on_the_first_page_reports_the_address() {
    let mut vm = Vm::new(SV39, PrivMode::Supervisor, &[LD]);
    vm.map(VA + 0x1000, P2, 0, DATA_RW);
    assert_fault(vm.access(VA + 0xffc), Exception::LoadPageFault, VA + 0xffc, "ld, first page unmapped");
}

#[test]
fn device_registers_trap_as_misaligned_and_nothing_is_stored() {
    let (mut hart, mut mem) = hart_with(&[lw(10, 11, 0x102)]);
    mem.device = Some(DATA + 0x100..DATA + 0x108);
    assert_eq!(trap_of(hart.step(&mut mem)), (Exception::LoadAddressMisaligned, DATA + 0x102));

    // Straddling RAM and the device: misaligned too, and RAM unchanged.
    let (mut hart, mut mem) = hart_with(&[sw(12, 11, 0xfe)]);
    mem.device = Some(DATA + 0x100..DATA + 0x108);
    hart.x[12] = u64::MAX;
    assert_eq!(trap_of(hart.step(&mut mem)), (Exception::StoreAddressMisaligned, DATA + 0xfe));
    assert_eq!(mem.get(DATA + 0xfc, 4), 0);
    // Aligned accesses there are plain device accesses.
    let (mut hart, mut mem) = hart_with(&[lw(10, 11, 0x104)]);
    mem.device = Some(DATA + 0x100..DATA + 0x108);
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
}

#[test]
fn past_the_end_of_ram_is_an_access_fault_at_the_first_missing_byte() {
    let end = RAM_BASE + RAM_SIZE as u64;
    let (mut hart, mut mem) = hart_with(&[lw(10, 11, 0)]);
    hart.x[11] = end - 2;
    assert_eq!(trap_of(hart.step(&mut mem)), (Exception::LoadAccessFault, end));

    let (mut hart, mut mem) = hart_with(&[sd(12, 11, 0)]);
    hart.x[11] = end - 4;
    hart.x[12] = u64::MAX;
    assert_eq!(trap_of(hart.step(&mut mem)), (Exception::StoreAccessFault, end));
    assert_eq!(mem.get(end - 4, 4), 0, "nothing stored");
}

#[test]
fn rom_is_read_but_not_written() {
    let (mut hart, mut mem) = hart_with(&[lw(10, 11, 3), sw(12, 11, 5)]);
    mem.rom = Some(DATA..DATA + 8);
    hart.x[12] = u64::MAX;
    assert_eq!(hart.step(&mut mem), Ok(StepEvent::Retired));
    assert_eq!(hart.x[10], pattern(3, 4, true));
    assert_eq!(trap_of(hart.step(&mut mem)), (Exception::StoreAccessFault, DATA + 5));
    assert_eq!(mem.get(DATA + 8, 2), pattern(8, 2, false), "nothing stored past the ROM either");
}
