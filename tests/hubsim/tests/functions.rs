//! Generation B's extras through real parts (hubsim + the shim +
//! a real runner + real workers): `w_CallFunction` with the marshaling of
//! docs/abi.md §3.9, and dynamic functions (§3.10) registered with
//! the shim's `w_RegisterFunction` by "another plugin" (this test) and
//! called by a script with `vh.CallDynamicFunction`.

mod common;

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use common::{Runner, actions, script, serial, shim_env, shim_path, show, wait_until};
use vh_hubsim::{Generation, HookArg, Hub};

type Cb = unsafe extern "C" fn(c_int, *mut c_void) -> *mut c_void;
type Pack = unsafe extern "C" fn(*const c_char, ...) -> *mut c_void;
type Unpack = unsafe extern "C" fn(*mut c_void, *const c_char, ...) -> c_int;
type Register = unsafe extern "C" fn(c_int, *const c_char, Option<Cb>) -> c_int;
type Unregister = unsafe extern "C" fn(c_int, *const c_char) -> c_int;
type CallFunction = unsafe extern "C" fn(c_int, *const c_char, *mut c_void) -> *mut c_void;
type FreeArgs = unsafe extern "C" fn(*mut c_void);

/// The shim's exports, found as a plugin would find them (the shim is
/// loaded with RTLD_GLOBAL by the hub).
#[derive(Clone, Copy)]
struct Syms {
    pack: Pack,
    unpack: Unpack,
    register: Register,
    unregister: Unregister,
    call_function: CallFunction,
    free_args: FreeArgs,
}

static SYMS: Mutex<Option<Syms>> = Mutex::new(None);
/// Ids the registered functions were called with (B passes -1).
static SEEN_IDS: Mutex<Vec<c_int>> = Mutex::new(Vec::new());
/// The script the `reenter` function calls back with `w_CallFunction`.
static SCRIPT_ID: AtomicI32 = AtomicI32::new(-1);

fn syms() -> Syms {
    SYMS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .expect("symbols looked up")
}

/// Looks the shim's exports up in the loaded shim (dlopen with NOLOAD).
fn lookup() -> (*mut c_void, Syms) {
    let path = CString::new(shim_path().into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: the hub has the shim loaded; NOLOAD only takes a reference.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    assert!(!handle.is_null(), "the shim is not loaded");
    let get = |name: &CStr| {
        // SAFETY: a valid handle and symbol name.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        assert!(!p.is_null(), "{name:?} not exported");
        p
    };
    // SAFETY: each symbol has the C signature of docs/abi.md §1.2, §2, §3.9, §3.10.
    let syms = unsafe {
        Syms {
            pack: std::mem::transmute::<*mut c_void, Pack>(get(c"w_pack")),
            unpack: std::mem::transmute::<*mut c_void, Unpack>(get(c"w_unpack")),
            register: std::mem::transmute::<*mut c_void, Register>(get(c"w_RegisterFunction")),
            unregister: std::mem::transmute::<*mut c_void, Unregister>(get(
                c"w_UnregisterFunction",
            )),
            call_function: std::mem::transmute::<*mut c_void, CallFunction>(get(c"w_CallFunction")),
            free_args: std::mem::transmute::<*mut c_void, FreeArgs>(get(c"w_free_args")),
        }
    };
    *SYMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(syms);
    (handle, syms)
}

fn seen(id: c_int) {
    SEEN_IDS.lock().unwrap_or_else(|e| e.into_inner()).push(id);
}

/// `malloc`ed copy of `bytes`, as B requires for strings in a result.
fn owned(bytes: &[u8]) -> *mut c_char {
    let c = CString::new(bytes).unwrap();
    // SAFETY: a valid C string.
    unsafe { libc::strdup(c.as_ptr()) }
}

unsafe extern "C" fn add(id: c_int, args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    let (mut a, mut b): (libc::c_long, libc::c_long) = (0, 0);
    // SAFETY: w_unpack with one pointer per character; w_pack with a long.
    unsafe {
        if (s.unpack)(args, c"ll".as_ptr(), &raw mut a, &raw mut b) == 0 {
            return std::ptr::null_mut();
        }
        (s.pack)(c"l".as_ptr(), a + b)
    }
}

unsafe extern "C" fn reverse(id: c_int, args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    let mut text: *const c_char = std::ptr::null();
    // SAFETY: as in `add`; the string is read before the struct goes.
    unsafe {
        if (s.unpack)(args, c"s".as_ptr(), &raw mut text) == 0 || text.is_null() {
            return std::ptr::null_mut();
        }
        let mut bytes = CStr::from_ptr(text).to_bytes().to_vec();
        bytes.reverse();
        (s.pack)(c"s".as_ptr(), owned(&bytes))
    }
}

unsafe extern "C" fn half(id: c_int, args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    let mut x: f64 = 0.0;
    // SAFETY: as in `add`.
    unsafe {
        if (s.unpack)(args, c"d".as_ptr(), &raw mut x) == 0 {
            return std::ptr::null_mut();
        }
        (s.pack)(c"d".as_ptr(), x / 2.0)
    }
}

unsafe extern "C" fn echo_json(id: c_int, args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    let mut json: *const c_char = std::ptr::null();
    // SAFETY: as in `reverse`.
    unsafe {
        if (s.unpack)(args, c"D".as_ptr(), &raw mut json) == 0 || json.is_null() {
            return std::ptr::null_mut();
        }
        (s.pack)(c"D".as_ptr(), owned(CStr::from_ptr(json).to_bytes()))
    }
}

unsafe extern "C" fn string_list(id: c_int, _args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    // SAFETY: a malloc'ed NULL-terminated array of malloc'ed strings, which
    // w_free_args releases (docs/abi.md §2.6).
    unsafe {
        let list = libc::calloc(3, size_of::<*mut c_char>()).cast::<*mut c_char>();
        *list = owned(b"x");
        *list.add(1) = owned(b"y\xe9");
        (s.pack)(c"L".as_ptr(), list)
    }
}

unsafe extern "C" fn null(id: c_int, _args: *mut c_void) -> *mut c_void {
    seen(id);
    std::ptr::null_mut()
}

/// The argument struct's format, then its 'D' elements: what format the
/// shim derived from the Python types (docs/abi.md §3.10).
unsafe extern "C" fn formats(id: c_int, args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    // SAFETY: the w_Targs layout of docs/abi.md §2.1: format pointer, then 16-byte
    // elements whose value is at offset 8.
    unsafe {
        let format = CStr::from_ptr(*args.cast::<*const c_char>()).to_bytes();
        let mut text = format.to_vec();
        for (i, &c) in format.iter().enumerate() {
            if c == b'D' {
                let value = args
                    .cast::<u8>()
                    .add(8 + 16 * i + 8)
                    .cast::<*const c_char>();
                text.push(b' ');
                text.extend_from_slice(CStr::from_ptr(*value).to_bytes());
            }
        }
        (s.pack)(c"s".as_ptr(), owned(&text))
    }
}

/// Calls the script back (`w_CallFunction` "twice" 21) while the script
/// waits for this very function: nested on the hub thread.
unsafe extern "C" fn reenter(id: c_int, _args: *mut c_void) -> *mut c_void {
    seen(id);
    let s = syms();
    // SAFETY: w_pack/w_unpack/w_free_args as the contract says; the packed
    // argument is ours to free, the result is released with w_free_args.
    unsafe {
        let arg = (s.pack)(c"l".as_ptr(), 21 as libc::c_long);
        let r = (s.call_function)(SCRIPT_ID.load(Ordering::SeqCst), c"twice".as_ptr(), arg);
        libc::free(arg);
        let mut n: libc::c_long = -1;
        if r.is_null() || (s.unpack)(r, c"l".as_ptr(), &raw mut n) == 0 {
            n = -1;
        }
        (s.free_args)(r);
        (s.pack)(c"l".as_ptr(), n)
    }
}

const FUNCTIONS: [(&CStr, Cb); 8] = [
    (c"add", add),
    (c"reverse", reverse),
    (c"half", half),
    (c"echo_json", echo_json),
    (c"string_list", string_list),
    (c"null", null),
    (c"formats", formats),
    (c"reenter", reenter),
];

fn open(runner: &Runner, generation: Generation, deadline_ms: u64) -> Hub {
    shim_env(&runner.socket(), deadline_ms);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

fn login(hub: &mut Hub, nick: &[u8]) {
    assert!(hub.login(nick, 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
}

/// The `FUNC` record of the last `call_function`.
fn last_func(hub: &Hub) -> Vec<u8> {
    hub.records()
        .into_iter()
        .rev()
        .find(|r| r.starts_with(b"FUNC "))
        .unwrap_or_default()
}

fn func(name: &str, id: i32, result: &[u8]) -> Vec<u8> {
    let mut r = format!("FUNC {name}\t{id}\t").into_bytes();
    r.extend_from_slice(result);
    r
}

#[test]
fn call_function_runs_script_functions_with_b_marshaling() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::B, 5_000);
    hub.set_config(b"config", b"hub_encoding", b"CP1251");
    let id = hub.load(&script("fn_calls.py"));
    assert!(id >= 0, "{}", runner.log());
    login(&mut hub, b"alice");
    let s = |b: &'static [u8]| HookArg::Str(Some(b));
    let cases: Vec<(&str, &str, Vec<HookArg<'_>>, &[u8])> = vec![
        (
            "add",
            "ll",
            vec![HookArg::Long(2), HookArg::Long(3)],
            b"l:5",
        ),
        // Text is UTF-8, as B's wrapper and docs have it (docs/abi.md §3.9, §8):
        // "да" -> "ДА".
        ("shout", "s", vec![s("да".as_bytes())], "s:ДА".as_bytes()),
        // Bytes that are no UTF-8 ("да" in CP1251 and 0x98; B failed the
        // call, a departure for lost bytes): surrogateescape, every byte
        // back unchanged.
        ("shout", "s", vec![s(b"\xe4\xe0\x98")], b"s:\xe4\xe0\x98"),
        (
            "ratio",
            "ll",
            vec![HookArg::Long(1), HookArg::Long(4)],
            b"d:0.25",
        ),
        ("nothing", "", vec![], b"l:0"),
        ("flag", "", vec![], b"l:1"),
        ("items", "", vec![], b"D:[\"a\", 1, 2.5]"),
        ("tags", "", vec![], b"D:[\"x\"]"),
        (
            "info",
            "s",
            vec![s(b"alice")],
            b"D:{\"nick\": \"alice\", \"class\": 0}",
        ),
        ("fire", "s", vec![s(b"alice")], b"s:fired"),
    ];
    for (name, fmt, args, want) in cases {
        hub.clear_records();
        assert_eq!(
            hub.call_function(id, name.as_bytes(), fmt, &args),
            Ok(true),
            "{name}: {}",
            show(&hub.records())
        );
        assert_eq!(
            last_func(&hub),
            func(name, id, want),
            "{}",
            show(&hub.records())
        );
    }
    // vh.* calls inside a function run on the hub thread, and hooks they
    // fire reach the script while its function runs (docs/abi.md §9.2).
    hub.clear_records();
    hub.call_function(id, b"info", "s", &[s(b"alice")]).unwrap();
    assert_eq!(
        actions(&hub.records())[0],
        b"USERMC alice\tVerlihub\tinfo for alice".to_vec()
    );
    hub.clear_records();
    hub.call_function(id, b"fire", "s", &[s(b"alice")]).unwrap();
    let records = hub.records();
    assert!(
        records.contains(&b"USERMC alice\tVerlihub\techo: +echo inside".to_vec())
            && records.contains(&format!("HOOK OnUserCommand\t{id}\tl:0").into_bytes()),
        "{}",
        show(&records)
    );

    // NULL for everything without a C result (docs/abi.md §3.9).
    for name in ["obj", "boom", "huge", "missing", "not_callable"] {
        assert_eq!(
            hub.call_function(id, name.as_bytes(), "", &[]),
            Ok(false),
            "{name}"
        );
        assert_eq!(last_func(&hub), func(name, id, b"NULL"));
    }
    assert_eq!(hub.call_function(id + 100, b"add", "", &[]), Ok(false));
    assert_eq!(hub.call_function(id, b"", "", &[]), Ok(false));
    // The script still answers hooks normally afterwards.
    hub.clear_records();
    assert!(!hub.chat(b"alice", b"+echo after"));
    assert_eq!(
        actions(&hub.records()),
        vec![b"USERMC alice\tVerlihub\techo: +echo after".to_vec()]
    );
}

#[test]
fn a_slow_function_returns_null_at_the_hook_deadline() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::B, 300);
    let id = hub.load(&script("fn_calls.py"));
    assert!(id >= 0, "{}", runner.log());
    let started = Instant::now();
    assert_eq!(hub.call_function(id, b"slow", "", &[]), Ok(false));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(900),
        "waited {took:?} for a 300 ms deadline"
    );
    // Once the function is done, calls work again.
    std::thread::sleep(Duration::from_millis(900));
    let args = [HookArg::Long(1), HookArg::Long(1)];
    wait_until(Duration::from_secs(5), "add answers again", || {
        hub.call_function(id, b"add", "ll", &args) == Ok(true)
    });
    assert_eq!(last_func(&hub), func("add", id, b"l:2"));
}

#[test]
fn a_function_stuck_past_the_kill_timeout_gets_its_worker_restarted() {
    let _serial = serial();
    let runner =
        Runner::start_with("[defaults]\nhook_kill_timeout_ms = 1000\nrestart_initial_ms = 100\n");
    let mut hub = open(&runner, Generation::B, 300);
    let id = hub.load(&script("fn_calls.py"));
    assert!(id >= 0, "{}", runner.log());
    // NULL at the deadline; the runner kills the worker a second after the
    // call began (it went on the direct link: the shim reports it stuck).
    assert_eq!(hub.call_function(id, b"spin", "", &[]), Ok(false));
    wait_until(
        Duration::from_secs(10),
        "the stuck worker to be killed",
        || {
            runner
                .log()
                .contains("stuck in a function call (w_CallFunction)")
        },
    );
    let args = [HookArg::Long(2), HookArg::Long(3)];
    wait_until(
        Duration::from_secs(10),
        "the restarted worker to answer",
        || hub.call_function(id, b"add", "ll", &args) == Ok(true),
    );
    assert_eq!(last_func(&hub), func("add", id, b"l:5"));
}

#[test]
fn dynamic_functions_registered_by_a_plugin_are_called_from_the_script() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in [Generation::B, Generation::A] {
        let mut hub = open(&runner, generation, 5_000);
        let id = hub.load(&script("fn_dynamic.py"));
        assert!(id >= 0, "{}", runner.log());
        SCRIPT_ID.store(id, Ordering::SeqCst);
        let (handle, s) = lookup();
        // SAFETY: the shim's exported functions with valid arguments.
        unsafe {
            for (name, cb) in FUNCTIONS {
                assert_eq!((s.register)(id, name.as_ptr(), Some(cb)), 1, "{name:?}");
            }
            assert_eq!((s.register)(id + 100, c"add".as_ptr(), Some(add)), 0);
            assert_eq!((s.register)(id, std::ptr::null(), Some(add)), 0);
            assert_eq!((s.register)(id, c"add".as_ptr(), None), 0);
        }
        login(&mut hub, b"alice");
        SEEN_IDS.lock().unwrap().clear();

        assert!(!hub.chat(b"alice", b"dyn basic"));
        let got = actions(&hub.records());
        // Text goes to C and back in the hub encoding under A, in UTF-8
        // under B (its wrapper and docs, docs/abi.md §3.10, §8): the C function
        // reverses the bytes of "héllo", and a byte that is no UTF-8 stays
        // as a surrogate (B failed the call: lost bytes, a departure).
        let (reversed, listed): (&[u8], &[u8]) = match generation {
            Generation::A => (b"'oll\xe9h'", b"['x', 'y\xe9']"),
            Generation::B => (b"'oll\\udca9\\udcc3h'", b"['x', 'y\\udce9']"),
        };
        let reverse = [b"USERMC alice\tVerlihub\treverse -> ".as_slice(), reversed].concat();
        let list = [b"USERMC alice\tVerlihub\tlist -> ".as_slice(), listed].concat();
        let want: Vec<&[u8]> = vec![
            b"USERMC alice\tVerlihub\tadd -> 42",
            &reverse,
            b"USERMC alice\tVerlihub\thalf -> 2.5",
            b"USERMC alice\tVerlihub\techo -> {'a': [1, 2], 'b': None}",
            &list,
            b"USERMC alice\tVerlihub\tnull -> None",
            b"USERMC alice\tVerlihub\tformats -> 'llsdDDDDD [1] [2] [3] [4] {\"k\": 5}'",
        ];
        assert_eq!(got[got.len() - want.len()..], want, "{}", show(&got));
        assert!(
            SEEN_IDS.lock().unwrap().iter().all(|&i| i == -1),
            "registered functions are called with id -1 (docs/abi.md §3.10)"
        );

        hub.clear_records();
        assert!(!hub.chat(b"alice", b"dyn errors"));
        let got = actions(&hub.records());
        let prefixes: [&[u8]; 4] = [
            b"USERMC alice\tVerlihub\tunknown -> NameError: ",
            b"USERMC alice\tVerlihub\tbadarg -> TypeError: CallDynamicFunction() argument 3",
            b"USERMC alice\tVerlihub\tbadname -> TypeError: ",
            b"USERMC alice\tVerlihub\tnoargs -> TypeError: ",
        ];
        assert_eq!(got.len(), 4, "{}", show(&got));
        for (line, prefix) in got.iter().zip(prefixes) {
            assert!(line.starts_with(prefix), "{}", show(&got));
        }

        // The C function calls back into the script, which is still
        // waiting for it: nested on the hub thread (docs/abi.md §9.2).
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"dyn reenter"));
        assert_eq!(
            actions(&hub.records()),
            vec![b"USERMC alice\tVerlihub\treenter -> 42".to_vec()],
            "{}",
            runner.log()
        );

        // From a thread of the script: runs at the hub's next entry.
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"dyn thread"));
        let mut now = 1_000.0;
        wait_until(Duration::from_secs(10), "the thread's result", || {
            now += 1.0;
            hub.timer(now);
            hub.records()
                .contains(&b"MC Verlihub\tthread got 42".to_vec())
        });

        // SAFETY: as above.
        unsafe {
            assert_eq!((s.unregister)(id, c"add".as_ptr()), 1);
            assert_eq!((s.unregister)(id, c"add".as_ptr()), 0);
            assert_eq!((s.unregister)(id, std::ptr::null()), 0);
        }
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"dyn basic"));
        assert!(
            actions(&hub.records())[0].starts_with(b"USERMC alice\tVerlihub\tadd -> NameError"),
            "{}",
            show(&hub.records())
        );

        // Unloading the script drops its functions.
        assert!(hub.unload(id));
        // SAFETY: as above.
        unsafe {
            assert_eq!((s.unregister)(id, c"half".as_ptr()), 0);
            assert_eq!((s.register)(id, c"add".as_ptr(), Some(add)), 0);
            libc::dlclose(handle);
        }
        *SYMS.lock().unwrap() = None;
    }
}
