//! The fault scenarios that `supervisor.rs` runs with Python 3 scripts and
//! `python2_faults.rs` with Python 2 ones: one body per
//! scenario, so both interpreters are held to the same checks, and the
//! readers of what the test scripts report.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use vh_hubsim::{Generation, Hub};

use super::{Runner, actions, op_hub, said, timed_chat, wait_until};

/// `[defaults]` lines for [`endless_loop`]: a 300 ms hook deadline, the
/// circuit open after two timeouts, the worker killed 1.5 s into a stuck
/// hook and restarted 100 ms later.
pub const ENDLESS_LOOP_DEFAULTS: &str = "hook_deadline_ms = 300\ncircuit_after = 2\nhook_kill_timeout_ms = 1500\nrestart_initial_ms = 100\n";

/// The file name of `script`, as `vh-runner status` and `logs` name it.
fn name_of(script: &Path) -> String {
    script
        .file_name()
        .expect("a script file")
        .to_string_lossy()
        .into_owned()
}

/// `script` raises in OnParsedMsgChat on `!raise`: the hook allows, the hub
/// gets the hook's record, the runner log gets `traceback` (the exception
/// line) and `vh-runner logs` shows the traceback, from the script's
/// function on. Returns the hub (the
/// script stays loaded while it lives) and what `logs` printed, for the
/// caller's own checks.
pub fn exception_in_hook(runner: &Runner, script: &Path, traceback: &str) -> (Hub, String) {
    let mut hub = op_hub(runner, Generation::A);
    let id = hub.load(script);
    assert!(id >= 0, "{}", runner.log());
    assert!(hub.chat(b"op", b"!raise"), "a hook that raised allows");
    assert!(
        hub.records()
            .contains(&format!("HOOK OnParsedMsgChat\t{id}\tl:1").into_bytes())
    );
    wait_until(
        Duration::from_secs(5),
        "the traceback in the runner log",
        || runner.log().contains(traceback),
    );
    let logs = runner.cli(&["logs", &name_of(script)]);
    let text = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(
        logs.status.success() && text.contains("Traceback") && text.contains(traceback),
        "{text}"
    );
    // The traceback starts at the script's function, as the plugin's did
    // (it called the function from C): no frame of the worker's own.
    let after = &text[text.find("Traceback").unwrap_or(0)..];
    let first = after.lines().nth(1).unwrap_or_default();
    assert!(
        first.contains(&name_of(script)) && !after.contains("/vh/_"),
        "the traceback's first frame is the script's:\n{text}"
    );
    (hub, text)
}

/// `script` loops forever on `!spin` and says `hello` to every other chat
/// line, on a runner started with [`ENDLESS_LOOP_DEFAULTS`]: each stuck
/// hook holds the hub no longer than about its deadline, two timeouts open
/// the circuit (hooks skipped at once), past the kill timeout the worker
/// is killed and restarted, and the new one answers. Returns the hub, on
/// which the script stays loaded.
pub fn endless_loop(runner: &Runner, script: &Path, hello: &str) -> Hub {
    let mut hub = op_hub(runner, Generation::A);
    assert!(hub.load(script) >= 0, "{}", runner.log());
    let (allowed, held) = timed_chat(&mut hub, b"!spin");
    assert!(allowed, "a hook past its deadline allows");
    assert!(
        held < Duration::from_millis(1_000),
        "held the hub {held:?} for a 300 ms deadline"
    );
    let (_, held) = timed_chat(&mut hub, b"hi");
    assert!(
        held < Duration::from_millis(1_000),
        "second timeout held the hub {held:?}"
    );
    // Two timeouts in a row: the circuit is open, hooks are skipped at once.
    let (allowed, held) = timed_chat(&mut hub, b"hi");
    assert!(
        allowed && held < Duration::from_millis(100),
        "open circuit still held the hub {held:?}"
    );
    // Past hook_kill_timeout_ms the runner kills the worker and restarts it.
    hub.clear_records();
    wait_until(
        Duration::from_secs(15),
        "the restarted script to answer",
        || {
            hub.timer(0.0);
            let (_, held) = timed_chat(&mut hub, b"hi");
            assert!(held < Duration::from_millis(1_000), "held the hub {held:?}");
            said(&hub, hello)
        },
    );
    assert!(
        runner.log().contains("stuck in OnParsedMsgChat"),
        "{}",
        runner.log()
    );
    assert_eq!(status_row(runner, &name_of(script))["STATE"], "running");
    hub
}

/// `script` calls `os._exit(1)` at import after printing "about to exit":
/// the load fails (-1) within 5 s, the log says the exit code and keeps
/// the script's last output. Returns the hub, on which the caller shows
/// that another script still works.
pub fn os_exit_at_import(runner: &Runner, script: &Path) -> Hub {
    let mut hub = op_hub(runner, Generation::A);
    let t = Instant::now();
    assert_eq!(hub.load(script), -1);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "load failure took {:?}",
        t.elapsed()
    );
    let log = runner.log();
    assert!(log.contains("exited with code 1"), "{log}");
    assert!(
        log.contains("about to exit"),
        "the script's last output is kept:\n{log}"
    );
    hub
}

/// The cells of script `name`'s row in `vh-runner status`, by column name
/// (`STATE`, `PY`, `LINK`, ...; the free-text LAST ERROR column is not
/// split reliably and is left to the caller).
pub fn status_row(runner: &Runner, name: &str) -> HashMap<String, String> {
    let out = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    let mut lines = out.lines().skip_while(|l| !l.starts_with("ID"));
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.get(1) == Some(&name) {
            return header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect();
        }
    }
    panic!("{name} not in the status:\n{out}");
}

/// The space-separated numbers of every answer the test scripts sent `op`
/// (`USERMC op` from `Verlihub`), in order: `state.py` sends
/// "<worker pid> <script id> [<count>]".
pub fn usermc_numbers(hub: &Hub) -> Vec<Vec<i64>> {
    actions(&hub.records())
        .iter()
        .filter_map(|r| r.strip_prefix(b"USERMC op\tVerlihub\t"))
        .map(|t| numbers(&String::from_utf8_lossy(t)))
        .collect()
}

/// The sequence numbers of the `OPCHAT` calls that a script's thread sent
/// as "<worker pid> <n>", by worker pid, in the order the hub ran them.
pub fn thread_sequences(hub: &Hub) -> BTreeMap<i64, Vec<i64>> {
    let mut per_pid: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in actions(&hub.records()) {
        if let Some(t) = r.strip_prefix(b"OPCHAT ") {
            let text = String::from_utf8_lossy(t);
            let n = numbers(text.rsplit('\t').next().unwrap_or_default());
            per_pid.entry(n[0]).or_default().push(n[1]);
        }
    }
    per_pid
}

/// Every worker's thread calls of [`thread_sequences`] ran numbered 0, 1,
/// 2, ... : none lost, duplicated or reordered.
pub fn assert_numbered_from_zero(per_pid: &BTreeMap<i64, Vec<i64>>) {
    for (pid, seqs) in per_pid {
        assert!(!seqs.is_empty());
        assert_eq!(
            *seqs,
            (0..seqs.len() as i64).collect::<Vec<_>>(),
            "worker {pid}: {seqs:?}"
        );
    }
}

fn numbers(text: &str) -> Vec<i64> {
    text.split(' ')
        .map(|x| {
            x.parse()
                .unwrap_or_else(|_| panic!("not a number in {text:?}"))
        })
        .collect()
}
