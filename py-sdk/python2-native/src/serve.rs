//! `serve_hooks`: `vh._hook_loop.serve_hooks` compiled (see that module
//! for the rules, which this follows line for line), so that a plain hook
//! runs no Python but the script's own function.
//!
//! The usual hook takes the short way here: nothing held, queued or read
//! ahead, the wait ([`link::wait`], spinning first while the budget says
//! so) and one read with the GIL released, the compact hook frame
//! decoded by `marshal`'s C reader, the request noted as
//! `vh._hook_loop.next_event` notes it, the script's function called, an
//! `int` answered with the compact result frame (after the pipelined calls
//! held). Anything else goes through the channel's Python methods, so
//! their rules stay in one place: the event comes from `next_event`, a
//! read that is not one whole compact hook frame is handed to
//! `Channel._buffered_direct`, other answers to `send_hook_result` and
//! `rt.deliver_hook_result`.

use std::ffi::c_long;
use std::time::Duration;

use crate::ffi::{self, PyObject};
use crate::held;
use crate::link;
use crate::marshal;
use crate::name;
use crate::py::{self, Owned, PyResult, Raised};
use crate::spin;

/// The constants and fallbacks the loop takes from `vh._hook_loop` (the
/// sixth argument, a tuple in this order).
pub struct Config {
    /// `vh._hook_loop.next_event`.
    pub next_event: Owned,
    /// `vh._link.RESULT_IGNORED`: hooks the hub does not wait for.
    pub result_ignored: Owned,
    /// `vh._hook_loop.DIRECT`, the direct link's name in `Channel._active`.
    pub direct: Owned,
    /// The compact frames' tags and length flag (`vh._frames`).
    pub hook_tag: c_long,
    pub result_tag: c_long,
    pub compact: u32,
}

/// One event for the main thread: the event tuple, whether the hub waits
/// for its answer on the direct link, and how long the short way's wait
/// took (told to the spin budget after the answer).
struct Event {
    event: Owned,
    awaited_direct: bool,
    took: Option<Duration>,
}

/// The largest read: what `Channel._read_direct` reads at once.
const READ_AT_MOST: usize = 1 << 14;

/// Runs hooks until one the main loop must handle; returns that event.
pub fn serve(
    channel: *mut PyObject,
    rt: *mut PyObject,
    names: *mut PyObject,
    rules: *mut PyObject,
    cfg: &Config,
) -> PyResult<Owned> {
    let module = py::getattr(rt, name!(c"module"))?;
    let active = py::getattr(channel, name!(c"_active"))?;
    let spin_state = py::getattr(channel, name!(c"_spin"))?;
    let count = py::len(names)?;
    let mut buf = vec![0u8; READ_AT_MOST];
    loop {
        let ev = match short_way(channel, spin_state.as_ptr(), cfg, &mut buf)? {
            Some(ev) => note(ev, active.as_ptr(), cfg)?,
            None => {
                let got = py::call(cfg.next_event.as_ptr(), vec![new_ref(channel)])?;
                Event {
                    event: py::item(got.as_ptr(), 0)?,
                    awaited_direct: py::truthy(py::item(got.as_ptr(), 1)?.as_ptr())?,
                    took: None,
                }
            }
        };
        let plain = plain_hook(ev.event.as_ptr(), rt, rules, count)?;
        let for_python = plain.is_none();
        if let Some((call_id, hook, args)) = plain {
            let name = py::item(names, hook)?;
            let hook = (call_id, hook, args, name);
            run(channel, rt, &module, &active, hook, ev.awaited_direct, cfg)?;
        }
        // Only shapes the next wait: told after the answer.
        if let Some(took) = ev.took {
            spin::waited(spin_state.as_ptr(), took)?;
        }
        if for_python {
            return Ok(ev.event);
        }
    }
}

/// A new reference to `o`: one of the call's arguments, or an object kept
/// for the whole call (`None`, `False`, the config's).
fn new_ref(o: *mut PyObject) -> Owned {
    // SAFETY: such objects are live for the whole call.
    unsafe { Owned::borrowed(o) }
}

/// What an event tuple is, by its first item (`vh._main_loop.TUPLES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hook,
    Function,
    Other,
}

/// The kind of event tuple `event`.
fn kind_of(event: *mut PyObject) -> PyResult<Kind> {
    let first = py::item(event, 0)?;
    Ok(match py::as_bytes(&first) {
        Ok(b"hook") => Kind::Hook,
        Ok(b"function") => Kind::Function,
        Ok(_) => Kind::Other,
        Err(Raised) => {
            // Not a `str`: no request to note or run.
            // SAFETY: clears the error `as_bytes` just raised.
            unsafe { ffi::PyErr_Clear() };
            Kind::Other
        }
    })
}

/// `(call_id, hook index, args)` of `event` if it is a hook the loop runs
/// itself (not a rule's hook, known to the table, not nested).
fn plain_hook(
    event: *mut PyObject,
    rt: *mut PyObject,
    rules: *mut PyObject,
    count: usize,
) -> PyResult<Option<(Owned, usize, Owned)>> {
    if kind_of(event)? != Kind::Hook {
        return Ok(None);
    }
    let hook = py::item(event, 2)?;
    // SAFETY: both live.
    match unsafe { ffi::PySequence_Contains(rules, hook.as_ptr()) } {
        0 => {}
        1 => return Ok(None),
        _ => return Err(Raised),
    }
    let Ok(index) = usize::try_from(py::long(hook.as_ptr())?) else {
        return Ok(None);
    };
    if index >= count || py::truthy(py::own_attr(rt, name!(c"depth"))?.as_ptr())? {
        return Ok(None);
    }
    Ok(Some((py::item(event, 1)?, index, py::item(event, 3)?)))
}

/// Runs one plain hook and answers it (`serve_hooks`' rules).
fn run(
    channel: *mut PyObject,
    rt: *mut PyObject,
    module: &Owned,
    active: &Owned,
    (call_id, hook, args, name): (Owned, usize, Owned, Owned),
    awaited_direct: bool,
    cfg: &Config,
) -> PyResult<()> {
    let hook_obj = py::int(hook as c_long)?;
    // Err: no such attribute (or it raised). The name is a `str` of the
    // hook table, none of a module's own descriptors.
    let func = match py::own_attr_of(module.as_ptr(), name.as_ptr()) {
        // SAFETY: `f` is live.
        Ok(f) if unsafe { ffi::PyCallable_Check(f.as_ptr()) } != 0 => f,
        Ok(_) => return answer_no_opinion(channel, call_id),
        Err(Raised) => {
            // SAFETY: a query of the error just set.
            if unsafe { ffi::PyErr_ExceptionMatches(ffi::PyExc_AttributeError) } == 0 {
                return Err(Raised);
            }
            // SAFETY: as Python's `getattr(module, name, None)`.
            unsafe { ffi::PyErr_Clear() };
            return answer_no_opinion(channel, call_id);
        }
    };
    // SAFETY: `args` is live (a list, from the frame).
    let args = Owned::new(unsafe { ffi::PySequence_Tuple(args.as_ptr()) })?;
    let one = py::int(1)?;
    py::set_own_attr(rt, name!(c"depth"), one.as_ptr())?;
    // SAFETY: both live.
    let got = unsafe { ffi::PyObject_Call(func.as_ptr(), args.as_ptr(), std::ptr::null_mut()) };
    let result = match Owned::new(got) {
        Ok(r) => r,
        // SAFETY: a query of the error just set.
        Err(Raised) if unsafe { ffi::PyErr_ExceptionMatches(ffi::PyExc_Exception) } != 0 => {
            let raised = fetch()?;
            py::set_own_attr(rt, name!(c"depth"), py::int(0)?.as_ptr())?;
            py::call_method(
                rt,
                name!(c"hook_raised"),
                vec![call_id, hook_obj, name, raised],
            )?;
            return Ok(());
        }
        // `SystemExit`, `KeyboardInterrupt`: they end the main loop.
        Err(Raised) => return Err(Raised),
    };
    py::set_own_attr(rt, name!(c"depth"), py::int(0)?.as_ptr())?;
    if result.is(ffi::Type::Int) {
        if awaited_direct && call_id.is(ffi::Type::Int) && innermost(active, &call_id)? {
            return answer_compact(channel, active, call_id, result, cfg);
        }
        let values = list_of(result)?;
        py::call_method(
            channel,
            name!(c"send_hook_result"),
            vec![call_id, new_ref(ffi::py_false()), values],
        )?;
        return Ok(());
    }
    py::call_method(
        rt,
        name!(c"deliver_hook_result"),
        vec![call_id, hook_obj, name, result],
    )?;
    Ok(())
}

/// `channel.send_hook_result(call_id, True, [])`: no such function.
fn answer_no_opinion(channel: *mut PyObject, call_id: Owned) -> PyResult<()> {
    // SAFETY: a new empty list.
    let empty = Owned::new(unsafe { ffi::PyList_New(0) })?;
    // SAFETY: a plain constructor (`True`, as Python passes it).
    let yes = Owned::new(unsafe { ffi::PyBool_FromLong(1) })?;
    py::call_method(
        channel,
        name!(c"send_hook_result"),
        vec![call_id, yes, empty],
    )?;
    Ok(())
}

/// `[value]`.
fn list_of(value: Owned) -> PyResult<Owned> {
    // SAFETY: a new list of one slot, filled (the reference stolen).
    unsafe {
        let l = Owned::new(ffi::PyList_New(1))?;
        ffi::PyList_SetItem(l.as_ptr(), 0, value.into_ptr());
        Ok(l)
    }
}

/// True if `call_id` is the innermost request (`active[-1][0]`).
fn innermost(active: &Owned, call_id: &Owned) -> PyResult<bool> {
    let n = py::len(active.as_ptr())?;
    if n == 0 {
        return Ok(false);
    }
    let last = py::item(active.as_ptr(), n - 1)?;
    let id = py::item(last.as_ptr(), 0)?;
    // SAFETY: both live ints (exact type checked for `call_id`).
    Ok(id.is(ffi::Type::Int)
        && unsafe { ffi::PyInt_AsLong(id.as_ptr()) == ffi::PyInt_AsLong(call_id.as_ptr()) })
}

/// The exception being raised as `(type, value, traceback)`, cleared; its
/// traceback starts at the script's function (no worker frame above it).
fn fetch() -> PyResult<Owned> {
    let (mut t, mut v, mut tb) = (
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    // SAFETY: out-pointers valid; we take the three references.
    unsafe {
        ffi::PyErr_Fetch(&mut t, &mut v, &mut tb);
        ffi::PyErr_NormalizeException(&mut t, &mut v, &mut tb);
    }
    let take = |p: *mut PyObject| match Owned::new(p) {
        Ok(o) => o,
        Err(Raised) => new_ref(ffi::none()),
    };
    py::tuple(vec![take(t), take(v), take(tb)])
}

/// Answers hook `call_id` with `result` as the compact frame
/// `(HOOK_RESULT, call_id, False, [result])`, after the pipelined calls
/// held; the request is forgotten first (`active.pop()`).
fn answer_compact(
    channel: *mut PyObject,
    active: &Owned,
    call_id: Owned,
    result: Owned,
    cfg: &Config,
) -> PyResult<()> {
    // The body `marshal.dumps` writes for the tuple, written straight
    // (`marshal::Writer`): both ints are exact `int`s (checked by the
    // caller).
    let mut body = marshal::Writer::new(0, 32);
    body.sequence(b'(', 4);
    body.int(cfg.result_tag);
    // SAFETY: both live ints.
    body.int(unsafe { ffi::PyInt_AsLong(call_id.as_ptr()) });
    body.boolean(false);
    body.sequence(b'[', 1);
    // SAFETY: as above.
    body.int(unsafe { ffi::PyInt_AsLong(result.as_ptr()) });
    let body = body.into_bytes();
    let n = py::len(active.as_ptr())?;
    // SAFETY: `active` is a list of at least one item (checked by the caller).
    if unsafe {
        ffi::PyList_SetSlice(
            active.as_ptr(),
            n as isize - 1,
            n as isize,
            std::ptr::null_mut(),
        )
    } != 0
    {
        return Err(Raised);
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    held::take_into(&mut frame);
    frame.extend_from_slice(&(body.len() as u32 | cfg.compact).to_le_bytes());
    frame.extend_from_slice(&body);
    write_direct(channel, &frame)
}

/// Writes `frame` on the direct link while it is up; if it is down or the
/// write fails, drops it and lets `Channel._write_direct` send the frames
/// to the runner (as protobuf), as that method does itself.
fn write_direct(channel: *mut PyObject, frame: &[u8]) -> PyResult<()> {
    if let Some(fd) = direct_fd(channel)? {
        if py::without_gil(|| link::write_all(fd, frame)).is_ok() {
            return Ok(());
        }
        py::call_method(channel, name!(c"_drop_direct"), vec![])?;
    }
    py::call_method(channel, name!(c"_write_direct"), vec![py::bytes(frame)?])?;
    Ok(())
}

/// The direct link's descriptor (`Channel._dfd`) while it is up.
fn direct_fd(channel: *mut PyObject) -> PyResult<Option<i32>> {
    if py::own_attr(channel, name!(c"_direct"))?.is_none() {
        return Ok(None);
    }
    let fd = py::own_attr(channel, name!(c"_dfd"))?;
    // SAFETY: an int attribute.
    let fd = unsafe { ffi::PyInt_AsLong(fd.as_ptr()) };
    i32::try_from(fd)
        .map(Some)
        .map_err(|_| py::raise(unsafe { ffi::PyExc_TypeError }, c"bad _dfd"))
}

mod short_way;
use short_way::{note, short_way};
