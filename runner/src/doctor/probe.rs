//! How doctor looks at outside programs: finding one as a shell would
//! ([`which`]) and running one with a deadline ([`run_bounded`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Finds `exe` as a shell would: a path as is, a bare name on `PATH`.
pub fn which(exe: &Path) -> Option<PathBuf> {
    if exe.components().count() > 1 {
        return exe.is_file().then(|| exe.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(exe))
        .find(|p| p.is_file())
}

/// Runs `cmd` for at most 20 s; its exit success and its output.
pub fn run_bounded(cmd: &mut Command) -> Option<(bool, String)> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let o = child.wait_with_output().ok()?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            return Some((o.status.success(), text.trim().to_string()));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
