//! A pipelined call's compact tuple `(3, call_id, callback, [values])`
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
use crate::py::{self, Owned, PyResult};

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
