//! What the runner knows about every script it runs, for `vh-runner
//! status` and `vh-runner logs`: state, counters, hook latencies and the
//! last lines of output. Supervisors write it; the admin service reads it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc};
use vh_proto::v1::{LogLine, ScriptStatus};

use crate::control::Control;

/// Lines of output kept per script for `vh-runner logs`.
pub const LOG_LINES_KEPT: usize = 1000;
/// Hook latencies kept per script for the percentiles.
const LATENCIES_KEPT: usize = 1024;

/// Life-cycle state of a script, as `vh-runner status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The worker is starting or loading the script.
    Starting,
    /// The worker serves hooks.
    Running,
    /// The worker crashed; a restart is scheduled.
    Restarting,
    /// Too many crashes; waits for `vh-runner restart`.
    Failed,
    /// Stopped by `vh-runner stop`.
    Stopped,
    /// The script's worker exited cleanly on its own.
    Exited,
}

impl State {
    /// The word shown in the status table.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Exited => "exited",
        }
    }
}

/// Mutable status of one script.
#[derive(Debug)]
pub struct Stats {
    /// Current worker pid, 0 if none.
    pub pid: u32,
    /// Current state.
    pub state: State,
    /// When the current worker started.
    pub started: Option<Instant>,
    /// Restarts after crashes.
    pub restarts: u32,
    /// Hooks answered.
    pub hooks_served: u64,
    /// Last crash or failure.
    pub last_error: String,
    /// The hub holds a direct link to the current worker.
    pub direct_link: bool,
    /// What the current worker is restricted by (`-`, `fs`, `fs+net`).
    pub sandbox: &'static str,
    /// Version of the worker's interpreter (`"2.7"`, `"3.12"`; empty if
    /// unknown), for the PY column of `vh-runner status`.
    pub python: String,
    latencies_us: VecDeque<u32>,
}

/// One script of one hub.
pub struct Entry {
    /// The hub's script id.
    pub script_id: i32,
    /// File name.
    pub name: String,
    /// Path as the hub gave it.
    pub path: String,
    /// Commands to the script's supervisor.
    /// Weak, so that the session dropping its sender (the hub left) ends
    /// the supervisor even though the admin service can still find it.
    pub control: mpsc::WeakUnboundedSender<Control>,
    stats: Mutex<Stats>,
    logs: Mutex<VecDeque<LogLine>>,
    live: broadcast::Sender<LogLine>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Entry {
    /// Updates the stats under their lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Records one answered hook and its latency through the runner.
    pub fn hook_served(&self, latency_us: u32) {
        self.update(|s| {
            s.hooks_served += 1;
            if s.latencies_us.len() == LATENCIES_KEPT {
                s.latencies_us.pop_front();
            }
            s.latencies_us.push_back(latency_us);
        });
    }

    /// Keeps one output line (and passes it to `logs -f` followers).
    pub fn log(&self, stream: &str, line: &str) {
        let entry = LogLine {
            time_ms: now_ms(),
            stream: stream.into(),
            line: line.into(),
        };
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() == LOG_LINES_KEPT {
            logs.pop_front();
        }
        logs.push_back(entry.clone());
        let _ = self.live.send(entry);
    }

    /// The last `tail` lines (all kept if 0) and a receiver of new ones.
    pub fn logs(&self, tail: usize) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let skip = if tail == 0 {
            0
        } else {
            logs.len().saturating_sub(tail)
        };
        (
            logs.iter().skip(skip).cloned().collect(),
            self.live.subscribe(),
        )
    }

    /// The status row.
    pub fn status(&self) -> ScriptStatus {
        self.update(|s| {
            let mut sorted: Vec<u32> = s.latencies_us.iter().copied().collect();
            sorted.sort_unstable();
            let pct = |p: f64| -> u64 {
                if sorted.is_empty() {
                    0
                } else {
                    u64::from(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
                }
            };
            ScriptStatus {
                script_id: self.script_id,
                name: self.name.clone(),
                path: self.path.clone(),
                pid: s.pid,
                state: s.state.as_str().into(),
                uptime_s: s.started.map_or(0, |t| t.elapsed().as_secs()),
                restarts: s.restarts,
                hooks_served: s.hooks_served,
                p50_us: pct(0.5),
                p99_us: pct(0.99),
                last_error: s.last_error.clone(),
                direct_link: s.direct_link && s.pid != 0,
                sandbox: if s.pid == 0 { "-" } else { s.sandbox }.into(),
                python: s.python.clone(),
            }
        })
    }
}

/// All scripts of all hubs attached to this runner.
#[derive(Default)]
pub struct Registry {
    next_key: Mutex<u64>,
    entries: Mutex<BTreeMap<u64, Arc<Entry>>>,
}

impl Registry {
    /// Adds a script; returns its key and entry.
    pub fn add(
        &self,
        script_id: i32,
        path: &str,
        control: mpsc::UnboundedSender<Control>,
    ) -> (u64, Arc<Entry>) {
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let entry = Arc::new(Entry {
            script_id,
            name,
            path: path.to_string(),
            control: control.downgrade(),
            stats: Mutex::new(Stats {
                pid: 0,
                state: State::Starting,
                started: None,
                restarts: 0,
                hooks_served: 0,
                last_error: String::new(),
                direct_link: false,
                sandbox: "-",
                python: String::new(),
                latencies_us: VecDeque::new(),
            }),
            logs: Mutex::new(VecDeque::new()),
            live: broadcast::channel(256).0,
        });
        let mut next = self.next_key.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        let key = *next;
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&entry));
        (key, entry)
    }

    /// Forgets a script (unloaded, or its hub went away).
    pub fn remove(&self, key: u64) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// Every script, in load order.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The scripts `reference` names: a script id, a file name or a path.
    pub fn find(&self, reference: &str) -> Vec<Arc<Entry>> {
        let id: Option<i32> = reference.parse().ok();
        self.all()
            .into_iter()
            .filter(|e| Some(e.script_id) == id || e.name == reference || e.path == reference)
            .collect()
    }
}
