//! The shim's own log lines, in the plugin's style: `PY: ` prefix on
//! stdout, flushed per line, filtered by the level python_pi sets through
//! `w_LogLevel` (docs/abi.md §10.3: 0 always, 1 status, 2 values,
//! 3..5 debug).

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

/// The level last set by `w_LogLevel`; 0 until the plugin calls it.
static LOG_LEVEL: AtomicI32 = AtomicI32::new(0);

/// Sets the level (`w_LogLevel`).
pub fn set_level(level: i32) {
    LOG_LEVEL.store(level, Ordering::Relaxed);
}

/// The current level.
pub fn level() -> i32 {
    LOG_LEVEL.load(Ordering::Relaxed)
}

/// Writes one line if `level` is at or below the current level. Level 0
/// lines (errors an admin must see) are always written.
pub fn write(level: i32, args: std::fmt::Arguments<'_>) {
    if level > 0 && level > self::level() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // Nothing sensible to do if the hub's stdout is gone.
    let _ = writeln!(out, "PY: vh-shim: {args}");
    let _ = out.flush();
}

/// `shim_log!(level, "format", args..)`: see [`write()`].
#[macro_export]
macro_rules! shim_log {
    ($level:expr, $($arg:tt)*) => {
        $crate::log::write($level, format_args!($($arg)*))
    };
}
