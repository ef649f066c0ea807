//! Fields read straight from CPython 2.7's objects where the C API has only
//! a generic look-up: a frame's caller, code and last instruction, a code
//! object's byte code, and whether a `str` is interned. The discarded-result
//! test ([`crate::discard`]) asked for them by name, and each `getattr` on a
//! frame walks the type's attribute machinery, a few microseconds of cold
//! code on a hook that finds its worker asleep (docs/performance.md "Held
//! calls and names in `vh._native`"); the compact frame's writer
//! ([`crate::marshal`]) needs the interned flag, which only the struct has.
//!
//! The structs below are the heads of 2.7's `PyFrameObject`, `PyCodeObject`
//! and `PyStringObject` in a 64-bit release build, a layout 2.7 has kept
//! in every release. Debug builds (`Py_TRACE_REFS`, two more words in
//! every object head) never load this module (`vh._hook_loop`); still,
//! [`check`] compares each read with the interpreter's own answer once, at
//! import, and where one differs [`known`] is false and the callers take
//! the generic way.

use std::ffi::{c_int, c_long, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ffi::{self, Py_ssize_t, PyObject};
use crate::name;
use crate::py::{self, Owned, PyResult};

/// `PyFrameObject` up to `f_lasti`.
#[repr(C)]
struct Frame {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyObject,
    ob_size: Py_ssize_t,
    f_back: *mut PyObject,
    f_code: *mut PyObject,
    f_builtins: *mut PyObject,
    f_globals: *mut PyObject,
    f_locals: *mut PyObject,
    f_valuestack: *mut *mut PyObject,
    f_stacktop: *mut *mut PyObject,
    f_trace: *mut PyObject,
    f_exc_type: *mut PyObject,
    f_exc_value: *mut PyObject,
    f_exc_traceback: *mut PyObject,
    f_tstate: *mut c_void,
    f_lasti: c_int,
}

/// `PyCodeObject` up to `co_code`.
#[repr(C)]
struct Code {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyObject,
    co_argcount: c_int,
    co_nlocals: c_int,
    co_stacksize: c_int,
    co_flags: c_int,
    co_code: *mut PyObject,
}

/// `PyStringObject` up to `ob_sstate` (0: not interned).
#[repr(C)]
struct Str {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyObject,
    ob_size: Py_ssize_t,
    ob_shash: c_long,
    ob_sstate: c_int,
}

static KNOWN: AtomicBool = AtomicBool::new(false);

/// True if [`check`] found every field where the structs say.
pub fn known() -> bool {
    KNOWN.load(Ordering::Relaxed)
}

/// A frame's caller (`f_back`, borrowed; NULL for none).
///
/// # Safety
/// `frame` is a live frame and [`known`] is true.
pub unsafe fn frame_back(frame: *mut PyObject) -> *mut PyObject {
    // SAFETY: per the contract.
    unsafe { (*frame.cast::<Frame>()).f_back }
}

/// A frame's last instruction (`f_lasti`) and code object (borrowed).
///
/// # Safety
/// As [`frame_back`].
pub unsafe fn frame_code(frame: *mut PyObject) -> (c_int, *mut PyObject) {
    // SAFETY: per the contract.
    let f = unsafe { &*frame.cast::<Frame>() };
    (f.f_lasti, f.f_code)
}

/// A code object's byte code (`co_code`, a `str`, borrowed).
///
/// # Safety
/// `code` is a live code object and [`known`] is true.
pub unsafe fn code_bytes(code: *mut PyObject) -> *mut PyObject {
    // SAFETY: per the contract.
    unsafe { (*code.cast::<Code>()).co_code }
}

/// True if `s`, exactly a `str`, is interned (`marshal` writes those as
/// `t` and `R`).
///
/// # Safety
/// `s` is a live `str` and [`known`] is true.
pub unsafe fn interned(s: *mut PyObject) -> bool {
    // SAFETY: per the contract.
    unsafe { (*s.cast::<Str>()).ob_sstate != 0 }
}

/// Compares every read above with what the interpreter answers for the
/// frame running now (the module's import) and two strings, and sets
/// [`known`]. Clears any error it meets (then not known). `VH_PY2_LAYOUT=0`
/// in the environment: not known, without looking (docs/admin.md "Python
/// 2 scripts"; the tests run the generic ways so).
pub fn check() {
    if std::env::var_os("VH_PY2_LAYOUT").is_some_and(|v| v == "0") {
        KNOWN.store(false, Ordering::Relaxed);
        return;
    }
    let agree = || -> PyResult<bool> {
        // SAFETY: the GIL is held (import); a borrowed frame or NULL.
        let frame = unsafe { ffi::PyEval_GetFrame() };
        if frame.is_null() {
            return Ok(false);
        }
        let back = py::getattr(frame, name!(c"f_back"))?;
        let code = py::getattr(frame, name!(c"f_code"))?;
        let lasti = py::getattr(frame, name!(c"f_lasti"))?;
        let bytes = py::getattr(code.as_ptr(), name!(c"co_code"))?;
        // SAFETY: an int.
        let lasti = unsafe { ffi::PyInt_AsLong(lasti.as_ptr()) };
        let name = Owned::new(
            // SAFETY: a NUL-terminated string.
            unsafe { ffi::PyString_InternFromString(c"_vh_layout".as_ptr()) },
        )?;
        let plain = py::bytes(b"vh layout, not interned")?;
        // SAFETY: the objects are live and of the structs' types; the
        // reads are checked before anything relies on them.
        Ok(unsafe {
            let back_read = frame_back(frame);
            let (lasti_read, code_read) = frame_code(frame);
            (back_read == back.as_ptr() || (back_read.is_null() && back.is_none()))
                && code_read == code.as_ptr()
                && c_long::from(lasti_read) == lasti
                && code_bytes(code_read) == bytes.as_ptr()
                && interned(name.as_ptr())
                && !interned(plain.as_ptr())
        })
    };
    let ok = agree().unwrap_or_else(|py::Raised| {
        // SAFETY: clears the error the check raised.
        unsafe { ffi::PyErr_Clear() };
        false
    });
    KNOWN.store(ok, Ordering::Relaxed);
}
