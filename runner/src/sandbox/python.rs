//! Where a worker's Python lives: asked once from each interpreter (with
//! the script's environment) and kept for the runner's lifetime, so that a
//! sandboxed worker may read exactly its own installation.
//!
//! The probe is Python 2.7 and 3 code, so Python 2 workers get the same
//! sandbox. It reports the interpreter's real executable, `sys.prefix`,
//! `sys.exec_prefix`, their `base_` forms (a venv's base installation),
//! the standard library and site-packages folders (`sysconfig`), every
//! `sys.path` entry (`.pth` files, editable installs, `PYTHONPATH`) and the
//! folder of the `vh` package if it imports.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the probe may take (an interpreter's cold start on a busy host).
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Prefixes shared with the whole system: granting one would open far more
/// than Python (`/usr` holds every program). For those only the standard
/// library and site folders are granted.
const SYSTEM_PREFIXES: [&str; 3] = ["/", "/usr", "/usr/local"];

/// Python 2.7/3 code printing `kind path` records separated by NUL: `X`
/// `sys.executable`, `E` the real executable, `P` a prefix, `D` a folder
/// of modules.
const PROBE: &str = r#"
import os, sys
out = []
def add(kind, p):
    if p:
        out.append(kind + " " + os.path.abspath(p))
add("X", sys.executable)
add("E", os.path.realpath(sys.executable))
for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix"):
    add("P", getattr(sys, name, None))
try:
    import sysconfig
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        add("D", paths.get(key))
except Exception:
    pass
for p in sys.path:
    add("D", p)
try:
    import vh
    add("D", os.path.dirname(os.path.abspath(vh.__file__)))
except Exception:
    pass
data = "\0".join(out)
if sys.version_info[0] >= 3:
    sys.stdout.buffer.write(os.fsencode(data))
else:
    sys.stdout.write(data)
"#;

/// The folders and files of one interpreter a sandboxed worker may read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PythonPaths {
    /// `sys.executable`: the interpreter as it names itself (a venv's
    /// `bin/python`, not a wrapper script such as a pyenv shim that found it).
    pub sys_executable: Option<PathBuf>,
    /// The interpreter's real executable (symbolic links resolved); read
    /// and run.
    pub executable: Option<PathBuf>,
    /// Installation prefixes that belong to Python alone (a venv, a pyenv
    /// version, `/opt/python3.12`); read and run.
    pub prefixes: Vec<PathBuf>,
    /// Module folders: standard library, site-packages, `sys.path`, `vh`.
    pub module_dirs: Vec<PathBuf>,
}

impl PythonPaths {
    /// Parses the probe's output (see [`PROBE`]); the prefixes in
    /// [`SYSTEM_PREFIXES`] are left out.
    fn parse(out: &[u8]) -> PythonPaths {
        let mut paths = PythonPaths::default();
        for record in out.split(|b| *b == 0) {
            let Some((kind, path)) = record.split_first_chunk::<2>() else {
                continue;
            };
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
            let list = match kind {
                b"X " => {
                    paths.sys_executable = Some(path);
                    continue;
                }
                b"E " => {
                    paths.executable = Some(path);
                    continue;
                }
                b"P " if SYSTEM_PREFIXES.iter().any(|s| path == Path::new(s)) => continue,
                b"P " => &mut paths.prefixes,
                b"D " => &mut paths.module_dirs,
                _ => continue,
            };
            if !list.contains(&path) {
                list.push(path);
            }
        }
        paths
    }
}

type Key = (PathBuf, BTreeMap<String, String>);

fn cache() -> &'static Mutex<HashMap<Key, Arc<PythonPaths>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<Key, Arc<PythonPaths>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The paths of `python` run with the extra environment `env` (the
/// script's `env`: `PYTHONPATH` and `PYTHONHOME` change them), asked once
/// per interpreter and environment; `cwd` is the worker's folder.
///
/// # Errors
/// The interpreter cannot be started, fails, or takes longer than 20 s;
/// the message says which. Failures are not cached.
pub async fn paths(
    python: &Path,
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
) -> Result<Arc<PythonPaths>, String> {
    let key = (python.to_path_buf(), env.clone());
    if let Some(p) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(p));
    }
    let mut cmd = tokio::process::Command::new(python);
    cmd.args(["-c", PROBE])
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd.filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    let out = match tokio::time::timeout(PROBE_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(format!("{} did not answer in 20 s", python.display())),
        Ok(Err(e)) => return Err(format!("cannot start {}: {e}", python.display())),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let paths = Arc::new(PythonPaths::parse(&out.stdout));
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, Arc::clone(&paths));
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prefixes_are_not_granted_whole() {
        let out =
            b"X /srv/venv/bin/python\0E /usr/bin/python3.12\0P /usr\0P /srv/venv\0P /srv/venv\0\
                    D /usr/lib/python3.12\0D /srv/venv/lib/python3.12/site-packages\0Z junk\0";
        let p = PythonPaths::parse(out);
        assert_eq!(p.executable, Some(PathBuf::from("/usr/bin/python3.12")));
        assert_eq!(
            p.sys_executable,
            Some(PathBuf::from("/srv/venv/bin/python"))
        );
        assert_eq!(p.prefixes, [PathBuf::from("/srv/venv")]);
        assert_eq!(
            p.module_dirs,
            [
                PathBuf::from("/usr/lib/python3.12"),
                PathBuf::from("/srv/venv/lib/python3.12/site-packages")
            ]
        );
    }
}
