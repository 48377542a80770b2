//! Compiling on a worker thread: the hart hands regions to a [`Worker`]
//! and goes on interpreting; finished regions are picked up at the next
//! region lookup (`Jit::enter`). Which tier runs an instruction changes
//! nothing the guest sees (both are instret-exact), so when a region
//! arrives does not matter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use cranelift_codegen::isa::OwnedTargetIsa;

use super::JitError;
use super::compiler::{Compiler, Done, Job};

enum Msg {
    Compile(Box<Job>),
    /// Free the code cache (the hart dropped every pointer into it).
    Flush,
}

/// A thread with its own [`Compiler`] and code cache.
pub(super) struct Worker {
    jobs: Option<Sender<Msg>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
    /// Set when the hart is done with the worker: jobs still queued are
    /// dropped instead of compiled (a machine that powers off must not
    /// wait for a backlog nobody will run).
    quit: Arc<AtomicBool>,
    /// Results sent so far (plus one when the thread ends): polling this
    /// is cheaper than the channel, and the hart polls at every region
    /// lookup while jobs are out.
    sent: Arc<AtomicU64>,
    /// Results (and the end) the hart has seen.
    seen: u64,
}

/// Counts the thread's end in `Worker::sent`, however it ends.
struct Ended(Arc<AtomicU64>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

impl Worker {
    pub(super) fn spawn(isa: OwnedTargetIsa) -> Result<Worker, JitError> {
        let (jobs, inbox) = channel::<Msg>();
        let (outbox, done) = channel::<Done>();
        let quit = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&quit);
        let sent = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&sent);
        let thread = std::thread::Builder::new()
            .name("wemu-jit".to_owned())
            .spawn(move || {
                let ended = Ended(count);
                let mut compiler = Compiler::new(isa);
                for msg in inbox {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match msg {
                        Msg::Compile(job) => {
                            if outbox.send(compiler.compile(&job)).is_err() {
                                break;
                            }
                            ended.0.fetch_add(1, Ordering::Release);
                        }
                        // SAFETY: the hart's side sends `Flush` after
                        // dropping every pointer into the cache, and drops
                        // every `Done` of an older epoch.
                        Msg::Flush => unsafe { compiler.flush() },
                    }
                }
            })
            .map_err(|e| JitError::Setup(format!("no compiler thread: {e}")))?;
        Ok(Worker { jobs: Some(jobs), done, thread: Some(thread), quit, sent, seen: 0 })
    }

    /// Queue `job`; false if the worker is gone.
    pub(super) fn send(&self, job: Job) -> bool {
        self.jobs.as_ref().is_some_and(|j| j.send(Msg::Compile(Box::new(job))).is_ok())
    }

    /// Free the code cache once the jobs before have been compiled.
    pub(super) fn flush(&self) {
        if let Some(j) = &self.jobs {
            // A worker that is gone has no cache left to free.
            let _ = j.send(Msg::Flush);
        }
    }

    /// A finished job, if one is waiting; `Err` if the worker died.
    pub(super) fn try_recv(&mut self) -> Result<Option<Done>, ()> {
        if self.sent.load(Ordering::Acquire) == self.seen {
            return Ok(None);
        }
        match self.done.try_recv() {
            Ok(d) => {
                self.seen += 1;
                Ok(Some(d))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop, `quit` at the next
        // job; wait for it so its code cache is freed before the hart's
        // memory goes.
        self.quit.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            // A worker that panicked has nothing left to clean up.
            let _ = t.join();
        }
    }
}
