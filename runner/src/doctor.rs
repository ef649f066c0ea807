//! `vh-runner doctor` (issue 15): checks what a hub admin would otherwise
//! find out alone, and explains each finding with its fix: the config
//! file, the runner socket against the hub's user ([`crate::doctor_socket`]),
//! which wrapper python_pi loads ([`crate::install::survey`]), the Python 3
//! interpreter and `import vh` in it (with the workers' `PYTHONPATH`), a
//! Python 2.7 for legacy scripts, and the systemd unit. Exit 0 only when
//! no finding is a problem (notes do not count).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::ServeArgs;
use crate::config::{Config, DEFAULT_CONFIG};
use crate::elf::Object;
use crate::install;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// As it should be.
    Ok,
    /// Worth knowing; not a problem (e.g. no Python 2.7 and perhaps no
    /// legacy script either).
    Note,
    /// Something the hub would suffer from; doctor exits 1.
    Problem,
}

/// One finding: what was checked, what was found, how to fix it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// Short topic ("socket", "wrapper", "python3", ...).
    pub topic: &'static str,
    /// What was found.
    pub what: String,
    /// What to do about it, if anything.
    pub fix: Option<String>,
}

impl Finding {
    /// A finding that is fine.
    pub fn ok(topic: &'static str, what: impl Into<String>) -> Finding {
        Finding {
            level: Level::Ok,
            topic,
            what: what.into(),
            fix: None,
        }
    }

    /// A problem, with its fix.
    pub fn problem(
        topic: &'static str,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            level: Level::Problem,
            topic,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    /// A note, with what to do if it matters.
    pub fn note(topic: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Note,
            topic,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What `vh-runner doctor` is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--config`, `--socket`, `--python` as for `serve`.
    pub serve: ServeArgs,
    /// python_pi's plugin (file or folder) [default: the usual places].
    pub plugin: Option<PathBuf>,
    /// The user the hub runs as.
    pub hub_user: String,
    /// The systemd unit file [default: the usual places].
    pub unit: Option<PathBuf>,
}

/// Runs every check.
pub fn run(opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let config = check_config(opts, &mut out);
    crate::doctor_socket::check(&config, &opts.hub_user, &mut out);
    check_wrapper(opts.plugin.as_deref(), &mut out);
    crate::doctor_python::check_python3(&config, &mut out);
    crate::doctor_python::check_python2(&mut out);
    check_landlock(&config, &mut out);
    check_unit(opts.unit.as_deref(), &mut out);
    out
}

/// The kernel's Landlock ABI (docs/admin.md "Sandbox"): what `sandbox =
/// true` can enforce here. A problem only when the config sandboxes a
/// script and the kernel has no Landlock at all.
fn check_landlock(config: &Config, out: &mut Vec<Finding>) {
    let what = crate::sandbox::describe_kernel_abi();
    if crate::sandbox::kernel_abi().is_some() {
        out.push(Finding::ok("sandbox", what));
        return;
    }
    let sandboxed = config.defaults.sandbox
        || config
            .scripts
            .iter()
            .any(|s| s.overrides.get("sandbox").and_then(|v| v.as_bool()) == Some(true));
    let fix = "boot a kernel with Landlock (Linux 5.13 or later, `landlock` in the `lsm=` \
               list); until then sandboxed scripts run unrestricted, and those with \
               `sandbox_required = true` are refused";
    out.push(if sandboxed {
        Finding::problem("sandbox", what, fix)
    } else {
        Finding::note("sandbox", what, fix)
    });
}

/// The findings as text, one line each plus the fix.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Ok => "[ ok ]",
            Level::Note => "[note]",
            Level::Problem => "[FAIL]",
        };
        let _ = writeln!(s, "{tag} {}: {}", f.topic, f.what);
        if let Some(fix) = &f.fix {
            let _ = writeln!(s, "       fix: {fix}");
        }
    }
    let problems = findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count();
    let _ = match problems {
        0 => writeln!(s, "all is well"),
        n => writeln!(s, "{n} problem(s)"),
    };
    s
}

fn check_config(opts: &Options, out: &mut Vec<Finding>) -> Config {
    let path = opts.serve.config.clone().or_else(|| {
        Path::new(DEFAULT_CONFIG)
            .exists()
            .then(|| PathBuf::from(DEFAULT_CONFIG))
    });
    match Config::load(path.as_deref()) {
        Ok(c) => {
            match &path {
                Some(p) => out.push(Finding::ok(
                    "config",
                    format!("{} loads ({} [[script]] section(s))", p.display(), c.scripts.len()),
                )),
                None => out.push(Finding::note(
                    "config",
                    format!("no {DEFAULT_CONFIG}: the runner uses its defaults"),
                    "install the commented example: `install -D -m 0644 packaging/runner.toml /etc/vh-runner/runner.toml` (the .deb does)",
                )),
            }
            c.with_overrides(&opts.serve.overrides())
        }
        Err(e) => {
            out.push(Finding::problem(
                "config",
                format!("{e:#}"),
                "correct that key (`vh-runner check-config --config FILE` shows the effective settings); the runner refuses to start with it",
            ));
            Config::default().with_overrides(&opts.serve.overrides())
        }
    }
}

fn check_wrapper(plugin: Option<&Path>, out: &mut Vec<Finding>) {
    let survey = match install::find_plugin(plugin).and_then(|p| install::survey(&p)) {
        Ok(s) => s,
        Err(e) => {
            out.push(Finding::problem(
                "wrapper",
                format!("{e:#}"),
                "name python_pi with --plugin PATH (the folder holding libpython_pi.so)",
            ));
            return;
        }
    };
    let generation = survey.generation;
    let shipped = install::find_shim(None)
        .ok()
        .and_then(|p| std::fs::read(p).ok());
    for w in &survey.wrappers {
        let why = w.why.join("; ");
        let obj = match Object::read(&w.path) {
            Ok(o) => o,
            Err(e) => {
                out.push(Finding::problem(
                    "wrapper",
                    format!("{e:#}"),
                    "reinstall python_pi, then `vh-runner install-shim`",
                ));
                continue;
            }
        };
        let place = format!("{} [{why}]", w.path.display());
        if !obj.is_shim() {
            out.push(Finding::problem(
                "wrapper",
                format!("{place}: the original wrapper (generation {generation} plugin): scripts run inside the hub"),
                "`vh-runner install-shim` (keeps the original as .orig), then `!offplug python` and `!onplug python` in the hub, or restart it",
            ));
        } else if !obj.missing_symbols().is_empty() {
            out.push(Finding::problem(
                "wrapper",
                format!(
                    "{place}: a shim lacking {}",
                    obj.missing_symbols().join(", ")
                ),
                "`vh-runner install-shim` puts this runner's shim in place",
            ));
        } else if shipped.as_ref().is_some_and(|b| *b != obj.bytes) {
            out.push(Finding::note(
                "wrapper",
                format!("{place}: the shim, but another build than this runner's"),
                "`vh-runner install-shim` updates it",
            ));
        } else {
            out.push(Finding::ok(
                "wrapper",
                format!("{place}: the shim (generation {generation} plugin)"),
            ));
        }
    }
    for (p, why) in &survey.absent {
        if why.starts_with("DT_NEEDED") {
            out.push(Finding::problem(
                "wrapper",
                format!("{} [{why}]", p.display()),
                "install the wrapper where the plugin's RUNPATH or ld.so.conf points, or run `ldconfig`",
            ));
        }
    }
}

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

/// Where systemd units usually are.
pub const UNIT_PLACES: &[&str] = &[
    "/etc/systemd/system/vh-runner.service",
    "/lib/systemd/system/vh-runner.service",
    "/usr/lib/systemd/system/vh-runner.service",
];

fn check_unit(unit: Option<&Path>, out: &mut Vec<Finding>) {
    let systemd = Path::new("/run/systemd/system").is_dir();
    let found = match unit {
        Some(u) => u.is_file().then(|| u.to_path_buf()),
        None => UNIT_PLACES.iter().map(PathBuf::from).find(|p| p.is_file()),
    };
    let Some(path) = found else {
        let what = format!(
            "no vh-runner.service ({})",
            unit.map_or_else(|| UNIT_PLACES.join(", "), |u| u.display().to_string())
        );
        let fix = "the .deb installs it; from source: `install -m 0644 packaging/vh-runner.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now vh-runner`";
        out.push(if systemd || unit.is_some() {
            Finding::problem("systemd", what, fix)
        } else {
            Finding::note(
                "systemd",
                format!("{what}; this machine does not run systemd"),
                "start `vh-runner serve` with your init system",
            )
        });
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let value = |key: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(key)?.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_string())
    };
    let mut bad = Vec::new();
    match value("ExecStart") {
        Some(cmd) => {
            let exe = cmd.trim_start_matches(['-', '@', '+', '!', ':']);
            let exe = exe.split_whitespace().next().unwrap_or("");
            if !Path::new(exe).is_file() {
                bad.push(format!("ExecStart names {exe}, which does not exist"));
            }
        }
        None => bad.push("no ExecStart=".into()),
    }
    if let Some(user) = value("User")
        && nix::unistd::User::from_name(&user).ok().flatten().is_none()
    {
        bad.push(format!(
            "User={user} does not exist (`adduser --system --group {user}`)"
        ));
    }
    if bad.is_empty() {
        out.push(Finding::ok("systemd", format!("{}", path.display())));
    } else {
        out.push(Finding::problem(
            "systemd",
            format!("{}: {}", path.display(), bad.join("; ")),
            "edit the unit (`systemctl edit --full vh-runner`), then `systemctl daemon-reload`",
        ));
    }
    if systemd
        && unit.is_none()
        && let Some((_, state)) =
            run_bounded(Command::new("systemctl").args(["is-enabled", "vh-runner"]))
        && state != "enabled"
    {
        out.push(Finding::note(
            "systemd",
            format!("vh-runner.service is {state}: it will not start at boot"),
            "`systemctl enable --now vh-runner`",
        ));
    }
}
