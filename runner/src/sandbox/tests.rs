//! The sandbox around real interpreters, Python 3 and Python 2.7, spawned
//! the way the worker's spawn path does ([`prepare`], [`Prepared::apply`]).
//! Scripts through the hub are tested in tests/hubsim/tests/sandbox.rs.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::{Resolved, ScriptSettings};
use crate::registry::Registry;

/// Python 2.7/3 code: reads argv[1] (outside), writes its state folder,
/// reads argv[2] (its own folder), imports some standard library; prints
/// one word per step (`ok` or `errno<N>`).
const CODE: &str = r#"
import os, sys
res = []
def t(f):
    try:
        f()
        res.append("ok")
    except (IOError, OSError) as e:
        res.append("errno%d" % e.errno)
t(lambda: open(sys.argv[1]).read())
t(lambda: open(os.path.join(os.environ["VH_STATE_DIR"], "f"), "w").write("x"))
t(lambda: open(sys.argv[2]).read())
import json, decimal, socket, threading
sys.stdout.write(" ".join(res))
"#;

/// The words [`CODE`] prints under `python`, sandboxed or not.
async fn run(python: &Path, sandbox: bool) -> (Level, String) {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("box");
    std::fs::create_dir(&folder).unwrap();
    let script = folder.join("probe.py");
    std::fs::write(&script, "").unwrap();
    std::fs::write(folder.join("own.txt"), "own").unwrap();
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    let resolved = Resolved {
        python: python.to_path_buf(),
        settings: ScriptSettings {
            sandbox,
            ..ScriptSettings::default()
        },
        state_root: tmp.path().join("state"),
        explicit_python: false,
        py2: false,
        py2_fallback: false,
        py3_fallback: None,
        earlier_failure: None,
    };
    let registry = Registry::default();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let (_, entry) = registry.add(1, &script.display().to_string(), tx);
    let mut prepared = prepare(&resolved, python, &script, &entry, true)
        .await
        .unwrap();
    let mut cmd = tokio::process::Command::new(prepared.program(python));
    cmd.arg("-c")
        .arg(CODE)
        .arg(&secret)
        .arg(folder.join("own.txt"))
        .current_dir(&folder);
    prepared.apply(&mut cmd);
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let state = tmp.path().join("state/probe/f");
    assert_eq!(std::fs::read_to_string(state).unwrap(), "x");
    (
        prepared.level,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn python3() -> PathBuf {
    std::env::var_os("VH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into())
}

/// Python 2.7 as every test finds it: `VH_TEST_PYTHON2`, `PATH`, pyenv's
/// 2.7.18 ([`vh_hubsim::python2::find_python27`]).
fn python2() -> Option<PathBuf> {
    vh_hubsim::python2::find_python27("VH_TEST_PYTHON2")
}

#[tokio::test]
async fn python3_runs_sandboxed_and_is_refused_outside() {
    let (level, unboxed) = run(&python3(), false).await;
    assert_eq!((level, unboxed.as_str()), (Level::Off, "ok ok ok"));
    let (level, words) = run(&python3(), true).await;
    if usable_abi().is_none() {
        assert_eq!((level, words.as_str()), (Level::Off, "ok ok ok"));
        return;
    }
    assert_eq!((level, words.as_str()), (Level::Fs, "errno13 ok ok"));
}

#[tokio::test]
async fn python2_gets_the_same_sandbox() {
    let Some(python) = python2() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no Python 2.7 found (VH_TEST_PYTHON2, python2.7 on PATH, pyenv 2.7.18)"
        );
        eprintln!("no Python 2.7 found; skipped");
        return;
    };
    let (_, unboxed) = run(&python, false).await;
    assert_eq!(unboxed, "ok ok ok");
    let (level, words) = run(&python, true).await;
    if usable_abi().is_some() {
        assert_eq!((level, words.as_str()), (Level::Fs, "errno13 ok ok"));
    }
}

#[test]
fn network_off_needs_the_sandbox_and_paths_are_absolute() {
    let mut s = ScriptSettings {
        network: false,
        ..ScriptSettings::default()
    };
    assert!(
        check(&s)
            .unwrap_err()
            .contains("network = false needs sandbox = true")
    );
    s.sandbox = true;
    assert!(check(&s).is_ok());
    s.sandbox_write = vec!["logs".into()];
    assert!(check(&s).unwrap_err().contains("sandbox_write"));
}
