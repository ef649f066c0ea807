//! Generation B's function calls on the hub thread (docs/abi.md
//! §3.9, §3.10): `w_CallFunction` into a script's worker, and the
//! functions other plugins register for scripts. The marshaling is in
//! the `functions` module.

use std::ffi::c_char;
use std::sync::atomic::Ordering;
use std::time::Instant;

use vh_proto::hooks;
use vh_proto::v1::{FunctionCall, HookStuck, from_worker, shim_message, to_worker};

use super::Shim;
use super::waits::{Awaited, Outcome, Reply};
use crate::callbacks::Callback;
use crate::functions::{self, Unregister};
use crate::shim_log;
use crate::targs::{self, Targs};

impl Shim {
    /// `w_CallFunction` (docs/abi.md §3.9): calls the module-level function `name`
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
        crate::stats::count_awaited();
        // -1: no hook index, so the hook deadline (never OnTimer's own).
        let (limit, setting) = self.deadline_of(&script, -1);
        let outcome = self.wait(
            Awaited::Function { script: id, call },
            Instant::now() + limit,
            route.link(),
        );
        if let (Outcome::TimedOut, Some(link)) = (&outcome, route.link()) {
            link.owe(call);
            // As for a hook: the runner never saw this call.
            let _ = self.ipc.send(shim_message::Kind::Stuck(HookStuck {
                script_id: id,
                call_id: call,
                hook: hooks::FUNCTION_CALL,
                waited_ms: u32::try_from(limit.as_millis()).unwrap_or(u32::MAX),
            }));
        }
        match outcome {
            Outcome::Reply(Reply::Worker(from_worker::Kind::FunctionResult(r))) if r.ok => r
                .value
                .as_ref()
                .and_then(functions::result_struct)
                .unwrap_or(std::ptr::null_mut()),
            Outcome::Reply(Reply::Worker(from_worker::Kind::FunctionResult(r))) => {
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
                    "[{id}:{}] CallFunction {shown}: no answer within {} ms ({setting}); returning NULL",
                    script.name,
                    limit.as_millis()
                );
                std::ptr::null_mut()
            }
            Outcome::Reply(_) | Outcome::Disconnected(_) => std::ptr::null_mut(),
        }
    }

    /// `w_RegisterFunction` (docs/abi.md §3.10): registers `cb` as `name`
    /// for script `id`, replacing one of the same name. As generation B's
    /// wrapper, the id needs only a slot: reserved by `w_ReserveID` (also
    /// while its `w_Load` runs, e.g. from a callback of the script's
    /// top-level code) or loaded. False for an id never reserved or
    /// unloaded.
    pub fn register_function(&self, id: i32, name: &[u8], cb: Callback) -> bool {
        let slot = self.has_slot(id);
        if slot {
            self.functions.register(id, name, cb);
        }
        slot
    }

    /// `w_UnregisterFunction` (docs/abi.md §3.10): true if `name` was registered
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
}
