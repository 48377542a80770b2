//! Compiling on a worker thread: the hart hands regions to a [`Worker`]
//! and goes on interpreting; finished regions are picked up at the next
//! region lookup (`Jit::enter`). Which tier runs an instruction changes
//! nothing the guest sees (both are instret-exact), so when a region
//! arrives does not matter.

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
}

impl Worker {
    pub(super) fn spawn(isa: OwnedTargetIsa) -> Result<Worker, JitError> {
        let (jobs, inbox) = channel::<Msg>();
        let (outbox, done) = channel::<Done>();
        let thread = std::thread::Builder::new()
            .name("wemu-jit".to_owned())
            .spawn(move || {
                let mut compiler = Compiler::new(isa);
                for msg in inbox {
                    match msg {
                        Msg::Compile(job) => {
                            if outbox.send(compiler.compile(&job)).is_err() {
                                break;
                            }
                        }
                        // SAFETY: the hart's side sends `Flush` after
                        // dropping every pointer into the cache, and drops
                        // every `Done` of an older epoch.
                        Msg::Flush => unsafe { compiler.flush() },
                    }
                }
            })
            .map_err(|e| JitError::Setup(format!("no compiler thread: {e}")))?;
        Ok(Worker { jobs: Some(jobs), done, thread: Some(thread) })
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
    pub(super) fn try_recv(&self) -> Result<Option<Done>, ()> {
        match self.done.try_recv() {
            Ok(d) => Ok(Some(d)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; wait for it so its
        // code cache is freed before the hart's memory goes.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            // A worker that panicked has nothing left to clean up.
            let _ = t.join();
        }
    }
}
