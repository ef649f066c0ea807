//! One finding of `vh-runner doctor`: how bad it is, what was found and
//! how to fix it; and the findings as the text doctor prints.

use std::fmt::Write as _;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// As it should be.
    Ok,
    /// Worth knowing; not a problem (e.g. no Python 2.7 and perhaps no
    /// legacy script either).
    Note,
    /// Something the hub would suffer from; doctor exits 1.
    Problem,
}

/// One finding: what was checked, what was found, how to fix it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// Short topic ("socket", "wrapper", "python3", ...).
    pub topic: &'static str,
    /// What was found.
    pub what: String,
    /// What to do about it, if anything.
    pub fix: Option<String>,
}

impl Finding {
    /// A finding that is fine.
    pub fn ok(topic: &'static str, what: impl Into<String>) -> Finding {
        Finding {
            level: Level::Ok,
            topic,
            what: what.into(),
            fix: None,
        }
    }

    /// A problem, with its fix.
    pub fn problem(
        topic: &'static str,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            level: Level::Problem,
            topic,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    /// A note, with what to do if it matters.
    pub fn note(topic: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Note,
            topic,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The findings as text, one line each plus the fix.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Ok => "[ ok ]",
            Level::Note => "[note]",
            Level::Problem => "[FAIL]",
        };
        let _ = writeln!(s, "{tag} {}: {}", f.topic, f.what);
        if let Some(fix) = &f.fix {
            let _ = writeln!(s, "       fix: {fix}");
        }
    }
    let problems = findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count();
    let _ = match problems {
        0 => writeln!(s, "all is well"),
        n => writeln!(s, "{n} problem(s)"),
    };
    s
}
