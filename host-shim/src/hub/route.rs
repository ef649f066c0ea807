//! Sending to a worker: on its direct link when it has a usable one, else
//! through the runner (docs/protocol.md "Direct links"); answering a
//! worker's `vh.*` call the way it came; health pings to open circuits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use vh_proto::v1::{CallResult, Ping, ToWorker, shim_message, to_worker};

use super::Shim;
use super::script::Script;
use crate::direct::{DirectLink, SendError};
use crate::shim_log;

/// Least time between two health pings to a script with an open circuit.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Which way a message for a worker went, or a worker's message came.
#[derive(Clone)]
pub(super) enum Route {
    /// On the worker's direct link (docs/protocol.md "Direct links").
    Direct(Arc<DirectLink>),
    /// Through the runner.
    Relay,
}

impl Route {
    /// The direct link, if it went that way.
    pub(super) fn link(&self) -> Option<&Arc<DirectLink>> {
        match self {
            Route::Direct(l) => Some(l),
            Route::Relay => None,
        }
    }
}

impl Shim {
    /// Sends `kind` to script `id`'s worker: on its direct link if it has a
    /// usable one, else (or if the link fails) through the runner. `None`
    /// if it could not be sent at all.
    pub(super) fn send_to_worker(&self, id: i32, kind: to_worker::Kind) -> Option<Route> {
        let msg = ToWorker { kind: Some(kind) };
        if let Some(link) = self.links.get(id) {
            match link.send(&msg) {
                Ok(()) => return Some(Route::Direct(link)),
                Err(SendError::NotSent(why)) => {
                    shim_log!(
                        2,
                        "script #{id}: direct link: {why}; sending through the runner"
                    );
                }
                Err(SendError::Broken(why)) => {
                    self.links.remove(&link);
                    shim_log!(
                        0,
                        "script #{id}: direct link broken ({why}); its hooks go through the runner"
                    );
                }
            }
        }
        // The same envelope through the runner, which passes it on as is.
        self.ipc
            .send(shim_message::Kind::ToWorker(msg))
            .ok()
            .map(|()| Route::Relay)
    }

    /// Answers a worker's `vh.*` call the way it came: a call on the direct
    /// link is its main thread's, which reads that link; one through the
    /// runner may be another thread's, which only the runner link reaches.
    pub(super) fn send_result(&self, result: CallResult, via: Option<&Arc<DirectLink>>) {
        if via.is_some() {
            let id = result.script_id;
            self.send_to_worker(id, to_worker::Kind::CallResult(result));
        } else {
            let _ = self.ipc.relay(to_worker::Kind::CallResult(result));
        }
    }

    /// Sends a health ping to a script whose circuit is open, at most once
    /// per [`PING_EVERY`]; its `Pong` closes the circuit.
    pub(super) fn ping(&self, id: i32, script: &Script) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last = script.last_ping_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < PING_EVERY.as_millis() as u64 {
            return;
        }
        script.last_ping_ms.store(now, Ordering::Relaxed);
        let _ = self.ipc.relay(to_worker::Kind::Ping(Ping {
            script_id: id,
            seq: now,
        }));
    }
}
