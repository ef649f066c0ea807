//! `systemctl stop vh-runner` with a hub attached. On SIGTERM the
//! runner tells the hub it is going, gives each script its `UnLoad`, and
//! exits 0 within 3 s; the hub's shim treats it as a lost runner and loads
//! its scripts again in the next runner, under the same ids.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{Runner, faults, script, serial, shim_env, shim_path, target_dir, wait_until};
use vh_hubsim::{Generation, Hub};

/// (worker pid, script id) of every USERMC answer so far, by script id.
fn reported(hub: &Hub) -> BTreeMap<i64, i64> {
    faults::usermc_numbers(hub)
        .into_iter()
        .map(|n| (n[1], n[0]))
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

/// A script whose `UnLoad()` hangs and an admin following its log do not
/// hold the stop up: the worker is killed after the 2 s grace, the other
/// script's `UnLoad()` still runs, and the runner exits 0 within 3 s.
#[test]
fn a_hanging_unload_and_a_log_follower_do_not_hold_up_the_stop() {
    let _serial = serial();
    let mut runner = Runner::start();
    shim_env(&runner.socket(), 2_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    assert!(hub.login(b"op", 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
    let quick = runner.dir.path().join("quick.py");
    std::fs::copy(script("unload_mark.py"), &quick).unwrap();
    let ids = [hub.load(&script("slow_unload.py")), hub.load(&quick)];
    assert!(ids.iter().all(|&i| i >= 0), "{}", runner.log());
    hub.chat(b"op", b"hi");
    let pids = reported(&hub);
    assert_eq!(pids.len(), 2, "{}", runner.log());
    let mut follower = std::process::Command::new(target_dir().join("vh-runner"))
        .args(["logs", "-f", "slow_unload.py", "--socket"])
        .arg(runner.socket())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let (status, took) = runner.terminate(Duration::from_secs(10));
    let log = runner.log();
    let _ = follower.kill();
    let _ = follower.wait();
    let status = status.unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{log}"));
    assert!(status.success(), "exit status {status:?}:\n{log}");
    assert!(
        took < Duration::from_secs(3),
        "took {took:?} to stop:\n{log}"
    );
    assert!(
        log.contains("workers still running after 2000 ms: killed"),
        "{log}"
    );
    let (quick_id, quick_pid) = (i64::from(ids[1]), pids[&i64::from(ids[1])]);
    assert!(
        runner
            .dir
            .path()
            .join(format!("unloaded-{quick_pid}-{quick_id}"))
            .exists(),
        "the other script's UnLoad did not run:\n{log}"
    );
    let slow_pid = pids[&i64::from(ids[0])];
    // SAFETY: kill(pid, 0) only probes.
    let alive = unsafe { libc::kill(slow_pid as i32, 0) } == 0;
    assert!(!alive, "the hanging worker {slow_pid} survived the stop");
}
