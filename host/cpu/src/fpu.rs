//! IEEE 754 arithmetic as RISC-V's F and D extensions define it, on raw
//! register bits.
//!
//! Rounding and exception flags come from `rustc_apfloat` (a pure-Rust port
//! of LLVM's APFloat, the soft-float rustc itself uses for const
//! evaluation); every operation is a pure function returning its result
//! and the flags it raised, so harts on different threads cannot
//! interfere. The RISC-V specifics are applied here:
//!
//! - every NaN result is the canonical NaN (0x7fc00000 /
//!   0x7ff8000000000000, Vol I §"NaN Generation and Propagation": no
//!   payload propagation);
//! - out-of-range conversions to integers saturate as the spec's FCVT table
//!   says (NaN converts to the largest integer);
//! - tininess is detected after rounding (as in Berkeley SoftFloat's RISC-V
//!   specialization, which Spike and QEMU use): APFloat only reports
//!   underflow for results that are subnormal after rounding, so a result
//!   that rounds up to the smallest normal number is re-checked by
//!   repeating the operation on operands scaled into the normal range;
//! - square root, which APFloat lacks, is an exact integer square root of
//!   the significand with a sticky bit, rounded once.
//!
//! Everything the spec defines bit-by-bit rather than by IEEE arithmetic
//! (NaN-boxing, FMIN/FMAX, FCLASS, sign injection) is done here directly.

use std::cmp::Ordering;

use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Category, ExpInt, Float, FloatConvert, Status, StatusAnd};

use crate::insn::{FCmpOp, FmaOp, FpFmt, FpOp, IntFmt, SgnjOp};

/// fflags bits (Vol I §"Floating-Point Control and Status Register").
pub mod flags {
    pub const NX: u8 = 1 << 0;
    pub const UF: u8 = 1 << 1;
    pub const OF: u8 = 1 << 2;
    pub const DZ: u8 = 1 << 3;
    pub const NV: u8 = 1 << 4;
}

/// The canonical NaNs.
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// A static rounding mode, after `rm`=DYN has been resolved through `frm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Rne,
    Rtz,
    Rdn,
    Rup,
    Rmm,
}

impl Round {
    /// From a 3-bit `rm`/`frm` value; `None` for 101, 110 and 111 (DYN in
    /// `frm` itself is invalid too).
    pub fn from_bits(v: u8) -> Option<Round> {
        Some(match v {
            0 => Round::Rne,
            1 => Round::Rtz,
            2 => Round::Rdn,
            3 => Round::Rup,
            4 => Round::Rmm,
            _ => return None,
        })
    }

    fn ap(self) -> rustc_apfloat::Round {
        use rustc_apfloat::Round as R;
        match self {
            Round::Rne => R::NearestTiesToEven,
            Round::Rtz => R::TowardZero,
            Round::Rdn => R::TowardNegative,
            Round::Rup => R::TowardPositive,
            Round::Rmm => R::NearestTiesToAway,
        }
    }
}

/// A result and the fflags it raised.
pub type WithFlags<T> = (T, u8);

/// APFloat's status as fflags.
fn fflags(s: Status) -> u8 {
    let mut f = 0;
    for (st, fl) in [
        (Status::INEXACT, flags::NX),
        (Status::UNDERFLOW, flags::UF),
        (Status::OVERFLOW, flags::OF),
        (Status::DIV_BY_ZERO, flags::DZ),
        (Status::INVALID_OP, flags::NV),
    ] {
        if s.contains(st) {
            f |= fl;
        }
    }
    f
}

/// NaN-box a single-precision value: the upper 32 bits all ones (Vol I
/// §"NaN Boxing of Narrower Values").
#[inline]
pub fn box_s(v: u32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(v)
}

/// Read a register as single precision: "if the value is not a valid
/// NaN-boxed value, the value is treated as if it were the canonical NaN".
#[inline]
pub fn unbox_s(v: u64) -> u32 {
    if v >> 32 == 0xffff_ffff { v as u32 } else { CANONICAL_NAN_S }
}

/// The two formats, so each operation is written once.
trait Fp: Float {
    fn get(reg: u64) -> Self;
    /// The register value of a result: NaNs become the canonical NaN.
    fn put(self) -> u64;
    fn canonical_nan() -> u64;
}

impl Fp for Single {
    fn get(reg: u64) -> Self {
        Single::from_bits(u128::from(unbox_s(reg)))
    }
    fn put(self) -> u64 {
        if self.is_nan() { Self::canonical_nan() } else { box_s(self.to_bits() as u32) }
    }
    fn canonical_nan() -> u64 {
        box_s(CANONICAL_NAN_S)
    }
}

impl Fp for Double {
    fn get(reg: u64) -> Self {
        Double::from_bits(u128::from(reg))
    }
    fn put(self) -> u64 {
        if self.is_nan() { Self::canonical_nan() } else { self.to_bits() as u64 }
    }
    fn canonical_nan() -> u64 {
        CANONICAL_NAN_D
    }
}

/// Dispatch a generic body on the format: `on_fmt!(fmt, T => expr)`.
macro_rules! on_fmt {
    ($fmt:expr, $t:ident => $body:expr) => {
        match $fmt {
            FpFmt::S => {
                type $t = Single;
                $body
            }
            FpFmt::D => {
                type $t = Double;
                $body
            }
        }
    };
}

/// How far (as a power of two) operands are scaled to re-check tininess
/// and overflow (see [`range_checked`]).
const SCALE: ExpInt = 64;

/// Finish an arithmetic result: canonical NaN, fflags, and underflow and
/// overflow as IEEE 754 defines them for RISC-V.
///
/// IEEE (with tininess detected after rounding, RISC-V's choice, as in
/// Berkeley SoftFloat's RISC-V specialization) decides both from the
/// result rounded to the format's precision *with an unbounded exponent
/// range*: tiny if its magnitude is below the smallest normal number,
/// overflow if above the largest finite one. APFloat instead raises UF only
/// for results that are subnormal after rounding, and raises no OF when a
/// directed rounding mode turns a huge result into the largest finite
/// number. The two views can differ only for an inexact result of ±smallest
/// normal or ±largest finite magnitude; for those, `scaled(k)` repeats the
/// operation on operands scaled by 2^k (k = +SCALE or -SCALE, exact for
/// the operands that can produce such results: see the callers), which
/// moves the rounding into the normal range, where APFloat rounds exactly
/// like the unbounded-range rounding; the scaled result then decides.
fn range_checked<T: Fp>(r: StatusAnd<T>, scaled: impl FnOnce(ExpInt) -> T) -> WithFlags<u64> {
    let mut status = r.status;
    let v = r.value.abs();
    if status.contains(Status::INEXACT) && !status.intersects(Status::UNDERFLOW | Status::OVERFLOW) {
        if v.bitwise_eq(T::smallest_normalized()) {
            let limit = T::smallest_normalized().scalbn(SCALE);
            if scaled(SCALE).abs().partial_cmp(&limit) == Some(Ordering::Less) {
                status |= Status::UNDERFLOW;
            }
        } else if v.bitwise_eq(T::largest()) {
            let limit = T::largest().scalbn(-SCALE);
            if scaled(-SCALE).abs().partial_cmp(&limit) == Some(Ordering::Greater) {
                status |= Status::OVERFLOW;
            }
        }
    }
    (r.value.put(), fflags(status))
}

/// `x * 2^k`. Scaling up is exact here; scaling down is exact for the
/// large operands that matter, and otherwise rounds away from zero, which
/// keeps a small operand's sign and nonzero-ness (enough for the
/// comparison in [`range_checked`]: such an operand is far below the
/// result's granularity).
fn scale<T: Fp>(x: T, k: ExpInt) -> T {
    use rustc_apfloat::Round as R;
    x.scalbn_r(k, if x.is_negative() { R::TowardNegative } else { R::TowardPositive })
}

/// Of two factors, scale up the one of smaller magnitude, or down the one
/// of larger magnitude (the other one might not scale exactly).
fn scale_factor<T: Fp>(a: T, b: T, k: ExpInt) -> (T, T) {
    let a_smaller = a.abs().partial_cmp(&b.abs()) == Some(Ordering::Less);
    if a_smaller == (k > 0) { (scale(a, k), b) } else { (a, scale(b, k)) }
}

/// FADD/FSUB/FMUL/FDIV.
pub fn arith(op: FpOp, fmt: FpFmt, a: u64, b: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b, r) = (T::get(a), T::get(b), rm.ap());
        let run = |a: T, b: T| match op {
            FpOp::Add => a.add_r(b, r),
            FpOp::Sub => a.sub_r(b, r),
            FpOp::Mul => a.mul_r(b, r),
            FpOp::Div => a.div_r(b, r),
        };
        range_checked(run(a, b), |k| {
            let (sa, sb) = match op {
                FpOp::Add | FpOp::Sub => (scale(a, k), scale(b, k)),
                FpOp::Mul => scale_factor(a, b, k),
                FpOp::Div => (scale(a, k), b),
            };
            run(sa, sb).value
        })
    })
}

/// Correctly rounded square root of a finite, positive `a`: never tiny,
/// never overflowing, so only NX can be raised.
fn sqrt_pos<T: Fp>(a: T, r: rustc_apfloat::Round) -> StatusAnd<T> {
    let p = T::PRECISION as ExpInt;
    // a = m * 2^e with m an integer of exactly `p` bits.
    let log = a.ilogb();
    let mut e = log - (p - 1);
    let mut is_exact = true;
    let mut m = a.scalbn(-e).to_u128_r(128, rustc_apfloat::Round::TowardZero, &mut is_exact).value;
    debug_assert!(is_exact);
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // sqrt(a) = sqrt(m * 2^72) * 2^(e/2 - 36). m has at most 54 bits, so
    // the radicand fits in 127 bits and its root has at least 36 + p/2
    // bits: well more than p + 2, so appending a sticky bit below the
    // integer root rounds exactly like the infinitely precise root.
    let n = m << 72;
    let q = n.isqrt();
    let q2 = (q << 1) | u128::from(q * q != n);
    let StatusAnd { status, value } = T::from_u128_r(q2, r);
    // Scaling the rounded root by a power of two is exact: it is normal.
    status.and(value.scalbn(e / 2 - 37))
}

pub fn sqrt(fmt: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let a = T::get(a);
        let r = if a.is_nan() {
            (if a.is_signaling() { Status::INVALID_OP } else { Status::OK }).and(a)
        } else if a.is_zero() || a.is_pos_infinity() {
            Status::OK.and(a)
        } else if a.is_negative() {
            Status::INVALID_OP.and(T::NAN)
        } else {
            sqrt_pos(a, rm.ap())
        };
        (r.value.put(), fflags(r.status))
    })
}

/// The FMA family, with a single rounding. The negations are sign flips of
/// the operands before the fused operation (so a NaN operand still yields
/// the canonical NaN, and -(a*b) keeps the exact product's sign rules).
/// APFloat raises NV for inf * 0 + qNaN, as RISC-V requires.
pub fn fma(op: FmaOp, fmt: FpFmt, a: u64, b: u64, c: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b, c) = (T::get(a), T::get(b), T::get(c));
        let (a, c) = match op {
            FmaOp::Madd => (a, c),
            FmaOp::Msub => (a, -c),
            FmaOp::Nmsub => (-a, c),
            FmaOp::Nmadd => (-a, -c),
        };
        let r = rm.ap();
        range_checked(a.mul_add_r(b, c, r), |k| {
            let (sa, sb) = scale_factor(a, b, k);
            sa.mul_add_r(sb, scale(c, k), r).value
        })
    })
}

/// FSGNJ/FSGNJN/FSGNJX: magnitude of rs1, sign from rs2 (after unboxing:
/// a non-boxed single operand is the canonical NaN here too). Pure bit
/// operations: NaNs are not canonicalized.
pub fn sgnj(op: SgnjOp, fmt: FpFmt, a: u64, b: u64) -> u64 {
    let (a, b, sign) = match fmt {
        FpFmt::S => (u64::from(unbox_s(a)), u64::from(unbox_s(b)), 1u64 << 31),
        FpFmt::D => (a, b, 1u64 << 63),
    };
    let s = match op {
        SgnjOp::J => b & sign,
        SgnjOp::Jn => !b & sign,
        SgnjOp::Jx => (a ^ b) & sign,
    };
    let r = (a & !sign) | s;
    match fmt {
        FpFmt::S => box_s(r as u32),
        FpFmt::D => r,
    }
}

/// FMIN/FMAX as in version 2.2 of the F extension (IEEE 754-2019
/// minimumNumber/maximumNumber): -0 < +0; if one operand is a NaN the
/// result is the other; if both are, the canonical NaN; a signaling NaN
/// input raises NV.
pub fn min_max(max: bool, fmt: FpFmt, a: u64, b: u64) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (x, y) = (T::get(a), T::get(b));
        let nv = if x.is_signaling() || y.is_signaling() { flags::NV } else { 0 };
        let r = match (x.is_nan(), y.is_nan()) {
            (true, true) => return (T::canonical_nan(), nv),
            (true, false) => y,
            (false, true) => x,
            (false, false) => {
                // Quiet compare: no NaNs here, so no flags either way.
                let x_less = x.partial_cmp(&y) == Some(Ordering::Less)
                    || (x.is_zero() && y.is_zero() && x.is_negative());
                if x_less != max { x } else { y }
            }
        };
        (r.put(), nv)
    })
}

/// FEQ (quiet: NV only for signaling NaNs) / FLT / FLE (signaling: NV for
/// any NaN): 1 or 0.
pub fn compare(op: FCmpOp, fmt: FpFmt, a: u64, b: u64) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b) = (T::get(a), T::get(b));
        let nv = match op {
            FCmpOp::Eq => a.is_signaling() || b.is_signaling(),
            FCmpOp::Lt | FCmpOp::Le => a.is_nan() || b.is_nan(),
        };
        let ord = a.partial_cmp(&b);
        let v = match op {
            FCmpOp::Eq => ord == Some(Ordering::Equal),
            FCmpOp::Lt => ord == Some(Ordering::Less),
            FCmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        };
        (u64::from(v), if nv { flags::NV } else { 0 })
    })
}

/// FCLASS: exactly one of bits 0..9 set (Vol I table "Format of result of
/// FCLASS instruction").
pub fn classify(fmt: FpFmt, a: u64) -> u64 {
    on_fmt!(fmt, T => {
        let a = T::get(a);
        let bit = if a.is_nan() {
            if a.is_signaling() { 8 } else { 9 }
        } else {
            let mag = match a.category() {
                Category::Infinity => 3,
                Category::Zero => 0,
                _ if a.is_denormal() => 1,
                _ => 2,
            };
            // Negative classes count down from 3 (-inf = 0), positive up from 4.
            if a.is_negative() { 3 - mag } else { 4 + mag }
        };
        1 << bit
    })
}

/// FCVT.{W,WU,L,LU}.fmt: saturating, NV for NaN and out-of-range inputs,
/// NX for inexact ones. 32-bit results are sign-extended to 64 bits (also
/// for WU, Vol I §"Single-Precision Floating-Point Conversion").
pub fn to_int(int: IntFmt, fmt: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, r) = (T::get(a), rm.ap());
        let (width, signed) = match int {
            IntFmt::W => (32, true),
            IntFmt::Wu => (32, false),
            IntFmt::L => (64, true),
            IntFmt::Lu => (64, false),
        };
        let mut exact = true;
        // APFloat saturates out-of-range values (with NV alone) but turns a
        // NaN into 0: RISC-V wants the largest integer.
        let v = if a.is_nan() {
            let max = if signed { (1i128 << (width - 1)) - 1 } else { (1i128 << width) - 1 };
            Status::INVALID_OP.and(max)
        } else if signed {
            a.to_i128_r(width, r, &mut exact)
        } else {
            a.to_u128_r(width, r, &mut exact).map(|v| v as i128)
        };
        let x = match width {
            32 => i64::from(v.value as u32 as i32) as u64,
            _ => v.value as u64,
        };
        (x, fflags(v.status))
    })
}

/// FCVT.fmt.{W,WU,L,LU}: from the low 32 bits (W/WU) or all 64 bits of `x`.
pub fn from_int(int: IntFmt, fmt: FpFmt, x: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let r = rm.ap();
        let v = match int {
            IntFmt::W => T::from_i128_r(i128::from(x as i32), r),
            IntFmt::Wu => T::from_u128_r(u128::from(x as u32), r),
            IntFmt::L => T::from_i128_r(i128::from(x as i64), r),
            IntFmt::Lu => T::from_u128_r(u128::from(x), r),
        };
        (v.value.put(), fflags(v.status))
    })
}

/// FCVT.S.D (`to` = S, rounds) and FCVT.D.S (`to` = D, exact).
pub fn convert(to: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    let r = rm.ap();
    match to {
        FpFmt::S => {
            let a = Double::get(a);
            let run = |a: Double| -> StatusAnd<Single> { a.convert_r(r, &mut false) };
            range_checked(run(a), |k| run(scale(a, k)).value)
        }
        FpFmt::D => {
            let a = Single::get(a);
            let v: StatusAnd<Double> = a.convert_r(r, &mut false);
            (v.value.put(), fflags(v.status))
        }
    }
}

#[cfg(test)]
mod tests;
