//! The sifive_test "finisher" at 0x10_0000: one 32-bit register whose write
//! ends the simulation (QEMU's virt machine and wemu's test machine).

use core::ptr::write_volatile;

const FINISHER: *mut u32 = 0x10_0000 as *mut u32;

/// Exit with status 0.
const PASS: u32 = 0x5555;
/// Exit with the status in bits 31:16.
const FAIL: u32 = 0x3333;
/// Reset the machine.
const RESET: u32 = 0x7777;

/// Ends the run with `code` as the emulator's exit status.
///
/// Code 0 uses the dedicated "pass" value; anything else the "fail" value
/// with the code in the upper half (only 16 bits fit, hence `u16`).
pub fn exit(code: u16) -> ! {
    let value = if code == 0 { PASS } else { (u32::from(code) << 16) | FAIL };
    // SAFETY: the finisher register is MMIO at a fixed address on this machine.
    unsafe { write_volatile(FINISHER, value) };
    park()
}

/// Asks the machine to reset.
pub fn reset() -> ! {
    // SAFETY: as in `exit`.
    unsafe { write_volatile(FINISHER, RESET) };
    park()
}

/// The write should end the run immediately; if the machine has no finisher,
/// sleep rather than run off into whatever follows.
fn park() -> ! {
    loop {
        crate::csr::wfi();
    }
}
