//! Each script's state folder: the one place a sandboxed script may write
//! without `sandbox_write`, created by the runner before the worker starts
//! and handed to the script as `VH_STATE_DIR` (`vh.state_dir` in Python).
//!
//! Folder: `<state_root>/<script file name without .py>`, for example
//! `/var/lib/vh-runner/state/hub_api` (docs/admin.md "Sandbox").

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Default state root when the runner runs as root without systemd's
/// `StateDirectory=`.
pub const ROOT_STATE_ROOT: &str = "/var/lib/vh-runner/state";

/// The state root when `state_root` is not set in runner.toml, first found:
/// `$STATE_DIRECTORY/state` (systemd's `StateDirectory=vh-runner`, the
/// packaged unit), [`ROOT_STATE_ROOT`] when running as root,
/// `$XDG_STATE_HOME/vh-runner/state`, `$HOME/.local/state/vh-runner/state`,
/// else `vh-runner-state` in the runner's working directory.
pub fn default_root() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    // systemd may list several folders, separated by ':'.
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").and_then(|v| {
        v.to_str()
            .and_then(|s| s.split(':').next())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }) {
        return dir.join("state");
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return ROOT_STATE_ROOT.into();
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return dir.join("vh-runner/state");
    }
    if let Some(home) = var("HOME") {
        return home.join(".local/state/vh-runner/state");
    }
    std::path::absolute("vh-runner-state").unwrap_or_else(|_| "vh-runner-state".into())
}

/// The state folder of the script file `name` (`hub_api.py` → `hub_api`)
/// under `root`.
pub fn folder(root: &Path, name: &str) -> PathBuf {
    let stem = name.strip_suffix(".py").unwrap_or(name);
    let stem = match stem {
        "" | "." | ".." => "script",
        s => s,
    };
    root.join(stem)
}

/// Creates `dir` (and its missing parents) readable by the runner's user
/// only; an existing folder is left as it is.
///
/// # Errors
/// The folder cannot be created or is not a folder.
pub fn create(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if !dir.is_dir() {
        return Err(std::io::Error::other("not a folder"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_folder_per_script_name() {
        let root = Path::new("/s");
        assert_eq!(folder(root, "hub_api.py"), Path::new("/s/hub_api"));
        assert_eq!(folder(root, "tool"), Path::new("/s/tool"));
        assert_eq!(folder(root, ".py"), Path::new("/s/script"));
        assert_eq!(folder(root, ".."), Path::new("/s/script"));
    }

    #[test]
    fn created_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/greeter");
        create(&dir).unwrap();
        create(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(tmp.path().join("file"), "x").unwrap();
        assert!(create(&tmp.path().join("file")).is_err());
    }
}
