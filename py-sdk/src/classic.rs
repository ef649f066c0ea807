//! `vh._core.Classic`: the classic `vh` function of a callback whose
//! discarded calls are pipelined (`vh.usermc`, `vh.mc`, ...; docs/protocol.md
//! "Pipelined calls"), compiled, so that the usual call (positional
//! arguments, its result discarded, on the main thread) goes from the
//! script's frame to the held frame with no Python frame in between.
//!
//! Why: a hook that finds its worker asleep pays for every cache line it
//! touches, and the classic function written in Python (its frame, its
//! closure's cells, the look-ups of the runtime and its `as_is`) was the
//! largest step of a cold `vh.usermc` left once the test and the send
//! were compiled (docs/performance.md "The classic function compiled").
//!
//! Everything but that attempt stays in Python (`vh._api.make_classic`):
//! `rest(way, args, kwargs)` is the classic function past it (the
//! arguments' checks and errors, the Python way to pipeline, the call that
//! waits, the result's conversion), `failed(error)` what the Python
//! function did with an error of the attempt. Like python_pi's own
//! functions (built-in functions), a `Classic` is not bound as a method
//! when it is a class attribute; its name, docs and signature are set on
//! its `__dict__` by `vh._api`.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::channel::Channel;
use crate::discard::Caller;
use crate::send_as_is::SendSpec;

/// A classic function whose discarded calls are pipelined (module docs).
#[pyclass(frozen, dict, module = "vh._core")]
pub struct Classic {
    /// Its callback's parameters as the channel converts them.
    send: Py<SendSpec>,
    /// What a pipelined call returns (a success: no answer is awaited).
    sent: Py<PyAny>,
    /// `rest(way, args, kwargs)`: the classic function past the attempt,
    /// `way` its answer (`None`: not made, or the arguments are not the
    /// usual ones; False: it may not be pipelined now).
    rest: Py<PyAny>,
    /// `failed(error)`: what the classic function does with an error of
    /// the attempt (a link that is gone, a call too big).
    failed: Py<PyAny>,
    /// `vh._runtime`, whose `_runtime` is the runtime installed now.
    runtime: Py<PyAny>,
}

#[pymethods]
impl Classic {
    #[new]
    fn new(
        send: Py<SendSpec>,
        sent: Py<PyAny>,
        rest: Py<PyAny>,
        failed: Py<PyAny>,
        runtime: Py<PyAny>,
    ) -> Self {
        Self {
            send,
            sent,
            rest,
            failed,
            runtime,
        }
    }

    /// Itself, unbound, wherever it is looked up (a built-in function is
    /// not bound as a method either); it also makes `inspect` read its
    /// `__text_signature__` as a built-in's (`help`, `inspect.signature`,
    /// `mypy.stubtest`).
    fn __get__(
        slf: Py<Self>,
        _instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> Py<Self> {
        slf
    }

    /// The classic function's call (module docs).
    ///
    /// # Errors
    /// What `rest` or `failed` raise.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let way = if kwargs.is_some_and(|k| !k.is_empty()) {
            None
        } else {
            match self.attempt(py, args) {
                Ok(Some(true)) => return Ok(self.sent.clone_ref(py)),
                Ok(way) => way,
                Err(e) => return self.failed.call1(py, (e.into_value(py),)),
            }
        };
        self.rest.call1(py, (way, args, kwargs))
    }
}

impl Classic {
    /// The installed runtime's channel's `send_as_is` (its `as_is`) for the script's
    /// frame, the innermost ([`Caller::Innermost`]); `None` if the runtime
    /// has no compiled way (`as_is` is None: `vh.testing`'s channel,
    /// pipelining turned off, an interpreter whose byte code is not known).
    fn attempt(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Option<bool>> {
        let rt = self.runtime.bind(py).getattr(intern!(py, "_runtime"))?;
        if rt.is_none() {
            return Ok(None);
        }
        // `vh._pipeline.as_is_for`: the channel, set up, or None.
        let as_is = rt.getattr(intern!(py, "as_is"))?;
        let Ok(channel) = as_is.cast::<Channel>() else {
            return Ok(None);
        };
        channel
            .get()
            .send_as_is_for(py, self.send.bind(py), args, Caller::Innermost)
    }
}
