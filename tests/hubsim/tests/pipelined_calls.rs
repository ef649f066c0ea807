//! Pipelined `vh.*` calls (docs/protocol.md "Pipelined calls"),
//! through real parts: hubsim driving the dlopened shim, a real runner,
//! real workers. A discarded send does not wait for the hub's answer, yet
//! the hub sees exactly the calls, nested hooks and order it sees when every
//! call waits; a hook with three discarded sends costs one round trip; a
//! failed pipelined call is logged once; `pipeline_calls = false` restores
//! the old path.

mod common;

use common::py2::{python2, script_section};
use common::{
    A_SEMANTICS, Runner, capture_stdout, faults, script, serial, shim_env, shim_path, show,
};
use vh_hubsim::{Generation, Hub};

/// `(hooks waited for, vh.* calls answered, vh.* calls pipelined)` so far,
/// read from the shim the hub has loaded (`vh_shim_round_trips`).
fn round_trips() -> (u64, u64, u64) {
    let [a, b, c] = common::shim_counters(c"vh_shim_round_trips");
    (a, b, c)
}

/// A hub (generation `generation`) on a runner with `config`, with
/// pipe_order.py loaded and alice (op) and bob in.
fn hub_on(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 10_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.load(&script("pipe_order.py")) >= 0, "{}", runner.log());
    for (nick, class) in [(b"alice".as_slice(), 3), (b"bob".as_slice(), 0)] {
        assert!(hub.login(nick, class, b"10.0.0.1", b"", b"", b"", b"", b"0"));
    }
    hub
}

/// Everything the hub recorded for alice's chat line `line`, with the
/// round trips it cost: `(records, awaited, answered, pipelined)`.
fn chat(hub: &mut Hub, line: &[u8]) -> (Vec<Vec<u8>>, u64, u64, u64) {
    hub.clear_records();
    let before = round_trips();
    hub.chat(b"alice", line);
    let after = round_trips();
    (
        hub.records(),
        after.0 - before.0,
        after.1 - before.1,
        after.2 - before.2,
    )
}

#[test]
fn interleaved_sends_reads_and_nested_hooks_give_the_synchronous_record() {
    let _serial = serial();
    for generation in [Generation::A, Generation::B] {
        // pipe_order.py is written for generation A (its ScriptCommand
        // passes an int): on a B hub it says so, as an admin would.
        let waiting = "[defaults]\npipeline_calls = false\nsemantics = \"A\"\n";
        same_record_both_ways(waiting, A_SEMANTICS, generation);
    }
}

/// Alice's "mix" line on a runner with config `waiting` (every call
/// waits) and on one with config `piped`: the same record, at least ten
/// calls pipelined, and every call reaching the hub once either way.
fn same_record_both_ways(waiting: &str, piped: &str, generation: Generation) {
    let waiting = Runner::start_with(waiting);
    let mut hub = hub_on(&waiting, generation);
    let (sync, _, sync_answered, sync_pipelined) = chat(&mut hub, b"mix");
    drop(hub);
    let piped = Runner::start_with(piped);
    let mut hub = hub_on(&piped, generation);
    let (got, _, answered, pipelined) = chat(&mut hub, b"mix");
    drop(hub);

    assert_eq!(sync_pipelined, 0, "pipeline_calls = false pipelined calls");
    assert!(
        sync.iter().any(|r| r.starts_with(b"HOOK OnOperatorKicks"))
            && sync.iter().any(|r| r.starts_with(b"HOOK OnSetConfig"))
            && sync
                .iter()
                .any(|r| r.starts_with(b"USERMC alice\tVerlihub\tlast")),
        "the synchronous run is incomplete:\n{}\n{}",
        show(&sync),
        waiting.log()
    );
    assert_eq!(
        show(&got),
        show(&sync),
        "{generation:?}: pipelined record differs from the synchronous one\n{}",
        piped.log()
    );
    // Generation B's ScriptCommand always fails (docs/abi.md §6.3): fewer sends.
    assert!(
        pipelined >= 10,
        "{generation:?}: only {pipelined} calls pipelined"
    );
    assert_eq!(
        answered + pipelined,
        sync_answered,
        "{generation:?}: every call still reaches the hub once"
    );
}

#[test]
fn discarded_sends_cost_no_round_trip_of_their_own() {
    let _serial = serial();
    // Each generation with its own semantics: B's `vh` pipelines too.
    for generation in [Generation::A, Generation::B] {
        let runner = Runner::start();
        let mut hub = hub_on(&runner, generation);
        discarded_sends_once(&mut hub);
    }
}

/// Twenty chat lines of three discarded sends each: one round trip apiece.
fn discarded_sends_once(hub: &mut Hub) {
    for _ in 0..20 {
        let (records, awaited, answered, pipelined) = chat(hub, b"sends");
        let sent: Vec<_> = records
            .iter()
            .filter(|r| r.starts_with(b"USERMC alice\tVerlihub\t"))
            .collect();
        assert_eq!(sent.len(), 3, "{}", show(&records));
        assert_eq!(
            (awaited, answered, pipelined),
            (1, 0, 3),
            "one round trip (the hook) per line"
        );
    }
}

#[test]
fn a_python2_script_pipelines_its_discarded_sends_as_a_python3_one_does() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    // pipe_order.py is Python 2 code too: its own `python` puts it there.
    let under_py2 = script_section(&py2, "pipe_order.py");
    for generation in [Generation::A, Generation::B] {
        let waiting = format!("[defaults]\npipeline_calls = false\n{under_py2}");
        same_record_both_ways(&waiting, &under_py2, generation);
        let runner = Runner::start_with(&under_py2);
        let mut hub = hub_on(&runner, generation);
        assert_eq!(faults::status_row(&runner, "pipe_order.py")["PY"], "2.7");
        discarded_sends_once(&mut hub);
    }
}

#[test]
fn pipeline_calls_false_makes_every_call_wait() {
    let _serial = serial();
    let runner =
        Runner::start_with("[[script]]\nmatch = \"pipe_order.py\"\npipeline_calls = false\n");
    let mut hub = hub_on(&runner, Generation::A);
    for _ in 0..5 {
        let (records, awaited, answered, pipelined) = chat(&mut hub, b"sends");
        assert_eq!(
            records
                .iter()
                .filter(|r| r.starts_with(b"USERMC alice\tVerlihub\t"))
                .count(),
            3,
            "{}",
            show(&records)
        );
        assert_eq!((awaited, answered, pipelined), (1, 3, 0));
    }
}

#[test]
fn a_failed_pipelined_call_is_logged_once_per_script_and_function() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = hub_on(&runner, Generation::A);
    let ((), log) = capture_stdout(|| {
        for _ in 0..3 {
            let (records, _, _, pipelined) = chat(&mut hub, b"fail");
            assert_eq!(pipelined, 2, "{}", show(&records));
            assert!(
                records.iter().all(|r| !r.starts_with(b"USERMC")),
                "{}",
                show(&records)
            );
        }
        // Later sends of the same script still go out.
        let (records, ..) = chat(&mut hub, b"sends");
        assert_eq!(
            records
                .iter()
                .filter(|r| r.starts_with(b"USERMC alice"))
                .count(),
            3
        );
    });
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("vh.usermc() failed"))
        .collect();
    assert_eq!(failures.len(), 1, "log:\n{log}");
    assert!(
        failures[0].contains("pipe_order.py") && failures[0].starts_with("PY: vh-shim: ["),
        "{}",
        failures[0]
    );
}
