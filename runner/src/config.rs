//! The runner's TOML configuration (default `/etc/vh-runner/runner.toml`).
//!
//! ```toml
//! # Unix socket the hub's shim connects to.
//! socket = "/run/vh-runner/runner.sock"
//! # Interpreter of the workers; a venv's python works.
//! python = "/opt/vh/venv/bin/python"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cli::ServeArgs;

/// Default socket path; matches the shim's default and the systemd unit's
/// `RuntimeDirectory=vh-runner`.
pub const DEFAULT_SOCKET: &str = "/run/vh-runner/runner.sock";
/// Default configuration file, read if it exists and no `--config` is given.
pub const DEFAULT_CONFIG: &str = "/etc/vh-runner/runner.toml";
/// Default worker interpreter.
pub const DEFAULT_PYTHON: &str = "python3";

/// Effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Unix socket to listen on.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Python interpreter that runs each worker (`python -m vh.worker`).
    #[serde(default = "default_python")]
    pub python: PathBuf,
}

fn default_socket() -> PathBuf {
    DEFAULT_SOCKET.into()
}

fn default_python() -> PathBuf {
    DEFAULT_PYTHON.into()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            socket: default_socket(),
            python: default_python(),
        }
    }
}

impl Config {
    /// Reads `path`, or the default file if it exists, or the defaults.
    ///
    /// # Errors
    /// The file cannot be read, or is not valid TOML for this schema; the
    /// message names the file and the offending key.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG).exists() => DEFAULT_CONFIG.into(),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
    }

    /// Applies command-line flags over the file.
    pub fn with_overrides(mut self, args: &ServeArgs) -> Config {
        if let Some(s) = &args.socket {
            self.socket.clone_from(s);
        }
        if let Some(p) = &args.python {
            self.python.clone_from(p);
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

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let dir = std::env::temp_dir().join(format!("vh-runner-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("runner.toml");
        std::fs::write(&file, "socket = \"/tmp/x.sock\"\npyton = \"python3\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("runner.toml") && err.contains("pyton"),
            "{err}"
        );
        std::fs::write(&file, "python = \"/venv/bin/python\"\n").unwrap();
        let cfg = Config::load(Some(&file)).unwrap();
        assert_eq!(cfg.python, PathBuf::from("/venv/bin/python"));
        assert_eq!(cfg.socket, PathBuf::from(DEFAULT_SOCKET));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
