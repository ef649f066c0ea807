//! Hook calls (`w_CallHook`, docs/abi.md §5): send, wait up to the
//! deadline, turn the answer into the struct the plugin reads (§4), and
//! count timeouts towards the script's circuit (docs/reliability.md).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use vh_proto::direct::hook_frame::Head;
use vh_proto::hooks::{self, ResultMode};
use vh_proto::v1::{HookStuck, Value, from_worker, shim_message};

use super::Shim;
use super::script::Script;
use super::waits::{Awaited, Outcome, Reply};
use crate::generation::Generation;
use crate::shim_log;
use crate::targs::{self, Gathered, Targs};

/// Consecutive timeouts that open a script's circuit unless the runner
/// says otherwise.
const DEFAULT_CIRCUIT_AFTER: u32 = 3;

impl Shim {
    /// `w_CallHook` (docs/abi.md §5): sends the hook and waits up to the hook
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
        if !self.takes_arguments(spec.format.as_bytes(), format) {
            shim_log!(
                1,
                "CallHook {}: unexpected parameters {:?}",
                spec.name,
                String::from_utf8_lossy(format)
            );
            return std::ptr::null_mut();
        }
        // SAFETY: strings of a hook struct are valid C strings or NULL,
        // and outlive this call.
        let Some(args) = (unsafe { targs::args(format, elems) }) else {
            return std::ptr::null_mut();
        };
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let sent_at = Instant::now();
        let head = Head {
            script_id: id,
            call_id: call,
            hook: hook as u32,
            hub_cpu: self.hub_cpu_for_worker(),
        };
        let route = self.send_hook(head, args);
        let Some(route) = route else {
            return std::ptr::null_mut();
        };
        if hooks::result_ignored(hook as usize) {
            // Fire and forget: the hub would ignore the result anyway; the
            // script's vh.* calls from it run at the hub's next entry.
            return std::ptr::null_mut();
        }
        crate::stats::count_awaited();
        let (limit, setting) = self.deadline_of(&script, hook);
        let deadline = sent_at + limit;
        match self.wait(Awaited::Hook { script: id, call }, deadline, route.link()) {
            Outcome::Reply(Reply::Worker(from_worker::Kind::HookResult(r))) => {
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
                result_struct(self.generation(), spec.mode, &r.values).unwrap_or_else(|| {
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
                    let _ = self.ipc.send(shim_message::Kind::Stuck(HookStuck {
                        script_id: id,
                        call_id: call,
                        hook: hook as u32,
                        waited_ms: u32::try_from(sent_at.elapsed().as_millis()).unwrap_or(u32::MAX),
                    }));
                }
                if !script.timed_out.swap(true, Ordering::AcqRel) {
                    shim_log!(
                        0,
                        "script #{id} {}: {} took longer than {} ms ({setting}); the hub goes on (logged once until it answers again)",
                        script.name,
                        spec.name,
                        limit.as_millis()
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

    /// Whether a hook whose plugin format is `plugin` may be called with
    /// arguments `got` (docs/abi.md §4.3, §5): generation A's wrapper
    /// unpacks exactly the plugin's format and refuses anything else;
    /// B's converts whatever it is given (`l`, `s`, `d`, `p`; e.g.
    /// `OnTimer` with no argument) and calls the script with that.
    fn takes_arguments(&self, plugin: &[u8], got: &[u8]) -> bool {
        match self.generation() {
            Generation::A => got == plugin,
            Generation::B => got.iter().all(|c| b"lsdp".contains(c)),
        }
    }

    /// The deadline of `hook` for `script`, and the setting that gave it
    /// (for log lines): the runner's per-script setting, else
    /// `VH_HOOK_DEADLINE_MS`; `OnTimer` may have its own.
    pub(super) fn deadline_of(&self, script: &Script, hook: i32) -> (Duration, &'static str) {
        let timer = script.timer_deadline_ms.load(Ordering::Relaxed);
        let (ms, setting) = if hook as usize == hooks::ON_TIMER && timer > 0 {
            (timer, "timer_deadline_ms in runner.toml")
        } else {
            (
                script.hook_deadline_ms.load(Ordering::Relaxed),
                "hook_deadline_ms in runner.toml",
            )
        };
        if ms == 0 {
            (self.settings.hook_deadline, "VH_HOOK_DEADLINE_MS")
        } else {
            (Duration::from_millis(u64::from(ms)), setting)
        }
    }

    /// `HookCall.hub_cpu` (docs/protocol.md "Direct links"): 1 + the CPU
    /// this thread runs on if it will sleep at once while it waits for the
    /// answer (its spin budget is nothing: a busy machine, or answers that
    /// come slowly), so that a worker about to sleep does so on this CPU
    /// and the hook wakes it here; 0 while this thread spins for answers,
    /// as then hub thread and worker are best apart, each on its own CPU.
    fn hub_cpu_for_worker(&self) -> u32 {
        if self.spinner.budget().is_zero() {
            vh_proto::direct::wake::cpu_tag()
        } else {
            0
        }
    }
}

/// Builds the hook result from the worker's values (docs/abi.md §4.3,
/// §4.4), or `None` if their format is none the wrapper of `generation`
/// gives for this hook's mode: "l" and "sl" always, "ss" in chat and
/// "sssss" in MyINFO mode; "s" and "d" (a `str` or `float` the script
/// returned) as generation B's wrapper gives them for any hook.
///
/// Allocated as that generation's wrapper does (§2.7): under A one block,
/// which the A plugin's `free()` releases entirely; under B the format and
/// each string on their own, released by `w_free_args`, or by a caller's
/// `free()` of each string and then of the struct.
fn result_struct(generation: Generation, mode: ResultMode, values: &[Value]) -> Option<*mut Targs> {
    let gathered = Gathered::new(values)?;
    let allowed = match gathered.format() {
        b"l" | b"sl" | b"s" | b"d" => true,
        b"ss" => mode == ResultMode::Chat,
        b"sssss" => mode == ResultMode::MyInfo,
        _ => false,
    };
    if !allowed {
        return None;
    }
    let t = match generation {
        Generation::A => targs::build(gathered.args()),
        Generation::B => targs::build_owned(gathered.args()),
    };
    (!t.is_null()).then_some(t)
}
