//! IEEE corner cases as RISC-V defines them. Expected values follow the
//! spec's rules (and agree with Spike/QEMU, which use Berkeley SoftFloat).

use super::flags::{DZ, NV, NX, OF, UF};
use super::*;
use crate::insn::{FCmpOp, FmaOp, FpFmt, FpOp, IntFmt, SgnjOp};

const S: FpFmt = FpFmt::S;
const D: FpFmt = FpFmt::D;
const ALL: [Round; 5] = [Round::Rne, Round::Rtz, Round::Rdn, Round::Rup, Round::Rmm];

fn d(v: f64) -> u64 {
    v.to_bits()
}
fn s(v: f32) -> u64 {
    box_s(v.to_bits())
}
const QNAN_D_PAYLOAD: u64 = 0x7ff8_0000_0000_1234;
const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
const SNAN_S: u64 = 0xffff_ffff_7f80_0001;
const CNAN_S: u64 = 0xffff_ffff_7fc0_0000;

#[test]
fn nan_boxing_reads_unboxed_singles_as_the_canonical_nan() {
    assert_eq!(unbox_s(s(1.5)), 1.5f32.to_bits());
    for bad in [0x0000_0000_3fc0_0000, 0xffff_fffe_3fc0_0000, 0x7fff_ffff_3f80_0000, 1.0f64.to_bits()] {
        assert_eq!(unbox_s(bad), CANONICAL_NAN_S, "{bad:#x}");
        // An operation sees a quiet NaN: canonical result, no NV.
        assert_eq!(arith(FpOp::Add, S, bad, s(1.0), Round::Rne), (CNAN_S, 0));
    }
    // Single results are always boxed, and a D op reads all 64 bits.
    assert_eq!(arith(FpOp::Mul, S, s(2.0), s(3.0), Round::Rne), (s(6.0), 0));
    assert_eq!(
        arith(FpOp::Add, D, CNAN_S, d(1.0), Round::Rne),
        (CANONICAL_NAN_D, 0),
        "a boxed single is a D NaN"
    );
}

#[test]
fn nan_results_are_canonical_and_payloads_do_not_propagate() {
    assert_eq!(arith(FpOp::Div, S, s(0.0), s(0.0), Round::Rne), (CNAN_S, NV));
    assert_eq!(arith(FpOp::Sub, D, d(f64::INFINITY), d(f64::INFINITY), Round::Rne), (CANONICAL_NAN_D, NV));
    assert_eq!(arith(FpOp::Add, D, QNAN_D_PAYLOAD, d(1.0), Round::Rne), (CANONICAL_NAN_D, 0));
    assert_eq!(arith(FpOp::Mul, D, SNAN_D, d(1.0), Round::Rne), (CANONICAL_NAN_D, NV));
    assert_eq!(arith(FpOp::Add, S, SNAN_S, s(1.0), Round::Rne), (CNAN_S, NV));
    assert_eq!(sqrt(D, d(-1.0), Round::Rne), (CANONICAL_NAN_D, NV));
    assert_eq!(convert(S, QNAN_D_PAYLOAD, Round::Rne), (CNAN_S, 0), "fcvt.s.d drops the payload");
    assert_eq!(convert(D, SNAN_S, Round::Rne), (CANONICAL_NAN_D, NV), "fcvt.d.s of a signaling NaN");
    // inf * 0 + qNaN is invalid in RISC-V (Vol I: FMA "invalid ... even if the addend is a quiet NaN").
    assert_eq!(
        fma(FmaOp::Madd, D, d(f64::INFINITY), d(0.0), QNAN_D_PAYLOAD, Round::Rne),
        (CANONICAL_NAN_D, NV)
    );
}

#[test]
fn every_rounding_mode_where_it_matters() {
    // fcvt.w.d of ±2.5: RNE 2/-2, RTZ 2/-2, RDN 2/-3, RUP 3/-2, RMM 3/-3.
    let pos = [2, 2, 2, 3, 3];
    let neg = [-2, -2, -3, -2, -3];
    for ((rm, p), n) in ALL.into_iter().zip(pos).zip(neg) {
        assert_eq!(to_int(IntFmt::W, D, d(2.5), rm), (p as u64, NX), "{rm:?}");
        assert_eq!(to_int(IntFmt::L, D, d(-2.5), rm), (n as u64, NX), "{rm:?}");
    }
    // 1/3 in single: RTZ/RDN truncate, RNE/RUP/RMM round up.
    let third = [0x3eaa_aaab, 0x3eaa_aaaa, 0x3eaa_aaaa, 0x3eaa_aaab, 0x3eaa_aaab];
    for (rm, want) in ALL.into_iter().zip(third) {
        assert_eq!(arith(FpOp::Div, S, s(1.0), s(3.0), rm), (box_s(want), NX), "{rm:?}");
    }
    // -1/3: RDN moves away from zero, RUP towards it.
    let m_third = [0xbeaa_aaab, 0xbeaa_aaaa, 0xbeaa_aaab, 0xbeaa_aaaa, 0xbeaa_aaab];
    for (rm, want) in ALL.into_iter().zip(m_third) {
        assert_eq!(arith(FpOp::Div, S, s(-1.0), s(3.0), rm), (box_s(want), NX), "{rm:?}");
    }
    // An exact tie, 1 + 2^-24: RNE to even (1.0), RMM away (1 + 2^-23).
    let tie = arith(FpOp::Add, S, s(1.0), box_s(0x3380_0000), Round::Rne);
    assert_eq!(tie, (s(1.0), NX));
    assert_eq!(arith(FpOp::Add, S, s(1.0), box_s(0x3380_0000), Round::Rmm), (box_s(0x3f80_0001), NX));
}

#[test]
fn exception_flags() {
    assert_eq!(arith(FpOp::Div, D, d(1.0), d(3.0), Round::Rne).1, NX);
    assert_eq!(arith(FpOp::Div, D, d(1.0), d(0.0), Round::Rne), (d(f64::INFINITY), DZ));
    assert_eq!(arith(FpOp::Div, S, s(-1.0), s(0.0), Round::Rne), (s(f32::NEG_INFINITY), DZ));
    assert_eq!(arith(FpOp::Mul, D, d(f64::MAX), d(2.0), Round::Rne), (d(f64::INFINITY), OF | NX));
    // Overflow rounding towards zero gives the largest finite value.
    assert_eq!(arith(FpOp::Mul, D, d(f64::MAX), d(2.0), Round::Rtz), (d(f64::MAX), OF | NX));
    // Tiny and inexact: underflow. Tiny but exact: no flags (tininess
    // after rounding, and UF needs inexactness).
    assert_eq!(arith(FpOp::Mul, D, 1, d(0.5), Round::Rne), (0, UF | NX));
    assert_eq!(arith(FpOp::Mul, D, 2, d(0.5), Round::Rne), (1, 0));
    assert_eq!(sqrt(S, s(-4.0), Round::Rne), (CNAN_S, NV));
    assert_eq!(sqrt(S, s(4.0), Round::Rne), (s(2.0), 0));
    assert_eq!(convert(S, d(1e300), Round::Rne), (s(f32::INFINITY), OF | NX));
    assert_eq!(convert(S, d(0.1), Round::Rne), (s(0.1), NX));
}

#[test]
fn signed_zeros() {
    let (p, n) = (d(0.0), d(-0.0));
    assert_eq!(arith(FpOp::Add, D, n, p, Round::Rne).0, p);
    assert_eq!(arith(FpOp::Add, D, n, p, Round::Rdn).0, n, "x + -x is -0 only when rounding down");
    assert_eq!(arith(FpOp::Sub, D, d(1.0), d(1.0), Round::Rdn).0, n);
    assert_eq!(arith(FpOp::Sub, D, d(1.0), d(1.0), Round::Rup).0, p);
    assert_eq!(arith(FpOp::Add, D, n, n, Round::Rne).0, n);
    assert_eq!(arith(FpOp::Mul, S, s(-0.0), s(5.0), Round::Rne).0, s(-0.0));
    assert_eq!(sqrt(D, n, Round::Rne), (n, 0), "sqrt(-0) = -0");
    assert_eq!(fma(FmaOp::Nmadd, D, p, d(1.0), p, Round::Rne).0, n, "-(0*1) - 0");
    assert_eq!(fma(FmaOp::Nmsub, D, d(1.0), d(1.0), d(1.0), Round::Rne).0, p, "-(1*1) + 1");
    assert_eq!(from_int(IntFmt::W, D, 0, Round::Rdn).0, p, "integer zero converts to +0");
    assert_eq!(to_int(IntFmt::W, D, n, Round::Rne), (0, 0));
}

#[test]
fn subnormals_are_supported_not_flushed() {
    let min_s = box_s(1);
    assert_eq!(arith(FpOp::Add, S, min_s, min_s, Round::Rne), (box_s(2), 0));
    assert_eq!(arith(FpOp::Sub, D, 3, 1, Round::Rne), (2, 0));
    assert_eq!(classify(S, min_s), 1 << 5);
    // Every single subnormal is a normal double, exactly.
    assert_eq!(convert(D, min_s, Round::Rne), (d(f64::from(f32::from_bits(1))), 0));
    assert_eq!(convert(S, d(f64::from(f32::from_bits(1))), Round::Rne), (min_s, 0));
    // Half the smallest subnormal: ties to even (0) with UF|NX, or up to it.
    assert_eq!(arith(FpOp::Mul, S, min_s, s(0.5), Round::Rne), (s(0.0), UF | NX));
    assert_eq!(arith(FpOp::Mul, S, min_s, s(0.5), Round::Rup), (min_s, UF | NX));
}

#[test]
fn fma_rounds_once() {
    // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; an unfused multiply
    // then subtract would give 0.
    let a = d(1.0 + f64::EPSILON);
    let b = d(1.0 - f64::EPSILON);
    assert_eq!(fma(FmaOp::Msub, D, a, b, d(1.0), Round::Rne), (d(-(2f64.powi(-104))), 0));
    assert_eq!(fma(FmaOp::Madd, S, s(2.0), s(3.0), s(1.0), Round::Rne), (s(7.0), 0));
    assert_eq!(fma(FmaOp::Msub, S, s(2.0), s(3.0), s(1.0), Round::Rne), (s(5.0), 0));
    assert_eq!(fma(FmaOp::Nmsub, S, s(2.0), s(3.0), s(1.0), Round::Rne), (s(-5.0), 0));
    assert_eq!(fma(FmaOp::Nmadd, S, s(2.0), s(3.0), s(1.0), Round::Rne), (s(-7.0), 0));
}

#[test]
fn min_max_follow_the_2_2_spec() {
    let (p, n) = (d(0.0), d(-0.0));
    for (a, b) in [(p, n), (n, p)] {
        assert_eq!(min_max(false, D, a, b), (n, 0), "min(±0) = -0");
        assert_eq!(min_max(true, D, a, b), (p, 0), "max(±0) = +0");
    }
    assert_eq!(min_max(false, D, d(1.0), d(-2.0)), (d(-2.0), 0));
    assert_eq!(min_max(true, D, d(1.0), d(-2.0)), (d(1.0), 0));
    assert_eq!(min_max(false, D, QNAN_D_PAYLOAD, d(3.0)), (d(3.0), 0), "one quiet NaN: the other");
    assert_eq!(min_max(true, D, d(3.0), QNAN_D_PAYLOAD), (d(3.0), 0));
    assert_eq!(min_max(false, D, SNAN_D, d(3.0)), (d(3.0), NV), "a signaling NaN raises NV");
    assert_eq!(min_max(true, D, QNAN_D_PAYLOAD, QNAN_D_PAYLOAD), (CANONICAL_NAN_D, 0));
    assert_eq!(min_max(true, D, SNAN_D, QNAN_D_PAYLOAD), (CANONICAL_NAN_D, NV));
    assert_eq!(min_max(false, S, SNAN_S, s(-1.0)), (s(-1.0), NV));
    assert_eq!(min_max(true, S, 0x3f80_0000, s(-1.0)), (s(-1.0), 0), "unboxed input is a quiet NaN");
    assert_eq!(min_max(true, D, d(f64::NEG_INFINITY), d(f64::INFINITY)), (d(f64::INFINITY), 0));
}

#[test]
fn comparisons_quiet_and_signaling() {
    assert_eq!(compare(FCmpOp::Eq, D, d(1.0), d(1.0)), (1, 0));
    assert_eq!(compare(FCmpOp::Eq, D, d(0.0), d(-0.0)), (1, 0));
    assert_eq!(compare(FCmpOp::Lt, D, d(-0.0), d(0.0)), (0, 0));
    assert_eq!(compare(FCmpOp::Le, D, d(-0.0), d(0.0)), (1, 0));
    assert_eq!(compare(FCmpOp::Lt, S, s(1.0), s(2.0)), (1, 0));
    assert_eq!(compare(FCmpOp::Le, S, s(3.0), s(2.0)), (0, 0));
    // FEQ is quiet: NV only for signaling NaNs. FLT/FLE signal on any NaN.
    assert_eq!(compare(FCmpOp::Eq, D, QNAN_D_PAYLOAD, QNAN_D_PAYLOAD), (0, 0));
    assert_eq!(compare(FCmpOp::Eq, D, SNAN_D, d(1.0)), (0, NV));
    assert_eq!(compare(FCmpOp::Lt, D, QNAN_D_PAYLOAD, d(1.0)), (0, NV));
    assert_eq!(compare(FCmpOp::Le, S, s(1.0), CNAN_S), (0, NV));
}

#[test]
fn fclass_all_ten_classes() {
    let d_cases = [
        (d(f64::NEG_INFINITY), 0),
        (d(-1.0), 1),
        (0x8000_0000_0000_0001, 2),
        (d(-0.0), 3),
        (d(0.0), 4),
        (1, 5),
        (d(1.0), 6),
        (d(f64::INFINITY), 7),
        (SNAN_D, 8),
        (CANONICAL_NAN_D, 9),
    ];
    for (v, bit) in d_cases {
        assert_eq!(classify(D, v), 1 << bit, "{v:#x}");
    }
    let s_cases = [
        (s(f32::NEG_INFINITY), 0),
        (s(-1.0), 1),
        (box_s(0x8000_0001), 2),
        (s(-0.0), 3),
        (s(0.0), 4),
        (box_s(1), 5),
        (s(1.0), 6),
        (s(f32::INFINITY), 7),
        (SNAN_S, 8),
        (CNAN_S, 9),
        (0x3f80_0000, 9), // not NaN-boxed: the canonical (quiet) NaN
    ];
    for (v, bit) in s_cases {
        assert_eq!(classify(S, v), 1 << bit, "{v:#x}");
    }
}

#[test]
fn float_to_int_saturates_per_the_spec_table() {
    let rne = Round::Rne;
    let (nan, inf, ninf) = (CANONICAL_NAN_D, d(f64::INFINITY), d(f64::NEG_INFINITY));
    let i32_max = 0x7fff_ffff;
    let i32_min = i32::MIN as i64 as u64;
    assert_eq!(to_int(IntFmt::W, D, nan, rne), (i32_max, NV), "NaN -> 2^31-1");
    assert_eq!(to_int(IntFmt::W, D, ninf, rne), (i32_min, NV), "-inf -> -2^31");
    assert_eq!(to_int(IntFmt::W, D, inf, rne), (i32_max, NV));
    assert_eq!(to_int(IntFmt::W, D, d(3e9), rne), (i32_max, NV));
    assert_eq!(to_int(IntFmt::W, D, d(-2147483648.0), rne), (i32_min, 0));
    assert_eq!(to_int(IntFmt::W, D, d(-2147483648.5), Round::Rtz), (i32_min, NX));
    // WU: NaN/+inf -> 2^32-1, sign-extended into the 64-bit register.
    assert_eq!(to_int(IntFmt::Wu, D, nan, rne), (u64::MAX, NV));
    assert_eq!(to_int(IntFmt::Wu, D, d(4294967295.0), rne), (u64::MAX, 0));
    assert_eq!(to_int(IntFmt::Wu, D, d(-1.0), rne), (0, NV));
    assert_eq!(to_int(IntFmt::Wu, D, d(-0.5), Round::Rtz), (0, NX), "rounds into range: only NX");
    assert_eq!(to_int(IntFmt::Wu, S, s(1.5), rne), (2, NX));
    assert_eq!(to_int(IntFmt::L, D, nan, rne), (i64::MAX as u64, NV));
    assert_eq!(to_int(IntFmt::L, S, s(f32::NEG_INFINITY), rne), (i64::MIN as u64, NV));
    assert_eq!(to_int(IntFmt::L, D, d(-1e19), rne), (i64::MIN as u64, NV));
    assert_eq!(to_int(IntFmt::Lu, D, nan, rne), (u64::MAX, NV));
    assert_eq!(to_int(IntFmt::Lu, D, d(1e20), rne), (u64::MAX, NV));
    assert_eq!(to_int(IntFmt::Lu, S, s(f32::NEG_INFINITY), rne), (0, NV));
    assert_eq!(to_int(IntFmt::W, S, s(-7.0), rne), (-7i64 as u64, 0));
}

#[test]
fn int_to_float() {
    let rne = Round::Rne;
    assert_eq!(from_int(IntFmt::W, D, 0xdead_beef_ffff_fffe, rne), (d(-2.0), 0), "W uses the low 32 bits");
    assert_eq!(from_int(IntFmt::Wu, D, 0xffff_ffff, rne), (d(4294967295.0), 0));
    assert_eq!(from_int(IntFmt::L, D, -3i64 as u64, rne), (d(-3.0), 0));
    assert_eq!(from_int(IntFmt::Lu, D, u64::MAX, rne), (d(18446744073709551616.0), NX));
    // 2^24 + 1 is not a single: rounds to even, or up with RUP.
    assert_eq!(from_int(IntFmt::W, S, (1 << 24) + 1, rne), (s(16777216.0), NX));
    assert_eq!(from_int(IntFmt::W, S, (1 << 24) + 1, Round::Rup), (s(16777218.0), NX));
    assert_eq!(from_int(IntFmt::L, S, i64::MAX as u64, Round::Rtz), (box_s(0x5eff_ffff), NX));
}

#[test]
fn sign_injection() {
    let (a, b) = (d(3.0), d(-1.0));
    assert_eq!(sgnj(SgnjOp::J, D, a, b), d(-3.0));
    assert_eq!(sgnj(SgnjOp::Jn, D, a, b), d(3.0));
    assert_eq!(sgnj(SgnjOp::Jx, D, d(-3.0), b), d(3.0));
    assert_eq!(sgnj(SgnjOp::Jn, S, s(2.0), s(2.0)), s(-2.0), "fneg.s");
    assert_eq!(sgnj(SgnjOp::Jx, S, s(-2.0), s(-2.0)), s(2.0), "fabs.s");
    // Sign injection does not canonicalize NaNs, but does unbox.
    assert_eq!(sgnj(SgnjOp::Jn, D, SNAN_D, SNAN_D), SNAN_D | 1 << 63);
    assert_eq!(sgnj(SgnjOp::J, S, 0x3f80_0000, s(-1.0)), box_s(0xffc0_0000));
}
