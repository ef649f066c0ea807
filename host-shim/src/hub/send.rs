//! How the hub thread's messages reach a worker. [`Shim::send_to_worker`]
//! picks each message's route: the worker's direct link when it has a
//! usable one, else (or if the link fails) the runner (docs/protocol.md
//! "Direct links"); a hook call goes on the link straight from the
//! plugin's struct ([`Shim::send_hook`]); a worker's `vh.*` call is
//! answered the way it came ([`Shim::send_result`]); a script with an
//! open circuit gets health pings ([`Shim::ping`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use vh_proto::direct::hook_frame::{Arg, Head};
use vh_proto::v1::{CallResult, HookCall, Ping, ToWorker, shim_message, to_worker};

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
        if let Some(link) = self.on_link(id, |link| link.send(&msg)) {
            return Some(Route::Direct(link));
        }
        // The same envelope through the runner, which passes it on as is.
        self.relay(msg)
    }

    /// Sends hook call `head` with `args` to script `id`'s worker as
    /// [`Self::send_to_worker`] sends the `HookCall` they make; on its
    /// direct link straight from the plugin's struct
    /// (`DirectLink::send_hook`), the message built only for the relay.
    pub(super) fn send_hook<'a>(
        &self,
        head: Head,
        args: impl ExactSizeIterator<Item = Arg<'a>> + Clone,
    ) -> Option<Route> {
        if let Some(link) = self.on_link(head.script_id, |link| link.send_hook(head, args.clone()))
        {
            return Some(Route::Direct(link));
        }
        self.relay(ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                script_id: head.script_id,
                call_id: head.call_id,
                hook: head.hook,
                args: args.map(Arg::to_value).collect(),
                hub_cpu: head.hub_cpu,
            })),
        })
    }

    /// Script `id`'s direct link if `send` wrote on it; else `None`, with
    /// a link that broke forgotten, and why logged.
    fn on_link(
        &self,
        id: i32,
        send: impl FnOnce(&DirectLink) -> Result<(), SendError>,
    ) -> Option<Arc<DirectLink>> {
        let link = self.links.get(id)?;
        match send(&link) {
            Ok(()) => return Some(link),
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
        None
    }

    /// `msg` through the runner, which passes it on as is.
    fn relay(&self, msg: ToWorker) -> Option<Route> {
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
