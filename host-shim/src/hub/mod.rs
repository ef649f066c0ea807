//! The shim's state between `w_Begin` and `w_End`, and everything the hub
//! thread does inside a shim function: loading scripts, calling hooks, and
//! running scripts' `vh.*` calls while it waits (docs/architecture.md "host-shim",
//! docs/abi.md §9.2 re-entrancy).
//!
//! This file holds [`Shim`], `w_Begin`/`w_End` and the hub's cheap entries
//! (`w_ReserveID`, `w_HasHook`, the pump of queued calls). The rest, one
//! idea each, all `impl Shim` on the hub thread:
//! * `script`: one loaded script (hook table, deadlines, circuit);
//! * `loads`: `w_Load`, `w_Unload`, deferred unloads, the hub encoding;
//! * `hooks`: `w_CallHook`, deadlines, hook results, timeouts;
//! * `function_calls`: B's `w_CallFunction` and registered functions;
//! * `serve`: sending to a worker (direct link or runner), pings, the
//!   wait loop, the sleep on a direct link, the nesting guard, direct-link
//!   reads, and acting on each message read (calls, answers, the rest);
//! * `waits`: the wait stack's rules without I/O, unit-tested.

mod function_calls;
mod hooks;
mod loads;
mod script;
mod send;
mod serve;
mod waits;

pub use script::Script;
pub use waits::MAX_NESTED_WAITS;

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use vh_proto::direct::wake::Wake;
use vh_proto::v1::{Hello, UnloadScript, to_worker};

use crate::callbacks::{MAX_CALLBACKS, Table};
use crate::config::Settings;
use crate::direct::{DirectLink, Links};
use crate::functions::Registry;
use crate::generation::{self, Generation};
use crate::hooktable;
use crate::ipc::{Ipc, Loads};
use crate::shim_log;

/// Longest a hub entry spends running queued `vh.*` calls (checked every
/// 64 calls); the rest wait for the next entry.
const PUMP_BUDGET: Duration = Duration::from_millis(20);

/// Everything between `w_Begin` and `w_End`.
pub struct Shim {
    /// The plugin generation `w_Begin` detected (docs/abi.md §6.4). Fixed
    /// for this shim: a table of the other generation comes only with a new
    /// `w_Begin`, i.e. a new `Shim`. Kept here rather than asked of `table`
    /// because every hook reads it (arguments check, result struct).
    generation: Generation,
    table: Table,
    ipc: Arc<Ipc>,
    settings: Settings,
    scripts: RwLock<HashMap<i32, Arc<Script>>>,
    next_id: AtomicI32,
    /// One past the highest id `w_ReserveID` handed out.
    reserved_upto: AtomicI32,
    /// Ids unloaded since `w_Begin` (their slots are gone, docs/abi.md §3.6).
    gone: Mutex<HashSet<i32>>,
    next_call: AtomicU64,
    /// The wait stack's books (`waits`), one entry per wait in progress.
    waits: Mutex<HubWaits>,
    hub_encoding: Mutex<Option<String>>,
    /// What to send to load every script again after a runner restart;
    /// shared with the IPC thread, which replays it on each new stream.
    loads: Loads,
    /// Zero point of `Script::last_ping_ms`.
    epoch: Instant,
    /// Functions other plugins registered for the scripts (B, docs/abi.md §3.10).
    functions: Registry,
    /// Failed pipelined `vh.*` calls already logged.
    pipelined: crate::stats::Failures,
    /// The direct links to workers, by script (docs/protocol.md "Direct
    /// links"); the IPC thread adds those the runner hands over.
    links: Arc<Links>,
    /// The hub thread's wake-up while it sleeps on a direct link: the IPC
    /// thread signals it after each event it queues.
    wake: Arc<Wake>,
    /// How long the hub thread checks a direct link before it sleeps
    /// (`VH_SPIN_US` at most; adapted, and nothing on a busy machine).
    spinner: vh_proto::direct::wake::Adaptive,
}

/// The wait stack as the hub thread keeps it: leftovers come with their
/// direct link, deferred unloads keep their script.
type HubWaits = waits::Waits<Arc<DirectLink>, Arc<Script>>;

static CURRENT: RwLock<Option<Arc<Shim>>> = RwLock::new(None);

/// The shim of the current `w_Begin`, if any.
pub fn current() -> Option<Arc<Shim>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `w_Begin`: detects the generation, keeps the table as that generation's
/// wrapper did (a copy under A, the pointer under B), starts the IPC
/// thread. Returns false (plugin stays offline) only for an unusable table.
///
/// # Safety
/// `raw` points to the plugin's 100 callback entries.
pub unsafe fn begin(raw: *const *const c_void) -> bool {
    end(); // a second w_Begin without w_End: start afresh
    hooktable::reset();
    let (settings, invalid) = Settings::from_env();
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
    // An unusable setting does not fail w_Begin: that would leave every
    // script of the hub offline over a typo (docs/admin.md "The shim's
    // settings").
    for bad in &invalid {
        shim_log!(0, "w_Begin: {bad}");
    }
    let hello = Hello {
        shim_version: env!("CARGO_PKG_VERSION").into(),
        generation: generation.as_str().into(),
        hub_pid: std::process::id(),
        protocol: vh_proto::PROTOCOL,
        direct_token: if settings.direct_links {
            crate::direct::new_token().unwrap_or_default()
        } else {
            Vec::new()
        },
    };
    let loads = Loads::default();
    let links = Arc::new(Links::default());
    let wake = match Wake::new() {
        Ok(w) => Arc::new(w),
        Err(e) => {
            shim_log!(0, "w_Begin: cannot make the hub thread's eventfd: {e}");
            return false;
        }
    };
    let ipc = match Ipc::start(
        settings.socket.clone(),
        hello,
        loads.clone(),
        Arc::clone(&links),
        Arc::clone(&wake),
    ) {
        Ok(ipc) => ipc,
        Err(e) => {
            shim_log!(0, "w_Begin: cannot start the IPC thread: {e}");
            return false;
        }
    };
    let spinner = vh_proto::direct::wake::Adaptive::new(settings.spin);
    let shim = Shim {
        generation,
        // SAFETY: entries of the plugin's table are callbacks, and python_pi
        // never frees the table (docs/abi.md §3.2, §6.1).
        table: unsafe { Table::new(raw.as_ptr(), generation) },
        ipc,
        settings,
        scripts: RwLock::new(HashMap::new()),
        next_id: AtomicI32::new(0),
        reserved_upto: AtomicI32::new(0),
        gone: Mutex::new(HashSet::new()),
        next_call: AtomicU64::new(1),
        waits: Mutex::new(HubWaits::default()),
        hub_encoding: Mutex::new(None),
        loads,
        epoch: Instant::now(),
        functions: Registry::default(),
        pipelined: crate::stats::Failures::default(),
        links,
        wake,
        spinner,
    };
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(shim));
    true
}

/// `w_End`: asks the runner to stop what is left, stops the IPC thread and
/// drops all state, so that a later `w_Begin` starts clean (docs/abi.md §3.3).
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
        let _ = shim
            .ipc
            .relay(to_worker::Kind::Unload(UnloadScript { script_id: id }));
    }
    shim.links.clear();
    shim.ipc.stop();
}

impl Shim {
    /// The wait stack's books, locked (only the hub thread takes the lock).
    fn waits(&self) -> MutexGuard<'_, HubWaits> {
        self.waits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plugin generation detected at `w_Begin` (before it, there is no
    /// `Shim`; `ffi::w_CallName` then reads A).
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The loaded script `id`, if any.
    fn script(&self, id: i32) -> Option<Arc<Script>> {
        self.scripts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// `w_ReserveID` (docs/abi.md §3.4): under generation A the id the next
    /// `w_Load` takes, the same until a load takes it (A reserved nothing);
    /// under B a new id at every call (B appended a slot per call: two
    /// calls give 0 and 1). Ids are never reused.
    pub fn reserve_id(&self) -> i32 {
        let id = match self.generation() {
            Generation::A => self.next_id.load(Ordering::Relaxed),
            Generation::B => self.next_id.fetch_add(1, Ordering::Relaxed),
        };
        self.reserved_upto
            .fetch_max(id.saturating_add(1), Ordering::Relaxed);
        id
    }

    /// True if script `id` is loaded, or was handed out by `w_ReserveID`
    /// and not unloaded since: the slot generation B's wrapper kept for it
    /// from `w_ReserveID` on, also while `w_Load` runs (docs/abi.md §3.10).
    fn has_slot(&self, id: i32) -> bool {
        self.script(id).is_some()
            || ((0..self.reserved_upto.load(Ordering::Relaxed)).contains(&id)
                && !self
                    .gone
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&id))
    }

    /// `w_HasHook` (docs/abi.md §3.7) for ids beyond the lock-free
    /// [`hooktable`] (which `ffi::w_HasHook` reads first); also runs `vh.*`
    /// calls queued since the hub's last entry.
    pub fn has_hook(&self, id: i32, hook: i32) -> bool {
        self.pump();
        let Ok(hook) = usize::try_from(hook) else {
            return false;
        };
        if hook >= vh_proto::hooks::HOOKS.len() {
            return false;
        }
        let scripts = self.scripts.read().unwrap_or_else(|e| e.into_inner());
        scripts
            .get(&id)
            .is_some_and(|s| s.hooks.load(Ordering::Acquire) & script::hook_bit(hook) != 0)
    }

    /// Runs every queued `vh.*` call (and notes every worker that went down)
    /// without blocking. Returns at once, after two atomic loads, while
    /// nothing is queued, left over or owed (`hooktable::PENDING`,
    /// `hooktable::OWING`): at human rates a hook's entry found nothing
    /// to run and still paid about 5 µs of cold clock, lock and queue
    /// reads (docs/performance.md "One straight hook path").
    pub fn pump(&self) {
        if !hooktable::due() {
            return;
        }
        // A budget per entry, so that a script flooding the hub with calls
        // from its threads cannot hold the hub thread: the rest run at the
        // next entry (PENDING stays non-zero).
        let started = Instant::now();
        let mut ran = 0u32;
        self.run_leftovers(None);
        while let Ok(ev) = self.ipc.events().try_recv() {
            self.handle(ev.take(), None);
            ran += 1;
            if ran.is_multiple_of(64) && started.elapsed() >= PUMP_BUDGET {
                break;
            }
        }
        // Scripts whose hooks outran their deadline answer (and make their
        // late vh.* calls) on their links, which only this thread reads.
        if hooktable::OWING.load(Ordering::Acquire) != 0 {
            for link in self.links.owing() {
                self.read_link(&link, None);
            }
        }
    }
}
