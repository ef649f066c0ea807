//! A real `vh-runner serve` on a private socket in a temp dir, stopped when
//! dropped, and its `Admin.Status` (worker pids, the runner's own
//! runner → worker → runner latency).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Endpoint, Uri};
use vh_proto::v1::admin_client::AdminClient;
use vh_proto::v1::{ScriptStatus, StatusRequest};

use crate::baseline::ChildGuard;

/// A runner process; killed and reaped on drop (its workers die with it:
/// they have `PR_SET_PDEATHSIG`).
pub struct RunnerProc {
    child: ChildGuard,
    /// Private directory: socket, config, log, the bench's scripts.
    pub dir: tempfile::TempDir,
}

impl RunnerProc {
    /// Starts `runner serve` with workers run by `python` and `config` as
    /// its TOML configuration; waits (10 s at most) until it accepts.
    ///
    /// # Errors
    /// The temp dir, config or log cannot be written, the runner does not
    /// start, or it does not listen in time (its log is in the message).
    pub fn start(runner: &Path, python: &Path, config: &str) -> Result<RunnerProc> {
        let dir = tempfile::Builder::new()
            .prefix("vh-bench.")
            .tempdir()
            .context("creating a temp dir")?;
        let config_path = dir.path().join("runner.toml");
        fs::write(&config_path, config).context("writing runner.toml")?;
        let log = fs::File::create(dir.path().join("runner.log")).context("runner.log")?;
        let child = Command::new(runner)
            .arg("serve")
            .arg("--socket")
            .arg(dir.path().join("runner.sock"))
            .arg("--python")
            .arg(python)
            .arg("--config")
            .arg(&config_path)
            .env("VH_RUNNER_LOG", "info")
            // The scripts' state folders go in the temp dir, not /var/lib.
            .env("STATE_DIRECTORY", dir.path())
            .env_remove("VH_RUNNER_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", runner.display()))?;
        let me = RunnerProc {
            child: ChildGuard(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(me.socket()).is_err() {
            if Instant::now() > deadline {
                bail!("vh-runner did not listen within 10 s:\n{}", me.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(me)
    }

    /// The runner's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("runner.sock")
    }

    /// The runner's pid.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// What the runner logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("runner.log")).unwrap_or_default()
    }

    /// `Admin.Status`: one row per script (pid, latency through the runner).
    ///
    /// # Errors
    /// The runner cannot be reached or does not answer within 5 s.
    pub fn status(&self) -> Result<Vec<ScriptStatus>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a tokio runtime")?;
        let path = self.socket();
        rt.block_on(async move {
            let connector = tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move { UnixStream::connect(path).await.map(TokioIo::new) }
            });
            let channel = Endpoint::from_static("http://vh-runner.localhost")
                .connect_timeout(Duration::from_secs(5))
                .connect_with_connector(connector)
                .await
                .context("connecting to the runner's admin service")?;
            let reply = tokio::time::timeout(
                Duration::from_secs(5),
                AdminClient::new(channel).status(StatusRequest {}),
            )
            .await
            .context("the runner's status did not come within 5 s")?
            .context("the runner's status")?;
            Ok(reply.into_inner().scripts)
        })
    }

    /// The status row of script `id`.
    ///
    /// # Errors
    /// As [`RunnerProc::status`], or the runner does not know the script.
    pub fn script(&self, id: i32) -> Result<ScriptStatus> {
        self.status()?
            .into_iter()
            .find(|s| s.script_id == id)
            .with_context(|| format!("the runner does not know script #{id}"))
    }
}
