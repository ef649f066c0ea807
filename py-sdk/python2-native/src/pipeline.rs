//! `vh._native.send_as_is`: a classic `vh` function's discarded send
//! (docs/protocol.md "Pipelined calls") from the script's arguments to the
//! held compact frame, what `vh._api.convert_args` (its positional way)
//! and `vh._channel.Channel.pipeline_call` do for the usual call, line for
//! line, with no Python frame in between: each costs a hook that finds
//! the worker asleep several microseconds (docs/performance.md "A
//! pipelined call's arguments").
//!
//! It answers `False` (the ordinary call) when the script uses the result
//! ([`crate::discard`], asked about the classic function's caller) or
//! calls from a thread other than the main one, and
//! `None`, having done nothing the script could see, whenever the Python
//! way must decide: an argument that is not the usual one of
//! its kind, a wrong count, a default that has no compact form, a call
//! too big, or a channel without the attributes it reads (a test's
//! stand-in). `False` is `pipeline_call`'s "make the ordinary call".

use std::cell::Cell;
use std::ffi::c_long;

use crate::ffi::{self, PyObject};
use crate::held::{self, Limits};
use crate::marshal;
use crate::name;
use crate::py::{self, Owned, PyResult};

/// What does not change between one worker's sends, made once by
/// `vh._hook_loop.as_is_for` (a tuple in this order) and bound to the
/// runtime's `as_is`.
pub struct Context {
    /// The worker's `vh._channel.Channel`.
    pub channel: *mut PyObject,
    /// `vh._hook_loop.DIRECT`.
    pub direct: *mut PyObject,
    /// `vh._frames.MAX_MESSAGE_LEN`.
    pub max_len: usize,
    /// `vh._frames.COMPACT`, the length word's mark.
    pub compact: u32,
    /// `vh._discard.RULES`, for [`crate::discard::caller_discards`].
    pub rules: *mut PyObject,
    /// The main thread's `thread.get_ident()`: only it pipelines.
    pub main_thread: c_long,
    /// `vh._held`'s limits.
    pub limits: Limits,
    /// The channel's `_main.queue`, `_active` and `_call_ids`, which stay
    /// the same objects for its life (only `_direct` and `_dbuf` are set
    /// anew, so [`may_pipeline`] reads those each time).
    pub queue: *mut PyObject,
    /// See `queue`.
    pub active: *mut PyObject,
    /// See `queue`.
    pub call_ids: *mut PyObject,
    /// The channel's `_dfd`, its direct link's descriptor.
    pub fd: std::ffi::c_int,
}

/// One pipelined classic function's parameters, made once by
/// `vh._api.make_classic` (a tuple in this order).
pub struct SendSpec {
    /// `spec.callback`, a `str`.
    pub callback: *mut PyObject,
    /// One `l`, `s` or `d` per parameter (a `str`).
    pub kinds: Owned,
    /// `spec.required`.
    pub required: usize,
    /// Each parameter's default, a tuple.
    pub defaults: *mut PyObject,
}

thread_local! {
    /// The context tuple this thread read last, and what it read from it.
    static LAST: Cell<Option<(*mut PyObject, &'static Context)>> = const { Cell::new(None) };
}

impl Context {
    /// The context of the tuple `as_is_for` made, read once per thread:
    /// the tuple is made once per channel and never changes, and reading
    /// its thirteen items (each an object of its own) cost a send that
    /// finds the worker asleep about 2 µs (docs/performance.md "The Python
    /// 2 worker's held calls in its own buffer"). The tuple is kept alive
    /// (a reference of its own, never given back, as the `Context` is
    /// never freed: one per channel), so its address cannot be reused by
    /// another.
    pub fn of(t: *mut PyObject) -> PyResult<&'static Context> {
        if let Some((last, c)) = LAST.get()
            && last == t
        {
            return Ok(c);
        }
        let c: &'static Context = Box::leak(Box::new(Context::from_tuple(t)?));
        // SAFETY: `t` is live; the reference taken is never dropped.
        unsafe { ffi::Py_IncRef(t) };
        LAST.set(Some((t, c)));
        Ok(c)
    }

    /// Reads the tuple `as_is_for` made; the objects stay borrowed from it.
    fn from_tuple(t: *mut PyObject) -> PyResult<Context> {
        Ok(Context {
            channel: py::tuple_item(t, 0)?,
            direct: py::tuple_item(t, 1)?,
            max_len: usize::try_from(py::long(py::tuple_item(t, 2)?)?).unwrap_or(0),
            compact: u32::try_from(py::long(py::tuple_item(t, 3)?)?).unwrap_or(0x8000_0000),
            rules: py::tuple_item(t, 4)?,
            main_thread: py::long(py::tuple_item(t, 5)?)?,
            limits: Limits {
                at_most: py::float(py::tuple_item(t, 6)?)?,
                bytes: usize::try_from(py::long(py::tuple_item(t, 7)?)?).unwrap_or(0),
            },
            queue: py::tuple_item(t, 8)?,
            active: py::tuple_item(t, 9)?,
            call_ids: py::tuple_item(t, 10)?,
            fd: std::ffi::c_int::try_from(py::long(py::tuple_item(t, 11)?)?).unwrap_or(-1),
        })
    }
}

impl SendSpec {
    /// Reads the tuple `make_classic` made; borrowed from it.
    pub fn from_tuple(t: *mut PyObject) -> PyResult<SendSpec> {
        // SAFETY: a live item, made ours for the call.
        let kinds = unsafe { Owned::borrowed(py::tuple_item(t, 1)?) };
        Ok(SendSpec {
            callback: py::tuple_item(t, 0)?,
            kinds,
            required: usize::try_from(py::long(py::tuple_item(t, 2)?)?).unwrap_or(usize::MAX),
            defaults: py::tuple_item(t, 3)?,
        })
    }
}

/// `True`, `False` or `None` as the module docs say.
pub fn send_as_is(c: &Context, send: &SendSpec, args: *mut PyObject) -> PyResult<Owned> {
    let answer = |v: Option<bool>| -> PyResult<Owned> {
        // SAFETY: plain constructors / a borrowed singleton.
        Ok(match v {
            Some(b) => Owned::new(unsafe { ffi::PyBool_FromLong(c_long::from(b)) })?,
            None => unsafe { Owned::borrowed(ffi::none()) },
        })
    };
    // Another thread makes the ordinary call, which waits (`Runtime.call`).
    // SAFETY: a plain query.
    if unsafe { ffi::PyThread_get_thread_ident() } != c.main_thread {
        return answer(Some(false));
    }
    let kinds = py::as_bytes(&send.kinds)?;
    let given = py::len(args)?;
    if given < send.required || given > kinds.len() || py::len(send.defaults)? != kinds.len() {
        return answer(None);
    }
    // The script uses the result: the ordinary call.
    if !crate::discard::caller_discards(c.rules, given) {
        return answer(Some(false));
    }
    // `convert_args`' usual arguments, kept as they are.
    let mut values = Vec::with_capacity(kinds.len());
    let mut size = 0;
    for (i, &kind) in kinds.iter().enumerate().take(given) {
        let v = py::item(args, i)?;
        let usual = match kind {
            b's' if v.is(ffi::Type::Str) => {
                let b = py::as_bytes(&v)?;
                size += b.len();
                !b.contains(&0)
            }
            b's' => v.is_none(),
            b'l' => v.is(ffi::Type::Int),
            b'd' => v.is(ffi::Type::Float),
            _ => false,
        };
        if !usual {
            return answer(None);
        }
        values.push(v);
    }
    for i in given..kinds.len() {
        let d = py::item(send.defaults, i)?;
        if !(d.is_none() || d.is(ffi::Type::Str) || d.is(ffi::Type::Int)) {
            return answer(None);
        }
        if d.is(ffi::Type::Str) {
            size += py::as_bytes(&d)?.len();
        }
        values.push(d);
    }
    // Far below the limit, or the Python way says it is too big.
    if size + 1024 > c.max_len {
        return answer(None);
    }
    match may_pipeline(c) {
        Ok(true) => {}
        Ok(false) => return answer(Some(false)),
        Err(py::Raised) => {
            // A stand-in channel without these attributes.
            // SAFETY: clears the error just set.
            unsafe { ffi::PyErr_Clear() };
            return answer(None);
        }
    }
    // `next(self._call_ids)`: an int, as every id this worker makes.
    // SAFETY: `call_ids` is a live iterator (itertools.count).
    let call_id = Owned::new(unsafe { ffi::PyIter_Next(c.call_ids) })?;
    if !call_id.is(ffi::Type::Int) {
        return answer(None);
    }
    // SAFETY: borrowed `callback`, made ours for the call.
    let callback = unsafe { Owned::borrowed(send.callback) };
    // SAFETY: an int.
    let id = unsafe { ffi::PyInt_AsLong(call_id.as_ptr()) };
    let write_now = match marshal::pipelined_call(id, &callback, &values, c.compact, size)? {
        Some(frame) => held::push(&frame, c.limits),
        None => {
            let t = py::tuple(vec![py::int(3)?, call_id, callback, py::list(values)?])?;
            // SAFETY: `t` is live; the result is a new str or NULL.
            let body = Owned::new(unsafe {
                ffi::PyMarshal_WriteObjectToString(t.as_ptr(), ffi::MARSHAL_VERSION)
            })?;
            let body = py::as_bytes(&body)?;
            let Ok(len) = u32::try_from(body.len()) else {
                return answer(None);
            };
            let mut frame = Vec::with_capacity(4 + body.len());
            frame.extend_from_slice(&(len | c.compact).to_le_bytes());
            frame.extend_from_slice(body);
            held::push(&frame, c.limits)
        }
    };
    if write_now {
        py::call_method(c.channel, name!(c"_write_direct"), vec![py::bytes(b"")?])?;
    }
    answer(Some(true))
}

/// `pipeline_call`'s checks: a direct link, nothing read from it and not
/// taken, nothing queued for the main thread, and the innermost request
/// came on the link and the hub waits for it; nothing unread on the link.
fn may_pipeline(c: &Context) -> PyResult<bool> {
    let direct = py::own_attr(c.channel, name!(c"_direct"))?;
    if direct.is_none() || py::truthy(py::own_attr(c.channel, name!(c"_dbuf"))?.as_ptr())? {
        return Ok(false);
    }
    if py::truthy(c.queue)? {
        return Ok(false);
    }
    let n = py::len(c.active)?;
    if n == 0 {
        return Ok(false);
    }
    let last = py::item(c.active, n - 1)?;
    let link = py::item(last.as_ptr(), 1)?;
    // SAFETY: both live.
    let on_link =
        match unsafe { ffi::PyObject_RichCompareBool(link.as_ptr(), c.direct, ffi::Py_EQ) } {
            -1 => return Err(py::Raised),
            v => v == 1,
        };
    if !on_link || !py::truthy(py::item(last.as_ptr(), 2)?.as_ptr())? {
        return Ok(false);
    }
    if c.fd < 0 {
        return Ok(false);
    }
    Ok(!crate::link::readable(c.fd))
}
