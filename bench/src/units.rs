//! Figures as the bench prints them: durations in microseconds, sizes in
//! MiB.

/// Nanoseconds as microseconds, 2 decimals below 10 µs, else 1.
pub fn us(ns: f64) -> String {
    let u = ns / 1000.0;
    if u < 10.0 {
        format!("{u:.2}")
    } else {
        format!("{u:.1}")
    }
}

/// KiB as MiB.
pub fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}
