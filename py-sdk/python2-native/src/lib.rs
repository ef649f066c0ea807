//! `vh._native`: the Python 2.7 worker's hook loop, compiled.
//!
//! The Python 3 worker runs its plain hooks in Rust (`py-sdk/src/hook_loop.rs`);
//! the Python 2 worker ran them in Python (`vh._hook_loop`), and a hook
//! that finds its worker asleep pays for every line of interpreter code it
//! runs cold (docs/performance.md "The Python 2 worker's compiled loop").
//! This module is the same loop built for CPython 2.7 without its headers
//! ([`ffi`]): admins' machines have Python 2.7 but no compiler and no
//! Python 2 headers, so vh-runner carries the module (built by
//! `runner/build.rs` from this crate's sources) and writes it into the
//! Python 2 `vh` package at start-up. `vh._hook_loop` uses it when it
//! loads, and runs its own Python loop when it does not (a debug build of
//! Python, a directory mounted `noexec`, `VH_PY2_NATIVE=0`).
//!
//! Functions, called from `vh._hook_loop` (and `vh._api`) only:
//! - `serve_hooks(channel, rt, names, rules, max_depth, config)`: runs
//!   plain hooks until an event the main loop must handle, and returns it
//!   ([`serve`]);
//! - `send_as_is(context, send, args)`: a classic function's discarded
//!   send, its usual arguments taken as they are to the held compact frame
//!   ([`pipeline`]; True sent, False the result is used, another thread
//!   or not now, None: the Python way); `context` is the tuple
//!   `vh._hook_loop.as_is_for` binds (the channel, its constants, the
//!   main thread), `send` the classic function's own (`vh._api`);
//! - `caller_discards(rules, nargs)`: whether the calling function's
//!   caller discards its result ([`discard`]), for
//!   `py-sdk/tests/discard_cases.py`, which holds it to `vh._discard`;
//! - `layout_known()`: whether the object fields [`layout`] reads were
//!   found where its structs say (else the slower ways run), for
//!   `py-sdk/tests/test_py2_native.py`;
//! - `waited(spin, seconds)`: `Adaptive.waited` ([`spin`]), for
//!   `py-sdk/tests/test_py2_native.py`, which holds it to the Python rules;
//! - `held_push(frame, at_most, bytes)`, `held_take()`, `held_count()`,
//!   `held_clear()`: the held pipelined calls ([`held`]), for
//!   `vh._held.NativeHeld`.

mod discard;
mod ffi;
mod held;
mod layout;
mod link;
mod marshal;
mod pipeline;
mod py;
mod serve;
mod spin;

use std::ffi::{c_char, c_long};
use std::ptr::null_mut;
use std::time::Duration;

use ffi::{METH_VARARGS, PyMethodDef, PyObject};
use py::{Owned, PyResult};

/// `NULL` for an error, the object otherwise, as C functions answer.
fn to_c(got: PyResult<Owned>) -> *mut PyObject {
    got.map_or(null_mut(), Owned::into_ptr)
}

fn config(cfg: *mut PyObject) -> PyResult<serve::Config> {
    let long = |i| -> PyResult<c_long> {
        let v = py::item(cfg, i)?;
        // SAFETY: `v` is live.
        Ok(unsafe { ffi::PyInt_AsLong(v.as_ptr()) })
    };
    Ok(serve::Config {
        next_event: py::item(cfg, 0)?,
        result_ignored: py::item(cfg, 1)?,
        direct: py::item(cfg, 2)?,
        hook_tag: long(3)?,
        result_tag: long(4)?,
        compact: u32::try_from(long(5)?).unwrap_or(0x8000_0000),
    })
}

unsafe extern "C" fn serve_hooks(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    to_c((|| {
        let cfg = config(py::tuple_item(args, 5)?)?;
        serve::serve(
            py::tuple_item(args, 0)?,
            py::tuple_item(args, 1)?,
            py::tuple_item(args, 2)?,
            py::tuple_item(args, 3)?,
            &cfg,
        )
    })())
}

unsafe extern "C" fn waited(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    to_c((|| {
        let took = py::float(py::tuple_item(args, 1)?)?;
        // A negative, NaN or endless time counts as none (no panic here).
        let took = Duration::try_from_secs_f64(took).unwrap_or(Duration::ZERO);
        spin::waited(py::tuple_item(args, 0)?, took)?;
        // SAFETY: `None`, borrowed from the interpreter.
        Ok(unsafe { Owned::borrowed(ffi::none()) })
    })())
}

unsafe extern "C" fn send_as_is(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    to_c((|| {
        let context = pipeline::Context::of(py::tuple_item(args, 0)?)?;
        let send = pipeline::SendSpec::from_tuple(py::tuple_item(args, 1)?)?;
        pipeline::send_as_is(context, &send, py::tuple_item(args, 2)?)
    })())
}

unsafe extern "C" fn held_push(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    to_c((|| {
        // SAFETY: a live item, made ours for the call.
        let frame = unsafe { Owned::borrowed(py::tuple_item(args, 0)?) };
        let limits = held::Limits {
            at_most: py::float(py::tuple_item(args, 1)?)?,
            bytes: usize::try_from(py::long(py::tuple_item(args, 2)?)?).unwrap_or(0),
        };
        let now = held::push(py::as_bytes(&frame)?, limits);
        // SAFETY: a plain constructor.
        Owned::new(unsafe { ffi::PyBool_FromLong(c_long::from(now)) })
    })())
}

unsafe extern "C" fn held_take(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    let mut out = Vec::new();
    held::take_into(&mut out);
    to_c(py::bytes(&out))
}

unsafe extern "C" fn held_count(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    to_c(py::int(
        c_long::try_from(held::count()).unwrap_or(c_long::MAX),
    ))
}

unsafe extern "C" fn held_clear(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    held::clear();
    // SAFETY: `None`, borrowed from the interpreter.
    to_c(Ok(unsafe { Owned::borrowed(ffi::none()) }))
}

unsafe extern "C" fn layout_known(_module: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    // SAFETY: a plain constructor.
    to_c(Owned::new(unsafe {
        ffi::PyBool_FromLong(c_long::from(layout::known()))
    }))
}

unsafe extern "C" fn caller_discards(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    to_c((|| {
        // SAFETY: the argument is live.
        let nargs = unsafe { ffi::PyInt_AsLong(py::tuple_item(args, 1)?) };
        let yes = discard::caller_discards(
            py::tuple_item(args, 0)?,
            usize::try_from(nargs).unwrap_or(usize::MAX),
        );
        // SAFETY: a plain constructor.
        Owned::new(unsafe { ffi::PyBool_FromLong(c_long::from(yes)) })
    })())
}

/// The module's functions; the interpreter keeps the pointer, so the
/// table lives as long as the process.
static mut METHODS: [PyMethodDef; 10] = [
    PyMethodDef {
        ml_name: c"serve_hooks".as_ptr(),
        ml_meth: Some(serve_hooks),
        ml_flags: METH_VARARGS,
        ml_doc: c"Runs plain hooks until an event the main loop must handle.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"waited".as_ptr(),
        ml_meth: Some(waited),
        ml_flags: METH_VARARGS,
        ml_doc: c"Adaptive.waited(seconds), compiled.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"send_as_is".as_ptr(),
        ml_meth: Some(send_as_is),
        ml_flags: METH_VARARGS,
        ml_doc: c"A classic function's discarded send, its arguments as they are.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"caller_discards".as_ptr(),
        ml_meth: Some(caller_discards),
        ml_flags: METH_VARARGS,
        ml_doc: c"Whether the calling function's caller discards its result.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"layout_known".as_ptr(),
        ml_meth: Some(layout_known),
        ml_flags: METH_VARARGS,
        ml_doc: c"Whether the object fields it reads were found where expected.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"held_push".as_ptr(),
        ml_meth: Some(held_push),
        ml_flags: METH_VARARGS,
        ml_doc: c"Holds a pipelined call's frame; True if what is held should be written now."
            .as_ptr(),
    },
    PyMethodDef {
        ml_name: c"held_take".as_ptr(),
        ml_meth: Some(held_take),
        ml_flags: METH_VARARGS,
        ml_doc: c"Every held frame, oldest first, as one str; nothing is held after.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"held_count".as_ptr(),
        ml_meth: Some(held_count),
        ml_flags: METH_VARARGS,
        ml_doc: c"How many frames are held.".as_ptr(),
    },
    PyMethodDef {
        ml_name: c"held_clear".as_ptr(),
        ml_meth: Some(held_clear),
        ml_flags: METH_VARARGS,
        ml_doc: c"Drops whatever is held.".as_ptr(),
    },
    PyMethodDef {
        ml_name: std::ptr::null::<c_char>(),
        ml_meth: None,
        ml_flags: 0,
        ml_doc: std::ptr::null::<c_char>(),
    },
];

/// The module's entry point, which Python 2.7 calls `init<name>`.
///
/// # Safety
/// Called by the interpreter once, with the GIL held.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_native() {
    // SAFETY: the table is static and NULL-terminated; the name and doc
    // are static C strings. A NULL result has set the import's error.
    unsafe {
        ffi::Py_InitModule4_64(
            c"_native".as_ptr(),
            (&raw mut METHODS).cast(),
            c"The Python 2 worker's compiled hook loop (vh-runner).".as_ptr(),
            null_mut(),
            ffi::PYTHON_API_VERSION,
        );
    }
    layout::check();
}
