//! The supervisor keeps the hub safe from every script, through
//! real processes: the shim driven by hubsim, a real runner, real workers.
//! In every case the hub thread never waits longer than the hook deadline.

mod common;

use std::time::{Duration, Instant};

use common::{Runner, faults, op_hub, said, script, serial, shim_path, timed_chat, wait_until};
use vh_hubsim::{Generation, Hub};

fn open(runner: &Runner) -> Hub {
    op_hub(runner, Generation::A)
}

#[test]
fn an_exception_in_a_hook_allows_and_logs_the_traceback() {
    let _serial = serial();
    let runner = Runner::start();
    faults::exception_in_hook(&runner, &script("raise.py"), "ZeroDivisionError");
}

#[test]
fn an_endless_loop_times_out_opens_the_circuit_and_is_killed_and_restarted() {
    let _serial = serial();
    let runner = Runner::start_with(&format!("[defaults]\n{}", faults::ENDLESS_LOOP_DEFAULTS));
    faults::endless_loop(&runner, &script("spin.py"), "hello from spin");
}

#[test]
fn os_exit_at_import_fails_the_load_cleanly_and_the_hub_goes_on() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = faults::os_exit_at_import(&runner, &script("exit_at_import.py"));
    let id = hub.load(&script("ping.py"));
    assert!(
        id >= 0 && !hub.chat(b"op", b"!ping"),
        "another script still works"
    );
}

#[test]
fn a_segfault_in_a_hook_allows_and_the_worker_is_restarted() {
    let _serial = serial();
    let runner = Runner::start_with("[defaults]\nrestart_initial_ms = 100\n");
    let mut hub = open(&runner);
    assert!(hub.load(&script("segv.py")) >= 0, "{}", runner.log());
    let (allowed, held) = timed_chat(&mut hub, b"!segv");
    assert!(
        allowed && held < Duration::from_millis(2_000),
        "allowed={allowed} held={held:?}"
    );
    let (allowed, held) = timed_chat(&mut hub, b"hi");
    assert!(
        allowed && held < Duration::from_millis(100),
        "a down script's hooks allow at once ({held:?})"
    );
    hub.clear_records();
    wait_until(
        Duration::from_secs(10),
        "the restarted script to answer",
        || {
            hub.timer(0.0);
            hub.chat(b"op", b"hi");
            said(&hub, "hello from segv")
        },
    );
    assert!(
        runner.log().contains("killed by signal 11"),
        "{}",
        runner.log()
    );
    let row = faults::status_row(&runner, "segv.py");
    assert_eq!(
        (row["STATE"].as_str(), row["RESTARTS"].as_str()),
        ("running", "1"),
        "one restart: {row:?}"
    );
}

#[test]
fn a_crash_loop_reaches_the_intensity_limit_and_stays_failed() {
    let _serial = serial();
    let runner = Runner::start_with(
        "[defaults]\nrestart_initial_ms = 50\nmax_crashes = 2\ncrash_window_s = 60\n",
    );
    let mut hub = open(&runner);
    assert!(hub.load(&script("crash_soon.py")) >= 0, "{}", runner.log());
    wait_until(
        Duration::from_secs(15),
        "the script to be marked failed",
        || {
            hub.timer(0.0);
            String::from_utf8_lossy(&runner.cli(&["status"]).stdout).contains("failed")
        },
    );
    let status = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    let row = status
        .lines()
        .find(|l| l.contains("crash_soon.py"))
        .unwrap_or_default();
    let cells = faults::status_row(&runner, "crash_soon.py");
    assert_eq!(
        (
            cells["PID"].as_str(),
            cells["STATE"].as_str(),
            cells["RESTARTS"].as_str()
        ),
        ("-", "failed", "2"),
        "{status}"
    );
    assert!(row.contains("failed: more than 2 crashes"), "{status}");
    // Failed stays failed: no new worker appears.
    std::thread::sleep(Duration::from_millis(500));
    assert!(String::from_utf8_lossy(&runner.cli(&["status"]).stdout).contains("failed"));
    let (allowed, held) = timed_chat(&mut hub, b"anything");
    assert!(allowed && held < Duration::from_millis(100), "{held:?}");
    // An admin brings it back.
    let out = runner.cli(&["restart", "crash_soon.py"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(Duration::from_secs(5), "the restarted worker", || {
        String::from_utf8_lossy(&runner.cli(&["status"]).stdout).contains("running")
    });
}

#[test]
fn runner_sigkill_then_restart_brings_scripts_back_with_their_ids() {
    let _serial = serial();
    let mut runner = Runner::start();
    let mut hub = open(&runner);
    let ids = [
        hub.load(&script("state.py")),
        hub.load(&script("seq_thread.py")),
    ];
    assert!(ids.iter().all(|&i| i >= 0), "{}", runner.log());
    // state.py answers "<worker pid> <script id>".
    let reported = |hub: &Hub| -> Vec<(i64, i64)> {
        faults::usermc_numbers(hub)
            .into_iter()
            .map(|n| (n[0], n[1]))
            .collect()
    };
    hub.chat(b"op", b"count");
    let (pid_before, id_before) = reported(&hub)[0];
    for _ in 0..20 {
        hub.timer(0.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.kill();
    let (allowed, held) = timed_chat(&mut hub, b"count");
    assert!(
        allowed && held < Duration::from_millis(2_000),
        "runner gone: held {held:?}"
    );
    runner.restart();
    wait_until(Duration::from_secs(15), "the scripts to come back", || {
        hub.timer(0.0);
        hub.chat(b"op", b"count");
        reported(&hub)
            .last()
            .is_some_and(|(pid, _)| *pid != pid_before)
    });
    let (pid_after, id_after) = *reported(&hub).last().unwrap();
    assert_eq!(
        id_after, id_before,
        "same script id after the runner restart"
    );
    assert_ne!(pid_after, pid_before);
    for _ in 0..20 {
        hub.timer(0.0);
        std::thread::sleep(Duration::from_millis(10));
    }
    // Calls from the script's thread: per worker, numbered 0, 1, 2, ... with
    // none lost, duplicated or reordered.
    let per_pid = faults::thread_sequences(&hub);
    assert_eq!(
        per_pid.len(),
        2,
        "one worker before and one after: {per_pid:?}"
    );
    faults::assert_numbered_from_zero(&per_pid);
}

#[test]
fn a_bad_config_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runner.toml");
    std::fs::write(&cfg, "[defaults]\nhook_deadline_ms = 100\nmax_crashs = 3\n").unwrap();
    let out = std::process::Command::new(common::target_dir().join("vh-runner"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&*cfg.to_string_lossy()) && err.contains("max_crashs"),
        "{err}"
    );
    std::fs::write(&cfg, "python = \"/opt/venv/bin/python\"\n[[script]]\nmatch = \"api.py\"\nhook_deadline_ms = 50\n")
        .unwrap();
    let out = std::process::Command::new(common::target_dir().join("vh-runner"))
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("python = \"/opt/venv/bin/python\""),
        "{text}"
    );
    assert!(
        text.contains("match = \"api.py\"") && text.contains("hook_kill_timeout_ms = 10000"),
        "{text}"
    );
}

#[test]
fn a_peer_whose_uid_is_not_allowed_is_refused() {
    let _serial = serial();
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("this test needs root to connect as another uid (CI runs as root)");
        return;
    }
    let runner = Runner::start_with("socket_mode = \"0666\"\n");
    let mut as_nobody = std::process::Command::new(common::target_dir().join("vh-runner"));
    as_nobody.arg("status").arg("--socket").arg(runner.socket());
    // SAFETY: setgid/setuid between fork and exec are async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut as_nobody, || {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = as_nobody.output().unwrap();
    assert!(!out.status.success(), "uid 65534 must be refused");
    wait_until(
        Duration::from_secs(5),
        "the refusal in the runner log",
        || runner.log().contains("refused a connection") && runner.log().contains("uid=65534"),
    );
    let own = runner.cli(&["status"]);
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
}

#[test]
fn status_without_a_runner_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::target_dir().join("vh-runner"))
        .arg("status")
        .arg("--socket")
        .arg(dir.path().join("none.sock"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("vh-runner is not running"),
        "{err}"
    );
}

#[test]
fn a_hook_whose_result_the_hub_ignores_does_not_hold_the_hub() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner);
    assert!(hub.load(&script("slow_logout.py")) >= 0, "{}", runner.log());
    let t = Instant::now();
    hub.logout(b"op");
    let held = t.elapsed();
    assert!(
        held < Duration::from_millis(100),
        "OnUserLogout held the hub {held:?}"
    );
    // The script's vh.mc from that hook runs at a later hub entry.
    wait_until(Duration::from_secs(5), "the script's goodbye", || {
        hub.timer(0.0);
        said(&hub, "MC Verlihub\tbye op")
    });
}

#[test]
fn an_interpreter_without_vh_gets_an_install_hint() {
    let _serial = serial();
    let venv = tempfile::tempdir().unwrap();
    let created = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(venv.path())
        .status()
        .unwrap();
    assert!(created.success());
    let bare = venv.path().join("bin/python");
    let runner = Runner::start_with(&format!(
        "[[script]]\nmatch = \"ping.py\"\npython = {:?}\n",
        bare.display().to_string()
    ));
    let mut hub = open(&runner);
    assert_eq!(hub.load(&script("ping.py")), -1);
    let log = runner.log();
    assert!(
        log.contains("has no `vh` package") && log.contains("-m pip install vh-runner-sdk"),
        "{log}"
    );
}

#[test]
fn a_hub_that_dies_takes_its_workers_with_it() {
    let _serial = serial();
    let runner = Runner::start();
    let transcript = common::repo_root().join("examples/sessions/2007-01-11_12.short.transcript");
    let mut hub = std::process::Command::new(common::target_dir().join("hubsim"))
        .arg("--shim")
        .arg(shim_path())
        .args([
            "--encoding",
            "CP1251",
            "--speed",
            "1",
            "--quiet",
            "--script",
        ])
        .arg(script("hang.py"))
        .arg(transcript)
        .env("VH_RUNNER_SOCKET", runner.socket())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = runner.dir.path().join("hang.pid");
    wait_until(Duration::from_secs(10), "the worker to start", || {
        pid_file.exists()
    });
    let worker: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The hub crashes: no w_Unload, no w_End, its stream just ends.
    let _ = hub.kill();
    let _ = hub.wait();
    wait_until(Duration::from_secs(10), "the worker to be stopped", || {
        // SAFETY: signal 0 only checks that the pid exists.
        unsafe { libc::kill(worker, 0) != 0 }
    });
    let status = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    assert!(status.contains("0 script(s)"), "{status}");
}
