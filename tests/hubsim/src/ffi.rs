//! Raw declarations of the C API in `c/hubsim.h`; see that header for each function's
//! contract. All strings are NUL-terminated byte strings in the hub encoding. The C state is
//! global and not thread-safe: prefer [`crate::Hub`], which serialises access.

use std::ffi::{c_char, c_double, c_int, c_long, c_void};

/// One argument of [`hubsim_call_hookv`] / [`hubsim_call_function`]; the member used is
/// chosen by the matching format character (`l`, `s`, `d`, `p`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct hubsim_arg {
    /// Value for `'l'`.
    pub l: c_long,
    /// Value for `'s'` (may be null).
    pub s: *const c_char,
    /// Value for `'d'`.
    pub d: c_double,
    /// Value for `'p'`.
    pub p: *mut c_void,
}

unsafe extern "C" {
    /// Loads the wrapper and brings the simulated plugin online; 0 or -1.
    pub fn hubsim_open(shim_path: *const c_char, generation: c_char) -> c_int;
    /// Message of the last error ("" if none), owned by hubsim.
    pub fn hubsim_last_error() -> *const c_char;
    /// Shuts the hub down and frees all state; safe to call twice.
    pub fn hubsim_close();
    /// Sets a hub configuration value (no hook fired).
    pub fn hubsim_set_config(conf: *const c_char, var: *const c_char, val: *const c_char);
    /// Loads a script as python_pi does; the script id or -1.
    pub fn hubsim_load(script_path: *const c_char) -> c_int;
    /// Unloads a script; 1 if it was loaded.
    pub fn hubsim_unload(id: c_int) -> c_int;
    /// Number of loaded scripts.
    pub fn hubsim_script_count() -> c_int;
    /// Id of the index-th script in call order, or -1.
    pub fn hubsim_script_id(index: c_int) -> c_int;
    /// A user logs in; the combined hook result.
    pub fn hubsim_login(
        nick: *const c_char,
        uclass: c_long,
        ip: *const c_char,
        desc: *const c_char,
        tag: *const c_char,
        speed: *const c_char,
        email: *const c_char,
        share: *const c_char,
    ) -> c_int;
    /// A user quits; 1 if he was online.
    pub fn hubsim_logout(nick: *const c_char) -> c_int;
    /// Main-chat message (or command); the combined hook result.
    pub fn hubsim_chat(nick: *const c_char, text: *const c_char) -> c_int;
    /// Private message; the combined hook result.
    pub fn hubsim_pm(from: *const c_char, to: *const c_char, text: *const c_char) -> c_int;
    /// Timer tick at Unix time `now_s`; OnTimer's combined result.
    pub fn hubsim_timer(now_s: c_double) -> c_int;
    /// Generic hook call with C varargs.
    pub fn hubsim_call_hook(hook: c_int, fmt: *const c_char, ...) -> c_int;
    /// Generic hook call with an argument array of `strlen(fmt)` elements.
    pub fn hubsim_call_hookv(hook: c_int, fmt: *const c_char, args: *const hubsim_arg) -> c_int;
    /// Generation B `w_CallFunction`; 1 non-NULL result, 0 NULL, -1 error.
    pub fn hubsim_call_function(
        id: c_int,
        func_name: *const c_char,
        fmt: *const c_char,
        args: *const hubsim_arg,
    ) -> c_int;
    /// Number of records.
    pub fn hubsim_record_count() -> usize;
    /// The i-th record (owned by hubsim) or null.
    pub fn hubsim_record(i: usize) -> *const c_char;
    /// Forgets all records.
    pub fn hubsim_record_clear();
    /// Replays a transcript; number of events or -1.
    pub fn hubsim_replay(
        transcript_path: *const c_char,
        encoding: *const c_char,
        quiet: c_int,
    ) -> c_int;
    /// Blocked events of the last replay.
    pub fn hubsim_replay_blocked() -> usize;
    /// The command-line program; returns the exit code.
    pub fn hubsim_main(argc: c_int, argv: *mut *mut c_char) -> c_int;
}
