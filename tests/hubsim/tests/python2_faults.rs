//! What the supervisor gives Python 3 workers holds for Python 2
//! workers (the fault tests of `supervisor.rs`, with Python 2 scripts
//! loaded by the automatic choice): an exception in a hook, an endless
//! loop, `os._exit` at load, a killed worker, a runner restart; and a
//! Python 3 and a Python 2 script side by side on one hub, the PY column
//! of `vh-runner status`, a script's own `python` winning, generation B;
//! and that a worker that spun for dense hooks uses no CPU once idle.

mod common;

use std::time::Duration;

use common::faults::{self, status_row};
use common::py2::{config, python2, script, script_section};
use common::{Runner, actions, op_hub, serial, show, timed_chat, wait_until};
use vh_hubsim::{Generation, HookArg, Hub};

#[test]
fn an_exception_in_a_python2_hook_allows_and_logs_the_traceback() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    // Hooks run in the compiled loop (`vh._native`), then in the Python one.
    for extra in ["", "env = { VH_PY2_NATIVE = \"0\" }\n"] {
        let runner = Runner::start_with(&config(&py2, extra));
        let (_hub, text) = faults::exception_in_hook(
            &runner,
            &script("raise2.py"),
            "ZeroDivisionError: integer division or modulo by zero",
        );
        assert!(text.contains("Call (OnParsedMsgChat): failed"), "{text}");
        assert_eq!(status_row(&runner, "raise2.py")["PY"], "2.7");
    }
}

#[test]
fn an_endless_loop_in_python2_times_out_and_is_killed_and_restarted() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, faults::ENDLESS_LOOP_DEFAULTS));
    let _hub = faults::endless_loop(&runner, &script("spin2.py"), "hello from spin2");
    assert_eq!(status_row(&runner, "spin2.py")["PY"], "2.7");
}

#[test]
fn os_exit_at_python2_import_fails_the_load_cleanly() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, ""));
    // Its `print "about to exit"` (Python 2 syntax) ran: Python 2.7 at the
    // first try, as generation A's semantics pick it, not a fallback.
    let mut hub = faults::os_exit_at_import(&runner, &script("exit2.py"));
    assert!(
        !runner.log().contains("not Python 3 code"),
        "{}",
        runner.log()
    );
    let id = hub.load(&script("raise2.py"));
    assert!(
        id >= 0 && hub.chat(b"op", b"hi"),
        "another script still works"
    );
}

#[test]
fn a_python2_load_error_in_hub_bytes_is_reported_once() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, ""));
    let mut hub = op_hub(&runner, Generation::A);
    assert_eq!(hub.load(&script("bad_load2.py")), -1);
    let log = runner.log();
    // The traceback's CP1251 bytes are not UTF-8: they arrive replaced,
    // and the failure is the script's, not a broken link.
    assert!(
        log.contains("ValueError: \u{fffd}\u{fffd}\u{fffd}\u{fffd} is not welcome")
            && !log.contains("undecodable frame"),
        "{log}"
    );
    assert_eq!(
        log.matches("WARN vh_runner::worker: script failed to load")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn a_killed_python2_worker_is_restarted_and_a_runner_restart_brings_it_back() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let mut runner = Runner::start_with(&config(&py2, "restart_initial_ms = 100\n"));
    let mut hub = op_hub(&runner, Generation::A);
    let id = hub.load(&script("state2.py"));
    assert!(id >= 0, "{}", runner.log());
    // state2.py answers "<worker pid> <script id> <count>".
    let reported = |hub: &Hub| -> Vec<(i64, i64, i64)> {
        faults::usermc_numbers(hub)
            .into_iter()
            .map(|n| (n[0], n[1], n[2]))
            .collect()
    };
    hub.chat(b"op", b"count");
    hub.chat(b"op", b"count");
    let (pid0, id0, n) = *reported(&hub).last().unwrap();
    assert_eq!((id0, n), (i64::from(id), 2));

    // SIGKILL of the worker: the hook allows, the worker comes back.
    // SAFETY: plain kill(2) of the worker we started.
    unsafe { libc::kill(pid0 as i32, libc::SIGKILL) };
    wait_until(Duration::from_secs(15), "the restarted worker", || {
        hub.timer(0.0);
        let (_, held) = timed_chat(&mut hub, b"count");
        assert!(held < Duration::from_millis(2_500), "held the hub {held:?}");
        reported(&hub)
            .last()
            .is_some_and(|(pid, _, _)| *pid != pid0)
    });
    let (pid1, id1, n) = *reported(&hub).last().unwrap();
    assert_eq!(
        (id1, n),
        (i64::from(id), 1),
        "a fresh worker, same script id"
    );
    assert!(
        runner.log().contains("killed by signal 9"),
        "{}",
        runner.log()
    );

    // The runner killed and started again: the shim loads the script anew,
    // and the automatic choice finds Python 2.7 again.
    runner.kill();
    let (allowed, held) = timed_chat(&mut hub, b"count");
    assert!(
        allowed && held < Duration::from_millis(2_500),
        "runner gone: held {held:?}"
    );
    runner.restart();
    wait_until(Duration::from_secs(15), "the script to come back", || {
        hub.timer(0.0);
        hub.chat(b"op", b"count");
        reported(&hub)
            .last()
            .is_some_and(|(pid, _, _)| *pid != pid1)
    });
    let (_, id2, _) = *reported(&hub).last().unwrap();
    assert_eq!(
        id2,
        i64::from(id),
        "same script id after the runner restart"
    );
    assert_eq!(status_row(&runner, "state2.py")["PY"], "2.7");

    // The thread's calls, per worker: numbered 0, 1, 2, … with none lost,
    // duplicated or reordered.
    for _ in 0..20 {
        hub.timer(0.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    let per_pid = faults::thread_sequences(&hub);
    assert!(per_pid.len() >= 2, "{per_pid:?}");
    faults::assert_numbered_from_zero(&per_pid);
}

#[test]
fn python3_and_python2_scripts_side_by_side_and_a_scripts_python_wins() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    // py2_side.py is valid Python 3 too: only its own `python` puts it
    // under Python 2.
    let runner = Runner::start_with(&script_section(&py2, "py2_side.py"));
    for generation in [Generation::A, Generation::B] {
        let mut hub = op_hub(&runner, generation);
        let py3 = hub.load(&script("py3_side.py"));
        let py2_id = hub.load(&script("py2_side.py"));
        assert!(py3 >= 0 && py2_id >= 0, "{}", runner.log());
        hub.clear_records();
        assert!(hub.chat(b"op", b"!which"));
        let acts = actions(&hub.records());
        assert_eq!(
            acts,
            vec![
                b"USERMC op\tVerlihub\tpy3 3 str".to_vec(),
                b"USERMC op\tVerlihub\tpy2 2 str".to_vec(),
                b"MC op\t!which".to_vec(),
            ],
            "{generation:?}: {}",
            show(&acts)
        );
        let row = status_row(&runner, "py2_side.py");
        assert_eq!(
            (row["PY"].as_str(), row["LINK"].as_str()),
            ("2.7", "direct")
        );
        assert!(status_row(&runner, "py3_side.py")["PY"].starts_with("3."));
        if generation == Generation::B {
            wait_until(Duration::from_secs(5), "the generation B note", || {
                runner
                    .log()
                    .contains("Python 2 worker on a generation B hub")
            });
            // B's w_CallFunction on a Python 2 script (docs/abi.md §3.9), with a
            // re-entrant vh.* call inside.
            let func = |hub: &Hub| {
                hub.records()
                    .into_iter()
                    .filter(|r| r.starts_with(b"FUNC ") || r.starts_with(b"USERMC "))
                    .collect::<Vec<_>>()
            };
            hub.clear_records();
            let twice = hub.call_function(py2_id, b"Twice", "l", &[HookArg::Long(21)]);
            assert_eq!(twice, Ok(true));
            assert_eq!(
                func(&hub),
                vec![format!("FUNC Twice\t{py2_id}\tl:42").into_bytes()]
            );
            hub.clear_records();
            let greet = hub.call_function(py2_id, b"Greet", "s", &[HookArg::Str(Some(b"op"))]);
            assert_eq!(greet, Ok(true));
            assert_eq!(
                func(&hub),
                vec![
                    b"USERMC op\tVerlihub\thello op".to_vec(),
                    format!("FUNC Greet\t{py2_id}\ts:greeted op").into_bytes(),
                ]
            );
            let missing = hub.call_function(py2_id, b"Nope", "", &[]);
            assert_eq!(missing, Ok(false), "no such function: NULL");
        }
        drop(hub);
    }
}

/// User plus system CPU time of process `pid` so far (`/proc/PID/stat`).
fn cpu_time(pid: i64) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the worker's stat");
    // Fields after the command name, which ends at the last ')'.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn a_python2_worker_that_spun_for_dense_hooks_sleeps_once_they_stop() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, ""));
    let mut hub = op_hub(&runner, Generation::A);
    assert!(hub.load(&script("pid2.py")) >= 0, "{}", runner.log());
    // Hooks back to back: the main thread's spin budget grows to its largest.
    for _ in 0..200 {
        hub.chat(b"op", b"hi");
    }
    let pid = faults::usermc_numbers(&hub)
        .last()
        .expect("pid2.py's answers")[0];
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(100),
        "an idle Python 2 worker used {used:?} of CPU in 1 s"
    );
}
