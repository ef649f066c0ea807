//! The Python 3 worker's main loop for plain hooks (`Channel.serve_hooks`):
//! the hub's hook goes from its frame to the script's function and its
//! `int` answer back to the frame with no Python layer in between.
//!
//! Why: a hook that finds its worker asleep (a hub's usual chat line) pays
//! for every cache line it touches, at 15-170 ns each on these machines
//! (docs/performance.md "Where a paced hook's time goes"), and the Python
//! layers around the script's function (the event object, the dispatch,
//! the result's mapping) were the largest part of it.
//!
//! What runs here is what `vh._hook_dispatch.HookDispatch.run_hook` does
//! for the usual hook, in the same order and with the same results: the
//! function looked up on the script's module at each hook (what `getattr`
//! and then `callable` give, docs/abi.md §7.5; [`script_function`]), hub
//! strings decoded with the hub's encoding and `surrogateescape` (the C
//! functions `bytes.decode` ends in; [`hub_value`]), the call with
//! `depth` raised, and an `int` result
//! within a C long answered as it is (docs/abi.md §4.4). Everything else
//! goes back to Python, which has the rules:
//! - events other than hooks, and the hooks with extra rules
//!   (`OnScriptCommand`, `OnTimer`, or nesting at its limit), are
//!   returned to the caller as `recv_main` would return them;
//! - any other result (`None`, `bool`, text, tuples, a coroutine) goes to
//!   `rt.finish_hook`, an exception to `rt.hook_raised`.

use std::sync::atomic::{AtomicI64, Ordering};

use pyo3::exceptions::PyException;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDictMethods, PyInt, PyModule, PyModuleMethods, PyString, PyTuple};
use vh_proto::v1::{HookCall, HookResult, Value, from_worker, to_worker, value::Kind};

use crate::transport::Transport;
use crate::values::{Incoming, event_to_py};

/// How deep the script's hooks and function calls nest now: `depth`, the
/// hooks and function calls running on the main thread (more than one
/// when the hub fires a hook inside a `vh.*` call that waits), and
/// `async_pending`, the `async` ones still running on the worker's loop
/// thread (`vh._hook_dispatch.HookDispatch._too_deep` adds them up against
/// `vh._limits.MAX_DEPTH`). `vh._core.Nesting`, the channel's `nesting`
/// and the runtime's: kept here rather than as the runtime's attributes so
/// that [`serve`] reads and sets them without a Python attribute look-up,
/// which a hook that finds its worker asleep pays for in cold cache lines
/// (docs/performance.md).
#[pyclass(frozen, module = "vh._core")]
#[derive(Default)]
pub struct Nesting {
    depth: AtomicI64,
    async_pending: AtomicI64,
}

#[pymethods]
impl Nesting {
    /// Both counts 0.
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Hooks and function calls running on the main thread.
    #[getter]
    fn depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_depth(&self, n: i64) {
        self.depth.store(n, Ordering::Relaxed);
    }

    /// `async` hooks and function calls still running.
    #[getter]
    fn async_pending(&self) -> i64 {
        self.async_pending.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_async_pending(&self, n: i64) {
        self.async_pending.store(n, Ordering::Relaxed);
    }
}

/// What [`serve`] needs of the Python runtime, looked up once per call.
pub struct Script<'py> {
    /// The runtime (`vh._runtime.Runtime`).
    pub rt: Bound<'py, PyAny>,
    /// Its nesting counts (the channel's).
    pub nesting: &'py Nesting,
    /// The script's module.
    pub module: Bound<'py, PyAny>,
    /// The hub's encoding, a Python codec name, NUL-terminated.
    pub encoding: std::ffi::CString,
    /// Its decoding table if it is a charmap codec (`rt.charmap`,
    /// `vh._codec`): hub strings are then decoded by the C function the
    /// codec's own Python method calls, without the registry and that
    /// method (about 40 µs of a paced chat hook's two strings).
    pub charmap: Option<Bound<'py, PyString>>,
    /// True if that table maps each ASCII byte to the same code point:
    /// an all-ASCII string (most chat) then decodes as UTF-8 does, through
    /// the decoder every Python process uses most, whose code is the
    /// likeliest to be in cache when a hook finds the worker asleep.
    pub ascii_as_is: bool,
    /// `vh._hooks.HOOK_NAMES`, by hook index.
    pub names: Bound<'py, PyTuple>,
    /// Hook indices that always take the Python way (`OnScriptCommand`,
    /// `OnTimer`).
    pub python_hooks: [u32; 2],
    /// `vh._limits.MAX_DEPTH`.
    pub max_depth: i64,
}

/// Runs plain hooks until an event Python must handle, and returns that
/// event (as `Channel.recv_main` does; never `None`: there is no timeout).
///
/// # Errors
/// What the script's function raised if it is not an `Exception`
/// (`SystemExit`, `KeyboardInterrupt`: they end the main loop, as in
/// `run_hook`), and what `rt.finish_hook` / `rt.hook_raised` or sending
/// raised (a link that is gone: `ConnectionError`).
pub fn serve(py: Python<'_>, transport: &Transport, s: &Script<'_>) -> PyResult<Py<PyAny>> {
    loop {
        let Some((ev, link)) = py.detach(|| transport.next_main(None)) else {
            continue;
        };
        if let Incoming::Frame(kind) = &ev {
            transport.activate(kind, link);
        }
        match ev {
            Incoming::Frame(to_worker::Kind::Hook(call)) if plain(s, &call) => {
                run_plain(py, transport, s, call)?;
            }
            other => return event_to_py(py, other),
        }
    }
}

/// True if hook `call` takes no rule beyond the usual ones: a hook the
/// table names, not one of [`Script::python_hooks`], and not at the
/// nesting limit (the main loop is at depth 0, so only `async` hooks still
/// running count, as `HookDispatch._too_deep` counts them).
fn plain(s: &Script<'_>, call: &HookCall) -> bool {
    if s.python_hooks.contains(&call.hook) || call.hook as usize >= s.names.len() {
        return false;
    }
    s.nesting.async_pending.load(Ordering::Relaxed) < s.max_depth
}

/// Runs one plain hook and answers it (see the module docs).
fn run_plain(
    py: Python<'_>,
    transport: &Transport,
    s: &Script<'_>,
    call: HookCall,
) -> PyResult<()> {
    let name = s
        .names
        .get_item(call.hook as usize)?
        .cast_into::<PyString>()?;
    let Some(func) = script_function(py, &s.module, &name)? else {
        return answer(transport, call.call_id, None);
    };
    let args = hub_args(py, &call.args, s)?;
    s.nesting.depth.store(1, Ordering::Relaxed);
    let got = func.call1(args);
    s.nesting.depth.store(0, Ordering::Relaxed);
    match got {
        Ok(result) => {
            if let Some(n) = plain_int(&result) {
                return answer(transport, call.call_id, Some(n));
            }
            s.rt.call_method1(
                pyo3::intern!(py, "finish_hook"),
                (call.call_id, call.hook, name, result),
            )?;
        }
        Err(e) if e.is_instance_of::<PyException>(py) => {
            s.rt.call_method1(
                pyo3::intern!(py, "hook_raised"),
                (call.call_id, call.hook, name, e.into_value(py)),
            )?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The script's callable `name`, `None` if it has no such attribute or
/// it is not callable: what `getattr(module, name)` and `callable` give
/// (docs/abi.md §7.5). A plain module's own dict is read first: for a
/// hook's name (no attribute of the module type has one) that is the
/// object `getattr` finds, without its generic path through the type,
/// which a hook that finds its worker asleep pays for in cold cache lines
/// (docs/performance.md). A name the dict lacks, or any other module
/// object, takes `getattr` (a module-level `__getattr__` then runs).
///
/// # Errors
/// What the look-up raised other than `AttributeError`.
fn script_function<'py>(
    py: Python<'py>,
    module: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let own = match module.cast_exact::<PyModule>() {
        Ok(m) => m.dict().get_item(name)?,
        Err(_) => None,
    };
    let found = match own {
        Some(f) => f,
        None => match module.getattr(name) {
            Ok(f) => f,
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        },
    };
    Ok(found.is_callable().then_some(found))
}

/// The hook's arguments as the script gets them ([`hub_value`] each), in
/// a tuple built in place (no vector in between).
///
/// # Errors
/// What converting an argument raised.
fn hub_args<'py>(
    py: Python<'py>,
    args: &[Value],
    s: &Script<'py>,
) -> PyResult<Bound<'py, PyTuple>> {
    let n = ffi::Py_ssize_t::try_from(args.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("too many arguments"))?;
    // SAFETY: a new tuple of `n` empty slots, owned here; a NULL result
    // sets the Python error.
    let tuple = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(n))? };
    for (i, v) in (0..n).zip(args) {
        let item = hub_value(py, v, s)?;
        // SAFETY: `i` is within the new tuple, whose slot is still empty;
        // `PyTuple_SetItem` takes the item's reference.
        if unsafe { ffi::PyTuple_SetItem(tuple.as_ptr(), i, item.into_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
    }
    Ok(tuple.cast_into::<PyTuple>()?)
}

/// `result` if it is an `int` (not a `bool`) within a C long: what most
/// hooks return, answered as it is.
fn plain_int(result: &Bound<'_, PyAny>) -> Option<i64> {
    if !result.is_exact_instance_of::<PyInt>() {
        return None;
    }
    result.extract::<i64>().ok()
}

/// Answers hook `call_id`: `Some(n)` is the value `n`, `None` no opinion.
fn answer(transport: &Transport, call_id: u64, n: Option<i64>) -> PyResult<()> {
    transport.send_on(
        transport.origin(call_id),
        from_worker::Kind::HookResult(HookResult {
            script_id: 0,
            call_id,
            no_opinion: n.is_none(),
            values: n
                .map(|n| Value {
                    kind: Some(Kind::L(n)),
                })
                .into_iter()
                .collect(),
        }),
    )
}

/// A hub value as the script sees it: a string decoded with the hub's
/// encoding and `surrogateescape` (what `ScriptState.from_hub` does), else
/// as [`crate::values::to_py`] gives it.
fn hub_value(py: Python<'_>, v: &Value, s: &Script<'_>) -> PyResult<Py<PyAny>> {
    let (Some(Kind::S(b)) | Some(Kind::Json(b))) = &v.kind else {
        return crate::values::to_py(py, v);
    };
    let len = ffi::Py_ssize_t::try_from(b.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("string too long"))?;
    let errors = c"surrogateescape".as_ptr();
    // SAFETY: `b` is valid for `len` bytes; the table is a live str; the
    // names are NUL-terminated; a NULL result sets the Python error.
    unsafe {
        let obj = match &s.charmap {
            Some(_) if s.ascii_as_is && b.is_ascii() => {
                ffi::PyUnicode_DecodeUTF8(b.as_ptr().cast(), len, errors)
            }
            Some(table) => {
                ffi::PyUnicode_DecodeCharmap(b.as_ptr().cast(), len, table.as_ptr(), errors)
            }
            None => ffi::PyUnicode_Decode(b.as_ptr().cast(), len, s.encoding.as_ptr(), errors),
        };
        Bound::from_owned_ptr_or_err(py, obj).map(Bound::unbind)
    }
}
