//! The direct link, both ends' shared part (docs/protocol.md "Direct
//! links", docs/architecture.md "The hot path"): what the shim's hub thread
//! and the worker's main thread do alike, written once.
//!
//! * [`frame`]: the frames (4-byte little-endian length, one prost
//!   message), the size limits and their one error text
//!   ([`frame::too_big`]), and their non-blocking write (SIGPIPE-free,
//!   bounded) and buffered read; the runner <-> worker socketpair carries
//!   the same frames and the gRPC stream the same limit;
//! * [`wake`]: the wait for the other end (a bounded, adaptive spin, then
//!   `poll` on the link and on an eventfd) and the eventfd.
//!
//! What each end does alone stays with it: the shim's links by script and
//! what a broken one means (`host-shim/src/direct`), the worker's held
//! pipelined calls and choice of socket (`py-sdk/src`).

pub mod frame;
pub mod wake;
