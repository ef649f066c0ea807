//! `vh-runner doctor` against a real runner, a fake python_pi
//! layout (common::fakes) and fake unit files: all well gives exit 0; each
//! problem gives exit 1 and a line that explains it with its fix.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fakes::{original_wrapper, plugin};
use common::{Runner, python, serial, shim_path, target_dir};

const WRAPPER: &str = "libvh_python_wrapper.so";

fn me() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A machine as it should be: the runner serving, the shim in place of a
/// generation A wrapper, a unit file, a Python 2.7 on PATH.
struct Setup {
    runner: Runner,
    plugin_dir: PathBuf,
    unit: PathBuf,
    bin: PathBuf,
}

fn setup() -> Setup {
    let runner = Runner::start_with("[defaults]\nhook_kill_timeout_ms = 5000\n");
    let w = runner.dir.path().to_path_buf();
    let plugin_dir = w.join("prefix/lib");
    let wrapper = plugin_dir.join(WRAPPER);
    original_wrapper(&w, &wrapper, "A");
    plugin(&w, &plugin_dir, &[&wrapper], None);
    let out = Command::new(target_dir().join("vh-runner"))
        .args(["install-shim", "--plugin"])
        .arg(&plugin_dir)
        .arg("--shim")
        .arg(shim_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = w.join("vh-runner.service");
    std::fs::write(
        &unit,
        format!(
            "[Service]\nExecStart={} serve\nUser={}\n",
            target_dir().join("vh-runner").display(),
            me()
        ),
    )
    .unwrap();
    let bin = w.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A stand-in Python 2.7 that answers doctor's version question.
    script(&bin.join("python2.7"), "echo 2.7");
    Setup {
        runner,
        plugin_dir,
        unit,
        bin,
    }
}

impl Setup {
    /// `vh-runner doctor` with this setup, `change` applied to the flags.
    fn doctor(&self, change: &[(&str, &str)]) -> (i32, String) {
        let config = self.runner.dir.path().join("runner.toml");
        let python = python();
        let mut flags: Vec<(String, String)> = vec![
            ("--config".into(), config.display().to_string()),
            (
                "--socket".into(),
                self.runner.socket().display().to_string(),
            ),
            ("--python".into(), python.display().to_string()),
            ("--plugin".into(), self.plugin_dir.display().to_string()),
            ("--hub-user".into(), me()),
            ("--unit".into(), self.unit.display().to_string()),
            (
                "PATH".into(),
                format!("{}:/usr/bin:/bin", self.bin.display()),
            ),
        ];
        for (k, v) in change {
            flags.retain(|(f, _)| f != k);
            flags.push(((*k).into(), (*v).into()));
        }
        let mut cmd = Command::new(target_dir().join("vh-runner"));
        cmd.arg("doctor").env_remove("VH_RUNNER_SOCKET");
        for (k, v) in &flags {
            if k == "PATH" {
                cmd.env("PATH", v);
            } else {
                cmd.args([k, v]);
            }
        }
        let out: Output = cmd.output().expect("run doctor");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// Doctor fails (exit 1) with a `[FAIL] topic` line holding `what`,
    /// and a fix holding `fix`.
    fn fails(&self, change: &[(&str, &str)], topic: &str, what: &str, fix: &str) {
        let (code, text) = self.doctor(change);
        assert_eq!(code, 1, "{change:?}:\n{text}");
        let line = text
            .lines()
            .position(|l| l.starts_with(&format!("[FAIL] {topic}: ")) && l.contains(what))
            .unwrap_or_else(|| {
                panic!("no [FAIL] {topic} line with {what:?} for {change:?}:\n{text}")
            });
        let next = text.lines().nth(line + 1).unwrap_or("");
        assert!(
            next.trim_start().starts_with("fix:") && next.contains(fix),
            "fix of {what:?} lacks {fix:?}:\n{text}"
        );
    }
}

#[test]
fn all_is_well_exits_0() {
    let _serial = serial();
    let s = setup();
    let (code, text) = s.doctor(&[]);
    assert_eq!(code, 0, "{text}");
    for line in [
        "[ ok ] config: ",
        "[ ok ] socket: ",
        "a runner listens",
        "can connect (mode 0660",
        "the shim (generation A plugin)",
        "[ ok ] python3: ",
        "[ ok ] python2: ",
        "[ ok ] systemd: ",
        "all is well",
    ] {
        assert!(text.contains(line), "no {line:?}:\n{text}");
    }
    assert!(!text.contains("[FAIL]"), "{text}");
}

#[test]
fn each_problem_is_explained_with_its_fix() {
    let _serial = serial();
    let mut s = setup();
    let dir = s.runner.dir.path().to_path_buf();

    // Config: a bad value.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "socket_mode = \"banana\"\n").unwrap();
    s.fails(
        &[("--config", bad.to_str().unwrap())],
        "config",
        "socket_mode",
        "check-config",
    );

    // Python 3 without the vh package (isolated: no site-packages).
    let bare = dir.join("bare-python");
    script(&bare, "exec python3 -I -S \"$@\"");
    s.fails(
        &[("--python", bare.to_str().unwrap())],
        "python3",
        "`import vh` fails",
        "pip install vh-runner-sdk",
    );

    // The original wrapper in place.
    let out = Command::new(target_dir().join("vh-runner"))
        .args(["uninstall-shim", "--plugin"])
        .arg(&s.plugin_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    s.fails(
        &[],
        "wrapper",
        "the original wrapper",
        "vh-runner install-shim",
    );
    // No python_pi where it is said to be.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    s.fails(
        &[("--plugin", empty.to_str().unwrap())],
        "wrapper",
        "no python_pi plugin",
        "--plugin",
    );
    let out = Command::new(target_dir().join("vh-runner"))
        .args(["install-shim", "--plugin"])
        .arg(&s.plugin_dir)
        .arg("--shim")
        .arg(shim_path())
        .output()
        .unwrap();
    assert!(out.status.success());

    // The unit names a missing binary and user.
    let unit = dir.join("broken.service");
    std::fs::write(
        &unit,
        "[Service]\nExecStart=/nonexistent/vh-runner serve\nUser=no-such-user-vh\n",
    )
    .unwrap();
    s.fails(
        &[("--unit", unit.to_str().unwrap())],
        "systemd",
        "/nonexistent/vh-runner, which does not exist",
        "systemctl edit",
    );
    let (_, text) = s.doctor(&[("--unit", unit.to_str().unwrap())]);
    assert!(
        text.contains("User=no-such-user-vh does not exist"),
        "{text}"
    );
    s.fails(
        &[("--unit", dir.join("none.service").to_str().unwrap())],
        "systemd",
        "no vh-runner.service",
        "packaging/vh-runner.service",
    );

    // No Python 2.7: a note, not a failure.
    let (code, text) = s.doctor(&[("PATH", "/nonexistent")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("[note] python2: no python2.7 or python2 on PATH"),
        "{text}"
    );

    // `[defaults] python2` goes first: a Python 2.7 there is the one, and
    // anything else there is a problem (the runner would only log it).
    let with_python2 = |exe: &Path, name: &str| {
        let text = std::fs::read_to_string(s.runner.dir.path().join("runner.toml")).unwrap();
        let path = dir.join(name);
        let key = format!("[defaults]\npython2 = {:?}\n", exe.display().to_string());
        std::fs::write(&path, text.replacen("[defaults]\n", &key, 1)).unwrap();
        path
    };
    let config = with_python2(&s.bin.join("python2.7"), "py2-ok.toml");
    let (code, text) = s.doctor(&[
        ("--config", config.to_str().unwrap()),
        ("PATH", "/nonexistent"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("python2.7: Python 2.7 for legacy scripts ([defaults] python2)"),
        "{text}"
    );
    let not2 = dir.join("python3-standin");
    script(&not2, "echo 3.11");
    let config = with_python2(&not2, "py2-bad.toml");
    s.fails(
        &[("--config", config.to_str().unwrap())],
        "python2",
        "not a Python 2.7 (3.11)",
        "point `python2` in runner.toml",
    );

    // A hub user the socket lets in by neither mode nor group.
    if Command::new("id")
        .arg("nobody")
        .output()
        .is_ok_and(|o| o.status.success())
        && me() != "nobody"
    {
        s.fails(
            &[("--hub-user", "nobody")],
            "socket",
            "nobody",
            "usermod -aG",
        );
    }
    s.fails(
        &[("--hub-user", "no-such-user-vh")],
        "socket",
        "no user",
        "--hub-user",
    );

    // The socket's mode is not the configured one.
    let sock = s.runner.socket();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.fails(
        &[],
        "socket",
        "has mode 0600",
        "systemctl restart vh-runner",
    );
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660)).unwrap();

    // The runner was killed: its socket is stale; then gone.
    s.runner.kill();
    s.fails(
        &[],
        "socket",
        "a stale socket",
        "systemctl restart vh-runner",
    );
    std::fs::remove_file(&sock).unwrap();
    s.fails(&[], "socket", "no socket at", "systemctl start vh-runner");
}

#[test]
fn the_python2_compiled_loop_is_checked_in_the_real_python27() {
    let _serial = serial();
    let Some(py2) = common::py2::python2() else {
        return;
    };
    let s = setup();
    let dir = s.runner.dir.path().to_path_buf();
    let config = |name: &str, env: &str| {
        let text = std::fs::read_to_string(dir.join("runner.toml")).unwrap();
        let key = format!(
            "[defaults]\npython2 = {:?}\n{env}",
            py2.display().to_string()
        );
        let path = dir.join(name);
        std::fs::write(&path, text.replacen("[defaults]\n", &key, 1)).unwrap();
        path
    };
    // The runner's own package, in the real Python 2.7: hooks run compiled.
    let on = config("py2-loop.toml", "");
    let (code, text) = s.doctor(&[("--config", on.to_str().unwrap())]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("[ ok ] python2: ")
            && text.contains("Python 2 hooks run in the compiled loop (vh._native)"),
        "{text}"
    );
    // Turned off in `[defaults] env`: a note with the reason, not a failure.
    let off = config("py2-off.toml", "env = { VH_PY2_NATIVE = \"0\" }\n");
    let (code, text) = s.doctor(&[("--config", off.to_str().unwrap())]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("[note] python2: ")
            && text.contains("Python 2 hooks will run in Python, slower: turned off"),
        "{text}"
    );
}
