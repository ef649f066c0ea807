//! The worker main thread's side of its links: how it waits for its next
//! event, and which way each of its messages goes out (its route,
//! docs/architecture.md "Glossary"; docs/protocol.md "Direct links").
//!
//! The wait ([`Transport::next_main`], for `Channel.recv_main`). Without a
//! direct link the main thread waits on the runner reader's queue; with
//! one it also reads the link itself: it spins on it while the hub sends
//! hooks densely (`vh_proto::direct::wake::Adaptive`), then sleeps in
//! `poll` on it and on the reader's wake-up (`vh_proto::direct::wake`), so
//! a hook from the hub reaches Python with no thread hop
//! (docs/performance.md). Where it sleeps is module `hub_cpu`'s rule
//! (`HubCpu`).
//!
//! The way out ([`Route`], [`ActiveRequests`]). A hook's or function
//! call's answer goes back the way the request came (the runner watches
//! the hooks it relayed); `vh.*` calls of the main thread take the direct
//! link while the innermost request came on it and the hub waits for it,
//! since the hub thread is then reading that link; calls of other threads,
//! pongs and load/unload reports go to the runner.
//!
//! Pipelined `vh.*` calls ([`Held`]) are held back until the main thread's
//! next frame on the direct link (docs/protocol.md "Pipelined calls"). A
//! pipelined call needs no answer, so nothing is lost by writing it a
//! little later, together with the frame that follows it on the link (the
//! hook's result, or a call that waits): the hub thread then finds the
//! calls and that frame in one read, and wakes once per hook instead of
//! once per call. The order on the link is the order of the script's calls.
//! A script that goes on sending for longer than [`HOLD_AT_MOST`], or
//! holds more than [`HOLD_BYTES`], has its calls written at its next
//! pipelined call; the main thread writes whatever is held before it waits
//! for anything (the wait above).

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use prost::Message;
use vh_proto::direct::frame::{decode_to_worker, hook_view};
use vh_proto::direct::wake::Woke;
use vh_proto::v1::{FromWorker, ToWorker, to_worker};

use super::Transport;
use crate::values::Incoming;

/// Which way a message came or goes: the relay or the direct link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The relay: fd `VH_WORKER_FD`, to the runner, which passes it on.
    Relay,
    /// Fd `VH_DIRECT_FD`, to the hub's shim.
    Direct,
}

impl Transport {
    /// The next event for the main thread and the link it came on, `None`
    /// after `timeout` seconds. Writes any held pipelined calls first.
    pub fn next_main(&self, timeout: Option<f64>) -> Option<(Incoming, Route)> {
        match self.next_main_or_hook(timeout, None)? {
            Next::Event(ev, route) => Some((ev, route)),
            // Not asked for.
            Next::Hook => None,
        }
    }

    /// [`Transport::next_main`], but a hook that comes alone on the direct
    /// link, a frame [`hook_view`] reads (a hub's usual event), is left as
    /// its frame's bytes in `raw` ([`Next::Hook`]; its `hub_cpu` noted,
    /// not yet activated): the caller reads it in place, with no owned
    /// `HookCall` made and queued. With `raw` `None`, never
    /// [`Next::Hook`].
    pub fn next_main_or_hook(
        &self,
        timeout: Option<f64>,
        raw: Option<&mut Vec<u8>>,
    ) -> Option<Next> {
        // Nothing stays held while the main thread waits (`Held`, below).
        if !self.held.is_empty() {
            let _ = self.write_direct(None);
        }
        let started = Instant::now();
        let got = self.next_main_inner(timeout, raw);
        let took = started.elapsed();
        self.spin.waited(took);
        self.hub_cpu.waited(took);
        got
    }

    fn next_main_inner(&self, timeout: Option<f64>, mut raw: Option<&mut Vec<u8>>) -> Option<Next> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            match self.main_rx.try_recv() {
                Ok(ev) => return Some(Next::Event(ev, Route::Relay)),
                Err(TryRecvError::Disconnected) => {
                    return Some(Next::Event(
                        Incoming::Closed("reader stopped".into()),
                        Route::Relay,
                    ));
                }
                Err(TryRecvError::Empty) => {}
            }
            // A frame read with the one taken last time comes first.
            let kept = self.direct.as_ref().and_then(|d| {
                let mut unread = d.unread.lock().unwrap_or_else(|e| e.into_inner());
                unread.frames.pop_front()
            });
            if let Some(msg) = kept {
                match self.direct_frame(msg) {
                    Some((ev, route)) => return Some(Next::Event(ev, route)),
                    None => continue,
                }
            }
            let direct = self
                .direct
                .as_ref()
                .filter(|_| self.direct_up.load(Ordering::Acquire));
            let Some(direct) = direct else {
                let got = match deadline {
                    None => self
                        .main_rx
                        .recv()
                        .map_err(|_| RecvTimeoutError::Disconnected),
                    Some(d) => self.main_rx.recv_deadline(d),
                };
                return match got {
                    Ok(ev) => Some(Next::Event(ev, Route::Relay)),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Next::Event(
                        Incoming::Closed("reader stopped".into()),
                        Route::Relay,
                    )),
                };
            };
            let woke = self.wake.wait(
                direct.reader.as_raw_fd(),
                deadline,
                self.spin.budget(),
                || !self.main_rx.is_empty(),
                // A sleep waits on the hub's CPU (module `hub_cpu`).
                || self.hub_cpu.pin_for_sleep(),
            );
            match woke {
                Woke::Queued => continue,
                Woke::TimedOut => return None,
                Woke::Link => {}
            }
            // One `recv` for what the link has (a hook's frame, as a rule,
            // whole and alone): a read of the length and then one of the
            // body was one more system call on every hook.
            let mut unread = direct.unread.lock().unwrap_or_else(|e| e.into_inner());
            let closed = unread.bytes.fill(direct.reader.as_raw_fd());
            // The usual read: one hook's frame, whole and alone. Nothing
            // was kept before it (`frames` is empty: checked above; a cut
            // frame's start would make this no single frame).
            if let Some(raw) = raw.as_deref_mut()
                && !closed
                && let Some(hook) = hook_view(unread.bytes.bytes())
            {
                self.hub_cpu.note(hook.hub_cpu);
                unread.bytes.move_to(raw);
                return Some(Next::Hook);
            }
            let got = unread.bytes.take_with(decode_to_worker, closed);
            unread.frames.extend(got.frames);
            if got.bad.is_some() || got.closed {
                // The hub closed it (or broke it): everything goes
                // through the runner from now on; frames read whole
                // before that are still served.
                self.direct_up.store(false, Ordering::Release);
            }
        }
    }

    /// The event of a frame from the direct link (`None`: an empty one),
    /// noting a hook's `hub_cpu`.
    fn direct_frame(&self, msg: ToWorker) -> Option<(Incoming, Route)> {
        let kind = msg.kind?;
        if let to_worker::Kind::Hook(call) = &kind {
            self.hub_cpu.note(call.hub_cpu);
        }
        Some((Incoming::Frame(kind), Route::Direct))
    }
}

/// What [`Transport::next_main_or_hook`] found.
// Moved once per event, as `(Incoming, Route)` was: a box would be an
// allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// An event, and the link it came on.
    Event(Incoming, Route),
    /// A hook on the direct link, its frame's bytes in the caller's
    /// buffer (read them with [`hook_view`]).
    Hook,
}

/// A hook or function call the main thread has been handed and not yet
/// answered: the link it came on, and whether the hub waits for it.
#[derive(Debug, Clone, Copy)]
struct Active {
    call_id: u64,
    route: Route,
    awaited: bool,
}

/// The requests the main thread is serving, innermost last.
#[derive(Default)]
pub struct ActiveRequests {
    stack: Mutex<Vec<Active>>,
}

impl ActiveRequests {
    /// The link a main-thread `vh.*` call takes: the direct one while the
    /// innermost request came on it and the hub waits for it (so the hub
    /// thread is reading that link); else the runner's.
    pub fn main_route(&self) -> Route {
        let active = self.stack.lock().unwrap_or_else(|e| e.into_inner());
        match active.last() {
            Some(a) if a.route == Route::Direct && a.awaited => Route::Direct,
            _ => Route::Relay,
        }
    }

    /// The link to answer hook or function call `call_id` on (forgotten
    /// now): the one it came on if the hub waits for the answer there,
    /// else the runner's (a hook whose result the hub ignores: the runner
    /// passes it on as a late answer).
    pub fn origin(&self, call_id: u64) -> Route {
        let mut active = self.stack.lock().unwrap_or_else(|e| e.into_inner());
        match active.iter().rposition(|a| a.call_id == call_id) {
            Some(i) => {
                let a = active.remove(i);
                if a.route == Route::Direct && a.awaited {
                    Route::Direct
                } else {
                    Route::Relay
                }
            }
            None => Route::Relay,
        }
    }

    /// Notes a request handed to the main thread (hooks and function
    /// calls; other messages are not answered).
    pub fn activate(&self, kind: &to_worker::Kind, route: Route) {
        match kind {
            to_worker::Kind::Hook(h) => self.activate_hook(h.call_id, h.hook, route),
            to_worker::Kind::Function(f) => self.push(f.call_id, true, route),
            _ => {}
        }
    }

    /// [`ActiveRequests::activate`] for hook call `call_id` of hook index
    /// `hook`.
    pub fn activate_hook(&self, call_id: u64, hook: u32, route: Route) {
        let awaited = !vh_proto::hooks::result_ignored(hook as usize);
        self.push(call_id, awaited, route);
    }

    fn push(&self, call_id: u64, awaited: bool, route: Route) {
        self.stack
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Active {
                call_id,
                route,
                awaited,
            });
    }
}

/// Longest a pipelined call is held while the script keeps running.
pub const HOLD_AT_MOST: Duration = Duration::from_micros(500);
/// Most bytes held before they are written.
pub const HOLD_BYTES: usize = 64 * 1024;

/// The held frames, oldest first.
#[derive(Default)]
pub struct Held {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    frames: Vec<FromWorker>,
    bytes: usize,
    since: Option<Instant>,
}

impl Held {
    /// Holds `msg`; true if what is held should be written now (the
    /// oldest frame is older than [`HOLD_AT_MOST`] or there are more than
    /// [`HOLD_BYTES`]).
    pub fn push(&self, msg: FromWorker) -> bool {
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.bytes += msg.encoded_len() + 4;
        h.frames.push(msg);
        let since = *h.since.get_or_insert_with(Instant::now);
        h.bytes > HOLD_BYTES || since.elapsed() > HOLD_AT_MOST
    }

    /// Takes every held frame, oldest first.
    pub fn take(&self) -> Vec<FromWorker> {
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.bytes = 0;
        h.since = None;
        std::mem::take(&mut h.frames)
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .frames
            .is_empty()
    }
}

/// `frames` as one buffer of frames, to be written with one system call
/// (`vh_proto::direct::frame::encode_all`, as the shim encodes them).
///
/// # Errors
/// A frame over `vh_proto::direct::frame::MAX_FRAME_LEN` (the caller
/// checked the message limit, far below it).
pub fn encode_all(frames: &[FromWorker]) -> std::io::Result<Vec<u8>> {
    vh_proto::direct::frame::encode_all(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vh_proto::v1::{HubCall, from_worker};

    fn call(text: usize) -> FromWorker {
        FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                callback: "x".repeat(text),
                pipelined: true,
                ..HubCall::default()
            })),
        }
    }

    #[test]
    fn frames_are_held_in_order_until_old_or_big() {
        let held = Held::default();
        assert!(!held.push(call(1)));
        assert!(!held.push(call(2)));
        std::thread::sleep(HOLD_AT_MOST + Duration::from_micros(100));
        assert!(held.push(call(3)), "the oldest is past HOLD_AT_MOST");
        let frames = held.take();
        assert!(held.is_empty());
        let names: Vec<usize> = frames
            .iter()
            .map(|f| match &f.kind {
                Some(from_worker::Kind::HubCall(c)) => c.callback.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(names, [1, 2, 3]);
        assert!(held.push(call(HOLD_BYTES)), "past HOLD_BYTES");
        let buf = encode_all(&held.take()).expect("encodes");
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        assert_eq!(buf.len(), 4 + len);
    }
}
