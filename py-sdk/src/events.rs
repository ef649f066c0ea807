//! What reaches the worker's main thread ([`Incoming`]) and the Python
//! tuple `Channel.recv_main` makes of it ([`event_to_py`]; the shapes are
//! listed there and in `vh/_core.pyi`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
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

/// `ev` as the tuple `Channel.recv_main` returns: `("load", …)`,
/// `("hook", call_id, hook, args)`, `("result", call_id, ok, values,
/// error, kinds)`, `("function", call_id, name, kinds, args)`,
/// `("unload",)`, `("ping", seq)` or `("closed", reason)`.
pub fn event_to_py(py: Python<'_>, ev: Incoming) -> PyResult<Py<PyAny>> {
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
