//! `vh._native.classic(send, sent, rest, runtime, name, doc)`: the classic
//! `vh` function of a callback whose discarded calls are pipelined
//! (`vh.usermc`, `vh.mc`, ...; docs/protocol.md "Pipelined calls") as a
//! built-in function, as python_pi's own functions are, so that the
//! usual call (positional arguments, its result discarded, on the main
//! thread) goes from the script's frame to the held frame with no Python
//! frame in between ([`crate::pipeline::send_as_is_for`], the script's
//! frame the innermost).
//!
//! Why: a hook that finds its worker asleep pays for every cache line it
//! touches, and the classic function written in Python (its frame, its
//! closure's cells, the look-ups of the runtime and its `as_is`) was the
//! largest step of a cold `vh.usermc` left once the test and the send
//! were compiled (docs/performance.md "The classic function compiled").
//!
//! Everything but that attempt stays in Python (`vh._api.make_classic`):
//! `rest(way, args, kwargs)` is the classic function past it, `way` the
//! attempt's answer (`None`: not made, or the arguments are not the usual
//! ones; False: it may not be pipelined now). An error of the attempt is
//! the call's, as it was the Python function's.
//!
//! Also `vh._native.discard_probe(rules, seen)`, for
//! `py-sdk/tests/discard_cases.py`: a built-in function that appends to
//! list `seen` whether its caller discards its result, the test the
//! classic functions make.

use std::ffi::{CString, c_char, c_long};

use crate::discard::{self, Caller};
use crate::ffi::{
    self, METH_KEYWORDS, METH_VARARGS, PyCFunctionWithKeywords, PyMethodDef, PyObject,
};
use crate::name;
use crate::pipeline::{Context, SendSpec, send_as_is_for};
use crate::py::{self, Owned, PyResult};

/// `classic(send, sent, rest, runtime, name, doc)` (module docs): the
/// built-in function, bound to the tuple `(send, sent, rest, runtime)`.
pub fn make(args: *mut PyObject) -> PyResult<Owned> {
    let bound = py::tuple(
        (0..4)
            // SAFETY: live items of the call's arguments, made ours for
            // the tuple.
            .map(|i| py::tuple_item(args, i).map(|o| unsafe { Owned::borrowed(o) }))
            .collect::<PyResult<Vec<_>>>()?,
    )?;
    builtin(
        py::tuple_item(args, 4)?,
        py::tuple_item(args, 5)?,
        call,
        bound,
    )
}

/// `discard_probe(rules, seen)` (module docs).
pub fn probe(args: *mut PyObject) -> PyResult<Owned> {
    // SAFETY: both items are live; made ours for the tuple.
    let bound = py::tuple(vec![
        unsafe { Owned::borrowed(py::tuple_item(args, 0)?) },
        unsafe { Owned::borrowed(py::tuple_item(args, 1)?) },
    ])?;
    let name = py::bytes(b"discard_probe")?;
    let doc = py::bytes(b"Appends whether its caller discards its result.")?;
    builtin(name.as_ptr(), doc.as_ptr(), probe_call, bound)
}

/// A built-in function named `name` with docs `doc` (both `str`) running
/// `meth` with `bound` as its `self`. Its method table entry and strings
/// live as long as the process (the function keeps a pointer to them):
/// one per classic function, made once at import.
fn builtin(
    name: *mut PyObject,
    doc: *mut PyObject,
    meth: PyCFunctionWithKeywords,
    bound: Owned,
) -> PyResult<Owned> {
    let text = |o: *mut PyObject| -> PyResult<*const c_char> {
        // SAFETY: a live argument, made ours for the read.
        let o = unsafe { Owned::borrowed(o) };
        let bytes = py::as_bytes(&o)?;
        let kept = CString::new(bytes).unwrap_or_default();
        Ok(kept.into_raw().cast_const())
    };
    let def = Box::into_raw(Box::new(PyMethodDef {
        ml_name: text(name)?,
        // SAFETY: `METH_KEYWORDS` makes the interpreter call it with three
        // arguments, as C method tables store such functions.
        ml_meth: Some(unsafe {
            std::mem::transmute::<PyCFunctionWithKeywords, ffi::PyCFunction>(meth)
        }),
        ml_flags: METH_VARARGS | METH_KEYWORDS,
        ml_doc: text(doc)?,
    }));
    let module = py::bytes(b"vh")?;
    // SAFETY: `def` lives for good; `bound` and `module` are live.
    Owned::new(unsafe { ffi::PyCFunction_NewEx(def, bound.as_ptr(), module.as_ptr()) })
}

/// A classic function's call: `bound` is `(send, sent, rest, runtime)`.
unsafe extern "C" fn call(
    bound: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    crate::to_c((|| {
        let keywords = !kwargs.is_null() && py::len(kwargs)? > 0;
        let way = if keywords {
            None
        } else {
            match attempt(bound, args)? {
                Some(true) => {
                    // SAFETY: a live item of `bound`, made ours to return.
                    return Ok(unsafe { Owned::borrowed(py::tuple_item(bound, 1)?) });
                }
                way => way,
            }
        };
        // SAFETY: plain constructors / borrowed singletons; `kwargs` is
        // NULL or live.
        let way = match way {
            Some(b) => Owned::new(unsafe { ffi::PyBool_FromLong(c_long::from(b)) })?,
            None => unsafe { Owned::borrowed(ffi::none()) },
        };
        // SAFETY: a borrowed singleton, or the live keyword dict.
        let kwargs = unsafe {
            Owned::borrowed(if kwargs.is_null() {
                ffi::none()
            } else {
                kwargs
            })
        };
        // SAFETY: `args` is live.
        let args = unsafe { Owned::borrowed(args) };
        py::call(py::tuple_item(bound, 2)?, vec![way, args, kwargs])
    })())
}

/// The installed runtime's `as_is` (`functools.partial(send_as_is,
/// context)`, `vh._hook_loop.as_is_for`) for the script's frame, the
/// innermost; `None` where the runtime has no compiled way (`as_is` is
/// None).
fn attempt(bound: *mut PyObject, args: *mut PyObject) -> PyResult<Option<bool>> {
    let rt = py::getattr(py::tuple_item(bound, 3)?, name!(c"_runtime"))?;
    if rt.is_none() {
        return Ok(None);
    }
    let as_is = py::getattr(rt.as_ptr(), name!(c"as_is"))?;
    if as_is.is_none() {
        return Ok(None);
    }
    let partial = py::getattr(as_is.as_ptr(), name!(c"args"))?;
    let context = Context::from_tuple(py::tuple_item(partial.as_ptr(), 0)?)?;
    let send = SendSpec::from_tuple(py::tuple_item(bound, 0)?)?;
    let way = send_as_is_for(&context, &send, args, Caller::Innermost)?;
    if way.is_none() {
        return Ok(None);
    }
    py::truthy(way.as_ptr()).map(Some)
}

/// The probe's call: `bound` is `(rules, seen)`.
unsafe extern "C" fn probe_call(
    bound: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    crate::to_c((|| {
        let keywords = if kwargs.is_null() {
            0
        } else {
            py::len(kwargs)?
        };
        let nargs = py::len(args)? + keywords;
        let yes = discard::caller_discards(py::tuple_item(bound, 0)?, nargs, Caller::Innermost);
        // SAFETY: a plain constructor.
        let yes = Owned::new(unsafe { ffi::PyBool_FromLong(c_long::from(yes)) })?;
        // SAFETY: `seen` is a live list (the probe's), `yes` live.
        if unsafe { ffi::PyList_Append(py::tuple_item(bound, 1)?, yes.as_ptr()) } != 0 {
            return Err(py::Raised);
        }
        // SAFETY: a plain constructor.
        Owned::new(unsafe { ffi::PyBool_FromLong(1) })
    })())
}
