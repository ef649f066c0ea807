//! The runner's configuration from arbitrary text, through the same
//! `Config::load` that `vh-runner serve` and `check-config` use (it reads
//! a file, so each input is written to a scratch file first; a
//! `Config::from_toml_str` in runner/ would spare that).
//!
//! Checked: no panic; an accepted config resolves every script section;
//! and what `check-config` prints for it (`Config::to_toml`) loads again
//! to the same configuration, so an admin can paste it back.

use std::path::PathBuf;

use vh_runner::config::Config;

fn scratch() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    dir.join(format!(
        "vh-fuzz-config-{}-{thread}.toml",
        std::process::id()
    ))
}

fn load(text: &str) -> Result<Config, String> {
    let path = scratch();
    std::fs::write(&path, text).expect("scratch file");
    let got = Config::load(Some(&path)).map_err(|e| format!("{e:#}"));
    let _ = std::fs::remove_file(&path);
    got
}

/// One fuzzer input, as the text of `runner.toml`.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(cfg) = load(&text) else {
        return;
    };
    cfg.socket_mode_bits()
        .expect("a loaded config has a valid socket mode");
    for section in &cfg.scripts {
        let by_name = cfg.resolve(&section.pattern);
        let _ = cfg.resolve(&format!("/srv/hub/scripts/{}", section.pattern));
        let _ = by_name.settings.env.len();
    }
    let printed = cfg
        .to_toml()
        .expect("check-config can print every config serve accepts");
    let again = load(&printed)
        .unwrap_or_else(|e| panic!("check-config output does not load:\n{printed}\n{e}"));
    assert_eq!(
        again.to_toml().expect("prints again"),
        printed,
        "check-config output loads to another config"
    );
}
