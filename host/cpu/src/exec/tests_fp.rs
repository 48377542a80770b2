//! F/D through `Hart::step`: mstatus.FS gating and Dirty tracking, rm
//! resolution through frm, fflags accrual, loads/stores and NaN-boxing.
//! The arithmetic corner cases are tested on `fpu` directly.

use crate::csr::{addr, mstatus};
use crate::fpu::{CANONICAL_NAN_S, box_s, flags};
use crate::insn::CsrOp;
use crate::testutil::asm::*;
use crate::testutil::{RAM_BASE, TestMem, setup};
use crate::{Exception, Hart, Misaligned, StepEvent, TrapCause};

const DATA: u64 = RAM_BASE + 0x1000;
const FS_INITIAL: u64 = 1 << mstatus::FS_SHIFT;

fn fs(hart: &Hart) -> u64 {
    hart.csrs().mstatus() & mstatus::FS
}

fn csr_write(hart: &mut Hart, csr: u16, v: u64) {
    let ctx = hart.csr_ctx();
    hart.csrs.rmw(csr, CsrOp::Rw, v, true, true, &ctx).expect("csr write");
}

/// A hart with the FPU on (FS = Initial) and `words` at RAM_BASE.
fn fp_setup(words: &[u32]) -> (Hart, TestMem) {
    let (mut hart, mem) = setup(words);
    hart.csrs.set_mstatus(hart.csrs.mstatus() | FS_INITIAL);
    (hart, mem)
}

fn step_ok(hart: &mut Hart, mem: &mut TestMem) {
    assert_eq!(hart.step(mem), Ok(StepEvent::Retired), "pc {:#x}", hart.pc);
}

fn expect_illegal(hart: &mut Hart, mem: &mut TestMem, raw: u32) {
    match hart.step(mem) {
        Ok(StepEvent::Trap(rec)) => {
            assert_eq!(rec.cause, TrapCause::Exception(Exception::IllegalInstruction));
            assert_eq!(rec.tval, u64::from(raw), "mtval holds the instruction bits");
        }
        other => panic!("expected an illegal-instruction trap, got {other:?}"),
    }
}

#[test]
fn with_fs_off_every_fp_instruction_and_fcsr_access_is_illegal() {
    let words = [
        opfp(0, 1, 2, 1, 7, 3),        // fadd.d ft3,ft1,ft2
        fload(3, 1, 10, 0),            // fld ft1,0(a0)
        opfp(0b11100, 0, 0, 1, 0, 10), // fmv.x.w a0,ft1 (reads f state)
        csrrs(10, addr::FCSR, 0),      // frcsr a0
    ];
    for w in words {
        let (mut hart, mut mem) = setup(&[w]);
        hart.x[10] = DATA;
        assert_eq!(fs(&hart), 0, "FS resets to Off");
        expect_illegal(&mut hart, &mut mem, w);
        assert_eq!(fs(&hart), 0);
    }
    // Compressed too: c.fldsp ft0,0(sp); mtval is the 16-bit parcel.
    let (mut hart, mut mem) = setup(&[]);
    mem.put16(RAM_BASE, 0x2002);
    expect_illegal(&mut hart, &mut mem, 0x2002);
}

#[test]
fn writing_f_registers_or_fflags_makes_fs_dirty() {
    let (mut hart, mut mem) = fp_setup(&[
        opfp(0b10100, 1, 2, 1, 2, 10), // feq.d a0,ft1,ft2: no flags, no f write
        opfp(0b11100, 1, 0, 1, 1, 11), // fclass.d a1,ft1
        fstore(3, 1, 12, 0),           // fsd ft1,0(a2)
        opfp(0, 1, 2, 1, 7, 3),        // fadd.d ft3,ft1,ft2
    ]);
    hart.x[12] = DATA;
    for _ in 0..3 {
        step_ok(&mut hart, &mut mem);
        assert_eq!(fs(&hart), FS_INITIAL, "no f register or fflags written yet");
    }
    assert_eq!(hart.csrs().mstatus() & mstatus::SD, 0);
    step_ok(&mut hart, &mut mem);
    assert_eq!(fs(&hart), mstatus::FS_DIRTY);
    assert_ne!(hart.csrs().mstatus() & mstatus::SD, 0, "SD summarises a Dirty FS");

    // A compare that only raises a flag also dirties the state.
    let (mut hart, mut mem) = fp_setup(&[opfp(0b10100, 1, 2, 1, 1, 10)]); // flt.d a0,ft1,ft2
    hart.f[1] = f64::NAN.to_bits();
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.csrs().fflags(), flags::NV);
    assert_eq!(fs(&hart), mstatus::FS_DIRTY);
}

#[test]
fn loads_nan_box_singles_and_stores_write_raw_bits() {
    let (mut hart, mut mem) = fp_setup(&[
        fload(2, 1, 10, 0),   // flw ft1,0(a0)
        fload(3, 2, 10, 8),   // fld ft2,8(a0)
        fstore(2, 3, 10, 16), // fsw ft3,16(a0): low 32 bits, boxed or not
        fstore(3, 2, 10, 24), // fsd ft2,24(a0)
        fload(3, 4, 10, 4),   // fld ft4,4(a0): misaligned (trapped below)
    ]);
    hart.set_misaligned(Misaligned::Trap);
    hart.x[10] = DATA;
    mem.put32(DATA, 0x4049_0fdb);
    mem.put64(DATA + 8, 0x4009_21fb_5444_2d18);
    hart.f[3] = 0x1234_5678_3f80_0000; // not NaN-boxed
    for _ in 0..4 {
        step_ok(&mut hart, &mut mem);
    }
    assert_eq!(hart.f[1], 0xffff_ffff_4049_0fdb);
    assert_eq!(hart.f[2], 0x4009_21fb_5444_2d18);
    assert_eq!(mem.get(DATA + 16, 4), 0x3f80_0000);
    assert_eq!(mem.get(DATA + 24, 8), 0x4009_21fb_5444_2d18);
    match hart.step(&mut mem) {
        Ok(StepEvent::Trap(rec)) => {
            assert_eq!(rec.cause, TrapCause::Exception(Exception::LoadAddressMisaligned));
            assert_eq!(rec.tval, DATA + 4);
        }
        other => panic!("expected a misaligned-load trap, got {other:?}"),
    }
}

#[test]
fn compressed_double_load_and_store() {
    let (mut hart, mut mem) = fp_setup(&[]);
    mem.put16(RAM_BASE, 0x3d28); // c.fld fa0,120(a0)
    mem.put16(RAM_BASE + 2, 0xa02a); // c.fsdsp fa0,0(sp)
    hart.x[10] = DATA;
    hart.x[2] = DATA + 0x100;
    mem.put64(DATA + 120, 2.5f64.to_bits());
    step_ok(&mut hart, &mut mem);
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.f[10], 2.5f64.to_bits());
    assert_eq!(mem.get(DATA + 0x100, 8), 2.5f64.to_bits());
    assert_eq!(hart.pc, RAM_BASE + 4);
}

#[test]
fn dynamic_rounding_uses_frm_and_an_invalid_frm_is_illegal() {
    // fcvt.w.d a0,ft1 (dyn) twice, then fcvt.w.d a1,ft1,rup (static).
    let dyn_cvt = opfp(0b11000, 1, 0, 1, 7, 10);
    let (mut hart, mut mem) = fp_setup(&[dyn_cvt, dyn_cvt, opfp(0b11000, 1, 0, 1, 3, 11)]);
    hart.f[1] = (-2.5f64).to_bits();
    csr_write(&mut hart, addr::FRM, 2); // rdn
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], -3i64 as u64);
    // frm = 5 is storable but reserved: DYN then traps; static rm still works.
    csr_write(&mut hart, addr::FRM, 5);
    expect_illegal(&mut hart, &mut mem, dyn_cvt);
    hart.pc = RAM_BASE + 8; // skip the handler: mtvec is 0 here
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[11], -2i64 as u64);
}

#[test]
fn fflags_accrue_until_cleared() {
    let (mut hart, mut mem) = fp_setup(&[
        opfp(3, 1, 2, 1, 7, 3),       // fdiv.d ft3,ft1,ft2: 1/0 -> DZ
        opfp(3, 1, 4, 1, 7, 5),       // fdiv.d ft5,ft1,ft4: 1/3 -> NX
        opfp(0b11000, 1, 0, 6, 1, 0), // fcvt.w.d zero,ft6,rtz: NaN -> NV, rd=x0
        csrrw(10, addr::FFLAGS, 0),   // fsflags a0,zero: read and clear
    ]);
    hart.f[1] = 1f64.to_bits();
    hart.f[2] = 0f64.to_bits();
    hart.f[4] = 3f64.to_bits();
    hart.f[6] = f64::NAN.to_bits();
    for _ in 0..3 {
        step_ok(&mut hart, &mut mem);
    }
    assert_eq!(hart.f[3], f64::INFINITY.to_bits());
    assert_eq!(hart.x[0], 0);
    assert_eq!(hart.csrs().fflags(), flags::DZ | flags::NX | flags::NV);
    assert_eq!(hart.peek_csr(addr::FCSR), Some(u64::from(flags::DZ | flags::NX | flags::NV)));
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.x[10], u64::from(flags::DZ | flags::NX | flags::NV));
    assert_eq!(hart.csrs().fflags(), 0);
}

#[test]
fn moves_and_conversions_between_register_files() {
    let (mut hart, mut mem) = fp_setup(&[
        opfp(0b11110, 0, 0, 10, 0, 1), // fmv.w.x ft1,a0
        opfp(0b11100, 0, 0, 1, 0, 11), // fmv.x.w a1,ft1: sign-extends
        opfp(0b11100, 0, 0, 2, 0, 12), // fmv.x.w a2,ft2: unboxed, raw low bits
        opfp(0b11110, 1, 0, 13, 0, 3), // fmv.d.x ft3,a3
        opfp(0b11000, 1, 0, 3, 7, 14), // fcvt.w.d a4,ft3: NaN -> 0x7fffffff
        opfp(0b11010, 0, 1, 15, 7, 4), // fcvt.s.wu ft4,a5
        opfp(0b01000, 1, 0, 4, 0, 5),  // fcvt.d.s ft5,ft4
        opfp(0b00000, 0, 2, 2, 7, 6),  // fadd.s ft6,ft2,ft2: unboxed -> canonical NaN
    ]);
    hart.x[10] = 0x1234_5678_bf80_0000; // -1.0f in the low bits
    hart.f[2] = 0x0000_0000_8000_0001;
    hart.x[13] = f64::NAN.to_bits();
    hart.x[15] = 0xffff_ffff_0000_0003; // WU uses the low 32 bits
    for _ in 0..8 {
        step_ok(&mut hart, &mut mem);
    }
    assert_eq!(hart.f[1], box_s(0xbf80_0000), "fmv.w.x NaN-boxes");
    assert_eq!(hart.x[11], 0xffff_ffff_bf80_0000);
    assert_eq!(hart.x[12], 0xffff_ffff_8000_0001);
    assert_eq!(hart.x[14], 0x7fff_ffff);
    assert_eq!(hart.f[4], box_s(3f32.to_bits()));
    assert_eq!(hart.f[5], 3f64.to_bits());
    assert_eq!(hart.f[6], box_s(CANONICAL_NAN_S));
    assert_eq!(hart.csrs().fflags(), flags::NV, "only the NaN conversion raised a flag");
}

#[test]
fn fused_multiply_add_through_the_hart() {
    // fnmsub.d ft0,ft1,ft2,ft3,rne: -(ft1*ft2) + ft3
    let (mut hart, mut mem) = fp_setup(&[r4(0b1001011, 3, 1, 2, 1, 0, 0)]);
    hart.f[1] = 2f64.to_bits();
    hart.f[2] = 3f64.to_bits();
    hart.f[3] = 10f64.to_bits();
    step_ok(&mut hart, &mut mem);
    assert_eq!(hart.f[0], 4f64.to_bits());
}
