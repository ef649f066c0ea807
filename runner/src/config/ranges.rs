//! The numeric per-script settings of runner.toml and the values each may
//! take, checked when the config is loaded, so that a typo (`0`, a value in
//! the wrong unit) stops the runner at start with the key, the value and
//! what is allowed, instead of misbehaving hours later.

use vh_proto::limits::MAX_HOOK_DEADLINE_MS;

use super::ScriptSettings;

/// One numeric key: its name, the least and greatest value allowed, and
/// how the allowed values read in an error.
struct Range {
    key: &'static str,
    min: u64,
    max: u64,
    what: &'static str,
}

const HOUR_MS: u64 = 3_600_000;
const DAY_S: u64 = 86_400;

/// Every numeric key of [`ScriptSettings`] (a test checks none is missing).
const RANGES: &[Range] = &[
    Range {
        key: "hook_deadline_ms",
        min: 0,
        max: MAX_HOOK_DEADLINE_MS as u64,
        what: "milliseconds, 0 for the shim's default (VH_HOOK_DEADLINE_MS)",
    },
    Range {
        key: "timer_deadline_ms",
        min: 0,
        max: MAX_HOOK_DEADLINE_MS as u64,
        what: "milliseconds, 0 for hook_deadline_ms",
    },
    Range {
        key: "circuit_after",
        min: 0,
        max: 1_000,
        what: "hook timeouts in a row, 0 for the shim's default (3)",
    },
    Range {
        key: "hook_kill_timeout_ms",
        min: 100,
        max: HOUR_MS,
        what: "milliseconds",
    },
    Range {
        key: "restart_initial_ms",
        min: 1,
        max: HOUR_MS,
        what: "milliseconds",
    },
    Range {
        key: "restart_max_ms",
        min: 1,
        max: 24 * HOUR_MS,
        what: "milliseconds",
    },
    Range {
        key: "healthy_reset_s",
        min: 1,
        max: 7 * DAY_S,
        what: "seconds",
    },
    Range {
        key: "max_crashes",
        min: 0,
        max: 1_000_000,
        what: "crashes, 0 to mark the script failed at its first crash",
    },
    Range {
        key: "crash_window_s",
        min: 1,
        max: 7 * DAY_S,
        what: "seconds",
    },
    Range {
        key: "memory_limit_mb",
        min: 0,
        max: 1 << 30,
        what: "MiB, 0 for no limit",
    },
    Range {
        key: "cpu_time_limit_s",
        min: 0,
        max: u32::MAX as u64,
        what: "seconds, 0 for no limit",
    },
    Range {
        key: "open_files",
        min: 0,
        max: 1 << 20,
        what: "descriptors, 0 to inherit the runner's limit",
    },
];

/// Checks the numeric keys of one script's settings.
///
/// # Errors
/// The first key out of its range, as
/// `hook_deadline_ms = 99999999 is not allowed: a whole number from 0 to 600000 (…)`,
/// or `restart_initial_ms` above `restart_max_ms`.
pub fn check(settings: &ScriptSettings) -> Result<(), String> {
    let table = toml::Table::try_from(settings).map_err(|e| e.to_string())?;
    for r in RANGES {
        let value = table
            .get(r.key)
            .and_then(toml::Value::as_integer)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| format!("{}: not a number in the settings table", r.key))?;
        if !(r.min..=r.max).contains(&value) {
            return Err(format!(
                "{} = {value} is not allowed: a whole number from {} to {} ({})",
                r.key, r.min, r.max, r.what
            ));
        }
    }
    if settings.restart_initial_ms > settings.restart_max_ms {
        return Err(format!(
            "restart_initial_ms = {} is not allowed: it may not exceed restart_max_ms ({})",
            settings.restart_initial_ms, settings.restart_max_ms
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_every_numeric_key_has_a_range() {
        check(&ScriptSettings::default()).unwrap();
        let table = toml::Table::try_from(ScriptSettings::default()).unwrap();
        let numeric: Vec<&str> = table
            .iter()
            .filter(|(_, v)| v.is_integer())
            .map(|(k, _)| k.as_str())
            .collect();
        let ranged: Vec<&str> = RANGES.iter().map(|r| r.key).collect();
        assert_eq!(
            {
                let mut n = numeric.clone();
                n.sort_unstable();
                n
            },
            {
                let mut r = ranged.clone();
                r.sort_unstable();
                r
            }
        );
    }

    #[test]
    fn out_of_range_values_name_the_key_the_value_and_the_range() {
        let s = ScriptSettings {
            hook_deadline_ms: 99_999_999,
            ..ScriptSettings::default()
        };
        assert_eq!(
            check(&s).unwrap_err(),
            "hook_deadline_ms = 99999999 is not allowed: a whole number from 0 to \
             600000 (milliseconds, 0 for the shim's default (VH_HOOK_DEADLINE_MS))"
        );
        let s = ScriptSettings {
            hook_kill_timeout_ms: 0,
            ..ScriptSettings::default()
        };
        assert!(
            check(&s)
                .unwrap_err()
                .starts_with("hook_kill_timeout_ms = 0 ")
        );
        let s = ScriptSettings {
            restart_initial_ms: 60_000,
            restart_max_ms: 1_000,
            ..ScriptSettings::default()
        };
        assert!(check(&s).unwrap_err().contains("restart_max_ms (1000)"));
        let edge = ScriptSettings {
            hook_deadline_ms: MAX_HOOK_DEADLINE_MS,
            ..ScriptSettings::default()
        };
        check(&edge).unwrap();
    }
}
