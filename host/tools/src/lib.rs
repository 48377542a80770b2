//! wemu's developer tools, behind their subcommands: `wemu validate`
//! ([`validate`]), `wemu new-device` and `wemu componentize` ([`newdev`]).
//! The C SDK they copy out is `wemu_builtins::c_sdk`.

pub mod newdev;
pub mod validate;
