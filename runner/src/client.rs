//! The admin commands (`vh-runner status|logs|restart|stop`): a gRPC client
//! of the runner's `Admin` service on its Unix socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use vh_proto::v1::admin_client::AdminClient;
use vh_proto::v1::{LogsRequest, ScriptRef, ScriptStatus, StatusRequest};

/// Connects to the runner at `socket`.
///
/// # Errors
/// A message saying the runner is not running, or why it cannot be reached.
pub async fn connect(socket: &Path) -> Result<AdminClient<Channel>> {
    if !socket.exists() {
        return Err(anyhow!(
            "vh-runner is not running: no socket at {} (start it with `vh-runner serve` or `systemctl start vh-runner`)",
            socket.display()
        ));
    }
    let path: PathBuf = socket.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { UnixStream::connect(path).await.map(TokioIo::new) }
    });
    let channel = Endpoint::from_static("http://vh-runner.localhost")
        .connect_timeout(Duration::from_secs(3))
        .connect_with_connector(connector)
        .await
        .with_context(|| format!("cannot connect to vh-runner at {}", socket.display()))?;
    Ok(AdminClient::new(channel))
}

fn status_error(socket: &Path, s: tonic::Status) -> anyhow::Error {
    match s.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument => anyhow!("{}", s.message()),
        tonic::Code::Unavailable | tonic::Code::Unknown => anyhow!(
            "vh-runner at {} refused the request ({}); is your uid allowed to use it?",
            socket.display(),
            s.message()
        ),
        _ => anyhow!("{}", s.message()),
    }
}

fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.0}ms", us as f64 / 1000.0)
    } else {
        format!("{us}µs")
    }
}

/// The status table, one row per script.
pub fn render_status(scripts: &[ScriptStatus]) -> String {
    let mut rows = vec![
        [
            "ID",
            "SCRIPT",
            "PID",
            "STATE",
            "UPTIME",
            "RESTARTS",
            "HOOKS",
            "P50",
            "P99",
            "LINK",
            "PY",
            "SANDBOX",
            "LAST ERROR",
        ]
        .map(String::from),
    ];
    for s in scripts {
        let last = s
            .last_error
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>();
        rows.push([
            s.script_id.to_string(),
            s.name.clone(),
            if s.pid == 0 {
                "-".into()
            } else {
                s.pid.to_string()
            },
            s.state.clone(),
            if s.pid == 0 {
                "-".into()
            } else {
                duration(s.uptime_s)
            },
            s.restarts.to_string(),
            s.hooks_served.to_string(),
            micros(s.p50_us),
            micros(s.p99_us),
            match (s.pid, s.direct_link) {
                (0, _) => "-".into(),
                (_, true) => "direct".into(),
                (_, false) => "runner".into(),
            },
            if s.python.is_empty() {
                "-".into()
            } else {
                s.python.clone()
            },
            match s.sandbox.as_str() {
                "" => "-".into(),
                v => v.to_string(),
            },
            last,
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `vh-runner status`.
///
/// # Errors
/// The runner cannot be reached.
pub async fn status(socket: &Path) -> Result<()> {
    let mut client = connect(socket).await?;
    let reply = client
        .status(StatusRequest {})
        .await
        .map_err(|s| status_error(socket, s))?
        .into_inner();
    println!(
        "vh-runner {} up {}, {} script(s)",
        reply.runner_version,
        duration(reply.uptime_s),
        reply.scripts.len()
    );
    print!("{}", render_status(&reply.scripts));
    Ok(())
}

/// `vh-runner logs SCRIPT [-f] [-n N]`.
///
/// # Errors
/// The runner cannot be reached or has no such script.
pub async fn logs(socket: &Path, script: &str, follow: bool, tail: u32) -> Result<()> {
    let mut client = connect(socket).await?;
    let mut stream = client
        .logs(LogsRequest {
            script: script.into(),
            follow,
            tail,
        })
        .await
        .map_err(|s| status_error(socket, s))?
        .into_inner();
    while let Some(line) = stream
        .message()
        .await
        .map_err(|s| status_error(socket, s))?
    {
        println!(
            "{} {:>6}: {}",
            format_time(line.time_ms),
            line.stream,
            line.line
        );
    }
    Ok(())
}

fn format_time(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    let (h, m, sec) = ((s / 3600) % 24, (s / 60) % 60, s % 60);
    format!("{h:02}:{m:02}:{sec:02}.{:03}Z", ms.rem_euclid(1000))
}

/// `vh-runner restart SCRIPT` and `vh-runner stop SCRIPT`.
///
/// # Errors
/// The runner cannot be reached or has no such script.
pub async fn command(socket: &Path, script: &str, restart: bool) -> Result<()> {
    let mut client = connect(socket).await?;
    let req = ScriptRef {
        script: script.into(),
    };
    let reply = if restart {
        client.restart(req).await
    } else {
        client.stop(req).await
    };
    println!(
        "{}",
        reply
            .map_err(|s| status_error(socket, s))?
            .into_inner()
            .message
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_aligns_columns() {
        let table = render_status(&[ScriptStatus {
            script_id: 3,
            name: "greeter.py".into(),
            pid: 1234,
            state: "running".into(),
            uptime_s: 75,
            restarts: 1,
            hooks_served: 42,
            p50_us: 180,
            p99_us: 12_500,
            last_error: "worker killed by signal 9\nmore".into(),
            python: "2.7".into(),
            ..ScriptStatus::default()
        }]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("ID  SCRIPT      PID   STATE"),
            "{table}"
        );
        let cells: Vec<&str> = lines[1]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells[..7],
            ["3", "greeter.py", "1234", "running", "1m15s", "1", "42"],
            "{table}"
        );
        assert!(
            lines[1].contains("180µs  12ms  runner  2.7  -        worker killed by signal 9")
                && !table.contains("more"),
            "{table}"
        );
    }
}
