//! The `vh` package the runner ships: the .deb installs it in
//! `/usr/lib/vh-runner/python`, and the runner puts that folder first on
//! every worker's `PYTHONPATH` (config key `python_path`), so that a
//! script's own venv runs its worker with no extra install step, and the
//! worker side of the protocol always matches this runner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the .deb puts the `vh` package, relative to the `vh-runner`
/// executable (`/usr/bin/vh-runner` -> `/usr/lib/vh-runner/python`).
pub const SHIPPED_RELATIVE: &str = "../lib/vh-runner/python";

/// The default of `python_path`: the shipped package's folder, if this
/// runner has one; empty for a runner built from source (its workers find
/// `vh` installed in their interpreter).
pub fn default_python_path() -> Vec<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(SHIPPED_RELATIVE)))
        .filter(|d| d.join("vh").is_dir())
        .and_then(|d| d.canonicalize().ok())
        .into_iter()
        .collect()
}

/// The `PYTHONPATH` a worker gets: `python_path` first, then what the
/// script's `env` or the runner's own environment already set.
pub fn pythonpath(python_path: &[PathBuf], env: &BTreeMap<String, String>) -> Option<String> {
    if python_path.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = python_path
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let existing = env
        .get("PYTHONPATH")
        .cloned()
        .or_else(|| std::env::var("PYTHONPATH").ok())
        .filter(|s| !s.is_empty());
    parts.extend(existing);
    Some(parts.join(":"))
}

/// Sets `PYTHONPATH` in a worker's `env` as [`pythonpath`] says.
pub fn apply(python_path: &[PathBuf], env: &mut BTreeMap<String, String>) {
    if let Some(p) = pythonpath(python_path, env) {
        env.insert("PYTHONPATH".into(), p);
    }
}

/// True if `dir` holds a `vh` package.
pub fn holds_vh(dir: &Path) -> bool {
    dir.join("vh").join("__init__.py").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_path_comes_first_and_keeps_the_scripts_own() {
        let mut env = BTreeMap::new();
        apply(&[], &mut env);
        assert!(env.is_empty(), "no python_path: PYTHONPATH untouched");
        env.insert("PYTHONPATH".to_string(), "/srv/mine".to_string());
        apply(&[PathBuf::from("/usr/lib/vh-runner/python")], &mut env);
        assert_eq!(env["PYTHONPATH"], "/usr/lib/vh-runner/python:/srv/mine");
    }
}
