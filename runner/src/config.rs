//! The runner's TOML configuration (default `/etc/vh-runner/runner.toml`;
//! a commented example is `packaging/runner.toml`).
//!
//! Top-level keys set the socket and the interpreter; `[defaults]` sets the
//! per-script settings every script gets; each `[[script]]` section matched
//! by file name or full path overrides some of them for that script.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

mod ranges;
pub mod sandbox_keys;
mod settings;

pub use settings::{ScriptSettings, Semantics};

/// Default socket path; matches the shim's default and the systemd unit's
/// `RuntimeDirectory=vh-runner`.
pub const DEFAULT_SOCKET: &str = "/run/vh-runner/runner.sock";
/// Default configuration file, read if it exists and no `--config` is given.
pub const DEFAULT_CONFIG: &str = "/etc/vh-runner/runner.toml";
/// Default worker interpreter.
pub const DEFAULT_PYTHON: &str = "python3";
/// Default socket mode: owner and group may connect.
pub const DEFAULT_SOCKET_MODE: &str = "0660";

/// Effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Unix socket to listen on.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Mode of the socket file, octal (`"0660"`).
    #[serde(default = "default_socket_mode")]
    pub socket_mode: String,
    /// Group of the socket file (name or number); the hub's user should be
    /// in it. Unset: the runner's own group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_group: Option<String>,
    /// Extra uids allowed to connect, besides the runner's own uid and
    /// members of the socket's group (checked with SO_PEERCRED).
    #[serde(default)]
    pub allow_uids: Vec<u32>,
    /// Python interpreter that runs each worker (`python -m vh.worker`),
    /// unless a `[[script]]` section names another.
    #[serde(default = "default_python")]
    pub python: PathBuf,
    /// Folder of the scripts' state folders (`<state_root>/<script>`, the
    /// one place a sandboxed script may write); unset: see
    /// [`crate::sandbox::state::default_root`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_root: Option<PathBuf>,
    /// Folders put first on every worker's `PYTHONPATH` (crate::sdk);
    /// default: the `vh` package shipped with the runner
    /// (`/usr/lib/vh-runner/python` in the .deb), if there is one.
    #[serde(
        default = "crate::sdk::default_python_path",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub python_path: Vec<PathBuf>,
    /// Settings of every script.
    #[serde(default)]
    pub defaults: ScriptSettings,
    /// Per-script overrides, first match wins.
    #[serde(default, rename = "script")]
    pub scripts: Vec<ScriptSection>,
}

/// A `[[script]]` section: which scripts it applies to, and what it changes.
/// (Unknown keys are caught when the overrides are checked against
/// [`ScriptSettings`]: serde cannot deny them next to `flatten`.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptSection {
    /// File name (`greeter.py`) or full path of the script.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Interpreter of this script (e.g. its own venv's python).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// Settings that differ from `[defaults]`; the rest come from there.
    #[serde(flatten)]
    pub overrides: toml::Table,
}

fn default_socket() -> PathBuf {
    DEFAULT_SOCKET.into()
}

fn default_python() -> PathBuf {
    DEFAULT_PYTHON.into()
}

fn default_socket_mode() -> String {
    DEFAULT_SOCKET_MODE.into()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            socket: default_socket(),
            socket_mode: default_socket_mode(),
            socket_group: None,
            allow_uids: Vec::new(),
            python: default_python(),
            state_root: None,
            python_path: crate::sdk::default_python_path(),
            defaults: ScriptSettings::default(),
            scripts: Vec::new(),
        }
    }
}

/// Command-line values that win over the file (`--socket`, `--python` of
/// `serve`, `check-config` and `doctor`; `cli::ServeArgs::overrides`);
/// `None` keeps the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Unix socket to listen on.
    pub socket: Option<PathBuf>,
    /// Interpreter of the workers.
    pub python: Option<PathBuf>,
}

/// What one script runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Interpreter.
    pub python: PathBuf,
    /// Settings.
    pub settings: ScriptSettings,
    /// Folder of the scripts' state folders (`state_root` or its default).
    pub state_root: PathBuf,
    /// A `[[script]]` section named the interpreter: no automatic choice.
    pub explicit_python: bool,
    /// The interpreter is a Python 2 (set by the supervisor, [`crate::py2`]).
    pub py2: bool,
    /// A failed load that looks like Python 2 code is tried again under
    /// Python 2.7 (set by the supervisor).
    pub py2_fallback: bool,
    /// Under generation A's semantics a script runs in Python 2.7 first, as
    /// python_pi 1.6 ran every script; a first load that fails there as
    /// Python 3 code fails is tried again under this Python 3 (set by the
    /// supervisor).
    pub py3_fallback: Option<PathBuf>,
    /// After a fallback: the interpreter the first load failed under
    /// ("Python 2.7", "Python 3") and its traceback, so that a second
    /// failure tells the hub the right one ([`crate::py2::both_failed`]).
    pub earlier_failure: Option<(&'static str, String)>,
}

impl Config {
    /// Reads `path`, or the default file if it exists, or the defaults.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML for this schema, or a
    /// value is out of range; the message names the file and the key.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG).exists() => DEFAULT_CONFIG.into(),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        self.socket_mode_bits()?;
        if let Some(root) = self.state_root.as_ref().filter(|r| !r.is_absolute()) {
            return Err(format!(
                "state_root: {:?} is not an absolute path",
                root.display()
            ));
        }
        let check = |s: &ScriptSettings| ranges::check(s).and_then(|()| sandbox_keys::check(s));
        check(&self.defaults).map_err(|e| format!("[defaults]: {e}"))?;
        for (i, section) in self.scripts.iter().enumerate() {
            self.merge(section).and_then(|s| check(&s)).map_err(|e| {
                format!("[[script]] #{} (match = {:?}): {e}", i + 1, section.pattern)
            })?;
        }
        Ok(())
    }

    /// The socket mode as bits.
    ///
    /// # Errors
    /// `socket_mode` is not an octal number up to 0777.
    pub fn socket_mode_bits(&self) -> Result<u32, String> {
        u32::from_str_radix(self.socket_mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| {
                format!(
                    "socket_mode: {:?} is not an octal mode like \"0660\"",
                    self.socket_mode
                )
            })
    }

    fn merge(&self, section: &ScriptSection) -> Result<ScriptSettings, String> {
        let mut table = toml::Table::try_from(&self.defaults).map_err(|e| e.to_string())?;
        for (k, v) in &section.overrides {
            table.insert(k.clone(), v.clone());
        }
        table
            .try_into::<ScriptSettings>()
            .map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Settings of the script at `path` (hub bytes): the first `[[script]]`
    /// whose `match` equals its path or file name, over `[defaults]`; its
    /// `PYTHONPATH` starts with `python_path` ([`crate::sdk`]).
    pub fn resolve(&self, path: &str) -> Resolved {
        let name = path.rsplit('/').next().unwrap_or(path);
        let section = self
            .scripts
            .iter()
            .find(|s| s.pattern == path || s.pattern == name);
        let state_root = self
            .state_root
            .clone()
            .unwrap_or_else(crate::sandbox::state::default_root);
        let mut resolved = match section {
            Some(s) => Resolved {
                python: s.python.clone().unwrap_or_else(|| self.python.clone()),
                // Validated at load; defaults are the safe fallback.
                settings: self.merge(s).unwrap_or_else(|_| self.defaults.clone()),
                state_root,
                explicit_python: s.python.is_some(),
                py2: false,
                py2_fallback: false,
                py3_fallback: None,
                earlier_failure: None,
            },
            None => Resolved {
                python: self.python.clone(),
                settings: self.defaults.clone(),
                state_root,
                explicit_python: false,
                py2: false,
                py2_fallback: false,
                py3_fallback: None,
                earlier_failure: None,
            },
        };
        crate::sdk::apply(&self.python_path, &mut resolved.settings.env);
        resolved
    }

    /// Applies command-line flags over the file.
    pub fn with_overrides(mut self, args: &Overrides) -> Config {
        if let Some(s) = &args.socket {
            self.socket.clone_from(s);
        }
        if let Some(p) = &args.python {
            self.python.clone_from(p);
        }
        // Workers start in their script's folder: a relative interpreter
        // path ("venv/bin/python") means relative to where the runner started.
        let absolute = |p: &mut PathBuf| {
            if p.is_relative()
                && p.components().count() > 1
                && let Ok(cwd) = std::env::current_dir()
            {
                *p = cwd.join(&*p);
            }
        };
        absolute(&mut self.python);
        if let Some(p) = self.defaults.python2.as_mut() {
            absolute(p);
        }
        for s in &mut self.scripts {
            if let Some(p) = s.python.as_mut() {
                absolute(p);
            }
        }
        self
    }

    /// The configuration as TOML, for `check-config`.
    ///
    /// # Errors
    /// Only if a path is not valid UTF-8.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runner.toml");
        std::fs::write(&file, text).unwrap();
        Config::load(Some(&file)).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = parse("socket = \"/tmp/x.sock\"\npyton = \"python3\"\n").unwrap_err();
        assert!(
            err.contains("runner.toml") && err.contains("pyton"),
            "{err}"
        );
        let err = parse("[defaults]\nhook_deadline_ms = \"fast\"\n").unwrap_err();
        assert!(
            err.contains("runner.toml") && err.contains("hook_deadline_ms"),
            "{err}"
        );
        let err = parse("[[script]]\nmatch = \"a.py\"\nhook_deadlin_ms = 5\n").unwrap_err();
        assert!(
            err.contains("hook_deadlin_ms") && err.contains("a.py"),
            "{err}"
        );
        let err = parse("[[script]]\nmatch = \"a.py\"\nhook_deadline_ms = 99999999\n").unwrap_err();
        assert!(
            err.contains(
                "runner.toml: [[script]] #1 (match = \"a.py\"): hook_deadline_ms = 99999999"
            ) && err.contains("from 0 to 600000"),
            "{err}"
        );
        let err = parse("socket_mode = \"rw\"\n").unwrap_err();
        assert!(err.contains("socket_mode"), "{err}");
    }

    #[test]
    fn semantics_is_a_or_b_per_script_and_unset_by_default() {
        let cfg = parse(
            "[defaults]\nsemantics = \"B\"\n[[script]]\nmatch = \"old.py\"\nsemantics = \"A\"\n",
        )
        .unwrap();
        assert_eq!(
            cfg.resolve("/s/new.py").settings.semantics,
            Some(Semantics::B)
        );
        assert_eq!(
            cfg.resolve("/s/old.py").settings.semantics,
            Some(Semantics::A)
        );
        assert_eq!(parse("").unwrap().resolve("x.py").settings.semantics, None);
        let err = parse("[[script]]\nmatch = \"a.py\"\nsemantics = \"C\"\n").unwrap_err();
        assert!(
            err.contains("semantics") || err.contains("variant"),
            "{err}"
        );
    }

    #[test]
    fn the_packaged_example_is_valid() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/runner.toml");
        let cfg = Config::load(Some(&example)).unwrap();
        assert_eq!(cfg.resolve("/x/hub_api.py").settings.memory_limit_mb, 512);
        assert_eq!(
            cfg.resolve("/etc/verlihub/scripts/slow_stats.py")
                .settings
                .max_crashes,
            2
        );
        assert_eq!(
            cfg.defaults,
            ScriptSettings::default(),
            "the example documents the defaults"
        );
        let api = cfg.resolve("/x/hub_api.py").settings;
        assert!(api.sandbox && api.network && api.sandbox_required);
        let bridge = cfg.resolve("/x/matterbridge.py").settings;
        assert!(bridge.sandbox && bridge.sandbox_read.contains(&PathBuf::from("/etc/ssl")));
    }

    #[test]
    fn sandbox_keys_are_checked_at_load() {
        let err = parse("[defaults]\nnetwork = false\n").unwrap_err();
        assert!(
            err.contains("runner.toml") && err.contains("[defaults]") && err.contains("network"),
            "{err}"
        );
        let err = parse("[defaults]\nsandbox = true\n[[script]]\nmatch = \"a.py\"\nsandbox = false\nnetwork = false\n").unwrap_err();
        assert!(
            err.contains("a.py") && err.contains("network = false needs sandbox = true"),
            "{err}"
        );
        let err = parse("[[script]]\nmatch = \"a.py\"\nsandbox = true\nsandbox_read = [\"etc\"]\n")
            .unwrap_err();
        assert!(
            err.contains("sandbox_read") && err.contains("absolute"),
            "{err}"
        );
        let err = parse("state_root = \"state\"\n").unwrap_err();
        assert!(err.contains("state_root"), "{err}");
        let cfg =
            parse("state_root = \"/srv/state\"\n[defaults]\nsandbox = true\nnetwork = false\n")
                .unwrap();
        let r = cfg.resolve("/x/a.py");
        assert_eq!(r.state_root, PathBuf::from("/srv/state"));
        assert!(r.settings.sandbox && !r.settings.network);
    }

    #[test]
    fn script_sections_override_defaults_by_name_or_path() {
        let cfg = parse(
            "python = \"/venv/bin/python\"\n[defaults]\nhook_deadline_ms = 300\n\
             [[script]]\nmatch = \"api.py\"\npython = \"/api/bin/python\"\nhook_deadline_ms = 50\n\
             env = { A = \"1\" }\n[[script]]\nmatch = \"/srv/x/slow.py\"\nmax_crashes = 1\n",
        )
        .unwrap();
        let api = cfg.resolve("/etc/verlihub/scripts/api.py");
        assert_eq!(api.python, PathBuf::from("/api/bin/python"));
        assert_eq!(api.settings.hook_deadline_ms, 50);
        assert_eq!(api.settings.env.get("A").map(String::as_str), Some("1"));
        let slow = cfg.resolve("/srv/x/slow.py");
        assert_eq!(
            (slow.settings.max_crashes, slow.settings.hook_deadline_ms),
            (1, 300)
        );
        assert_eq!(cfg.resolve("/elsewhere/slow.py").settings.max_crashes, 5);
        assert_eq!(
            cfg.resolve("other.py").python,
            PathBuf::from("/venv/bin/python")
        );
    }
}
