//! What flows between a hub's session, a script's supervisor and its
//! worker (docs/architecture.md "Code conventions"): [`Control`] commands go down to a supervisor,
//! [`ToShim`] carries everything back up to the hub. Both sides import this
//! module instead of each other, so ownership runs one way: session →
//! supervisor → worker, with the registry as shared state.

use tokio::sync::mpsc;
use tonic::Status;
use vh_proto::v1::{FromWorker, HookStuck, RunnerMessage, ToWorker, from_worker, runner_message};

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

/// Passes a worker's message on to the shim as it is, in the stream's
/// envelope (`RunnerMessage.from_worker`; its script id filled in).
pub fn pass_on(to_shim: &ToShim, msg: FromWorker) {
    tell(to_shim, runner_message::Kind::FromWorker(msg));
}

/// Answers the shim in a worker's place (no route to it, a worker that is
/// down, a message too big): `kind` as the worker would have sent it.
pub fn answer(to_shim: &ToShim, kind: from_worker::Kind) {
    pass_on(to_shim, FromWorker { kind: Some(kind) });
}

/// Sends one of the runner's own messages to the shim.
pub fn tell(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}
