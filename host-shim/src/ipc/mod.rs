//! The shim's background IPC thread: one tokio runtime holding the gRPC
//! stream to the runner (docs/architecture.md "The hot path"), the side connection on
//! which the runner hands over direct links ([`crate::direct`]), and the
//! periodic `HookStats` report. The hub thread never touches the gRPC
//! stream: it queues outgoing messages on an unbounded channel and reads
//! incoming ones from a crossbeam channel, with a deadline; it reads and
//! writes direct links itself, and sleeps in [`Ipc::poll_hub`] so that
//! runner messages still wake it.
//!
//! Parts: `session` (connecting, the stream's life, reconnecting),
//! `send` (queuing a message, refusing one too big), `wake` (the hub
//! thread's sleep and its wake-up), `stats` (`HookStats` reports),
//! `loads` (the load requests replayed on a new stream).

mod loads;
mod send;
mod session;
mod stats;
mod wake;

pub use loads::Loads;
pub use send::Unsent;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use vh_proto::v1::{Hello, RunnerMessage, ShimMessage};

use crate::direct::Links;

/// What the IPC thread hands to the hub thread.
#[derive(Debug)]
pub enum Event {
    /// A message from the runner.
    Msg(RunnerMessage),
    /// The stream ended; every worker of this hub is gone with it.
    Disconnected(String),
}

/// State of the link to the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// An attempt is under way.
    Connecting,
    /// The stream is open.
    Connected,
    /// The last attempt failed or the stream ended, with the reason.
    Down(String),
}

/// Handle to the IPC thread, shared by the hub thread's entry points.
pub struct Ipc {
    out: Mutex<Option<mpsc::UnboundedSender<ShimMessage>>>,
    events: crossbeam_channel::Receiver<Event>,
    link: Mutex<(Link, u64)>,
    link_changed: Condvar,
    wake: Notify,
    stop: AtomicBool,
    disconnects: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Direct links to workers (docs/protocol.md "Direct links").
    links: Arc<Links>,
    /// Signalled after each event while the hub thread sleeps in `poll`
    /// on a direct link, so that it also wakes for the
    /// runner's messages.
    hub_wake: vh_proto::direct::wake::Wake,
    /// Round trips of direct-link hooks not yet reported, µs, by script.
    round_trips: Mutex<std::collections::HashMap<i32, Vec<u32>>>,
}

impl Ipc {
    /// Starts the IPC thread, which connects to `socket` at once and again
    /// with backoff whenever the link drops.
    ///
    /// # Errors
    /// If the thread cannot be spawned.
    pub fn start(socket: PathBuf, hello: Hello, loads: Loads) -> std::io::Result<Arc<Ipc>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let ipc = Arc::new(Ipc {
            out: Mutex::new(None),
            events: rx,
            link: Mutex::new((Link::Connecting, 0)),
            link_changed: Condvar::new(),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            disconnects: AtomicU64::new(0),
            thread: Mutex::new(None),
            links: Arc::default(),
            hub_wake: vh_proto::direct::wake::Wake::new()?,
            round_trips: Mutex::default(),
        });
        let me = Arc::clone(&ipc);
        // Built here, on the hub thread, with the hub's closed fds 0..2
        // held meanwhile: the runtime's own epoll, eventfd and socketpair
        // must not take those numbers (docs/abi.md §1.1, `crate::fds`).
        let rt = {
            let _held = vh_proto::fd::StdioPlaceholders::hold();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        };
        let handle = std::thread::Builder::new()
            .name("vh-shim-ipc".into())
            .spawn(move || {
                let rt = match rt {
                    Ok(rt) => rt,
                    Err(e) => {
                        me.set_link(Link::Down(format!("cannot start the IPC runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(me.run(socket, hello, loads, tx));
            })?;
        *ipc.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(ipc)
    }

    /// Incoming events, for the hub thread.
    pub fn events(&self) -> &crossbeam_channel::Receiver<Event> {
        &self.events
    }

    /// The direct links to workers the runner has handed over.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// How many times the stream has ended so far.
    pub fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Acquire)
    }

    /// Waits until the link is up, asking for a fresh attempt if it is
    /// down. Returns the reason if it is still down after `wait`.
    pub fn ensure_connected(&self, wait: Duration) -> Result<(), String> {
        let deadline = Instant::now() + wait;
        let mut guard = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Link::Down(_) = guard.0 {
            // Ask for an attempt now and wait for its outcome, not the old one.
            let seen = guard.1;
            self.wake.notify_one();
            let left = deadline.saturating_duration_since(Instant::now());
            guard = self
                .link_changed
                .wait_timeout_while(guard, left, |g| g.1 == seen || g.0 == Link::Connecting)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        guard = self
            .link_changed
            .wait_timeout_while(guard, left, |g| g.0 == Link::Connecting)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        match &guard.0 {
            Link::Connected => Ok(()),
            Link::Down(reason) => Err(reason.clone()),
            Link::Connecting => Err("still connecting".into()),
        }
    }

    /// Stops the thread and waits for it (bounded by the runtime's own
    /// shutdown: every await in it is interruptible by `wake`).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.links.clear();
        self.wake.notify_one();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Records the link's new state and wakes `ensure_connected`.
    fn set_link(&self, link: Link) {
        let mut guard = self.link.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 = link;
        guard.1 += 1;
        self.link_changed.notify_all();
    }
}
