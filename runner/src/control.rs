//! What flows between a hub's session, a script's supervisor and its
//! worker (docs/architecture.md "Code conventions"): [`Control`] commands go down to a supervisor,
//! [`ToShim`] carries everything back up to the hub. Both sides import this
//! module instead of each other, so ownership runs one way: session →
//! supervisor → worker, with the registry as shared state.

use tokio::sync::mpsc;
use tonic::Status;
use vh_proto::v1::{HookStuck, RunnerMessage, ToWorker};

/// Sender of the stream back to the shim.
pub type ToShim = mpsc::UnboundedSender<Result<RunnerMessage, Status>>;

/// What the session and the admin service tell a supervisor.
// A hook frame is the common case and is sent by value; boxing every one
// to shrink the rare large load frame would cost an allocation per hook.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Control {
    /// A frame for the worker (hook, vh.* result, unload, ping).
    Msg(ToWorker),
    /// `vh-runner restart`: start the worker again now, forget crashes.
    Restart,
    /// `vh-runner stop`: stop the worker until a restart.
    Stop,
    /// The hub gave up on a hook it sent on the direct link.
    Stuck(HookStuck),
    /// Round trips of direct-link hooks the hub measured, microseconds.
    Stats(Vec<u32>),
}
