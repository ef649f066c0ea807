//! Does the script discard the result of the call it is making? The
//! compiled form of `vh._discard.discarded` on CPython 2.7 (the same
//! rules, given as `vh._discard.RULES`, and the same answers:
//! `py-sdk/tests/discard_cases.py` runs its cases through both, from
//! `test_py2_native.py`), for [`crate::pipeline`]: run as Python the test
//! was a frame of its own, part of the 21 µs a `vh.usermc` call spent in
//! checks on a hook that finds its worker asleep (docs/performance.md "A
//! pipelined call's arguments").

use std::ffi::c_long;

use crate::ffi;
use crate::layout;
use crate::name;
use crate::py::{self, Owned, PyResult};

/// `discarded` on CPython 2.7's byte code `code` at `lasti`: a call
/// opcode of `rules` (`POP_TOP`, `EXTENDED_ARG`, then call opcode and
/// cache entries pairs, none on 2.7) whose two argument bytes (positional
/// and keyword counts) add up to `nargs`, no `EXTENDED_ARG` before it,
/// and `POP_TOP` after it (2.7's instructions with an argument take 3
/// bytes).
fn discarded(rules: &[u8], code: &[u8], lasti: usize, nargs: usize) -> bool {
    let [pop_top, extended_arg, calls @ ..] = rules else {
        return false;
    };
    let is_call = |op: u8| calls.chunks_exact(2).any(|p| p[0] == op);
    match code.get(lasti..lasti + 4) {
        Some(&[op, positional, keyword, next]) => {
            is_call(op)
                && usize::from(positional) + usize::from(keyword) == nargs
                && !(lasti >= 3 && code[lasti - 3] == *extended_arg)
                && next == *pop_top
        }
        _ => false,
    }
}

/// True if the caller of the Python function now running (a classic `vh`
/// function, which calls this from C: the innermost frame is its own)
/// discards the result of the call of `nargs` arguments it is making:
/// `vh._discard.discarded(sys._getframe(1), nargs)` as seen from that
/// function. `rules` is `vh._discard.RULES` (a `str`). Never raises:
/// anything unexpected is False (the error cleared), and the caller then
/// waits for the hub's answer.
pub fn caller_discards(rules: *mut ffi::PyObject, nargs: usize) -> bool {
    let look = || -> PyResult<bool> {
        // SAFETY: the GIL is held; a borrowed frame (NULL: none runs).
        let frame = unsafe { ffi::PyEval_GetFrame() };
        if frame.is_null() || nargs > 255 {
            return Ok(false);
        }
        let (lasti, code) = if layout::known() {
            // SAFETY: a live frame, its fields where `layout` checked
            // them; the caller is alive while the frame it called runs.
            unsafe {
                let caller = layout::frame_back(frame);
                if caller.is_null() {
                    return Ok(false);
                }
                let (lasti, code) = layout::frame_code(caller);
                (
                    c_long::from(lasti),
                    Owned::borrowed(layout::code_bytes(code)),
                )
            }
        } else {
            let caller = py::getattr(frame, name!(c"f_back"))?;
            if caller.is_none() {
                return Ok(false);
            }
            let lasti = py::getattr(caller.as_ptr(), name!(c"f_lasti"))?;
            // SAFETY: `lasti` is live (an int; -1 with an error otherwise).
            let lasti: c_long = unsafe { ffi::PyInt_AsLong(lasti.as_ptr()) };
            let code = py::getattr(caller.as_ptr(), name!(c"f_code"))?;
            (lasti, py::getattr(code.as_ptr(), name!(c"co_code"))?)
        };
        // SAFETY: a borrowed argument made ours for the call.
        let rules = unsafe { Owned::borrowed(rules) };
        let (rules, code) = (py::as_bytes(&rules)?, py::as_bytes(&code)?);
        Ok(usize::try_from(lasti).is_ok_and(|at| discarded(rules, code, at, nargs)))
    };
    look().unwrap_or_else(|py::Raised| {
        // SAFETY: clears the error the look raised.
        unsafe { ffi::PyErr_Clear() };
        false
    })
}

#[cfg(test)]
mod tests {
    use super::discarded;

    // 2.7's facts: CALL_FUNCTION (131), POP_TOP 1, EXTENDED_ARG 145.
    const PY27: &[u8] = &[1, 145, 131, 0];

    #[test]
    fn a_call_whose_counts_match_followed_by_pop_top_is_discarded() {
        let code = [131, 1, 1, 1, 100];
        assert!(discarded(PY27, &code, 0, 2));
        assert!(!discarded(PY27, &code, 0, 1));
        assert!(!discarded(PY27, &[131, 2, 0, 125], 0, 2), "stored");
        assert!(
            !discarded(PY27, &[145, 0, 0, 131, 2, 0, 1], 3, 2),
            "EXTENDED_ARG"
        );
        assert!(!discarded(PY27, &[131, 2, 0], 0, 2), "code ends");
        assert!(!discarded(b"", &code, 0, 2), "no rules");
    }
}
