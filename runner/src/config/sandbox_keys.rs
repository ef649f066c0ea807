//! The sandbox keys of a script's settings, checked when the config is
//! loaded (docs/admin.md "Sandbox"); the `sandbox` module enforces them at
//! each spawn and re-exports [`check`].

use super::ScriptSettings;

/// Checks the sandbox keys of one script's settings (at config load).
///
/// # Errors
/// `network = false` without `sandbox = true` (only the sandbox can enforce
/// it), or a relative `sandbox_read`/`sandbox_write` path; the message
/// names the key.
pub fn check(settings: &ScriptSettings) -> Result<(), String> {
    if !settings.network && !settings.sandbox {
        return Err("network = false needs sandbox = true (Landlock enforces it)".into());
    }
    for (key, list) in [
        ("sandbox_read", &settings.sandbox_read),
        ("sandbox_write", &settings.sandbox_write),
    ] {
        if let Some(p) = list.iter().find(|p| !p.is_absolute()) {
            return Err(format!("{key}: {:?} is not an absolute path", p.display()));
        }
    }
    Ok(())
}
