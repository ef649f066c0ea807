//! Inter-script and nested calls through real parts (hubsim +
//! the shim + a real runner + real workers): `vh.ScriptCommand` reaching
//! every script, generation A's bot-name updates before `OnScriptCommand`
//! (docs/abi.md §4.3), `vh.*` calls that fire hooks into the
//! calling script while it is inside its own hook (§9.2), and the two
//! limits on runaway nesting (the worker's and the shim's).

mod common;

use std::time::Duration;

use common::{
    A_SEMANTICS, Runner, actions, capture_stdout, script, serial, shim_env, shim_path, show,
    wait_until,
};
use vh_hubsim::{Generation, Hub};

fn open(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 10_000);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

fn load(hub: &mut Hub, runner: &Runner, name: &str) -> i32 {
    let id = hub.load(&script(name));
    assert!(id >= 0, "{name}: {}", runner.log());
    id
}

fn login(hub: &mut Hub, nick: &[u8], class: i64) {
    assert!(hub.login(nick, class, b"10.0.0.1", b"", b"", b"", b"", b"0"));
}

/// The `HOOK <name>` records, as `(id, result)`.
fn hooks(records: &[Vec<u8>], name: &str) -> Vec<(i32, String)> {
    let prefix = format!("HOOK {name}\t");
    records
        .iter()
        .filter_map(|r| r.strip_prefix(prefix.as_bytes()))
        .map(|rest| {
            let text = String::from_utf8_lossy(rest).into_owned();
            let (id, result) = text.split_once('\t').unwrap_or((&text, ""));
            (id.parse().unwrap_or(-1), result.to_string())
        })
        .collect()
}

/// Fires timer ticks until every record of `want` is there (fire-and-forget
/// hooks make their `vh.*` calls run at the hub's next entry).
fn wait_for_records(hub: &mut Hub, want: &[Vec<u8>]) {
    let mut now = 2_000_000.0;
    wait_until(Duration::from_secs(10), "the scripts' records", || {
        let records = hub.records();
        if want.iter().all(|w| records.contains(w)) {
            return true;
        }
        now += 1.0;
        hub.timer(now);
        false
    });
}

#[test]
fn script_command_reaches_every_script_in_load_order() {
    let _serial = serial();
    // The scripts are written for generation A (ScriptCommand's instant,
    // bot renames): on the B hub they choose A's semantics in runner.toml.
    let runner = Runner::start_with(A_SEMANTICS);
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation);
        let sender = load(&mut hub, &runner, "isc_sender.py");
        let first = load(&mut hub, &runner, "isc_listener.py");
        let second = load(&mut hub, &runner, "isc_listener.py");
        let plain = load(&mut hub, &runner, "isc_plain.py");
        let order = vec![sender, first, second, plain];
        login(&mut hub, b"alice", 0);

        let got = |id: i32, cmd: &str, from: &str| {
            format!("MC Verlihub\t#{id} got {cmd} from {from}; bot Verlihub, opchat OpChat")
                .into_bytes()
        };
        // Instant: delivered from inside the sender's own hook, to every
        // script in load order (the sender included, nested in its hook).
        hub.clear_records();
        let blocked = !hub.chat(b"alice", b"send now hello");
        assert!(blocked, "{}\n{}", show(&hub.records()), runner.log());
        let records = hub.records();
        let dispatched: Vec<i32> = hooks(&records, "OnScriptCommand")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(dispatched, order, "{}", show(&records));
        let want: Vec<Vec<u8>> = [sender, first, second]
            .iter()
            .map(|&id| got(id, "greet(hello)", "python:isc_sender.py"))
            .chain([b"USERMC alice\tVerlihub\tsent now: True".to_vec()])
            .collect();
        wait_for_records(&mut hub, &want);

        // Queued: nothing until the next timer tick, then to every script.
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"send later bye"));
        assert!(hooks(&hub.records(), "OnScriptCommand").is_empty());
        assert!(hub.timer(1_000_000.0));
        let dispatched: Vec<i32> = hooks(&hub.records(), "OnScriptCommand")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(dispatched, order, "{}", show(&hub.records()));
        let want: Vec<Vec<u8>> = [sender, first, second]
            .iter()
            .map(|&id| got(id, "greet(bye)", "python:isc_sender.py"))
            .collect();
        wait_for_records(&mut hub, &want);

        // The hub renames its bots (SetConfig from inside the sender's
        // hook): every script's vh.botname / vh.opchatname changes before
        // its OnScriptCommand runs, also in a script without that hook.
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"rename"));
        let renamed = |id: i32, cmd: &str, bot: &str, opchat: &str| {
            format!("MC Guard\t#{id} got {cmd} from :; bot {bot}, opchat {opchat}").into_bytes()
        };
        let mut want = vec![b"USERMC alice\tGuard\tsender sees Guard Ops".to_vec()];
        for id in [sender, first, second] {
            want.push(renamed(
                id,
                "_hub_security_change(Guard)",
                "Guard",
                "OpChat",
            ));
            want.push(renamed(id, "_opchat_name_change(Ops)", "Guard", "Ops"));
        }
        wait_for_records(&mut hub, &want);
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"names"));
        assert!(
            actions(&hub.records())
                .contains(&format!("USERMC alice\tGuard\t#{plain} sees Guard Ops").into_bytes()),
            "{}",
            show(&hub.records())
        );
        drop(hub);
    }
}

#[test]
fn a_vh_call_that_fires_hooks_works_inside_the_callers_own_hook() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A);
    let id = load(&mut hub, &runner, "isc_nested.py");
    login(&mut hub, b"alice", 0);

    hub.clear_records();
    assert!(!hub.chat(b"alice", b"set ok"));
    assert_eq!(
        actions(&hub.records()),
        vec![
            b"MC Verlihub\tOnSetConfig config.motd '' -> 'hi' (-1)".to_vec(),
            b"CONFIG config\tmotd\thi".to_vec(),
            b"USERMC alice\tVerlihub\tset -> False, motd hi".to_vec(),
        ],
        "{}",
        show(&hub.records())
    );

    // The nested OnSetConfig vetoes: the value is not set.
    hub.clear_records();
    assert!(!hub.chat(b"alice", b"set vetoed"));
    assert_eq!(
        actions(&hub.records()),
        vec![
            b"MC Verlihub\tOnSetConfig config.locked '' -> 'x' (-1)".to_vec(),
            b"USERMC alice\tVerlihub\tvetoed, locked None".to_vec(),
        ],
        "{}",
        show(&hub.records())
    );

    hub.clear_records();
    assert!(!hub.chat(b"alice", b"cmd"));
    let records = hub.records();
    assert_eq!(
        actions(&records),
        vec![
            b"USERMC alice\tVerlihub\thook inside hook: +hello there".to_vec(),
            b"USERMC alice\tVerlihub\tafter cmd".to_vec(),
        ],
        "{}",
        show(&records)
    );
    // The nested hook's result is recorded before the outer one's.
    let user_cmd = records
        .iter()
        .position(|r| r == &format!("HOOK OnUserCommand\t{id}\tl:0").into_bytes());
    let chat = records
        .iter()
        .position(|r| r == &format!("HOOK OnParsedMsgChat\t{id}\tl:0").into_bytes());
    assert!(user_cmd.is_some() && user_cmd < chat, "{}", show(&records));
}

#[test]
fn runaway_recursion_stops_at_the_worker_depth_limit_and_the_hook_allows() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::B);
    load(&mut hub, &runner, "isc_recurse.py");
    login(&mut hub, b"alice", 0);
    for round in 0..2 {
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"+deeper"), "round {round}");
        assert_eq!(
            actions(&hub.records()),
            vec![b"USERMC alice\tVerlihub\tdeepest 32".to_vec()],
            "round {round}: {}",
            runner.log()
        );
    }
    // The refused hook said so once per runaway, and allowed.
    wait_until(Duration::from_secs(5), "the worker's log line", || {
        runner
            .log()
            .matches("OnUserCommand not called: hooks nested 32 deep inside vh.* calls")
            .count()
            == 2
    });
    let hooks_32 = hooks(&hub.records(), "OnUserCommand");
    assert_eq!(hooks_32.len(), 33, "32 called plus the one refused");
    assert!(hooks_32.iter().filter(|(_, r)| r == "l:1").count() == 1);
}

#[test]
fn scripts_recursing_through_each_other_stop_at_the_shim_nesting_limit() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A);
    load(&mut hub, &runner, "isc_ping.py");
    load(&mut hub, &runner, "isc_pong.py");
    login(&mut hub, b"alice", 0);
    hub.clear_records();
    let (blocked, out) = capture_stdout(|| !hub.chat(b"alice", b"+ping"));
    assert!(blocked);
    // 48 waits on the hub thread: each script handled every other level.
    assert_eq!(
        actions(&hub.records()),
        vec![
            b"USERMC alice\tVerlihub\tpong deepest 24".to_vec(),
            b"USERMC alice\tVerlihub\tping deepest 24".to_vec(),
        ],
        "{}",
        show(&hub.records())
    );
    assert_eq!(
        out.matches("not called: hooks nested 48 deep inside vh.* calls")
            .count(),
        1,
        "the shim logs once per runaway:\n{out}"
    );
    assert!(
        !runner.log().contains("hooks nested 32 deep"),
        "the workers' own limit was not reached"
    );
    // The hub goes on normally afterwards.
    hub.clear_records();
    assert!(hub.chat(b"alice", b"hello"));
    assert_eq!(actions(&hub.records()), vec![b"MC alice\thello".to_vec()]);
}
