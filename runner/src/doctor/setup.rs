//! Doctor's checks of the installation around the runner: the config
//! file, the wrapper python_pi loads, the kernel's Landlock and the
//! systemd unit.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Options;
use super::finding::Finding;
use super::probe::run_bounded;
use crate::config::{Config, DEFAULT_CONFIG};
use crate::elf::Object;
use crate::install;

/// The config file (as `serve` would read it, with the flags): the
/// configuration the other checks use, or the defaults if it is bad.
pub(super) fn check_config(opts: &Options, out: &mut Vec<Finding>) -> Config {
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

/// Which wrapper python_pi would load ([`crate::install::survey`]).
pub(super) fn check_wrapper(plugin: Option<&Path>, out: &mut Vec<Finding>) {
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

/// The kernel's Landlock ABI (docs/admin.md "Sandbox"): what `sandbox =
/// true` can enforce here. A problem only when the config sandboxes a
/// script and the kernel has no Landlock at all.
pub(super) fn check_landlock(config: &Config, out: &mut Vec<Finding>) {
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

/// Where systemd units usually are.
pub const UNIT_PLACES: &[&str] = &[
    "/etc/systemd/system/vh-runner.service",
    "/lib/systemd/system/vh-runner.service",
    "/usr/lib/systemd/system/vh-runner.service",
];

/// The systemd unit: found, its `ExecStart` names a program that exists,
/// and it is enabled (asked only when systemd runs).
pub(super) fn check_unit(unit: Option<&Path>, out: &mut Vec<Finding>) {
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
