//! Script loads and unloads on the hub thread (`w_Load`, `w_Unload`,
//! docs/abi.md §3.5, §3.6), including unloads deferred until the
//! script's own hook returns (§9.2, §12), and the hub encoding a load
//! tells the worker (§8).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use vh_proto::v1::{HubCall, LoadScript, UnloadScript, Value, from_worker, to_worker};

use super::Shim;
use super::script::Script;
use super::waits::{Awaited, Outcome, Reply};
use crate::config::CONNECT_WAIT_MS;
use crate::hooktable;
use crate::ipc::NotConnected;
use crate::shim_log;
use crate::targs::{self, Targs};

impl Shim {
    /// The hub's encoding as a Python codec name: `VH_HUB_ENCODING`, else
    /// the hub config `hub_encoding` (docs/abi.md §8), else CP1252, the hub default.
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

    /// `w_Load` (docs/abi.md §3.5): starts the script in a worker and waits for its
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
        // Generation A's wrapper loads only at the id `w_ReserveID` gives
        // (docs/abi.md §3.5); B's takes any slot it reserved.
        if self.generation() == crate::generation::Generation::A
            && id != self.next_id.load(Ordering::Relaxed)
        {
            shim_log!(2, "cannot start a new python interpreter with ID {id}");
            return -1;
        }
        // Never reuse an id, even of a failed load (docs/abi.md §3.4, §12).
        self.next_id
            .fetch_max(id.saturating_add(1), Ordering::Relaxed);
        let path = bytes(1);
        let shown = String::from_utf8_lossy(&path).into_owned();
        match self
            .ipc
            .ensure_connected(Duration::from_millis(CONNECT_WAIT_MS))
        {
            Ok(()) => {}
            Err(NotConnected::Unreachable(reason)) => {
                shim_log!(
                    0,
                    "cannot load script #{id} {shown}: vh-runner is not reachable at {} ({reason}); start it with `vh-runner serve`",
                    self.settings.socket.display()
                );
                return -1;
            }
            Err(NotConnected::Incompatible(line)) => {
                shim_log!(0, "cannot load script #{id} {shown}: {line}");
                return -1;
            }
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
        if let Err(why) = self.ipc.relay(to_worker::Kind::Load(load.clone())) {
            shim_log!(0, "cannot load script #{id} {shown}: {why}");
            return -1;
        }
        let deadline = Instant::now() + self.settings.load_deadline;
        let loaded = match self.wait(Awaited::Load(id), deadline, None) {
            Outcome::Reply(Reply::Worker(from_worker::Kind::Loaded(l))) => l,
            Outcome::Reply(Reply::Down(d)) => {
                shim_log!(0, "script #{id} {shown} failed to load: {}", d.reason);
                return self.load_failed(id);
            }
            Outcome::TimedOut => {
                shim_log!(
                    0,
                    "script #{id} {shown} failed to load: not ready within {} ms (VH_LOAD_DEADLINE_MS)",
                    self.settings.load_deadline.as_millis()
                );
                let _ = self
                    .ipc
                    .relay(to_worker::Kind::Unload(UnloadScript { script_id: id }));
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
        self.links.forget(id);
        -1
    }

    /// `w_Unload` (docs/abi.md §3.6): the worker runs the script's `UnLoad()` and
    /// exits. Returns 1, or -1 for an unknown id.
    ///
    /// A script unloaded from inside one of its own hooks (or one that is
    /// still on the hub thread's stack, e.g. `vh.ParseCommand("!pyunload
    /// ...")`, docs/abi.md §9.2, §12) is gone for the hub at once (no more hooks,
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
        self.gone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
        hooktable::clear(id);
        // UnLoad() talks through the runner; a hook of this script still on
        // the stack keeps its own handle on the link.
        self.links.forget(id);
        let Some(script) = removed else {
            shim_log!(0, "Unload error: No script with id: {id}");
            return -1;
        };
        {
            let mut waits = self.waits();
            if waits.running(id) {
                shim_log!(
                    1,
                    "script #{id} {} unloaded from inside its own hook; its worker stops when that hook returns",
                    script.name
                );
                waits.defer_unload(id, script);
                return 1;
            }
        }
        self.stop_worker(id, &script);
        1
    }

    /// Tells script `id`'s worker to run `UnLoad()` and exit, and waits for
    /// it up to the unload deadline, serving its `vh.*` calls meanwhile.
    pub(super) fn stop_worker(&self, id: i32, script: &Script) {
        if script.up.load(Ordering::Acquire)
            && self
                .ipc
                .relay(to_worker::Kind::Unload(UnloadScript { script_id: id }))
                .is_ok()
        {
            let deadline = Instant::now() + self.settings.unload_deadline;
            if let Outcome::TimedOut = self.wait(Awaited::Unload(id), deadline, None) {
                shim_log!(
                    1,
                    "script #{id} {}: UnLoad() did not finish within {} ms (VH_UNLOAD_DEADLINE_MS); the runner stops its worker",
                    script.name,
                    self.settings.unload_deadline.as_millis()
                );
            }
        }
    }
}
