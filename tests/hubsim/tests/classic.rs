//! The classic corpus (`examples/classic/`), unchanged scripts in
//! python_pi's style, run through real parts (hubsim + the shim + a real
//! runner + real workers); each test checks what the script is documented
//! to do. They were written for generation A (a str from
//! `OnParsedMsgChat` replaces the text, `''` for an empty string, …): on
//! the B hub they choose A's semantics in runner.toml (docs/architecture.md
//! "Semantics"), as an admin would.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    A_SEMANTICS, Runner, actions, repo_root, serial, shim_env, shim_path, show, wait_until,
};
use vh_hubsim::{Generation, Hub};

fn classic(name: &str) -> PathBuf {
    repo_root().join("examples/classic").join(name)
}

fn open(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 5_000);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

fn load(hub: &mut Hub, runner: &Runner, name: &str) -> i32 {
    let id = hub.load(&classic(name));
    assert!(id >= 0, "{name}: {}", runner.log());
    id
}

fn login(hub: &mut Hub, nick: &[u8], class: i64, ip: &[u8], share: &[u8]) -> bool {
    hub.login(nick, class, ip, b"", b"", b"", b"", share)
}

/// Runs `event` after clearing the records; returns the action records.
fn after(hub: &mut Hub, event: impl FnOnce(&mut Hub) -> bool) -> (bool, Vec<Vec<u8>>) {
    hub.clear_records();
    let allowed = event(hub);
    (allowed, actions(&hub.records()))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[test]
fn blacklist_refuses_nicks_censors_words_and_disconnects_link_spammers() {
    let _serial = serial();
    let runner = Runner::start_with(A_SEMANTICS);
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation);
        load(&mut hub, &runner, "blacklist.py");

        let (ok, acts) = after(&mut hub, |h| login(h, b"spammer1", 0, b"10.0.0.5", b"0"));
        assert!(!ok);
        assert_eq!(
            acts,
            vec![
                b"OPCHAT OpChat\tblacklist: refused nick spammer1".to_vec(),
                b"CLOSE spammer1\tplugin".to_vec(),
            ],
            "{generation:?}"
        );
        assert!(login(&mut hub, b"alice", 0, b"10.0.0.1", b"0"));
        assert!(login(&mut hub, b"bob", 3, b"10.0.0.2", b"0"));

        // Substitution: the hub sends the censored text instead.
        let (ok, acts) = after(&mut hub, |h| h.chat(b"alice", b"oh darn, HECK it"));
        assert!(ok);
        assert_eq!(acts, vec![b"MC alice\toh ****, **** it".to_vec()]);

        for warning in 1..=2 {
            let (ok, acts) = after(&mut hub, |h| h.chat(b"alice", b"see spam.example now"));
            assert!(!ok);
            assert_eq!(
                acts,
                vec![
                    format!(
                        "USERMC alice\tVerlihub\tLinks to spam.example are not allowed here (warning {warning} of 2)."
                    )
                    .into_bytes()
                ]
            );
        }
        let (ok, acts) = after(&mut hub, |h| h.chat(b"alice", b"free-prizes.example!!"));
        assert!(!ok);
        assert_eq!(acts, vec![b"CLOSE alice\t2".to_vec()], "eCR_KICKED");

        let (ok, acts) = after(&mut hub, |h| h.chat(b"bob", b"!censor frak"));
        assert!(!ok);
        assert_eq!(
            acts,
            vec![b"USERMC bob\tVerlihub\tCensored words: darn, heck, frak".to_vec()]
        );
        let (_, acts) = after(&mut hub, |h| h.chat(b"bob", b"frak that"));
        assert_eq!(acts, vec![b"MC bob\t**** that".to_vec()]);
    }
}

#[test]
fn event_logger_writes_one_line_per_event_and_shows_the_last_ones() {
    let _serial = serial();
    let log = tempfile::NamedTempFile::new().expect("log file");
    // SAFETY: tests hold `serial()`; the runner (and its workers) inherit it.
    unsafe { std::env::set_var("VH_EVENT_LOG", log.path()) };
    let runner = Runner::start_with(A_SEMANTICS);
    unsafe { std::env::remove_var("VH_EVENT_LOG") };
    let mut hub = open(&runner, Generation::A);
    load(&mut hub, &runner, "event_logger.py");
    load(&mut hub, &runner, "blacklist.py");

    assert!(login(&mut hub, b"alice", 0, b"10.0.0.1", b"0"));
    assert!(hub.logout(b"alice"));
    assert!(login(&mut hub, b"mallory", 0, b"10.0.0.3", b"0"));
    for _ in 0..3 {
        hub.chat(b"mallory", b"spam.example");
    }
    assert!(login(&mut hub, b"bob", 5, b"10.0.0.2", b"0"));
    let expected = [
        "login alice 10.0.0.1 class 0",
        "logout alice",
        "close 10.0.0.1 alice quit",
        "login mallory 10.0.0.3 class 0",
        "logout mallory",
        "close 10.0.0.3 mallory kicked",
        "login bob 10.0.0.2 class 5",
    ];
    let events = || -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap_or_default()
            .lines()
            .map(|l| l.get(20..).unwrap_or("").to_string())
            .collect()
    };
    wait_until(Duration::from_secs(5), "the log lines", || {
        events().len() >= expected.len()
    });
    assert_eq!(events(), expected);

    let (ok, acts) = after(&mut hub, |h| h.chat(b"bob", b"!lastlog 2"));
    assert!(!ok);
    assert_eq!(acts.len(), 1, "{}", show(&acts));
    let pm = String::from_utf8_lossy(&acts[0]).into_owned();
    let lines: Vec<&str> = pm.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{pm}");
    assert_eq!(lines[0], "PM bob\tVerlihub\tVerlihub\tLast 2 events:");
    assert_eq!(lines[1].get(20..), Some("close 10.0.0.3 mallory kicked"));
    assert_eq!(lines[2].get(20..), Some("login bob 10.0.0.2 class 5"));
}

#[test]
fn paste_bot_keeps_pastes_and_sends_them_back() {
    let _serial = serial();
    let runner = Runner::start_with(A_SEMANTICS);
    let mut hub = open(&runner, Generation::B);
    hub.clear_records();
    load(&mut hub, &runner, "paste_bot.py");
    let records = actions(&hub.records());
    assert_eq!(
        records,
        vec![
            b"MYINFO $MyINFO $ALL PasteBot Paste bot: PM me text, get it back with +paste <n>$ $Bot\x01$$0$"
                .to_vec()
        ],
        "the bot joins at load"
    );
    assert!(login(&mut hub, b"alice", 0, b"10.0.0.1", b"0"));
    assert!(login(&mut hub, b"bob", 0, b"10.0.0.2", b"0"));

    let (ok, acts) = after(&mut hub, |h| {
        h.pm(b"alice", b"PasteBot", b"line one\r\nline two")
    });
    assert!(!ok);
    assert_eq!(
        acts,
        vec![
            b"PM alice\tPasteBot\tPasteBot\tSaved as paste #1 (+paste 1 shows it).".to_vec(),
            b"MC PasteBot\talice pasted #1: line one".to_vec(),
        ]
    );
    let (_, acts) = after(&mut hub, |h| h.chat(b"bob", b"+paste 1"));
    assert_eq!(
        acts,
        vec![b"PM bob\tPasteBot\tPasteBot\tPaste #1 by alice:\r\nline one\r\nline two".to_vec()]
    );
    let (_, acts) = after(&mut hub, |h| h.chat(b"bob", b"+pastes"));
    assert_eq!(
        acts,
        vec![b"PM bob\tPasteBot\tPasteBot\tPastes:\r\n#1 alice: line one".to_vec()]
    );
    let (_, acts) = after(&mut hub, |h| h.chat(b"bob", b"+paste 9"));
    assert_eq!(
        acts,
        vec![b"PM bob\tPasteBot\tPasteBot\tNo paste #9.".to_vec()]
    );

    // UnLoad() takes the bot out; a new load puts it back.
    let ids = hub.script_ids();
    assert!(hub.unload(ids[0]));
    let (ok, _) = after(&mut hub, |h| h.pm(b"alice", b"PasteBot", b"x"));
    assert!(!ok, "no bot to PM after the unload");
    load(&mut hub, &runner, "paste_bot.py");
    let (_, acts) = after(&mut hub, |h| h.pm(b"alice", b"PasteBot", b"again"));
    assert_eq!(
        acts[0],
        b"PM alice\tPasteBot\tPasteBot\tSaved as paste #1 (+paste 1 shows it).".to_vec()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The body of `GET path`, or None if the server does not answer.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

#[test]
fn hub_stats_api_serves_its_cache_which_only_the_timer_refreshes() {
    let _serial = serial();
    let port = free_port();
    // SAFETY: tests hold `serial()`; the runner (and its workers) inherit it.
    unsafe { std::env::set_var("HUB_STATS_PORT", port.to_string()) };
    let runner = Runner::start_with(A_SEMANTICS);
    unsafe { std::env::remove_var("HUB_STATS_PORT") };
    let mut hub = open(&runner, Generation::B);
    hub.set_config(b"config", b"hub_name", b"Test Hub");
    hub.set_config(b"config", b"hub_topic", b"Be nice");
    let id = load(&mut hub, &runner, "hub_stats_api.py");

    let stats = || get(port, "/stats").unwrap_or_default();
    let first = stats();
    assert!(
        first.contains("\"users\": 0") && first.contains("\"hub\": \"Test Hub\""),
        "{first}\n{}",
        runner.log()
    );
    assert!(login(&mut hub, b"alice", 0, b"10.0.0.1", b"1000"));
    assert!(login(&mut hub, b"bob", 3, b"10.0.0.2", b"500"));
    // The server thread reads only the cache: no change before a tick.
    assert!(stats().contains("\"users\": 0"));
    let t = now() + 10.0;
    hub.timer(t);
    let second = stats();
    for part in [
        "\"users\": 2",
        "\"share\": 1500",
        "\"topic\": \"Be nice\"",
        "\"nicks\": [\"Verlihub\", \"OpChat\", \"alice\", \"bob\"]",
        "\"ops\": [\"Verlihub\", \"OpChat\", \"bob\"]",
    ] {
        assert!(second.contains(part), "{part} in {second}");
    }
    assert!(hub.logout(b"alice"));
    hub.timer(t + 1.0);
    assert!(
        stats().contains("\"users\": 2"),
        "refreshed at most every 5 s"
    );
    hub.timer(t + 10.0);
    assert!(stats().contains("\"users\": 1"));
    assert_eq!(get(port, "/other").map(|b| b.contains("404")), Some(true));

    assert!(hub.unload(id));
    wait_until(Duration::from_secs(5), "the server to stop", || {
        get(port, "/stats").is_none()
    });
}
