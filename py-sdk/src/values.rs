//! What crosses between the wire and Python on the worker's side.
//!
//! Hub values (`vh_proto::v1::Value`): `int`, `float`, `bytes` or `None`
//! one way, and the *kinds* string (`l`, `s`, `d`, `D`, one character per
//! value) that tells a JSON document from a string where it matters
//! (docs/abi.md §3.9, §3.10).
//!
//! Events: what reaches the worker's main thread ([`Incoming`]) and the
//! Python event `Channel.recv_main` makes of it ([`event_to_py`]): one
//! small class per kind of event, with named fields (listed in
//! `vh/_core.pyi`) and a `kind` class attribute (`"load"`, `"hook"`, …) to
//! switch on. The load request's fields have the keys of the Python 2
//! worker's load dict.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use vh_proto::v1::{Value, to_worker, value::Kind};

use crate::charmap::CharTable;

/// A wire value as Python: 'l' -> `int`, 's' and 'D' -> `bytes`, 'd' ->
/// `float`, a NULL string -> `None`.
pub fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match &v.kind {
        Some(Kind::L(l)) => l.into_pyobject(py)?.into_any().unbind(),
        Some(Kind::S(s)) | Some(Kind::Json(s)) => PyBytes::new(py, s).into_any().unbind(),
        Some(Kind::D(d)) => d.into_pyobject(py)?.into_any().unbind(),
        Some(Kind::NullS(_)) | None => py.None(),
    })
}

/// `values` as a Python list (see [`to_py`]).
pub fn values_to_py<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyList>> {
    let items = values
        .iter()
        .map(|v| to_py(py, v))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Python value -> wire value: `int`/`bool` -> 'l', `bytes` -> 's',
/// `float` -> 'd', `None` -> NULL 's'. Text must be encoded by the caller.
///
/// # Errors
/// `OverflowError` for an `int` beyond a C long, `TypeError` for any other
/// type.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
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

/// Argument `obj` of a classic `vh` function's parameter of kind `kind`
/// (`l`, `s` or `d`) as the hub value `vh._api.convert_args` and then
/// [`from_py`] make of it, for the usual arguments only: `None`; an exact
/// `str` (encoded with the hub's charmap codec's `encode_map` if it has
/// one, strictly, else with `encoding` and `surrogateescape`, as
/// `ScriptState.to_hub`), or `bytes`, without a NUL byte, for `s`; an
/// exact `int` within a C long for `l`; an exact `float` or such an `int`
/// for `d`. With a charmap codec, `table` (the same codec, `charmap`)
/// encodes the text first; what it cannot goes to `encode_map`. `Ok(None)` for anything else, which the caller converts in
/// Python: the rarer conversions (subclasses, text the charmap codec
/// escapes) and every error message are there.
///
/// # Errors
/// None of its own; only a failure to allocate.
pub fn usual_arg(
    kind: u8,
    obj: &Bound<'_, PyAny>,
    table: Option<&CharTable>,
    encode_map: Option<&Bound<'_, PyAny>>,
    encoding: &std::ffi::CStr,
) -> PyResult<Option<Value>> {
    use pyo3::types::{PyFloat, PyInt, PyString};
    let exact_int = || {
        obj.is_exact_instance_of::<PyInt>()
            .then(|| obj.extract::<i64>().ok())
            .flatten()
    };
    let kind = match kind {
        b's' if obj.is_none() => Kind::NullS(true),
        b'l' if obj.is_none() => Kind::L(0),
        b's' if obj.is_exact_instance_of::<PyBytes>() => {
            let b = obj.cast::<PyBytes>()?.as_bytes();
            if b.contains(&0) {
                return Ok(None);
            }
            Kind::S(b.to_vec())
        }
        b's' if obj.is_exact_instance_of::<PyString>() => {
            let encoded = table
                .and_then(|t| t.encode(obj))
                .or_else(|| codec_encode(obj, encode_map, encoding));
            match encoded {
                Some(b) if !b.contains(&0) => Kind::S(b),
                _ => return Ok(None),
            }
        }
        b'l' => match exact_int() {
            Some(n) => Kind::L(n),
            None => return Ok(None),
        },
        b'd' if obj.is_exact_instance_of::<PyFloat>() => Kind::D(obj.extract::<f64>()?),
        // Python's float() of an int is correctly rounded, as this is.
        b'd' => match exact_int() {
            Some(n) => Kind::D(n as f64),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Value { kind: Some(kind) }))
}

/// `obj` (a `str`) encoded by the hub codec itself: with its charmap
/// codec's `encode_map`, strictly, else with `encoding` and
/// `surrogateescape`; `None` if it cannot be (the caller's Python way
/// raises what the script must see).
fn codec_encode(
    obj: &Bound<'_, PyAny>,
    encode_map: Option<&Bound<'_, PyAny>>,
    encoding: &std::ffi::CStr,
) -> Option<Vec<u8>> {
    // SAFETY: `obj` is a live str, the map a live object, the names
    // NUL-terminated; a NULL result sets the error, which
    // `from_owned_ptr_or_err` takes (and this drops).
    let encoded = unsafe {
        let raw = match encode_map {
            Some(map) => pyo3::ffi::PyUnicode_AsCharmapString(obj.as_ptr(), map.as_ptr()),
            None => pyo3::ffi::PyUnicode_AsEncodedString(
                obj.as_ptr(),
                encoding.as_ptr(),
                c"surrogateescape".as_ptr(),
            ),
        };
        Bound::from_owned_ptr_or_err(obj.py(), raw).ok()?
    };
    Some(encoded.cast::<PyBytes>().ok()?.as_bytes().to_vec())
}

/// Every item of `values` as [`from_py`] converts it.
pub fn list_from_py(values: &Bound<'_, PyList>) -> PyResult<Vec<Value>> {
    values.iter().map(|v| from_py(&v)).collect()
}

/// Like [`from_py`], with `kind` 'D' turning `bytes` into a JSON document.
///
/// # Errors
/// As [`from_py`]; `TypeError` for an unknown kind, or a 'D' that is not
/// `bytes`.
pub fn typed_from_py(kind: char, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
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
///
/// # Errors
/// `TypeError` if there are not as many kinds as values; as
/// [`typed_from_py`].
pub fn typed_list_from_py(kinds: &str, values: &Bound<'_, PyList>) -> PyResult<Vec<Value>> {
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
pub fn kinds_of(values: &[Value]) -> String {
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

/// A frame from the runner or the hub, or the end of the runner's link.
/// Not boxed: a hook's frame would pay an allocation for the size of the
/// rare `LoadScript` (docs/performance.md).
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    /// A message for the worker (`ToWorker`).
    Frame(to_worker::Kind),
    /// The runner's link closed; the reason, for the script's log.
    Closed(String),
}

/// The load request (`LoadScript`), as `vh._core.LoadEvent`: the
/// Python 2 worker's load dict, key for key, as attributes. Hub strings
/// are `bytes` in the hub's encoding.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct LoadEvent {
    /// The hub's script id.
    script_id: i32,
    /// The script's path as the hub gave it.
    path: Py<PyBytes>,
    /// The hub's bot nick.
    botname: Py<PyBytes>,
    /// The operator chat's nick.
    opchatname: Py<PyBytes>,
    /// The hub's configuration folder.
    config_dir: Py<PyBytes>,
    /// When the hub started, Unix seconds.
    start_time: i64,
    /// The hub's configuration name.
    config_name: Py<PyBytes>,
    /// The hub's encoding (a codec name; empty: unknown).
    hub_encoding: String,
    /// The hub's plugin generation, `"A"` or `"B"` (empty: unknown).
    generation: String,
    /// The hub's working directory (empty: unknown).
    hub_cwd: Py<PyBytes>,
    /// The script's semantics from runner.toml, `"A"`, `"B"` or empty.
    semantics: String,
}

/// A hook call (`HookCall`, docs/abi.md §5): answer it with
/// `send_hook_result(call_id, …)`.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct HookEvent {
    /// The call's id, to answer it with.
    call_id: u64,
    /// The hook's index (docs/abi.md §4.1).
    hook: u32,
    /// The hook's arguments, hub values.
    args: Py<PyList>,
}

/// Generation B's `w_CallFunction` (docs/abi.md §3.9): answer it with
/// `send_function_result(call_id, …)`.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct FunctionEvent {
    /// The call's id, to answer it with.
    call_id: u64,
    /// The function's name as the caller gave it.
    name: Py<PyBytes>,
    /// One format character per argument (`l`, `s`, `d`, `D`).
    kinds: String,
    /// The arguments, hub values.
    args: Py<PyList>,
}

/// The answer to a `vh.*` or dynamic function call of the main thread.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct ResultEvent {
    /// The id `start_call` / `start_dynamic` returned.
    call_id: u64,
    /// False if the hub refused or failed the call.
    ok: bool,
    /// The result, hub values.
    values: Py<PyList>,
    /// Why it failed (empty if `ok`).
    error: String,
    /// One format character per value (`l`, `s`, `d`, `D`).
    kinds: String,
}

/// A health ping: answer it with `send_pong(seq)` from the main thread.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct PingEvent {
    /// The ping's number, to echo.
    seq: u64,
}

/// The unload request: the script's `UnLoad()` runs, then the worker exits.
#[pyclass(frozen, module = "vh._core")]
pub struct UnloadEvent;

/// The runner's link closed.
#[pyclass(frozen, get_all, module = "vh._core")]
pub struct ClosedEvent {
    /// Why, for the script's log.
    reason: String,
}

/// The `kind` class attribute of each event class.
macro_rules! kind {
    ($($class:ident = $name:literal),* $(,)?) => {$(
        #[pymethods]
        impl $class {
            /// What kind of event this is.
            #[classattr]
            fn kind() -> &'static str {
                $name
            }
        }
    )*};
}

kind!(
    LoadEvent = "load",
    HookEvent = "hook",
    FunctionEvent = "function",
    ResultEvent = "result",
    PingEvent = "ping",
    UnloadEvent = "unload",
    ClosedEvent = "closed",
);

/// Adds the event classes to `vh._core`.
pub fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LoadEvent>()?;
    m.add_class::<HookEvent>()?;
    m.add_class::<FunctionEvent>()?;
    m.add_class::<ResultEvent>()?;
    m.add_class::<PingEvent>()?;
    m.add_class::<UnloadEvent>()?;
    m.add_class::<ClosedEvent>()
}

/// `ev` as the event object `Channel.recv_main` returns.
pub fn event_to_py(py: Python<'_>, ev: Incoming) -> PyResult<Py<PyAny>> {
    let obj = match ev {
        Incoming::Closed(reason) => Py::new(py, ClosedEvent { reason })?.into_any(),
        Incoming::Frame(to_worker::Kind::Load(l)) => {
            let b = |v: &[u8]| PyBytes::new(py, v).unbind();
            let load = LoadEvent {
                script_id: l.script_id,
                path: b(&l.path),
                botname: b(&l.botname),
                opchatname: b(&l.opchatname),
                config_dir: b(&l.config_dir),
                start_time: l.start_time,
                config_name: b(&l.config_name),
                hub_encoding: l.hub_encoding,
                generation: l.generation,
                hub_cwd: b(&l.hub_cwd),
                semantics: l.semantics,
            };
            Py::new(py, load)?.into_any()
        }
        Incoming::Frame(to_worker::Kind::Hook(h)) => Py::new(
            py,
            HookEvent {
                call_id: h.call_id,
                hook: h.hook,
                args: values_to_py(py, &h.args)?.unbind(),
            },
        )?
        .into_any(),
        Incoming::Frame(to_worker::Kind::CallResult(r)) => Py::new(
            py,
            ResultEvent {
                call_id: r.call_id,
                ok: r.ok,
                kinds: kinds_of(&r.values),
                values: values_to_py(py, &r.values)?.unbind(),
                error: r.error,
            },
        )?
        .into_any(),
        Incoming::Frame(to_worker::Kind::Function(f)) => Py::new(
            py,
            FunctionEvent {
                call_id: f.call_id,
                name: PyBytes::new(py, &f.name).unbind(),
                kinds: kinds_of(&f.args),
                args: values_to_py(py, &f.args)?.unbind(),
            },
        )?
        .into_any(),
        Incoming::Frame(to_worker::Kind::Unload(_)) => Py::new(py, UnloadEvent)?.into_any(),
        Incoming::Frame(to_worker::Kind::Ping(p)) => {
            Py::new(py, PingEvent { seq: p.seq })?.into_any()
        }
    };
    Ok(obj)
}
