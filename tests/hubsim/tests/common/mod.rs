//! Shared helpers of the end-to-end tests: find the built binaries, start a
//! real `vh-runner` on a private socket, serialise tests (the simulated
//! hub is global C state, like the real hub's single plugin instance).

#![allow(dead_code)]

pub mod py2;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `target/<profile>` of this build (tests run from `target/<profile>/deps`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The built shim, as python_pi would dlopen it.
pub fn shim_path() -> PathBuf {
    let p = target_dir().join("libvh_python_wrapper.so");
    assert!(
        p.exists(),
        "{} missing: run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// Interpreter with the `vh` package (`make sdk` installs it in .venv).
pub fn python() -> PathBuf {
    std::env::var_os("VH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// A test script from `tests/scripts/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the one-hub-at-a-time lock for the test's duration.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the variables the shim reads at `w_Begin`.
pub fn shim_env(socket: &Path, hook_deadline_ms: u64) {
    // SAFETY: tests hold `serial()`; nothing else reads the environment now.
    unsafe {
        std::env::set_var("VH_RUNNER_SOCKET", socket);
        std::env::set_var("VH_HOOK_DEADLINE_MS", hook_deadline_ms.to_string());
        std::env::remove_var("VH_HUB_ENCODING");
        std::env::remove_var("VH_DIRECT_LINKS");
    }
}

/// A real runner process on a socket in its own temp dir; killed on drop.
pub struct Runner {
    child: Child,
    /// Private directory: socket, log, files the test scripts write.
    pub dir: tempfile::TempDir,
}

impl Runner {
    /// Starts `vh-runner serve` and waits (10 s at most) until it accepts.
    pub fn start() -> Runner {
        Runner::start_with("")
    }

    /// Like [`Runner::start`], with `config` as its TOML configuration.
    pub fn start_with(config: &str) -> Runner {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("runner.toml"), config).expect("config file");
        let child = spawn_runner(dir.path());
        let runner = Runner { child, dir };
        runner.wait_listening();
        runner
    }

    /// Starts the runner again (same socket, config and log) after a kill.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_runner(self.dir.path());
        self.wait_listening();
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            assert!(
                Instant::now() < deadline,
                "runner did not listen in 10 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `vh-runner <args> --socket <this runner's socket>`.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(target_dir().join("vh-runner"))
            .args(args)
            .arg("--socket")
            .arg(self.socket())
            .output()
            .expect("run vh-runner")
    }

    /// The runner's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("runner.sock")
    }

    /// Everything the runner logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runner.log")).unwrap_or_default()
    }

    /// Pid of the runner process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the runner with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_runner(dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runner.log"))
        .expect("log file");
    Command::new(target_dir().join("vh-runner"))
        .arg("serve")
        .arg("--socket")
        .arg(dir.join("runner.sock"))
        .arg("--python")
        .arg(python())
        .arg("--config")
        .arg(dir.join("runner.toml"))
        .env("VH_TEST_DIR", dir)
        .env("VH_RUNNER_LOG", "debug")
        .env_remove("VH_RUNNER_SOCKET")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start vh-runner")
}

/// Polls `done` every 20 ms until it is true; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Records other than the per-hook `HOOK` lines.
pub fn actions(records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    records
        .iter()
        .filter(|r| !r.starts_with(b"HOOK "))
        .cloned()
        .collect()
}

/// Renders records for assertion messages.
pub fn show(records: &[Vec<u8>]) -> String {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
