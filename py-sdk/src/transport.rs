//! The worker's transport: its socket to the runner (fd `VH_WORKER_FD`)
//! and, when the runner gave it one, its direct link to the hub (fd
//! `VH_DIRECT_FD`, docs/protocol.md "Direct links"): frames out, and
//! calls from threads other than the main one ([`Transport::blocking`]).
//! The main thread's side is module [`main_thread`]: its wait for its next
//! event, and its way out (which link each message takes, and the
//! pipelined calls held until its next frame on the direct link). Python
//! sees none of it but through `vh._core.Channel` (module `channel`).

mod main_thread;

use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use prost::Message;
use pyo3::exceptions::PyConnectionError;
use pyo3::prelude::*;
use vh_proto::direct::frame::{Inbox, MAX_MESSAGE_LEN, write_frame};
use vh_proto::v1::{CallResult, FromWorker, ToWorker, Value, from_worker, to_worker};

use crate::reader::{Pending, reader};
use crate::values::Incoming;
use main_thread::{ActiveRequests, Held, HubCpu, Route};
use vh_proto::direct::wake::Wake;
use vh_proto::fd::dup_above_stdio;

/// The worker's end of its direct link to the hub.
struct Direct {
    /// Read by the main thread only (in `next_main`).
    reader: UnixStream,
    /// What the main thread read from `reader` and has not taken yet.
    unread: Mutex<Unread>,
    writer: Mutex<UnixStream>,
}

/// What the main thread read from its direct link and has not taken yet:
/// the start of a frame not whole yet, and whole frames read with the one
/// it took (a hub thread that sent two before the worker woke).
#[derive(Default)]
pub struct Unread {
    pub(crate) bytes: Inbox,
    pub(crate) frames: VecDeque<ToWorker>,
}

impl Unread {
    /// True if nothing the hub sent waits here (`Transport::can_pipeline`).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.bytes.is_empty()
    }
}

/// The worker's links to the runner and (optionally) the hub.
pub struct Transport {
    writer: Mutex<UnixStream>,
    direct: Option<Direct>,
    /// False once the direct link has closed.
    direct_up: AtomicBool,
    main_rx: Receiver<Incoming>,
    pending: Pending,
    /// Requests the main thread is serving, innermost last.
    active: ActiveRequests,
    /// Wakes the main thread from `poll` on the direct link when the
    /// runner's reader queues something (`vh_proto::direct::wake`).
    wake: Arc<Wake>,
    next_call: AtomicU64,
    /// How long the main thread checks its direct link before it sleeps
    /// (`VH_SPIN_US` at most, `vh_proto::direct::wake::Adaptive`): only while the
    /// hub sends this script hooks densely (its recent waits were short
    /// enough for spinning to catch the next one), and never while every
    /// CPU is busy. A script that gets a hook now and then, or every other
    /// hook of a busy hub behind others, sleeps at once instead of taking
    /// CPU from the hub thread, the other workers and the hub's clients.
    spin: vh_proto::direct::wake::Adaptive,
    /// Pipelined calls not written yet ([`Held`]): they go out with the
    /// next frame on the direct link.
    held: Held,
    /// Where the hub thread sends hooks from, to sleep there ([`HubCpu`]).
    hub_cpu: HubCpu,
}

/// The callback name of a `HubCall` message (for error messages).
fn msg_callback(msg: &FromWorker) -> &str {
    match &msg.kind {
        Some(from_worker::Kind::HubCall(c)) => &c.callback,
        _ => "?",
    }
}

/// `vh.MessageTooBigError(what, size, limit)` (defined in `vh._errors`),
/// or the error of importing it.
fn too_big_error(py: Python<'_>, what: &str, size: usize) -> PyErr {
    let made = py
        .import("vh._errors")
        .and_then(|m| m.getattr("MessageTooBigError"))
        .and_then(|cls| cls.call1((what, size, MAX_MESSAGE_LEN)));
    match made {
        Ok(err) => PyErr::from_value(err),
        Err(e) => e,
    }
}

impl Transport {
    /// Takes ownership of socket `fd` (to the runner) and, if
    /// `direct_fd` is not negative, of the direct link to the hub (read by
    /// the main thread in `next_main`); starts the runner link's reader
    /// thread (`crate::reader`).
    ///
    /// # Errors
    /// `ConnectionError` if a socket cannot be cloned or the eventfd or
    /// thread cannot be made.
    pub fn open(fd: i32, direct_fd: i32) -> PyResult<Self> {
        let err =
            |fd: i32| move |e: std::io::Error| PyConnectionError::new_err(format!("fd {fd}: {e}"));
        let (main_tx, main_rx) = crossbeam_channel::unbounded();
        let pending: Pending = Arc::default();
        let wake = Arc::new(Wake::new().map_err(err(-1))?);
        // SAFETY: the runner passes these fds for us alone; we own them.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        // Clones numbered 3 or more, never on a closed stdio number
        // (`vh_proto::fd`, docs/abi.md §1.1).
        let read_half = UnixStream::from(dup_above_stdio(&stream).map_err(err(fd))?);
        let direct = if direct_fd >= 0 {
            // SAFETY: as above.
            let reader = unsafe { UnixStream::from_raw_fd(direct_fd) };
            let writer = UnixStream::from(dup_above_stdio(&reader).map_err(err(direct_fd))?);
            Some(Direct {
                reader,
                unread: Mutex::default(),
                writer: Mutex::new(writer),
            })
        } else {
            None
        };
        let (p, w) = (Arc::clone(&pending), Arc::clone(&wake));
        // The reader's mask is the worker's own (`HubCpu`).
        let reader_tid = Arc::new(AtomicI32::new(0));
        let tid = Arc::clone(&reader_tid);
        std::thread::Builder::new()
            .name("vh-core-reader".into())
            .spawn(move || {
                // SAFETY: no arguments; always succeeds.
                tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
                reader(read_half, main_tx, p, w)
            })
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        Ok(Transport {
            writer: Mutex::new(stream),
            direct_up: AtomicBool::new(direct.is_some()),
            direct,
            main_rx,
            pending,
            active: ActiveRequests::default(),
            wake,
            next_call: AtomicU64::new(1),
            spin: vh_proto::direct::wake::Adaptive::from_env(),
            hub_cpu: HubCpu::from_env(reader_tid),
            held: Held::default(),
        })
    }

    /// A new call id (for `vh.*` calls of any thread).
    pub fn next_call_id(&self) -> u64 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// The link a main-thread `vh.*` call takes ([`ActiveRequests::main_route`]).
    pub fn main_route(&self) -> Route {
        self.active.main_route()
    }

    /// The link to answer `call_id` on ([`ActiveRequests::origin`]).
    pub fn origin(&self, call_id: u64) -> Route {
        self.active.origin(call_id)
    }

    /// Notes a request handed to the main thread ([`ActiveRequests::activate`]).
    pub fn activate(&self, kind: &to_worker::Kind, link: Route) {
        self.active.activate(kind, link);
    }

    /// Sends to the runner.
    pub fn send(&self, kind: from_worker::Kind) -> PyResult<()> {
        self.send_on(Route::Relay, kind)
    }

    /// Writes one frame on `link`: on the direct link only while it is up,
    /// else (or if writing to it fails) to the runner, which passes it on.
    ///
    /// # Errors
    /// `vh.MessageTooBigError` (nothing sent, the links stay up) if the
    /// message exceeds `vh_proto::direct::frame::MAX_MESSAGE_LEN`: a frame the
    /// runner could not forward would otherwise end the link or the hub's
    /// stream. `ConnectionError` if the link to the runner is gone.
    pub fn send_on(&self, link: Route, kind: from_worker::Kind) -> PyResult<()> {
        let msg = FromWorker { kind: Some(kind) };
        let size = msg.encoded_len();
        if size > MAX_MESSAGE_LEN {
            let what = match &msg.kind {
                Some(from_worker::Kind::HubCall(c)) => format!("the call vh.{}()", c.callback),
                Some(from_worker::Kind::DynamicCall(_)) => "the dynamic function call".into(),
                Some(from_worker::Kind::HookResult(_)) => "the hook's result".into(),
                Some(from_worker::Kind::FunctionResult(_)) => "the function's result".into(),
                _ => "the message".into(),
            };
            return Err(Python::attach(|py| too_big_error(py, &what, size)));
        }
        // Held pipelined calls are the main thread's, written before its
        // next frame on the direct link; other threads use the runner's.
        if link == Route::Direct {
            return self.write_direct(Some(msg));
        }
        self.write_runner(&[msg])
    }

    /// True if a main-thread call may be pipelined now (docs/protocol.md
    /// "Pipelined calls"; `Channel.pipeline_call` says when).
    pub fn can_pipeline(&self) -> bool {
        let Some(direct) = self.direct.as_ref() else {
            return false;
        };
        self.main_route() == Route::Direct
            && self.direct_up.load(Ordering::Acquire)
            && self.main_rx.is_empty()
            && direct
                .unread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            && !vh_proto::direct::wake::readable(direct.reader.as_raw_fd())
    }

    /// Holds the pipelined call `msg` until the next frame on the direct
    /// link ([`Held`]), writing what is held now if it is old or big.
    ///
    /// # Errors
    /// As [`Transport::send_on`].
    pub fn pipeline(&self, msg: FromWorker) -> PyResult<()> {
        let size = msg.encoded_len();
        if size > MAX_MESSAGE_LEN {
            let what = "the call vh.".to_string() + msg_callback(&msg) + "()";
            return Err(Python::attach(|py| too_big_error(py, &what, size)));
        }
        if self.held.push(msg) {
            self.write_direct(None)?;
        }
        Ok(())
    }

    /// Writes the held pipelined calls and then `msg` on the direct link
    /// in one write while it is up, else (or if writing fails) to the
    /// runner, in the same order.
    fn write_direct(&self, msg: Option<FromWorker>) -> PyResult<()> {
        // Taken under the writer's lock: the held frames go out before
        // any frame another thread (an async hook's result) writes after.
        let writer = self
            .direct
            .as_ref()
            .map(|d| d.writer.lock().unwrap_or_else(|e| e.into_inner()));
        let mut frames = self.held.take();
        frames.extend(msg);
        if frames.is_empty() {
            return Ok(());
        }
        if let Some(mut w) = writer
            && self.direct_up.load(Ordering::Acquire)
        {
            match main_thread::encode_all(&frames).and_then(|buf| w.write_all(&buf)) {
                Ok(()) => return Ok(()),
                Err(_) => {
                    // A frame cut short would garble the stream: close it.
                    self.direct_up.store(false, Ordering::Release);
                    let _ = w.shutdown(std::net::Shutdown::Both);
                }
            }
        }
        self.write_runner(&frames)
    }

    /// Writes `frames` to the runner.
    fn write_runner(&self, frames: &[FromWorker]) -> PyResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        frames
            .iter()
            .try_for_each(|f| write_frame(&mut *w, f))
            .and_then(|()| w.flush())
            .map_err(|e| PyConnectionError::new_err(format!("vh-runner link: {e}")))
    }

    /// Sends the request `make(call_id)` from a thread other than the main
    /// one and blocks (GIL released) until its `CallResult`: `(ok, values,
    /// error)`, or `None` after `timeout` seconds.
    ///
    /// # Errors
    /// As [`Transport::send_on`]; `ConnectionError` if the runner's link
    /// closes first.
    pub fn blocking(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        make: impl FnOnce(u64) -> from_worker::Kind,
    ) -> PyResult<Option<(bool, Vec<Value>, String)>> {
        let call_id = self.next_call_id();
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call_id, tx);
        if let Err(e) = self.send(make(call_id)) {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&call_id);
            return Err(e);
        }
        let got = py.detach(move || match timeout {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => rx.recv_timeout(Duration::from_secs_f64(t.max(0.0))),
        });
        match got {
            Ok(Incoming::Frame(to_worker::Kind::CallResult(CallResult {
                ok,
                values,
                error,
                ..
            }))) => Ok(Some((ok, values, error))),
            Ok(Incoming::Closed(reason)) => Err(PyConnectionError::new_err(reason)),
            Ok(Incoming::Frame(_)) | Err(RecvTimeoutError::Disconnected) => {
                Err(PyConnectionError::new_err("the runner link closed"))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&call_id);
                Ok(None)
            }
        }
    }
}
