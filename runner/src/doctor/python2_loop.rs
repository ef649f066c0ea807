//! `vh-runner doctor`'s check of the Python 2 worker's compiled hook loop
//! (`vh._native`, docs/admin.md "Python 2 scripts"): whether it loads in
//! the Python 2.7 found, with the runner's own package and `[defaults]
//! env`, and whether the directory the runner writes that package in
//! (beside its socket) allows it to. Where it cannot load, Python 2 hooks
//! still run, in Python: a note, not a problem.

use std::path::Path;
use std::process::Command;

use super::finding::Finding;
use super::probe::run_bounded;
use crate::config::Config;

/// What doctor runs in the Python 2.7, the package's directory as its
/// argument: which loop the worker would run.
const WHICH_LOOP: &str = "import sys; sys.path.insert(0, sys.argv[1]); \
    import vh._hook_loop as h; print('compiled' if h._native is not None else 'python')";

/// Adds the compiled loop's finding for `python2` to `out`.
pub fn check(config: &Config, python2: &Path, out: &mut Vec<Finding>) {
    let dir = std::env::temp_dir().join(format!("vh-doctor-py2-{}", std::process::id()));
    let said = crate::py2::install(&dir).ok().and_then(|_| {
        let mut cmd = Command::new(python2);
        cmd.args(["-c", WHICH_LOOP])
            .arg(&dir)
            .envs(&config.defaults.env);
        run_bounded(&mut cmd)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let said = said.map(|(_, s)| s).unwrap_or_default();
    let mut lines = said.lines();
    let first = lines.next();
    if first == Some("compiled") {
        out.push(Finding::ok(
            "python2",
            format!(
                "{}: Python 2 hooks run in the compiled loop (vh._native)",
                python2.display()
            ),
        ));
    } else {
        let why = match (first, lines.last()) {
            // The loop's own line on stderr says why the module did not load.
            (Some("python"), Some(line)) => line.to_string(),
            (Some("python"), None) => {
                "turned off (VH_PY2_NATIVE=0), or a debug or 32-bit build of Python 2.7".into()
            }
            _ => format!("the check did not run there ({})", said.trim()),
        };
        out.push(Finding::note(
            "python2",
            format!(
                "{}: Python 2 hooks will run in Python, slower: {why}",
                python2.display()
            ),
            "a 64-bit release build of CPython 2.7 runs them compiled; they work either way",
        ));
    }
    if let Some(dir) = config.socket.parent()
        && noexec(dir)
    {
        out.push(Finding::note(
            "python2",
            format!(
                "{}: mounted noexec, where the runner writes its Python 2 package (beside its socket): Python 2 hooks will run in Python, slower",
                dir.display()
            ),
            "give the runner a socket on a filesystem mounted with exec (`socket` in runner.toml)",
        ));
    }
}

/// True if `dir` is on a filesystem mounted `noexec` (no shared library
/// can be mapped from it).
fn noexec(dir: &Path) -> bool {
    nix::sys::statvfs::statvfs(dir)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC))
}

#[cfg(test)]
mod tests {
    use super::noexec;

    #[test]
    fn the_directory_this_test_runs_from_is_not_noexec() {
        let exe = std::env::current_exe().unwrap();
        assert!(!noexec(exe.parent().unwrap()));
        // Nothing to tell about a directory that is not there.
        assert!(!noexec(std::path::Path::new("/nonexistent/dir")));
    }
}
