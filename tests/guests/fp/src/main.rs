//! Floating-point corner cases, printed bit for bit with the fflags each
//! operation raised, under every rounding mode: the output is compared
//! line by line against QEMU by wemu's integration tests.
//!
//! Everything goes through inline assembly so the compiler cannot fold or
//! reorder the operations, and the dynamic rounding mode (frm) is set
//! explicitly before each one.

#![no_std]
#![no_main]

use core::arch::asm;

use rt::{finisher, println, uart};

const F64S: [u64; 16] = [
    0x0000_0000_0000_0000, // +0
    0x8000_0000_0000_0000, // -0
    0x3ff0_0000_0000_0000, // 1
    0xbff0_0000_0000_0000, // -1
    0x4008_0000_0000_0000, // 3
    0x3fb9_9999_9999_999a, // 0.1
    0x7ff0_0000_0000_0000, // +inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // qNaN
    0x7ff4_0000_0000_0001, // sNaN with payload
    0x0000_0000_0000_0001, // smallest subnormal
    0x000f_ffff_ffff_ffff, // largest subnormal
    0x0010_0000_0000_0000, // smallest normal
    0x7fef_ffff_ffff_ffff, // largest finite
    0x43e0_0000_0000_0000, // 2^63
    0xc1e0_0000_0020_0000, // just below -2^31
];

const F32S: [u32; 12] = [
    0x0000_0000,
    0x8000_0000,
    0x3f80_0000,
    0x4040_0000,
    0x3dcc_cccd,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0000,
    0x7fa0_0001,
    0x0000_0001,
    0x0080_0000,
    0x7f7f_ffff,
];

/// Run `$op` with frm = `$rm`, returning (result bits, fflags).
macro_rules! fop {
    ($op:literal, $rm:expr, $a:expr, $b:expr) => {{
        let (r, flags): (u64, u64);
        // SAFETY: FP instructions on registers only; FS was enabled in main.
        unsafe {
            asm!(
                "fsflags zero",
                "fsrm {rm}",
                "fmv.d.x ft0, {a}",
                "fmv.d.x ft1, {b}",
                $op,
                "fmv.x.d {r}, ft2",
                "frflags {f}",
                rm = in(reg) $rm,
                a = in(reg) $a,
                b = in(reg) $b,
                r = out(reg) r,
                f = out(reg) flags,
                out("ft0") _, out("ft1") _, out("ft2") _,
            )
        };
        (r, flags)
    }};
}

/// Same for operations whose result is an integer register.
macro_rules! iop {
    ($op:literal, $rm:expr, $a:expr, $b:expr) => {{
        let (r, flags): (u64, u64);
        // SAFETY: as above.
        unsafe {
            asm!(
                "fsflags zero",
                "fsrm {rm}",
                "fmv.d.x ft0, {a}",
                "fmv.d.x ft1, {b}",
                $op,
                "frflags {f}",
                rm = in(reg) $rm,
                a = in(reg) $a,
                b = in(reg) $b,
                r = out(reg) r,
                f = out(reg) flags,
                out("ft0") _, out("ft1") _,
            )
        };
        (r, flags)
    }};
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    // mstatus.FS = Initial: FP instructions trap while it is Off.
    // SAFETY: only enables the FPU.
    unsafe { asm!("li t0, 1 << 13", "csrs mstatus, t0", out("t0") _) };

    let mut lines = 0u32;
    for rm in 0..5u64 {
        for (i, &a) in F64S.iter().enumerate() {
            let u = iop!("fcvt.w.d {r}, ft0, dyn", rm, a, 0u64);
            let l = iop!("fcvt.lu.d {r}, ft0, dyn", rm, a, 0u64);
            let s = fop!("fsqrt.d ft2, ft0, dyn", rm, a, 0u64);
            let f = fop!("fcvt.s.d ft2, ft0, dyn", rm, a, 0u64);
            let c = iop!("fclass.d {r}, ft0", rm, a, 0u64);
            println!(
                "rm{rm} d{i} w={:x}/{} lu={:x}/{} sqrt={:x}/{} s={:x}/{} class={:x}",
                u.0, u.1, l.0, l.1, s.0, s.1, f.0, f.1, c.0
            );
            lines += 1;
            for (j, &b) in F64S.iter().enumerate() {
                let add = fop!("fadd.d ft2, ft0, ft1, dyn", rm, a, b);
                let mul = fop!("fmul.d ft2, ft0, ft1, dyn", rm, a, b);
                let div = fop!("fdiv.d ft2, ft0, ft1, dyn", rm, a, b);
                let fma = fop!("fmadd.d ft2, ft0, ft1, ft0, dyn", rm, a, b);
                let min = fop!("fmin.d ft2, ft0, ft1", rm, a, b);
                let max = fop!("fmax.d ft2, ft0, ft1", rm, a, b);
                let lt = iop!("flt.d {r}, ft0, ft1", rm, a, b);
                let eq = iop!("feq.d {r}, ft0, ft1", rm, a, b);
                println!(
                    "rm{rm} d{i},{j} add={:x}/{} mul={:x}/{} div={:x}/{} fma={:x}/{} min={:x}/{} max={:x}/{} lt={}/{} eq={}/{}",
                    add.0,
                    add.1,
                    mul.0,
                    mul.1,
                    div.0,
                    div.1,
                    fma.0,
                    fma.1,
                    min.0,
                    min.1,
                    max.0,
                    max.1,
                    lt.0,
                    lt.1,
                    eq.0,
                    eq.1
                );
                lines += 1;
            }
        }
        for (i, &a) in F32S.iter().enumerate() {
            // Single-precision values live NaN-boxed in the f registers.
            let boxed = 0xffff_ffff_0000_0000 | u64::from(a);
            let d = fop!("fcvt.d.s ft2, ft0", rm, boxed, 0u64);
            let w = iop!("fcvt.wu.s {r}, ft0, dyn", rm, boxed, 0u64);
            println!("rm{rm} s{i} d={:x}/{} wu={:x}/{}", d.0, d.1, w.0, w.1);
            lines += 1;
            for (j, &b) in F32S.iter().enumerate() {
                let b = 0xffff_ffff_0000_0000 | u64::from(b);
                let add = fop!("fadd.s ft2, ft0, ft1, dyn", rm, boxed, b);
                let div = fop!("fdiv.s ft2, ft0, ft1, dyn", rm, boxed, b);
                let fms = fop!("fnmsub.s ft2, ft0, ft1, ft1, dyn", rm, boxed, b);
                let le = iop!("fle.s {r}, ft0, ft1", rm, boxed, b);
                println!(
                    "rm{rm} s{i},{j} add={:x}/{} div={:x}/{} fnmsub={:x}/{} le={}/{}",
                    add.0, add.1, div.0, div.1, fms.0, fms.1, le.0, le.1
                );
                lines += 1;
            }
        }
    }
    // An unboxed single is read as the canonical NaN.
    let unboxed = fop!("fadd.s ft2, ft0, ft1, dyn", 0u64, 0x3f80_0000u64, 0x3f80_0000u64);
    println!("unboxed add={:x}/{}", unboxed.0, unboxed.1);
    println!("fp done: {} lines", lines + 1);
    finisher::exit(0)
}
