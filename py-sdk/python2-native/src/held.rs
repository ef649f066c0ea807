//! The held pipelined calls, pushed and taken here on the very object
//! `vh._held.Held` is (its `_frames`, `_bytes` and `_since`, by the same
//! rules): the compiled send ([`crate::pipeline`]) and the compiled loop
//! ([`crate::serve`]) share one `Held` with the channel's Python methods,
//! which still push (`Channel.pipeline_call`) and take (`_write_direct`)
//! on the other ways. Calling those Python methods from here cost a
//! `vh.usermc` that finds its worker asleep ~18 µs for the push alone
//! (docs/performance.md "Held calls and names in `vh._native`").

use std::time::{SystemTime, UNIX_EPOCH};

use crate::ffi::{self, PyObject};
use crate::name;
use crate::py::{self, Owned, PyResult, Raised};

/// `vh._held.HOLD_AT_MOST` (seconds) and `HOLD_BYTES`, as handed over.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub at_most: f64,
    pub bytes: usize,
}

/// `time.time()`: the clock `Held.push` stamps `_since` with.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `held.push(frame)`: holds `frame` (a `str`, length-prefixed, ready to
/// write); true if what is held should be written now (the oldest frame
/// older than `limits.at_most`, or more than `limits.bytes` held).
pub fn push(held: *mut PyObject, frame: Owned, limits: Limits) -> PyResult<bool> {
    let now = now();
    let since = py::getattr(held, name!(c"_since"))?;
    let since = if since.is_none() {
        py::setattr(held, name!(c"_since"), py::float_of(now)?.as_ptr())?;
        now
    } else {
        py::float(since.as_ptr())?
    };
    let size = py::len(frame.as_ptr())?;
    let frames = py::getattr(held, name!(c"_frames"))?;
    // SAFETY: `_frames` is a list (`Held.__init__`, `take`).
    if unsafe { ffi::PyList_Append(frames.as_ptr(), frame.as_ptr()) } != 0 {
        return Err(Raised);
    }
    let before = py::getattr(held, name!(c"_bytes"))?;
    // SAFETY: `_bytes` is an int.
    let total = usize::try_from(unsafe { ffi::PyInt_AsLong(before.as_ptr()) }).unwrap_or(0) + size;
    py::setattr(
        held,
        name!(c"_bytes"),
        py::int(total as std::ffi::c_long)?.as_ptr(),
    )?;
    Ok(total > limits.bytes || now - since > limits.at_most)
}

/// `held.take()` appended to `out`: every held frame, oldest first;
/// nothing is held after.
pub fn take_into(held: *mut PyObject, out: &mut Vec<u8>) -> PyResult<()> {
    let frames = py::getattr(held, name!(c"_frames"))?;
    let n = py::len(frames.as_ptr())?;
    if n == 0 {
        return Ok(());
    }
    for i in 0..n {
        out.extend_from_slice(py::as_bytes(&py::item(frames.as_ptr(), i)?)?);
    }
    // SAFETY: a list of `n` items; NULL deletes the slice.
    if unsafe { ffi::PyList_SetSlice(frames.as_ptr(), 0, n as isize, std::ptr::null_mut()) } != 0 {
        return Err(Raised);
    }
    py::setattr(held, name!(c"_bytes"), py::int(0)?.as_ptr())?;
    py::setattr(held, name!(c"_since"), ffi::none())
}
