//! The spin budget's bookkeeping after a wait, `vh._spin.Adaptive.waited`
//! compiled: the short way tells the budget after the hook's answer, and
//! a Python frame there would cost a cold hook what the loop saves.

use std::time::Duration;

use crate::ffi::PyObject;
use crate::name;
use crate::py::{self, PyResult};

/// The budget after a wait of `took` seconds, with largest budget `max`,
/// current budget `budget` and `worth` the class's `WORTH` (all seconds
/// but `worth`): doubled, from at least an eighth of the largest, if the
/// wait was short enough for a spin to catch; else halved, down to
/// nothing below 1/64 of the largest.
pub fn next_budget(max: f64, budget: f64, worth: f64, took: f64) -> f64 {
    if took <= max * worth {
        (budget * 2.0).max(max / 8.0).min(max)
    } else {
        let half = budget / 2.0;
        if half < max / 64.0 { 0.0 } else { half }
    }
}

/// `spin.waited(took)` on a `vh._spin.Adaptive`.
pub fn waited(spin: *mut PyObject, took: Duration) -> PyResult<()> {
    let max = py::float(py::own_attr(spin, name!(c"_max"))?.as_ptr())?;
    if max == 0.0 {
        return Ok(());
    }
    let budget = py::float(py::own_attr(spin, name!(c"_budget"))?.as_ptr())?;
    let worth = py::float(py::getattr(spin, name!(c"WORTH"))?.as_ptr())?;
    let next = next_budget(max, budget, worth, took.as_secs_f64());
    py::set_own_attr(spin, name!(c"_budget"), py::float_of(next)?.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::next_budget;

    #[test]
    fn short_waits_double_the_budget_and_long_ones_halve_it_to_nothing() {
        let max = 50e-6;
        assert_eq!(next_budget(max, 0.0, 2.0, 10e-6), max / 8.0);
        assert_eq!(next_budget(max, max / 8.0, 2.0, 10e-6), max / 4.0);
        assert_eq!(next_budget(max, max, 2.0, 100e-6), max);
        assert_eq!(next_budget(max, max, 2.0, 1e-3), max / 2.0);
        assert_eq!(next_budget(max, max / 32.0, 2.0, 1e-3), max / 64.0);
        assert_eq!(next_budget(max, max / 64.0, 2.0, 1e-3), 0.0);
    }
}
