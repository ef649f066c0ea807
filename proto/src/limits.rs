//! Limits that more than one part of vh-runner enforces, kept in one place
//! so that the runner never accepts a setting the shim would refuse.

/// Longest hook deadline, milliseconds: 10 minutes (past that the hub
/// would look frozen to its users long before). The shim's
/// `VH_HOOK_DEADLINE_MS` and runner.toml's `hook_deadline_ms` and
/// `timer_deadline_ms` may not exceed it, and the shim caps a per-script
/// deadline the runner sends at it.
pub const MAX_HOOK_DEADLINE_MS: u32 = 600_000;

/// Longest load or unload deadline, milliseconds: 1 hour
/// (`VH_LOAD_DEADLINE_MS`, `VH_UNLOAD_DEADLINE_MS`).
pub const MAX_LOAD_DEADLINE_MS: u32 = 3_600_000;

/// Longest spin, µs (10 ms: longer only burns CPU); `VH_SPIN_US` of the
/// shim and the workers.
pub const MAX_SPIN_US: u32 = 10_000;
