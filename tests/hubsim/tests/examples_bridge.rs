//! `examples/matterbridge.py` end to end. The hub (hubsim driving
//! the real shim) runs the example in a real worker behind a real
//! `vh-runner`; `examples/fake_matterbridge.py` plays Matterbridge's API on a
//! loopback port. The test ticks the hub's timer every 20 ms while it waits:
//! that is the hub entry at which the bridge thread's `vh.mc` calls run.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    Runner, actions, landlock_abi, python, repo_root, sandbox_column, serial, shim_env, shim_path,
    show,
};
use vh_hubsim::{Generation, Hub};

/// The example runs sandboxed, with what packaging/runner.toml
/// gives it: the network on, files as the sandbox allows.
const SANDBOXED: &str = "[defaults]\nsandbox = true\n";

const TOKEN: &str = "s3cret";
/// "Пользователь" in CP1251.
const CYRILLIC: &[u8] = b"\xcf\xee\xeb\xfc\xe7\xee\xe2\xe0\xf2\xe5\xeb\xfc";
/// A latin-1 nick; 0xFC is "ь" in CP1251, 0x98 is undefined there.
const UNDECODABLE: &[u8] = b"J\xfcrgen\x98";
const CONNECTED: &[u8] = b"MC [Bridge]\tBridge connection established";

/// Fast retries for the test; workers inherit the runner's environment.
const BRIDGE_ENV: [(&str, &str); 3] = [
    ("MATTERBRIDGE_RETRY_INTERVAL", "0.1"),
    ("MATTERBRIDGE_MAX_BACKOFF", "0.5"),
    ("MATTERBRIDGE_MAX_RETRIES", "0"),
];

/// Sets `BRIDGE_ENV` in this process (inherited by the runner started next)
/// until dropped.
struct BridgeEnv;

impl BridgeEnv {
    fn set() -> BridgeEnv {
        for (key, value) in BRIDGE_ENV {
            // SAFETY: tests hold `serial()`; nothing else reads the environment now.
            unsafe { std::env::set_var(key, value) };
        }
        BridgeEnv
    }
}

impl Drop for BridgeEnv {
    fn drop(&mut self) {
        for (key, _) in BRIDGE_ENV {
            // SAFETY: as in `set`.
            unsafe { std::env::remove_var(key) };
        }
    }
}

/// `examples/fake_matterbridge.py` on a loopback port; killed on drop.
struct Fake {
    child: Child,
    port: u16,
}

impl Fake {
    /// Starts it on `port` (0: a free one) and waits for its ready line (10 s at most).
    fn start(port: u16) -> Fake {
        let mut child = Command::new(python())
            .arg(repo_root().join("examples/fake_matterbridge.py"))
            .args(["--port", &port.to_string(), "--token", TOKEN])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fake_matterbridge.py");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut fake = Fake { child, port };
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake_matterbridge.py ready within 10 s");
        fake.port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        fake
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One request (raw HTTP/1.1); the response body.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to fake");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("fake's response");
        let (head, body) = raw.split_once("\r\n\r\n").expect("end of headers");
        assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}");
        body.to_string()
    }

    /// Puts a JSON message into Matterbridge's stream.
    fn push(&self, message: &str) {
        self.request("POST", "/_fake/push", message);
    }

    /// Every message the bridge posted, as canonical JSON lines.
    fn messages(&self) -> Vec<String> {
        let body = self.request("GET", "/_fake/messages", "");
        body.lines().map(str::to_string).collect()
    }

    /// A counter of `/_fake/state` (`streams`, `rejected`, `messages`).
    fn state(&self, key: &str) -> u64 {
        let body = self.request("GET", "/_fake/state", "");
        body.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} missing from {body:?}"))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The hub's side: the simulated hub and its timer clock.
struct Live {
    hub: Hub,
    now: f64,
}

impl Live {
    fn open(runner: &Runner, generation: Generation) -> Live {
        shim_env(&runner.socket(), 5_000);
        let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
        hub.set_config(b"config", b"hub_encoding", b"CP1251");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        Live {
            hub,
            now: now.as_secs_f64(),
        }
    }

    /// Ticks the hub's timer every 20 ms until `done` holds (15 s at most).
    fn wait_until(&mut self, what: &str, mut done: impl FnMut(&mut Hub) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done(&mut self.hub) {
            assert!(
                Instant::now() < deadline,
                "not within 15 s: {what}\nrecords:\n{}",
                show(&self.hub.records())
            );
            self.now += 0.02;
            self.hub.timer(self.now);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_record(&mut self, record: &[u8]) {
        let what = String::from_utf8_lossy(record).into_owned();
        self.wait_until(&what, |hub| hub.records().iter().any(|r| r == record));
    }

    fn count(&self, record: &[u8]) -> usize {
        self.hub.records().iter().filter(|r| *r == record).count()
    }

    /// An operator command; asserts it was handled and answered with `reply`.
    fn command(&mut self, nick: &str, text: &str, reply: &str) {
        self.hub.clear_records();
        assert!(!self.hub.chat(nick.as_bytes(), text.as_bytes()), "{text}");
        let want = format!("USERMC {nick}\tVerlihub\t{reply}").into_bytes();
        assert!(
            actions(&self.hub.records()).contains(&want),
            "{text}: no {reply:?} in\n{}",
            show(&self.hub.records())
        );
    }
}

fn login(hub: &mut Hub, nick: &[u8], class: i64) {
    assert!(hub.login(
        nick,
        class,
        b"10.0.0.1",
        b"",
        b"<++ V:0.868>",
        b"1\x01",
        b"",
        b"0"
    ));
}

fn said_by_bridge(text: &[u8]) -> Vec<u8> {
    [b"MC [Bridge]\t".as_slice(), text].concat()
}

#[test]
fn bridge_relays_both_ways_and_reconnects_in_both_generations() {
    let _serial = serial();
    let _env = BridgeEnv::set();
    let runner = Runner::start_with(SANDBOXED);
    for generation in [Generation::A, Generation::B] {
        let mut fake = Fake::start(0);
        let port = fake.port;
        let mut live = Live::open(&runner, generation);
        let id = live.hub.load(&repo_root().join("examples/matterbridge.py"));
        assert!(id >= 0, "load failed:\n{}", runner.log());
        if landlock_abi() > 0 {
            assert_eq!(
                sandbox_column(&runner, "matterbridge.py"),
                "fs",
                "runs sandboxed"
            );
        }
        login(&mut live.hub, b"admin", 10);
        login(&mut live.hub, CYRILLIC, 0);
        login(&mut live.hub, UNDECODABLE, 0);

        let url = format!("http://127.0.0.1:{port}");
        live.command(
            "admin",
            &format!("!bridge config {url}"),
            &format!("API URL set to {url}"),
        );
        live.command("admin", &format!("!bridge token {TOKEN}"), "API token set");
        live.command(
            "admin",
            "!bridge start",
            &format!("Bridge starting: {url}, gateway verlihub"),
        );
        live.wait_for_record(CONNECTED);

        // Hub -> Matterbridge: unescaped, decoded from CP1251, with the original's fields.
        let chat = b"\xef\xf0\xe8\xe2\xe5\xf2 &#124; \xec\xe8\xf0";
        assert!(live.hub.chat(CYRILLIC, chat), "the chat itself goes on");
        // Bytes CP1251 lacks reach the JSON as U+FFFD.
        assert!(live.hub.chat(UNDECODABLE, b"hi\x98"));
        let posted = [
            concat!(
                r#"{"gateway":"verlihub","text":"<Пользователь> привет | мир","#,
                r#""username":"Пользователь"}"#
            ),
            "{\"gateway\":\"verlihub\",\"text\":\"<J\u{44c}rgen\u{fffd}> hi\u{fffd}\",\
             \"username\":\"J\u{44c}rgen\u{fffd}\"}",
        ];
        live.wait_until("the fake got both chat lines", |_| {
            fake.messages() == posted
        });

        // Matterbridge -> hub: formatted, NMDC-escaped, fitted to CP1251; our own API
        // account is not echoed.
        fake.push(r#"{"text":"loop","username":"me","protocol":"api","account":"api.verlihub"}"#);
        fake.push(concat!(
            r#"{"text":"Привет ☕ | ok","username":"alice","protocol":"irc","#,
            r##""account":"irc.libera","channel":"#test","gateway":"verlihub"}"##
        ));
        let irc = said_by_bridge(b"[irc] <alice> \xcf\xf0\xe8\xe2\xe5\xf2 ? &#124; ok");
        live.wait_for_record(&irc);
        let records = live.hub.records();
        assert!(
            !records.iter().any(|r| r.ends_with(b"<me> loop")),
            "{}",
            show(&records)
        );

        // Matterbridge goes away and comes back on the same port: the bridge reconnects.
        fake.kill();
        live.wait_for_record(&said_by_bridge(b"Bridge connection lost; reconnecting"));
        live.command("admin", "!bridge status", "Bridge is CONNECTING");
        live.hub.clear_records();
        fake = Fake::start(port);
        live.wait_for_record(CONNECTED);
        fake.push(r#"{"text":"back again","username":"bob","protocol":"slack"}"#);
        live.wait_for_record(&said_by_bridge(b"[slack] <bob> back again"));
        assert!(live.hub.chat(b"admin", b"after restart"));
        let posted = r#"{"gateway":"verlihub","text":"<admin> after restart","username":"admin"}"#;
        live.wait_until("the restarted fake got the chat line", |_| {
            fake.messages() == [posted]
        });
        live.command("admin", "!bridge status", "Bridge is CONNECTED");

        live.command("admin", "!bridge stop", "Bridge stopped");
        live.wait_for_record(&said_by_bridge(b"Bridge disconnected"));
        live.wait_until("the stream closed", |_| fake.state("streams") == 0);
        assert_eq!(live.count(CONNECTED), 0, "no reconnection after stop");
        assert!(live.hub.unload(id));
    }
}

#[test]
fn bridge_retries_with_backoff_until_the_token_is_right() {
    let _serial = serial();
    let _env = BridgeEnv::set();
    let runner = Runner::start();
    let fake = Fake::start(0);
    let mut live = Live::open(&runner, Generation::A);
    let id = live.hub.load(&repo_root().join("examples/matterbridge.py"));
    assert!(id >= 0, "load failed:\n{}", runner.log());
    login(&mut live.hub, b"admin", 10);
    login(&mut live.hub, b"guest", 0);

    // Only operators control the bridge.
    live.hub.clear_records();
    assert!(!live.hub.chat(b"guest", b"+bridge start"));
    let denied = b"USERMC guest\tVerlihub\t+bridge: permission denied (class 3+)".to_vec();
    assert!(
        actions(&live.hub.records()).contains(&denied),
        "{}",
        show(&live.hub.records())
    );

    let url = format!("http://127.0.0.1:{}", fake.port);
    live.command(
        "admin",
        &format!("!bridge config {url}"),
        &format!("API URL set to {url}"),
    );
    live.command("admin", "!bridge token wrong", "API token set");
    live.command(
        "admin",
        "!bridge start",
        &format!("Bridge starting: {url}, gateway verlihub"),
    );
    live.wait_until("three refused attempts", |_| fake.state("rejected") >= 3);
    live.command(
        "admin",
        "!bridge status",
        "Last error: HTTP 401 Unauthorized",
    );
    assert_eq!(live.count(CONNECTED), 0);

    // A new token applies at the next attempt, without a restart.
    live.command("admin", &format!("!bridge token {TOKEN}"), "API token set");
    live.wait_for_record(CONNECTED);
    assert_eq!(fake.state("streams"), 1);
    assert!(live.hub.unload(id));
    live.wait_until("the stream closed at unload", |_| {
        fake.state("streams") == 0
    });
}
