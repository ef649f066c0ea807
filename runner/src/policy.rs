//! Restart policy of one script (OTP-style restart intensity, systemd-style
//! backoff): after a crash, restart after a delay that starts at
//! `restart_initial_ms`, doubles per crash up to `restart_max_ms`, with ±10 %
//! jitter, and resets once a worker stayed up `healthy_reset_s`; more than
//! `max_crashes` crashes within `crash_window_s` mark the script failed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::ScriptSettings;

/// What to do after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start the worker again after this delay.
    RestartAfter(Duration),
    /// Too many crashes: stop until an admin restarts the script.
    GiveUp,
}

/// Crash history and current delay of one script.
#[derive(Debug)]
pub struct RestartPolicy {
    initial: Duration,
    max: Duration,
    healthy: Duration,
    max_crashes: usize,
    window: Duration,
    crashes: VecDeque<Instant>,
    next_delay: Duration,
}

impl RestartPolicy {
    /// A policy with the script's settings.
    pub fn new(s: &ScriptSettings) -> RestartPolicy {
        let initial = Duration::from_millis(u64::from(s.restart_initial_ms));
        RestartPolicy {
            initial,
            max: Duration::from_millis(u64::from(s.restart_max_ms)).max(initial),
            healthy: Duration::from_secs(u64::from(s.healthy_reset_s)),
            max_crashes: s.max_crashes as usize,
            window: Duration::from_secs(u64::from(s.crash_window_s)),
            crashes: VecDeque::new(),
            next_delay: initial,
        }
    }

    /// Records a crash at `now` of a worker that had run for `uptime`.
    /// `jitter` in [0, 1) picks the point in the ±10 % band.
    pub fn on_crash(&mut self, now: Instant, uptime: Duration, jitter: f64) -> Decision {
        if uptime >= self.healthy {
            self.next_delay = self.initial;
        }
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.crashes.pop_front();
        }
        if self.crashes.len() > self.max_crashes {
            return Decision::GiveUp;
        }
        let base = self.next_delay;
        self.next_delay = (self.next_delay * 2).min(self.max);
        Decision::RestartAfter(base.mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0)))
    }

    /// Forgets all crashes (an admin restarted the script).
    pub fn reset(&mut self) {
        self.crashes.clear();
        self.next_delay = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy::new(&ScriptSettings::default())
    }

    fn delay(d: Decision) -> u128 {
        match d {
            Decision::RestartAfter(d) => d.as_millis(),
            Decision::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn delay_doubles_to_the_cap_and_resets_after_a_healthy_run() {
        let mut p = policy();
        let t = Instant::now();
        let quick = Duration::from_secs(1);
        let mut delays = Vec::new();
        for i in 0..5u64 {
            // One crash every 2 minutes: never more than 5 in 5 minutes.
            delays.push(delay(p.on_crash(
                t + Duration::from_secs(120 * i),
                quick,
                0.5,
            )));
        }
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000]);
        let later = t + Duration::from_secs(3600);
        assert_eq!(delay(p.on_crash(later, Duration::from_secs(61), 0.5)), 500);
        let mut capped = RestartPolicy::new(&ScriptSettings {
            max_crashes: 100,
            ..ScriptSettings::default()
        });
        let last = (0..10)
            .map(|_| delay(capped.on_crash(t, quick, 0.5)))
            .last()
            .unwrap();
        assert_eq!(last, 30_000);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let mut low = policy();
        let mut high = policy();
        let t = Instant::now();
        assert_eq!(delay(low.on_crash(t, Duration::ZERO, 0.0)), 450);
        assert_eq!(delay(high.on_crash(t, Duration::ZERO, 0.999_999)), 549);
    }

    #[test]
    fn more_than_max_crashes_in_the_window_gives_up() {
        let mut p = policy();
        let t = Instant::now();
        for i in 0..5 {
            assert!(matches!(
                p.on_crash(t + Duration::from_secs(i), Duration::ZERO, 0.5),
                Decision::RestartAfter(_)
            ));
        }
        assert_eq!(
            p.on_crash(t + Duration::from_secs(5), Duration::ZERO, 0.5),
            Decision::GiveUp
        );
        p.reset();
        assert!(matches!(
            p.on_crash(t + Duration::from_secs(6), Duration::ZERO, 0.5),
            Decision::RestartAfter(_)
        ));
    }
}
