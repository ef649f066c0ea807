//! vh-hubsim: a Verlihub hub simulator for testing `libvh_python_wrapper.so`.
//!
//! The simulator itself is C (`c/`, built by `build.rs`): it `dlopen`s a wrapper library
//! and drives it exactly as the hub's `python_pi` plugin does (docs/abi.md), over a
//! simulated hub, recording everything the hub would send. This crate exposes it to Rust
//! tests and ships the `hubsim` command-line program.
//!
//! * [`ffi`]: the raw C API of `c/hubsim.h`.
//! * [`Hub`]: a safe handle on the (process-global) simulated hub.
//! * [`python2`]: finding a Python 2.7 for the tests and the bench.
//!
//! See `tests/hubsim/README.md` for the record and transcript formats.

pub mod ffi;
mod hub;
pub mod python2;

pub use hub::{Generation, HookArg, Hub, ReplayStats};
