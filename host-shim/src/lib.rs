//! host-shim: a drop-in `libvh_python_wrapper.so` for Verlihub's
//! `python_pi` that embeds no Python. It forwards hooks over gRPC on a Unix
//! socket to `vh-runner`, which runs each script in its own worker process,
//! and runs the scripts' `vh.*` calls on the hub thread (docs/architecture.md).
//!
//! Parts, from the C ABI down (each module's own `//!` text says more;
//! nothing below imports anything above it in a cycle, see
//! `tools/structure.py`):
//! * [`ffi`]: the exported C ABI, thin wrappers (docs/abi.md §1.2,
//!   §1.3);
//! * [`trampoline`]: exported names of the C (`w_pack`, `w_unpack`) and C++
//!   (`stringListToJson`) functions;
//! * [`hub`]: the shim's state between `w_Begin` and `w_End` and the hub
//!   thread's work and its direct links: `hub/loads` (load, unload),
//!   `hub/hooks` (hook calls),
//!   `hub/function_calls` (B's function calls), `hub/serve` (to a worker by
//!   direct link or runner, the wait loop and each message read),
//!   `hub/waits` (the re-entrant wait stack's rules,
//!   §9.2), `hub/script` (one loaded script);
//! * [`functions`]: generation B's `w_CallFunction` marshaling and dynamic
//!   functions (§3.9, §3.10);
//! * [`callbacks`]: the hub's callback table and calling it (§6);
//! * [`generation`]: which plugin generation called `w_Begin` (§6.4);
//! * [`callback_names`]: the callback table's size, names and formats (§6.1);
//! * [`targs`]: the `w_Targs` layout and ownership rules (§2), with
//!   `targs/pack` (`w_pack`/`w_unpack`) and `targs/print` (`w_packprint`);
//! * [`ipc`]: the background thread holding the gRPC stream: `ipc/session`,
//!   `ipc/send`, `ipc/loads` (replayed on reconnect);
//! * [`direct`]: direct links to workers, which hooks take when they can:
//!   `direct` (a link's frames out and in, the links by script),
//!   `direct/attach`;
//! * [`hooktable`]: the lock-free table `w_HasHook` answers from;
//! * [`stats`]: the hub thread's round trips, counted (awaited, answered,
//!   pipelined) and timed (`HookStats`), and failed pipelined calls;
//! * [`config`]: settings from the hub's environment;
//! * [`fds`]: sockets kept off fds 0, 1 and 2;
//! * [`log`]: `PY: `-style log lines honouring `w_LogLevel`.

pub mod callback_names;
pub mod callbacks;
pub mod config;
pub mod direct;
pub mod fds;
pub mod ffi;
pub mod functions;
pub mod generation;
pub mod hooktable;
pub mod hub;
pub mod ipc;
pub mod log;
pub mod stats;
pub mod targs;
pub mod trampoline;
