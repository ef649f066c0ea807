//! The plugin's own console commands (`!pyload`, `!pyunload`,
//! `!pyreload`, `!pylist`; docs/abi.md §10.1), driven as an
//! operator types them, through the unchanged plugin (hubsim's console),
//! the shim, a real runner and real workers. Ids are never reused, a
//! reload picks up the changed file at the same call position, and a
//! script may unload or reload itself from inside its own hook (§9.2,
//! §12): its hook finishes, then its `UnLoad()` runs.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Runner, actions, script, serial, shim_env, shim_path, show, wait_until};
use vh_hubsim::{Generation, Hub};

const ADMIN: &[u8] = b"admin";

fn open(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.login(ADMIN, 10, b"10.0.0.9", b"", b"", b"", b"", b"0"));
    hub
}

/// Copies `cmd_hello.py` to `dir/name` with `VERSION = version`.
fn hello_copy(dir: &Path, name: &str, version: u32) -> PathBuf {
    let source = std::fs::read_to_string(script("cmd_hello.py")).expect("cmd_hello.py");
    let path = dir.join(name);
    std::fs::write(
        &path,
        source.replace("VERSION = 1", &format!("VERSION = {version}")),
    )
    .expect("write script");
    path
}

/// What the hub-security bot answers the admin, as a record.
/// `cmd_hello.py`'s answer `#<id> <vh.name> v<version>` for `head` =
/// `#<id> <file name without .py>`: `vh.name` has `.py` under generation
/// A, not under B (docs/abi.md §7.3).
fn who(generation: Generation, head: &str, version: u32) -> Vec<u8> {
    let py = if generation == Generation::A {
        ".py"
    } else {
        ""
    };
    reply(&format!("{head}{py} v{version}"))
}

fn reply(text: &str) -> Vec<u8> {
    format!("USERMC admin\tVerlihub\t{text}").into_bytes()
}

/// Types `command` in main chat as the admin and returns the records it made.
fn type_in(hub: &mut Hub, command: &str) -> Vec<Vec<u8>> {
    hub.clear_records();
    assert!(!hub.chat(ADMIN, command.as_bytes()), "{command} is blocked");
    hub.records()
}

fn list(entries: &[(i32, &Path)]) -> Vec<u8> {
    let mut text = "Loaded Python scripts:".to_string();
    for (id, path) in entries {
        text.push_str(&format!("\r\n #{id} {}", path.display()));
    }
    reply(&text)
}

#[test]
fn console_commands_load_list_and_unload_with_ids_never_reused() {
    let _serial = serial();
    let runner = Runner::start();
    let dir = runner.dir.path();
    let a = hello_copy(dir, "a.py", 1);
    let b = hello_copy(dir, "b.py", 1);
    let c = hello_copy(dir, "c.py", 1);
    let broken = dir.join("broken.py");
    std::fs::write(&broken, "def broken(:\n").unwrap();
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation);
        let load =
            |hub: &mut Hub, path: &Path| type_in(hub, &format!("!pyload {}", path.display()));

        assert_eq!(
            actions(&load(&mut hub, &a)),
            vec![reply(&format!("Script #0 is now loaded: {}", a.display()))]
        );
        assert_eq!(
            actions(&load(&mut hub, &b)),
            vec![reply(&format!("Script #1 is now loaded: {}", b.display()))]
        );
        assert_eq!(
            actions(&load(&mut hub, &a)),
            vec![reply(&format!(
                "Script #0 is already loaded: {}",
                a.display()
            ))]
        );
        // Each script sees its own id and file name (vh.name: with .py
        // under generation A, without under B).
        assert_eq!(
            actions(&type_in(&mut hub, "+who")),
            vec![who(generation, "#0 a", 1), who(generation, "#1 b", 1)]
        );
        assert_eq!(
            actions(&type_in(&mut hub, "!pyunload 0")),
            vec![reply(&format!("Script #0 stopped: {}", a.display()))]
        );
        // The id of an unloaded script is not given out again.
        assert_eq!(
            actions(&load(&mut hub, &a)),
            vec![reply(&format!("Script #2 is now loaded: {}", a.display()))]
        );
        assert_eq!(
            actions(&type_in(&mut hub, "!pylist")),
            vec![list(&[(1, &b), (2, &a)])]
        );
        // Nor is the id a failed load was given.
        assert_eq!(
            actions(&load(&mut hub, &broken)),
            vec![reply(&format!(
                "Script not found or couldn't be parsed: {}",
                broken.display()
            ))]
        );
        assert_eq!(
            actions(&load(&mut hub, &c)),
            vec![reply(&format!("Script #4 is now loaded: {}", c.display()))]
        );
        assert_eq!(
            actions(&type_in(&mut hub, "!pyunload 99")),
            vec![reply("Script not loaded: 99")]
        );
        assert_eq!(hub.script_ids(), vec![1, 2, 4]);
        assert_eq!(
            actions(&type_in(&mut hub, "+who")),
            vec![
                who(generation, "#1 b", 1),
                who(generation, "#2 a", 1),
                who(generation, "#4 c", 1)
            ]
        );
    }
}

#[test]
fn pyreload_picks_up_the_changed_file_and_keeps_its_place() {
    let _serial = serial();
    let runner = Runner::start();
    let dir = runner.dir.path();
    let generation = Generation::B;
    let mut hub = open(&runner, generation);
    let paths: Vec<PathBuf> = ["a.py", "b.py", "c.py"]
        .iter()
        .map(|n| hello_copy(dir, n, 1))
        .collect();
    for p in &paths {
        type_in(&mut hub, &format!("!pyload {}", p.display()));
    }
    assert_eq!(hub.script_ids(), vec![0, 1, 2]);
    hello_copy(dir, "b.py", 2);
    assert_eq!(
        actions(&type_in(&mut hub, "!pyreload 1")),
        vec![
            reply(&format!("Script #1 stopped: {}", paths[1].display())),
            reply(&format!("Script #3 is now loaded: {}", paths[1].display())),
        ]
    );
    assert_eq!(
        actions(&type_in(&mut hub, "!pylist")),
        vec![list(&[(0, &paths[0]), (3, &paths[1]), (2, &paths[2])])]
    );
    let records = type_in(&mut hub, "+who");
    assert_eq!(
        actions(&records),
        vec![
            who(generation, "#0 a", 1),
            who(generation, "#3 b", 2),
            who(generation, "#2 c", 1)
        ],
        "{}",
        show(&records)
    );
}

/// The pid script `id` (a `cmd_self_unload.py`) reports.
fn pid_of(hub: &mut Hub, id: i32) -> u32 {
    let records = actions(&type_in(hub, "+pid"));
    let prefix = format!("USERMC admin\tVerlihub\t#{id} pid ");
    records
        .iter()
        .find_map(|r| r.strip_prefix(prefix.as_bytes()))
        .and_then(|pid| String::from_utf8_lossy(pid).parse().ok())
        .unwrap_or_else(|| panic!("no pid from #{id}: {}", show(&records)))
}

fn gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Gone, or a zombie about to be reaped.
    stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'))
}

#[test]
fn a_script_unloads_or_reloads_itself_from_inside_its_own_hook() {
    let _serial = serial();
    let runner = Runner::start();
    let dir = runner.dir.path();
    let other = hello_copy(dir, "other.py", 1);
    let me = script("cmd_self_unload.py");
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation);
        type_in(&mut hub, &format!("!pyload {}", me.display()));
        type_in(&mut hub, &format!("!pyload {}", other.display()));
        assert_eq!(hub.script_ids(), vec![0, 1]);
        let pid = pid_of(&mut hub, 0);

        // !pyunload from inside its own hook: the hook goes on and
        // finishes, then UnLoad() runs, before the hub sees the result.
        let started = Instant::now();
        let records = type_in(&mut hub, "+bye");
        let took = started.elapsed();
        let want: Vec<Vec<u8>> = vec![
            reply(&format!("Script #0 stopped: {}", me.display())),
            reply("#0 still running after !pyunload"),
            b"MC Verlihub\tUnLoad of #0".to_vec(),
            b"HOOK OnUserCommand\t0\tl:0".to_vec(),
            b"HOOK OnUserCommand\t1\tl:1".to_vec(),
        ];
        let got: Vec<Vec<u8>> = records
            .iter()
            .filter(|r| !r.starts_with(b"HOOK OnHubCommand") && !r.starts_with(b"HOOK OnOperator"))
            .cloned()
            .collect();
        assert_eq!(got, want, "{}\n{}", show(&records), runner.log());
        assert!(
            took < Duration::from_secs(2),
            "the hub waited {took:?} (no unload deadline should pass)"
        );
        assert_eq!(hub.script_ids(), vec![1]);
        wait_until(Duration::from_secs(5), "the worker to exit", || gone(pid));
        assert_eq!(
            actions(&type_in(&mut hub, "+who")),
            vec![who(generation, "#1 other", 1)]
        );

        // !pyreload from inside its own hook: a new worker takes its place
        // in the call order; the old one finishes its hook, then unloads.
        type_in(&mut hub, &format!("!pyload {}", me.display()));
        assert_eq!(hub.script_ids(), vec![1, 2]);
        let records = type_in(&mut hub, "+again");
        let acts = actions(&records);
        assert_eq!(
            acts,
            vec![
                reply(&format!("Script #2 stopped: {}", me.display())),
                reply(&format!("Script #3 is now loaded: {}", me.display())),
                reply("#2 still running after !pyreload"),
                b"MC Verlihub\tUnLoad of #2".to_vec(),
            ],
            "{}",
            show(&records)
        );
        assert_eq!(hub.script_ids(), vec![1, 3]);
        assert_eq!(
            actions(&type_in(&mut hub, "!pylist")),
            vec![list(&[(1, &other), (3, &me)])]
        );
        pid_of(&mut hub, 3);
        assert!(
            !runner.log().contains("took longer than"),
            "{}",
            runner.log()
        );
    }
}
