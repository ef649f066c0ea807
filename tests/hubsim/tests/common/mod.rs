//! Shared helpers of the end-to-end tests: find the built binaries, start a
//! real `vh-runner` on a private socket, serialise tests (the simulated
//! hub is global C state, like the real hub's single plugin instance).

#![allow(dead_code)]

pub mod fakes;
pub mod faults;
pub mod originals;
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

/// The shim's test counters of `symbol` (`vh_shim_round_trips`: 3,
/// `vh_shim_compact_frames`: 2; host-shim/src/ffi.rs), read from the shim
/// the hub has already loaded. Each such function writes one `u64` through
/// each of its `N` pointers.
#[allow(dead_code)] // not every test binary reads counters
pub fn shim_counters<const N: usize>(symbol: &std::ffi::CStr) -> [u64; N] {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(shim_path().as_os_str().as_bytes()).expect("path");
    let mut out = [0u64; N];
    let p = out.as_mut_ptr();
    // SAFETY: the library is already loaded (RTLD_NOLOAD); the symbol
    // takes exactly N `*mut u64` (checked by the match), each valid here.
    unsafe {
        let lib = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        assert!(!lib.is_null(), "the shim is not loaded");
        let sym = libc::dlsym(lib, symbol.as_ptr());
        assert!(!sym.is_null(), "{symbol:?} missing");
        match N {
            2 => {
                let f: unsafe extern "C" fn(*mut u64, *mut u64) = std::mem::transmute(sym);
                f(p, p.add(1));
            }
            3 => {
                let f: unsafe extern "C" fn(*mut u64, *mut u64, *mut u64) =
                    std::mem::transmute(sym);
                f(p, p.add(1), p.add(2));
            }
            _ => panic!("no shim counter function takes {N} pointers"),
        }
        libc::dlclose(lib);
    }
    out
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

/// runner.toml giving every script generation A's `vh` (docs/architecture.md
/// "Semantics"): scripts written for python_pi 1.6 run so on a B hub.
pub const A_SEMANTICS: &str = "[defaults]\nsemantics = \"A\"\n";

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
        Runner::start_with_env(config, &[])
    }

    /// Like [`Runner::start_with`], with extra environment variables of the
    /// runner process.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Runner {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("runner.toml"), config).expect("config file");
        let mut child = spawn_runner_cmd(dir.path());
        child.envs(env.iter().copied());
        let child = child.spawn().expect("start vh-runner");
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

    /// Sends SIGTERM (as `systemctl stop` does) and waits up to `limit`
    /// for the runner to exit; its exit status and how long it took, or
    /// `None` if it was still running at `limit` (then it is killed).
    pub fn terminate(&mut self, limit: Duration) -> (Option<std::process::ExitStatus>, Duration) {
        let t = Instant::now();
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        while t.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (Some(status), t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        (None, t.elapsed())
    }

    /// Kills the runner with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_runner(dir: &Path) -> Child {
    spawn_runner_cmd(dir).spawn().expect("start vh-runner")
}

fn spawn_runner_cmd(dir: &Path) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runner.log"))
        .expect("log file");
    let mut cmd = Command::new(target_dir().join("vh-runner"));
    cmd.arg("serve")
        .arg("--socket")
        .arg(dir.join("runner.sock"))
        .arg("--python")
        .arg(python())
        .arg("--config")
        .arg(dir.join("runner.toml"))
        .env("VH_TEST_DIR", dir)
        .env("VH_RUNNER_LOG", "debug")
        // The scripts' state folders go in the test's own dir,
        // as systemd's StateDirectory= would put them in /var/lib/vh-runner.
        .env("STATE_DIRECTORY", dir)
        .env_remove("VH_RUNNER_SOCKET")
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

/// The kernel's Landlock ABI version, 0 if it has none (the
/// sandbox is enforced only with one).
pub fn landlock_abi() -> i64 {
    // SAFETY: a NULL attribute, size 0 and the VERSION flag only ask.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    v.max(0)
}

/// The SANDBOX column (`-`, `fs`, `fs+net`) of `script`'s row in
/// `vh-runner status`.
pub fn sandbox_column(runner: &Runner, script: &str) -> String {
    let out = runner.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let header = text.lines().find(|l| l.starts_with("ID ")).expect("header");
    let at = header.find("SANDBOX").expect("a SANDBOX column");
    let row = text
        .lines()
        .find(|l| l.contains(script))
        .unwrap_or_else(|| panic!("no row for {script}:\n{text}"));
    row.get(at..)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("")
        .to_string()
}

/// A hub of `generation` on `runner` (hook deadline 2 s) with user `op`
/// (class 0) logged in: the hub the fault tests chat through.
pub fn op_hub(runner: &Runner, generation: vh_hubsim::Generation) -> vh_hubsim::Hub {
    op_hub_with(runner, generation, 2_000)
}

/// [`op_hub`] with a hook deadline of `hook_deadline_ms`.
pub fn op_hub_with(
    runner: &Runner,
    generation: vh_hubsim::Generation,
    hook_deadline_ms: u64,
) -> vh_hubsim::Hub {
    shim_env(&runner.socket(), hook_deadline_ms);
    let mut hub = vh_hubsim::Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.login(
        b"op",
        0,
        b"10.0.0.1",
        b"d",
        b"<++ V:1,M:A,H:1/0/0,S:1>",
        b"100\x01",
        b"",
        b"0"
    ));
    hub
}

/// `op` chats `text`: (allowed, how long the hub thread was held).
pub fn timed_chat(hub: &mut vh_hubsim::Hub, text: &[u8]) -> (bool, Duration) {
    let t = Instant::now();
    let allowed = hub.chat(b"op", text);
    (allowed, t.elapsed())
}

/// True if the hub's records other than `HOOK` lines contain `what`.
pub fn said(hub: &vh_hubsim::Hub, what: &str) -> bool {
    show(&actions(&hub.records())).contains(what)
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

/// Runs `f` with file descriptor 1 (where the shim logs, as python_pi does)
/// sent to a file, and returns what was written there.
pub fn capture_stdout<T>(f: impl FnOnce() -> T) -> (T, String) {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    let mut file = tempfile::tempfile().expect("temp file");
    std::io::stdout().flush().ok();
    // SAFETY: plain fd juggling; fd 1 is restored before returning.
    let saved = unsafe { libc::dup(1) };
    assert!(saved >= 0);
    // SAFETY: as above.
    unsafe { libc::dup2(file.as_raw_fd(), 1) };
    let out = f();
    std::io::stdout().flush().ok();
    // SAFETY: as above.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    let mut text = String::new();
    file.rewind().expect("rewind");
    file.read_to_string(&mut text)
        .expect("read captured output");
    (out, text)
}
