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
//! This file is the shim's end of a link ([`DirectLink`]: its frames out,
//! never blocking long; its frames in, with the script id filled in) and
//! the links by script ([`Links`]); `attach` is the side connection on
//! which the runner hands them over. The frames, their limits, their
//! non-blocking write and buffered read, and the wait are both ends'
//! (`vh_proto::direct`).

mod attach;

pub use attach::{attach, new_token};

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use vh_proto::direct::compact;
use vh_proto::direct::frame::{self, Inbox};
use vh_proto::direct::hook_frame::{Arg, Head};
use vh_proto::v1::{FromWorker, ToWorker, from_worker};

use crate::shim_log;

/// The shim's end of one worker's link; only the hub thread reads and
/// writes it.
pub struct DirectLink {
    script_id: i32,
    /// Non-blocking; used by the hub thread only.
    fd: OwnedFd,
    /// Set when a frame was cut short either way: the stream is unusable.
    broken: AtomicBool,
    /// A Python 2 worker's link: hook calls go out as compact frames
    /// (`vh_proto::direct::compact`, docs/protocol.md "Compact frames").
    compact: bool,
    /// Bytes read but not yet a whole frame.
    inbox: Mutex<Inbox>,
    /// The hook call frame being written (`send_hook`), kept for the next.
    out: Mutex<Vec<u8>>,
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

    /// Notes the answer to call `call_id` (nothing to do, and no lock
    /// taken, while no link owes anything: the usual answer).
    pub fn paid(&self, call_id: u64) {
        if crate::hooktable::OWING.load(Ordering::Acquire) == 0 {
            return;
        }
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

/// Compact frames (`vh_proto::direct::compact`) written to and read from
/// Python 2 workers' direct links.
static COMPACT_SENT: AtomicU64 = AtomicU64::new(0);
static COMPACT_READ: AtomicU64 = AtomicU64::new(0);

/// Notes a compact frame written to a worker (`read`: false) or read from
/// one (true).
pub fn count_compact(read: bool) {
    let counter = if read { &COMPACT_READ } else { &COMPACT_SENT };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// `(compact frames written, compact frames read)` since the shim loaded.
pub fn compact_counters() -> (u64, u64) {
    (
        COMPACT_SENT.load(Ordering::Relaxed),
        COMPACT_READ.load(Ordering::Relaxed),
    )
}

/// Largest hook call frame buffer a link keeps between hooks (bytes); a
/// chat hook's is a few hundred.
const KEEP_OUT: usize = 64 * 1024;

/// Longest the hub thread waits for room in a link's socket buffer to
/// finish a frame it began, before it gives up on the link.
const WRITE_STALL: Duration = Duration::from_millis(100);

/// Why a frame did not go out on a link.
#[derive(Debug)]
pub enum SendError {
    /// Nothing was written (peer gone, or no room): send it another way.
    NotSent(String),
    /// Part of the frame was written: the link is broken and closed.
    Broken(String),
}

impl DirectLink {
    /// Writes `msg` as one frame from the hub thread
    /// (`vh_proto::direct::frame::send_nonblocking`: never SIGPIPE, never
    /// a wait if the socket buffer is full when the frame would begin, at
    /// most `WRITE_STALL` (100 ms) to finish a frame it began).
    ///
    /// # Errors
    /// [`SendError`]; after `Broken` the link is shut down.
    pub fn send(&self, msg: &ToWorker) -> Result<(), SendError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SendError::NotSent("the link is closed".into()));
        }
        // Protobuf on every link: a hook call, the one message with a
        // compact form, goes through `send_hook`.
        let mut buf = Vec::new();
        frame::encode(&mut buf, msg).map_err(|e| SendError::NotSent(e.to_string()))?;
        self.write(&buf)
    }

    /// Writes hook call `head` with arguments `args` as one frame, as
    /// [`Self::send`] writes the `HookCall` they make, but straight from
    /// the plugin's struct into a buffer the link keeps (docs/performance.md
    /// "One straight hook path"): a compact frame on a Python 2 worker's
    /// link when every argument has a marshal form
    /// (`compact::write_hook`), else protobuf (`frame::write_hook`).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn send_hook<'a>(
        &self,
        head: Head,
        args: impl ExactSizeIterator<Item = Arg<'a>> + Clone,
    ) -> Result<(), SendError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SendError::NotSent("the link is closed".into()));
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.clear();
        if self.compact && compact::write_hook(&mut out, head.call_id, head.hook, args.clone()) {
            count_compact(false);
        } else {
            frame::write_hook(&mut out, head, args)
                .map_err(|e| SendError::NotSent(e.to_string()))?;
        }
        let sent = self.write(&out);
        // A rare big hook's buffer is not kept for the link's whole life.
        if out.capacity() > KEEP_OUT {
            *out = Vec::new();
        }
        sent
    }

    /// Writes whole frames `buf` (`frame::send_nonblocking`: never
    /// SIGPIPE, never a wait if the socket buffer is full when the first
    /// byte would go, at most `WRITE_STALL` to finish what began).
    fn write(&self, buf: &[u8]) -> Result<(), SendError> {
        match frame::send_nonblocking(self.fd.as_raw_fd(), buf, WRITE_STALL) {
            Ok(()) => Ok(()),
            Err(e) if e.written == 0 => Err(SendError::NotSent(e.why)),
            Err(e) => {
                self.close();
                Err(SendError::Broken(e.why))
            }
        }
    }

    /// Reads what the worker has sent so far without blocking and returns
    /// every whole message in it, its script id filled in
    /// (`FromWorker::set_script_id`, as the runner does for what it
    /// relays). Load and unload reports never come on a link (they are the
    /// runner's word about a worker); one that does is dropped.
    ///
    /// # Errors
    /// The worker closed its end (`None`: it exited; the runner reports
    /// why), or sent something that is not a frame (`Some(why)`); the
    /// link is closed either way.
    pub fn read_available(&self) -> Result<Vec<from_worker::Kind>, Option<String>> {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        // Only a Python 2 worker's link may carry compact frames; on any
        // other one such a frame is a bad frame.
        let got = if self.compact {
            inbox.read_with(self.fd.as_raw_fd(), |buf| {
                let got = compact::decode_from_worker(buf);
                if matches!(got, Ok(Some(_))) && buf[3] & 0x80 != 0 {
                    count_compact(true);
                }
                got
            })
        } else {
            inbox.read_available::<FromWorker>(self.fd.as_raw_fd())
        };
        drop(inbox);
        if let Some(e) = got.bad {
            let why = format!("a bad frame: {e}");
            self.close();
            shim_log!(
                0,
                "script #{}: {why} on its direct link; the link is closed, its hooks go through the runner",
                self.script_id
            );
            return Err(Some(why));
        }
        let out: Vec<from_worker::Kind> = got
            .frames
            .into_iter()
            .filter_map(|m| m.kind)
            .filter(|k| {
                !matches!(
                    k,
                    from_worker::Kind::Loaded(_) | from_worker::Kind::Unloaded(_)
                )
            })
            .map(|mut k| {
                k.set_script_id(self.script_id);
                k
            })
            .collect();
        if got.closed && out.is_empty() {
            self.close();
            return Err(None);
        }
        Ok(out)
    }
}

/// The links this shim holds, by script id.
#[derive(Default)]
pub struct Links {
    map: RwLock<HashMap<i32, Arc<DirectLink>>>,
}

impl Links {
    /// Script `id`'s link, if it has a usable one.
    pub fn get(&self, id: i32) -> Option<Arc<DirectLink>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|l| !l.broken.load(Ordering::Acquire))
            .cloned()
    }

    /// Every link that still owes answers (see [`DirectLink::owe`]).
    pub fn owing(&self) -> Vec<Arc<DirectLink>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.values().filter(|l| l.owing()).cloned().collect()
    }

    /// Makes `link` its script's current one.
    fn insert(&self, link: Arc<DirectLink>) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(link.script_id, link);
    }

    /// Forgets `link` if it is still script's current one (a newer worker's
    /// link may have replaced it).
    pub fn remove(&self, link: &Arc<DirectLink>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&link.script_id)
            .is_some_and(|l| Arc::ptr_eq(l, link))
        {
            map.remove(&link.script_id);
        }
    }

    /// Forgets script `id`'s link (it was unloaded, or its load failed):
    /// its descriptor closes once no wait holds it (a script may unload
    /// itself from inside its hook, whose answer still comes on the link).
    pub fn forget(&self, id: i32) {
        let link = self
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(link) = link {
            link.disown();
        }
    }

    /// Forgets every link (`w_End`).
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
