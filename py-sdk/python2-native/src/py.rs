//! Owned references and the few object operations the hook loop makes,
//! over [`crate::ffi`]. Every function here needs the GIL held by the
//! calling thread, and an `Err(Raised)` means a Python exception is set.

use std::ffi::{CStr, c_char, c_long};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::ffi::{self, PyObject};

/// A Python exception is set on this thread (the caller returns `NULL`
/// to the interpreter, or clears it).
#[derive(Debug)]
pub struct Raised;

/// What the loop's steps return.
pub type PyResult<T> = Result<T, Raised>;

/// A new (owned) reference, released when dropped.
pub struct Owned(NonNull<PyObject>);

impl Owned {
    /// Takes a new reference from a C API call; `NULL` means the call
    /// raised.
    pub fn new(ptr: *mut PyObject) -> PyResult<Self> {
        NonNull::new(ptr).map(Self).ok_or(Raised)
    }

    /// A new reference to the borrowed `ptr` (not `NULL`).
    ///
    /// # Safety
    /// `ptr` is a live object.
    pub unsafe fn borrowed(ptr: *mut PyObject) -> Self {
        // SAFETY: the caller says it is live; a new reference keeps it so.
        unsafe { ffi::Py_IncRef(ptr) };
        Self(NonNull::new(ptr).expect("a borrowed reference is never NULL"))
    }

    pub fn as_ptr(&self) -> *mut PyObject {
        self.0.as_ptr()
    }

    /// Gives the reference away (to a call that steals it).
    pub fn into_ptr(self) -> *mut PyObject {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// True if this is `None`.
    pub fn is_none(&self) -> bool {
        self.as_ptr() == ffi::none()
    }

    /// True if this is exactly of type `ty`.
    pub fn is(&self, ty: ffi::Type) -> bool {
        // SAFETY: an owned reference is live.
        unsafe { ffi::is_exact(self.as_ptr(), ty) }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: we own one reference; the GIL is held (module docs).
        unsafe { ffi::Py_DecRef(self.0.as_ptr()) }
    }
}

/// An attribute or method name, made an interned `str` the first time it
/// is used and kept for the life of the process: a look-up by a C string
/// (`PyObject_GetAttrString`) makes, hashes and frees a new `str` each
/// time, and a hook that finds its worker asleep pays for each such line
/// of code it runs (docs/performance.md "Held calls and names in
/// `vh._native`"). Made by [`name!`](crate::name), one per call site.
pub struct Name {
    text: &'static CStr,
    object: AtomicPtr<PyObject>,
}

impl Name {
    pub const fn new(text: &'static CStr) -> Name {
        Name {
            text,
            object: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The interned `str`, borrowed (this `Name` keeps its reference).
    fn get(&self) -> PyResult<*mut PyObject> {
        // Relaxed is enough: only a thread holding the GIL gets here.
        let got = self.object.load(Ordering::Relaxed);
        if !got.is_null() {
            return Ok(got);
        }
        // SAFETY: a NUL-terminated string; the new reference is kept.
        let made = Owned::new(unsafe { ffi::PyString_InternFromString(self.text.as_ptr()) })?;
        let made = made.into_ptr();
        self.object.store(made, Ordering::Relaxed);
        Ok(made)
    }
}

/// A new reference to `name`'s interned `str`.
pub fn interned(name: &Name) -> PyResult<Owned> {
    // SAFETY: the `Name` keeps its object alive.
    Ok(unsafe { Owned::borrowed(name.get()?) })
}

/// A [`Name`] of its own for this call site: `name!(c"_held")`.
#[macro_export]
macro_rules! name {
    ($text:literal) => {{
        static NAME: $crate::py::Name = $crate::py::Name::new($text);
        &NAME
    }};
}

/// `getattr(o, name)`.
pub fn getattr(o: *mut PyObject, name: &Name) -> PyResult<Owned> {
    let name = name.get()?;
    // SAFETY: `o` is live (the caller's), `name` an interned `str`.
    Owned::new(unsafe { ffi::PyObject_GetAttr(o, name) })
}

/// `o.name` for an attribute the object holds itself (one set on the
/// instance, as `vh`'s classes set theirs in `__init__`), read straight
/// from its `__dict__`; anything else (a class attribute, a missing one)
/// as [`getattr`]. The same value as `getattr` while no class on `o`'s
/// MRO has a data descriptor (`property`, `__slots__`) of that name,
/// which the callers' names never are. Why: `PyObject_GetAttr` looks the
/// name up on the type's MRO first, for descriptors, and a hook that
/// finds the worker asleep pays for those cold lines on each of its
/// dozen such reads (docs/performance.md "One straight hook path").
pub fn own_attr(o: *mut PyObject, name: &Name) -> PyResult<Owned> {
    own_attr_of(o, name.get()?)
}

/// [`own_attr`] for a name given as a `str` object (`key`, live).
pub fn own_attr_of(o: *mut PyObject, key: *mut PyObject) -> PyResult<Owned> {
    // SAFETY: `o` and `key` are live; the dict slot, when there is one,
    // holds NULL or a live dict; `PyDict_GetItem` sets no error and
    // borrows.
    unsafe {
        let slot = ffi::_PyObject_GetDictPtr(o);
        if !slot.is_null() && !(*slot).is_null() {
            let v = ffi::PyDict_GetItem(*slot, key);
            if !v.is_null() {
                return Ok(Owned::borrowed(v));
            }
        }
        Owned::new(ffi::PyObject_GetAttr(o, key))
    }
}

/// `o.name = v` for an attribute the object holds itself, written straight
/// into its `__dict__` (see [`own_attr`]); as [`setattr`] if it has none.
pub fn set_own_attr(o: *mut PyObject, name: &Name, v: *mut PyObject) -> PyResult<()> {
    let key = name.get()?;
    // SAFETY: as in `own_attr`; `v` is live.
    unsafe {
        let slot = ffi::_PyObject_GetDictPtr(o);
        if !slot.is_null() && !(*slot).is_null() {
            return match ffi::PyDict_SetItem(*slot, key, v) {
                0 => Ok(()),
                _ => Err(Raised),
            };
        }
    }
    setattr(o, name, v)
}

/// `setattr(o, name, v)`.
pub fn setattr(o: *mut PyObject, name: &Name, v: *mut PyObject) -> PyResult<()> {
    let name = name.get()?;
    // SAFETY: as in `getattr`; `v` is live.
    match unsafe { ffi::PyObject_SetAttr(o, name, v) } {
        0 => Ok(()),
        _ => Err(Raised),
    }
}

/// A new tuple of `items` (their references are taken).
pub fn tuple(items: Vec<Owned>) -> PyResult<Owned> {
    // SAFETY: the tuple constructor and its item setter, which steals.
    unsafe { filled(ffi::PyTuple_New, ffi::PyTuple_SetItem, items) }
}

/// A new list of `items` (their references are taken).
pub fn list(items: Vec<Owned>) -> PyResult<Owned> {
    // SAFETY: the list constructor and its item setter, which steals.
    unsafe { filled(ffi::PyList_New, ffi::PyList_SetItem, items) }
}

/// A new sequence made by `new` and filled at every index by `set`.
///
/// # Safety
/// `new` makes a sequence of the given length whose items `set` sets,
/// taking the item's reference.
unsafe fn filled(
    new: unsafe extern "C" fn(ffi::Py_ssize_t) -> *mut PyObject,
    set: unsafe extern "C" fn(*mut PyObject, ffi::Py_ssize_t, *mut PyObject) -> std::ffi::c_int,
    items: Vec<Owned>,
) -> PyResult<Owned> {
    // SAFETY: per the contract; every index is set before the sequence is
    // used.
    unsafe {
        let seq = Owned::new(new(items.len() as ffi::Py_ssize_t))?;
        for (i, item) in items.into_iter().enumerate() {
            set(seq.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr());
        }
        Ok(seq)
    }
}

/// `callable(*args)`.
pub fn call(callable: *mut PyObject, args: Vec<Owned>) -> PyResult<Owned> {
    let args = tuple(args)?;
    // SAFETY: both live.
    Owned::new(unsafe { ffi::PyObject_Call(callable, args.as_ptr(), std::ptr::null_mut()) })
}

/// `o.name(*args)`.
pub fn call_method(o: *mut PyObject, name: &Name, args: Vec<Owned>) -> PyResult<Owned> {
    let method = getattr(o, name)?;
    call(method.as_ptr(), args)
}

/// `int(v)` for a C long.
pub fn int(v: c_long) -> PyResult<Owned> {
    // SAFETY: plain constructor.
    Owned::new(unsafe { ffi::PyInt_FromLong(v) })
}

/// `float(v)`.
pub fn float_of(v: f64) -> PyResult<Owned> {
    // SAFETY: plain constructor.
    Owned::new(unsafe { ffi::PyFloat_FromDouble(v) })
}

/// A byte string (`str`) of `bytes`.
pub fn bytes(bytes: &[u8]) -> PyResult<Owned> {
    // SAFETY: `bytes` is valid for its length.
    Owned::new(unsafe {
        ffi::PyString_FromStringAndSize(
            bytes.as_ptr().cast::<c_char>(),
            bytes.len() as ffi::Py_ssize_t,
        )
    })
}

/// The bytes of a `str` object, borrowed from it.
pub fn as_bytes(o: &Owned) -> PyResult<&[u8]> {
    let mut ptr = std::ptr::null_mut();
    let mut len = 0;
    // SAFETY: out-pointers are valid; the bytes live as long as `o`.
    unsafe {
        if ffi::PyString_AsStringAndSize(o.as_ptr(), &mut ptr, &mut len) != 0 {
            return Err(Raised);
        }
        Ok(std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize))
    }
}

/// `len(o)`.
pub fn len(o: *mut PyObject) -> PyResult<usize> {
    // SAFETY: `o` is live.
    usize::try_from(unsafe { ffi::PyObject_Size(o) }).map_err(|_| Raised)
}

/// `bool(o)`.
pub fn truthy(o: *mut PyObject) -> PyResult<bool> {
    // SAFETY: `o` is live.
    match unsafe { ffi::PyObject_IsTrue(o) } {
        -1 => Err(Raised),
        n => Ok(n != 0),
    }
}

/// `t[index]` of a tuple, borrowed (the tuple keeps it); `Err` past its
/// end (`IndexError`) or if `t` is no tuple (`SystemError`).
pub fn tuple_item(t: *mut PyObject, index: isize) -> PyResult<*mut PyObject> {
    // SAFETY: `t` is live; NULL with an error set otherwise.
    let item = unsafe { ffi::PyTuple_GetItem(t, index) };
    if item.is_null() {
        Err(Raised)
    } else {
        Ok(item)
    }
}

/// `o[i]` of a tuple or list.
pub fn item(o: *mut PyObject, i: usize) -> PyResult<Owned> {
    // SAFETY: `o` is live.
    Owned::new(unsafe { ffi::PySequence_GetItem(o, i as ffi::Py_ssize_t) })
}

/// `int(o)` of an `int` (a C long); `Err` if `o` has none.
pub fn long(o: *mut PyObject) -> PyResult<c_long> {
    // SAFETY: `o` is live.
    let v = unsafe { ffi::PyInt_AsLong(o) };
    // SAFETY: plain query.
    if v == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
        return Err(Raised);
    }
    Ok(v)
}

/// `float(o)` of a number.
pub fn float(o: *mut PyObject) -> PyResult<f64> {
    // SAFETY: `o` is live.
    let v = unsafe { ffi::PyFloat_AsDouble(o) };
    // SAFETY: plain query.
    if v == -1.0 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
        return Err(Raised);
    }
    Ok(v)
}

/// Raises `exc` with `message` and returns the error to pass up.
pub fn raise(exc: *mut PyObject, message: &CStr) -> Raised {
    // SAFETY: `exc` is an exception type, `message` NUL-terminated.
    unsafe { ffi::PyErr_SetString(exc, message.as_ptr()) };
    Raised
}

/// Runs `f` with the GIL released (it must not touch Python objects).
pub fn without_gil<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: the thread holds the GIL (module docs), given back below.
    let state = unsafe { ffi::PyEval_SaveThread() };
    let out = f();
    // SAFETY: `state` is this thread's, from the call above.
    unsafe { ffi::PyEval_RestoreThread(state) };
    out
}
