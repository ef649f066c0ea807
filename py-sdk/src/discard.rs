//! Does the script discard the result of the call it is making? The
//! compiled form of `vh._discard.discarded` on CPython 3 (the same rules,
//! given as `vh._discard.RULES`, and the same answers:
//! `py-sdk/tests/discard_cases.py` runs its cases through both), for a
//! classic function's discarded send (`Channel.send_as_is`,
//! docs/protocol.md "Pipelined calls"). Run as Python the test was a frame
//! of its own and some twenty byte codes, about 19 µs of a `vh.usermc`
//! call on a hook that finds its worker asleep (docs/performance.md "A
//! pipelined call's arguments").

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

pub use crate::frames::Caller;

/// `CACHE`, the filler of inline cache entries in `co_code` (3.11+).
const CACHE: u8 = 0;

/// This interpreter's byte code facts, parsed from `vh._discard.RULES`:
/// `POP_TOP`, `EXTENDED_ARG`, then `(call opcode, inline cache entries)`
/// pairs in the table's order. Empty bytes (an interpreter the table does
/// not know) give no rules: nothing counts as discarded.
struct Rules<'a> {
    pop_top: u8,
    extended_arg: u8,
    calls: &'a [u8],
}

impl<'a> Rules<'a> {
    fn parse(raw: &'a [u8]) -> Option<Self> {
        match raw {
            [pop_top, extended_arg, calls @ ..] if !calls.is_empty() && calls.len() % 2 == 0 => {
                Some(Self {
                    pop_top: *pop_top,
                    extended_arg: *extended_arg,
                    calls,
                })
            }
            _ => None,
        }
    }

    fn pairs(&self) -> impl Iterator<Item = (u8, usize)> + '_ {
        self.calls
            .chunks_exact(2)
            .map(|p| (p[0], usize::from(p[1])))
    }

    /// `_discarded_py3` on the byte code `code` of a frame at `lasti`:
    /// the instruction there (or, on 3.11 and 3.12, the call whose last
    /// cache entry it is) is a call of `nargs` arguments with no
    /// `EXTENDED_ARG` before it, and `POP_TOP` follows its cache entries.
    fn discarded(&self, code: &[u8], lasti: usize, nargs: usize) -> bool {
        let Some(&op) = code.get(lasti) else {
            return false;
        };
        let mut found = self
            .pairs()
            .find(|&(call, _)| call == op)
            .map(|(_, n)| (lasti, n));
        if found.is_none() && op == CACHE {
            found = self
                .pairs()
                .find(|&(call, n)| n > 0 && lasti >= 2 * n && code[lasti - 2 * n] == call)
                .map(|(_, n)| (lasti - 2 * n, n));
        }
        let Some((at, caches)) = found else {
            return false;
        };
        if code.get(at + 1).map(|&n| usize::from(n)) != Some(nargs) {
            return false;
        }
        if at >= 2 && code[at - 2] == self.extended_arg {
            return false;
        }
        code.get(at + 2 + 2 * caches) == Some(&self.pop_top)
    }
}

/// True if the script's frame, `which` ([`Caller::Below`]: the caller of
/// the Python function now running, a classic `vh` function written in
/// Python that calls this from C; [`Caller::Innermost`]: the innermost
/// frame, calling a compiled classic function, `vh._core.Classic`)
/// discards the result of the call of `nargs` arguments it is making:
/// `vh._discard.discarded(frame, nargs)`. `rules` is
/// `vh._discard.RULES`. Never raises: anything unexpected is False, and
/// the caller then waits for the hub's answer.
pub fn caller_discards(py: Python<'_>, rules: &[u8], nargs: usize, which: Caller) -> bool {
    let Some(rules) = Rules::parse(rules) else {
        return false;
    };
    if nargs > 255 {
        return false;
    }
    let Some((code, lasti)) = crate::frames::caller(py, which) else {
        return false;
    };
    let Ok(code) = code.getattr(intern!(py, "co_code")) else {
        return false;
    };
    let Ok(code) = code.cast::<PyBytes>() else {
        return false;
    };
    usize::try_from(lasti).is_ok_and(|at| rules.discarded(code.as_bytes(), at, nargs))
}

/// `vh._core.caller_discards(rules, nargs)`: [`caller_discards`] of the
/// Python function calling it ([`Caller::Below`]), so that
/// `py-sdk/tests/discard_cases.py` can hold it to `vh._discard.discarded`
/// call form by call form.
#[pyfunction]
#[pyo3(name = "caller_discards")]
pub fn caller_discards_py(py: Python<'_>, rules: &[u8], nargs: usize) -> bool {
    caller_discards(py, rules, nargs, Caller::Below)
}

/// `vh._core.DiscardProbe(rules, seen)`: a compiled callable that, called
/// with any arguments, appends to list `seen` whether its caller discards
/// the result ([`caller_discards`], [`Caller::Innermost`]: as for
/// `vh._core.Classic`) and returns True; for
/// `py-sdk/tests/discard_cases.py`'s call forms.
#[pyclass(frozen, module = "vh._core")]
pub struct DiscardProbe {
    rules: Vec<u8>,
    seen: Py<PyList>,
}

#[pymethods]
impl DiscardProbe {
    #[new]
    fn new(rules: Vec<u8>, seen: Py<PyList>) -> Self {
        Self { rules, seen }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<bool> {
        let nargs = args.len() + kwargs.map_or(0, |k| k.len());
        let discarded = caller_discards(py, &self.rules, nargs, Caller::Innermost);
        self.seen.bind(py).append(discarded)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::Rules;

    // 3.11's facts: CALL (171) with 4 cache entries, POP_TOP 1, EXTENDED_ARG 144.
    const PY311: &[u8] = &[1, 144, 171, 4];

    #[test]
    fn a_call_followed_by_pop_top_after_its_caches_is_discarded() {
        let r = Rules::parse(PY311).unwrap();
        let mut code = vec![171, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert!(r.discarded(&code, 0, 2));
        // 3.11 leaves f_lasti on the last cache entry of a Python callee's call.
        assert!(r.discarded(&code, 8, 2));
        assert!(!r.discarded(&code, 0, 1), "another argument count");
        code[10] = 125; // STORE_FAST: the result is kept
        assert!(!r.discarded(&code, 0, 2));
    }

    #[test]
    fn extended_arg_short_code_and_unknown_rules_are_not_discarded() {
        let r = Rules::parse(PY311).unwrap();
        let code = [144, 1, 171, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert!(!r.discarded(&code, 2, 2));
        assert!(!r.discarded(&[171, 2, 0], 0, 2));
        assert!(!r.discarded(&[], 0, 0));
        assert!(Rules::parse(b"").is_none());
        assert!(Rules::parse(&[1, 144, 171]).is_none());
    }
}
