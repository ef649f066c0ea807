//! The hub thread's wait for a worker's answer (how the message went out
//! is `send`). [`Shim::wait`] waits for one answer and meanwhile serves
//! everything else that comes, from the runner and from direct links
//! (docs/abi.md §9.2), keeping the books in `waits`; the sleep on a direct
//! link, the nesting guard, and the reads of direct links. Then what it
//! does with each message it reads: a worker's message
//! ([`Shim::worker_message`], one path whether it came on the direct link
//! or through the runner: the same `FromWorker` envelope either way): run
//! a `vh.*` call (or a dynamic function) and answer it the way it came,
//! end the current wait, keep a reply for an outer one, or act on an
//! unsolicited message (a script back after a restart, a health ping's
//! answer, a late hook result); and the runner's own ([`Shim::handle`]): a
//! worker that went down, a lost stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use vh_proto::direct::wake::Woke;
use vh_proto::v1::{ScriptDown, from_worker};

use super::Shim;
use super::script::Script;
use super::waits::{Awaited, MAX_NESTED_WAITS, Nesting, Outcome, Reply, Routed};
use crate::direct::DirectLink;
use crate::hooktable;
use crate::ipc::Event;
use crate::shim_log;

/// What reading a direct link gave.
pub(super) enum LinkRead {
    /// Nothing new.
    Nothing,
    /// Messages, handled; none ended the wait.
    Handled,
    /// A message that ends the wait.
    Answer(Outcome),
    /// The worker closed the link or broke the protocol; it is dropped.
    Closed,
}

impl Shim {
    /// Waits for `what` until `deadline`, serving `vh.*` calls of any script
    /// on this (the hub's) thread meanwhile, including calls that re-enter
    /// the shim with nested hooks (docs/abi.md §9.2). When `what` went on a direct
    /// link, this thread reads that link itself and sleeps in `poll` on it
    /// and on the IPC thread's wake-up, so the answer costs no thread hop.
    pub(super) fn wait(
        &self,
        what: Awaited,
        deadline: Instant,
        link: Option<&Arc<DirectLink>>,
    ) -> Outcome {
        let disconnects = self.ipc.disconnects();
        self.waits().push(what);
        // Nothing read from the link since the request went out.
        let mut fresh = true;
        let outcome = loop {
            let stashed = self.waits().take_stashed(what);
            if let Some(reply) = stashed {
                break Outcome::Reply(reply);
            }
            // Leftovers and queued events count in `PENDING`: while there
            // are none (the usual hook), two atomic loads instead of a
            // lock and a queue read on every round.
            let due = hooktable::due();
            if due && let Some(o) = self.run_leftovers(Some(what)) {
                break o;
            }
            if self.ipc.disconnects() != disconnects {
                break Outcome::Disconnected("the runner link dropped".into());
            }
            let Some(link) = link else {
                match self.ipc.events().recv_deadline(deadline) {
                    Ok(ev) => {
                        if let Some(o) = self.handle(ev.take(), Some(what)) {
                            break o;
                        }
                        continue;
                    }
                    Err(_) => break Outcome::TimedOut,
                }
            };
            if due && let Ok(ev) = self.ipc.events().try_recv() {
                if let Some(o) = self.handle(ev.take(), Some(what)) {
                    break o;
                }
                continue;
            }
            // Right after the send, a thread that will sleep at once (no
            // spin budget: hooks at human rates) skips the read: the answer
            // cannot be there yet, and `poll` returns at once if anything
            // is. At human rates that read was one more system call on
            // every hook (docs/performance.md "Hooks at human rates"). The
            // budget is asked for only here and before a sleep (once for
            // both on the first round): once the answer woke this thread,
            // its traffic looks dense and the budget would sample
            // `/proc/loadavg` (`cpus_busy`).
            let budget = std::mem::take(&mut fresh).then(|| self.spinner.budget());
            if !budget.is_some_and(|b| b.is_zero()) {
                match self.read_link(link, Some(what)) {
                    LinkRead::Answer(o) => break o,
                    LinkRead::Handled => continue,
                    LinkRead::Closed => {
                        break Outcome::Disconnected("the worker closed its link".into());
                    }
                    LinkRead::Nothing => {}
                }
            }
            let budget = budget.unwrap_or_else(|| self.spinner.budget());
            if !self.sleep_on(link, deadline, budget) {
                break Outcome::TimedOut;
            }
        };
        let deferred = self.waits().finish(what);
        if let Some((id, script)) = deferred {
            self.stop_worker(id, &script);
        }
        outcome
    }

    /// Waits until `link` is readable, the IPC thread queued an event, or
    /// `deadline` (`vh_proto::direct::wake`): checks for `budget` (the
    /// spinner's, asked for once per sleep) first (nothing while every CPU is busy), then
    /// sleeps in `poll`, and tells the spinner how long it waited. False
    /// on timeout.
    fn sleep_on(&self, link: &DirectLink, deadline: Instant, budget: Duration) -> bool {
        // The worker is on its way: the last hook's books meanwhile.
        self.ipc.settle_round_trip();
        let started = Instant::now();
        let woke = self.wake.wait(
            link.raw_fd(),
            Some(deadline),
            budget,
            || !self.ipc.events().is_empty(),
            || (),
        );
        self.spinner.waited(started.elapsed());
        woke != Woke::TimedOut
    }

    /// True if one more hook or function wait may be stacked; else logs
    /// (once per incident) that `what` is skipped (docs/abi.md §9.2: "guard
    /// against unbounded recursion").
    pub(super) fn may_nest(&self, what: &str, id: i32) -> bool {
        let nesting = self.waits().check_nesting();
        let Nesting::Refused { depth, first } = nesting else {
            return true;
        };
        if first {
            shim_log!(
                0,
                "{what} for script #{id} not called: hooks nested {depth} deep inside vh.* calls (limit {MAX_NESTED_WAITS}; scripts calling each other through the hub?); the hub goes on as if allowed (logged once until the nesting unwinds)"
            );
        }
        false
    }

    /// Reads what `link` has and acts on it, for the wait `current` (if
    /// any). Messages after the one that ends the wait are kept for the
    /// next round (the wait stack's leftovers).
    pub(super) fn read_link(&self, link: &Arc<DirectLink>, current: Option<Awaited>) -> LinkRead {
        let msgs = match link.read_available() {
            Ok(m) => m,
            Err(_) => {
                self.links.remove(link);
                return LinkRead::Closed;
            }
        };
        if msgs.is_empty() {
            return LinkRead::Nothing;
        }
        let mut msgs = msgs.into_iter();
        while let Some(msg) = msgs.next() {
            let answered = match &msg {
                from_worker::Kind::HookResult(r) => Some(r.call_id),
                from_worker::Kind::FunctionResult(r) => Some(r.call_id),
                _ => None,
            };
            if let Some(call) = answered {
                link.paid(call);
            }
            if let Some(o) = self.worker_message(msg, current, Some(link)) {
                if msgs.len() > 0 {
                    self.waits()
                        .keep_leftovers(msgs.map(|m| (m, Arc::clone(link))));
                }
                return LinkRead::Answer(o);
            }
        }
        LinkRead::Handled
    }

    /// Handles messages kept by [`Self::read_link`]; the outcome if one
    /// ends the wait `current`.
    pub(super) fn run_leftovers(&self, current: Option<Awaited>) -> Option<Outcome> {
        loop {
            let next = self.waits().next_leftover();
            let (msg, link) = next?;
            if let Some(o) = self.worker_message(msg, current, Some(&link)) {
                return Some(o);
            }
        }
    }
}

impl Shim {
    /// Acts on one event the IPC thread queued (the runner's stream).
    /// Returns the outcome if it ends the wait `current`.
    pub(super) fn handle(&self, ev: Event, current: Option<Awaited>) -> Option<Outcome> {
        match ev {
            Event::Worker(msg) => self.worker_message(msg, current, None),
            Event::Down(down) => self.worker_down(down, current),
            Event::Disconnected(reason) => {
                for s in self
                    .scripts
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                {
                    s.up.store(false, Ordering::Release);
                }
                current.map(|_| Outcome::Disconnected(reason))
            }
        }
    }

    /// Acts on one worker's message, the same whichever way it came
    /// (`via`: the direct link it came on, `None` for the runner): runs a
    /// `vh.*` call or a dynamic function and answers it the same way, or
    /// hands a reply to the wait stack. Returns the outcome if it ends the
    /// wait `current`.
    pub(super) fn worker_message(
        &self,
        msg: from_worker::Kind,
        current: Option<Awaited>,
        via: Option<&Arc<DirectLink>>,
    ) -> Option<Outcome> {
        match msg {
            from_worker::Kind::HubCall(call) => {
                let result = self.table.call(&call);
                if call.pipelined {
                    // docs/protocol.md "Pipelined calls": run in order, no answer.
                    self.pipelined.ran(&call, &result, || {
                        self.script(call.script_id)
                            .map_or_else(|| "?".into(), |s| s.name.clone())
                    });
                } else {
                    crate::stats::count_answered();
                    self.send_result(result, via);
                }
                None
            }
            from_worker::Kind::DynamicCall(call) => {
                let result = self.functions.call_dynamic(&call);
                crate::stats::count_answered();
                self.send_result(result, via);
                None
            }
            reply => self.route_reply(Reply::Worker(reply), current),
        }
    }

    /// The runner says a worker stopped outside an unload: its script is
    /// down (hooks allow) and its waits end.
    fn worker_down(&self, d: ScriptDown, current: Option<Awaited>) -> Option<Outcome> {
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
        drop(scripts);
        self.route_reply(Reply::Down(d), current)
    }

    /// Hands `msg` to the wait it answers: the current one (which ends),
    /// an outer one (kept for it), or none.
    fn route_reply(&self, msg: Reply, current: Option<Awaited>) -> Option<Outcome> {
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
    fn unsolicited(&self, msg: Reply) {
        let script = |id: i32| self.script(id);
        let open = |s: &Arc<Script>| s.circuit_open.load(Ordering::Acquire);
        let Reply::Worker(msg) = msg else {
            return;
        };
        match msg {
            from_worker::Kind::Loaded(l) if l.ok => {
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
            from_worker::Kind::Pong(p) => {
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
            from_worker::Kind::HookResult(r) => {
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
