//! host-shim: a drop-in `libvh_python_wrapper.so` for Verlihub's
//! `python_pi` that embeds no Python. It forwards hooks over gRPC on a Unix
//! socket to `vh-runner`, which runs each script in its own worker process,
//! and runs the scripts' `vh.*` calls on the hub thread (DESIGN.md).
//!
//! Parts:
//! * [`ffi`]: the exported C ABI (spec/wrapper-abi.md §1.2, §1.3);
//! * [`trampoline`]: exported names of the C (`w_pack`, `w_unpack`) and C++
//!   (`stringListToJson`) functions;
//! * [`targs`]: the `w_Targs` layout and ownership rules (§2);
//! * [`callback_names`]: the callback table's size, names and formats (§6.1);
//! * [`generation`]: which plugin generation called `w_Begin` (§6.4);
//! * [`callbacks`]: the hub's callback table and calling it (§6);
//! * [`functions`]: generation B's `w_CallFunction` marshaling and dynamic
//!   functions (§3.9, §3.10);
//! * [`hub`]: state and the hub thread's work (load, hooks, re-entrancy);
//! * [`hooktable`]: the lock-free table `w_HasHook` answers from;
//! * [`ipc`]: the background thread holding the gRPC stream;
//! * [`direct`]: direct links to workers, which hooks take when they can;
//! * [`pipeline`]: pipelined `vh.*` calls and the round-trip counters;
//! * [`config`]: settings from the hub's environment;
//! * [`log`]: `PY: `-style log lines honouring `w_LogLevel`.

pub mod callback_names;
pub mod callbacks;
pub mod config;
pub mod direct;
pub mod ffi;
pub mod functions;
pub mod generation;
pub mod hooktable;
pub mod hub;
pub mod ipc;
pub mod log;
pub mod pipeline;
pub mod targs;
pub mod trampoline;
