//! The worker's output: each line of its stdout and stderr copied into
//! the runner's log (tagged with the script, docs/architecture.md "Code conventions"), the script's
//! buffer for `vh-runner logs` and its optional log file, with Python
//! tracebacks kept whole; the last lines are kept to explain a crash.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::registry::Entry;

/// Lines of output kept to explain a crash.
const TAIL_LINES: usize = 20;

/// Copies one output stream of the worker into the log, the script's log
/// buffer and its optional log file, line by line.
pub(super) fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    entry: Arc<Entry>,
    stream: &'static str,
    file: Option<Arc<Mutex<File>>>,
    tail: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        let mut traceback = Traceback::default();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(line) = traceback.push(line) else {
                continue;
            };
            tracing::info!(script = %entry.name, script_id = entry.script_id, stream, "{line}");
            entry.log(stream, &line);
            if let Some(f) = &file {
                let _ = writeln!(
                    f.lock().unwrap_or_else(|e| e.into_inner()),
                    "{stream}: {line}"
                );
            }
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() == TAIL_LINES {
                t.remove(0);
            }
            t.push(line);
        }
    });
}

/// Groups the lines of a Python traceback into one log entry, so that it
/// stays whole in the journal and in `vh-runner logs`: from `Traceback
/// (most recent call last):` through the indented frames up to and
/// including the exception line.
#[derive(Default)]
struct Traceback {
    lines: Vec<String>,
}

/// Longest traceback kept as one entry; a longer one is passed on in parts.
const TRACEBACK_MAX_LINES: usize = 200;

impl Traceback {
    /// Takes one line; returns what to log now, if anything.
    fn push(&mut self, line: String) -> Option<String> {
        if self.lines.is_empty() {
            if line.starts_with("Traceback (most recent call last):") {
                self.lines.push(line);
                return None;
            }
            return Some(line);
        }
        let continues = line.starts_with(' ') || line.starts_with('\t');
        self.lines.push(line);
        if continues && self.lines.len() < TRACEBACK_MAX_LINES {
            return None;
        }
        Some(std::mem::take(&mut self.lines).join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceback_is_one_entry() {
        let mut t = Traceback::default();
        let lines = [
            "before",
            "Traceback (most recent call last):",
            "  File \"x.py\", line 3, in OnParsedMsgChat",
            "    return 1 / 0",
            "ZeroDivisionError: division by zero",
            "after",
        ];
        let out: Vec<String> = lines.iter().filter_map(|l| t.push(l.to_string())).collect();
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], "before");
        assert!(
            out[1].starts_with("Traceback")
                && out[1].ends_with("ZeroDivisionError: division by zero")
        );
        assert_eq!(out[1].lines().count(), 4);
        assert_eq!(out[2], "after");
    }
}
