//! The worker's route for each message (docs/architecture.md "Glossary":
//! the direct link or the relay; docs/protocol.md "Direct links"). A
//! hook's or function call's answer goes back the way the request came
//! (the runner watches the hooks it relayed); `vh.*` calls of the main
//! thread take the direct link while the innermost request came on it and
//! the hub waits for it, since the hub thread is then reading that link;
//! calls of other threads, pongs and load/unload reports go to the runner.
//!
//! Pipelined `vh.*` calls ([`Held`]) are held back until the worker's next
//! frame on the direct link (docs/protocol.md "Pipelined calls"):
//!
//! A pipelined call needs no answer, so nothing is lost by writing it a
//! little later, together with the frame that follows it on the link (the
//! hook's result, or a call that waits): the hub thread then finds the
//! calls and that frame in one read, and wakes once per hook instead of
//! once per call. The order on the link is the order of the script's calls.
//! A script that goes on sending for longer than [`HOLD_AT_MOST`], or
//! holds more than [`HOLD_BYTES`], has its calls written at its next
//! pipelined call; the main thread writes whatever is held before it waits
//! for anything.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prost::Message;
use vh_proto::v1::{FromWorker, to_worker};

/// Which way a message came or goes: the relay or the direct link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The relay: fd `VH_WORKER_FD`, to the runner, which passes it on.
    Relay,
    /// Fd `VH_DIRECT_FD`, to the hub's shim.
    Direct,
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
        let (call_id, awaited) = match kind {
            to_worker::Kind::Hook(h) => {
                (h.call_id, !vh_proto::hooks::result_ignored(h.hook as usize))
            }
            to_worker::Kind::Function(f) => (f.call_id, true),
            _ => return,
        };
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
