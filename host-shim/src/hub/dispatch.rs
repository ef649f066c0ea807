//! What the hub thread does with each message it reads: run a `vh.*` call
//! (or a dynamic function) and answer it, note a worker that went down,
//! end the current wait, keep a reply for an outer one, or act on an
//! unsolicited message (a script back after a restart, a health ping's
//! answer, a late hook result).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use vh_proto::v1::{RunnerMessage, runner_message};

use super::Shim;
use super::script::Script;
use super::waits::{Awaited, Outcome, Routed};
use crate::direct::DirectLink;
use crate::ipc::Event;
use crate::shim_log;

impl Shim {
    /// Acts on one event (`via`: the direct link it came on, `None` for
    /// the runner). Returns the outcome if it ends the wait `current`.
    pub(super) fn handle(
        &self,
        ev: Event,
        current: Option<Awaited>,
        via: Option<&Arc<DirectLink>>,
    ) -> Option<Outcome> {
        let msg = match ev {
            Event::Msg(m) => m,
            Event::Disconnected(reason) => {
                for s in self
                    .scripts
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                {
                    s.up.store(false, Ordering::Release);
                }
                return current.map(|_| Outcome::Disconnected(reason));
            }
        };
        if let Some(runner_message::Kind::HubCall(call)) = &msg.kind {
            let result = self.table.call(call);
            if call.pipelined {
                // docs/protocol.md "Pipelined calls": run in order, no answer.
                self.pipelined.ran(call, &result, || {
                    self.script(call.script_id)
                        .map_or_else(|| "?".into(), |s| s.name.clone())
                });
            } else {
                crate::pipeline::count_answered();
                self.send_result(result, via);
            }
            return None;
        }
        if let Some(runner_message::Kind::DynamicCall(call)) = &msg.kind {
            let result = self.functions.call_dynamic(call);
            crate::pipeline::count_answered();
            self.send_result(result, via);
            return None;
        }
        if let Some(runner_message::Kind::Down(d)) = &msg.kind {
            let scripts = self.scripts.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = scripts.get(&d.script_id) {
                s.up.store(false, Ordering::Release);
                let first_line = d.reason.lines().next().unwrap_or("");
                match d.restart_in_ms {
                    0 => shim_log!(
                        0,
                        "script #{} {} stopped: {first_line}",
                        d.script_id,
                        s.name
                    ),
                    ms => shim_log!(
                        1,
                        "script #{} {} crashed: {first_line} (restart in {ms} ms)",
                        d.script_id,
                        s.name
                    ),
                }
            }
        }
        let routed = self.waits().route(msg, current);
        match routed {
            Routed::Answer(msg) => Some(Outcome::Reply(msg)),
            Routed::Stashed => None,
            Routed::Unclaimed(msg) => {
                self.unsolicited(msg);
                None
            }
        }
    }

    /// A message no wait asked for: a script back after a restart, a health
    /// ping's answer, or a late hook result (the script's main thread is
    /// free again, so its circuit closes). Anything else is a late answer
    /// to a wait that already gave up.
    fn unsolicited(&self, msg: RunnerMessage) {
        let script = |id: i32| self.script(id);
        let open = |s: &Arc<Script>| s.circuit_open.load(Ordering::Acquire);
        match msg.kind {
            Some(runner_message::Kind::Loaded(l)) if l.ok => {
                if let Some(s) = script(l.script_id) {
                    s.apply(&l);
                    shim_log!(
                        0,
                        "script #{} {} is back (worker pid {})",
                        l.script_id,
                        s.name,
                        l.pid
                    );
                }
            }
            Some(runner_message::Kind::Pong(p)) => {
                if let Some(s) = script(p.script_id).filter(open) {
                    s.close_circuit();
                    shim_log!(
                        0,
                        "script #{} {} answered its health ping; calling its hooks again",
                        p.script_id,
                        s.name
                    );
                }
            }
            Some(runner_message::Kind::HookResult(r)) => {
                if let Some(s) = script(r.script_id).filter(open) {
                    s.close_circuit();
                    shim_log!(
                        0,
                        "script #{} {} finished its slow hook; calling its hooks again",
                        r.script_id,
                        s.name
                    );
                }
            }
            _ => {}
        }
    }
}
