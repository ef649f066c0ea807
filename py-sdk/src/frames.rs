//! Which code a classic `vh` function's caller runs, and where in it: what
//! the discarded-result test (`discard.rs`) reads of that frame, its
//! code object and `f_lasti`.
//!
//! The way every CPython gives it is the frame objects: the innermost
//! frame (`PyEval_GetFrame`: the script's own when it calls a compiled
//! classic function, `vh._core.Classic`; else the classic function's, and
//! then its `f_back`), that frame's `f_code` and `f_lasti` ([`Caller`]
//! says which). Since 3.11 a running function has no
//! frame object, only a record on the interpreter's own frame stack, and
//! asking for the two frames makes the interpreter build two objects: most
//! of the test's 12-16 µs in a `vh.usermc` call on a hook that finds its
//! worker asleep (docs/performance.md "A pipelined call's arguments").
//!
//! So on CPython 3.11, 3.12 and 3.13 (release builds: no `d` or `t` in
//! `sys.abiflags`) the same facts are read from those records: the thread
//! state's innermost record, the record below it with incomplete ones
//! skipped (C-stack entries, functions still setting up) as `f_back`
//! skips them, its code object and its instruction pointer. The offsets
//! are those versions' structs (they do not change within a minor
//! version). Before the first direct read, once per process, each step is
//! compared with the frame objects' answer in the caller's real context
//! (the innermost record must be the innermost frame object's, the code
//! and `f_lasti` must be `f_back`'s); if one differs, or
//! `VH_PY3_LAYOUT=0` (docs/admin.md) is set, the frame objects are asked
//! every time. `vh._core.frames_known()` says which way runs.

use std::ffi::c_int;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;

/// Where CPython 3.11-3.13 keep what is read here, in bytes from the start
/// of each struct.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// How the thread state leads to its innermost frame record.
    innermost: Innermost,
    /// In a frame record: its code object, the record below it, the
    /// instruction pointer (into the code object's own byte code), and the
    /// owner byte.
    code: usize,
    previous: usize,
    instr: usize,
    owner: usize,
    /// The owner byte of a record the C stack owns (3.12 and later), which
    /// is never complete.
    cstack: Option<u8>,
    /// In a code object: its byte code, and `_co_firsttraceable` (a C
    /// `int`, in code units): a record whose instruction pointer is before
    /// it is still setting up.
    code_units: usize,
    first_traceable: usize,
}

/// The thread state's way to its innermost frame record.
#[derive(Debug, Clone, Copy)]
enum Innermost {
    /// 3.11, 3.12: `tstate->cframe->current_frame`.
    ViaCFrame { cframe: usize, current: usize },
    /// 3.13: `tstate->current_frame`.
    At(usize),
}

/// The owner byte of a generator's record: complete whatever its
/// instruction pointer says.
const OWNED_BY_GENERATOR: u8 = 1;

/// `f_frame` in a frame object (3.11-3.13): its record.
const FRAME_OBJECT_RECORD: usize = 24;

/// The layout of CPython 3.`minor`, if it is one of those read directly.
fn layout_of(minor: u32) -> Option<Layout> {
    let (innermost, code, previous, owner, cstack, code_units, first_traceable) = match minor {
        11 => (
            Innermost::ViaCFrame {
                cframe: 56,
                current: 8,
            },
            32,
            48,
            69,
            None,
            184,
            168,
        ),
        12 => (
            Innermost::ViaCFrame {
                cframe: 56,
                current: 0,
            },
            0,
            8,
            70,
            Some(3),
            192,
            176,
        ),
        13 => (Innermost::At(72), 0, 8, 70, Some(3), 200, 184),
        _ => return None,
    };
    Some(Layout {
        innermost,
        code,
        previous,
        instr: 56,
        owner,
        cstack,
        code_units,
        first_traceable,
    })
}

/// Whether the records are read directly: not yet decided, yes, no.
static STATE: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const DIRECT: u8 = 1;
const OBJECTS: u8 = 2;

/// The layout [`decide`] checked.
static LAYOUT: OnceLock<Layout> = OnceLock::new();

/// `types.CodeType`, kept once decided (a static type: never freed).
static CODE_TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(std::ptr::null_mut());

/// Which frame [`caller`] reads: the one that calls into `vh._core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The innermost Python frame (the script calls a compiled classic
    /// function, `vh._core.Classic`, with no Python frame of its own).
    Innermost,
    /// The frame below the innermost (a classic function written in
    /// Python, calling into `vh._core`): the innermost's `f_back`.
    Below,
}

/// The code object and `f_lasti` of the frame `which` names: `f_code`
/// and `f_lasti` of the innermost frame or of its `f_back`. `None` if
/// there is no such frame or it cannot be read.
pub fn caller(py: Python<'_>, which: Caller) -> Option<(Bound<'_, PyAny>, isize)> {
    if way(py, which) == DIRECT {
        direct(py, which)
    } else {
        by_objects(py, which).ok().flatten()
    }
}

/// `vh._core.frames_known()`: true if the frame records are read directly
/// (deciding it now, from the caller's frames, if no call has yet).
#[pyfunction]
pub fn frames_known(py: Python<'_>) -> bool {
    way(py, Caller::Below) == DIRECT
}

/// [`DIRECT`] or [`OBJECTS`], decided ([`decide`], reading the frame
/// `which` names) at the first call.
fn way(py: Python<'_>, which: Caller) -> u8 {
    match STATE.load(Ordering::Relaxed) {
        UNDECIDED => {
            let way = if decide(py, which) { DIRECT } else { OBJECTS };
            STATE.store(way, Ordering::Relaxed);
            way
        }
        way => way,
    }
}

/// The frame objects' answer (see the module docs).
fn by_objects(py: Python<'_>, which: Caller) -> PyResult<Option<(Bound<'_, PyAny>, isize)>> {
    // SAFETY: the GIL is held; the frame is borrowed (NULL: no Python
    // frame runs) and made a new reference at once.
    let frame = unsafe {
        Bound::from_borrowed_ptr_or_opt(py, ffi::PyEval_GetFrame().cast::<ffi::PyObject>())
    };
    let Some(frame) = frame else {
        return Ok(None);
    };
    let back = match which {
        Caller::Innermost => frame,
        Caller::Below => frame.getattr(intern!(py, "f_back"))?,
    };
    if back.is_none() {
        return Ok(None);
    }
    let lasti: isize = back.getattr(intern!(py, "f_lasti"))?.extract()?;
    Ok(Some((back.getattr(intern!(py, "f_code"))?, lasti)))
}

/// True if this interpreter's records can be read directly here: its
/// layout is known and every read agrees with the frame objects now.
fn decide(py: Python<'_>, which: Caller) -> bool {
    if std::env::var("VH_PY3_LAYOUT").is_ok_and(|v| v.trim() == "0") {
        return false;
    }
    let Some(layout) = this_layout(py) else {
        return false;
    };
    let Ok(code_type) = py
        .import(intern!(py, "types"))
        .and_then(|t| t.getattr(intern!(py, "CodeType")))
    else {
        return false;
    };
    CODE_TYPE.store(code_type.as_ptr().cast(), Ordering::Relaxed);
    // SAFETY: the GIL is held; the frame is borrowed and only read while
    // it runs (it is the caller's, below this call).
    let frame = unsafe { ffi::PyEval_GetFrame() };
    if frame.is_null() {
        return false;
    }
    // SAFETY: a frame object of 3.11-3.13 holds its record at
    // FRAME_OBJECT_RECORD; the thread state is this thread's, and the
    // layout's offsets into it are within its struct for the versions
    // `this_layout` accepts (3.11 and 3.12 also follow its `cframe`
    // pointer, which those versions always set). The innermost record
    // read that way is only followed once it equals the frame object's.
    let agrees = unsafe {
        let record = read_ptr(frame.cast(), FRAME_OBJECT_RECORD);
        let top = innermost(&layout, ffi::PyThreadState_Get().cast());
        top == record
            && first_complete(&layout, top) == Some(record)
            && read_ptr(record, layout.code) == frame_code(py, frame).as_ptr().cast()
    };
    if !agrees {
        return false;
    }
    // SAFETY: the layout's reads of the innermost record agreed above.
    let mine = unsafe { walk(&layout, which) };
    let theirs = by_objects(py, which).ok().flatten();
    let known = match (mine, theirs) {
        (None, None) => true,
        (Some((code, lasti)), Some((their_code, their_lasti))) => {
            std::ptr::eq(code.cast(), their_code.as_ptr()) && lasti == their_lasti
        }
        _ => false,
    };
    if known {
        // The same layout for the whole process: a second set changes nothing.
        let _ = LAYOUT.set(layout);
    }
    known
}

/// The layout of the running interpreter, if known: CPython 3.11-3.13, a
/// release build.
fn this_layout(py: Python<'_>) -> Option<Layout> {
    let sys = py.import(intern!(py, "sys")).ok()?;
    let name: String = sys
        .getattr(intern!(py, "implementation"))
        .and_then(|i| i.getattr(intern!(py, "name")))
        .and_then(|n| n.extract())
        .ok()?;
    let flags: String = sys.getattr(intern!(py, "abiflags")).ok()?.extract().ok()?;
    let version = sys.getattr(intern!(py, "version_info")).ok()?;
    let major: u32 = version.get_item(0).ok()?.extract().ok()?;
    let minor: u32 = version.get_item(1).ok()?.extract().ok()?;
    (name == "cpython" && flags.is_empty() && major == 3)
        .then(|| layout_of(minor))
        .flatten()
}

/// The frame object's code (`f_code`), or `None` if it cannot be had.
fn frame_code(py: Python<'_>, frame: *mut ffi::PyFrameObject) -> Bound<'_, PyAny> {
    // SAFETY: a live frame object, borrowed for this call.
    let frame = unsafe { Bound::from_borrowed_ptr(py, frame.cast::<ffi::PyObject>()) };
    frame
        .getattr(intern!(py, "f_code"))
        .unwrap_or_else(|_| py.None().into_bound(py))
}

/// [`caller`] read from the records (decided: [`decide`] agreed).
fn direct(py: Python<'_>, which: Caller) -> Option<(Bound<'_, PyAny>, isize)> {
    let layout = LAYOUT.get()?;
    // SAFETY: the GIL is held; the layout was checked in this process.
    let (code, lasti) = unsafe { walk(layout, which)? };
    // SAFETY: the code object is the running caller's, alive while it runs.
    Some((
        unsafe { Bound::from_borrowed_ptr(py, code.cast_mut().cast()) },
        lasti,
    ))
}

/// The code object (borrowed) and `f_lasti` of the frame `which` names,
/// from the records.
///
/// # Safety
/// The GIL is held and `layout` is this interpreter's.
unsafe fn walk(layout: &Layout, which: Caller) -> Option<(*const u8, isize)> {
    // SAFETY: as the function's contract says.
    unsafe {
        let mine = first_complete(layout, innermost(layout, ffi::PyThreadState_Get().cast()))?;
        let caller = match which {
            Caller::Innermost => mine,
            Caller::Below => first_complete(layout, read_ptr(mine, layout.previous))?,
        };
        let code = read_ptr(caller, layout.code);
        let start = code.add(layout.code_units);
        let at = read_ptr(caller, layout.instr);
        let lasti = (at as isize).wrapping_sub(start as isize);
        Some((code, if lasti < 0 { -1 } else { lasti }))
    }
}

/// The innermost frame record of thread state `ts`.
///
/// # Safety
/// `ts` is this thread's state and `layout` this interpreter's.
unsafe fn innermost(layout: &Layout, ts: *const u8) -> *const u8 {
    // SAFETY: as the function's contract says.
    unsafe {
        match layout.innermost {
            Innermost::ViaCFrame { cframe, current } => read_ptr(read_ptr(ts, cframe), current),
            Innermost::At(at) => read_ptr(ts, at),
        }
    }
}

/// The first complete record from `record` down (`record` itself if it
/// is), as `f_back` finds it; `None` at the bottom or at a record whose
/// code is not a code object.
///
/// # Safety
/// `record` is NULL or a live record of this interpreter, `layout` its.
unsafe fn first_complete(layout: &Layout, mut record: *const u8) -> Option<*const u8> {
    let code_type = CODE_TYPE.load(Ordering::Relaxed);
    // SAFETY: as the function's contract says: each `previous` of a live
    // record is NULL or live.
    unsafe {
        while !record.is_null() {
            let owner = *record.add(layout.owner);
            if layout.cstack != Some(owner) {
                if owner == OWNED_BY_GENERATOR {
                    return Some(record);
                }
                let code = read_ptr(record, layout.code);
                if code.is_null() || ffi::Py_TYPE(code.cast_mut().cast()) != code_type {
                    return None;
                }
                let first = code.add(layout.first_traceable).cast::<c_int>().read();
                let traceable = code.add(layout.code_units + 2 * usize::try_from(first).ok()?);
                if read_ptr(record, layout.instr) >= traceable {
                    return Some(record);
                }
            }
            record = read_ptr(record, layout.previous);
        }
        None
    }
}

/// The pointer at byte `offset` of `base`.
///
/// # Safety
/// `base + offset` is within a live struct and holds an aligned pointer.
unsafe fn read_ptr(base: *const u8, offset: usize) -> *const u8 {
    // SAFETY: as the function's contract says.
    unsafe { base.add(offset).cast::<*const u8>().read() }
}
