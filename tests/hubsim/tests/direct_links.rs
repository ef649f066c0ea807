//! Direct links (docs/protocol.md "Direct links"): the runner
//! hands the shim one end of a socketpair per worker, and hooks, function
//! calls and the main thread's `vh.*` calls skip the runner. Checked
//! through real parts: hubsim driving the dlopened shim, a real runner,
//! real workers.

mod common;

use std::time::Duration;

use common::{Runner, actions, script, serial, shim_env, shim_path, show, wait_until};
use vh_hubsim::{Generation, Hub};

fn login(hub: &mut Hub, nick: &[u8]) -> bool {
    hub.login(nick, 0, b"10.0.0.1", b"d", b"<++ V:1>", b"", b"", b"0")
}

/// `(LINK, HOOKS, PID)` of script `name` in `vh-runner status`.
fn status_of(runner: &Runner, name: &str) -> (String, u64, String) {
    let out = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    let mut lines = out.lines().skip(1);
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.get(1) == Some(&name) {
            return (
                cells[col("LINK")].to_string(),
                cells[col("HOOKS")].parse().unwrap_or(0),
                cells[col("PID")].to_string(),
            );
        }
    }
    panic!("{name} not in the status:\n{out}");
}

/// Alice (logged in) says `line`; the script blocks it and answers her
/// `answer` with `vh.usermc`.
fn answered(hub: &mut Hub, runner: &Runner, line: &[u8], answer: &[u8]) {
    hub.clear_records();
    let shown = String::from_utf8_lossy(line);
    assert!(
        !hub.chat(b"alice", line),
        "{shown} not blocked\n{}",
        runner.log()
    );
    let want = [b"USERMC alice\tVerlihub\t".as_slice(), answer].concat();
    let got = actions(&hub.records());
    assert!(
        got.contains(&want),
        "{shown}: {}\n{}",
        show(&got),
        runner.log()
    );
}

/// Sends 100 `!ping`s from alice (logged in) and checks every answer.
fn ping_pong(hub: &mut Hub, runner: &Runner) {
    for _ in 0..100 {
        answered(hub, runner, b"!ping", b"pong");
    }
}

/// A hub of `generation` on `runner` with script `name` loaded and alice in.
fn hub_with(runner: &Runner, generation: Generation, name: &str) -> Hub {
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.load(&script(name)) >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"alice"));
    hub
}

/// A hub of `generation` on `runner` with ping.py loaded and alice in.
fn hub_with_ping(runner: &Runner, generation: Generation) -> Hub {
    hub_with(runner, generation, "ping.py")
}

#[test]
fn hooks_take_the_direct_link_and_the_hub_reports_their_round_trips() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = hub_with_ping(&runner, Generation::A);
    ping_pong(&mut hub, &runner);
    // The shim's IPC thread reports round trips every 250 ms.
    wait_until(Duration::from_secs(5), "hook round trips reported", || {
        status_of(&runner, "ping.py").1 >= 64
    });
    assert_eq!(status_of(&runner, "ping.py").0, "direct");
}

#[test]
fn without_direct_links_every_hook_goes_through_the_runner() {
    let _serial = serial();
    // Turned off in the hub's environment…
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    // SAFETY: serialised by `serial()`.
    unsafe { std::env::set_var("VH_DIRECT_LINKS", "0") };
    let mut hub = Hub::open(&shim_path(), Generation::B).expect("hubsim opens the shim");
    assert!(hub.load(&script("ping.py")) >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"alice"));
    ping_pong(&mut hub, &runner);
    let (link, hooks, _) = status_of(&runner, "ping.py");
    assert_eq!(link, "runner");
    // The runner timed every hook itself (login, 100 chats, OnScriptCommand…).
    assert!(hooks >= 100, "{hooks} hooks");
    drop(hub);
    drop(runner);
    // …or for one script in the runner's config.
    let runner = Runner::start_with("[[script]]\nmatch = \"ping.py\"\ndirect_link = false\n");
    let mut hub = hub_with_ping(&runner, Generation::A);
    ping_pong(&mut hub, &runner);
    assert_eq!(status_of(&runner, "ping.py").0, "runner");
}

#[test]
fn a_killed_worker_comes_back_with_a_new_direct_link() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = hub_with_ping(&runner, Generation::A);
    ping_pong(&mut hub, &runner);
    let (_, _, pid) = status_of(&runner, "ping.py");
    let pid: i32 = pid.parse().expect("a worker pid");
    // SAFETY: kill(2) on the worker's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    wait_until(Duration::from_secs(10), "the worker to be back", || {
        let (link, _, p) = status_of(&runner, "ping.py");
        link == "direct" && p != pid.to_string() && p != "-"
    });
    // The hub learns it is back from the runner; then hooks flow again.
    wait_until(Duration::from_secs(5), "hooks answered again", || {
        hub.clear_records();
        !hub.chat(b"alice", b"!ping")
    });
    ping_pong(&mut hub, &runner);
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn loading_unloading_and_failed_loads_leak_no_link() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    assert!(login(&mut hub, b"alice"));
    let cycle = |hub: &mut Hub| {
        let id = hub.load(&script("ping.py"));
        assert!(id >= 0, "{}", runner.log());
        hub.clear_records();
        assert!(!hub.chat(b"alice", b"!ping"), "{}", show(&hub.records()));
        assert!(hub.unload(id));
    };
    cycle(&mut hub);
    let before = fd_count();
    for _ in 0..20 {
        cycle(&mut hub);
        // A worker that dies while loading was handed a link too.
        assert_eq!(hub.load(&script("exit_at_import.py")), -1);
    }
    eprintln!("fds: {before} before, {} after", fd_count());
    // The runner hands over each link before the load answer; a worker's
    // end closes when it exits, ours when the script is unloaded.
    wait_until(Duration::from_secs(5), "the hub's fds to settle", || {
        fd_count() <= before
    });
}

#[test]
fn frames_sent_while_the_worker_is_busy_are_read_together_and_all_served_in_order() {
    // The worker reads what its link has in one go (docs/protocol.md
    // "Direct links"): hooks the hub sent while it was busy come with the
    // one it takes and wait their turn, and a pipelined call waits for them.
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = hub_with(&runner, Generation::B, "burst.py");
    let nicks: [&[u8]; 4] = [b"u1", b"u2", b"u3", b"u4"];
    for nick in nicks {
        assert!(login(&mut hub, nick));
    }
    // The first logout keeps the worker busy; the hub does not wait for
    // any of them.
    for nick in nicks {
        assert!(hub.logout(nick));
    }
    answered(&mut hub, &runner, b"seen?", b"u1,u2,u3,u4");
    assert_eq!(status_of(&runner, "burst.py").0, "direct");
}
