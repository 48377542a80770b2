//! The load and store probes: a few instructions that end the run
//! themselves (`ecall` with a7 = DONE) and touch no stack, so they also
//! run in U-mode from the page mapped at `U_PROBE_VA`. S- and M-mode run
//! them at their own (identity-mapped) address.

use core::arch::global_asm;

use rt::lower::{self, Mode, Outcome};

use crate::pt::U_PROBE_VA;

global_asm!(
    r#"
    .section .text.probe, "ax"
    .balign 4096
    .global paging_probe_page
paging_probe_page:
    # a0 = address: a0 = [a0]
    .global paging_probe_load
paging_probe_load:
    ld      a0, 0(a0)
    li      a7, {done}
    ecall
    # a0 = address, a1 = value: [a0 + 8] = a1
    .global paging_probe_store
paging_probe_store:
    sd      a1, 8(a0)
    li      a7, {done}
    ecall
    .balign 4096
"#,
    done = const lower::DONE,
);

unsafe extern "C" {
    fn paging_probe_page();
    fn paging_probe_load();
    fn paging_probe_store();
}

/// Physical address of the probe page.
pub fn page() -> usize {
    paging_probe_page as *const () as usize
}

/// Where `probe` runs in `mode`: its own address, or for U-mode its
/// alias in the U page.
fn at(mode: Mode, probe: usize) -> usize {
    if mode == Mode::User { U_PROBE_VA + (probe - page()) } else { probe }
}

/// Address of the load instruction (epc of a load fault) in `mode`.
pub fn load_pc(mode: Mode) -> usize {
    at(mode, paging_probe_load as *const () as usize)
}

/// Address of the store instruction in `mode`.
pub fn store_pc(mode: Mode) -> usize {
    at(mode, paging_probe_store as *const () as usize)
}

/// `ld a0, 0(va)` in `mode`.
pub fn load(mode: Mode, va: usize) -> Outcome {
    lower::run(mode, load_pc(mode), [va, 0, 0, 0])
}

/// `sd value, 8(va)` in `mode`.
pub fn store(mode: Mode, va: usize, value: u64) -> Outcome {
    lower::run(mode, store_pc(mode), [va, value as usize, 0, 0])
}

/// Jumps to `va` in `mode` (an `mret` there): the fetch is the access.
pub fn exec(mode: Mode, va: usize) -> Outcome {
    lower::run(mode, va, [0; 4])
}
