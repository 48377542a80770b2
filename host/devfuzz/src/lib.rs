//! `wemu fuzz`: fuzzing one device component alone, in a sandbox the
//! fuzzer controls (see docs/fuzzing.md).
//!
//! | module | concern |
//! |--------|---------|
//! | `ops` | the input format: operations decoded from bytes |
//! | `env` | the sandbox: RAM, clock and timers, IRQ lines, ports, block image |
//! | `memory`, `block` | the sandbox's RAM and in-memory block image |
//! | `harness` | running one input, the save/restore and reset oracles, host panics |
//! | `instrument`, `coverage` | block counters compiled into the device's code, read by the host |
//! | `mutate`, `engine` | mutations, corpus, workers, progress |
//! | `replay` | reproducing and minimising a saved input |
//! | `finding` | finding kinds and signatures |
//! | `campaign` | the shipped devices' campaign (tests, benches) |
//! | `target` | loading the component |

mod block;
pub mod campaign;
mod coverage;
mod engine;
mod env;
mod finding;
mod harness;
mod instrument;
mod memory;
mod mutate;
mod ops;
mod replay;
mod target;
#[cfg(test)]
mod tests;

pub use engine::{FuzzError, FuzzOptions, Progress, Summary, fuzz};
pub use finding::{Finding, FindingKind, UnknownFindingKind};
pub use harness::{Harness, install_panic_hook};
pub use replay::{Minimized, minimize, replay};
pub use target::{FuzzTarget, FuzzTargetError, FuzzTargetOptions};
/// `k=v,k2=v2` as device properties, typed as `--device` types them.
pub use wemu_sandbox::props::parse_list as parse_props;
