//! A safe handle on the simulated hub of `c/hubsim.h`.

use std::ffi::{CStr, CString, c_char, c_int};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ffi;

/// Set while a [`Hub`] exists: the C simulator keeps its state in globals.
static HUB_OPEN: AtomicBool = AtomicBool::new(false);

/// Which python_pi generation to simulate (docs/abi.md, "Reading this page").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// python_pi 1.6.0.0 (Verlihub master): 12 wrapper symbols, callback table without
    /// `GetIPCity`, hook results released with `free()`.
    A,
    /// python_pi 1.7.0.0 (PR 214): 13 symbols plus `w_free_args` and `stringListToJson`,
    /// `GetIPCity` at callback index 22, hook results released with `w_free_args()`.
    B,
}

/// Counts from [`Hub::replay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    /// Transcript events run (automatic timer ticks not counted).
    pub events: usize,
    /// Records held after the replay (including earlier ones not cleared).
    pub records: usize,
    /// Transcript events whose combined hook result was 0.
    pub blocked: usize,
}

/// One argument of [`Hub::call_hook`]; the variant must match the format character.
#[derive(Debug, Clone, Copy)]
pub enum HookArg<'a> {
    /// `'l'`: a C `long`.
    Long(i64),
    /// `'s'`: a byte string in the hub encoding, or `None` for NULL.
    Str(Option<&'a [u8]>),
    /// `'d'`: a C `double`.
    Double(f64),
}

/// The simulated hub with a wrapper library loaded.
///
/// Only one may exist per process at a time (the C state is global): [`Hub::open`] fails
/// while another is alive, so tests that use it in parallel threads must serialise, e.g.
/// with a `Mutex`. The handle is `!Send`: the hub thread that opened the wrapper is the one
/// that calls into it, as in the real hub. Dropping it shuts the hub down
/// (`hubsim_close`: OnUnLoad(0), w_Unload of every script, w_End, dlclose).
///
/// All byte-string arguments are raw bytes in the hub encoding.
///
/// # Panics
///
/// Methods taking byte strings panic if one contains a NUL byte (the C API cannot pass it).
pub struct Hub {
    _not_send: PhantomData<*const ()>,
}

/// Copies `bytes` into a C string.
fn cstr(bytes: &[u8]) -> CString {
    CString::new(bytes).expect("hubsim arguments cannot contain NUL bytes")
}

fn path_cstr(path: &Path) -> CString {
    cstr(path.as_os_str().as_bytes())
}

fn last_error() -> String {
    // SAFETY: hubsim_last_error returns a valid NUL-terminated string owned by hubsim.
    unsafe { CStr::from_ptr(ffi::hubsim_last_error()) }
        .to_string_lossy()
        .into_owned()
}

impl Hub {
    /// Loads the wrapper at `shim_path` as a python_pi plugin of generation `generation`
    /// would (`hubsim_open`: dlopen, dlsym of every symbol, callback table, `w_Begin`,
    /// `w_LogLevel`).
    ///
    /// # Errors
    ///
    /// Another `Hub` is alive, or the C side failed (message from `hubsim_last_error`,
    /// e.g. a missing symbol or `w_Begin` returning 0).
    pub fn open(shim_path: &Path, generation: Generation) -> Result<Hub, String> {
        if HUB_OPEN.swap(true, Ordering::AcqRel) {
            return Err("another hubsim Hub is open in this process".to_string());
        }
        let path = path_cstr(shim_path);
        let generation = match generation {
            Generation::A => b'A',
            Generation::B => b'B',
        } as c_char;
        // SAFETY: path is a valid C string for the duration of the call; HUB_OPEN guarantees
        // no other handle uses the global C state.
        if unsafe { ffi::hubsim_open(path.as_ptr(), generation) } != 0 {
            let message = last_error();
            HUB_OPEN.store(false, Ordering::Release);
            return Err(message);
        }
        Ok(Hub {
            _not_send: PhantomData,
        })
    }

    /// Sets configuration variable `var` of config `conf` (read by the `GetConfig`
    /// callback). No hook is fired. `("config", "hub_security")` / `("config",
    /// "opchat_name")` rename the bots used in later script loads.
    pub fn set_config(&mut self, conf: &[u8], var: &[u8], val: &[u8]) {
        let (conf, var, val) = (cstr(conf), cstr(var), cstr(val));
        // SAFETY: valid C strings for the duration of the call; hubsim copies them.
        unsafe { ffi::hubsim_set_config(conf.as_ptr(), var.as_ptr(), val.as_ptr()) }
    }

    /// Loads a script (`w_ReserveID`, `w_Load("lssssls", ...)`) and appends it to the call
    /// order. Returns the script id, or -1 if `w_Load` failed.
    pub fn load(&mut self, path: &Path) -> i32 {
        let path = path_cstr(path);
        // SAFETY: valid C string for the duration of the call.
        unsafe { ffi::hubsim_load(path.as_ptr()) }
    }

    /// Unloads script `id` (`w_Unload`). Returns whether it was loaded.
    pub fn unload(&mut self, id: i32) -> bool {
        // SAFETY: plain value argument.
        unsafe { ffi::hubsim_unload(id) == 1 }
    }

    /// Ids of the loaded scripts in call order.
    pub fn script_ids(&self) -> Vec<i32> {
        // SAFETY: plain value arguments.
        let count = unsafe { ffi::hubsim_script_count() };
        (0..count)
            .map(|i| unsafe { ffi::hubsim_script_id(i) })
            .collect()
    }

    /// A user connects and logs in (OnNewConn, OnParsedMsgValidateNick, OnFirstMyINFO,
    /// OnParsedMsgMyINFO, MyINFO broadcast, OnUserInList, OnUserLogin). `class` is the user
    /// class (3 and above are operators); `speed` may end with the NMDC status byte; `share`
    /// is a decimal byte count. Returns whether every step was allowed.
    #[allow(clippy::too_many_arguments)]
    pub fn login(
        &mut self,
        nick: &[u8],
        class: i64,
        ip: &[u8],
        desc: &[u8],
        tag: &[u8],
        speed: &[u8],
        email: &[u8],
        share: &[u8],
    ) -> bool {
        let s = [nick, ip, desc, tag, speed, email, share].map(cstr);
        // SAFETY: valid C strings for the duration of the call.
        unsafe {
            ffi::hubsim_login(
                s[0].as_ptr(),
                class as _,
                s[1].as_ptr(),
                s[2].as_ptr(),
                s[3].as_ptr(),
                s[4].as_ptr(),
                s[5].as_ptr(),
                s[6].as_ptr(),
            ) == 1
        }
    }

    /// The user quits (OnUserLogout, OnCloseConn, OnCloseConnEx). Returns whether he was
    /// online.
    pub fn logout(&mut self, nick: &[u8]) -> bool {
        let nick = cstr(nick);
        // SAFETY: valid C string for the duration of the call.
        unsafe { ffi::hubsim_logout(nick.as_ptr()) == 1 }
    }

    /// The user says `text` in main chat: a command (OnHubCommand, OnOperatorCommand /
    /// OnUserCommand) or a chat message (OnParsedMsgChat, then the `MC` broadcast record).
    /// Returns whether it was allowed.
    pub fn chat(&mut self, nick: &[u8], text: &[u8]) -> bool {
        let (nick, text) = (cstr(nick), cstr(text));
        // SAFETY: valid C strings for the duration of the call.
        unsafe { ffi::hubsim_chat(nick.as_ptr(), text.as_ptr()) == 1 }
    }

    /// Private message from `from` to `to` (OnParsedMsgPM, then the `PM` record, or the
    /// op-chat / hub-security bot handling). Returns whether it was allowed.
    pub fn pm(&mut self, from: &[u8], to: &[u8], text: &[u8]) -> bool {
        let (from, to, text) = (cstr(from), cstr(to), cstr(text));
        // SAFETY: valid C strings for the duration of the call.
        unsafe { ffi::hubsim_pm(from.as_ptr(), to.as_ptr(), text.as_ptr()) == 1 }
    }

    /// Timer tick at Unix time `now_s` seconds: queued script commands, then OnTimer.
    /// Returns OnTimer's combined result.
    pub fn timer(&mut self, now_s: f64) -> bool {
        // SAFETY: plain value argument.
        unsafe { ffi::hubsim_timer(now_s) == 1 }
    }

    /// Dispatches hook index `hook` with arguments packed by the wrapper's `w_pack(fmt, ...)`
    /// (chat mode for 3, MyINFO mode for 8 and 9, else generic). Returns the combined result.
    ///
    /// # Errors
    ///
    /// `fmt` does not match `args` or is not a supported format (see `hubsim_call_hook`).
    pub fn call_hook(
        &mut self,
        hook: i32,
        fmt: &str,
        args: &[HookArg<'_>],
    ) -> Result<bool, String> {
        let packed = PackedArgs::new(fmt, args)?;
        // SAFETY: packed holds strlen(fmt) arguments whose strings it keeps alive.
        let r = unsafe {
            ffi::hubsim_call_hookv(hook as c_int, packed.fmt.as_ptr(), packed.args.as_ptr())
        };
        if r < 0 {
            return Err(last_error());
        }
        Ok(r == 1)
    }

    /// Generation B only: calls function `name` of script `id` through the wrapper's
    /// `w_CallFunction` (docs/abi.md §3.9) and records `FUNC <name>\t<id>\t<result>`.
    /// Returns whether the result was non-NULL.
    ///
    /// # Errors
    ///
    /// The hub is generation A, or `fmt` does not match `args` or is not supported.
    pub fn call_function(
        &mut self,
        id: i32,
        name: &[u8],
        fmt: &str,
        args: &[HookArg<'_>],
    ) -> Result<bool, String> {
        let packed = PackedArgs::new(fmt, args)?;
        let name = cstr(name);
        // SAFETY: valid C strings; packed holds strlen(fmt) arguments it keeps alive.
        let r = unsafe {
            ffi::hubsim_call_function(
                id as c_int,
                name.as_ptr(),
                packed.fmt.as_ptr(),
                packed.args.as_ptr(),
            )
        };
        if r < 0 {
            return Err(last_error());
        }
        Ok(r == 1)
    }

    /// All records so far, oldest first (see README.md, "Records"), as raw hub bytes.
    pub fn records(&self) -> Vec<Vec<u8>> {
        // SAFETY: plain value arguments; each record is a valid C string owned by hubsim
        // until the next clear or close, and is copied at once.
        let count = unsafe { ffi::hubsim_record_count() };
        (0..count)
            .map(|i| {
                unsafe { CStr::from_ptr(ffi::hubsim_record(i)) }
                    .to_bytes()
                    .to_vec()
            })
            .collect()
    }

    /// Forgets all records.
    pub fn clear_records(&mut self) {
        // SAFETY: no arguments.
        unsafe { ffi::hubsim_record_clear() }
    }

    /// Replays the transcript at `path` (README.md, "Transcripts"), converting its UTF-8
    /// text to `encoding` (an iconv name such as `"CP1251"`), without printing records.
    ///
    /// # Errors
    ///
    /// The file cannot be read, the encoding is unknown, or a line cannot be converted or
    /// parsed (the message names the line). Events before the bad line have been run.
    pub fn replay(&mut self, path: &Path, encoding: &str) -> Result<ReplayStats, String> {
        let (path, encoding) = (path_cstr(path), cstr(encoding.as_bytes()));
        // SAFETY: valid C strings for the duration of the call.
        let events = unsafe { ffi::hubsim_replay(path.as_ptr(), encoding.as_ptr(), 1) };
        if events < 0 {
            return Err(last_error());
        }
        // SAFETY: no arguments.
        let (records, blocked) =
            unsafe { (ffi::hubsim_record_count(), ffi::hubsim_replay_blocked()) };
        Ok(ReplayStats {
            events: events as usize,
            records,
            blocked,
        })
    }
}

/// Arguments converted for `hubsim_call_hookv` / `hubsim_call_function`; owns the strings
/// the raw arguments point to.
struct PackedArgs {
    fmt: CString,
    args: Vec<ffi::hubsim_arg>,
    _strings: Vec<CString>,
}

impl PackedArgs {
    fn new(fmt: &str, args: &[HookArg<'_>]) -> Result<PackedArgs, String> {
        if fmt.len() != args.len() {
            return Err(format!("format {fmt:?} needs {} arguments", fmt.len()));
        }
        let mut strings = Vec::new();
        let mut packed = Vec::with_capacity(args.len());
        for (c, arg) in fmt.bytes().zip(args) {
            let mut value = ffi::hubsim_arg {
                l: 0,
                s: std::ptr::null(),
                d: 0.0,
                p: std::ptr::null_mut(),
            };
            match (c, arg) {
                (b'l', HookArg::Long(n)) => value.l = *n as _,
                (b'd', HookArg::Double(d)) => value.d = *d,
                (b's', HookArg::Str(None)) => {}
                (b's', HookArg::Str(Some(bytes))) => {
                    let s = cstr(bytes);
                    // The CString's heap buffer does not move when the CString is moved.
                    value.s = s.as_ptr();
                    strings.push(s);
                }
                _ => return Err(format!("format {fmt:?} does not match argument {arg:?}")),
            }
            packed.push(value);
        }
        Ok(PackedArgs {
            fmt: cstr(fmt.as_bytes()),
            args: packed,
            _strings: strings,
        })
    }
}

impl Drop for Hub {
    /// Shuts the hub down (`hubsim_close`) and allows a new [`Hub::open`].
    fn drop(&mut self) {
        // SAFETY: this handle owns the open C state.
        unsafe { ffi::hubsim_close() };
        HUB_OPEN.store(false, Ordering::Release);
    }
}
