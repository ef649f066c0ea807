//! What reaches the worker's main thread ([`Incoming`]) and the Python
//! event `Channel.recv_main` makes of it ([`event_to_py`]; the shapes are
//! listed there and in `vh/_core.pyi`). The load request's fields are
//! named ([`LoadEvent`]), with the keys the Python 2 worker's load dict
//! has.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use vh_proto::v1::to_worker;

use crate::values::{kinds_of, values_to_py};

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

/// `ev` as what `Channel.recv_main` returns: `("load", LoadEvent)`,
/// `("hook", call_id, hook, args)`, `("result", call_id, ok, values,
/// error, kinds)`, `("function", call_id, name, kinds, args)`,
/// `("unload",)`, `("ping", seq)` or `("closed", reason)`.
pub fn event_to_py(py: Python<'_>, ev: Incoming) -> PyResult<Py<PyAny>> {
    let t = match ev {
        Incoming::Closed(reason) => ("closed", reason).into_pyobject(py)?.into_any(),
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
            ("load", Py::new(py, load)?).into_pyobject(py)?.into_any()
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
