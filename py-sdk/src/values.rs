//! Hub values between Python and the wire (`vh_proto::v1::Value`): `int`,
//! `float`, `bytes` or `None` one way, and the *kinds* string (`l`, `s`,
//! `d`, `D`, one character per value) that tells a JSON document from a
//! string where it matters (docs/abi.md §3.9, §3.10).

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use vh_proto::v1::{Value, value::Kind};

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
