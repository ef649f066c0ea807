//! The shim's background IPC thread: one tokio runtime holding the gRPC
//! stream to the runner (docs/architecture.md "The hot path"), the side connection on
//! which the runner hands over direct links ([`crate::direct`]), and the
//! periodic `HookStats` report. The hub thread never touches the gRPC
//! stream: it queues outgoing messages on an unbounded channel and reads
//! incoming ones from a crossbeam channel, with a deadline. Direct links
//! are the hub thread's: this thread only adds the ones the
//! runner hands over to the hub's [`Links`], and signals the hub's
//! [`Wake`] after each message it queues, in case the hub thread sleeps on
//! a link.
//!
//! Parts: `session` (connecting, the stream's life, reconnecting),
//! `send` (queuing a message, refusing one too big), `loads` (the load
//! requests replayed on a new stream). The direct-link round trips it
//! reports as `HookStats` are recorded and sent by the shim's `stats`
//! module, which the hub thread calls.

mod loads;
mod send;
mod session;

pub use loads::Loads;
pub use send::Unsent;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use vh_proto::direct::wake::Wake;
use vh_proto::v1::{Hello, ScriptDown, ShimMessage, from_worker};

use crate::direct::Links;

/// What the IPC thread hands to the hub thread.
#[derive(Debug)]
pub enum Event {
    /// A worker's message the runner relayed (`RunnerMessage.from_worker`,
    /// its script id filled in): the hub thread handles it as one read on
    /// the worker's direct link.
    Worker(from_worker::Kind),
    /// The runner's word that a worker stopped (`ScriptDown`).
    Down(ScriptDown),
    /// The stream ended; every worker of this hub is gone with it.
    Disconnected(String),
}

/// An event queued for the hub thread, counted in
/// [`crate::hooktable::PENDING`] until the hub thread takes it.
#[derive(Debug)]
pub struct Queued {
    event: Event,
    _pending: crate::hooktable::Counted,
}

impl Queued {
    /// Queues `event` (counts it in `PENDING`).
    fn new(event: Event) -> Queued {
        Queued {
            event,
            _pending: crate::hooktable::Counted::new(&crate::hooktable::PENDING),
        }
    }

    /// The event, taken by the hub thread (no longer counted).
    pub fn take(self) -> Event {
        self.event
    }
}

/// State of the connection to the runner (the gRPC stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// An attempt is under way.
    Connecting,
    /// The stream is open.
    Connected,
    /// The last attempt failed or the stream ended, with the reason.
    Down(String),
    /// The runner speaks another protocol version (`vh_proto::PROTOCOL`):
    /// the line naming both.
    Incompatible(String),
}

/// Why [`Ipc::ensure_connected`] found no runner to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotConnected {
    /// None answered in time, with the reason.
    Unreachable(String),
    /// One answered but speaks another protocol version: the line naming
    /// both.
    Incompatible(String),
}

/// Handle to the IPC thread, shared by the hub thread's entry points.
pub struct Ipc {
    out: Mutex<Option<mpsc::UnboundedSender<ShimMessage>>>,
    events: crossbeam_channel::Receiver<Queued>,
    connection: Mutex<(Connection, u64)>,
    connection_changed: Condvar,
    wake: Notify,
    stop: AtomicBool,
    disconnects: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The hub thread's direct links, which the runner's handed-over
    /// ones join (docs/protocol.md "Direct links").
    links: Arc<Links>,
    /// The hub thread's wake-up, signalled after each event queued.
    hub_wake: Arc<Wake>,
    /// Round trips of direct-link hooks not yet reported, µs, by script
    /// (kept and sent by the shim's `stats` module).
    pub(crate) round_trips: Mutex<std::collections::HashMap<i32, Vec<u32>>>,
    /// The latest round trip, not yet in `round_trips` (the shim's
    /// `stats` module: `Ipc::record_round_trip`).
    pub(crate) latest_round_trip: AtomicU64,
}

/// The empty `Ipc::latest_round_trip` slot.
pub(crate) const NO_ROUND_TRIP: u64 = u64::MAX;

impl Ipc {
    /// Starts the IPC thread, which connects to `socket` at once and again
    /// with backoff whenever the connection drops; direct links the runner
    /// hands over go into `links`, and `hub_wake` is signalled after each
    /// event queued for the hub thread.
    ///
    /// # Errors
    /// If the thread cannot be spawned.
    pub fn start(
        socket: PathBuf,
        hello: Hello,
        loads: Loads,
        links: Arc<Links>,
        hub_wake: Arc<Wake>,
    ) -> std::io::Result<Arc<Ipc>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let ipc = Arc::new(Ipc {
            out: Mutex::new(None),
            events: rx,
            connection: Mutex::new((Connection::Connecting, 0)),
            connection_changed: Condvar::new(),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            disconnects: AtomicU64::new(0),
            thread: Mutex::new(None),
            links,
            hub_wake,
            round_trips: Mutex::default(),
            latest_round_trip: AtomicU64::new(NO_ROUND_TRIP),
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
                        me.set_connection(Connection::Down(format!(
                            "cannot start the IPC runtime: {e}"
                        )));
                        return;
                    }
                };
                rt.block_on(me.run(socket, hello, loads, tx));
            })?;
        *ipc.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(ipc)
    }

    /// Incoming events, for the hub thread.
    pub fn events(&self) -> &crossbeam_channel::Receiver<Queued> {
        &self.events
    }

    /// How many times the stream has ended so far.
    pub fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Acquire)
    }

    /// Waits until the connection is up, asking for a fresh attempt if it is
    /// down.
    ///
    /// # Errors
    /// Why it is still down after `wait`.
    pub fn ensure_connected(&self, wait: Duration) -> Result<(), NotConnected> {
        let deadline = Instant::now() + wait;
        let mut guard = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        if let Connection::Down(_) | Connection::Incompatible(_) = guard.0 {
            // Ask for an attempt now and wait for its outcome, not the old one.
            let seen = guard.1;
            self.wake.notify_one();
            let left = deadline.saturating_duration_since(Instant::now());
            guard = self
                .connection_changed
                .wait_timeout_while(guard, left, |g| {
                    g.1 == seen || g.0 == Connection::Connecting
                })
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        guard = self
            .connection_changed
            .wait_timeout_while(guard, left, |g| g.0 == Connection::Connecting)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        match &guard.0 {
            Connection::Connected => Ok(()),
            Connection::Down(reason) => Err(NotConnected::Unreachable(reason.clone())),
            Connection::Incompatible(line) => Err(NotConnected::Incompatible(line.clone())),
            Connection::Connecting => Err(NotConnected::Unreachable("still connecting".into())),
        }
    }

    /// Stops the thread and waits for it (bounded by the runtime's own
    /// shutdown: every await in it is interruptible by `wake`).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.wake.notify_one();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Records the connection's new state and wakes `ensure_connected`.
    fn set_connection(&self, state: Connection) {
        let mut guard = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 = state;
        guard.1 += 1;
        self.connection_changed.notify_all();
    }
}
