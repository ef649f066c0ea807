//! The C ABI python_pi resolves with `dlsym` (docs/abi.md §1.2) or
//! links against (§1.3, generation B). Each function is a thin wrapper: it
//! catches panics (a panic crossing `extern "C"` would abort the hub) and
//! returns the failure value docs/abi.md gives, then calls safe code in [`crate::hub`].
//!
//! Thread: python_pi calls every one of these on the hub's main thread
//! (§9.1); hub callbacks run only there, only inside these functions.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::OnceLock;

use vh_proto::hooks::HOOKS;

use crate::callbacks::{A_NAMES, Callback};
use crate::generation::Generation;
use crate::hooktable;
use crate::hub;
use crate::log;
use crate::targs::{self, Targs};

/// Runs `f`, turning a panic into `fallback` (rustls-ffi's pattern).
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// `int w_Begin(w_Tcallback *callbacks)`, both generations (docs/abi.md
/// §3.2): detects the generation (§6.4, logged), keeps the 100-entry table
/// as that generation's wrapper did (A: a copy; B: the pointer, so entries
/// filled in later are seen), starts the IPC thread that connects to the
/// runner.
///
/// # Safety
/// `callbacks` points to 100 entries (NULL or callbacks), as the plugin's
/// `calloc`ed table does; under generation B it must stay valid until
/// `w_End` (python_pi never frees it). Hub thread.
///
/// Returns 1, or 0 (plugin stays offline) for a NULL or unrecognised table
/// or a panic.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_Begin(callbacks: *const *const c_void) -> c_int {
    if callbacks.is_null() {
        return 0;
    }
    // SAFETY: per the contract.
    guard(0, || c_int::from(unsafe { hub::begin(callbacks) }))
}

/// `int w_End(void)`, both generations (docs/abi.md §3.3): stops what is left,
/// stops the IPC thread, frees all state so that `w_Begin` may follow.
///
/// Returns 1 (the plugin ignores it); 0 on panic.
#[unsafe(no_mangle)]
pub extern "C" fn w_End() -> c_int {
    guard(0, || {
        hub::end();
        1
    })
}

/// `int w_ReserveID(void)`, both generations (docs/abi.md §3.4): the id the
/// next `w_Load` should use. Under generation A the same id until a load
/// takes it (A reserved nothing); under B a new id at every call, as B's
/// wrapper appended a slot per call. Ids are never reused.
///
/// Returns 0 before `w_Begin` or on panic.
#[unsafe(no_mangle)]
pub extern "C" fn w_ReserveID() -> c_int {
    guard(0, || hub::current().map_or(0, |s| s.reserve_id()))
}

/// `int w_Load(w_Targs *args)`, both generations (docs/abi.md §3.5): `args` is
/// `"lssssls"` (id, path, botname, opchatname, config_dir, start_time,
/// config_name). Starts the script in its own worker through the runner
/// and waits (bounded by `VH_LOAD_DEADLINE_MS`) for its hook table.
///
/// # Safety
/// `args` is NULL or from `w_pack`; borrowed (the plugin frees it after the
/// call, the shim keeps copies). Hub thread.
///
/// Returns the script id, or -1 (logged: runner unreachable, load error
/// with its traceback, deadline) or on panic.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_Load(args: *mut Targs) -> c_int {
    // SAFETY: per the contract.
    guard(-1, || {
        hub::current().map_or(-1, |s| unsafe { s.load(args) })
    })
}

/// `int w_Unload(int id)`, both generations (docs/abi.md §3.6): the worker calls
/// the script's `UnLoad()` (A behaviour) and exits; waits up to
/// `VH_UNLOAD_DEADLINE_MS`.
///
/// Returns 1, or -1 for an unknown id or on panic (the plugin ignores it).
#[unsafe(no_mangle)]
pub extern "C" fn w_Unload(id: c_int) -> c_int {
    guard(-1, || hub::current().map_or(-1, |s| s.unload(id)))
}

/// `int w_HasHook(int id, int hook)`, both generations (docs/abi.md §3.7): from
/// the hook table the worker reported at load; no IPC. Also the hub entry
/// at which queued `vh.*` calls run.
///
/// Returns 1 or 0 (unknown id or hook, or panic).
#[unsafe(no_mangle)]
pub extern "C" fn w_HasHook(id: c_int, hook: c_int) -> c_int {
    guard(0, || {
        // The hot path (every script, before every hook): two atomic loads.
        if hooktable::due()
            && let Some(s) = hub::current()
        {
            s.pump();
        }
        let Some(bit) = usize::try_from(hook).ok().filter(|&h| h < HOOKS.len()) else {
            return 0;
        };
        match hooktable::get(id) {
            Some(Some(hooks)) => c_int::from(hooks & (1 << bit) != 0),
            Some(None) => 0,
            None => hub::current().map_or(0, |s| c_int::from(s.has_hook(id, hook))),
        }
    })
}

/// `w_Targs *w_CallHook(int id, int hook, w_Targs *params)`, both
/// generations (docs/abi.md §4, §5): sends the hook to the script's worker and
/// waits up to `VH_HOOK_DEADLINE_MS`, running the script's `vh.*` calls on
/// this thread meanwhile (§9.2).
///
/// # Safety
/// `params` is NULL or from `w_pack` with the hook's format (§4.1),
/// borrowed. Hub thread.
///
/// Arguments: under generation A exactly the hook's format (§4.1), else
/// NULL as A's wrapper; under B any of 'l', 's', 'd', 'p' (an address as
/// int), passed to the script as given, as B's wrapper did (§4.3).
///
/// Returns NULL ("no opinion") on any failure, deadline, dead worker or
/// panic; else a result ("l", "sl", "ss" for chat, "sssss" for MyINFO;
/// under B also "s" and "d" for a script's `str` or `float`, §4.3),
/// allocated as the generation's wrapper did (§2.7): under A one `malloc`
/// block that the A plugin's `free()` releases entirely; under B the
/// format and each string `malloc`ed on their own, released by
/// `w_free_args`, or by `free()` of each string and then of the struct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_CallHook(id: c_int, hook: c_int, params: *mut Targs) -> *mut Targs {
    guard(ptr::null_mut(), || {
        // SAFETY: per the contract.
        hub::current().map_or(ptr::null_mut(), |s| unsafe {
            s.call_hook(id, hook, params)
        })
    })
}

/// `w_Targs *w_CallFunction(int id, const char *func_name, w_Targs
/// *params)`, generation B (docs/abi.md §3.9; exported for both, harmless for A):
/// calls the module-level function `func_name` of script `id` in its
/// worker, on the worker's main thread, re-entrant like a hook (its `vh.*`
/// calls run on this thread meanwhile), waiting at most the script's hook
/// deadline.
///
/// Arguments by format character: 'l' -> int, 's' -> str, 'd' -> float,
/// 'D' -> the JSON document parsed (NULL, empty or invalid -> `{}`), 'p' ->
/// int (the address), 'L' -> list of str. Strings are decoded with the
/// hub's encoding and `surrogateescape`, **not** strict UTF-8 as B's
/// wrapper did (docs/architecture.md "Hub strings are bytes"): every byte reaches the
/// script and comes back unchanged. 'O' (a Python object) has no meaning
/// out of process: such a call fails. Result: int/bool -> "l", float ->
/// "d", str -> "s" (hub encoding), None -> "l" 0, list/tuple/set/
/// frozenset/dict -> "D" (JSON), any other type -> NULL.
///
/// # Safety
/// `func_name` NULL or a C string; `params` NULL (no arguments) or a
/// struct from `w_pack`, borrowed (the caller still owns and frees it).
/// Hub thread. The result is owned by the caller and allocated as B's
/// wrapper did (docs/abi.md §2.7): the format and a string element
/// `malloc`ed on their own; `w_free_args` releases all of it, and so does
/// `free()` of the string then of the struct (but for the format).
///
/// Returns NULL (logged) for an unknown script, a NULL or empty name, an
/// 'O' or unknown format character, a missing or non-callable function,
/// an exception, a result without a C form, the deadline, a dead worker,
/// or a panic.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_CallFunction(
    id: c_int,
    func_name: *const c_char,
    params: *mut Targs,
) -> *mut Targs {
    guard(ptr::null_mut(), || {
        // SAFETY: per the contract.
        hub::current().map_or(ptr::null_mut(), |s| unsafe {
            s.call_function(id, func_name, params)
        })
    })
}

fn hook_names() -> &'static [CString] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    NAMES.get_or_init(|| {
        HOOKS
            .iter()
            .map(|h| CString::new(h.name).unwrap_or_default())
            .collect()
    })
}

/// `const char *w_HookName(int hook)`, both generations (docs/abi.md §3.10): the
/// hook's Python name for 0..40, NULL otherwise. Static strings.
#[unsafe(no_mangle)]
pub extern "C" fn w_HookName(hook: c_int) -> *const c_char {
    guard(ptr::null(), || {
        usize::try_from(hook)
            .ok()
            .and_then(|i| hook_names().get(i))
            .map_or(ptr::null(), |n| n.as_ptr())
    })
}

/// `const char *w_CallName(int cb)` (docs/abi.md §3.10): the callback's name in
/// the detected generation's numbering (A before `w_Begin`), NULL outside.
/// Not used by the plugin. Static strings.
#[unsafe(no_mangle)]
pub extern "C" fn w_CallName(cb: c_int) -> *const c_char {
    static A: OnceLock<Vec<CString>> = OnceLock::new();
    static B: OnceLock<Vec<CString>> = OnceLock::new();
    guard(ptr::null(), || {
        let generation = hub::current().map_or(Generation::A, |s| s.generation());
        let names = match generation {
            Generation::A => A.get_or_init(|| {
                A_NAMES
                    .iter()
                    .map(|(n, _)| CString::new(*n).unwrap_or_default())
                    .collect()
            }),
            Generation::B => B.get_or_init(|| {
                let mut v: Vec<CString> = A_NAMES
                    .iter()
                    .map(|(n, _)| CString::new(*n).unwrap_or_default())
                    .collect();
                v.insert(22, c"GetIPCity".to_owned());
                v
            }),
        };
        usize::try_from(cb)
            .ok()
            .and_then(|i| names.get(i))
            .map_or(ptr::null(), |n| n.as_ptr())
    })
}

/// `void *w_GetHook(int hook)` (docs/abi.md §3.10): would return a Python object;
/// out of process there is none, so NULL always (as B's stub).
#[unsafe(no_mangle)]
pub extern "C" fn w_GetHook(_hook: c_int) -> *mut c_void {
    ptr::null_mut()
}

/// `void w_LogLevel(int level)`, both generations (docs/abi.md §3.10, §10.3): the
/// level for the shim's own log lines.
#[unsafe(no_mangle)]
pub extern "C" fn w_LogLevel(level: c_int) {
    log::set_level(level);
}

/// `const char *w_packprint(w_Targs *a)`, both generations (docs/abi.md §2.5):
/// text for log lines, `"(null)"` for NULL.
///
/// # Safety
/// `a` is NULL or a valid struct. The string lives in a per-thread buffer
/// until the next call on the same thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_packprint(a: *mut Targs) -> *const c_char {
    // SAFETY: per the contract.
    guard(c"(null)".as_ptr(), || unsafe { targs::packprint(a) })
}

/// `void w_free_args(w_Targs *a)`, generation B (docs/abi.md §2.6), linked
/// directly by the B plugin to release hook results: frees the struct and
/// every string, list and format it points to outside its own block.
///
/// # Safety
/// `a` is NULL or a `malloc`ed struct (from the shim, or with `malloc`ed
/// strings); not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_free_args(a: *mut Targs) {
    // SAFETY: per the contract.
    guard((), || unsafe { targs::free_args(a) });
}

/// `int w_RegisterFunction(int script_id, const char *func_name,
/// w_Tcallback cb)`, generation B (docs/abi.md §3.10; exported for both): makes
/// `cb` callable by script `script_id` as `vh.CallDynamicFunction(func_name,
/// *args)`, replacing a function of the same name. The registry is per
/// script and goes when the script is unloaded (or at `w_End`).
///
/// `cb` is later called on the hub thread with id -1 and a struct whose
/// format follows the Python arguments ('l' int/bool, 's' str in the hub
/// encoding, 'd' float, 'D' JSON for list/tuple/set/frozenset/dict); the
/// struct is released after the call with `w_free_args` semantics, so `cb`
/// must not keep pointers into it. Its result is read by the first format
/// character and released with `w_free_args`: strings in it must be
/// `malloc`ed (e.g. `strdup`), as in B.
///
/// # Safety
/// `func_name` NULL or a C string (copied); `cb` NULL or a callback valid
/// until unregistered or the script is unloaded. Any thread (normally the
/// hub's).
///
/// Returns 1, or 0 if `script_id` was never handed out by `w_ReserveID`
/// or is unloaded, `func_name` or `cb` is NULL, or on panic. A reserved id
/// is accepted before its `w_Load` and while it runs, as in B
/// (docs/abi.md §3.10).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_RegisterFunction(
    script_id: c_int,
    func_name: *const c_char,
    cb: Option<Callback>,
) -> c_int {
    let Some(cb) = cb else {
        return 0;
    };
    if func_name.is_null() {
        return 0;
    }
    guard(0, || {
        // SAFETY: a NUL-terminated string per the contract.
        let name = unsafe { CStr::from_ptr(func_name) }.to_bytes();
        hub::current().map_or(0, |s| c_int::from(s.register_function(script_id, name, cb)))
    })
}

/// `int w_UnregisterFunction(int script_id, const char *func_name)`,
/// generation B (docs/abi.md §3.10; exported for both): removes a function
/// registered with `w_RegisterFunction`.
///
/// # Safety
/// `func_name` NULL or a C string. Any thread (normally the hub's).
///
/// Returns 1 if it was registered, else 0 (unknown script, nothing
/// registered, NULL name (logged), unknown name (logged)); 0 on panic.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn w_UnregisterFunction(script_id: c_int, func_name: *const c_char) -> c_int {
    guard(0, || {
        if func_name.is_null() {
            crate::shim_log!(
                1,
                "UnregisterFunction: NULL function name for script #{script_id}"
            );
            return 0;
        }
        // SAFETY: a NUL-terminated string per the contract.
        let name = unsafe { CStr::from_ptr(func_name) }.to_bytes();
        hub::current().map_or(0, |s| c_int::from(s.unregister_function(script_id, name)))
    })
}

/// Not part of python_pi's ABI: compact frames (docs/protocol.md "Compact
/// frames") the shim wrote to and read from Python 2 workers' direct
/// links since it was loaded, for tests, which find it with `dlsym`.
///
/// # Safety
/// Each pointer is NULL or valid for one `u64` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vh_shim_compact_frames(written: *mut u64, read: *mut u64) {
    let (w, r) = crate::direct::compact_counters();
    for (p, v) in [(written, w), (read, r)] {
        if !p.is_null() {
            // SAFETY: per the contract.
            unsafe { p.write(v) };
        }
    }
}

/// Not part of python_pi's ABI: the shim's round-trip counters since it
/// was loaded (docs/protocol.md "Pipelined calls"), for `vh-bench` and
/// tests, which find it with `dlsym`. Writes, through each non-NULL
/// pointer: hook and function calls the hub waited for, `vh.*` calls it
/// answered (a round trip each), and pipelined `vh.*` calls it ran without
/// an answer. Any thread.
///
/// # Safety
/// Each pointer is NULL or valid for one `u64` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vh_shim_round_trips(
    awaited: *mut u64,
    answered: *mut u64,
    pipelined: *mut u64,
) {
    let (a, b, c) = crate::stats::counters();
    for (p, v) in [(awaited, a), (answered, b), (pipelined, c)] {
        if !p.is_null() {
            // SAFETY: per the contract.
            unsafe { p.write(v) };
        }
    }
}
