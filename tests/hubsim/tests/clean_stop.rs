//! Issue 15: `systemctl stop vh-runner` with a hub attached. On SIGTERM the
//! runner tells the hub it is going, gives each script its `UnLoad`, and
//! exits 0 within 3 s; the hub's shim treats it as a lost runner and loads
//! its scripts again in the next runner, under the same ids.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{Runner, actions, script, serial, shim_env, shim_path, wait_until};
use vh_hubsim::{Generation, Hub};

/// (worker pid, script id) of every USERMC answer so far, by script id.
fn reported(hub: &Hub) -> BTreeMap<i64, i64> {
    actions(&hub.records())
        .iter()
        .filter_map(|r| r.strip_prefix(b"USERMC op\tVerlihub\t"))
        .map(|t| {
            let n: Vec<i64> = String::from_utf8_lossy(t)
                .split(' ')
                .map(|x| x.parse().expect("pid and id"))
                .collect();
            (n[1], n[0])
        })
        .collect()
}

fn sigterm_with_a_hub_attached(generation: Generation) {
    let _serial = serial();
    let mut runner = Runner::start();
    shim_env(&runner.socket(), 2_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.login(b"op", 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
    // Three scripts, each its own file (python_pi refuses a file twice).
    let paths: Vec<PathBuf> = ["one.py", "two.py", "three.py"]
        .iter()
        .map(|n| {
            let p = runner.dir.path().join(n);
            std::fs::copy(script("unload_mark.py"), &p).expect("copy the script");
            p
        })
        .collect();
    let ids: Vec<i64> = paths.iter().map(|p| i64::from(hub.load(p))).collect();
    assert!(ids.iter().all(|&i| i >= 0), "{}", runner.log());
    hub.chat(b"op", b"hi");
    let before = reported(&hub);
    assert_eq!(
        before.keys().copied().collect::<Vec<_>>(),
        ids,
        "{}",
        runner.log()
    );

    let (status, took) = runner.terminate(Duration::from_secs(10));
    let log = runner.log();
    let status = status.unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{log}"));
    assert!(status.success(), "exit status {status:?}:\n{log}");
    assert!(
        took < Duration::from_secs(3),
        "took {took:?} to stop:\n{log}"
    );
    for (id, pid) in &before {
        let mark = runner.dir.path().join(format!("unloaded-{pid}-{id}"));
        assert!(
            mark.exists(),
            "UnLoad of script #{id} (pid {pid}) did not run:\n{log}"
        );
    }
    for step in [
        "stopping: telling the attached hubs",
        "every attached hub told the runner is going",
        "every script unloaded",
        "vh-runner stopped",
    ] {
        assert!(log.contains(step), "no {step:?} in the log:\n{log}");
    }
    assert!(!runner.socket().exists(), "the socket file is left behind");

    // Meanwhile the hub goes on: hooks allow without the runner.
    assert!(hub.chat(b"op", b"alone"));
    // A new runner on the same socket: the shim reconnects by itself and
    // loads the same scripts again, under the same ids.
    runner.restart();
    wait_until(
        Duration::from_secs(15),
        "the scripts in the new runner",
        || {
            hub.clear_records();
            hub.timer(0.0);
            hub.chat(b"op", b"again");
            let after = reported(&hub);
            after.len() == ids.len() && after.iter().all(|(id, pid)| before.get(id) != Some(pid))
        },
    );
}

#[test]
fn sigterm_stops_cleanly_and_scripts_load_again_generation_a() {
    sigterm_with_a_hub_attached(Generation::A);
}

#[test]
fn sigterm_stops_cleanly_and_scripts_load_again_generation_b() {
    sigterm_with_a_hub_attached(Generation::B);
}
