//! The compact frames `vh._native` reads and writes, without `marshal`'s
//! own reader and writer.
//!
//! Read: a hook call's compact tuple `(1, call_id, hook, [args])` as the
//! shim writes it, straight into the event tuple the loop runs
//! ([`hook_event`]): `marshal.loads` took 13 µs of a paced hook that
//! finds its worker asleep, most of the worker's time between the read
//! and the script (docs/performance.md "The Python 2 worker's hook frame
//! read without `marshal`").
//!
//! Written: a pipelined call's compact tuple `(3, call_id, callback, [values])`
//! written as `marshal.dumps` writes it on CPython 2.7 (format 2), byte
//! for byte, straight into the frame: building the tuple and the list and
//! running `marshal`'s writer (which makes a dictionary for interned
//! strings on every call) cost a `vh.usermc` that finds its worker asleep
//! several microseconds (docs/performance.md "Held calls and names in
//! `vh._native`"). `py-sdk/tests/test_py2_native.py` holds the frames to
//! the Python way's, which `marshal.dumps` writes.
//!
//! The codes used: `N` (None), `i` (an int that fits 32 bits) and `I`
//! (one that does not), `g` (a float, IEEE 754 little-endian), `s` (a
//! `str`), `t` (an interned `str`, first time) and `R` (the index of an
//! interned `str` already written), `(` and `[` with their item count.

use std::ffi::c_long;

use crate::ffi::{self, PyObject};
use crate::layout;
use crate::name;
use crate::py::{self, Owned, PyResult};

/// `("hook", call_id, hook, [args])` from `body`, the body of a compact
/// hook frame `(tag, call_id, hook, [args])` whose `tag` is `hook_tag`,
/// written as the shim writes it (`vh_proto::direct::compact::write_hook`:
/// a tuple of four, `i` and `I` ints, a list of `s`, `i`, `I`, `g` and
/// `N`), with the objects `marshal.loads` makes of those codes (`str`,
/// `int`, `float`, `None`; an `I` that fits a C long is an `int` on
/// 64-bit CPython 2.7). `None` for any other body, which the caller leaves
/// to the Python way (`marshal.loads` reads every code).
pub fn hook_event(body: &[u8], hook_tag: c_long) -> PyResult<Option<Owned>> {
    let mut r = Reader(body);
    if r.byte() != Some(b'(') || r.count() != Some(4) || r.int() != Some(hook_tag) {
        return Ok(None);
    }
    let (Some(call_id), Some(hook)) = (r.int(), r.int()) else {
        return Ok(None);
    };
    if r.byte() != Some(b'[') {
        return Ok(None);
    }
    // Each item takes a byte at least: a longer count is not this frame.
    let Some(n) = r.count().filter(|&n| n <= r.0.len()) else {
        return Ok(None);
    };
    // SAFETY: a new list of `n` empty slots, each filled below (the
    // reference stolen) before it is used; a list left short on the way
    // out is released whole, its empty slots skipped.
    let args = Owned::new(unsafe { ffi::PyList_New(n as ffi::Py_ssize_t) })?;
    for i in 0..n {
        let item = match r.byte() {
            Some(b's') => match r.count().and_then(|len| r.take(len)) {
                Some(text) => py::bytes(text)?,
                None => return Ok(None),
            },
            Some(b'g') => match r.take(8) {
                Some(b) => py::float_of(f64::from_le_bytes(b.try_into().expect("8 bytes")))?,
                None => return Ok(None),
            },
            // SAFETY: `None` is immortal in practice; a new reference.
            Some(b'N') => unsafe { Owned::borrowed(ffi::none()) },
            Some(code) => match r.int_of(code) {
                Some(v) => py::int(v)?,
                None => return Ok(None),
            },
            None => return Ok(None),
        };
        // SAFETY: `i` < `n`, the slot empty; the reference is stolen.
        unsafe { ffi::PyList_SetItem(args.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr()) };
    }
    if !r.0.is_empty() {
        return Ok(None);
    }
    let tag = py::interned(name!(c"hook"))?;
    py::tuple(vec![
        tag,
        py::int(call_id as c_long)?,
        py::int(hook as c_long)?,
        args,
    ])
    .map(Some)
}

/// The bytes of a compact body not yet read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A little-endian `i32` item count or length, if not negative.
    fn count(&mut self) -> Option<usize> {
        let n = i32::from_le_bytes(self.take(4)?.try_into().ok()?);
        usize::try_from(n).ok()
    }

    /// An int: `i` (32 bits) or `I` (64; a C long of the 64-bit builds
    /// this module is for).
    fn int(&mut self) -> Option<c_long> {
        let code = self.byte()?;
        self.int_of(code)
    }

    /// The int after code `code` (`i` or `I`); `None` for another code.
    fn int_of(&mut self, code: u8) -> Option<i64> {
        match code {
            b'i' => Some(i64::from(i32::from_le_bytes(
                self.take(4)?.try_into().ok()?,
            ))),
            b'I' => Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            _ => None,
        }
    }
}

/// The body of a compact frame being written.
pub struct Writer {
    out: Vec<u8>,
    /// Interned strings written so far, by address (one object per value).
    interned: Vec<*mut PyObject>,
}

impl Writer {
    /// An empty body, `capacity` bytes reserved after `prefix` bytes left
    /// for the frame's length word.
    pub fn new(prefix: usize, capacity: usize) -> Writer {
        let mut out = Vec::with_capacity(prefix + capacity);
        out.resize(prefix, 0);
        Writer {
            out,
            interned: Vec::new(),
        }
    }

    /// The bytes written, the prefix first.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn code_and_i32(&mut self, code: u8, n: i32) {
        self.out.push(code);
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    /// A tuple (`(`) or list (`[`) of `n` items; the items follow.
    pub fn sequence(&mut self, code: u8, n: usize) -> Option<()> {
        self.code_and_i32(code, i32::try_from(n).ok()?);
        Some(())
    }

    /// `True` or `False`.
    pub fn boolean(&mut self, v: bool) {
        self.out.push(if v { b'T' } else { b'F' });
    }

    /// An `int`.
    pub fn int(&mut self, v: c_long) {
        match i32::try_from(v) {
            Ok(small) => self.code_and_i32(b'i', small),
            Err(_) => {
                self.out.push(b'I');
                self.out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// A `str` object (exactly one).
    fn str(&mut self, s: &Owned) -> PyResult<Option<()>> {
        // SAFETY: a live `str`; the caller checked `layout::known`.
        if unsafe { layout::interned(s.as_ptr()) } {
            if let Some(i) = self.interned.iter().position(|&p| p == s.as_ptr()) {
                self.code_and_i32(b'R', i32::try_from(i).unwrap_or(i32::MAX));
                return Ok(Some(()));
            }
            self.interned.push(s.as_ptr());
            self.out.push(b't');
        } else {
            self.out.push(b's');
        }
        let bytes = py::as_bytes(s)?;
        let Ok(n) = i32::try_from(bytes.len()) else {
            return Ok(None);
        };
        self.out.extend_from_slice(&n.to_le_bytes());
        self.out.extend_from_slice(bytes);
        Ok(Some(()))
    }

    /// `None`, or exactly an `int`, `float` or `str`; `None` (nothing
    /// useful written) for anything else.
    pub fn value(&mut self, v: &Owned) -> PyResult<Option<()>> {
        if v.is_none() {
            self.out.push(b'N');
        } else if v.is(ffi::Type::Int) {
            // SAFETY: an int.
            self.int(unsafe { ffi::PyInt_AsLong(v.as_ptr()) });
        } else if v.is(ffi::Type::Float) {
            self.out.push(b'g');
            self.out
                .extend_from_slice(&py::float(v.as_ptr())?.to_le_bytes());
        } else if v.is(ffi::Type::Str) {
            return self.str(v);
        } else {
            return Ok(None);
        }
        Ok(Some(()))
    }
}

/// The compact frame of pipelined call `call_id` (length word with
/// `compact` set, then the body); `None` where `layout` is not known or a
/// value has no such form, for the caller's other way.
pub fn pipelined_call(
    call_id: c_long,
    callback: &Owned,
    values: &[Owned],
    compact: u32,
    size_hint: usize,
) -> PyResult<Option<Vec<u8>>> {
    if !layout::known() {
        return Ok(None);
    }
    let mut w = Writer::new(4, 32 + size_hint + 8 * values.len());
    w.sequence(b'(', 4);
    w.int(3);
    w.int(call_id);
    if w.str(callback)?.is_none() || w.sequence(b'[', values.len()).is_none() {
        return Ok(None);
    }
    for v in values {
        if w.value(v)?.is_none() {
            return Ok(None);
        }
    }
    let mut out = w.into_bytes();
    let Ok(len) = u32::try_from(out.len() - 4) else {
        return Ok(None);
    };
    out[..4].copy_from_slice(&(len | compact).to_le_bytes());
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::Writer;

    #[test]
    fn ints_take_the_short_code_when_they_fit_32_bits() {
        let mut w = Writer::new(0, 0);
        w.int(5);
        w.int(-1);
        w.int(1 << 40);
        let b = w.into_bytes();
        assert_eq!(&b[..5], b"i\x05\0\0\0");
        assert_eq!(&b[5..10], b"i\xff\xff\xff\xff");
        assert_eq!(b[10], b'I');
        assert_eq!(&b[11..], &(1i64 << 40).to_le_bytes());
    }
}
