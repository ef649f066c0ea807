//! The short way to the next event (see the parent module), and the
//! noting of a request the way `vh._hook_loop.next_event` notes it.

use std::time::Duration;

use super::{Config, Event, Kind, direct_fd, kind_of, new_ref};
use crate::ffi::{self, PyObject};
use crate::link;
use crate::name;
use crate::py::{self, Owned, PyResult, Raised};

/// The next event read the short way, with how long its wait took; `None`
/// when the channel's Python methods must find it: calls held, events
/// queued by the reader thread or bytes read ahead, no direct link, the
/// wake-up pipe woke the thread, or the read was not a whole frame for the
/// main thread (`Channel._buffered_direct` then has its bytes).
pub(super) fn short_way(
    channel: *mut PyObject,
    spin: *mut PyObject,
    cfg: &Config,
    buf: &mut [u8],
) -> PyResult<Option<(Owned, Duration)>> {
    let queued = py::own_attr(
        py::own_attr(channel, name!(c"_main"))?.as_ptr(),
        name!(c"queue"),
    )?;
    if crate::held::count() > 0
        || py::len(queued.as_ptr())? > 0
        || py::len(py::own_attr(channel, name!(c"_dbuf"))?.as_ptr())? > 0
    {
        return Ok(None);
    }
    let Some(fd) = direct_fd(channel)? else {
        return Ok(None);
    };
    let pipe = py::own_attr(channel, name!(c"_wake_r"))?;
    // SAFETY: an int attribute (an fd).
    let pipe = unsafe { ffi::PyInt_AsLong(pipe.as_ptr()) } as i32;
    // Budget nothing (human rates): no call to find that out, as in Python.
    let mut budget = py::float(py::own_attr(spin, name!(c"_budget"))?.as_ptr())?;
    if budget > 0.0 {
        budget = py::float(py::call_method(spin, name!(c"budget"), vec![])?.as_ptr())?;
    }
    let spin_for = Duration::try_from_secs_f64(budget).unwrap_or(Duration::ZERO);
    // The wait and the read that follows it in one stretch without the
    // GIL, as the Python 3 worker's: the read never blocks
    // (`MSG_DONTWAIT`), and taking the GIL back between the two was one
    // more cold hand-over on the way from the wake-up to the script
    // (docs/performance.md "The Python 3 worker's cold steps").
    let waited = py::without_gil(|| {
        link::wait(fd, pipe, spin_for).map(|(ready, took)| {
            let read = (ready.link && !ready.pipe).then(|| link::read(fd, buf));
            (took, read)
        })
    });
    let (took, read) = match waited {
        Ok(got) => got,
        Err(_) => {
            // EINTR: the signal's Python handler runs now, as it would
            // after Python's own `poll`; the usual way waits again.
            // SAFETY: with the GIL held.
            if unsafe { ffi::PyErr_CheckSignals() } != 0 {
                return Err(Raised);
            }
            return Ok(None);
        }
    };
    // Nothing read: the pipe woke it (the reader queued an event).
    let Some(read) = read else {
        return Ok(None);
    };
    let n = match read {
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ) =>
        {
            return Ok(None);
        }
        Err(_) => 0,
    };
    if n == 0 {
        // The hub closed (or broke) the link: all through the runner now.
        py::call_method(channel, name!(c"_drop_direct"), vec![])?;
        return Ok(None);
    }
    let chunk = &buf[..n];
    if let Some(event) = compact_hook(chunk, cfg)? {
        return Ok(Some((event, took)));
    }
    py::setattr(channel, name!(c"_dbuf"), py::bytes(chunk)?.as_ptr())?;
    let event = py::call_method(channel, name!(c"_buffered_direct"), vec![])?;
    Ok((!event.is_none()).then_some((event, took)))
}

/// `("hook", call_id, hook, args)` if `chunk` is exactly one compact hook
/// frame (`_channel._read_direct`'s usual read), else `None`.
fn compact_hook(chunk: &[u8], cfg: &Config) -> PyResult<Option<Owned>> {
    let Some((word, body)) = chunk.split_first_chunk::<4>() else {
        return Ok(None);
    };
    if body.is_empty() || u32::from_le_bytes(*word) != body.len() as u32 | cfg.compact {
        return Ok(None);
    }
    crate::marshal::hook_event(body, cfg.hook_tag)
}

/// Notes `event`, read on the direct link, as `next_event` does: a hook
/// or function call becomes the innermost request
/// (`Channel._active.append((call_id, DIRECT, awaited))`).
pub(super) fn note(
    (event, took): (Owned, Duration),
    active: *mut PyObject,
    cfg: &Config,
) -> PyResult<Event> {
    let kind = kind_of(event.as_ptr())?;
    let awaited = match kind {
        Kind::Hook => {
            let hook = py::item(event.as_ptr(), 2)?;
            // SAFETY: both live.
            match unsafe { ffi::PySequence_Contains(cfg.result_ignored.as_ptr(), hook.as_ptr()) } {
                0 => true,
                1 => false,
                _ => return Err(Raised),
            }
        }
        Kind::Function => true,
        Kind::Other => false,
    };
    if kind != Kind::Other {
        // SAFETY: a plain constructor.
        let flag = Owned::new(unsafe { ffi::PyBool_FromLong(awaited.into()) })?;
        let link = new_ref(cfg.direct.as_ptr());
        let entry = py::tuple(vec![py::item(event.as_ptr(), 1)?, link, flag])?;
        // SAFETY: `active` is a list.
        if unsafe { ffi::PyList_Append(active, entry.as_ptr()) } != 0 {
            return Err(Raised);
        }
    }
    let awaited_direct = kind == Kind::Hook && awaited;
    Ok(Event {
        event,
        awaited_direct,
        took: Some(took),
    })
}
