//! `vh._core.Channel`: the worker's transport ([`crate::transport`]) as a
//! Python object, with one method per message the Python runtime
//! (`vh/_runtime.py`) sends or receives. Only conversion happens here:
//! Python values to wire values ([`crate::values`]) and events to tuples
//! ([`crate::values`]).

use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use vh_proto::v1::{
    DynamicCall, FromWorker, FunctionResult, HookResult, HubCall, Pong, ScriptLoaded,
    ScriptUnloaded, from_worker,
};

use crate::discard::{Caller, caller_discards};
use crate::hook_loop::{self, Nesting, Script};
use crate::send_as_is::{Context, SendSpec};
use crate::transport::Transport;
use crate::values::{Incoming, event_to_py, values_to_py};
use crate::values::{kinds_of, list_from_py, typed_from_py, typed_list_from_py};

/// The worker's links to the runner and (optionally) the hub.
#[pyclass(frozen, module = "vh._core")]
pub struct Channel {
    transport: Transport,
    /// What `send_as_is` needs of the runtime (`set_as_is`).
    as_is: OnceLock<Context>,
    /// The runtime's nesting counts, which `serve_hooks` reads and sets.
    nesting: Py<Nesting>,
}

#[pymethods]
impl Channel {
    /// Takes ownership of socket `fd` (to the runner) and, if
    /// `direct_fd` is not negative, of the direct link to the hub (read by
    /// the main thread in `recv_main`); starts the runner link's reader
    /// thread.
    #[new]
    #[pyo3(signature = (fd, direct_fd=-1))]
    fn new(py: Python<'_>, fd: i32, direct_fd: i32) -> PyResult<Self> {
        Ok(Channel {
            transport: Transport::open(fd, direct_fd)?,
            as_is: OnceLock::new(),
            nesting: Py::new(py, Nesting::default())?,
        })
    }

    /// The nesting counts (`vh._core.Nesting`) the runtime keeps its
    /// `depth` and `async_pending` in, so that `serve_hooks` reads them
    /// without a look-up on the runtime.
    #[getter]
    fn nesting(&self, py: Python<'_>) -> Py<Nesting> {
        self.nesting.clone_ref(py)
    }

    /// Next event for the main thread, an object with named fields whose
    /// class attribute `kind` says which: `LoadEvent` (`"load"`),
    /// `HookEvent` (`"hook"`), `FunctionEvent` (`"function"`, generation
    /// B's `w_CallFunction`; answer with `send_function_result`),
    /// `ResultEvent` (`"result"`), `UnloadEvent` (`"unload"`), `PingEvent`
    /// (`"ping"`; answer with `send_pong` from the main thread) or
    /// `ClosedEvent` (`"closed"`). `None` after `timeout` seconds. GIL
    /// released while waiting.
    #[pyo3(signature = (timeout=None))]
    fn recv_main(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let got = py.detach(|| self.transport.next_main(timeout));
        match got {
            Some((ev, link)) => {
                if let Incoming::Frame(kind) = &ev {
                    self.transport.activate(kind, link);
                }
                event_to_py(py, ev).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Runs the hooks the hub fires, plain ones in Rust (module
    /// `hook_loop`: the script's function called straight from the frame),
    /// until an event Python must handle, and returns that event as
    /// `recv_main` does. `rt` is the runtime (`vh._runtime.Runtime`: its
    /// `module`, `encoding`, `charmap`, `finish_hook` and `hook_raised`;
    /// its nesting counts are this channel's `nesting`), `names`
    /// `vh._hooks.HOOK_NAMES`, `python_hooks` the hook indices with rules
    /// of their own (always returned), `max_depth` `vh._limits.MAX_DEPTH`.
    /// GIL released while waiting.
    fn serve_hooks(
        &self,
        py: Python<'_>,
        rt: &Bound<'_, PyAny>,
        names: &Bound<'_, PyTuple>,
        python_hooks: [u32; 2],
        max_depth: i64,
    ) -> PyResult<Py<PyAny>> {
        let encoding: String = rt.getattr("encoding")?.extract()?;
        let charmap = rt.getattr("charmap")?;
        let charmap = if charmap.is_none() {
            None
        } else {
            Some(charmap.get_item(0)?.cast_into::<PyString>()?)
        };
        // A table that maps every ASCII byte to itself (CP1252 and its
        // kin) lets ASCII strings take the UTF-8 decoder instead.
        let ascii_as_is = match &charmap {
            Some(table) => table
                .to_cow()?
                .chars()
                .take(128)
                .enumerate()
                .all(|(i, c)| c as usize == i),
            None => false,
        };
        let script = Script {
            charmap,
            ascii_as_is,
            rt: rt.clone(),
            nesting: self.nesting.get(),
            module: rt.getattr("module")?,
            encoding: std::ffi::CString::new(encoding)?,
            names: names.clone(),
            python_hooks,
            max_depth,
        };
        hook_loop::serve(py, &self.transport, &script)
    }

    /// Reports the load outcome and the defined hook indices.
    fn send_loaded(&self, ok: bool, error: String, hooks: Vec<u32>) -> PyResult<()> {
        self.transport.send(from_worker::Kind::Loaded(ScriptLoaded {
            script_id: 0,
            ok,
            error,
            hooks,
            pid: std::process::id(),
            ..ScriptLoaded::default()
        }))
    }

    /// Answers hook `call_id`: `values` already mapped (docs/abi.md §4.4), or
    /// `no_opinion` for NULL.
    fn send_hook_result(
        &self,
        call_id: u64,
        no_opinion: bool,
        values: &Bound<'_, PyList>,
    ) -> PyResult<()> {
        self.transport.send_on(
            self.transport.origin(call_id),
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
        self.transport
            .send(from_worker::Kind::Pong(Pong { script_id: 0, seq }))
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
        self.transport.send_on(
            self.transport.origin(call_id),
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
        self.transport
            .send(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 0 }))
    }

    /// Sends a hub callback call from the main thread and returns its call
    /// id; the result arrives on the main queue as a `ResultEvent`,
    /// possibly after hooks that nest inside this call (docs/abi.md §9.2).
    fn start_call(&self, callback: String, args: &Bound<'_, PyList>) -> PyResult<u64> {
        let args = list_from_py(args)?;
        let call_id = self.transport.next_call_id();
        self.transport.send_on(
            self.transport.main_route(),
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
        if !self.transport.can_pipeline() {
            return Ok(false);
        }
        let args = list_from_py(args)?;
        let call_id = self.transport.next_call_id();
        let msg = FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id,
                callback,
                args,
                pipelined: true,
            })),
        };
        // Held until the next frame on the link (`Held` in `transport/main_thread.rs`).
        self.transport.pipeline(msg)?;
        Ok(true)
    }

    /// Makes the runtime's [`Context`] for `send_as_is`, once:
    /// `charmap` and `encoding` are `ScriptState`'s, `rules` is
    /// `vh._discard.RULES`, `main_thread` the main thread's
    /// `_thread.get_ident()` (`vh._pipeline.as_is_for`).
    ///
    /// # Errors
    /// `RuntimeError` if it was made already; `ValueError` for an encoding
    /// name with a NUL byte.
    fn set_as_is(
        &self,
        charmap: &Bound<'_, PyAny>,
        encoding: &str,
        rules: &[u8],
        main_thread: std::ffi::c_ulong,
    ) -> PyResult<()> {
        self.as_is
            .set(Context::new(charmap, encoding, rules, main_thread)?)
            .map_err(|_| PyRuntimeError::new_err("set_as_is: made already"))
    }

    /// A classic function's discarded send, called by that function
    /// (`vh._api.make_classic`) with its [`SendSpec`] and the positional
    /// arguments as the script passed them. If the script discards the
    /// call's result ([`caller_discards`]: the classic function's caller),
    /// on the main thread, and the call may be pipelined now (as
    /// `pipeline_call`), converts the arguments as `vh._api.convert_args`
    /// would and pipelines the call, with no Python frame between the
    /// classic function and the link: each one costs a hook that finds
    /// the worker asleep several microseconds (docs/performance.md "One
    /// call for a discarded send"). Returns True if it was sent; False
    /// without sending if the result is used, another thread calls, or
    /// nothing may be pipelined now (the caller makes the ordinary call);
    /// `None` without sending if an argument is not one of the usual ones,
    /// their number is wrong or `set_as_is` was not called: the caller
    /// then converts them in Python, which raises what the script must
    /// see.
    ///
    /// # Errors
    /// `ConnectionError` if the link is gone; `MessageTooBigError` (nothing
    /// sent) if the call is too big.
    fn send_as_is(
        &self,
        py: Python<'_>,
        spec: &Bound<'_, SendSpec>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Option<bool>> {
        self.send_as_is_for(py, spec, args, Caller::Below)
    }

    /// Sends a dynamic function call (`vh.CallDynamicFunction`, docs/abi.md §3.10)
    /// from the main thread, `args` of the given `kinds`; returns its call
    /// id. Its `ResultEvent` arrives as a hub call's does.
    fn start_dynamic(
        &self,
        name: &Bound<'_, PyBytes>,
        kinds: &str,
        args: &Bound<'_, PyList>,
    ) -> PyResult<u64> {
        let args = typed_list_from_py(kinds, args)?;
        let call_id = self.transport.next_call_id();
        self.transport.send_on(
            self.transport.main_route(),
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
        let got = self.transport.blocking(py, timeout, |call_id| {
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
        let got = self.transport.blocking(py, timeout, |call_id| {
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

impl Channel {
    /// `send_as_is` for the script's frame `which`: [`Caller::Below`] from
    /// a classic function written in Python, [`Caller::Innermost`] from
    /// `vh._core.Classic` (module `classic`).
    ///
    /// # Errors
    /// As `send_as_is`.
    pub(crate) fn send_as_is_for(
        &self,
        py: Python<'_>,
        spec: &Bound<'_, SendSpec>,
        args: &Bound<'_, PyTuple>,
        which: Caller,
    ) -> PyResult<Option<bool>> {
        let (Some(cx), spec) = (self.as_is.get(), spec.get()) else {
            return Ok(None);
        };
        let Some(given) = spec.arity(args) else {
            return Ok(None);
        };
        if !cx.on_main_thread()
            || !self.transport.can_pipeline()
            || !caller_discards(py, cx.rules(), given, which)
        {
            return Ok(Some(false));
        }
        let Some(values) = spec.values(py, cx, args)? else {
            return Ok(None);
        };
        let call_id = self.transport.next_call_id();
        self.transport.pipeline(FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id,
                callback: spec.callback().to_owned(),
                args: values,
                pipelined: true,
            })),
        })?;
        Ok(Some(true))
    }
}
