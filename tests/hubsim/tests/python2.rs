//! Scripts written for python_pi 1.6 (Python 2.7) run unchanged,
//! each in its own Python 2.7 worker, through real parts: hubsim drives the
//! shim as python_pi does, a real runner picks the interpreter (no
//! `python` for the script: under generation A's semantics Python 2.7, as
//! python_pi 1.6 ran every script),
//! a real `python2.7` runs the runner's own `vh` package. Every assertion
//! is a callback the hub received or a hook result, as docs/abi.md
//! §7 (A column) and §4.3 describe them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::py2::{config, python2, script};
use common::{Runner, actions, faults, serial, shim_env, shim_path, show, wait_until};
use vh_hubsim::{Generation, Hub};

/// Cyrillic "Иван" in CP1251 and "Jürgen" in Latin-1: bytes no UTF-8
/// decoder accepts, which must reach the script and come back unchanged.
const CP1251_NICK: &[u8] = b"\xc8\xe2\xe0\xed";
const LATIN1_NICK: &[u8] = b"J\xfcrgen";

fn open(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 5_000);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

fn login(hub: &mut Hub, nick: &[u8], class: i64) -> bool {
    hub.login(
        nick,
        class,
        b"10.0.0.9",
        b"desc",
        b"<++ V:1>",
        b"1\x01",
        b"m@x",
        b"42",
    )
}

/// Says `text` as `nick`; returns (allowed, the action records).
fn say(hub: &mut Hub, nick: &[u8], text: &[u8]) -> (bool, Vec<Vec<u8>>) {
    hub.clear_records();
    let allowed = hub.chat(nick, text);
    (allowed, actions(&hub.records()))
}

fn usermc(to: &[u8], text: &[u8]) -> Vec<u8> {
    [b"USERMC ", to, b"\tVerlihub\t", text].concat()
}

fn hook_line(hub: &Hub, hook: &str, id: i32) -> String {
    let prefix = format!("HOOK {hook}\t{id}\t");
    hub.records()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .find(|r| r.starts_with(&prefix))
        .unwrap_or_default()
}

fn load(hub: &mut Hub, runner: &Runner, path: &Path) -> i32 {
    let id = hub.load(path);
    assert!(
        id >= 0,
        "{} did not load:\n{}",
        path.display(),
        runner.log()
    );
    id
}

#[test]
fn a_classic_python2_script_loads_by_the_automatic_choice_and_keeps_a_semantics() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    // With a direct link to the hub (hooks in the compiled loop, and in
    // the Python one), and relayed through the runner.
    for (extra, link) in [
        ("", "direct"),
        (PYTHON_LOOP, "direct"),
        ("direct_link = false\n", "runner"),
    ] {
        let runner = Runner::start_with(&config(&py2, extra));
        classic_script(&runner, link);
    }
}

/// `[defaults]` line that turns the Python 2 worker's compiled hook loop
/// (`vh._native`) off: hooks run in `vh._hook_loop`'s Python loop.
const PYTHON_LOOP: &str = "env = { VH_PY2_NATIVE = \"0\" }\n";

#[test]
fn python2_hooks_run_in_the_compiled_loop_unless_it_is_turned_off() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    // loop2.py names the function that called its hook: the compiled loop
    // is called from `serve_hooks` and adds no Python frame of its own.
    for (extra, caller) in [(PYTHON_LOOP, "serve_hooks_in_python"), ("", "serve_hooks")] {
        let runner = Runner::start_with(&config(&py2, extra));
        let mut hub = open(&runner, Generation::A);
        load(&mut hub, &runner, &script("loop2.py"));
        assert!(login(&mut hub, b"bob", 0));
        for _ in 0..3 {
            let (ok, acts) = say(&mut hub, b"bob", b"!loop");
            assert!(!ok, "0 blocks");
            assert_eq!(
                acts,
                vec![usermc(b"bob", caller.as_bytes())],
                "{}",
                show(&acts)
            );
            assert!(say(&mut hub, b"bob", b"hello").0, "1 allows");
        }
    }
}

#[test]
fn the_automatic_choice_falls_back_to_the_other_python_with_one_line() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, ""));
    // On an A hub Python 2.7 comes first: Python 3 syntax sends the script
    // on to Python 3.
    let modern = runner.dir.path().join("modern.py");
    std::fs::write(
        &modern,
        "def OnParsedMsgChat(nick, message):\n    return (f\"hi {nick}\", 1)\n",
    )
    .unwrap();
    let mut hub = open(&runner, Generation::A);
    load(&mut hub, &runner, &modern);
    let row = faults::status_row(&runner, "modern.py");
    assert!(row["PY"].starts_with('3'), "{row:?}");
    let log = runner.log();
    assert!(
        log.contains("not Python 2 code (SyntaxError")
            && log.contains("loading it again under Python 3"),
        "{log}"
    );
    drop(hub);
    // On a B hub Python 3 comes first: Python 2 syntax sends the script on
    // to Python 2.7.
    let mut hub = open(&runner, Generation::B);
    load(&mut hub, &runner, &script("classic2.py"));
    assert_eq!(faults::status_row(&runner, "classic2.py")["PY"], "2.7");
    let log = runner.log();
    assert!(
        log.contains("not Python 3 code") && log.contains("loading it again under Python 2.7"),
        "{log}"
    );
}

#[test]
fn when_both_pythons_fail_the_hub_gets_the_error_of_the_scripts_own_python() {
    let _serial = serial();
    let Some(py2) = python2() else { return };
    let runner = Runner::start_with(&config(&py2, ""));
    // A Python 2 script whose module is not installed: 2.7 fails on the
    // import, Python 3 on the `print` statement. python_pi 1.6 would have
    // shown the ImportError, and so must the hub now.
    let old = runner.dir.path().join("needs_module.py");
    std::fs::write(&old, "import vh_no_such_module\nprint \"loaded\"\n").unwrap();
    let mut hub = open(&runner, Generation::A);
    assert!(hub.load(&old) < 0, "{}", runner.log());
    let log = runner.log();
    assert!(
        log.contains(
            "ImportError: No module named vh_no_such_module\n\
             (vh-runner: under Python 3 it failed too: SyntaxError"
        ),
        "{log}"
    );
}

/// `vh_shim_compact_frames` of the loaded shim: `(written, read)`.
fn compact_frames() -> (u64, u64) {
    let [w, r] = common::shim_counters(c"vh_shim_compact_frames");
    (w, r)
}

fn classic_script(runner: &Runner, link: &str) {
    let mut hub = open(runner, Generation::A);
    let id = load(&mut hub, runner, &script("classic2.py"));
    assert_eq!(faults::status_row(runner, "classic2.py")["LINK"], link);
    // Generation A's semantics: Python 2.7 first, as python_pi 1.6 ran
    // every script, so no Python 3 attempt and no fallback line.
    assert_eq!(faults::status_row(runner, "classic2.py")["PY"], "2.7");
    let log = runner.log();
    assert!(!log.contains("not Python 3 code"), "{log}");
    assert!(login(&mut hub, CP1251_NICK, 0));
    assert!(login(&mut hub, LATIN1_NICK, 0));
    assert!(login(&mut hub, b"bob", 0));
    assert!(login(&mut hub, b"opx", 3));

    // Hub strings are Python 2 str holding the hub's bytes, both ways.
    for nick in [CP1251_NICK, LATIN1_NICK] {
        let before = compact_frames();
        let (ok, acts) = say(&mut hub, nick, b"!echo");
        // On the direct link the hook call, the pipelined vh.usermc and the
        // hook's result are compact frames (docs/protocol.md "Compact
        // frames"); through the runner none is.
        let after = compact_frames();
        let want = if link == "direct" { (1, 2) } else { (0, 0) };
        assert_eq!((after.0 - before.0, after.1 - before.1), want, "{link}");
        assert!(!ok, "0 blocks: {}\n{}", show(&hub.records()), runner.log());
        let text = [
            b"you are ".as_slice(),
            nick,
            format!(" str {}", nick.len()).as_bytes(),
        ]
        .concat();
        assert_eq!(acts, vec![usermc(nick, &text)], "{}", show(&acts));
    }
    let nicks = [
        b"nicks: Verlihub,OpChat,".as_slice(),
        CP1251_NICK,
        b",",
        LATIN1_NICK,
        b",bob,opx str",
    ]
    .concat();
    assert_eq!(
        say(&mut hub, b"bob", b"!who").1,
        vec![usermc(b"bob", &nicks)]
    );
    let raw = [
        b"$NickList Verlihub$$OpChat$$".as_slice(),
        CP1251_NICK,
        b"$$",
        LATIN1_NICK,
        b"$$bob$$opx$$",
    ]
    .concat();
    assert_eq!(say(&mut hub, b"bob", b"!raw").1, vec![usermc(b"bob", &raw)]);
    // Replies to "bob": (command, the reply's text).
    let replies: &[(&[u8], &[u8])] = &[
        (b"!ops", b"ops: ['Verlihub', 'OpChat', 'opx']"),
        // Python 2's standard library and syntax.
        (b"!cfg", b"cfg classic"),
        (b"!url", b"url a%20b/c"),
        (b"!err", b"caught boom"),
        (b"!count", b"count 7 long 40"),
        // A's argument checks: unicode and long are refused with the failure
        // value (False) and no exception; nothing reaches the hub.
        (b"!unicode", b"unicode refused False"),
        (b"!long", b"long refused False"),
        // Results of A: int, str, tuples; SQL's failure value (hubsim has no
        // database).
        (b"!class", b"class 0 ip '10.0.0.9'"),
        (
            b"!myinfo",
            b"myinfo ('bob', 'desc', '<++ V:1>', '1\\x01', 'm@x', '42')",
        ),
        (b"!sql", b"sql 0 []"),
        (
            b"!attrs",
            b"attrs True 'Verlihub' 'OpChat' 'classic2.py' (1, 6, 0, 0)",
        ),
        (b"!attrs2", b"attrs2 'config' '/tmp' int True True"),
        (b"!consts", b"consts 2 4 5"),
        (b"!enc", b"a&#36;b&#124;c $|"),
    ];
    for &(command, reply) in replies {
        assert_eq!(
            say(&mut hub, b"bob", command).1,
            vec![usermc(b"bob", reply)],
            "{}",
            String::from_utf8_lossy(command)
        );
    }

    // Hook results as A's wrapper maps them (§4.3).
    let (ok, acts) = say(&mut hub, CP1251_NICK, b"!sub \xe0\xe1\xe2");
    assert!(ok);
    assert_eq!(
        acts,
        vec![[b"MC ".as_slice(), CP1251_NICK, b"\t\xe0\xe1\xe2"].concat()]
    );
    let (ok, acts) = say(&mut hub, b"bob", b"!both hi");
    assert!(ok);
    assert_eq!(acts, vec![b"MC Bot\thi".to_vec()]);
    for (text, what) in [
        (&b"!long0"[..], "a long is unexpected: allow"),
        (b"!unicode0", "unicode is unexpected: allow"),
        (b"!bad", "a list is unexpected: allow"),
    ] {
        let (ok, _) = say(&mut hub, b"bob", text);
        assert!(ok, "{what}");
        assert_eq!(
            hook_line(&hub, "OnParsedMsgChat", id),
            format!("HOOK OnParsedMsgChat\t{id}\tl:1"),
            "{what}"
        );
    }
    hub.clear_records();
    assert!(!hub.pm(b"bob", LATIN1_NICK, b"!reply"));
    assert!(
        hub.records()
            .contains(&b"RAW bob\treplied to bob|".to_vec()),
        "(str, 0) sends and blocks:\n{}",
        show(&hub.records())
    );

    // OnTimer without its argument.
    hub.clear_records();
    hub.timer(1_700_000_000.0);
    assert_eq!(
        actions(&hub.records()),
        vec![b"OPCHAT OpChat\ttick without an argument".to_vec()]
    );

    // A thread's vh.* call runs at the hub's next entry into the shim (may
    // be while the hub still waits for the hook that started the thread).
    let (ok, _) = say(&mut hub, b"bob", b"!thread");
    assert!(!ok);
    wait_until(Duration::from_secs(5), "the thread's call", || {
        if show(&hub.records()).contains("OPCHAT OpChat\tfrom a thread") {
            return true;
        }
        hub.timer(1_700_000_001.0);
        false
    });

    // Re-entrancy: SetConfig fires OnSetConfig into the same script, whose
    // vh.* call runs while the outer one waits; then A's _update_settings
    // renames vh.botname. SetConfig returns False (A's bug, §7.2).
    let (_, acts) = say(&mut hub, b"bob", b"!rename");
    assert_eq!(
        acts,
        vec![
            b"OPCHAT OpChat\tsetconfig hub_security Verlihub -> \xc1\xee\xf2".to_vec(),
            b"CONFIG config\thub_security\t\xc1\xee\xf2".to_vec(),
            b"USERMC bob\t\xc1\xee\xf2\trenamed False '\\xc1\\xee\\xf2'".to_vec(),
        ],
        "{}",
        show(&acts)
    );

    // UnLoad runs at unload.
    assert!(hub.unload(id));
    let marker = runner.dir.path().join("classic2.unloaded");
    wait_until(Duration::from_secs(5), "UnLoad()", || marker.exists());
}
