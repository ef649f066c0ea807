//! The part of CPython 2.7's C API the hook loop uses, declared here from
//! the API's documented signatures: admins' machines have no Python 2
//! headers, and the module must build where only Rust is installed.
//!
//! Only functions and objects whose shape is the same in every 64-bit
//! release build of 2.7 are used: nothing of `unicode` (whose symbols
//! depend on the build's UCS2/UCS4 choice), and reference counts through
//! the `Py_IncRef`/`Py_DecRef` functions rather than the struct. The one
//! field read directly here is `ob_type`, the second word of every object
//! in a build without `Py_TRACE_REFS` (debug builds, which `vh._hook_loop`
//! never loads this module into); [`crate::layout`] reads a few more, each
//! checked against the interpreter once. The symbols are resolved when the
//! interpreter loads the module, from the interpreter itself.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

use std::ffi::{c_char, c_double, c_int, c_long, c_void};

/// `Py_ssize_t`: a signed size, pointer-sized.
pub type Py_ssize_t = isize;

/// The head of every object of a release build: its reference count, then
/// its type.
#[repr(C)]
pub struct PyObject {
    pub ob_refcnt: Py_ssize_t,
    pub ob_type: *mut PyObject,
}

/// A C function of a module, called with the module and a tuple of
/// positional arguments (`METH_VARARGS`).
pub type PyCFunction = unsafe extern "C" fn(*mut PyObject, *mut PyObject) -> *mut PyObject;

/// One entry of a module's method table.
#[repr(C)]
pub struct PyMethodDef {
    pub ml_name: *const c_char,
    pub ml_meth: Option<PyCFunction>,
    pub ml_flags: c_int,
    pub ml_doc: *const c_char,
}

/// Positional arguments as one tuple.
pub const METH_VARARGS: c_int = 1;
/// The C API version of every 2.7 release (`PYTHON_API_VERSION`).
pub const PYTHON_API_VERSION: c_int = 1013;
/// The `marshal` format `marshal.dumps` writes by default in 2.7.
pub const MARSHAL_VERSION: c_int = 2;
/// `Py_EQ` of `PyObject_RichCompareBool`.
pub const Py_EQ: c_int = 2;

/// An object whose address is all that is used (a type, a singleton).
#[repr(C)]
pub struct Opaque {
    _private: [u8; 0],
}

unsafe extern "C" {
    /// `Py_InitModule4` of a build whose `size_t` is wider than `int`.
    pub fn Py_InitModule4_64(
        name: *const c_char,
        methods: *mut PyMethodDef,
        doc: *const c_char,
        module_self: *mut PyObject,
        apiver: c_int,
    ) -> *mut PyObject;
    pub fn Py_IncRef(o: *mut PyObject);
    pub fn Py_DecRef(o: *mut PyObject);

    pub fn PyObject_GetAttr(o: *mut PyObject, name: *mut PyObject) -> *mut PyObject;
    /// The address of `o`'s `__dict__` slot (NULL if its type has none; the
    /// slot itself NULL until the dict is made).
    pub fn _PyObject_GetDictPtr(o: *mut PyObject) -> *mut *mut PyObject;
    /// A borrowed reference, or NULL (no error set) if `key` is absent.
    pub fn PyDict_GetItem(d: *mut PyObject, key: *mut PyObject) -> *mut PyObject;
    pub fn PyDict_SetItem(d: *mut PyObject, key: *mut PyObject, v: *mut PyObject) -> c_int;
    pub fn PyObject_SetAttr(o: *mut PyObject, name: *mut PyObject, v: *mut PyObject) -> c_int;
    pub fn PyObject_Call(
        callable: *mut PyObject,
        args: *mut PyObject,
        kwargs: *mut PyObject,
    ) -> *mut PyObject;
    pub fn PyObject_IsTrue(o: *mut PyObject) -> c_int;
    pub fn PyObject_RichCompareBool(a: *mut PyObject, b: *mut PyObject, op: c_int) -> c_int;
    pub fn PyIter_Next(o: *mut PyObject) -> *mut PyObject;
    pub fn PyObject_Size(o: *mut PyObject) -> Py_ssize_t;
    pub fn PyCallable_Check(o: *mut PyObject) -> c_int;
    pub fn PySequence_Contains(seq: *mut PyObject, o: *mut PyObject) -> c_int;
    pub fn PySequence_Tuple(o: *mut PyObject) -> *mut PyObject;
    pub fn PySequence_GetItem(o: *mut PyObject, i: Py_ssize_t) -> *mut PyObject;

    pub fn PyTuple_New(n: Py_ssize_t) -> *mut PyObject;
    /// Steals the reference to `o`.
    pub fn PyTuple_SetItem(t: *mut PyObject, i: Py_ssize_t, o: *mut PyObject) -> c_int;
    /// A borrowed reference.
    pub fn PyTuple_GetItem(t: *mut PyObject, i: Py_ssize_t) -> *mut PyObject;
    pub fn PyList_New(n: Py_ssize_t) -> *mut PyObject;
    /// Steals the reference to `o`.
    pub fn PyList_SetItem(l: *mut PyObject, i: Py_ssize_t, o: *mut PyObject) -> c_int;
    pub fn PyList_Append(l: *mut PyObject, o: *mut PyObject) -> c_int;
    pub fn PyList_SetSlice(
        l: *mut PyObject,
        low: Py_ssize_t,
        high: Py_ssize_t,
        items: *mut PyObject,
    ) -> c_int;

    pub fn PyInt_FromLong(v: c_long) -> *mut PyObject;
    pub fn PyBool_FromLong(v: c_long) -> *mut PyObject;
    pub fn PyInt_AsLong(o: *mut PyObject) -> c_long;
    pub fn PyFloat_FromDouble(v: c_double) -> *mut PyObject;
    pub fn PyFloat_AsDouble(o: *mut PyObject) -> c_double;
    pub fn PyString_InternFromString(s: *const c_char) -> *mut PyObject;
    pub fn PyString_FromStringAndSize(s: *const c_char, n: Py_ssize_t) -> *mut PyObject;
    pub fn PyString_AsStringAndSize(
        o: *mut PyObject,
        s: *mut *mut c_char,
        n: *mut Py_ssize_t,
    ) -> c_int;

    pub fn PyMarshal_WriteObjectToString(o: *mut PyObject, version: c_int) -> *mut PyObject;

    pub fn PyErr_Occurred() -> *mut PyObject;
    pub fn PyErr_ExceptionMatches(exc: *mut PyObject) -> c_int;
    pub fn PyErr_Clear();
    pub fn PyErr_Fetch(t: *mut *mut PyObject, v: *mut *mut PyObject, tb: *mut *mut PyObject);
    pub fn PyErr_NormalizeException(
        t: *mut *mut PyObject,
        v: *mut *mut PyObject,
        tb: *mut *mut PyObject,
    );
    pub fn PyErr_SetString(exc: *mut PyObject, msg: *const c_char);
    pub fn PyErr_CheckSignals() -> c_int;

    pub fn PyEval_GetFrame() -> *mut PyObject;
    pub fn PyThread_get_thread_ident() -> c_long;
    pub fn PyEval_SaveThread() -> *mut c_void;
    pub fn PyEval_RestoreThread(state: *mut c_void);

    pub static mut PyExc_Exception: *mut PyObject;
    pub static mut PyExc_AttributeError: *mut PyObject;
    pub static mut PyExc_TypeError: *mut PyObject;

    pub static PyInt_Type: Opaque;
    pub static PyString_Type: Opaque;
    pub static PyFloat_Type: Opaque;
    pub static _Py_NoneStruct: Opaque;
    pub static _Py_ZeroStruct: Opaque;
}

/// `None`, borrowed.
pub fn none() -> *mut PyObject {
    (&raw const _Py_NoneStruct).cast_mut().cast()
}

/// `False`, borrowed.
pub fn py_false() -> *mut PyObject {
    (&raw const _Py_ZeroStruct).cast_mut().cast()
}

/// The built-in types the loop checks objects against.
#[derive(Debug, Clone, Copy)]
pub enum Type {
    Int,
    Str,
    Float,
}

impl Type {
    fn addr(self) -> *const Opaque {
        match self {
            Type::Int => &raw const PyInt_Type,
            Type::Str => &raw const PyString_Type,
            Type::Float => &raw const PyFloat_Type,
        }
    }
}

/// True if `o` is exactly of type `ty` (no subclass).
///
/// # Safety
/// `o` is a live object.
pub unsafe fn is_exact(o: *mut PyObject, ty: Type) -> bool {
    // SAFETY: a live object's second word is its type (module docs).
    unsafe { (*o).ob_type.cast_const().cast::<Opaque>() == ty.addr() }
}
