//! The shim's state between `w_Begin` and `w_End`, and everything the hub
//! thread does inside a shim function: loading scripts, calling hooks, and
//! running scripts' `vh.*` calls while it waits (DESIGN.md "host-shim",
//! spec/wrapper-abi.md §9.2 re-entrancy).

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use vh_proto::hooks::{self, ResultMode};
use vh_proto::v1::{
    CallResult, FunctionCall, Hello, HookCall, HookStuck, HubCall, LoadScript, Ping, RunnerMessage,
    ScriptLoaded, ToWorker, UnloadScript, Value, runner_message::Kind as In,
    shim_message::Kind as Out, to_worker,
};

use crate::callbacks::{Callback, MAX_CALLBACKS, Table};
use crate::config::{CONNECT_WAIT_MS, Settings};
use crate::direct::{DirectLink, SendError};
use crate::functions::{self, Registry, Unregister};
use crate::generation::{self, Generation};
use crate::hooktable;
use crate::ipc::{Event, Ipc, Loads};
use crate::shim_log;
use crate::targs::{self, Arg, Targs};

/// One loaded script, as the shim knows it.
pub struct Script {
    /// The hub's script id.
    id: i32,
    /// File name with `.py`, as generation A's `vh.name` (spec §7.3).
    pub name: String,
    /// Bit i set if the script defined hook i at its last load (spec §3.7).
    hooks: AtomicU64,
    /// False while its worker is gone: hooks then allow at once.
    up: AtomicBool,
    /// True while in a timeout incident (logged once until it recovers).
    timed_out: AtomicBool,
    /// Per-script deadlines from the runner's config, ms; 0 = shim default.
    hook_deadline_ms: AtomicU32,
    timer_deadline_ms: AtomicU32,
    /// Timeouts in a row, and after how many the circuit opens (0 = default).
    timeouts_in_row: AtomicU32,
    circuit_after: AtomicU32,
    /// Open circuit: hooks are skipped until the worker answers a ping.
    circuit_open: AtomicBool,
    /// When the last ping was sent, ms since the shim started.
    last_ping_ms: AtomicU64,
}

impl Script {
    fn new(id: i32, name: String, loaded: &ScriptLoaded) -> Script {
        let s = Script {
            id,
            name,
            hooks: AtomicU64::new(0),
            up: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            hook_deadline_ms: AtomicU32::new(0),
            timer_deadline_ms: AtomicU32::new(0),
            timeouts_in_row: AtomicU32::new(0),
            circuit_after: AtomicU32::new(0),
            circuit_open: AtomicBool::new(false),
            last_ping_ms: AtomicU64::new(0),
        };
        s.apply(loaded);
        s
    }

    /// Takes the hook table and settings of a (re)load; the script is up.
    fn apply(&self, loaded: &ScriptLoaded) {
        let hooks = loaded
            .hooks
            .iter()
            .filter(|&&h| (h as usize) < hooks::HOOKS.len())
            .fold(0u64, |acc, &h| acc | hook_bit(h as usize));
        self.hooks.store(hooks, Ordering::Release);
        hooktable::set(self.id, hooks);
        self.hook_deadline_ms
            .store(loaded.hook_deadline_ms, Ordering::Relaxed);
        self.timer_deadline_ms
            .store(loaded.timer_deadline_ms, Ordering::Relaxed);
        self.circuit_after
            .store(loaded.circuit_after, Ordering::Relaxed);
        self.close_circuit();
        self.up.store(true, Ordering::Release);
    }

    fn close_circuit(&self) {
        self.timeouts_in_row.store(0, Ordering::Relaxed);
        self.circuit_open.store(false, Ordering::Release);
        self.timed_out.store(false, Ordering::Release);
    }
}

/// Consecutive timeouts that open a script's circuit unless the runner
/// says otherwise.
const DEFAULT_CIRCUIT_AFTER: u32 = 3;
/// Longest a hub entry spends running queued `vh.*` calls (checked every
/// 64 calls); the rest wait for the next entry.
const PUMP_BUDGET: Duration = Duration::from_millis(20);
/// Least time between two health pings to a script with an open circuit.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Most hook and function waits the hub thread stacks up (hooks fired by
/// `vh.*` calls inside hooks, spec §9.2). A worker refuses to nest deeper
/// than 32 hooks itself (`vh._runtime.MAX_DEPTH`); this bound is above it,
/// so that a script recursing into itself meets the worker's limit, and
/// stops scripts that recurse through each other (each of them only half
/// as deep) before the hub thread's stack is at risk.
pub const MAX_NESTED_WAITS: usize = 48;

/// Which way a message for a worker went, or a worker's message came.
#[derive(Clone)]
enum Route {
    /// On the worker's direct link (docs/protocol.md "Direct links").
    Direct(Arc<DirectLink>),
    /// Through the runner.
    Relay,
}

impl Route {
    fn link(&self) -> Option<&Arc<DirectLink>> {
        match self {
            Route::Direct(l) => Some(l),
            Route::Relay => None,
        }
    }
}

/// What a wait on the hub thread is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    Load(i32),
    Unload(i32),
    Hook { script: i32, call: u64 },
    Function { script: i32, call: u64 },
}

impl Awaited {
    fn script(self) -> i32 {
        match self {
            Awaited::Load(s)
            | Awaited::Unload(s)
            | Awaited::Hook { script: s, .. }
            | Awaited::Function { script: s, .. } => s,
        }
    }

    /// The script, if this wait runs its code on the worker's main thread
    /// (a hook or a function call): unloading it must wait for the end.
    fn running_in(self) -> Option<i32> {
        match self {
            Awaited::Hook { script, .. } | Awaited::Function { script, .. } => Some(script),
            Awaited::Load(_) | Awaited::Unload(_) => None,
        }
    }

    /// True if `msg` answers this wait (or says its worker is gone).
    fn answered_by(self, msg: &RunnerMessage) -> bool {
        match (&msg.kind, self) {
            (Some(In::Down(d)), w) => d.script_id == w.script(),
            (Some(In::Loaded(l)), Awaited::Load(s)) => l.script_id == s,
            (Some(In::Unloaded(u)), Awaited::Unload(s)) => u.script_id == s,
            (Some(In::HookResult(r)), Awaited::Hook { call, .. }) => r.call_id == call,
            (Some(In::FunctionResult(r)), Awaited::Function { call, .. }) => r.call_id == call,
            _ => false,
        }
    }
}

/// What reading a direct link gave.
enum LinkRead {
    /// Nothing new.
    Nothing,
    /// Messages, handled; none ended the wait.
    Handled,
    /// A message that ends the wait.
    Answer(Outcome),
    /// The worker closed the link or broke the protocol; it is dropped.
    Closed,
}

/// How a wait ended.
enum Outcome {
    Reply(RunnerMessage),
    TimedOut,
    Disconnected(String),
}

/// Waits in progress (innermost last) and replies that arrived for an outer
/// one while an inner one was being served.
#[derive(Default)]
struct Waits {
    stack: Vec<Awaited>,
    stash: Vec<RunnerMessage>,
    /// Messages read from a direct link after the one that ended a wait,
    /// handled before anything else next time.
    leftovers: std::collections::VecDeque<(RunnerMessage, Arc<DirectLink>)>,
    /// Scripts the hub unloaded while one of their hooks (or function
    /// calls) was on the stack: their workers stop when the outermost of
    /// those returns (spec §9.2, §12).
    deferred_unloads: HashMap<i32, Arc<Script>>,
    /// The nesting limit was hit and logged in the current incident (reset
    /// when the stack is empty again).
    nesting_logged: bool,
}

/// Everything between `w_Begin` and `w_End`.
pub struct Shim {
    table: Table,
    ipc: Arc<Ipc>,
    settings: Settings,
    scripts: RwLock<HashMap<i32, Arc<Script>>>,
    next_id: AtomicI32,
    next_call: AtomicU64,
    waits: Mutex<Waits>,
    hub_encoding: Mutex<Option<String>>,
    /// What to send to load every script again after a runner restart;
    /// shared with the IPC thread, which replays it on each new stream.
    loads: Loads,
    /// Zero point of `Script::last_ping_ms`.
    epoch: Instant,
    /// Functions other plugins registered for the scripts (B, spec §3.10).
    functions: Registry,
    /// Failed pipelined `vh.*` calls already logged (issue 17).
    pipelined: crate::pipeline::Failures,
    /// How long the hub thread checks a direct link before it sleeps
    /// (`VH_SPIN_US` at most; adapted, and nothing on a busy machine).
    spinner: vh_proto::spin::Adaptive,
}

static CURRENT: RwLock<Option<Arc<Shim>>> = RwLock::new(None);

/// The shim of the current `w_Begin`, if any.
pub fn current() -> Option<Arc<Shim>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `w_Begin`: copies the table, detects the generation, starts the IPC
/// thread. Returns false (plugin stays offline) only for an unusable table.
///
/// # Safety
/// `raw` points to the plugin's 100 callback entries.
pub unsafe fn begin(raw: *const *const c_void) -> bool {
    end(); // a second w_Begin without w_End: start afresh
    hooktable::reset();
    let settings = Settings::from_env();
    // SAFETY: per the contract, 100 readable entries.
    let raw: &[*const c_void; MAX_CALLBACKS] = unsafe { &*raw.cast() };
    let (generation, method) = match generation::detect(raw, settings.table_override.as_deref()) {
        Ok(found) => found,
        Err(e) => {
            shim_log!(0, "w_Begin: {e}");
            return false;
        }
    };
    shim_log!(
        0,
        "python_pi generation {} detected ({method:?}); runner socket {}",
        generation.as_str(),
        settings.socket.display()
    );
    let hello = Hello {
        shim_version: env!("CARGO_PKG_VERSION").into(),
        generation: generation.as_str().into(),
        hub_pid: std::process::id(),
        direct_token: if settings.direct_links {
            crate::direct::new_token().unwrap_or_default()
        } else {
            Vec::new()
        },
    };
    let loads = Loads::default();
    let ipc = match Ipc::start(settings.socket.clone(), hello, loads.clone()) {
        Ok(ipc) => ipc,
        Err(e) => {
            shim_log!(0, "w_Begin: cannot start the IPC thread: {e}");
            return false;
        }
    };
    let spinner = vh_proto::spin::Adaptive::new(settings.spin);
    let shim = Shim {
        // SAFETY: entries of the plugin's table are callbacks (spec §6.1).
        table: unsafe { Table::copy(raw, generation) },
        ipc,
        settings,
        scripts: RwLock::new(HashMap::new()),
        next_id: AtomicI32::new(0),
        next_call: AtomicU64::new(1),
        waits: Mutex::new(Waits::default()),
        hub_encoding: Mutex::new(None),
        loads,
        epoch: Instant::now(),
        functions: Registry::default(),
        pipelined: crate::pipeline::Failures::default(),
        spinner,
    };
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(shim));
    true
}

/// `w_End`: asks the runner to stop what is left, stops the IPC thread and
/// drops all state, so that a later `w_Begin` starts clean (spec §3.3).
pub fn end() {
    let Some(shim) = CURRENT.write().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    hooktable::reset();
    let ids: Vec<i32> = shim
        .scripts
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .copied()
        .collect();
    for id in ids {
        let _ = shim.ipc.send(Out::Unload(UnloadScript { script_id: id }));
    }
    shim.ipc.stop();
}

fn hook_bit(hook: usize) -> u64 {
    1u64 << hook
}

impl Shim {
    /// The detected plugin generation.
    pub fn generation(&self) -> Generation {
        self.table.generation()
    }

    /// The loaded script `id`, if any.
    fn script(&self, id: i32) -> Option<Arc<Script>> {
        self.scripts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// `w_ReserveID`: the next id; ids are never reused (spec §3.4, B).
    pub fn reserve_id(&self) -> i32 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// `w_HasHook` (spec §3.7) for ids beyond the lock-free
    /// [`hooktable`] (which `ffi::w_HasHook` reads first); also runs `vh.*`
    /// calls queued since the hub's last entry.
    pub fn has_hook(&self, id: i32, hook: i32) -> bool {
        self.pump();
        let Ok(hook) = usize::try_from(hook) else {
            return false;
        };
        if hook >= hooks::HOOKS.len() {
            return false;
        }
        let scripts = self.scripts.read().unwrap_or_else(|e| e.into_inner());
        scripts
            .get(&id)
            .is_some_and(|s| s.hooks.load(Ordering::Acquire) & hook_bit(hook) != 0)
    }

    /// Runs every queued `vh.*` call (and notes every worker that went down)
    /// without blocking.
    pub fn pump(&self) {
        // A budget per entry, so that a script flooding the hub with calls
        // from its threads cannot hold the hub thread: the rest run at the
        // next entry (PENDING stays non-zero).
        let started = Instant::now();
        let mut ran = 0u32;
        self.run_leftovers(None);
        while let Ok(ev) = self.ipc.events().try_recv() {
            hooktable::PENDING.fetch_sub(1, Ordering::AcqRel);
            self.handle(ev, None, None);
            ran += 1;
            if ran.is_multiple_of(64) && started.elapsed() >= PUMP_BUDGET {
                break;
            }
        }
        // Scripts whose hooks outran their deadline answer (and make their
        // late vh.* calls) on their links, which only this thread reads.
        if hooktable::OWING.load(Ordering::Acquire) != 0 {
            for link in self.ipc.links().owing() {
                self.read_link(&link, None);
            }
        }
    }

    /// The hub's encoding as a Python codec name: `VH_HUB_ENCODING`, else
    /// the hub config `hub_encoding` (spec §8), else CP1252, the hub default.
    fn hub_encoding(&self, config_name: &[u8]) -> String {
        let mut cached = self.hub_encoding.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = cached.as_ref() {
            return e.clone();
        }
        let from_hub = || {
            let call = HubCall {
                script_id: -1,
                call_id: 0,
                callback: "GetConfig".into(),
                args: [config_name, b"hub_encoding".as_slice()]
                    .iter()
                    .map(|s| Value {
                        kind: Some(vh_proto::v1::value::Kind::S(s.to_vec())),
                    })
                    .chain(std::iter::once(Value {
                        kind: Some(vh_proto::v1::value::Kind::NullS(true)),
                    }))
                    .collect(),
                pipelined: false,
            };
            let res = self.table.call(&call);
            match res.values.first().and_then(|v| v.kind.as_ref()) {
                Some(vh_proto::v1::value::Kind::S(s)) if res.ok && !s.is_empty() => {
                    Some(String::from_utf8_lossy(s).into_owned())
                }
                _ => None,
            }
        };
        let enc = self
            .settings
            .hub_encoding
            .clone()
            .or_else(from_hub)
            .unwrap_or_else(|| "CP1252".into())
            .to_ascii_lowercase();
        *cached = Some(enc.clone());
        enc
    }

    /// `w_Load` (spec §3.5): starts the script in a worker and waits for its
    /// hook table, running its top-level `vh.*` calls meanwhile. Returns the
    /// id, or -1 with one log line saying why.
    ///
    /// # Safety
    /// `args` is NULL or a struct from `w_pack`.
    pub unsafe fn load(&self, args: *const Targs) -> i32 {
        // SAFETY: per the contract.
        let Some((format, elems)) = (unsafe { targs::view(args) }) else {
            shim_log!(0, "w_Load: no arguments");
            return -1;
        };
        // SAFETY: as above; strings are valid C strings or NULL.
        let values = match (format == b"lssssls").then(|| unsafe { targs::to_wire(format, elems) })
        {
            Some(Ok(v)) => v,
            _ => {
                shim_log!(
                    0,
                    "w_Load: expected arguments \"lssssls\", got {:?}",
                    String::from_utf8_lossy(format)
                );
                return -1;
            }
        };
        let long = |i: usize| match values[i].kind {
            Some(vh_proto::v1::value::Kind::L(l)) => l,
            _ => -1,
        };
        let bytes = |i: usize| match &values[i].kind {
            Some(vh_proto::v1::value::Kind::S(s)) => s.clone(),
            _ => Vec::new(),
        };
        let Ok(id) = i32::try_from(long(0)) else {
            return -1;
        };
        if id < 0 {
            return -1;
        }
        // Never reuse an id, even of a failed load (spec §3.4, §12).
        self.next_id
            .fetch_max(id.saturating_add(1), Ordering::Relaxed);
        let path = bytes(1);
        let shown = String::from_utf8_lossy(&path).into_owned();
        if let Err(reason) = self
            .ipc
            .ensure_connected(Duration::from_millis(CONNECT_WAIT_MS))
        {
            shim_log!(
                0,
                "cannot load script #{id} {shown}: vh-runner is not reachable at {} ({reason}); start it with `vh-runner serve`",
                self.settings.socket.display()
            );
            return -1;
        }
        let load = LoadScript {
            script_id: id,
            path: path.clone(),
            botname: bytes(2),
            opchatname: bytes(3),
            config_dir: bytes(4),
            start_time: long(5),
            config_name: bytes(6),
            hub_encoding: self.hub_encoding(&bytes(6)),
            generation: self.generation().as_str().into(),
            hub_cwd: std::env::current_dir()
                .map(|d| d.into_os_string().into_encoded_bytes())
                .unwrap_or_default(),
            // The runner sets it from runner.toml (empty = `generation`).
            semantics: String::new(),
        };
        if let Err(why) = self.ipc.send(Out::Load(load.clone())) {
            shim_log!(0, "cannot load script #{id} {shown}: {why}");
            return -1;
        }
        let deadline = Instant::now() + self.settings.load_deadline;
        let loaded = match self.wait(Awaited::Load(id), deadline, None) {
            Outcome::Reply(RunnerMessage {
                kind: Some(In::Loaded(l)),
            }) => l,
            Outcome::Reply(RunnerMessage {
                kind: Some(In::Down(d)),
            }) => {
                shim_log!(0, "script #{id} {shown} failed to load: {}", d.reason);
                return self.load_failed(id);
            }
            Outcome::TimedOut => {
                shim_log!(
                    0,
                    "script #{id} {shown} failed to load: not ready within {} ms",
                    self.settings.load_deadline.as_millis()
                );
                let _ = self.ipc.send(Out::Unload(UnloadScript { script_id: id }));
                return self.load_failed(id);
            }
            Outcome::Disconnected(reason) => {
                shim_log!(0, "script #{id} {shown} failed to load: {reason}");
                return self.load_failed(id);
            }
            Outcome::Reply(_) => return self.load_failed(id),
        };
        if !loaded.ok {
            shim_log!(0, "script #{id} {shown} failed to load:");
            for line in loaded.error.lines() {
                shim_log!(0, "  {line}");
            }
            return self.load_failed(id);
        }
        let name = shown.rsplit('/').next().unwrap_or(&shown).to_string();
        shim_log!(
            1,
            "script #{id} {shown} loaded in worker pid {}",
            loaded.pid
        );
        self.pipelined.forget(id);
        let script = Script::new(id, name, &loaded);
        self.scripts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::new(script));
        self.loads.insert(id, load);
        id
    }

    /// A load that failed after the runner may have handed over the
    /// worker's direct link: the link is dropped. Returns -1 for `w_Load`.
    fn load_failed(&self, id: i32) -> i32 {
        self.ipc.links().forget(id);
        -1
    }

    /// `w_Unload` (spec §3.6): the worker runs the script's `UnLoad()` and
    /// exits. Returns 1, or -1 for an unknown id.
    ///
    /// A script unloaded from inside one of its own hooks (or one that is
    /// still on the hub thread's stack, e.g. `vh.ParseCommand("!pyunload
    /// ...")`, spec §9.2, §12) is gone for the hub at once (no more hooks,
    /// its dynamic functions dropped), but its worker is told to stop only
    /// when the outermost of those hooks returns, so that the hook can
    /// finish and `UnLoad()` runs after it, not in the middle of it.
    pub fn unload(&self, id: i32) -> i32 {
        let removed = self
            .scripts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.loads.remove(id);
        self.functions.drop_script(id);
        hooktable::clear(id);
        // UnLoad() talks through the runner; a hook of this script still on
        // the stack keeps its own handle on the link.
        self.ipc.links().forget(id);
        let Some(script) = removed else {
            shim_log!(0, "Unload error: No script with id: {id}");
            return -1;
        };
        {
            let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            if waits.stack.iter().any(|w| w.running_in() == Some(id)) {
                shim_log!(
                    1,
                    "script #{id} {} unloaded from inside its own hook; its worker stops when that hook returns",
                    script.name
                );
                waits.deferred_unloads.insert(id, script);
                return 1;
            }
        }
        self.stop_worker(id, &script);
        1
    }

    /// Tells script `id`'s worker to run `UnLoad()` and exit, and waits for
    /// it up to the unload deadline, serving its `vh.*` calls meanwhile.
    fn stop_worker(&self, id: i32, script: &Script) {
        if script.up.load(Ordering::Acquire)
            && self
                .ipc
                .send(Out::Unload(UnloadScript { script_id: id }))
                .is_ok()
        {
            let deadline = Instant::now() + self.settings.unload_deadline;
            if let Outcome::TimedOut = self.wait(Awaited::Unload(id), deadline, None) {
                shim_log!(
                    1,
                    "script #{id} {}: UnLoad() did not finish in time; the runner stops its worker",
                    script.name
                );
            }
        }
    }

    /// True if one more hook or function wait may be stacked; else logs
    /// (once per incident) that `what` is skipped (spec §9.2: "guard
    /// against unbounded recursion").
    fn may_nest(&self, what: &str, id: i32) -> bool {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        let depth = waits.stack.len();
        if depth < MAX_NESTED_WAITS {
            return true;
        }
        if !waits.nesting_logged {
            waits.nesting_logged = true;
            shim_log!(
                0,
                "{what} for script #{id} not called: hooks nested {depth} deep inside vh.* calls (limit {MAX_NESTED_WAITS}; scripts calling each other through the hub?); the hub goes on as if allowed (logged once until the nesting unwinds)"
            );
        }
        false
    }

    /// `w_CallHook` (spec §5): sends the hook and waits up to the hook
    /// deadline, running the script's `vh.*` calls meanwhile. NULL ("no
    /// opinion", which lets the hub go on) on any failure, logged once per
    /// incident.
    ///
    /// # Safety
    /// `params` is NULL or a struct from `w_pack`.
    pub unsafe fn call_hook(&self, id: i32, hook: i32, params: *const Targs) -> *mut Targs {
        self.pump();
        let Some(spec) = hooks::hook(i64::from(hook)) else {
            return std::ptr::null_mut();
        };
        let Some(script) = self.script(id) else {
            shim_log!(2, "CallHook error: No script with id: {id}");
            return std::ptr::null_mut();
        };
        if !script.up.load(Ordering::Acquire) {
            return std::ptr::null_mut();
        }
        if script.circuit_open.load(Ordering::Acquire) {
            self.ping(id, &script);
            return std::ptr::null_mut();
        }
        if !self.may_nest(spec.name, id) {
            return std::ptr::null_mut();
        }
        // SAFETY: per the contract.
        let Some((format, elems)) = (unsafe { targs::view(params) }) else {
            return std::ptr::null_mut();
        };
        if format != spec.format.as_bytes() {
            shim_log!(
                1,
                "CallHook {}: unexpected parameters {:?}",
                spec.name,
                String::from_utf8_lossy(format)
            );
            return std::ptr::null_mut();
        }
        // SAFETY: strings of a hook struct are valid C strings or NULL.
        let Ok(args) = (unsafe { targs::to_wire(format, elems) }) else {
            return std::ptr::null_mut();
        };
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let sent_at = Instant::now();
        let route = self.send_to_worker(
            id,
            to_worker::Kind::Hook(HookCall {
                script_id: id,
                call_id: call,
                hook: hook as u32,
                args,
            }),
        );
        let Some(route) = route else {
            return std::ptr::null_mut();
        };
        if hooks::result_ignored(hook as usize) {
            // Fire and forget: the hub would ignore the result anyway; the
            // script's vh.* calls from it run at the hub's next entry.
            return std::ptr::null_mut();
        }
        crate::pipeline::count_awaited();
        let deadline = sent_at + self.deadline_of(&script, hook);
        match self.wait(Awaited::Hook { script: id, call }, deadline, route.link()) {
            Outcome::Reply(RunnerMessage {
                kind: Some(In::HookResult(r)),
            }) => {
                if route.link().is_some() {
                    self.ipc.record_round_trip(id, sent_at.elapsed());
                }
                script.timeouts_in_row.store(0, Ordering::Relaxed);
                if script.timed_out.swap(false, Ordering::AcqRel) {
                    shim_log!(0, "script #{id} {} answers hooks again", script.name);
                }
                if r.no_opinion {
                    return std::ptr::null_mut();
                }
                result_struct(spec.mode, &r.values).unwrap_or_else(|| {
                    shim_log!(
                        1,
                        "[{id}:{}] CallHook {}: unexpected return value",
                        script.name,
                        spec.name
                    );
                    std::ptr::null_mut()
                })
            }
            Outcome::Reply(_) | Outcome::Disconnected(_) => std::ptr::null_mut(),
            Outcome::TimedOut => {
                if let Some(link) = route.link() {
                    // Its answer and late vh.* calls come on the link,
                    // which is read at every hub entry until then.
                    link.owe(call);
                    // The runner never saw this hook: let it watch for a
                    // worker stuck in it (hook_kill_timeout_ms).
                    let _ = self.ipc.send(Out::Stuck(HookStuck {
                        script_id: id,
                        call_id: call,
                        hook: hook as u32,
                        waited_ms: u32::try_from(sent_at.elapsed().as_millis()).unwrap_or(u32::MAX),
                    }));
                }
                if !script.timed_out.swap(true, Ordering::AcqRel) {
                    shim_log!(
                        0,
                        "script #{id} {}: {} took longer than {} ms; the hub goes on (logged once until it answers again)",
                        script.name,
                        spec.name,
                        self.deadline_of(&script, hook).as_millis()
                    );
                }
                let in_row = script.timeouts_in_row.fetch_add(1, Ordering::Relaxed) + 1;
                let limit = match script.circuit_after.load(Ordering::Relaxed) {
                    0 => DEFAULT_CIRCUIT_AFTER,
                    n => n,
                };
                if in_row >= limit && !script.circuit_open.swap(true, Ordering::AcqRel) {
                    shim_log!(
                        0,
                        "script #{id} {}: {in_row} hooks in a row timed out; skipping its hooks until it answers a health ping",
                        script.name
                    );
                }
                std::ptr::null_mut()
            }
        }
    }

    /// `w_CallFunction` (spec §3.9): calls the module-level function `name`
    /// of script `id` in its worker, on the worker's main thread, and waits
    /// up to the script's hook deadline, running `vh.*` calls meanwhile
    /// (the function may call `vh.*` and fire hooks, as a hook may). NULL
    /// `params` means no arguments. NULL on any failure, with a log line.
    ///
    /// # Safety
    /// `name` is NULL or a C string; `params` NULL or a valid struct.
    pub unsafe fn call_function(
        &self,
        id: i32,
        name: *const c_char,
        params: *const Targs,
    ) -> *mut Targs {
        self.pump();
        let Some(script) = self.script(id) else {
            shim_log!(1, "CallFunction error: No script with id: {id}");
            return std::ptr::null_mut();
        };
        // SAFETY: per the contract.
        let name = (!name.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes());
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            shim_log!(1, "CallFunction: no function name given for script #{id}");
            return std::ptr::null_mut();
        };
        let shown = String::from_utf8_lossy(name);
        // SAFETY: per the contract; elements are read as their characters.
        let args = match unsafe { targs::view(params) } {
            None => Vec::new(),
            Some((format, elems)) => match unsafe { functions::params_to_wire(format, elems) } {
                Ok(args) => args,
                Err(why) => {
                    shim_log!(1, "[{id}:{}] CallFunction {shown}: {why}", script.name);
                    return std::ptr::null_mut();
                }
            },
        };
        if !script.up.load(Ordering::Acquire) || script.circuit_open.load(Ordering::Acquire) {
            shim_log!(
                1,
                "[{id}:{}] CallFunction {shown}: the script's worker is down or not answering",
                script.name
            );
            return std::ptr::null_mut();
        }
        if !self.may_nest("CallFunction", id) {
            return std::ptr::null_mut();
        }
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let sent = self.send_to_worker(
            id,
            to_worker::Kind::Function(FunctionCall {
                script_id: id,
                call_id: call,
                name: name.to_vec(),
                args,
            }),
        );
        let Some(route) = sent else {
            return std::ptr::null_mut();
        };
        crate::pipeline::count_awaited();
        // -1: no hook index, so the hook deadline (never OnTimer's own).
        let limit = self.deadline_of(&script, -1);
        let outcome = self.wait(
            Awaited::Function { script: id, call },
            Instant::now() + limit,
            route.link(),
        );
        if let (Outcome::TimedOut, Some(link)) = (&outcome, route.link()) {
            link.owe(call);
            // As for a hook: the runner never saw this call.
            let _ = self.ipc.send(Out::Stuck(HookStuck {
                script_id: id,
                call_id: call,
                hook: hooks::FUNCTION_CALL,
                waited_ms: u32::try_from(limit.as_millis()).unwrap_or(u32::MAX),
            }));
        }
        match outcome {
            Outcome::Reply(RunnerMessage {
                kind: Some(In::FunctionResult(r)),
            }) if r.ok => r
                .value
                .as_ref()
                .and_then(functions::result_struct)
                .unwrap_or(std::ptr::null_mut()),
            Outcome::Reply(RunnerMessage {
                kind: Some(In::FunctionResult(r)),
            }) => {
                shim_log!(
                    1,
                    "[{id}:{}] CallFunction {shown}: {}",
                    script.name,
                    r.error
                );
                std::ptr::null_mut()
            }
            Outcome::TimedOut => {
                shim_log!(
                    0,
                    "[{id}:{}] CallFunction {shown}: no answer within {} ms; returning NULL",
                    script.name,
                    limit.as_millis()
                );
                std::ptr::null_mut()
            }
            Outcome::Reply(_) | Outcome::Disconnected(_) => std::ptr::null_mut(),
        }
    }

    /// `w_RegisterFunction` (spec §3.10): registers `cb` as `name` for
    /// script `id`, replacing one of the same name. False if no script
    /// with that id is loaded.
    pub fn register_function(&self, id: i32, name: &[u8], cb: Callback) -> bool {
        let loaded = self
            .scripts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&id);
        if loaded {
            self.functions.register(id, name, cb);
        }
        loaded
    }

    /// `w_UnregisterFunction` (spec §3.10): true if `name` was registered
    /// for script `id` and is removed; an unknown name is logged.
    pub fn unregister_function(&self, id: i32, name: &[u8]) -> bool {
        match self.functions.unregister(id, name) {
            Ok(()) => true,
            Err(Unregister::NoRegistry) => false,
            Err(Unregister::UnknownName) => {
                shim_log!(
                    1,
                    "UnregisterFunction: no function {:?} registered for script #{id}",
                    String::from_utf8_lossy(name)
                );
                false
            }
        }
    }

    /// The deadline of `hook` for `script`: the runner's per-script setting,
    /// else `VH_HOOK_DEADLINE_MS`; `OnTimer` may have its own.
    fn deadline_of(&self, script: &Script, hook: i32) -> Duration {
        let timer = script.timer_deadline_ms.load(Ordering::Relaxed);
        let ms = if hook as usize == hooks::ON_TIMER && timer > 0 {
            timer
        } else {
            script.hook_deadline_ms.load(Ordering::Relaxed)
        };
        if ms == 0 {
            self.settings.hook_deadline
        } else {
            Duration::from_millis(u64::from(ms))
        }
    }

    /// Sends `kind` to script `id`'s worker: on its direct link if it has a
    /// usable one, else (or if the link fails) through the runner. `None`
    /// if it could not be sent at all.
    fn send_to_worker(&self, id: i32, kind: to_worker::Kind) -> Option<Route> {
        let msg = ToWorker { kind: Some(kind) };
        if let Some(link) = self.ipc.links().get(id) {
            match link.send(&msg) {
                Ok(()) => return Some(Route::Direct(link)),
                Err(SendError::NotSent(why)) => {
                    shim_log!(
                        2,
                        "script #{id}: direct link: {why}; sending through the runner"
                    );
                }
                Err(SendError::Broken(why)) => {
                    self.ipc.links().remove(&link);
                    shim_log!(
                        0,
                        "script #{id}: direct link broken ({why}); its hooks go through the runner"
                    );
                }
            }
        }
        let out = match msg.kind? {
            to_worker::Kind::Hook(h) => Out::Hook(h),
            to_worker::Kind::Function(f) => Out::Function(f),
            to_worker::Kind::CallResult(r) => Out::CallResult(r),
            to_worker::Kind::Ping(p) => Out::Ping(p),
            to_worker::Kind::Unload(u) => Out::Unload(u),
            to_worker::Kind::Load(l) => Out::Load(l),
        };
        self.ipc.send(out).ok().map(|()| Route::Relay)
    }

    /// Answers a worker's `vh.*` call the way it came: a call on the direct
    /// link is its main thread's, which reads that link; one through the
    /// runner may be another thread's, which only the runner link reaches.
    fn send_result(&self, result: CallResult, via: Option<&Arc<DirectLink>>) {
        if via.is_some() {
            let id = result.script_id;
            self.send_to_worker(id, to_worker::Kind::CallResult(result));
        } else {
            let _ = self.ipc.send(Out::CallResult(result));
        }
    }

    /// Sends a health ping to a script whose circuit is open, at most once
    /// per [`PING_EVERY`]; its `Pong` closes the circuit.
    fn ping(&self, id: i32, script: &Script) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last = script.last_ping_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < PING_EVERY.as_millis() as u64 {
            return;
        }
        script.last_ping_ms.store(now, Ordering::Relaxed);
        let _ = self.ipc.send(Out::Ping(Ping {
            script_id: id,
            seq: now,
        }));
    }

    /// Waits for `what` until `deadline`, serving `vh.*` calls of any script
    /// on this (the hub's) thread meanwhile, including calls that re-enter
    /// the shim with nested hooks (spec §9.2). When `what` went on a direct
    /// link, this thread reads that link itself and sleeps in `poll` on it
    /// and on the IPC thread's wake-up, so the answer costs no thread hop.
    fn wait(&self, what: Awaited, deadline: Instant, link: Option<&Arc<DirectLink>>) -> Outcome {
        let disconnects = self.ipc.disconnects();
        self.waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stack
            .push(what);
        let outcome = loop {
            {
                let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(i) = waits.stash.iter().position(|m| what.answered_by(m)) {
                    break Outcome::Reply(waits.stash.swap_remove(i));
                }
            }
            if let Some(o) = self.run_leftovers(Some(what)) {
                break o;
            }
            if self.ipc.disconnects() != disconnects {
                break Outcome::Disconnected("the runner link dropped".into());
            }
            let Some(link) = link else {
                match self.ipc.events().recv_deadline(deadline) {
                    Ok(ev) => {
                        hooktable::PENDING.fetch_sub(1, Ordering::AcqRel);
                        if let Some(o) = self.handle(ev, Some(what), None) {
                            break o;
                        }
                        continue;
                    }
                    Err(_) => break Outcome::TimedOut,
                }
            };
            if let Ok(ev) = self.ipc.events().try_recv() {
                hooktable::PENDING.fetch_sub(1, Ordering::AcqRel);
                if let Some(o) = self.handle(ev, Some(what), None) {
                    break o;
                }
                continue;
            }
            match self.read_link(link, Some(what)) {
                LinkRead::Answer(o) => break o,
                LinkRead::Handled => continue,
                LinkRead::Closed => {
                    break Outcome::Disconnected("the worker closed its link".into());
                }
                LinkRead::Nothing => {}
            }
            if !self.ipc.poll_hub(link.raw_fd(), deadline, &self.spinner) {
                break Outcome::TimedOut;
            }
        };
        let deferred = {
            let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = waits.stack.iter().rposition(|w| *w == what) {
                waits.stack.remove(i);
            }
            if waits.stack.is_empty() {
                waits.nesting_logged = false;
            }
            match what.running_in() {
                Some(id) if !waits.stack.iter().any(|w| w.running_in() == Some(id)) => {
                    waits.deferred_unloads.remove(&id).map(|s| (id, s))
                }
                _ => None,
            }
        };
        if let Some((id, script)) = deferred {
            self.stop_worker(id, &script);
        }
        outcome
    }

    /// Reads what `link` has and acts on it, for the wait `current` (if
    /// any). Messages after the one that ends the wait are kept for the
    /// next round ([`Waits::leftovers`]).
    fn read_link(&self, link: &Arc<DirectLink>, current: Option<Awaited>) -> LinkRead {
        let msgs = match link.read_available() {
            Ok(m) => m,
            Err(_) => {
                self.ipc.links().remove(link);
                return LinkRead::Closed;
            }
        };
        if msgs.is_empty() {
            return LinkRead::Nothing;
        }
        let mut msgs = msgs.into_iter();
        while let Some(msg) = msgs.next() {
            let answered = match &msg.kind {
                Some(In::HookResult(r)) => Some(r.call_id),
                Some(In::FunctionResult(r)) => Some(r.call_id),
                _ => None,
            };
            if let Some(call) = answered {
                link.paid(call);
            }
            if let Some(o) = self.handle(Event::Msg(msg), current, Some(link)) {
                let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
                waits.leftovers.extend(msgs.map(|m| (m, Arc::clone(link))));
                return LinkRead::Answer(o);
            }
        }
        LinkRead::Handled
    }

    /// Handles messages kept by [`Self::read_link`]; the outcome if one
    /// ends the wait `current`.
    fn run_leftovers(&self, current: Option<Awaited>) -> Option<Outcome> {
        loop {
            let next = self
                .waits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .leftovers
                .pop_front();
            let (msg, link) = next?;
            if let Some(o) = self.handle(Event::Msg(msg), current, Some(&link)) {
                return Some(o);
            }
        }
    }

    /// Acts on one event (`via`: the direct link it came on, `None` for
    /// the runner). Returns the outcome if it ends the wait `current`.
    fn handle(
        &self,
        ev: Event,
        current: Option<Awaited>,
        via: Option<&Arc<DirectLink>>,
    ) -> Option<Outcome> {
        let msg = match ev {
            Event::Msg(m) => m,
            Event::Disconnected(reason) => {
                for s in self
                    .scripts
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                {
                    s.up.store(false, Ordering::Release);
                }
                return current.map(|_| Outcome::Disconnected(reason));
            }
        };
        if let Some(In::HubCall(call)) = &msg.kind {
            let result = self.table.call(call);
            if call.pipelined {
                // docs/protocol.md "Pipelined calls": run in order, no answer.
                self.pipelined.ran(call, &result, || {
                    self.script(call.script_id)
                        .map_or_else(|| "?".into(), |s| s.name.clone())
                });
            } else {
                crate::pipeline::count_answered();
                self.send_result(result, via);
            }
            return None;
        }
        if let Some(In::DynamicCall(call)) = &msg.kind {
            let result = self.functions.call_dynamic(call);
            crate::pipeline::count_answered();
            self.send_result(result, via);
            return None;
        }
        if let Some(In::Down(d)) = &msg.kind {
            let scripts = self.scripts.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = scripts.get(&d.script_id) {
                s.up.store(false, Ordering::Release);
                let first_line = d.reason.lines().next().unwrap_or("");
                match d.restart_in_ms {
                    0 => shim_log!(
                        0,
                        "script #{} {} stopped: {first_line}",
                        d.script_id,
                        s.name
                    ),
                    ms => shim_log!(
                        1,
                        "script #{} {} crashed: {first_line} (restart in {ms} ms)",
                        d.script_id,
                        s.name
                    ),
                }
            }
        }
        if current.is_some_and(|w| w.answered_by(&msg)) {
            return Some(Outcome::Reply(msg));
        }
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        if waits.stack.iter().any(|w| w.answered_by(&msg)) {
            waits.stash.push(msg);
            return None;
        }
        drop(waits);
        self.unsolicited(msg);
        None
    }

    /// A message no wait asked for: a script back after a restart, a health
    /// ping's answer, or a late hook result (the script's main thread is
    /// free again, so its circuit closes). Anything else is a late answer
    /// to a wait that already gave up.
    fn unsolicited(&self, msg: RunnerMessage) {
        let script = |id: i32| self.script(id);
        let open = |s: &Arc<Script>| s.circuit_open.load(Ordering::Acquire);
        match msg.kind {
            Some(In::Loaded(l)) if l.ok => {
                if let Some(s) = script(l.script_id) {
                    s.apply(&l);
                    shim_log!(
                        0,
                        "script #{} {} is back (worker pid {})",
                        l.script_id,
                        s.name,
                        l.pid
                    );
                }
            }
            Some(In::Pong(p)) => {
                if let Some(s) = script(p.script_id).filter(open) {
                    s.close_circuit();
                    shim_log!(
                        0,
                        "script #{} {} answered its health ping; calling its hooks again",
                        p.script_id,
                        s.name
                    );
                }
            }
            Some(In::HookResult(r)) => {
                if let Some(s) = script(r.script_id).filter(open) {
                    s.close_circuit();
                    shim_log!(
                        0,
                        "script #{} {} finished its slow hook; calling its hooks again",
                        r.script_id,
                        s.name
                    );
                }
            }
            _ => {}
        }
    }
}

/// Builds the hook result the plugin understands (spec §4.2, §4.4) from the
/// worker's values, or `None` if their format is not one it reads for this
/// hook's mode.
fn result_struct(mode: ResultMode, values: &[Value]) -> Option<*mut Targs> {
    let args: Vec<Arg<'_>> = values.iter().map(Arg::from_wire).collect();
    let format: String = args.iter().map(|a| a.format_char() as char).collect();
    let allowed = match format.as_str() {
        "l" | "sl" => true,
        "ss" => mode == ResultMode::Chat,
        "sssss" => mode == ResultMode::MyInfo,
        _ => false,
    };
    allowed.then(|| targs::build(&args))
}
