//! The hub thread's wait stack, as rules without I/O (docs/abi.md
//! §9.2 re-entrancy). While the hub thread waits for a script (a load, an
//! unload, a hook, a function call) it runs the scripts' `vh.*` calls, and
//! those may fire hooks whose waits stack up inside the first. This module
//! decides, for each message the wait loop (`serve`) reads:
//!
//! * whether it answers the innermost wait, an outer one (then it is kept,
//!   "stashed", until that wait is innermost again), or none ("unclaimed":
//!   a late answer, a health ping's answer, a script back after a restart);
//! * how deep waits may nest before hooks are skipped;
//! * which messages read past an answer on a direct link are handled first
//!   next time ("leftovers");
//! * which unloads wait until the outermost hook of their script returns.
//!
//! It is generic over the link a leftover came on (`L`) and the script an
//! unload defers (`S`), so its unit tests feed it plain values.

use std::collections::{HashMap, VecDeque};

use vh_proto::v1::{ScriptDown, from_worker};

use crate::hooktable::{self, Counted};

/// Most hook and function waits the hub thread stacks up (hooks fired by
/// `vh.*` calls inside hooks, docs/abi.md §9.2). A worker refuses to nest deeper
/// than 32 hooks itself (`vh._runtime.MAX_DEPTH`); this bound is above it,
/// so that a script recursing into itself meets the worker's limit, and
/// stops scripts that recurse through each other (each of them only half
/// as deep) before the hub thread's stack is at risk.
pub const MAX_NESTED_WAITS: usize = 48;

/// What a wait on the hub thread is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Awaited {
    /// `w_Load` of the script: its `ScriptLoaded`.
    Load(i32),
    /// `w_Unload` of the script: its `ScriptUnloaded`.
    Unload(i32),
    /// A hook call: the `HookResult` with this call id.
    Hook { script: i32, call: u64 },
    /// A `w_CallFunction`: the `FunctionResult` with this call id.
    Function { script: i32, call: u64 },
}

impl Awaited {
    /// The script waited for.
    pub(super) fn script(self) -> i32 {
        match self {
            Awaited::Load(s)
            | Awaited::Unload(s)
            | Awaited::Hook { script: s, .. }
            | Awaited::Function { script: s, .. } => s,
        }
    }

    /// The script, if this wait runs its code on the worker's main thread
    /// (a hook or a function call): unloading it must wait for the end.
    pub(super) fn running_in(self) -> Option<i32> {
        match self {
            Awaited::Hook { script, .. } | Awaited::Function { script, .. } => Some(script),
            Awaited::Load(_) | Awaited::Unload(_) => None,
        }
    }

    /// True if `msg` answers this wait (or says its worker is gone).
    pub(super) fn answered_by(self, msg: &Reply) -> bool {
        use from_worker::Kind;
        match (msg, self) {
            (Reply::Down(d), w) => d.script_id == w.script(),
            (Reply::Worker(Kind::Loaded(l)), Awaited::Load(s)) => l.script_id == s,
            (Reply::Worker(Kind::Unloaded(u)), Awaited::Unload(s)) => u.script_id == s,
            (Reply::Worker(Kind::HookResult(r)), Awaited::Hook { call, .. }) => r.call_id == call,
            (Reply::Worker(Kind::FunctionResult(r)), Awaited::Function { call, .. }) => {
                r.call_id == call
            }
            _ => false,
        }
    }
}

/// A message that may end a wait: a worker's (`FromWorker`'s payload,
/// the same whether it came on the worker's direct link or through the
/// runner), or the runner's word that the worker is gone.
#[derive(Debug)]
pub(super) enum Reply {
    /// A worker's message, its script id filled in.
    Worker(from_worker::Kind),
    /// `ScriptDown`.
    Down(ScriptDown),
}

/// How a wait ended.
pub(super) enum Outcome {
    /// The message that answered it (or said the worker is gone).
    Reply(Reply),
    /// Its deadline passed.
    TimedOut,
    /// The runner link or the worker's direct link dropped, with why.
    Disconnected(String),
}

/// Where a message goes ([`Waits::route`]).
#[derive(Debug)]
pub(super) enum Routed {
    /// It answers the current wait, which ends with it.
    Answer(Reply),
    /// It answers an outer wait and is kept for it.
    Stashed,
    /// No wait asked for it.
    Unclaimed(Reply),
}

/// Whether one more hook or function wait may be stacked
/// ([`Waits::check_nesting`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Nesting {
    /// Yes.
    Allowed,
    /// No: `depth` waits are stacked; `first` is true once per incident
    /// (until the stack is empty again), when the refusal is to be logged.
    Refused { depth: usize, first: bool },
}

/// Waits in progress (innermost last), replies that arrived for an outer
/// one while an inner one was being served, leftovers, deferred unloads.
pub(super) struct Waits<L, S> {
    stack: Vec<Awaited>,
    stash: Vec<Reply>,
    /// Messages read from a direct link after the one that ended a wait,
    /// handled before anything else next time.
    leftovers: VecDeque<(from_worker::Kind, L)>,
    /// One unit of `hooktable::PENDING` while there are leftovers, so that
    /// the next hub entry runs them (`Shim::pump` returns at once while
    /// nothing is pending).
    leftovers_pending: Option<Counted>,
    /// Scripts the hub unloaded while one of their hooks (or function
    /// calls) was on the stack: their workers stop when the outermost of
    /// those returns (docs/abi.md §9.2, §12).
    deferred_unloads: HashMap<i32, S>,
    /// The nesting limit was hit and logged in the current incident (reset
    /// when the stack is empty again).
    nesting_logged: bool,
}

impl<L, S> Default for Waits<L, S> {
    fn default() -> Self {
        Waits {
            stack: Vec::new(),
            stash: Vec::new(),
            leftovers: VecDeque::new(),
            leftovers_pending: None,
            deferred_unloads: HashMap::new(),
            nesting_logged: false,
        }
    }
}

impl<L, S> Waits<L, S> {
    /// A wait begins (innermost from now on).
    pub(super) fn push(&mut self, what: Awaited) {
        self.stack.push(what);
    }

    /// The stashed reply to `what`, if one came while an inner wait ran.
    pub(super) fn take_stashed(&mut self, what: Awaited) -> Option<Reply> {
        let i = self.stash.iter().position(|m| what.answered_by(m))?;
        Some(self.stash.swap_remove(i))
    }

    /// Decides where `msg` goes while `current` (if any) is the wait being
    /// served; a reply for another wait on the stack is stashed.
    pub(super) fn route(&mut self, msg: Reply, current: Option<Awaited>) -> Routed {
        if current.is_some_and(|w| w.answered_by(&msg)) {
            return Routed::Answer(msg);
        }
        if self.stack.iter().any(|w| w.answered_by(&msg)) {
            self.stash.push(msg);
            return Routed::Stashed;
        }
        Routed::Unclaimed(msg)
    }

    /// Keeps messages read past the one that ended a wait, in order.
    pub(super) fn keep_leftovers(
        &mut self,
        msgs: impl IntoIterator<Item = (from_worker::Kind, L)>,
    ) {
        self.leftovers.extend(msgs);
        self.recount_leftovers();
    }

    /// The oldest kept leftover, with the link it came on.
    pub(super) fn next_leftover(&mut self) -> Option<(from_worker::Kind, L)> {
        let next = self.leftovers.pop_front();
        self.recount_leftovers();
        next
    }

    /// Counts the leftovers in `PENDING` exactly while there are any.
    fn recount_leftovers(&mut self) {
        if self.leftovers.is_empty() {
            self.leftovers_pending = None;
        } else if self.leftovers_pending.is_none() {
            self.leftovers_pending = Some(Counted::new(&hooktable::PENDING));
        }
    }

    /// The wait `what` ended: it leaves the stack. Returns the script whose
    /// worker is now to stop, if `what` was the outermost wait running in a
    /// script unloaded meanwhile ([`Self::defer_unload`]).
    pub(super) fn finish(&mut self, what: Awaited) -> Option<(i32, S)> {
        if let Some(i) = self.stack.iter().rposition(|w| *w == what) {
            self.stack.remove(i);
        }
        if self.stack.is_empty() {
            self.nesting_logged = false;
        }
        match what.running_in() {
            Some(id) if !self.running(id) => self.deferred_unloads.remove(&id).map(|s| (id, s)),
            _ => None,
        }
    }

    /// Whether one more hook or function wait may be stacked (docs/abi.md §9.2:
    /// "guard against unbounded recursion"; [`MAX_NESTED_WAITS`]).
    pub(super) fn check_nesting(&mut self) -> Nesting {
        let depth = self.stack.len();
        if depth < MAX_NESTED_WAITS {
            return Nesting::Allowed;
        }
        let first = !self.nesting_logged;
        self.nesting_logged = true;
        Nesting::Refused { depth, first }
    }

    /// True while a hook or function call of script `id` is on the stack.
    pub(super) fn running(&self, id: i32) -> bool {
        self.stack.iter().any(|w| w.running_in() == Some(id))
    }

    /// Keeps unloaded script `id` until its outermost wait finishes
    /// (call only while [`Self::running`] is true for it).
    pub(super) fn defer_unload(&mut self, id: i32, script: S) {
        self.deferred_unloads.insert(id, script);
    }
}

#[cfg(test)]
mod tests;
