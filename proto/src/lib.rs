//! Wire messages of vh-runner, generated from `proto/vh.proto`.
//!
//! * [`v1::runner_client`] / [`v1::runner_server`] (feature `grpc`): the
//!   shim <-> runner gRPC stream.
//! * [`frame`]: the length-delimited framing used between runner and worker.
//! * [`spin`]: bounded busy-waiting of the two ends of a direct link.

/// Messages of package `vh.v1`; see `proto/vh.proto` for every field.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/vh.v1.rs"));
}

pub mod frame;
pub mod hooks;
pub mod spin;
