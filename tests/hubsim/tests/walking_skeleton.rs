//! The end-to-end path through real parts: the shim loaded with
//! dlopen and driven from C as python_pi drives it (hubsim), a real
//! `vh-runner`, and real Python workers running classic-style scripts.

mod common;

use std::time::{Duration, Instant};

use common::{Runner, actions, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, Hub};

const MYINFO: [&[u8]; 5] = [
    b"desc",
    b"<++ V:0.868,M:A,H:1/0/0,S:3>",
    b"100\x01",
    b"",
    b"0",
];

fn login(hub: &mut Hub, nick: &[u8]) -> bool {
    hub.login(
        nick,
        0,
        b"10.0.0.1",
        MYINFO[0],
        MYINFO[1],
        MYINFO[2],
        MYINFO[3],
        MYINFO[4],
    )
}

fn open(runner: &Runner, generation: Generation, deadline_ms: u64) -> Hub {
    shim_env(&runner.socket(), deadline_ms);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

#[test]
fn classic_script_greets_and_answers_ping_through_a_worker() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation, 5_000);
        let id = hub.load(&script("ping.py"));
        assert!(
            id >= 0,
            "load failed under {generation:?}:\n{}",
            runner.log()
        );

        assert!(login(&mut hub, b"alice"));
        assert!(
            hub.chat(b"alice", b"hello all"),
            "a plain message is allowed"
        );
        assert!(
            !hub.chat(b"alice", b"!ping"),
            "!ping is blocked (hook returned 0)"
        );

        let records = hub.records();
        let expected: Vec<&[u8]> = vec![
            b"MYINFO $MyINFO $ALL alice desc<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$$0$",
            b"MC Verlihub\tWelcome alice",
            b"MC alice\thello all",
            b"USERMC alice\tVerlihub\tpong",
            b"PM alice\tVerlihub\tVerlihub\tpong in pm",
        ];
        assert_eq!(
            actions(&records),
            expected,
            "under {generation:?}:\n{}",
            show(&records)
        );
        let hook_results: Vec<&[u8]> = records
            .iter()
            .filter(|r| r.starts_with(b"HOOK "))
            .map(Vec::as_slice)
            .collect();
        let id_s = id.to_string();
        let want: Vec<Vec<u8>> = [
            ("OnUserLogin", "l:1"),
            ("OnParsedMsgChat", "l:1"),
            ("OnParsedMsgChat", "l:0"),
        ]
        .iter()
        .map(|(h, r)| format!("HOOK {h}\t{id_s}\t{r}").into_bytes())
        .collect();
        assert_eq!(
            hook_results,
            want.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            "{}",
            show(&records)
        );
        assert!(hub.unload(id));
    }
}

#[test]
fn eight_bit_nicks_reach_the_script_and_come_back_byte_for_byte() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A, 5_000);
    hub.set_config(b"config", b"hub_encoding", b"CP1251");
    let id = hub.load(&script("echo_nick.py"));
    assert!(id >= 0, "{}", runner.log());

    // "Пользователь" in CP1251, and a latin-1 nick with 0x98, which CP1251 lacks.
    let cyrillic: &[u8] = b"\xcf\xee\xeb\xfc\xe7\xee\xe2\xe0\xf2\xe5\xeb\xfc";
    let latin1: &[u8] = b"J\xfcrgen\x98";
    for (nick, equal) in [(cyrillic, "equal=True"), (latin1, "equal=False")] {
        hub.clear_records();
        assert!(login(&mut hub, nick));
        let records = actions(&hub.records());
        let mut echoed = b"USERMC ".to_vec();
        for part in [nick, b"\t", nick, b"\t", nick] {
            echoed.extend_from_slice(part);
        }
        assert!(
            records.contains(&echoed),
            "nick not echoed byte-exact:\n{}",
            show(&records)
        );
        let said = format!("MC Verlihub\t{equal}").into_bytes();
        assert!(
            records.contains(&said),
            "script decoded the nick wrongly:\n{}",
            show(&records)
        );
    }
}

#[test]
fn sigkill_of_a_worker_mid_hook_allows_within_the_deadline() {
    let _serial = serial();
    let runner = Runner::start();
    let deadline = Duration::from_millis(2_000);
    let mut hub = open(&runner, Generation::A, deadline.as_millis() as u64);
    let hang = hub.load(&script("hang.py"));
    let ping = hub.load(&script("ping.py"));
    assert!(hang >= 0 && ping >= 0, "{}", runner.log());
    let pid: i32 = std::fs::read_to_string(runner.dir.path().join("hang.pid"))
        .expect("hang.py wrote its pid")
        .parse()
        .expect("pid");

    assert!(login(&mut hub, b"bob"));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: plain kill(2) of the worker's pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let started = Instant::now();
    let allowed = hub.chat(b"bob", b"!hang");
    let took = started.elapsed();
    killer.join().unwrap();
    assert!(allowed, "the hook of the killed worker allows");
    assert!(
        took < deadline,
        "the hub thread waited {took:?}, longer than the {deadline:?} deadline"
    );

    hub.clear_records();
    assert!(
        !hub.chat(b"bob", b"!ping"),
        "the other script still answers"
    );
    let records = actions(&hub.records());
    assert!(
        records.contains(&b"USERMC bob\tVerlihub\tpong".to_vec()),
        "{}",
        show(&records)
    );
    assert!(
        hub.chat(b"bob", b"still here"),
        "hooks to the dead script allow at once"
    );
}

#[test]
fn two_scripts_run_in_two_processes_without_shared_globals() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A, 5_000);
    let a = runner.dir.path().join("a.py");
    let b = runner.dir.path().join("b.py");
    std::fs::copy(script("state.py"), &a).unwrap();
    std::fs::copy(script("state.py"), &b).unwrap();
    let ids = [hub.load(&a), hub.load(&b)];
    assert!(
        ids[0] >= 0 && ids[1] >= 0 && ids[0] != ids[1],
        "{}",
        runner.log()
    );

    assert!(login(&mut hub, b"carol"));
    for _ in 0..2 {
        assert!(hub.chat(b"carol", b"count"));
    }
    let lines: Vec<Vec<i64>> = actions(&hub.records())
        .iter()
        .filter_map(|r| r.strip_prefix(b"USERMC carol\tVerlihub\t"))
        .map(|t| {
            String::from_utf8_lossy(t)
                .split(' ')
                .map(|n| n.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let (pid_a, pid_b) = (lines[0][0], lines[1][0]);
    assert_ne!(pid_a, pid_b, "each script has its own worker process");
    for pid in [pid_a, pid_b] {
        assert_ne!(pid, i64::from(std::process::id()));
        assert_ne!(pid, i64::from(runner.pid()));
    }
    // Load order, then each counter counts only its own hooks.
    assert_eq!(lines[0][1..], [i64::from(ids[0]), 1]);
    assert_eq!(lines[1][1..], [i64::from(ids[1]), 1]);
    assert_eq!(lines[2][1..], [i64::from(ids[0]), 2]);
    assert_eq!(lines[3][1..], [i64::from(ids[1]), 2]);
}

#[test]
fn vh_calls_return_hub_state_in_both_generations() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation, 5_000);
        assert!(hub.load(&script("lists.py")) >= 0, "{}", runner.log());
        assert!(login(&mut hub, b"dave"));
        assert!(login(&mut hub, b"erin"));
        let records = show(&actions(&hub.records()));
        assert!(
            records.contains("MC Verlihub\tnicks=OpChat,Verlihub,dave class=0"),
            "{generation:?}:\n{records}"
        );
        assert!(
            records.contains("MC Verlihub\tnicks=OpChat,Verlihub,dave,erin class=0"),
            "{generation:?}:\n{records}"
        );
    }
}

#[test]
fn a_load_without_a_runner_fails_fast_with_a_clear_line() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("empty.transcript");
    std::fs::write(&transcript, "# nothing\n").unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(common::target_dir().join("hubsim"))
        .arg("--shim")
        .arg(shim_path())
        .arg("--script")
        .arg(script("ping.py"))
        .arg(&transcript)
        .env("VH_RUNNER_SOCKET", dir.path().join("no-runner.sock"))
        .output()
        .expect("run hubsim");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the load must fail:\n{stdout}");
    assert!(stdout.contains("vh-runner is not reachable"), "{stdout}");
    assert_eq!(
        stdout.matches("not reachable").count(),
        1,
        "one line, not a flood:\n{stdout}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
