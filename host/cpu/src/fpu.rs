//! IEEE 754 arithmetic as RISC-V's F and D extensions define it, on raw
//! register bits.
//!
//! Rounding and exception flags come from Berkeley SoftFloat built with its
//! RISC-V specialization (`softfloat-wrapper`'s `riscv` feature): every NaN
//! result is the canonical NaN (0x7fc00000 / 0x7ff8000000000000, Vol I
//! §"NaN Generation and Propagation": no payload propagation), and
//! out-of-range conversions saturate as the spec's FCVT table says.
//! SoftFloat keeps its rounding mode and flags in thread-local C globals,
//! so each operation here clears the flags, runs, and reads them back:
//! harts on different threads do not interfere.
//!
//! Everything the spec defines bit-by-bit rather than by IEEE arithmetic
//! (NaN-boxing, FMIN/FMAX, FCLASS, sign injection) is done here directly.

use softfloat_wrapper::{ExceptionFlags, F32, F64, Float, RoundingMode};

use crate::insn::{FCmpOp, FmaOp, FpFmt, FpOp, IntFmt, SgnjOp};

/// fflags bits (Vol I §"Floating-Point Control and Status Register"). They
/// coincide with SoftFloat's `softfloat_flag_*` values.
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

    fn sf(self) -> RoundingMode {
        match self {
            Round::Rne => RoundingMode::TiesToEven,
            Round::Rtz => RoundingMode::TowardZero,
            Round::Rdn => RoundingMode::TowardNegative,
            Round::Rup => RoundingMode::TowardPositive,
            Round::Rmm => RoundingMode::TiesToAway,
        }
    }
}

/// A result and the fflags it raised.
pub type WithFlags<T> = (T, u8);

/// Run `f` with SoftFloat's (thread-local) flags cleared; return its
/// result and the flags it raised.
fn flagged<T>(f: impl FnOnce() -> T) -> WithFlags<T> {
    ExceptionFlags::default().set();
    let r = f();
    let mut fl = ExceptionFlags::default();
    fl.get();
    (r, fl.to_bits())
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
trait Fp: Float + Copy {
    fn get(reg: u64) -> Self;
    fn put(self) -> u64;
    fn canonical_nan() -> u64;
}

impl Fp for F32 {
    fn get(reg: u64) -> Self {
        F32::from_bits(unbox_s(reg))
    }
    fn put(self) -> u64 {
        box_s(self.to_bits())
    }
    fn canonical_nan() -> u64 {
        box_s(CANONICAL_NAN_S)
    }
}

impl Fp for F64 {
    fn get(reg: u64) -> Self {
        F64::from_bits(reg)
    }
    fn put(self) -> u64 {
        self.to_bits()
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
                type $t = F32;
                $body
            }
            FpFmt::D => {
                type $t = F64;
                $body
            }
        }
    };
}

/// FADD/FSUB/FMUL/FDIV.
pub fn arith(op: FpOp, fmt: FpFmt, a: u64, b: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b, r) = (T::get(a), T::get(b), rm.sf());
        flagged(|| match op {
            FpOp::Add => a.add(b, r),
            FpOp::Sub => a.sub(b, r),
            FpOp::Mul => a.mul(b, r),
            FpOp::Div => a.div(b, r),
        }
        .put())
    })
}

pub fn sqrt(fmt: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let a = T::get(a);
        flagged(|| a.sqrt(rm.sf()).put())
    })
}

/// The FMA family, with a single rounding. The negations are sign flips of
/// the operands before the fused operation (so a NaN operand still yields
/// the canonical NaN, and -(a*b) keeps the exact product's sign rules).
pub fn fma(op: FmaOp, fmt: FpFmt, a: u64, b: u64, c: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b, c) = (T::get(a), T::get(b), T::get(c));
        let (a, c) = match op {
            FmaOp::Madd => (a, c),
            FmaOp::Msub => (a, c.neg()),
            FmaOp::Nmsub => (a.neg(), c),
            FmaOp::Nmadd => (a.neg(), c.neg()),
        };
        flagged(|| a.fused_mul_add(b, c, rm.sf()).put())
    })
}

/// FSGNJ/FSGNJN/FSGNJX: magnitude of rs1, sign from rs2 (after unboxing:
/// a non-boxed single operand is the canonical NaN here too).
pub fn sgnj(op: SgnjOp, fmt: FpFmt, a: u64, b: u64) -> u64 {
    on_fmt!(fmt, T => {
        let (a, b) = (T::get(a), T::get(b));
        let sign = match op {
            SgnjOp::J => b.sign(),
            SgnjOp::Jn => b.sign() ^ 1,
            SgnjOp::Jx => a.sign() ^ b.sign(),
        };
        let mut r = a;
        r.set_sign(sign);
        r.put()
    })
}

/// FMIN/FMAX as in version 2.2 of the F extension (IEEE 754-2019
/// minimumNumber/maximumNumber): -0 < +0; if one operand is a NaN the
/// result is the other; if both are, the canonical NaN; a signaling NaN
/// input raises NV.
pub fn min_max(max: bool, fmt: FpFmt, a: u64, b: u64) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (x, y) = (T::get(a), T::get(b));
        let nv = if x.is_signaling_nan() || y.is_signaling_nan() { flags::NV } else { 0 };
        let r = match (x.is_nan(), y.is_nan()) {
            (true, true) => return (T::canonical_nan(), nv),
            (true, false) => y,
            (false, true) => x,
            (false, false) => {
                // Quiet compare: no NaNs here, so no flags either way.
                let x_less = x.lt_quiet(y) || (x.is_zero() && y.is_zero() && x.is_negative());
                if x_less != max { x } else { y }
            }
        };
        (r.put(), nv)
    })
}

/// FEQ (quiet) / FLT / FLE (signaling): 1 or 0. SoftFloat's `eq` is the
/// quiet predicate, `lt`/`le` the signaling ones, as RISC-V requires.
pub fn compare(op: FCmpOp, fmt: FpFmt, a: u64, b: u64) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, b) = (T::get(a), T::get(b));
        flagged(|| {
            u64::from(match op {
                FCmpOp::Eq => a.eq(b),
                FCmpOp::Lt => a.lt(b),
                FCmpOp::Le => a.le(b),
            })
        })
    })
}

/// FCLASS: exactly one of bits 0..9 set (Vol I table "Format of result of
/// FCLASS instruction").
pub fn classify(fmt: FpFmt, a: u64) -> u64 {
    on_fmt!(fmt, T => {
        let a = T::get(a);
        let bit = if a.is_nan() {
            if a.is_signaling_nan() { 8 } else { 9 }
        } else {
            let neg = a.is_negative();
            let mag = if a.is_negative_infinity() || a.is_positive_infinity() {
                3
            } else if a.is_zero() {
                0
            } else if a.is_subnormal() {
                1
            } else {
                2
            };
            // Negative classes count down from 3 (-inf = 0), positive up from 4.
            if neg { 3 - mag } else { 4 + mag }
        };
        1 << bit
    })
}

/// FCVT.{W,WU,L,LU}.fmt: saturating, NV for NaN and out-of-range inputs,
/// NX for inexact ones. 32-bit results are sign-extended to 64 bits (also
/// for WU, Vol I §"Single-Precision Floating-Point Conversion").
pub fn to_int(int: IntFmt, fmt: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let (a, r) = (T::get(a), rm.sf());
        flagged(|| match int {
            IntFmt::W => i64::from(a.to_i32(r, true)) as u64,
            IntFmt::Wu => i64::from(a.to_u32(r, true) as i32) as u64,
            IntFmt::L => a.to_i64(r, true) as u64,
            IntFmt::Lu => a.to_u64(r, true),
        })
    })
}

/// FCVT.fmt.{W,WU,L,LU}: from the low 32 bits (W/WU) or all 64 bits of `x`.
pub fn from_int(int: IntFmt, fmt: FpFmt, x: u64, rm: Round) -> WithFlags<u64> {
    on_fmt!(fmt, T => {
        let r = rm.sf();
        flagged(|| {
            match int {
                IntFmt::W => T::from_i32(x as i32, r),
                IntFmt::Wu => T::from_u32(x as u32, r),
                IntFmt::L => T::from_i64(x as i64, r),
                IntFmt::Lu => T::from_u64(x, r),
            }
            .put()
        })
    })
}

/// FCVT.S.D (`to` = S, rounds) and FCVT.D.S (`to` = D, exact).
pub fn convert(to: FpFmt, a: u64, rm: Round) -> WithFlags<u64> {
    match to {
        FpFmt::S => {
            let a = F64::get(a);
            flagged(|| a.to_f32(rm.sf()).put())
        }
        FpFmt::D => {
            let a = F32::get(a);
            flagged(|| a.to_f64(rm.sf()).put())
        }
    }
}

#[cfg(test)]
mod tests;
