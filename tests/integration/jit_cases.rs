//! The cases issue 13 names for the JIT, each run by a guest made for it
//! (tests/guests/hot, `virtio-code`, `smp`) under both tiers
//! (`jit::same_on_both_tiers`: same console bytes, exit status and
//! instructions retired), with the guest's own checks against its model
//! passing, and `-d jit` showing a region that holds the code in question:
//! the case ran as translated code, not only in the interpreter.

use object::{Object, ObjectSection, ObjectSymbol};

use crate::common::{Outcome, guest, root};
use crate::jit::{jit_stat, same_on_both_tiers};

/// The address and size of symbol `name` in guest program `guest_name`.
fn symbol(guest_name: &str, name: &str) -> (u64, u64) {
    let bytes = std::fs::read(guest(guest_name)).expect("guest ELF");
    let file = object::File::parse(&*bytes).expect("parse the guest ELF");
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| (s.address(), s.size()))
        .unwrap_or_else(|| panic!("no symbol {name} in {guest_name}"))
}

/// The instruction words of `guest_name` in `[start, end)`, decoded in
/// order from `start` (2 bytes for a compressed one, else 4).
fn words(guest_name: &str, start: u64, end: u64) -> Vec<u32> {
    let bytes = std::fs::read(guest(guest_name)).expect("guest ELF");
    let file = object::File::parse(&*bytes).expect("parse the guest ELF");
    let Some(text) = file.sections().find(|s| s.address() <= start && start < s.address() + s.size()) else {
        return Vec::new();
    };
    let data = text.data().expect("section data");
    let mut at = (start - text.address()) as usize;
    let stop = ((end - text.address()) as usize).min(data.len());
    let mut out = Vec::new();
    while at + 2 <= stop {
        let low = u16::from_le_bytes([data[at], data[at + 1]]);
        if low & 3 != 3 {
            out.push(u32::from(low));
            at += 2;
        } else if at + 4 <= stop {
            out.push(u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]));
            at += 4;
        } else {
            break;
        }
    }
    out
}

/// The guest ranges `[start, end)` of the regions `-d jit` logged
/// ("N guest instructions in [0x..0x..)": virtual addresses).
fn regions(o: &Outcome) -> Vec<(u64, u64)> {
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    o.stderr
        .lines()
        .filter_map(|l| {
            let range = l.split(" guest instructions in [").nth(1)?.split(')').next()?;
            let (a, b) = range.split_once("..")?;
            Some((hex(a)?, hex(b)?))
        })
        .collect()
}

/// How many regions span the instruction at `pc`; panics if none does.
fn assert_translated(o: &Outcome, pc: u64, what: &str) -> usize {
    let r = regions(o);
    let n = r.iter().filter(|&&(a, b)| a <= pc && pc < b).count();
    assert!(n > 0, "no region holds {what} ({pc:#x}); regions: {r:x?}");
    n
}

/// The guest's `rt::check` lines all passed, and there were some.
fn checks_passed(o: &Outcome) {
    assert_eq!(o.code, Some(0), "{o:?}");
    let ok = o.stdout.lines().filter(|l| l.starts_with("ok   ")).count();
    assert!(ok > 0, "{}", o.stdout);
    assert!(o.stdout.ends_with(&format!("{ok} checks, 0 failed\n")), "{}", o.stdout);
}

fn has_line(o: &Outcome, line: &str) {
    assert!(o.stdout.lines().any(|l| l == line), "no line `{line}` in:\n{}", o.stdout);
}

/// virtio-blk DMAs a function into RAM, it runs hot; DMA writes another
/// over it: without FENCE.I both tiers run the instructions decoded
/// before, after it the new ones, and the JIT drops the stale region.
#[test]
fn code_a_device_dma_wrote_runs_alike_on_both_tiers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, vec![0u8; 64 << 10]).expect("image");
    let machine = root().join("tests/machines/virt-virtio.toml");
    let dev = format!("virtio-blk,id=virtio0,block={}", img.to_str().expect("utf-8"));
    let args = ["-M", machine.to_str().expect("utf-8"), "--device", &dev];
    let (interp, jit) = same_on_both_tiers("virtio-code", &args);
    assert_eq!(interp.code, Some(0), "{interp:?}");
    has_line(&interp, "version 1, read by DMA: 15000");
    has_line(&interp, "version 2 read over it, without fence.i: 10 (10 if the old code ran, 70 if the new)");
    has_line(&interp, "after fence.i: 105000");
    let (code, _) = symbol("virtio-code", "CODE");
    assert_translated(&jit, code, "the function the device wrote");
    assert!(
        jit_stat(&jit, "stale regions") > 0,
        "FENCE.I after the second DMA dropped no region: {}",
        jit.stderr
    );
}

/// A loop across a page boundary, a 32-bit instruction straddling it, in
/// M-mode and in S-mode from non-adjacent physical pages; then, the loop
/// hot, its second page unmapped: the straddling fetch faults.
#[test]
fn a_loop_across_a_page_boundary_runs_alike_on_both_tiers() {
    let (interp, jit) = same_on_both_tiers("hot-xpage", &[]);
    checks_passed(&interp);
    has_line(&interp, "ok   second page unmapped: mepc (the straddling instruction) = 0x40000ffe");
    has_line(&interp, "ok   second page unmapped: mtval (its second half, the boundary) = 0x40001000");
    let (pages, _) = symbol("hot-xpage", "hot_xpage_pages");
    let (straddle, _) = symbol("hot-xpage", "hot_xpage_straddle");
    assert_eq!(straddle & 0xfff, 0xffe);
    // The loop head (straddle - 10) and the instruction after the straddling one.
    for base in [pages, 0x4000_0000] {
        let (head, after) = (base + (straddle - pages) - 10, base + (straddle - pages) + 4);
        assert_translated(&jit, head, "the loop head, before the boundary");
        assert_translated(&jit, after, "the loop's tail, after the boundary");
    }
}

/// Faulting loads and stores in the middle of hot loops: xepc, xtval and
/// the registers updated before the fault as the disassembly says (the
/// guest checks them against its model).
#[test]
fn a_fault_in_the_middle_of_a_region_is_precise_on_both_tiers() {
    let (interp, jit) = same_on_both_tiers("hot-fault", &[]);
    checks_passed(&interp);
    for line in [
        "ok   S, store first, delegated: sepc = hot_fault_store_first+0x18 (the faulting sd)",
        "ok   S, store first, delegated: stval = 0x40004000",
        "ok   S, load first, to M: mepc = hot_fault_load_first+0x18 (the faulting ld)",
        "ok   S, load first, to M: mtval = 0x40004000",
        "ok   M, load first: mtval = 0x88000000",
        "ok   M, store first: trap taken in M from M, cause 7",
    ] {
        has_line(&interp, line);
    }
    for insn in ["hot_fault_store_insn", "hot_fault_load_insn"] {
        let (pc, _) = symbol("hot-fault", insn);
        assert_translated(&jit, pc, insn);
    }
}

/// Machine timer interrupts landing inside a translated loop, in M-mode
/// and in S-mode under Sv39: where each landed (mepc), the loop counter,
/// mtime and minstret are the same on both tiers (the clock follows
/// retired instructions).
#[test]
fn timer_interrupts_inside_a_hot_loop_land_alike_on_both_tiers() {
    let (interp, jit) = same_on_both_tiers("hot-timer", &[]);
    checks_passed(&interp);
    let irqs = interp.stdout.lines().filter(|l| l.starts_with("irq ")).count();
    assert_eq!(irqs, 5, "{}", interp.stdout);
    assert!(interp.stdout.contains("\nS-mode irq: mepc = hot_timer_loop+"), "{}", interp.stdout);
    let (head, _) = symbol("hot-timer", "hot_timer_head");
    assert_translated(&jit, head, "the loop head");
}

/// The same virtual code page mapped to two physical pages in two
/// address spaces, switched by satp with and without ASIDs.
#[test]
fn satp_switches_between_spaces_sharing_a_code_va_run_alike_on_both_tiers() {
    let (interp, jit) = same_on_both_tiers("hot-satp", &[]);
    checks_passed(&interp);
    has_line(&interp, "ok   ASIDs 1 and 2, no sfence.vma in the loop: sum of space B's results = 0x55f0");
    // One region at the shared VA for each physical page (at least).
    assert!(assert_translated(&jit, 0x4000_0004, "the function at the shared VA") >= 2, "{}", jit.stderr);
    let (drive, size) = symbol("hot-satp", "hot_satp_drive");
    assert!(
        regions(&jit).iter().any(|&(a, b)| a >= drive && b <= drive + size),
        "switching loop not translated"
    );
}

/// Calls and returns across pages under Sv39 go on through the JIT's
/// cache of virtual targets, and stop doing so when the target's page is
/// remapped or loses X (`sfence.vma` by address).
#[test]
fn a_remapped_or_no_longer_executable_call_target_is_seen_under_the_jit() {
    let (interp, jit) = same_on_both_tiers("hot-remap", &[]);
    checks_passed(&interp);
    has_line(&interp, "ok   sum of the remapped function's results = 0x7d00");
    has_line(&interp, "ok   at the remapped function = 0x40000000");
    assert!(assert_translated(&jit, 0x4000_0004, "the function at the remapped VA") >= 2, "{}", jit.stderr);
    // 4 x 2000 calls and as many returns, each into another page: without
    // the cache each would be a region entry from the run loop.
    let entries = jit_stat(&jit, "region entries");
    assert!(entries < 2000, "{entries} region entries: jumps across pages do not chain");
}

/// An AMO or LR/SC: opcode 0x2f with `funct5` (bits 31:27) and `funct3`
/// (2 = .w, 3 = .d).
fn is_amo(w: u32, funct5: u32, funct3: u32) -> bool {
    w & 0x7f == 0x2f && (w >> 12) & 7 == funct3 && w >> 27 == funct5
}

/// Panics unless the regions the JIT compiled for `guest_name` hold each
/// of `amos` (name, funct5, funct3).
fn assert_amos_translated(jit: &Outcome, guest_name: &str, amos: &[(&str, u32, u32)]) {
    let held: Vec<Vec<u32>> = regions(jit).iter().map(|&(a, b)| words(guest_name, a, b)).collect();
    for &(name, funct5, funct3) in amos {
        let found = held.iter().any(|ws| ws.iter().any(|&w| is_amo(w, funct5, funct3)));
        assert!(found, "{guest_name}: no region holds an {name}");
    }
}

/// `smp` on four harts: amoadd and LR/SC loops on one counter, the total
/// exact and instret equal on both tiers, regions holding the atomics.
/// (Its SCs hardly ever fail: `hot-atomics` makes the harts contend.)
#[test]
fn atomics_on_four_harts_run_translated_and_alike() {
    let (interp, jit) = same_on_both_tiers("smp", &["--smp", "4"]);
    assert_eq!(interp.stdout, "smp: 4 harts, counter = 8000\n");
    assert_eq!(interp.code, Some(0));
    assert_amos_translated(&jit, "smp", &[("amoadd.d", 0, 3), ("lr.d", 2, 3), ("sc.d", 3, 3)]);
}

/// `hot-atomics`: four harts contending with LR/SC loops and AMOs long
/// enough for hart switches to fall between LRs and SCs: every counter
/// exact, and the SCs that failed (deterministic) the same on both tiers
/// (the output is compared whole), and some did fail.
#[test]
fn contending_lr_sc_and_amos_on_four_harts_run_alike_on_both_tiers() {
    let (interp, jit) = same_on_both_tiers("hot-atomics", &["--smp", "4"]);
    checks_passed(&interp);
    let line = interp.stdout.lines().find_map(|l| l.strip_prefix("failed SCs per hart: [")).expect("SC line");
    let failed: u64 = line.trim_end_matches(']').split(", ").map(|n| n.parse::<u64>().expect("count")).sum();
    assert!(failed > 0, "no SC failed: the harts did not contend\n{}", interp.stdout);
    assert_amos_translated(
        &jit,
        "hot-atomics",
        &[
            ("amoadd.d", 0, 3),
            ("lr.d", 2, 3),
            ("sc.d", 3, 3),
            ("amoadd.w", 0, 2),
            ("lr.w", 2, 2),
            ("sc.w", 3, 2),
            ("amomax.d", 20, 3),
        ],
    );
}
