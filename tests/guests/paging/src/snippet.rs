//! The code placed in data pages for the execute checks: it reports the
//! virtual address it ran at (a0) and which page it is (a1 = id << 12),
//! then ends the run (`ecall` with a7 = DONE).

use rt::enc::{self, A0, A1, A7};
use rt::lower::DONE;

/// Writes the snippet at physical `pa`. The caller executes `fence.i`
/// before running it.
pub fn write(pa: usize, id: u32) {
    let [hi, lo] = enc::li32(A7, DONE as i32);
    let words = [enc::auipc(A0, 0), enc::lui(A1, id), hi, lo, enc::ECALL];
    for (i, w) in words.iter().enumerate() {
        // SAFETY: pa is inside a data page or 2 MiB region we own.
        unsafe { core::ptr::write_volatile((pa + 4 * i) as *mut u32, *w) };
    }
}

/// Makes the snippets visible to instruction fetch.
pub fn sync() {
    // SAFETY: fence.i has no other effect.
    unsafe { core::arch::asm!("fence.i") };
}
