//! The vh-runner side of the bench, set up as on a hub: a real runner on a
//! private socket, the real shim loaded by hubsim as python_pi loads it
//! (generation A), one logged-in user, the bench scripts loaded, and the
//! [`Driver`] bound to the shim.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use vh_hubsim::{Generation, Hub};

use crate::baseline::NICK;
use crate::driver::Driver;
use crate::procfs;
use crate::runner::RunnerProc;

/// The bench scripts, written into the runner's temp dir.
pub const CHAT_PY: &str = include_str!("../scripts/chat.py");
/// See [`CHAT_PY`].
pub const USERMC_PY: &str = include_str!("../scripts/usermc.py");
/// See [`CHAT_PY`].
pub const BUSY_PY: &str = include_str!("../scripts/busy.py");
/// See [`CHAT_PY`].
pub const SENDS3_PY: &str = include_str!("../scripts/sends3.py");

/// Hook deadline of every script but `busy.py`, ms: long, so that a slow
/// hook on a loaded machine shows as a slow sample, not as a NULL result.
const HOOK_DEADLINE_MS: u64 = 2_000;
/// Hook deadline of `busy.py`, ms: the hub gives up on it quickly.
pub const BUSY_DEADLINE_MS: u64 = 20;

/// Paths of the parts under test.
#[derive(Debug, Clone)]
pub struct Parts {
    /// `libvh_python_wrapper.so`.
    pub shim: PathBuf,
    /// `vh-runner`.
    pub runner: PathBuf,
    /// The workers' interpreter (with the `vh` package).
    pub python: PathBuf,
}

/// While alive, this process's stdout (fd 1) goes to a file: the shim
/// writes its `PY: ` log lines there, as to a hub's log, and the bench's
/// table stays clean.
struct StdoutToFile {
    saved: RawFd,
}

impl StdoutToFile {
    fn new(path: &Path) -> Result<StdoutToFile> {
        let file =
            fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let _ = std::io::stdout().flush();
        // SAFETY: plain fd calls on fds this process owns.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 1) } < 0 {
            bail!("redirecting stdout: {}", std::io::Error::last_os_error());
        }
        Ok(StdoutToFile { saved })
    }
}

impl Drop for StdoutToFile {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        // SAFETY: `saved` is the dup of the original fd 1, owned here.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

/// Everything of the vh-runner side. Fields drop in order: the driver, the
/// hub (`hubsim_close`: unloads, `w_End`), stdout back, then the runner.
pub struct Lab {
    /// The hub-side loops.
    pub driver: Driver,
    /// The simulated hub with the shim loaded.
    pub hub: Hub,
    _stdout: StdoutToFile,
    /// The runner process and its temp dir.
    pub runner: RunnerProc,
    /// Script ids: `chat.py`, `usermc.py`, `busy.py`.
    pub chat: i32,
    /// See `chat`.
    pub usermc: i32,
    /// See `chat`.
    pub busy: i32,
    /// `chat.py` again, with `direct_link = false`: hooks through the runner.
    pub relayed: i32,
    /// Extra copies of `chat.py` loaded so far.
    pub copies: Vec<i32>,
    /// RSS of the runner before any script was loaded, KiB.
    pub runner_empty_kb: u64,
    /// The shim the hub loaded (its counters are read by `hubshaped`).
    pub shim_path: PathBuf,
    /// The Python 2.7 of the Python 2 figures, if one was found.
    pub python2: Option<PathBuf>,
}

impl Lab {
    /// Starts the runner, opens the hub on the shim, logs in the user the
    /// scripts answer, and loads `chat.py`, `usermc.py` and `busy.py`.
    ///
    /// # Errors
    /// Any part fails to start or a script fails to load (the runner's log
    /// is in the message).
    pub fn start(parts: &Parts) -> Result<Lab> {
        // relayed.py is chat.py with its hooks relayed through the runner,
        // the path every hook took before direct links.
        let python2 = crate::py2_setup::find_python2();
        let config = format!(
            "[[script]]\nmatch = \"busy.py\"\nhook_deadline_ms = {BUSY_DEADLINE_MS}\n\
             [[script]]\nmatch = \"relayed.py\"\ndirect_link = false\n\
             [[script]]\nmatch = \"usermc-wait.py\"\npipeline_calls = false\n\
             [[script]]\nmatch = \"sends3-wait.py\"\npipeline_calls = false\n{}",
            python2
                .as_deref()
                .map(crate::py2_setup::config)
                .unwrap_or_default()
        );
        let runner = RunnerProc::start(&parts.runner, &parts.python, &config)?;
        let runner_empty_kb =
            procfs::settled_rss_kb(runner.pid(), Duration::from_secs(2)).unwrap_or(0);
        for (name, text) in [
            ("chat.py", CHAT_PY),
            ("usermc.py", USERMC_PY),
            ("busy.py", BUSY_PY),
            ("relayed.py", CHAT_PY),
        ] {
            fs::write(runner.dir.path().join(name), text)
                .with_context(|| format!("writing {name}"))?;
        }
        // SAFETY: the bench is single-threaded here; the shim reads these at w_Begin.
        unsafe {
            std::env::set_var("VH_RUNNER_SOCKET", runner.socket());
            std::env::set_var("VH_HOOK_DEADLINE_MS", HOOK_DEADLINE_MS.to_string());
            std::env::set_var("VH_LOAD_DEADLINE_MS", "60000");
            std::env::remove_var("VH_SHIM_TABLE");
            std::env::remove_var("VH_HUB_ENCODING");
        }
        let stdout = StdoutToFile::new(&runner.dir.path().join("shim.log"))?;
        let mut hub = Hub::open(&parts.shim, Generation::A)
            .map_err(|e| anyhow::anyhow!("hubsim cannot open {}: {e}", parts.shim.display()))?;
        let driver = Driver::attach(&parts.shim)?;
        hub.login(
            NICK.as_bytes(),
            1,
            b"10.0.0.1",
            b"",
            b"<++ V:0.868,M:A,H:1/0/0,S:3>",
            b"100\x01",
            b"",
            b"0",
        );
        let mut lab = Lab {
            driver,
            hub,
            _stdout: stdout,
            runner,
            chat: -1,
            usermc: -1,
            busy: -1,
            relayed: -1,
            copies: Vec::new(),
            runner_empty_kb,
            shim_path: parts.shim.clone(),
            python2,
        };
        lab.chat = lab.load("chat.py")?;
        lab.usermc = lab.load("usermc.py")?;
        lab.busy = lab.load("busy.py")?;
        lab.relayed = lab.load("relayed.py")?;
        Ok(lab)
    }

    /// Loads the script `name` from the temp dir.
    ///
    /// # Errors
    /// `w_Load` failed.
    pub fn load(&mut self, name: &str) -> Result<i32> {
        let path = self.runner.dir.path().join(name);
        let id = self.hub.load(&path);
        if id < 0 {
            bail!("loading {name} failed; runner log:\n{}", self.runner.log());
        }
        Ok(id)
    }

    /// Loads copies of `chat.py` until `total` copies exist.
    ///
    /// # Errors
    /// A load failed.
    pub fn load_copies(&mut self, total: usize) -> Result<()> {
        while self.copies.len() < total {
            let name = format!("chat-{:02}.py", self.copies.len() + 1);
            fs::write(self.runner.dir.path().join(&name), CHAT_PY)
                .with_context(|| format!("writing {name}"))?;
            let id = self.load(&name)?;
            self.copies.push(id);
        }
        Ok(())
    }

    /// The worker pid of script `id`.
    ///
    /// # Errors
    /// The runner cannot say, or no worker runs.
    pub fn worker_pid(&self, id: i32) -> Result<u32> {
        match self.runner.script(id)?.pid {
            0 => bail!("script #{id} has no worker"),
            pid => Ok(pid),
        }
    }
}
