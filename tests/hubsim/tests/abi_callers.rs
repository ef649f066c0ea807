//! The shim as a drop-in for every C caller of the wrapper, not only for
//! python_pi's call pattern (docs/compatibility.md "C callers of the
//! wrapper"). Each test runs one scenario of `tests/hubsim/c/abi_callers.c`
//! (`hubsim --abi`, its own process) against the shim under both plugin
//! generations and checks each generation's original behaviour
//! (docs/abi.md); where `VERLIHUB_SRC_A` / `VERLIHUB_SRC_B` point at the
//! Verlihub sources, the same scenario also runs against that generation's
//! own wrapper, built from them, and the two must print the same lines.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::originals::{Original, original};
use common::{Runner, serial, shim_env, shim_path, target_dir, wait_until};

const GENS: [char; 2] = ['A', 'B'];

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts_abi")
        .join(name)
}

/// What one `hubsim --abi` run printed: its `ABI` lines (without the
/// prefix) and its `TIME` lines.
struct Printed {
    lines: Vec<String>,
    times: Vec<String>,
}

fn hubsim(
    wrapper: &Path,
    g: char,
    scenario: &str,
    script_name: &str,
    env: &[(String, String)],
    out: &Path,
    close_std: bool,
) -> Child {
    let mut cmd = Command::new(target_dir().join("hubsim"));
    cmd.arg("--shim")
        .arg(wrapper)
        .args(["--gen", &g.to_string(), "--abi", scenario, "--script"])
        .arg(script(script_name))
        .env("HUBSIM_ABI_OUT", out)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if close_std {
        cmd.arg("--close-std");
    }
    cmd.spawn().expect("start hubsim")
}

/// Runs `scenario` with `script_name` against `wrapper` of generation
/// `g`; panics (with hubsim's output) unless it finished cleanly within
/// two minutes.
fn run(
    wrapper: &Path,
    g: char,
    scenario: &str,
    script_name: &str,
    env: &[(String, String)],
) -> Printed {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = hubsim(wrapper, g, scenario, script_name, env, out.path(), false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("hubsim status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("hubsim output");
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    let printed = Printed {
        lines: text
            .lines()
            .filter_map(|l| l.strip_prefix("ABI "))
            .map(String::from)
            .collect(),
        times: text
            .lines()
            .filter_map(|l| l.strip_prefix("TIME "))
            .map(String::from)
            .collect(),
    };
    assert!(
        output.status.success() && printed.lines.last() == Some(&format!("done {scenario}")),
        "{} g {g} --abi {scenario}: {}\nprinted:\n{text}\nstdout:\n{}\nstderr:\n{}",
        wrapper.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

fn owned(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// Runs `scenario` on the shim under both generations (a fresh runner)
/// and checks `want(g)`; then on each original that can be built, which
/// must print the same lines as the shim, but for those `departs(g)`
/// names (the shim's are checked, the original's printed).
fn check(
    scenario: &str,
    script_name: &str,
    env: &[(&str, &str)],
    want: impl Fn(char) -> Vec<String>,
    departs: impl Fn(char) -> Vec<&'static str>,
) {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for g in GENS {
        let mut want = want(g);
        want.push(format!("done {scenario}"));
        let shim = run(&shim_path(), g, scenario, script_name, &env).lines;
        assert_eq!(shim, want, "shim, generation {g}, --abi {scenario}");
        let Some(Original {
            wrapper,
            env: orig_env,
        }) = original(g)
        else {
            continue;
        };
        let all: Vec<(String, String)> = env.iter().cloned().chain(orig_env).collect();
        let orig = run(&wrapper, g, scenario, script_name, &all).lines;
        let keep = |lines: &[String]| -> Vec<String> {
            let skip = departs(g);
            lines
                .iter()
                .filter(|l| !skip.iter().any(|d| l.starts_with(d)))
                .cloned()
                .collect()
        };
        eprintln!("original {g} --abi {scenario}: {orig:?}");
        assert_eq!(
            keep(&shim),
            keep(&orig),
            "shim and original {g} differ, --abi {scenario}"
        );
    }
}

/// docs/abi.md §2.7: under B a caller may free a result's strings and then
/// the struct (or `w_free_args` it); under A the struct is one block.
#[test]
fn results_are_allocated_as_each_generations_wrapper_did() {
    check(
        "results",
        "abi_results.py",
        &[],
        |g| match g {
            'A' => owned(&["loaded 1", "chat ss:(null):re: text"]),
            _ => owned(&[
                "loaded 1",
                "chat s:re: text",
                "chat_again s:re: more",
                "function s:echo abc",
                "function_again s:echo abc",
            ]),
        },
        |_| Vec::new(),
    );
}

/// docs/abi.md §4.3, §5: A refuses a format other than the plugin's (NULL)
/// and maps every other type to `l:1`; B calls the script with what it got
/// and returns `s`, `d`, or NULL for types it has no element for.
#[test]
fn hooks_take_other_formats_and_return_other_types_as_each_generation_did() {
    check(
        "args",
        "abi_args.py",
        &[],
        |g| match g {
            'A' => owned(&[
                "loaded 1",
                "timer_no_arg NULL",
                "timer_d l:41",
                "timer_l NULL",
                "newconn_sl NULL",
                "newconn_s l:51",
                "login_float l:1",
                "inlist_list l:1",
                "pm_str l:1",
            ]),
            _ => owned(&[
                "loaded 1",
                "timer_no_arg l:40",
                "timer_d l:41",
                "timer_l l:41",
                "newconn_sl l:52",
                "newconn_s l:51",
                "login_float d:1.5",
                "inlist_list NULL",
                "pm_str s:str",
            ]),
        },
        |_| Vec::new(),
    );
}

/// docs/abi.md §3.4: A reserves nothing (the same id twice), B a new id at
/// every call; A's `w_Load` refuses an id it did not give (§3.5). After an
/// unload A gave the freed id again; the shim never reuses one (a
/// departure, docs/compatibility.md).
#[test]
fn reserve_id_twice_before_any_load_gives_each_generations_ids() {
    check(
        "reserve",
        "abi_plain.py",
        &[],
        |g| match g {
            'A' => owned(&[
                "reserve 0 0",
                "loaded_as 0",
                "reserve_after_unload 1",
                "load_unreserved -1",
            ]),
            _ => owned(&["reserve 0 1", "loaded_as 2", "reserve_after_unload 3"]),
        },
        |g| match g {
            'A' => vec!["reserve_after_unload"],
            _ => Vec::new(),
        },
    );
}

/// docs/abi.md §3.10 (B): an id has its slot from `w_ReserveID` on, so a
/// plugin registers functions for it before and during its `w_Load`.
#[test]
fn functions_register_for_a_reserved_id_before_and_during_its_load() {
    check(
        "register",
        "abi_register.py",
        &[],
        |g| match g {
            'A' => owned(&["register absent"]),
            _ => owned(&[
                "register_unreserved 0",
                "register_reserved 1",
                "register_during 1",
                "loaded_as_reserved 1",
                "report s:pre=40 during=50",
                "register_after_unload 0",
            ]),
        },
        |_| Vec::new(),
    );
}

/// docs/abi.md §3.2: A copies the table at `w_Begin`, B keeps the pointer
/// and sees an entry filled in afterwards.
#[test]
fn a_callback_filled_in_after_w_begin_is_seen_under_b_only() {
    check(
        "late",
        "abi_plain.py",
        &[("HUBSIM_LATE_CALLBACK", "GetUsersCount")],
        |g| {
            let calls = if g == 'A' { 0 } else { 1 };
            owned(&["loaded 1", &format!("late_callback_calls {calls}")])
        },
        |_| Vec::new(),
    );
}

/// docs/abi.md §8: neither original calls `GetConfig` by itself. The shim
/// asks for `hub_encoding` once, at the first load, unless
/// `VH_HUB_ENCODING` names it (a departure, docs/compatibility.md).
#[test]
fn the_shim_asks_for_the_hub_encoding_once_unless_configured() {
    check(
        "config",
        "abi_plain.py",
        &[("VH_HUB_ENCODING", "CP1252")],
        |_| {
            owned(&[
                "getconfig_before_load 0",
                "loaded 1",
                "getconfig_after_load 0",
            ])
        },
        |_| Vec::new(),
    );
    check(
        "config",
        "abi_plain.py",
        &[],
        |_| {
            owned(&[
                "getconfig_before_load 0",
                "loaded 1",
                "getconfig_after_load 1",
            ])
        },
        |_| vec!["getconfig_after_load"],
    );
}

/// The fds 0..2 of process `pid`: what each one links to ("" if closed).
fn std_fds(pid: u32) -> Vec<String> {
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// The children of process `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let path = task.expect("task").path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// A runner started with fds 0, 1 and 2 closed; killed on drop.
struct ClosedRunner {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for ClosedRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// docs/abi.md §1.1: with the hub's fds 0, 1 and 2 closed, the shim's
/// sockets (and its runtime's) stay off them; so do the runner's, started
/// with them closed, and its worker's.
#[test]
fn sockets_stay_off_closed_stdio_in_hub_runner_and_worker() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("runner.toml"), "").expect("config");
    let socket = dir.path().join("runner.sock");
    let child = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" serve --socket \"$1\" --python \"$2\" --config \"$3\" <&- >&- 2>&-")
        .arg(target_dir().join("vh-runner"))
        .arg(&socket)
        .arg(common::python())
        .arg(dir.path().join("runner.toml"))
        .spawn()
        .expect("start vh-runner");
    let runner = ClosedRunner { child, dir };
    wait_until(Duration::from_secs(10), "the runner's socket", || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    shim_env(&socket, 5_000);
    for g in GENS {
        let out = runner.dir.path().join(format!("fds-{g}.out"));
        let env = [("HUBSIM_ABI_HOLD_MS".to_string(), "1500".to_string())];
        let mut hub = hubsim(&shim_path(), g, "fds", "abi_plain.py", &env, &out, true);
        wait_until(Duration::from_secs(30), "the scenario to hold", || {
            std::fs::read_to_string(&out).is_ok_and(|t| t.contains("ABI held"))
        });
        let runner_pid = runner.child.id();
        let workers = children(runner_pid);
        assert!(!workers.is_empty(), "the runner has no worker");
        for pid in std::iter::once(runner_pid).chain(workers) {
            for (fd, what) in std_fds(pid).iter().enumerate() {
                assert!(
                    !what.starts_with("socket:") && !what.contains("eventfd"),
                    "process {pid} has fd {fd} on {what}"
                );
            }
        }
        assert!(hub.wait().expect("hubsim").success());
        let text = std::fs::read_to_string(&out).expect("output");
        let lines: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ABI "))
            .collect();
        assert_eq!(
            lines,
            [
                "loaded 1",
                "newconn l:1",
                "fd0 closed",
                "fd1 closed",
                "fd2 closed",
                "held",
                "done fds"
            ],
            "generation {g}"
        );
    }
}

/// The stress shape: `HUBSIM_ABI_ROUNDS` (default 20) rounds of a load,
/// 50 hooks through `w_HasHook`/`w_CallHook` and an unload, straight
/// through the C ABI. The script counts its hooks; shim and original must
/// see the same counts. The times go to stderr (`--nocapture`).
#[test]
fn stress_of_loads_hooks_and_unloads_counts_as_the_original() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    let rounds: u32 = std::env::var("HUBSIM_ABI_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let env = [("HUBSIM_ABI_ROUNDS".to_string(), rounds.to_string())];
    let want = [
        format!("stress_rounds {rounds}"),
        "stress_failed_loads 0".into(),
        format!("stress_results {}", rounds * 50),
        format!("stress_hooks_seen {}", rounds * 50),
        "done stress".into(),
    ];
    for g in GENS {
        let shim = run(&shim_path(), g, "stress", "abi_stress.py", &env);
        assert_eq!(shim.lines, want, "shim, generation {g}");
        eprintln!("stress {g} shim: {}", shim.times.join(" "));
        if let Some(Original {
            wrapper,
            env: orig_env,
        }) = original(g)
        {
            let all: Vec<(String, String)> = env.iter().cloned().chain(orig_env).collect();
            let orig = run(&wrapper, g, "stress", "abi_stress.py", &all);
            assert_eq!(orig.lines, want, "original {g}");
            eprintln!("stress {g} original: {}", orig.times.join(" "));
        }
    }
}
