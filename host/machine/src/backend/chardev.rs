//! Character backends. The output half lives in the device's store (the
//! device writes straight to it); the input half stays with the machine,
//! which offers bytes to the device between guest instruction batches.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

pub use wemu_sandbox::backend::CharSink;

/// What `--serial` (or a machine file's chardev binding) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChardevSpec {
    /// Output to stdout, input from stdin.
    Stdio,
    /// Output to a file (created or truncated at start); no input.
    File(PathBuf),
    /// Discard output; no input.
    Null,
}

/// A character backend that is not known or could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ChardevError {
    #[error("unknown character backend '{0}' (expected stdio, file:PATH or null)")]
    Unknown(String),
    #[error("opening serial output file {}: {error}", path.display())]
    Open { path: PathBuf, error: std::io::Error },
}

impl std::str::FromStr for ChardevSpec {
    type Err = ChardevError;
    fn from_str(s: &str) -> Result<Self, ChardevError> {
        match s {
            "stdio" => Ok(ChardevSpec::Stdio),
            "null" | "none" => Ok(ChardevSpec::Null),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(ChardevSpec::File(PathBuf::from(p))),
                _ => Err(ChardevError::Unknown(s.to_owned())),
            },
        }
    }
}

struct Stdout;
impl CharSink for Stdout {
    fn write(&mut self, data: &[u8]) -> usize {
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) must not stop the machine: drop.
        let _ = out.write_all(data).and_then(|()| out.flush());
        data.len()
    }
}

struct FileSink(File);
impl CharSink for FileSink {
    fn write(&mut self, data: &[u8]) -> usize {
        if let Err(e) = self.0.write_all(data) {
            tracing::warn!(target: "wemu::backend::chardev", "serial file write failed: {e}");
        }
        data.len()
    }
}

struct Null;
impl CharSink for Null {
    fn write(&mut self, data: &[u8]) -> usize {
        data.len()
    }
}

/// A sink that collects output in memory (tests, benchmarks).
#[derive(Clone, Default)]
pub struct Capture(pub Rc<RefCell<Vec<u8>>>);
impl CharSink for Capture {
    fn write(&mut self, data: &[u8]) -> usize {
        self.0.borrow_mut().extend_from_slice(data);
        data.len()
    }
}

/// Input bytes held for a device at most (the reader stops reading past
/// this: backpressure, as a full UART FIFO gives a real line).
pub const INPUT_BUFFER: usize = 64 << 10;
/// Chunks the stdin reader thread may have read ahead of the machine.
const READ_AHEAD_CHUNKS: usize = 4;

/// Input side of a character backend.
pub struct CharInput {
    rx: Option<Receiver<Vec<u8>>>,
    pending: Vec<u8>,
}

impl CharInput {
    /// No input, ever.
    pub fn none() -> Self {
        CharInput { rx: None, pending: Vec::new() }
    }

    /// Input from stdin, read by a helper thread so the machine never blocks.
    /// On a terminal, as with QEMU's `-serial stdio`, keys go to the guest
    /// unprocessed (see [`RawTerminal`]); Ctrl-A x quits wemu and Ctrl-A
    /// Ctrl-A sends one Ctrl-A.
    pub fn stdin() -> Self {
        // Bounded: when the machine stops taking bytes (the device's
        // queue is full) the reader blocks in `send` and stops reading.
        let (tx, rx) = sync_channel(READ_AHEAD_CHUNKS);
        std::thread::Builder::new()
            .name("wemu-stdin".into())
            .spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
                let mut escape = false;
                let mut buf = [0u8; 4096];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let data =
                                if tty { filter_escapes(&buf[..n], &mut escape) } else { buf[..n].to_vec() };
                            if tx.send(data).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .map_or_else(|_| CharInput::none(), |_| CharInput { rx: Some(rx), pending: Vec::new() })
    }

    /// Fixed input (tests).
    pub fn bytes(data: &[u8]) -> Self {
        CharInput { rx: None, pending: data.to_vec() }
    }

    /// Bytes waiting to be offered to the device (at most about
    /// `INPUT_BUFFER`; more stay with the reader).
    pub fn pending(&mut self) -> &[u8] {
        if let Some(rx) = &self.rx {
            while self.pending.len() < INPUT_BUFFER {
                match rx.try_recv() {
                    Ok(chunk) => self.pending.extend_from_slice(&chunk),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.rx = None;
                        break;
                    }
                }
            }
        }
        &self.pending
    }

    /// The device took `n` bytes.
    pub fn consume(&mut self, n: usize) {
        self.pending.drain(..n.min(self.pending.len()));
    }

    /// Could more input still arrive (or is some waiting)?
    pub fn live(&self) -> bool {
        self.rx.is_some() || !self.pending.is_empty()
    }

    /// Could more input still arrive from the source?
    pub fn open(&self) -> bool {
        self.rx.is_some()
    }

    /// Block until input arrives or the source closes (idle machine).
    pub fn wait(&mut self, timeout: std::time::Duration) {
        if self.pending.len() >= INPUT_BUFFER {
            std::thread::sleep(timeout);
            return;
        }
        if let Some(rx) = &self.rx {
            match rx.recv_timeout(timeout) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => self.rx = None,
            }
        }
    }
}

/// Ctrl-A, the escape key of QEMU's stdio console.
const CTRL_A: u8 = 0x01;

/// Handle the Ctrl-A escapes in terminal input: `x` quits, a second
/// Ctrl-A passes one through, anything else is dropped with the escape.
fn filter_escapes(input: &[u8], escape: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if *escape {
            *escape = false;
            match b {
                b'x' | b'X' => {
                    RawTerminal::restore_saved();
                    eprintln!("\r\nwemu: terminated by Ctrl-A x");
                    std::process::exit(0);
                }
                CTRL_A => out.push(CTRL_A),
                _ => {}
            }
        } else if b == CTRL_A {
            *escape = true;
        } else {
            out.push(b);
        }
    }
    out
}

static SAVED_TERMIOS: std::sync::Mutex<Option<libc::termios>> = std::sync::Mutex::new(None);

/// Puts a terminal on stdin into raw mode while it lives (keys reach the
/// guest as typed: no line editing, no echo, Ctrl-C goes to the guest), and
/// restores it on drop. Output keeps newline translation.
pub struct RawTerminal(());

impl RawTerminal {
    /// Enter raw mode if stdin is a terminal.
    pub fn enter() -> Option<Self> {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return None;
        }
        // SAFETY: termios is plain data (C integers and arrays), for which
        // all zeroes is a valid value.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr fills the struct we own for fd 0, which is open
        // (it is a terminal, checked above).
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        // SAFETY: cfmakeraw only edits the struct we own.
        unsafe { libc::cfmakeraw(&mut t) };
        t.c_oflag |= libc::OPOST | libc::ONLCR;
        // SAFETY: setting attributes of fd 0 from a valid termios.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return None;
        }
        *SAVED_TERMIOS.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
        Some(RawTerminal(()))
    }

    fn restore_saved() {
        if let Some(t) = SAVED_TERMIOS.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // SAFETY: restoring attributes saved by `enter` on the same fd.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        Self::restore_saved();
    }
}

/// Output to stdout with no input (a second device on the console).
pub fn stdout_sink() -> Box<dyn CharSink> {
    Box::new(Stdout)
}

/// Open a backend: its output sink and input source.
pub fn open(spec: &ChardevSpec) -> Result<(Box<dyn CharSink>, CharInput), ChardevError> {
    Ok(match spec {
        ChardevSpec::Stdio => (Box::new(Stdout), CharInput::stdin()),
        ChardevSpec::File(path) => {
            let file =
                File::create(path).map_err(|error| ChardevError::Open { path: path.clone(), error })?;
            (Box::new(FileSink(file)), CharInput::none())
        }
        ChardevSpec::Null => (Box::new(Null), CharInput::none()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("stdio".parse::<ChardevSpec>().unwrap(), ChardevSpec::Stdio);
        assert_eq!("file:/tmp/x".parse::<ChardevSpec>().unwrap(), ChardevSpec::File("/tmp/x".into()));
        assert!("file:".parse::<ChardevSpec>().is_err());
        assert!("tcp:1".parse::<ChardevSpec>().unwrap_err().to_string().contains("tcp:1"));
    }

    #[test]
    fn ctrl_a_escapes_are_filtered() {
        let mut esc = false;
        assert_eq!(filter_escapes(b"ab\x01\x01c\x01", &mut esc), b"ab\x01c");
        assert!(esc, "a trailing Ctrl-A waits for the next key");
        assert_eq!(filter_escapes(b"zq", &mut esc), b"q", "unknown escape key dropped");
    }

    #[test]
    fn input_is_offered_until_consumed() {
        let mut input = CharInput::bytes(b"abc");
        assert_eq!(input.pending(), b"abc");
        input.consume(2);
        assert_eq!(input.pending(), b"c");
        assert!(input.live());
        input.consume(5);
        assert!(!input.live());
    }
}
