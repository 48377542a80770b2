//! Misaligned loads and stores across a page boundary, from S-mode. Done
//! in hardware (as QEMU and wemu do by default), each page is translated
//! and checked: a fault on the second page reports its first byte
//! (privileged spec §3.1.16: "the virtual address of the portion of the
//! access that caused the fault"), one on the first page the address, and
//! a store that faults writes nothing. Trapping as address-misaligned
//! instead is legal too and reported as such.

use rt::check;
use rt::enc::{self, A0, A1};
use rt::lower::{self, Code, Mode, Outcome};

use crate::Sv;
use crate::pt;

/// What an access should do: load this value, store (and whether memory
/// then holds the value), or page-fault with (cause, tval).
enum Want {
    Value(u64),
    Stored(bool),
    Fault(usize, usize),
}

fn line(sv: Sv, what: &str, addr: usize, o: &Outcome, want: Want) {
    let sv = sv.name();
    let from_s = |t: &lower::Trap| {
        t.epc == lower::code_base() && t.handler == Mode::Machine && t.from == Mode::Supervisor
    };
    match (o.trap, want) {
        (None, Want::Value(v)) => check!(o.ret as u64 == v, "{sv} {what}: done in hardware, value right"),
        (None, Want::Stored(right)) => check!(right, "{sv} {what}: done in hardware, memory right"),
        (Some(t), Want::Fault(cause, tval)) if t.cause == cause => {
            let page = if tval == addr { "the address" } else { "the second page's first byte" };
            check!(from_s(&t) && t.tval == tval, "{sv} {what}: page fault {cause}, tval = {page}");
        }
        (Some(t), _) if t.cause == 4 || t.cause == 6 => {
            check!(from_s(&t) && t.tval == addr, "{sv} {what}: address-misaligned trap {}", t.cause)
        }
        (Some(t), _) => check!(false, "{sv} {what}: trap {} tval={:#x}", t.cause, t.tval),
        (None, _) => check!(false, "{sv} {what}: no trap"),
    }
}

fn exec(insn: u32, addr: usize, value: u64) -> Outcome {
    lower::exec(Mode::Supervisor, &Code::new().i32(insn), [addr, value as usize, 0, 0])
}

pub fn run(sv: Sv) {
    let ld = enc::load(3, A0, A0, 0);
    let sd = enc::store(3, A1, A0, 0);
    // RX then RWX: both readable.
    let addr = pt::va(3) + 0xffc;
    let want = (pt::read64(pt::data(3) + 0xff8) >> 32) | (pt::read64(pt::data(4)) << 32);
    line(sv, "ld across RX|RWX pages", addr, &exec(ld, addr, 0), Want::Value(want));
    // RW then X-only: the second page faults.
    let addr = pt::va(1) + 0xffc;
    line(sv, "ld across RW|X pages", addr, &exec(ld, addr, 0), Want::Fault(13, pt::va(2)));
    // X-only then RX: the first page faults.
    let addr = pt::va(2) + 0xffa;
    line(sv, "ld across X|RX pages", addr, &exec(ld, addr, 0), Want::Fault(13, addr));
    // Stores that fault on the second page write nothing to the first.
    for (what, page, fault_page) in [("sd across RW|X pages", 1, 2), ("sd across RWX|R+U pages", 4, 5)] {
        let addr = pt::va(page) + 0xffb;
        let before = pt::read64(pt::data(page) + 0xff8);
        let o = exec(sd, addr, u64::MAX);
        let kept = pt::read64(pt::data(page) + 0xff8) == before;
        check!(kept, "{} {what}: the first page is unchanged", sv.name());
        line(sv, what, addr, &o, Want::Fault(15, pt::va(fault_page)));
    }
    // Inside a 2 MiB page, across a 4 KiB boundary: done.
    let addr = pt::MEGA_VA + 0x1ffd;
    pt::write64(pt::MEGA_A + 0x1ff8, 0);
    pt::write64(pt::MEGA_A + 0x2000, 0);
    let o = exec(sd, addr, 0x1122_3344_5566_7788);
    let (lo, hi) = (pt::read64(pt::MEGA_A + 0x1ff8), pt::read64(pt::MEGA_A + 0x2000));
    let right = (lo >> 40) | (hi << 24) == 0x1122_3344_5566_7788 && hi >> 40 == 0;
    line(sv, "sd across 4 KiB inside a 2 MiB page", addr, &o, Want::Stored(right));
}
