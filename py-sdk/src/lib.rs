//! `vh._core`: the transport of a worker process. It owns the socket to the
//! runner (fd `VH_WORKER_FD`) and, when the runner gave it one, the direct
//! link to the hub (fd `VH_DIRECT_FD`, docs/protocol.md "Direct links").
//! A background thread reads the runner's socket with the GIL released and
//! routes its frames: results of `vh.*` calls made off the main thread go
//! straight to the waiting thread; everything else (the load request,
//! hooks, function calls, unload, results of main-thread calls) goes to
//! the main thread's queue, which `Channel.recv_main` reads (and the direct
//! link with it). All policy (hook dispatch, encodings, the `vh` API) is
//! Python, in `vh/_runtime.py` and the modules it names; the exceptions
//! are the usual hook's way from its frame to the script's function and
//! back ([`hook_loop`]), which follows `run_hook`'s rules and hands every
//! other case to them, and a classic function's usual discarded send
//! (`Channel.send_as_is`, [`send_as_is`], [`discard`]), which follows `vh._api` and
//! `vh._discard` and hands every other case back the same way.
//!
//! Hub values cross as Python `int`, `float`, `bytes` or `None`; where a
//! JSON document ('D') must be told from a string ('s'), a *kinds* string
//! goes with them, one format character per value (`l`, `s`, `d`, `D`).
//!
//! Modules, lowest first (each uses only those above it):
//! - [`values`]: hub values between Python and the wire, and *kinds*;
//!   what reaches the main thread, and its Python event classes.
//! - [`reader`]: the runner link's reader thread and its routing.
//! - [`transport`]: the worker's sockets, frames out, off-main-thread
//!   calls, and (`transport::main_thread`) the main thread's wait
//!   (spinning, sleeping, on the hub thread's CPU between dense hooks) and
//!   way out (which link a message takes, the relay or the direct link,
//!   and pipelined calls held until the next frame on the direct link).
//! - [`hook_loop`]: the main loop's plain hooks, from the frame to the
//!   script's function and back (`Channel.serve_hooks`).
//! - [`frames`]: the code and last instruction of a classic function's
//!   caller, read from CPython's frame records where their layout is
//!   known and checked.
//! - [`discard`]: whether the script discards a classic function's
//!   result, `vh._discard`'s test compiled; [`send_as_is`]: what a
//!   classic function's usual discarded send needs made once (for
//!   `Channel.send_as_is`).
//! - [`channel`]: `vh._core.Channel`, the transport as a Python object.

mod channel;
mod charmap;
mod classic;
mod discard;
mod frames;
mod hook_loop;
mod reader;
mod send_as_is;
mod transport;
mod values;

use pyo3::prelude::*;

/// The private transport module of the `vh` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<channel::Channel>()?;
    m.add_class::<send_as_is::SendSpec>()?;
    m.add_class::<hook_loop::Nesting>()?;
    m.add_class::<classic::Classic>()?;
    m.add_class::<discard::DiscardProbe>()?;
    m.add_function(wrap_pyfunction!(discard::caller_discards_py, m)?)?;
    m.add_function(wrap_pyfunction!(frames::frames_known, m)?)?;
    values::add_classes(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
