//! `vh._core`: the transport of a worker process. It owns the socket to the
//! runner (fd `VH_WORKER_FD`) and, when the runner gave it one, the direct
//! link to the hub (fd `VH_DIRECT_FD`, docs/protocol.md "Direct links").
//! A background thread per socket reads frames with the GIL released and
//! routes them: results of `vh.*` calls made off the main thread go
//! straight to the waiting thread; everything else (the load request,
//! hooks, function calls, unload, results of main-thread calls) goes to
//! the main thread's queue, which `recv_main` reads. All policy (hook
//! dispatch, encodings, the `vh` API) is Python, in `vh/_runtime.py`.
//!
//! Which socket a message takes: a hook's or function call's answer goes
//! back the way the request came (the runner watches the hooks it
//! relayed); `vh.*` calls of the main thread take the direct link while it
//! is up, since the hub thread is usually waiting for that script's hook;
//! calls of other threads, pongs and load/unload reports go to the runner.
//!
//! Hub values cross as Python `int`, `float`, `bytes` or `None`; where a
//! JSON document ('D') must be told from a string ('s'), a *kinds* string
//! goes with them, one format character per value (`l`, `s`, `d`, `D`).

mod held;

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use prost::Message;
use pyo3::exceptions::{PyConnectionError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use vh_proto::frame::{MAX_MESSAGE_LEN, read_frame, write_frame};
use vh_proto::v1::{
    CallResult, DynamicCall, FromWorker, FunctionResult, HookResult, HubCall, Pong, ScriptLoaded,
    ScriptUnloaded, ToWorker, Value, from_worker, to_worker, value::Kind,
};

/// What the reader thread hands on. Not boxed: a hook's frame would pay an
/// allocation for the size of the rare `LoadScript` (docs/performance.md).
#[allow(clippy::large_enum_variant)]
enum Incoming {
    Frame(to_worker::Kind),
    Closed(String),
}

type Pending = Arc<Mutex<HashMap<u64, Sender<Incoming>>>>;

/// Which socket a message came on or goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Fd `VH_WORKER_FD`, to the runner.
    Runner,
    /// Fd `VH_DIRECT_FD`, to the hub's shim.
    Direct,
}

/// A hook or function call the main thread has been handed and not yet
/// answered: the link it came on, and whether the hub waits for it.
#[derive(Debug, Clone, Copy)]
struct Active {
    call_id: u64,
    link: Link,
    awaited: bool,
}

/// The worker's end of its direct link to the hub.
struct Direct {
    /// Read by the main thread only (in `recv_main`).
    reader: UnixStream,
    writer: Mutex<UnixStream>,
}

/// The worker's links to the runner and (optionally) the hub.
#[pyclass(frozen, module = "vh._core")]
struct Channel {
    writer: Mutex<UnixStream>,
    direct: Option<Direct>,
    /// False once the direct link has closed.
    direct_up: AtomicBool,
    main_rx: Receiver<Incoming>,
    pending: Pending,
    /// Requests the main thread is serving, innermost last.
    active: Mutex<Vec<Active>>,
    /// Wakes the main thread from `poll` on the direct link when the
    /// runner's reader queues something (`main_polling`).
    wake: Arc<OwnedFd>,
    main_polling: Arc<AtomicBool>,
    next_call: AtomicU64,
    /// How long the main thread checks its direct link before it sleeps
    /// (`VH_SPIN_US` at most, `vh_proto::spin::Adaptive`): only while the
    /// hub sends this script hooks densely (its recent waits were short
    /// enough for spinning to catch the next one), and never while every
    /// CPU is busy. A script that gets a hook now and then, or every other
    /// hook of a busy hub behind others, sleeps at once instead of taking
    /// CPU from the hub thread, the other workers and the hub's clients.
    spin: vh_proto::spin::Adaptive,
    /// Pipelined calls not written yet (`held`): they go out with the next
    /// frame on the direct link.
    held: held::Held,
}

/// Reads the runner's socket until it closes, then queues `("closed",
/// reason)` for the main thread. Results of other threads' calls go to
/// them; the rest to the main thread's queue, waking it if it sleeps on
/// the direct link.
fn reader(
    mut stream: UnixStream,
    main: Sender<Incoming>,
    pending: Pending,
    wake: Arc<OwnedFd>,
    main_polling: Arc<AtomicBool>,
) {
    let to_main = |ev: Incoming| {
        let _ = main.send(ev);
        // SeqCst pairs with `Channel::next_main`.
        if main_polling.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    };
    let reason = loop {
        match read_frame::<_, ToWorker>(&mut stream) {
            Ok(Some(ToWorker { kind: Some(kind) })) => {
                if let to_worker::Kind::CallResult(r) = &kind {
                    let waiter = pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&r.call_id);
                    if let Some(w) = waiter {
                        let _ = w.send(Incoming::Frame(kind));
                        continue;
                    }
                }
                to_main(Incoming::Frame(kind));
            }
            Ok(Some(ToWorker { kind: None })) => {}
            Ok(None) => break "the runner closed the link".to_string(),
            Err(e) => break format!("link error: {e}"),
        }
    };
    for (_, w) in pending.lock().unwrap_or_else(|e| e.into_inner()).drain() {
        let _ = w.send(Incoming::Closed(reason.clone()));
    }
    to_main(Incoming::Closed(reason));
}

/// A non-blocking eventfd.
fn new_eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is ours if it succeeds.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match &v.kind {
        Some(Kind::L(l)) => l.into_pyobject(py)?.into_any().unbind(),
        Some(Kind::S(s)) | Some(Kind::Json(s)) => PyBytes::new(py, s).into_any().unbind(),
        Some(Kind::D(d)) => d.into_pyobject(py)?.into_any().unbind(),
        Some(Kind::NullS(_)) | None => py.None(),
    })
}

fn values_to_py<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyList>> {
    let items = values
        .iter()
        .map(|v| to_py(py, v))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Python value -> wire value: `int`/`bool` -> 'l', `bytes` -> 's',
/// `float` -> 'd', `None` -> NULL 's'. Text must be encoded by the caller.
fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let kind = if obj.is_none() {
        Kind::NullS(true)
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        Kind::S(b.as_bytes().to_vec())
    } else if obj.is_instance_of::<pyo3::types::PyFloat>() {
        Kind::D(obj.extract::<f64>()?)
    } else if obj.is_instance_of::<pyo3::types::PyInt>() {
        Kind::L(
            obj.extract::<i64>()
                .map_err(|_| PyOverflowError::new_err("integer does not fit in a C long"))?,
        )
    } else {
        return Err(PyTypeError::new_err(format!(
            "hub values are bytes, int, float or None, not {}",
            obj.get_type().name()?
        )));
    };
    Ok(Value { kind: Some(kind) })
}

fn list_from_py(values: &Bound<'_, PyList>) -> PyResult<Vec<Value>> {
    values.iter().map(|v| from_py(&v)).collect()
}

/// Like [`from_py`], with `kind` 'D' turning `bytes` into a JSON document.
fn typed_from_py(kind: char, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    match kind {
        'D' => Ok(Value {
            kind: Some(Kind::Json(obj.cast::<PyBytes>()?.as_bytes().to_vec())),
        }),
        'l' | 's' | 'd' => from_py(obj),
        other => Err(PyTypeError::new_err(format!(
            "unknown value kind {other:?} (expected l, s, d or D)"
        ))),
    }
}

/// `values` with one kind character each (see the module docs).
fn typed_list_from_py(kinds: &str, values: &Bound<'_, PyList>) -> PyResult<Vec<Value>> {
    if kinds.chars().count() != values.len() {
        return Err(PyTypeError::new_err(format!(
            "{} kinds for {} values",
            kinds.chars().count(),
            values.len()
        )));
    }
    kinds
        .chars()
        .zip(values.iter())
        .map(|(k, v)| typed_from_py(k, &v))
        .collect()
}

/// The kind character of each value (a NULL string is an 's').
fn kinds_of(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v.kind {
            Some(Kind::L(_)) => 'l',
            Some(Kind::D(_)) => 'd',
            Some(Kind::Json(_)) => 'D',
            Some(Kind::S(_) | Kind::NullS(_)) | None => 's',
        })
        .collect()
}

fn event_to_py(py: Python<'_>, ev: Incoming) -> PyResult<Py<PyAny>> {
    let t = match ev {
        Incoming::Closed(reason) => ("closed", reason).into_pyobject(py)?.into_any(),
        Incoming::Frame(to_worker::Kind::Load(l)) => {
            let b = |v: &[u8]| PyBytes::new(py, v).into_any();
            PyTuple::new(
                py,
                [
                    "load".into_pyobject(py)?.into_any(),
                    l.script_id.into_pyobject(py)?.into_any(),
                    b(&l.path),
                    b(&l.botname),
                    b(&l.opchatname),
                    b(&l.config_dir),
                    l.start_time.into_pyobject(py)?.into_any(),
                    b(&l.config_name),
                    l.hub_encoding.into_pyobject(py)?.into_any(),
                    l.generation.into_pyobject(py)?.into_any(),
                    b(&l.hub_cwd),
                    l.semantics.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any()
        }
        Incoming::Frame(to_worker::Kind::Hook(h)) => {
            ("hook", h.call_id, h.hook, values_to_py(py, &h.args)?)
                .into_pyobject(py)?
                .into_any()
        }
        Incoming::Frame(to_worker::Kind::CallResult(r)) => (
            "result",
            r.call_id,
            r.ok,
            values_to_py(py, &r.values)?,
            r.error,
            kinds_of(&r.values),
        )
            .into_pyobject(py)?
            .into_any(),
        Incoming::Frame(to_worker::Kind::Function(f)) => (
            "function",
            f.call_id,
            PyBytes::new(py, &f.name),
            kinds_of(&f.args),
            values_to_py(py, &f.args)?,
        )
            .into_pyobject(py)?
            .into_any(),
        Incoming::Frame(to_worker::Kind::Unload(_)) => ("unload",).into_pyobject(py)?.into_any(),
        Incoming::Frame(to_worker::Kind::Ping(p)) => ("ping", p.seq).into_pyobject(py)?.into_any(),
    };
    Ok(t.unbind())
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

impl Channel {
    /// Sends to the runner.
    fn send(&self, kind: from_worker::Kind) -> PyResult<()> {
        self.send_on(Link::Runner, kind)
    }

    /// Writes one frame on `link`: on the direct link only while it is up,
    /// else (or if writing to it fails) to the runner, which passes it on.
    ///
    /// # Errors
    /// `vh.MessageTooBigError` (nothing sent, the links stay up) if the
    /// message exceeds `vh_proto::frame::MAX_MESSAGE_LEN`: a frame the
    /// runner could not forward would otherwise end the link or the hub's
    /// stream. `ConnectionError` if the link to the runner is gone.
    fn send_on(&self, link: Link, kind: from_worker::Kind) -> PyResult<()> {
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
        if link == Link::Direct {
            return self.write_direct(Some(msg));
        }
        self.write_runner(&[msg])
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
            match held::encode_all(&frames).and_then(|buf| w.write_all(&buf)) {
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

    /// The link a main-thread `vh.*` call takes: the direct one while the
    /// innermost request came on it and the hub waits for it (so the hub
    /// thread is reading that link); else the runner's.
    fn main_link(&self) -> Link {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.last() {
            Some(a) if a.link == Link::Direct && a.awaited => Link::Direct,
            _ => Link::Runner,
        }
    }

    /// The link to answer hook or function call `call_id` on (forgotten
    /// now): the one it came on if the hub waits for the answer there,
    /// else the runner's (a hook whose result the hub ignores: the runner
    /// passes it on as a late answer).
    fn origin(&self, call_id: u64) -> Link {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.iter().rposition(|a| a.call_id == call_id) {
            Some(i) => {
                let a = active.remove(i);
                if a.link == Link::Direct && a.awaited {
                    Link::Direct
                } else {
                    Link::Runner
                }
            }
            None => Link::Runner,
        }
    }

    /// Notes a request handed to the main thread.
    fn activate(&self, kind: &to_worker::Kind, link: Link) {
        let (call_id, awaited) = match kind {
            to_worker::Kind::Hook(h) => {
                (h.call_id, !vh_proto::hooks::result_ignored(h.hook as usize))
            }
            to_worker::Kind::Function(f) => (f.call_id, true),
            _ => return,
        };
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Active {
                call_id,
                link,
                awaited,
            });
    }

    /// The next event for the main thread (see `recv_main`), `None` after
    /// `timeout`. Without a direct link it waits on the runner reader's
    /// queue; with one it also reads the link itself, sleeping in `poll` on
    /// it and on the reader's wake-up, so a hook from the hub reaches
    /// Python with no thread hop.
    fn next_main(&self, timeout: Option<f64>) -> Option<(Incoming, Link)> {
        // Nothing stays held while the main thread waits (module `held`).
        if !self.held.is_empty() {
            let _ = self.write_direct(None);
        }
        let started = Instant::now();
        let got = self.next_main_inner(timeout);
        self.spin.waited(started.elapsed());
        got
    }

    fn next_main_inner(&self, timeout: Option<f64>) -> Option<(Incoming, Link)> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            match self.main_rx.try_recv() {
                Ok(ev) => return Some((ev, Link::Runner)),
                Err(TryRecvError::Disconnected) => {
                    return Some((Incoming::Closed("reader stopped".into()), Link::Runner));
                }
                Err(TryRecvError::Empty) => {}
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
                    Ok(ev) => Some((ev, Link::Runner)),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        Some((Incoming::Closed("reader stopped".into()), Link::Runner))
                    }
                };
            };
            let budget = self.spin.budget();
            let spun = !budget.is_zero()
                && vh_proto::spin::until_readable(
                    direct.reader.as_raw_fd(),
                    budget,
                    deadline,
                    || !self.main_rx.is_empty(),
                );
            self.main_polling.store(true, Ordering::SeqCst);
            if !self.main_rx.is_empty() {
                self.main_polling.store(false, Ordering::SeqCst);
                continue;
            }
            let mut fds = [
                libc::pollfd {
                    fd: direct.reader.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.wake.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = match deadline {
                // Something is there: just collect what.
                _ if spun => 0,
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            // SAFETY: two valid pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            self.main_polling.store(false, Ordering::SeqCst);
            if fds[1].revents != 0 {
                let mut buf = [0u8; 8];
                // SAFETY: an 8-byte read from our non-blocking eventfd.
                unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            }
            if fds[0].revents != 0 {
                match read_frame::<_, ToWorker>(&mut &direct.reader) {
                    Ok(Some(ToWorker { kind: Some(kind) })) => {
                        return Some((Incoming::Frame(kind), Link::Direct));
                    }
                    Ok(Some(ToWorker { kind: None })) => {}
                    // The hub closed it (or broke it): everything goes
                    // through the runner from now on.
                    Ok(None) | Err(_) => self.direct_up.store(false, Ordering::Release),
                }
                continue;
            }
            if n == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
        }
    }

    /// Sends the request `make(call_id)` from a thread other than the main
    /// one and blocks (GIL released) until its `CallResult`: `(ok, values,
    /// error)`, or `None` after `timeout` seconds.
    fn blocking(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        make: impl FnOnce(u64) -> from_worker::Kind,
    ) -> PyResult<Option<(bool, Vec<Value>, String)>> {
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
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

#[pymethods]
impl Channel {
    /// Takes ownership of socket `fd` (to the runner) and, if
    /// `direct_fd` is not negative, of the direct link to the hub (read by
    /// the main thread in `recv_main`); starts the runner link's reader
    /// thread.
    #[new]
    #[pyo3(signature = (fd, direct_fd=-1))]
    fn new(fd: i32, direct_fd: i32) -> PyResult<Self> {
        let err =
            |fd: i32| move |e: std::io::Error| PyConnectionError::new_err(format!("fd {fd}: {e}"));
        let (main_tx, main_rx) = crossbeam_channel::unbounded();
        let pending: Pending = Arc::default();
        let wake = Arc::new(new_eventfd().map_err(err(-1))?);
        let main_polling = Arc::new(AtomicBool::new(false));
        // SAFETY: the runner passes these fds for us alone; we own them.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        let read_half = stream.try_clone().map_err(err(fd))?;
        let direct = if direct_fd >= 0 {
            // SAFETY: as above.
            let reader = unsafe { UnixStream::from_raw_fd(direct_fd) };
            let writer = reader.try_clone().map_err(err(direct_fd))?;
            Some(Direct {
                reader,
                writer: Mutex::new(writer),
            })
        } else {
            None
        };
        let (p, w, m) = (
            Arc::clone(&pending),
            Arc::clone(&wake),
            Arc::clone(&main_polling),
        );
        std::thread::Builder::new()
            .name("vh-core-reader".into())
            .spawn(move || reader(read_half, main_tx, p, w, m))
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        Ok(Channel {
            writer: Mutex::new(stream),
            direct_up: AtomicBool::new(direct.is_some()),
            direct,
            main_rx,
            pending,
            active: Mutex::new(Vec::new()),
            wake,
            main_polling,
            next_call: AtomicU64::new(1),
            spin: vh_proto::spin::Adaptive::from_env(),
            held: held::Held::default(),
        })
    }

    /// Next event for the main thread, as a tuple: `("load", id, path,
    /// botname, opchatname, config_dir, start_time, config_name,
    /// hub_encoding, generation, hub_cwd, semantics)`, `("hook", call_id, hook, args)`,
    /// `("function", call_id, name, kinds, args)` (generation B's
    /// `w_CallFunction`; answer with `send_function_result`),
    /// `("result", call_id, ok, values, error, kinds)`, `("unload",)`,
    /// `("ping", seq)` (answer with `send_pong` from the main thread) or
    /// `("closed", reason)`. `None` after `timeout` seconds. GIL released
    /// while waiting.
    #[pyo3(signature = (timeout=None))]
    fn recv_main(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let got = py.detach(|| self.next_main(timeout));
        match got {
            Some((ev, link)) => {
                if let Incoming::Frame(kind) = &ev {
                    self.activate(kind, link);
                }
                event_to_py(py, ev).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Reports the load outcome and the defined hook indices.
    fn send_loaded(&self, ok: bool, error: String, hooks: Vec<u32>) -> PyResult<()> {
        self.send(from_worker::Kind::Loaded(ScriptLoaded {
            script_id: 0,
            ok,
            error,
            hooks,
            pid: std::process::id(),
            ..ScriptLoaded::default()
        }))
    }

    /// Answers hook `call_id`: `values` already mapped (spec §4.4), or
    /// `no_opinion` for NULL.
    fn send_hook_result(
        &self,
        call_id: u64,
        no_opinion: bool,
        values: &Bound<'_, PyList>,
    ) -> PyResult<()> {
        self.send_on(
            self.origin(call_id),
            from_worker::Kind::HookResult(HookResult {
                script_id: 0,
                call_id,
                no_opinion,
                values: list_from_py(values)?,
            }),
        )
    }

    /// Answers a health ping (only the main thread should: that is what
    /// the ping checks).
    fn send_pong(&self, seq: u64) -> PyResult<()> {
        self.send(from_worker::Kind::Pong(Pong { script_id: 0, seq }))
    }

    /// Answers function call `call_id` (`w_CallFunction`): `ok` with
    /// `value` of kind `kind` (`l`, `d`, `s` or `D`), or not `ok` (NULL)
    /// with `error` saying why.
    fn send_function_result(
        &self,
        call_id: u64,
        ok: bool,
        kind: &str,
        value: &Bound<'_, PyAny>,
        error: String,
    ) -> PyResult<()> {
        let value = match (ok, kind.chars().next()) {
            (true, Some(k)) => Some(typed_from_py(k, value)?),
            _ => None,
        };
        self.send_on(
            self.origin(call_id),
            from_worker::Kind::FunctionResult(FunctionResult {
                script_id: 0,
                call_id,
                ok: ok && value.is_some(),
                value,
                error,
            }),
        )
    }

    /// Confirms an unload; the worker exits next.
    fn send_unloaded(&self) -> PyResult<()> {
        self.send(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 0 }))
    }

    /// Sends a hub callback call from the main thread and returns its call
    /// id; the result arrives on the main queue as `("result", ...)`,
    /// possibly after hooks that nest inside this call (spec §9.2).
    fn start_call(&self, callback: String, args: &Bound<'_, PyList>) -> PyResult<u64> {
        let args = list_from_py(args)?;
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.send_on(
            self.main_link(),
            from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id,
                callback,
                args,
                pipelined: false,
            }),
        )?;
        Ok(call_id)
    }

    /// Sends a hub callback call from the main thread *pipelined*
    /// (docs/protocol.md "Pipelined calls"): the script discards its
    /// result, so nothing waits for it; the hub thread runs it in order
    /// with this script's other calls, before the hook's result. Only while
    /// the innermost request came on the direct link and the hub waits for
    /// it (the hub thread is then reading that link), and while nothing
    /// the hub sent waits to be read: a hook it fired without waiting (an
    /// instant `OnScriptCommand`) runs, as with a waited call, before the
    /// script goes on, so the hub sees the calls in the same order either
    /// way. Returns False without sending otherwise, and the caller makes
    /// an ordinary call.
    fn pipeline_call(&self, callback: String, args: &Bound<'_, PyList>) -> PyResult<bool> {
        let Some(direct) = self.direct.as_ref() else {
            return Ok(false);
        };
        if self.main_link() != Link::Direct
            || !self.direct_up.load(Ordering::Acquire)
            || !self.main_rx.is_empty()
            || vh_proto::spin::readable(direct.reader.as_raw_fd())
        {
            return Ok(false);
        }
        let args = list_from_py(args)?;
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
        let msg = FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id,
                callback,
                args,
                pipelined: true,
            })),
        };
        let size = msg.encoded_len();
        if size > MAX_MESSAGE_LEN {
            let what = "the call vh.".to_string() + msg_callback(&msg) + "()";
            return Err(Python::attach(|py| too_big_error(py, &what, size)));
        }
        // Held until the next frame on the link (module `held`).
        if self.held.push(msg) {
            self.write_direct(None)?;
        }
        Ok(true)
    }

    /// Sends a dynamic function call (`vh.CallDynamicFunction`, spec §3.10)
    /// from the main thread, `args` of the given `kinds`; returns its call
    /// id. Its `("result", ...)` arrives as a hub call's does.
    fn start_dynamic(
        &self,
        name: &Bound<'_, PyBytes>,
        kinds: &str,
        args: &Bound<'_, PyList>,
    ) -> PyResult<u64> {
        let args = typed_list_from_py(kinds, args)?;
        let call_id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.send_on(
            self.main_link(),
            from_worker::Kind::DynamicCall(DynamicCall {
                script_id: 0,
                call_id,
                name: name.as_bytes().to_vec(),
                args,
            }),
        )?;
        Ok(call_id)
    }

    /// Like `start_dynamic`, from a thread other than the main one: blocks
    /// (GIL released) until `(ok, values, error, kinds)`; `None` after
    /// `timeout` seconds.
    #[pyo3(signature = (name, kinds, args, timeout=None))]
    fn dynamic_blocking(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyBytes>,
        kinds: &str,
        args: &Bound<'_, PyList>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let args = typed_list_from_py(kinds, args)?;
        let name = name.as_bytes().to_vec();
        let got = self.blocking(py, timeout, |call_id| {
            from_worker::Kind::DynamicCall(DynamicCall {
                script_id: 0,
                call_id,
                name,
                args,
            })
        })?;
        got.map(|(ok, values, error)| {
            let kinds = kinds_of(&values);
            Ok((ok, values_to_py(py, &values)?, error, kinds)
                .into_pyobject(py)?
                .into_any()
                .unbind())
        })
        .transpose()
    }

    /// Sends a hub callback call from a thread other than the main one and
    /// blocks (GIL released) until its result: `(ok, values, error)`.
    /// `None` after `timeout` seconds.
    #[pyo3(signature = (callback, args, timeout=None))]
    fn call_blocking(
        &self,
        py: Python<'_>,
        callback: String,
        args: &Bound<'_, PyList>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let args = list_from_py(args)?;
        let got = self.blocking(py, timeout, |call_id| {
            from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id,
                callback,
                args,
                pipelined: false,
            })
        })?;
        got.map(|(ok, values, error)| {
            Ok((ok, values_to_py(py, &values)?, error)
                .into_pyobject(py)?
                .into_any()
                .unbind())
        })
        .transpose()
    }
}

/// The private transport module of the `vh` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Channel>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
