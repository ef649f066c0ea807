//! Sandboxed scripts, through real parts (the shim driven by
//! hubsim, a real runner, real Python workers). A sandboxed script reads
//! and writes only what its config allows and, with `network = false`,
//! cannot connect or bind TCP; an unsandboxed script beside it can do all
//! of it, and the hub is not restricted; a sandboxed Python 2 script too,
//! with the compiled hook loop the runner writes into its package. The
//! kernel's Landlock ABI is capped with `VH_RUNNER_LANDLOCK_ABI` to show
//! what an older kernel gets.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    Runner, actions, landlock_abi, op_hub_with, sandbox_column, script, serial, show, wait_until,
};
use vh_hubsim::{Generation, Hub};

fn open(runner: &Runner) -> Hub {
    op_hub_with(runner, Generation::A, 5_000)
}

/// A hub-like tree: each script in its own folder, a secret beside them
/// (the hub's `dbconfig`), a shared read-only folder, an output folder.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(scripts: &[&str]) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tree { dir };
        for name in scripts {
            let folder = t.path(name.trim_end_matches(".py"));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::copy(script("sandbox_probe.py"), folder.join(name)).unwrap();
            std::fs::write(folder.join("data.txt"), "own data").unwrap();
        }
        std::fs::write(t.path("dbconfig"), "db_pass = secret").unwrap();
        std::fs::create_dir_all(t.path("shared")).unwrap();
        std::fs::write(t.path("shared/readme.txt"), "shared").unwrap();
        std::fs::create_dir_all(t.path("out")).unwrap();
        t
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn script(&self, name: &str) -> PathBuf {
        self.path(name.trim_end_matches(".py")).join(name)
    }

    fn show(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }
}

/// Sends `!t <script> <op> <arg>` and returns the script's answer after `: `.
fn ask(hub: &mut Hub, script: &str, op: &str, arg: &str) -> String {
    hub.clear_records();
    hub.chat(b"op", format!("!t {script} {op} {arg}").as_bytes());
    let records = actions(&hub.records());
    let prefix = format!("{op} {arg}: ");
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .find_map(|r| {
            r.rsplit('\t')
                .next()
                .and_then(|t| t.strip_prefix(&prefix))
                .map(String::from)
        })
        .unwrap_or_else(|| panic!("no answer to {op} {arg}: {}", show(&records)))
}

fn config(tree: &Tree, extra: &str) -> String {
    format!(
        "[[script]]\nmatch = \"boxed.py\"\nsandbox = true\nsandbox_read = [\"{shared}\"]\n\
         sandbox_write = [\"{out}\"]\n\n[[script]]\nmatch = \"offline.py\"\nsandbox = true\n\
         network = false\n{extra}",
        shared = tree.show("shared"),
        out = tree.show("out"),
    )
}

#[test]
fn a_sandboxed_script_reads_and_writes_only_what_it_may() {
    let _serial = serial();
    let abi = landlock_abi();
    let tree = Tree::new(&["boxed.py", "offline.py", "free.py"]);
    let runner = Runner::start_with(&config(&tree, ""));
    let mut hub = open(&runner);
    for name in ["boxed.py", "offline.py", "free.py"] {
        assert!(
            hub.load(&tree.script(name)) >= 0,
            "{name}: {}",
            runner.log()
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let hub_pid = std::process::id().to_string();
    let state = runner.dir.path().join("state/boxed");
    if abi == 0 {
        // No Landlock here: the runner says so and claims nothing.
        assert_eq!(sandbox_column(&runner, "boxed.py"), "-");
        assert!(runner.log().contains("has no Landlock"), "{}", runner.log());
        return;
    }
    assert_eq!(sandbox_column(&runner, "boxed.py"), "fs");
    assert_eq!(sandbox_column(&runner, "free.py"), "-");

    // The sandboxed script, boxed.py.
    let secret = tree.show("dbconfig");
    assert_eq!(
        ask(&mut hub, "boxed.py", "read", &secret),
        "PermissionError"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "list", &tree.show("free")),
        "PermissionError"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "read", &tree.show("boxed/data.txt")),
        "ok"
    );
    let beside = tree.show("boxed/new.txt");
    assert_eq!(
        ask(&mut hub, "boxed.py", "write", &beside),
        "PermissionError"
    );
    assert!(!Path::new(&beside).exists());
    assert_eq!(
        ask(
            &mut hub,
            "boxed.py",
            "read",
            &tree.show("shared/readme.txt")
        ),
        "ok"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "write", &tree.show("shared/x.txt")),
        "PermissionError"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "write", &tree.show("out/o.txt")),
        "ok"
    );
    assert_eq!(ask(&mut hub, "boxed.py", "state", "kept.txt"), "ok");
    assert_eq!(
        std::fs::read_to_string(state.join("kept.txt")).unwrap(),
        "written by boxed.py"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "where", "-"),
        format!("{0}|{0}", state.display())
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "temp", "-"),
        "ok",
        "TMPDIR is its state folder"
    );
    assert_eq!(ask(&mut hub, "boxed.py", "read", "/proc/self/status"), "ok");
    assert_eq!(
        ask(
            &mut hub,
            "boxed.py",
            "read",
            &format!("/proc/{}/environ", runner.pid())
        ),
        "PermissionError"
    );
    assert_eq!(
        ask(&mut hub, "boxed.py", "connect", &port),
        "ok",
        "network stays on"
    );
    if abi >= 6 {
        assert_eq!(
            ask(&mut hub, "boxed.py", "signal", &hub_pid),
            "PermissionError"
        );
    }
    // Landlock lets it reach the runner's socket; the runner shuts it out.
    let socket = runner.socket().display().to_string();
    assert_eq!(ask(&mut hub, "boxed.py", "unix", &socket), "EOFError");
    assert!(
        runner
            .log()
            .contains("refused a connection from a sandboxed script's process"),
        "{}",
        runner.log()
    );

    // network = false: no TCP at all; files as above.
    if abi >= 4 {
        assert_eq!(sandbox_column(&runner, "offline.py"), "fs+net");
        assert_eq!(
            ask(&mut hub, "offline.py", "connect", &port),
            "PermissionError"
        );
        assert_eq!(ask(&mut hub, "offline.py", "bind", "-"), "PermissionError");
    }
    assert_eq!(
        ask(&mut hub, "offline.py", "read", &secret),
        "PermissionError"
    );
    assert_eq!(
        ask(
            &mut hub,
            "offline.py",
            "read",
            &tree.show("offline/data.txt")
        ),
        "ok"
    );

    // The unsandboxed script, and the hub itself: everything works.
    assert_eq!(ask(&mut hub, "free.py", "read", &secret), "ok");
    assert_eq!(ask(&mut hub, "free.py", "list", &tree.show("boxed")), "ok");
    assert_eq!(
        ask(&mut hub, "free.py", "write", &tree.show("free/new.txt")),
        "ok"
    );
    assert_eq!(
        ask(&mut hub, "free.py", "write", &tree.show("shared/y.txt")),
        "ok"
    );
    assert_eq!(ask(&mut hub, "free.py", "connect", &port), "ok");
    assert_eq!(ask(&mut hub, "free.py", "bind", "-"), "ok");
    assert_eq!(ask(&mut hub, "free.py", "signal", &hub_pid), "ok");
    assert_eq!(ask(&mut hub, "free.py", "unix", &socket), "ok");
    assert_eq!(
        ask(&mut hub, "free.py", "where", "-"),
        format!("{0}|{0}", runner.dir.path().join("state/free").display())
    );
    std::fs::write(tree.path("boxed/by_hub.txt"), "the hub is not restricted").unwrap();
    assert!(std::fs::read_to_string(&secret).is_ok());
}

/// The script's row in `vh-runner status` is there (its worker started).
fn running(runner: &Runner, script: &str) -> bool {
    let out = runner.cli(&["status"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(script) && l.contains("running"))
}

#[test]
fn an_older_kernel_is_said_once_and_required_sandboxes_are_refused() {
    let _serial = serial();
    let abi = landlock_abi();
    let tree = Tree::new(&["offline.py", "strict.py"]);
    // As if the kernel had ABI 3: files, but no network rules.
    let runner = Runner::start_with_env(
        &config(
            &tree,
            "\n[[script]]\nmatch = \"strict.py\"\nsandbox = true\nnetwork = false\n\
             sandbox_required = true\n",
        ),
        &[("VH_RUNNER_LANDLOCK_ABI", "3")],
    );
    let mut hub = open(&runner);
    assert!(
        hub.load(&tree.script("offline.py")) >= 0,
        "{}",
        runner.log()
    );
    wait_until(Duration::from_secs(5), "offline.py running", || {
        running(&runner, "offline.py")
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let said = "the kernel's Landlock ABI 3 has no network rules (ABI 4 has): network = false not enforced";
    if abi >= 1 {
        assert_eq!(runner.log().matches(said).count(), 1, "{}", runner.log());
        assert_eq!(sandbox_column(&runner, "offline.py"), "fs");
        assert_eq!(ask(&mut hub, "offline.py", "connect", &port), "ok");
        assert_eq!(
            ask(&mut hub, "offline.py", "read", &tree.show("dbconfig")),
            "PermissionError"
        );
    }
    // sandbox_required: refused, with the reason in its failed load.
    assert_eq!(hub.load(&tree.script("strict.py")), -1);
    let log = runner.log();
    assert!(
        log.contains("script failed to load") && log.contains("refused (sandbox_required = true)"),
        "{log}"
    );
    // The hub and the other script go on.
    assert_eq!(
        ask(
            &mut hub,
            "offline.py",
            "read",
            &tree.show("offline/data.txt")
        ),
        "ok"
    );
}

#[test]
fn without_landlock_scripts_run_unsandboxed_unless_required() {
    let _serial = serial();
    let tree = Tree::new(&["boxed.py", "strict.py"]);
    let runner = Runner::start_with_env(
        &config(
            &tree,
            "\n[[script]]\nmatch = \"strict.py\"\nsandbox = true\nsandbox_required = true\n",
        ),
        &[("VH_RUNNER_LANDLOCK_ABI", "0")],
    );
    let mut hub = open(&runner);
    assert!(hub.load(&tree.script("boxed.py")) >= 0, "{}", runner.log());
    let said = "this kernel has no Landlock: sandbox not enforced (file access and network are not restricted); the script runs unsandboxed";
    assert_eq!(runner.log().matches(said).count(), 1, "{}", runner.log());
    assert_eq!(sandbox_column(&runner, "boxed.py"), "-");
    assert_eq!(
        ask(&mut hub, "boxed.py", "read", &tree.show("dbconfig")),
        "ok"
    );
    assert_eq!(hub.load(&tree.script("strict.py")), -1);
    assert!(
        runner.log().contains("this kernel has no Landlock: sandbox not enforced (file access and network are not restricted); refused (sandbox_required = true)"),
        "{}",
        runner.log()
    );
}

#[test]
fn a_sandboxed_python2_script_runs_in_its_compiled_loop_and_reads_only_what_it_may() {
    let _serial = serial();
    let Some(py2) = common::py2::python2() else {
        return;
    };
    let tree = Tree::new(&[]);
    let folder = tree.path("boxed2");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(common::py2::script("sandbox2.py"), folder.join("boxed2.py")).unwrap();
    std::fs::write(folder.join("data.txt"), "own data").unwrap();
    let runner = Runner::start_with(&format!(
        "{}[[script]]\nmatch = \"boxed2.py\"\nsandbox = true\n",
        common::py2::config(&py2, "")
    ));
    let mut hub = open(&runner);
    assert!(hub.load(&folder.join("boxed2.py")) >= 0, "{}", runner.log());
    // The runner's Python 2 package, its compiled module included, is
    // readable inside the sandbox: the hook comes from the compiled loop.
    let caller = |hub: &mut Hub| {
        hub.clear_records();
        hub.chat(b"op", b"!t boxed2.py caller x");
        show(&actions(&hub.records()))
    };
    assert!(caller(&mut hub).contains("caller serve_hooks: ok"));
    if landlock_abi() == 0 {
        assert_eq!(sandbox_column(&runner, "boxed2.py"), "-");
        return;
    }
    assert_eq!(sandbox_column(&runner, "boxed2.py"), "fs");
    assert_eq!(
        ask(&mut hub, "boxed2.py", "read", &tree.show("dbconfig")),
        "EACCES"
    );
    assert_eq!(
        ask(&mut hub, "boxed2.py", "read", &tree.show("boxed2/data.txt")),
        "ok"
    );
    assert_eq!(
        ask(&mut hub, "boxed2.py", "write", &tree.show("out/x.txt")),
        "EACCES"
    );
}
