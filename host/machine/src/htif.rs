//! HTIF, the host-target interface of Spike: a program that defines the
//! symbols `tohost`/`fromhost` talks to the host by writing requests to
//! `tohost` (`device << 56 | command << 48 | payload`) and, for requests
//! that are answered, waiting for `fromhost`. Standard RISC-V test programs
//! use it to report pass/fail. Like Spike, wemu polls `tohost` (here
//! between instruction batches) rather than trapping the store.
//!
//! | device | command | meaning |
//! |--------|---------|---------|
//! | 0 | 0, payload odd | exit with status `payload >> 1` (1 = pass) |
//! | 0 | 0, payload even | proxied syscall: `payload` points at `[nr, a0, a1, a2, ...]`; write (64) and exit (93) |
//! | 1 | 1 | console: put the character `payload & 0xff` |

use std::io::Write;

use wemu_cpu::{AccessInfo, MemError, Memory};

use crate::image::HtifSymbols;

/// A mailbox or a syscall's memory the host could not reach: the guest's
/// fault, named by what it was and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HtifError {
    #[error("the program's HTIF mailbox {name} at {addr:#x} is not in memory")]
    Mailbox { name: &'static str, addr: u64 },
    #[error(
        "the program's HTIF syscall request at {request:#x} has its {what} at {addr:#x}, which is not in memory"
    )]
    Syscall { request: u64, what: &'static str, addr: u64 },
}

/// What the machine must do after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtifAction {
    Exit(u32),
}

/// HTIF state: the mailboxes and the last value seen.
#[derive(Debug)]
pub struct Htif {
    syms: HtifSymbols,
    /// A request is acted on once it has read the same twice in a row, so
    /// a 64-bit request written as two 32-bit stores is never half-read.
    last_seen: u64,
}

impl Htif {
    pub fn new(syms: HtifSymbols) -> Self {
        Htif { syms, last_seen: 0 }
    }

    /// Look at `tohost`; serve a complete request.
    pub fn poll(&mut self, mem: &mut impl Memory) -> Result<Option<HtifAction>, HtifError> {
        let tohost = self.syms.tohost;
        let mailbox = |name, addr| move |_: MemError| HtifError::Mailbox { name, addr };
        let value = mem.load(AccessInfo::HOST, tohost, 8).map_err(mailbox("tohost", tohost))?;
        if value == 0 || value != self.last_seen {
            self.last_seen = value;
            return Ok(None);
        }
        self.last_seen = 0;
        let device = value >> 56;
        let command = (value >> 48) & 0xff;
        let payload = value & 0xffff_ffff_ffff;
        let mut action = None;
        match (device, command) {
            (0, 0) if payload & 1 == 1 => action = Some(HtifAction::Exit((payload >> 1) as u32)),
            (0, 0) => action = self.syscall(mem, payload)?,
            (1, 1) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&[payload as u8]).and_then(|()| out.flush());
            }
            _ => {
                tracing::warn!(target: "wemu::htif", "HTIF: unsupported request device {device} command {command} ({value:#x})")
            }
        }
        mem.store(AccessInfo::HOST, tohost, 8, 0).map_err(mailbox("tohost", tohost))?;
        if let Some(fromhost) = self.syms.fromhost {
            mem.store(AccessInfo::HOST, fromhost, 8, (device << 56) | (command << 48) | 1)
                .map_err(mailbox("fromhost", fromhost))?;
        }
        Ok(action)
    }

    /// A proxied syscall (riscv-tests' `syscall()`): `magic[0]` is the
    /// number, `magic[1..]` the arguments; the result goes to `magic[0]`.
    fn syscall(&mut self, mem: &mut impl Memory, magic: u64) -> Result<Option<HtifAction>, HtifError> {
        // Guest-chosen addresses: wrap rather than overflow; a bad one is
        // the guest's error, reported with what it was.
        let arg = |i: u64| magic.wrapping_add(8 * i);
        let bad = |what, addr| move |_: MemError| HtifError::Syscall { request: magic, what, addr };
        let mut args = [0u64; 4];
        for (i, a) in args.iter_mut().enumerate() {
            let addr = arg(i as u64);
            *a = mem.load(AccessInfo::HOST, addr, 8).map_err(bad("request block", addr))?;
        }
        let [nr, a0, a1, a2] = args;
        match nr {
            93 => return Ok(Some(HtifAction::Exit(a0 as u32))),
            64 if a0 == 1 || a0 == 2 => {
                let len = a2.min(1 << 20);
                let mut buf = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let addr = a1.wrapping_add(i);
                    buf.push(mem.load(AccessInfo::HOST, addr, 1).map_err(bad("write buffer", addr))? as u8);
                }
                let _ = if a0 == 1 {
                    std::io::stdout().write_all(&buf)
                } else {
                    std::io::stderr().write_all(&buf)
                };
                let _ = std::io::stdout().flush();
                mem.store(AccessInfo::HOST, magic, 8, len).map_err(bad("request block", magic))?;
            }
            _ => {
                tracing::warn!(target: "wemu::htif", "HTIF: unsupported proxied syscall {nr}");
                // -ENOSYS
                mem.store(AccessInfo::HOST, magic, 8, (-38i64) as u64)
                    .map_err(bad("request block", magic))?;
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 KiB of memory at 0x1000.
    struct Mem(Vec<u8>);
    impl Memory for Mem {
        fn load(&mut self, _: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
            let off = addr.checked_sub(0x1000).ok_or(MemError::AccessFault)? as usize;
            let bytes = self.0.get(off..off + usize::from(size)).ok_or(MemError::AccessFault)?;
            Ok(bytes.iter().rev().fold(0, |acc, b| (acc << 8) | u64::from(*b)))
        }
        fn store(&mut self, _: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
            let off = addr.checked_sub(0x1000).ok_or(MemError::AccessFault)? as usize;
            let bytes = self.0.get_mut(off..off + usize::from(size)).ok_or(MemError::AccessFault)?;
            bytes.copy_from_slice(&value.to_le_bytes()[..usize::from(size)]);
            Ok(())
        }
        fn fetch(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
            self.load(at, addr, size)
        }
    }

    const SYMS: HtifSymbols = HtifSymbols { tohost: 0x1000, fromhost: Some(0x1008) };

    #[test]
    fn a_request_is_served_once_it_is_stable_then_acknowledged() {
        let mut mem = Mem(vec![0; 4096]);
        let mut htif = Htif::new(SYMS);
        mem.store(AccessInfo::HOST, 0x1000, 4, 0x21).unwrap(); // low half of a console request only
        assert_eq!(htif.poll(&mut mem), Ok(None));
        mem.store(AccessInfo::HOST, 0x1004, 4, 0x0101_0000).unwrap(); // high half: device 1, command 1
        assert_eq!(htif.poll(&mut mem), Ok(None), "first sight of the full value");
        assert_eq!(htif.poll(&mut mem), Ok(None), "served: prints '!'");
        assert_eq!(mem.load(AccessInfo::HOST, 0x1000, 8), Ok(0), "tohost cleared");
        assert_eq!(
            mem.load(AccessInfo::HOST, 0x1008, 8),
            Ok((1 << 56) | (1 << 48) | 1),
            "fromhost acknowledges"
        );
    }

    #[test]
    fn wild_syscall_pointers_are_access_faults_not_panics() {
        let mut mem = Mem(vec![0; 4096]);
        let mut htif = Htif::new(SYMS);
        mem.store(AccessInfo::HOST, 0x1000, 8, 0xffff_ffff_fff8).unwrap(); // even payload: a syscall pointer
        assert_eq!(htif.poll(&mut mem), Ok(None));
        assert_eq!(
            htif.poll(&mut mem),
            Err(HtifError::Syscall {
                request: 0xffff_ffff_fff8,
                what: "request block",
                addr: 0xffff_ffff_fff8
            })
        );
        // write(1, buf near the top of memory, 16) from a valid magic block.
        for (i, v) in [64u64, 1, u64::MAX - 4, 16].iter().enumerate() {
            mem.store(AccessInfo::HOST, 0x1100 + 8 * i as u64, 8, *v).unwrap();
        }
        mem.store(AccessInfo::HOST, 0x1000, 8, 0x1100).unwrap();
        htif.poll(&mut mem).unwrap();
        let err = htif.poll(&mut mem).expect_err("the buffer is outside memory");
        assert_eq!(err, HtifError::Syscall { request: 0x1100, what: "write buffer", addr: u64::MAX - 4 });
        assert!(err.to_string().contains("write buffer at 0xfffffffffffffffb"), "{err}");
        assert!(!err.to_string().contains("tohost"), "{err}");
    }

    #[test]
    fn a_mailbox_outside_memory_is_named() {
        let mut mem = Mem(vec![0; 4096]);
        let mut htif = Htif::new(HtifSymbols { tohost: 0x9000, fromhost: None });
        let err = htif.poll(&mut mem).expect_err("tohost is outside memory");
        assert_eq!(err.to_string(), "the program's HTIF mailbox tohost at 0x9000 is not in memory");
    }

    #[test]
    fn exit_and_proxied_syscalls() {
        let mut mem = Mem(vec![0; 4096]);
        let mut htif = Htif::new(SYMS);
        // write(1, "ok", 2) through the magic memory at 0x1100.
        for (i, v) in [64u64, 1, 0x1200, 2].iter().enumerate() {
            mem.store(AccessInfo::HOST, 0x1100 + 8 * i as u64, 8, *v).unwrap();
        }
        mem.store(AccessInfo::HOST, 0x1200, 2, u64::from(u16::from_le_bytes(*b"ok"))).unwrap();
        mem.store(AccessInfo::HOST, 0x1000, 8, 0x1100).unwrap();
        htif.poll(&mut mem).unwrap();
        assert_eq!(htif.poll(&mut mem), Ok(None));
        assert_eq!(mem.load(AccessInfo::HOST, 0x1100, 8), Ok(2), "write returned its length");
        // exit(7) as an odd payload.
        mem.store(AccessInfo::HOST, 0x1000, 8, (7 << 1) | 1).unwrap();
        htif.poll(&mut mem).unwrap();
        assert_eq!(htif.poll(&mut mem), Ok(Some(HtifAction::Exit(7))));
    }
}
