//! Queuing a message for the runner, and refusing one too big for the
//! stream (`vh_proto::direct::frame::MAX_MESSAGE_LEN`).

use prost::Message;
use vh_proto::direct::frame::MAX_MESSAGE_LEN;
use vh_proto::v1::{CallResult, ShimMessage, ToWorker, shim_message, to_worker};

use super::Ipc;
use crate::shim_log;

/// Why [`Ipc::send`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// There is no open stream to the runner.
    NoStream,
    /// The message's encoding has this many bytes, over [`MAX_MESSAGE_LEN`]
    /// (already logged).
    TooBig(usize),
}

impl std::fmt::Display for Unsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsent::NoStream => f.write_str("the runner link dropped"),
            Unsent::TooBig(len) => f.write_str(&vh_proto::direct::frame::too_big(
                "the message",
                *len,
                MAX_MESSAGE_LEN,
            )),
        }
    }
}

/// "script #3's OnParsedMsgChat call" and the like, for the log line of a
/// message too big to send.
fn describe(msg: &ShimMessage) -> String {
    use to_worker::Kind;
    let Some(shim_message::Kind::ToWorker(ToWorker { kind: Some(kind) })) = &msg.kind else {
        return "a message to the runner".into();
    };
    match kind {
        Kind::Hook(h) => format!(
            "script #{}'s {} call",
            h.script_id,
            vh_proto::hooks::hook(i64::from(h.hook)).map_or("hook", |s| s.name),
        ),
        Kind::CallResult(r) => format!("the result of script #{}'s vh.* call", r.script_id),
        Kind::Function(f) => format!(
            "script #{}'s function call {}",
            f.script_id,
            String::from_utf8_lossy(&f.name)
        ),
        Kind::Load(l) => format!("the load of script #{}", l.script_id),
        _ => "a message to a worker".into(),
    }
}

impl Ipc {
    /// Queues `kind` for script's worker through the runner, in the
    /// envelope it has on the direct link (`ShimMessage.to_worker`); see
    /// [`Ipc::send`].
    ///
    /// # Errors
    /// As [`Ipc::send`].
    pub fn relay(&self, kind: to_worker::Kind) -> Result<(), Unsent> {
        self.send(shim_message::Kind::ToWorker(ToWorker { kind: Some(kind) }))
    }

    /// Queues `msg` for the runner.
    ///
    /// A message whose encoding exceeds [`MAX_MESSAGE_LEN`] would end the
    /// whole stream (tonic refuses it, the runner could not decode it), so
    /// it is never queued: a `CallResult` (the answer to a script's `vh.*`
    /// call, docs/abi.md §6.2) is replaced by a failed one whose error gives the
    /// size and the limit, so that only that call fails; anything else
    /// (a hook call with a huge chat line, docs/abi.md §5) is dropped with one log
    /// line and [`Unsent::TooBig`], and the caller treats it as "no
    /// opinion" or a failure.
    ///
    /// # Errors
    /// [`Unsent::NoStream`] if there is no open stream, [`Unsent::TooBig`]
    /// as above.
    pub fn send(&self, msg: shim_message::Kind) -> Result<(), Unsent> {
        let mut msg = ShimMessage { kind: Some(msg) };
        let len = msg.encoded_len();
        if len > MAX_MESSAGE_LEN {
            let what = vh_proto::direct::frame::too_big(&describe(&msg), len, MAX_MESSAGE_LEN);
            let payload = match &msg.kind {
                Some(shim_message::Kind::ToWorker(w)) => w.kind.as_ref(),
                _ => None,
            };
            let outcome = match payload {
                Some(to_worker::Kind::CallResult(_)) => "the script's call fails",
                Some(to_worker::Kind::Hook(_)) => "not sent; no opinion",
                _ => "not sent",
            };
            shim_log!(0, "{what}; {outcome}");
            let Some(to_worker::Kind::CallResult(r)) = payload else {
                return Err(Unsent::TooBig(len));
            };
            let failed = CallResult {
                script_id: r.script_id,
                call_id: r.call_id,
                ok: false,
                values: Vec::new(),
                error: vh_proto::direct::frame::too_big("the hub's result", len, MAX_MESSAGE_LEN),
            };
            msg.kind = Some(shim_message::Kind::ToWorker(ToWorker {
                kind: Some(to_worker::Kind::CallResult(failed)),
            }));
        }
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match out.as_ref() {
            Some(tx) if tx.send(msg).is_ok() => Ok(()),
            _ => Err(Unsent::NoStream),
        }
    }
}
