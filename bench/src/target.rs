//! One target of the bench: what it asks, the measured
//! figure and whether it is met; `targets` and `hubshaped` judge them.

/// One target: what, the measured figure, and whether it is met.
pub struct Target {
    /// The target, as docs/performance.md states it.
    pub what: &'static str,
    /// The figure and what it was compared with.
    pub measured: String,
    /// Whether the figure meets the target.
    pub met: bool,
    /// How far off it is, if it does not.
    pub miss: String,
}
