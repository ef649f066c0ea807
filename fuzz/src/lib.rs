//! Fuzz harnesses of vh-runner. Each public function takes one
//! fuzzer input, never panics on any input unless it found a bug, and is
//! shared by its cargo-fuzz target (`fuzz_targets/`) and the replay test
//! (`tests/replay.rs`), which runs every file of `seeds/` and
//! `regressions/` through it on stable Rust.
//!
//! * [`targs`]: `w_pack` / `w_unpack` called through the C ABI (varargs),
//!   `targs::build`, `w_packprint`, `w_free_args` (docs/abi.md §2);
//! * [`hub_call`]: the shim running a `vh.*` call against a callback table
//!   whose callbacks return arbitrary results (docs/abi.md §6.3);
//! * [`frame`]: `vh_proto::direct::frame::read_frame` and the runner's
//!   length-delimited codec on arbitrary bytes;
//! * [`proto_decode`]: every prost message type from arbitrary bytes;
//! * [`config`]: the runner's TOML configuration from arbitrary text.

mod compact;
mod config_text;
mod frames;
mod hub_calls;
mod messages;
pub mod pack;

pub use compact::compact;
pub use config_text::config;
pub use frames::frame;
pub use hub_calls::hub_call;
pub use messages::proto_decode;
pub use pack::targs;
