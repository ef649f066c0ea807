//! Direct links to workers (docs/protocol.md "Direct links"): for each
//! worker the runner hands the shim one end of a socketpair whose other end
//! the worker holds, so that a hook goes hub -> worker -> hub over one
//! socket instead of through the runner.
//!
//! Only the hub thread reads and writes a link, so a hook costs one
//! socket round trip and no thread hop in the hub: it writes frames
//! (`vh_proto::direct::frame`: 4-byte little-endian length, one `ToWorker`) without
//! blocking past a bound, and while it waits for that script it sleeps in
//! `poll` on the link and on the IPC thread's wake-up eventfd, so the
//! runner's messages are served as before (docs/abi.md §9.2). The
//! worker sends on its link only what belongs to a call the hub thread is
//! waiting for (answers, and its main thread's `vh.*` calls); a hook the hub
//! gave up on stays "owed" and its link is read at every hub entry until
//! its answer comes.
//!
//! Parts: `write` (the hub thread's frames out), `read` (frames in,
//! tagged as the runner would tag them), `links` (the links by script),
//! `attach` (the side connection on which the runner hands them over).

mod attach;
mod links;
mod read;
mod write;

pub use attach::{attach, new_token};
pub use links::Links;
pub use write::SendError;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The shim's end of one worker's link; only the hub thread reads and
/// writes it.
pub struct DirectLink {
    script_id: i32,
    /// Non-blocking; used by the hub thread only.
    fd: OwnedFd,
    /// Set when a frame was cut short either way: the stream is unusable.
    broken: AtomicBool,
    /// Bytes read but not yet a whole frame.
    inbox: Mutex<Vec<u8>>,
    /// Calls the hub thread stopped waiting for (deadline passed) whose
    /// answers have not come yet.
    owed: Mutex<Owed>,
}

/// A link's unanswered calls, and its unit of `hooktable::OWING` while
/// there are any.
#[derive(Default)]
struct Owed {
    calls: Vec<u64>,
    counted: Option<crate::hooktable::Counted>,
}

impl Owed {
    /// Counts the link in `OWING` exactly while it owes answers.
    fn recount(&mut self) {
        if self.calls.is_empty() {
            self.counted = None;
        } else if self.counted.is_none() {
            self.counted = Some(crate::hooktable::Counted::new(&crate::hooktable::OWING));
        }
    }
}

impl DirectLink {
    /// The script this link belongs to.
    pub fn script_id(&self) -> i32 {
        self.script_id
    }

    /// The descriptor to `poll` on.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Notes that the hub stopped waiting for call `call_id`: until its
    /// answer comes, every hub entry reads this link (`hooktable::OWING`).
    pub fn owe(&self, call_id: u64) {
        if self.broken.load(Ordering::Acquire) {
            return;
        }
        let mut owed = self.owed.lock().unwrap_or_else(|e| e.into_inner());
        owed.calls.push(call_id);
        owed.recount();
    }

    /// Notes the answer to call `call_id`.
    pub fn paid(&self, call_id: u64) {
        let mut owed = self.owed.lock().unwrap_or_else(|e| e.into_inner());
        owed.calls.retain(|&c| c != call_id);
        owed.recount();
    }

    /// True while answers to calls the hub stopped waiting for are due.
    pub fn owing(&self) -> bool {
        !self
            .owed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .calls
            .is_empty()
    }

    /// Stops expecting late answers on this link (`hooktable::OWING`).
    fn disown(&self) {
        let mut owed = self.owed.lock().unwrap_or_else(|e| e.into_inner());
        owed.calls.clear();
        owed.recount();
    }

    /// Marks the link unusable and shuts the socket down (the worker's
    /// reads end).
    fn close(&self) {
        self.disown();
        self.broken.store(true, Ordering::Release);
        // SAFETY: shutting down our own socket.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_RDWR) };
    }
}
