//! Run a program under qemu-riscv64 and on wemu's hart; compare.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use wemu_cpu::{AccessInfo, Exception, Hart, MemError, Memory, RangeKind, StepEvent, TrapCause};

use crate::reftool::{self, QEMU_USER};

use super::program::{self, ABI, Case, LOAD_ADDR, OUT_LEN, Program};

fn qemu_binary() -> String {
    QEMU_USER.binary()
}

/// Is qemu-riscv64 missing? The caller returns: the test is skipped
/// (saying so) or, under CI (`CI=true`), has already failed (the rule in
/// tests/support/reftool.rs).
pub fn qemu_missing() -> bool {
    !reftool::have(&QEMU_USER)
}

/// stdout of the program under qemu-riscv64, or why it failed.
pub fn run_qemu(elf: &[u8]) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let path = dir.path().join("case.elf");
    std::fs::write(&path, elf).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod: {e}"))?;
    let out = match Command::new(qemu_binary()).arg(&path).output() {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("{}", QEMU_USER.probe().err().unwrap_or_default())
        }
        Err(e) => return Err(format!("spawning qemu: {e}")),
    };
    if !out.status.success() {
        return Err(format!(
            "qemu-riscv64 failed ({}); stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// RAM holding the ELF image at LOAD_ADDR, plus some slack.
struct Ram {
    bytes: Vec<u8>,
    /// With `windowed`, `bytes` offered to the JIT as its RAM window (the
    /// vector is never resized once made).
    window: Option<*mut u8>,
}

impl Ram {
    fn new(elf: &[u8], windowed: bool) -> Ram {
        let mut bytes = elf.to_vec();
        bytes.resize(elf.len().next_multiple_of(0x1000) + 0x1000, 0);
        let window = windowed.then_some(bytes.as_mut_ptr());
        Ram { bytes, window }
    }
}

impl Ram {
    fn off(&self, addr: u64, size: u8) -> Result<usize, MemError> {
        let off = addr.checked_sub(LOAD_ADDR).ok_or(MemError::AccessFault)?;
        if off.checked_add(u64::from(size)).is_none_or(|end| end > self.bytes.len() as u64) {
            return Err(MemError::AccessFault);
        }
        Ok(off as usize)
    }
}

impl Memory for Ram {
    fn load(&mut self, _at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        let off = self.off(addr, size)?;
        let mut b = [0u8; 8];
        b[..usize::from(size)].copy_from_slice(&self.bytes[off..off + usize::from(size)]);
        Ok(u64::from_le_bytes(b))
    }
    fn store(&mut self, _at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        let off = self.off(addr, size)?;
        self.bytes[off..off + usize::from(size)].copy_from_slice(&value.to_le_bytes()[..usize::from(size)]);
        Ok(())
    }
    fn fetch(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        self.load(at, addr, size)
    }
    // All RAM: misaligned accesses complete, as in qemu-riscv64.
    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let end = addr.checked_sub(LOAD_ADDR).and_then(|o| o.checked_add(len));
        match end {
            Some(end) if end <= self.bytes.len() as u64 => RangeKind::Memory { writable: true },
            _ => RangeKind::Nothing,
        }
    }
    fn ram_window(&self) -> Option<wemu_cpu::RamWindow> {
        self.window.map(|host| wemu_cpu::RamWindow {
            // Written through only while the hart runs with `&mut` to
            // this memory.
            host,
            base: LOAD_ADDR,
            len: self.bytes.len() as u64,
            writable: true,
        })
    }
}

/// What serving an `ecall` as a Linux syscall asked for.
enum Syscall {
    /// `write` done (bytes to fd 1 appended to the output): go on after it.
    Resume,
    /// `exit(0)`.
    Exit,
}

/// Serve the `ecall` at `pc` as a Linux syscall: `write` (to fd 1: appended
/// to `stdout`) or `exit`; anything else is an error.
fn syscall(hart: &mut Hart, ram: &mut Ram, pc: u64, stdout: &mut Vec<u8>) -> Result<Syscall, String> {
    let (a0, a1, a2, a7) = (hart.x[10], hart.x[11], hart.x[12], hart.x[17]);
    match a7 {
        64 => {
            for i in 0..a2 {
                let b = ram
                    .load(AccessInfo::HOST, a1.wrapping_add(i), 1)
                    .map_err(|e| format!("write(): bad buffer: {e}"))?;
                if a0 == 1 {
                    stdout.push(b as u8);
                }
            }
            hart.x[10] = a2;
            hart.pc = pc + 4;
            Ok(Syscall::Resume)
        }
        93 if a0 == 0 => Ok(Syscall::Exit),
        93 => Err(format!("exit({a0})")),
        n => Err(format!("unexpected syscall {n} at {pc:#x}")),
    }
}

/// stdout of the program on wemu's hart: `ecall` (mcause 11) is served as a
/// Linux syscall (write to fd 1, exit), then execution resumes after it.
pub fn run_wemu(elf: &[u8], entry: u64) -> Result<Vec<u8>, String> {
    let mut ram = Ram::new(elf, false);
    let mut hart = Hart::new(0, entry);
    let mut stdout = Vec::new();
    for _ in 0..1_000_000 {
        match hart.step(&mut ram) {
            Ok(StepEvent::Retired) => {}
            Ok(StepEvent::Trap(rec)) if rec.cause == TrapCause::Exception(Exception::EcallFromM) => {
                if let Syscall::Exit = syscall(&mut hart, &mut ram, rec.pc, &mut stdout)? {
                    return Ok(stdout);
                }
            }
            Ok(StepEvent::Trap(rec)) => return Err(format!("unexpected trap: {rec}")),
            Ok(StepEvent::Wfi) => return Err(format!("hart in WFI at {:#x}", hart.pc)),
            Err(h) => return Err(format!("hart halted: {h}")),
        }
    }
    Err(format!("no exit after 1e6 steps; pc={:#x}", hart.pc))
}

fn listing(p: &Program) -> String {
    let mut s = String::new();
    for (addr, w) in &p.listing {
        let hex = if w.len == 2 { format!("    {:04x}", w.raw) } else { format!("{:08x}", w.raw) };
        let _ = writeln!(s, "  {addr:#07x}: {hex}  {}", wemu_cpu::disassemble_at(w.raw, *addr));
    }
    s
}

fn initial_state(case: &Case) -> String {
    let regs: Vec<usize> =
        (1..32).filter(|&r| r != usize::from(program::BASE) && r != usize::from(program::SP)).collect();
    let mut s = String::new();
    for row in regs.chunks(4) {
        let cells: Vec<String> =
            row.iter().map(|&r| format!("{:>4}={:#018x}", ABI[r], case.init[r])).collect();
        let _ = writeln!(s, "  {}", cells.join(" "));
    }
    s
}

/// Run `case` on both and return a report of the differences, if any.
pub fn compare(case: &Case) -> Result<(), String> {
    let prog = program::build(case);
    let elf = program::elf(&prog);
    let fail = |what: String| {
        Err(format!(
            "{what}\n\nbody ({} items):\n{}\ninitial registers:\n{}",
            case.body.len(),
            listing(&prog),
            initial_state(case)
        ))
    };
    let q = match run_qemu(&elf) {
        Ok(q) => q,
        Err(e) => return fail(format!("qemu: {e}")),
    };
    let w = match run_wemu(&elf, prog.entry) {
        Ok(w) => w,
        Err(e) => return fail(format!("wemu: {e}")),
    };
    if q.len() != OUT_LEN || w.len() != OUT_LEN {
        return fail(format!(
            "output length: qemu {} bytes, wemu {} bytes, expected {OUT_LEN}",
            q.len(),
            w.len()
        ));
    }
    if q == w {
        return Ok(());
    }
    let reg = |out: &[u8], r: usize| u64::from_le_bytes(out[8 * (r - 1)..8 * r].try_into().expect("8 bytes"));
    let mut msg = String::new();
    let bad_regs: Vec<usize> = (1..32).filter(|&r| reg(&q, r) != reg(&w, r)).collect();
    if let Some(&r) = bad_regs.first() {
        let _ = writeln!(
            msg,
            "first differing register: x{r} ({}): qemu {:#018x}, wemu {:#018x}",
            ABI[r],
            reg(&q, r),
            reg(&w, r)
        );
        for &r in &bad_regs[1..] {
            let _ = writeln!(
                msg,
                "  also x{r} ({}): qemu {:#018x}, wemu {:#018x}",
                ABI[r],
                reg(&q, r),
                reg(&w, r)
            );
        }
    }
    let bad_bytes: Vec<usize> = (256..OUT_LEN).filter(|&i| q[i] != w[i]).collect();
    if let Some(&i) = bad_bytes.first() {
        let o = (i - 256) & !7;
        let dw = |out: &[u8]| u64::from_le_bytes(out[256 + o..256 + o + 8].try_into().expect("8 bytes"));
        let _ = writeln!(
            msg,
            "scratch buffer differs in {} bytes; first at offset {} (s0+{}): doubleword qemu {:#018x}, wemu {:#018x}",
            bad_bytes.len(),
            i - 256,
            i - 256,
            dw(&q),
            dw(&w)
        );
    }
    fail(msg)
}

/// What a run through `Hart::run` or `Hart::run_jit` in calls of `chunk`
/// instructions saw: the program's stdout, and the pc, instret and
/// registers after every call.
struct TierRun {
    stdout: Vec<u8>,
    trace: Vec<(u64, u64, [u64; 32])>,
}

/// Run the program twice on one hart (the second time with the
/// instruction cache, and the JIT's counters, warm) in calls of `chunk`
/// instructions, through the JIT if given; report the second run.
/// `ecall` traps to mtvec = 0, where nothing is mapped: the hart halts
/// with a trap loop whose first trap is the ecall, served as in
/// `run_wemu`.
fn run_tier(
    elf: &[u8],
    entry: u64,
    chunk: u64,
    mut jit: Option<&mut wemu_cpu::Jit>,
) -> Result<TierRun, String> {
    let mut hart = Hart::new(0, entry);
    let mut last = None;
    for _pass in 0..2 {
        let mut ram = Ram::new(elf, jit.is_some());
        hart.x = [0; 32];
        hart.pc = entry;
        let mut run = TierRun { stdout: Vec::new(), trace: Vec::new() };
        let mut done = false;
        for _ in 0..1_000_000 {
            let exit = match jit.as_deref_mut() {
                Some(j) => hart.run_jit(&mut ram, chunk, j),
                None => hart.run(&mut ram, chunk),
            };
            run.trace.push((hart.pc, hart.instret(), hart.x));
            match exit {
                wemu_cpu::RunExit::Budget | wemu_cpu::RunExit::Yield => {}
                wemu_cpu::RunExit::Wfi => return Err(format!("hart in WFI at {:#x}", hart.pc)),
                wemu_cpu::RunExit::Halt(wemu_cpu::Halt::TrapLoop { first, .. })
                    if first.cause == TrapCause::Exception(Exception::EcallFromM) =>
                {
                    if let Syscall::Exit = syscall(&mut hart, &mut ram, first.pc, &mut run.stdout)? {
                        done = true;
                        break;
                    }
                }
                wemu_cpu::RunExit::Halt(h) => return Err(format!("hart halted: {h}")),
            }
        }
        if !done {
            return Err(format!("no exit after 1e6 calls; pc={:#x}", hart.pc));
        }
        last = Some(run);
    }
    last.ok_or_else(|| "no run".to_owned())
}

/// Run `case` under the interpreter and under the JIT (every pc hot at
/// once), in calls of `chunk` instructions: the same stdout, and the same
/// pc, instret and registers after every call.
pub fn compare_tiers(case: &Case, chunk: u64, regs_in_memory: Option<bool>) -> Result<(), String> {
    let prog = program::build(case);
    let elf = program::elf(&prog);
    let fail = |what: String| {
        Err(format!(
            "{what}\n\nchunk {chunk}, registers in memory {regs_in_memory:?}; body ({} items):\n{}\ninitial registers:\n{}",
            case.body.len(),
            listing(&prog),
            initial_state(case)
        ))
    };
    let interp = match run_tier(&elf, prog.entry, chunk, None) {
        Ok(r) => r,
        Err(e) => return fail(format!("interpreter: {e}")),
    };
    let config = wemu_cpu::JitConfig {
        threshold: 1,
        paged_threshold: Some(1),
        background: false,
        count_budget_stops: true,
        regs_in_memory,
        ..wemu_cpu::JitConfig::default()
    };
    let mut jit = wemu_cpu::Jit::new(config).map_err(|e| e.to_string())?;
    let jitted = match run_tier(&elf, prog.entry, chunk, Some(&mut jit)) {
        Ok(r) => r,
        Err(e) => return fail(format!("jit: {e}")),
    };
    if jit.stats().regions == 0 {
        return fail("the JIT translated nothing".to_owned());
    }
    for (i, (a, b)) in interp.trace.iter().zip(&jitted.trace).enumerate() {
        if a != b {
            let regs: Vec<String> = (0..32)
                .filter(|&r| a.2[r] != b.2[r])
                .map(|r| format!("x{r} ({}): interp {:#x}, jit {:#x}", ABI[r], a.2[r], b.2[r]))
                .collect();
            return fail(format!(
                "after call {i}: interp pc {:#x} instret {}, jit pc {:#x} instret {}; {}",
                a.0,
                a.1,
                b.0,
                b.1,
                regs.join("; ")
            ));
        }
    }
    if interp.trace.len() != jitted.trace.len() {
        return fail(format!("calls: interp {}, jit {}", interp.trace.len(), jitted.trace.len()));
    }
    if interp.stdout != jitted.stdout {
        return fail("stdout (registers and scratch buffer dumped) differs".to_owned());
    }
    Ok(())
}
