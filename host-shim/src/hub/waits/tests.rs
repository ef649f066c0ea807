//! The wait stack's rules, fed plain messages (no runner, no worker).

use vh_proto::v1::{
    FunctionResult, HookResult, Pong, ScriptDown, ScriptLoaded, ScriptUnloaded, from_worker,
};

use super::{Awaited, MAX_NESTED_WAITS, Nesting, Reply, Routed, Waits};

/// Leftovers carry a link name, deferred unloads a script name.
type TestWaits = Waits<&'static str, &'static str>;

fn msg(kind: from_worker::Kind) -> Reply {
    Reply::Worker(kind)
}

fn result_of(script: i32, call: u64) -> from_worker::Kind {
    from_worker::Kind::HookResult(HookResult {
        script_id: script,
        call_id: call,
        ..Default::default()
    })
}

fn hook_result(script: i32, call: u64) -> Reply {
    msg(result_of(script, call))
}

fn hook(script: i32, call: u64) -> Awaited {
    Awaited::Hook { script, call }
}

fn call_id(m: &from_worker::Kind) -> Option<u64> {
    match m {
        from_worker::Kind::HookResult(r) => Some(r.call_id),
        from_worker::Kind::FunctionResult(r) => Some(r.call_id),
        _ => None,
    }
}

fn call_of(r: &Reply) -> Option<u64> {
    match r {
        Reply::Worker(k) => call_id(k),
        Reply::Down(_) => None,
    }
}

#[test]
fn each_wait_is_answered_only_by_its_own_reply() {
    let loaded = msg(from_worker::Kind::Loaded(ScriptLoaded {
        script_id: 3,
        ..Default::default()
    }));
    let unloaded = msg(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 3 }));
    let function = msg(from_worker::Kind::FunctionResult(FunctionResult {
        script_id: 3,
        call_id: 9,
        ..Default::default()
    }));
    assert!(Awaited::Load(3).answered_by(&loaded));
    assert!(!Awaited::Load(4).answered_by(&loaded));
    assert!(!Awaited::Unload(3).answered_by(&loaded));
    assert!(Awaited::Unload(3).answered_by(&unloaded));
    assert!(hook(3, 7).answered_by(&hook_result(3, 7)));
    assert!(!hook(3, 7).answered_by(&hook_result(3, 8)));
    // A hook result never answers a function call with the same call id.
    assert!(!Awaited::Function { script: 3, call: 7 }.answered_by(&hook_result(3, 7)));
    assert!(Awaited::Function { script: 3, call: 9 }.answered_by(&function));
}

#[test]
fn a_worker_going_down_answers_every_wait_of_its_script() {
    let down = Reply::Down(ScriptDown {
        script_id: 5,
        ..Default::default()
    });
    for w in [
        Awaited::Load(5),
        Awaited::Unload(5),
        hook(5, 1),
        Awaited::Function { script: 5, call: 2 },
    ] {
        assert!(w.answered_by(&down), "{w:?}");
    }
    assert!(!hook(6, 1).answered_by(&down));
}

#[test]
fn a_reply_for_an_outer_wait_is_stashed_until_that_wait_looks() {
    let mut waits = TestWaits::default();
    let outer = hook(1, 10);
    let inner = hook(2, 11);
    waits.push(outer);
    waits.push(inner);
    // While the inner wait is served, the outer one's answer comes first.
    assert!(matches!(
        waits.route(hook_result(1, 10), Some(inner)),
        Routed::Stashed
    ));
    assert!(waits.take_stashed(inner).is_none());
    match waits.route(hook_result(2, 11), Some(inner)) {
        Routed::Answer(m) => assert_eq!(call_of(&m), Some(11)),
        other => panic!("inner answer routed as {other:?}"),
    }
    assert!(waits.finish(inner).is_none());
    // Back in the outer wait: its answer is waiting, once.
    let stashed = waits.take_stashed(outer).expect("stashed answer");
    assert_eq!(call_of(&stashed), Some(10));
    assert!(waits.take_stashed(outer).is_none());
}

#[test]
fn a_reply_no_wait_asked_for_is_unclaimed() {
    let mut waits = TestWaits::default();
    // Late answer to a wait that already gave up (nothing on the stack).
    assert!(matches!(
        waits.route(hook_result(1, 10), None),
        Routed::Unclaimed(_)
    ));
    waits.push(hook(1, 11));
    assert!(matches!(
        waits.route(hook_result(1, 10), Some(hook(1, 11))),
        Routed::Unclaimed(_)
    ));
    let pong = msg(from_worker::Kind::Pong(Pong {
        script_id: 1,
        ..Default::default()
    }));
    assert!(matches!(
        waits.route(pong, Some(hook(1, 11))),
        Routed::Unclaimed(_)
    ));
    // With no current wait (a pump inside a nested hub entry), a reply for
    // a stacked wait is still kept for it.
    assert!(matches!(
        waits.route(hook_result(1, 11), None),
        Routed::Stashed
    ));
    assert!(waits.take_stashed(hook(1, 11)).is_some());
}

#[test]
fn nesting_is_refused_at_the_limit_and_logged_once_per_incident() {
    let mut waits = TestWaits::default();
    for call in 0..MAX_NESTED_WAITS as u64 {
        assert_eq!(waits.check_nesting(), Nesting::Allowed);
        waits.push(hook(1, call));
    }
    let refused = |first| Nesting::Refused {
        depth: MAX_NESTED_WAITS,
        first,
    };
    assert_eq!(waits.check_nesting(), refused(true));
    assert_eq!(waits.check_nesting(), refused(false));
    // Unwinding part way keeps the incident open ...
    waits.finish(hook(1, MAX_NESTED_WAITS as u64 - 1));
    assert_eq!(waits.check_nesting(), Nesting::Allowed);
    waits.push(hook(1, 99));
    assert_eq!(waits.check_nesting(), refused(false));
    // ... an empty stack ends it.
    waits.finish(hook(1, 99));
    for call in 0..MAX_NESTED_WAITS as u64 - 1 {
        waits.finish(hook(1, call));
    }
    for call in 0..MAX_NESTED_WAITS as u64 {
        waits.push(hook(1, call));
    }
    assert_eq!(waits.check_nesting(), refused(true));
}

#[test]
fn an_unload_inside_a_hook_waits_for_the_outermost_hook_of_that_script() {
    let mut waits = TestWaits::default();
    let outer = hook(4, 1);
    let other = hook(7, 2);
    let inner = Awaited::Function { script: 4, call: 3 };
    waits.push(outer);
    waits.push(other);
    waits.push(inner);
    assert!(waits.running(4));
    assert!(!waits.running(5));
    waits.defer_unload(4, "four.py");
    // The inner call of script 4 and another script's hook end: 4 is still
    // running its outer hook.
    assert!(waits.finish(inner).is_none());
    assert!(waits.finish(other).is_none());
    assert_eq!(waits.finish(outer), Some((4, "four.py")));
    assert!(!waits.running(4));
    // Loads and unloads run no script code: they never release one.
    waits.push(Awaited::Load(8));
    waits.defer_unload(8, "eight.py");
    assert!(waits.finish(Awaited::Load(8)).is_none());
}

#[test]
fn leftovers_come_back_in_order_with_their_link() {
    let mut waits = TestWaits::default();
    assert!(waits.next_leftover().is_none());
    waits.keep_leftovers([(result_of(1, 1), "a"), (result_of(1, 2), "a")]);
    waits.keep_leftovers([(result_of(2, 3), "b")]);
    let order: Vec<(Option<u64>, &str)> = std::iter::from_fn(|| waits.next_leftover())
        .map(|(m, l)| (call_id(&m), l))
        .collect();
    assert_eq!(order, [(Some(1), "a"), (Some(2), "a"), (Some(3), "b")]);
}

#[test]
fn leftovers_count_as_pending_exactly_while_there_are_any() {
    // The hub's entries skip `pump` while nothing is pending, so kept
    // leftovers hold one unit of `PENDING` (what a unit does to the
    // counter: `hooktable`'s own test). The counter itself is shared by
    // every test of this binary that keeps leftovers, so the stack's unit
    // is what is checked here.
    let counted = |w: &TestWaits| w.leftovers_pending.is_some();
    let mut waits = TestWaits::default();
    assert!(!counted(&waits));
    waits.keep_leftovers([(result_of(1, 1), "a"), (result_of(1, 2), "a")]);
    assert!(counted(&waits));
    assert!(crate::hooktable::due());
    waits.keep_leftovers([(result_of(2, 3), "b")]);
    assert!(counted(&waits));
    waits.next_leftover();
    waits.next_leftover();
    assert!(counted(&waits));
    waits.next_leftover();
    assert!(!counted(&waits));
    assert!(waits.next_leftover().is_none());
    assert!(!counted(&waits));
}

#[test]
fn finishing_removes_the_innermost_copy_of_a_wait() {
    let mut waits = TestWaits::default();
    waits.push(Awaited::Unload(2));
    waits.push(hook(3, 1));
    waits.push(Awaited::Unload(2));
    waits.finish(Awaited::Unload(2));
    // The outer unload still waits; the hook between is untouched.
    assert!(waits.running(3));
    assert!(matches!(
        waits.route(
            msg(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 2 })),
            None
        ),
        Routed::Stashed
    ));
}
