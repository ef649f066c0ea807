//! `examples/hub_api.py` end to end. The hub (hubsim driving the
//! real shim) runs the example in a real worker behind a real `vh-runner`;
//! the test starts the API with `!api start`, queries it over plain HTTP/1.1
//! from a thread, and keeps the hub alive meanwhile with a timer tick every
//! 20 ms: that is the hub entry at which the request handlers' `vh.*` calls
//! run.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    Runner, actions, landlock_abi, repo_root, sandbox_column, serial, shim_env, shim_path, show,
};
use vh_hubsim::{Generation, Hub};

/// The example runs sandboxed, with what packaging/runner.toml
/// gives it: the network on, files as the sandbox allows.
const SANDBOXED: &str = "[defaults]\nsandbox = true\n";

/// "Пользователь" in CP1251.
const CYRILLIC: &[u8] = b"\xcf\xee\xeb\xfc\xe7\xee\xe2\xe0\xf2\xe5\xeb\xfc";
/// A latin-1 nick; 0xFC is "ь" in CP1251, 0x98 is undefined there.
const UNDECODABLE: &[u8] = b"J\xfcrgen\x98";
/// How `UNDECODABLE` appears in JSON: the undefined byte as U+FFFD.
const UNDECODABLE_JSON: &str = "J\u{44c}rgen\u{fffd}";
const TAG: &[u8] = b"<++ V:0.868,M:A,H:1/0/0,S:3>";

/// The hub thread's clock: timer ticks with increasing Unix times.
struct Clock(f64);

impl Clock {
    fn new() -> Clock {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        Clock(now.as_secs_f64())
    }

    fn tick(&mut self, hub: &mut Hub) {
        self.0 += 0.02;
        hub.timer(self.0);
    }
}

/// Runs `work` on a thread while this thread keeps the hub entering the shim
/// (a timer tick every 20 ms), as a live hub does; returns `work`'s result.
fn while_hub_runs<T: Send + 'static>(
    hub: &mut Hub,
    clock: &mut Clock,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(value) => {
                worker.join().expect("worker thread");
                return value;
            }
            Err(RecvTimeoutError::Timeout) => {
                assert!(Instant::now() < deadline, "HTTP work took over 60 s");
                clock.tick(hub);
            }
            Err(RecvTimeoutError::Disconnected) => match worker.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the worker sends before it ends"),
            },
        }
    }
}

/// Ticks the timer until a record satisfies `want` (10 s at most).
fn wait_for_record(hub: &mut Hub, clock: &mut Clock, want: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hub.records().iter().any(|r| want(r)) {
        assert!(
            Instant::now() < deadline,
            "record not seen in 10 s:\n{}",
            show(&hub.records())
        );
        clock.tick(hub);
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

/// One `GET` over a fresh connection (raw HTTP/1.1, `Connection: close`).
fn http_get(port: u16, path: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("ASCII headers");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = String::from_utf8(raw[split + 4..].to_vec())
        .unwrap_or_else(|e| panic!("GET {path}: body is not UTF-8: {e}"));
    Response { status, head, body }
}

/// `GET`s every path in turn from a thread while the hub runs.
fn fetch(hub: &mut Hub, clock: &mut Clock, port: u16, paths: &[&str]) -> Vec<Response> {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    while_hub_runs(hub, clock, move || {
        paths.iter().map(|p| http_get(port, p)).collect()
    })
}

/// The body of a 200 response as JSON.
fn ok_json(path: &str, r: &Response) -> Json {
    assert_eq!(r.status, 200, "GET {path}: {}\n{}", r.head, r.body);
    Json::parse(&r.body).unwrap_or_else(|e| panic!("GET {path}: {e}:\n{}", r.body))
}

/// Percent-encodes a path segment (UTF-8).
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn login(hub: &mut Hub, nick: &[u8], class: i64, ip: &[u8], share: &[u8]) {
    assert!(
        hub.login(nick, class, ip, b"desc", TAG, b"100\x01", b"", share),
        "login of {}",
        String::from_utf8_lossy(nick)
    );
}

fn nicks(list: &Json) -> Vec<String> {
    list.items()
        .iter()
        .map(|u| u.get("nick").text().to_string())
        .collect()
}

fn said_to(hub: &Hub, nick: &str, text: &str) -> bool {
    let want = format!("USERMC {nick}\tVerlihub\t{text}").into_bytes();
    actions(&hub.records()).contains(&want)
}

#[test]
fn api_serves_live_hub_data_with_cyrillic_nicks_in_both_generations() {
    let _serial = serial();
    let runner = Runner::start_with(SANDBOXED);
    let cyrillic = "Пользователь";
    for generation in [Generation::A, Generation::B] {
        shim_env(&runner.socket(), 5_000);
        let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
        let mut clock = Clock::new();
        hub.set_config(b"config", b"hub_encoding", b"CP1251");
        // "Тестовый хаб" in CP1251.
        hub.set_config(
            b"config",
            b"hub_name",
            b"\xd2\xe5\xf1\xf2\xee\xe2\xfb\xe9 \xf5\xe0\xe1",
        );
        let id = hub.load(&repo_root().join("examples/hub_api.py"));
        assert!(id >= 0, "load failed:\n{}", runner.log());
        if landlock_abi() > 0 {
            assert_eq!(
                sandbox_column(&runner, "hub_api.py"),
                "fs",
                "runs sandboxed"
            );
        }

        login(&mut hub, b"admin", 10, b"10.0.0.1", b"1000");
        login(&mut hub, b"alice", 0, b"10.0.0.2", b"0");
        login(&mut hub, CYRILLIC, 1, b"10.0.0.3", b"5000000000");
        login(&mut hub, UNDECODABLE, 0, b"10.0.0.4", b"0");
        login(&mut hub, b"bob", 3, b"10.0.0.5", b"7");
        assert!(hub.logout(b"bob"));

        // Commands: operators only; the port is checked at once.
        assert!(!hub.chat(b"alice", b"+api start"), "handled, not broadcast");
        assert!(
            said_to(&hub, "alice", "+api: permission denied (class 3+)"),
            "{}",
            show(&hub.records())
        );
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        assert!(!hub.chat(b"admin", format!("!api start {port}").as_bytes()));
        let refused = format!("USERMC admin\tVerlihub\tERROR: cannot listen on 127.0.0.1:{port}");
        assert!(
            actions(&hub.records())
                .iter()
                .any(|r| r.starts_with(refused.as_bytes())),
            "{}",
            show(&hub.records())
        );
        drop(taken);
        let port = free_port();
        assert!(!hub.chat(b"admin", format!("!api start {port}").as_bytes()));
        let url = format!("http://127.0.0.1:{port}/");
        assert!(
            said_to(
                &hub,
                "admin",
                &format!("API server listening on {url} (docs: {url}docs)")
            ),
            "{}",
            show(&hub.records())
        );

        let user_path = format!("/user/{}", encode_segment(cyrillic));
        let undecodable_path = format!("/user/{}", encode_segment(UNDECODABLE_JSON));
        let paths = [
            "/health",
            "/users",
            "/users?limit=2&offset=1",
            &user_path,
            &undecodable_path,
            "/user/nobody",
            "/user/%E7%94%A8%E6%88%B7",
            "/ops",
            "/bots",
            "/stats",
            "/hub",
            "/share",
            "/openapi.json",
            "/docs",
        ];
        let got = fetch(&mut hub, &mut clock, port, &paths);
        let by_path = |p: &str| &got[paths.iter().position(|q| *q == p).unwrap()];

        let health = ok_json("/health", by_path("/health"));
        assert_eq!(health.get("status").text(), "healthy");

        // Exactly the online users, bots and the logged-out bob left out, in hub order.
        let users = ok_json("/users", by_path("/users"));
        let everyone = ["admin", "alice", cyrillic, UNDECODABLE_JSON];
        assert_eq!(nicks(users.get("users")), everyone, "{generation:?}");
        assert_eq!(users.get("total").number(), 4.0);
        assert_eq!(users.get("count").number(), 4.0);
        let page = ok_json(
            "/users?limit=2&offset=1",
            by_path("/users?limit=2&offset=1"),
        );
        assert_eq!(nicks(page.get("users")), ["alice", cyrillic]);
        assert_eq!(page.get("total").number(), 4.0);
        assert_eq!(page.get("offset").number(), 1.0);
        assert_eq!(page.get("count").number(), 2.0);

        let user = ok_json(&user_path, by_path(&user_path));
        assert_eq!(user.get("nick").text(), cyrillic);
        assert_eq!(user.get("class").number(), 1.0);
        assert_eq!(user.get("class_name").text(), "Regular");
        assert_eq!(user.get("ip").text(), "10.0.0.3");
        assert_eq!(user.get("share").number(), 5_000_000_000.0);
        assert_eq!(user.get("tag").text(), std::str::from_utf8(TAG).unwrap());
        let odd = ok_json(&undecodable_path, by_path(&undecodable_path));
        assert_eq!(odd.get("nick").text(), UNDECODABLE_JSON);
        assert_eq!(odd.get("ip").text(), "10.0.0.4");
        assert_eq!(by_path("/user/nobody").status, 404);
        // "用户" has no CP1251 form: not a user, not an error.
        assert_eq!(by_path("/user/%E7%94%A8%E6%88%B7").status, 404);

        assert_eq!(
            nicks(ok_json("/ops", by_path("/ops")).get("ops")),
            ["admin"]
        );
        assert_eq!(
            nicks(ok_json("/bots", by_path("/bots")).get("bots")),
            ["Verlihub", "OpChat"]
        );
        let stats = ok_json("/stats", by_path("/stats"));
        assert_eq!(stats.get("users_online").number(), 4.0);
        assert_eq!(stats.get("total_share").number(), 5_000_001_000.0);
        assert_eq!(stats.get("hub_name").text(), "Тестовый хаб");
        assert_eq!(
            ok_json("/hub", by_path("/hub")).get("name").text(),
            "Тестовый хаб"
        );
        let share = ok_json("/share", by_path("/share"));
        assert_eq!(share.get("average").number(), 1_250_000_250.0);

        let schema = ok_json("/openapi.json", by_path("/openapi.json"));
        for p in ["/users", "/user/{nick}", "/health", "/geo"] {
            assert!(
                !matches!(schema.get("paths").get(p), Json::Null),
                "{p} missing from the OpenAPI schema"
            );
        }
        let docs = by_path("/docs");
        assert_eq!(docs.status, 200);
        assert!(docs.head.to_ascii_lowercase().contains("text/html"));
        assert!(docs.body.to_ascii_lowercase().contains("swagger"));

        // No cache: a login shows at once.
        login(&mut hub, b"carol", 0, b"10.0.0.6", b"0");
        let got = fetch(&mut hub, &mut clock, port, &["/users"]);
        let users = ok_json("/users", &got[0]);
        assert_eq!(nicks(users.get("users")).last().unwrap(), "carol");
        assert_eq!(users.get("total").number(), 5.0);

        // Status in PM, then stop: the port closes and the server's thread says so.
        hub.clear_records();
        hub.pm(b"admin", b"Verlihub", b"!api status");
        let status = format!("PM admin\tVerlihub\tVerlihub\tAPI server is RUNNING at {url}");
        assert!(
            actions(&hub.records()).contains(&status.into_bytes()),
            "{}",
            show(&hub.records())
        );
        assert!(!hub.chat(b"admin", b"!api stop"));
        assert!(said_to(
            &hub,
            "admin",
            &format!("API server stopping ({url})")
        ));
        let closed = while_hub_runs(&mut hub, &mut clock, move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        });
        assert!(
            closed,
            "the API still accepts connections 10 s after !api stop"
        );
        let stopped = format!("USERMC admin\tVerlihub\tAPI server stopped ({url})").into_bytes();
        wait_for_record(&mut hub, &mut clock, |r| r == stopped.as_slice());
        assert!(!hub.chat(b"admin", b"!api status"));
        assert!(said_to(&hub, "admin", "API server is STOPPED"));
        assert!(hub.unload(id));
    }
}

#[test]
fn without_fastapi_the_script_loads_and_says_what_to_install() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let id = hub.load(&common::script("hub_api_without_fastapi.py"));
    assert!(id >= 0, "load failed:\n{}", runner.log());
    login(&mut hub, b"admin", 10, b"10.0.0.1", b"0");
    assert!(!hub.chat(b"admin", b"!api start"));
    let records = actions(&hub.records());
    let answer = records
        .iter()
        .find_map(|r| r.strip_prefix(b"USERMC admin\tVerlihub\t"))
        .map(String::from_utf8_lossy)
        .unwrap_or_else(|| panic!("no answer:\n{}", show(&records)));
    assert!(
        answer.starts_with("ERROR: hub_api.py needs FastAPI and uvicorn")
            && answer.contains("pip install -r examples/requirements.txt"),
        "{answer}"
    );
    assert!(hub.unload(id));
}

/// A minimal JSON value and parser (no JSON crate in this workspace's tests).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let value = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(value)
    }

    /// The member `key` of an object, or `Null`.
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    fn text(&self) -> &str {
        match self {
            Json::Text(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn number(&self) -> f64 {
        match self {
            Json::Number(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }

    fn items(&self) -> &[Json] {
        match self {
            Json::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, token: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(token.as_bytes()) {
            self.i += token.len();
            Ok(())
        } else {
            Err(format!("expected {token:?} at byte {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Json::Text),
            Some(b't') => self.eat("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Json::Bool(false)),
            Some(b'n') => self.eat("null").map(|_| Json::Null),
            Some(_) => self.number(),
            None => Err("unexpected end".into()),
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.eat("{")?;
        let mut members = Vec::new();
        self.ws();
        if self.eat("}").is_ok() {
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(":")?;
            members.push((key, self.value()?));
            self.ws();
            if self.eat("}").is_ok() {
                return Ok(Json::Object(members));
            }
            self.eat(",")?;
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.eat("[")?;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]").is_ok() {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat("]").is_ok() {
                return Ok(Json::Array(items));
            }
            self.eat(",")?;
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Json::Number)
            .ok_or_else(|| format!("bad value at byte {start}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        self.i += 4;
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| format!("bad \\u escape before byte {}", self.i))
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) {
                                self.eat("\\u")?;
                                let low = self.hex4()?;
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            char::from_u32(code).ok_or("lone surrogate in a \\u escape")?
                        }
                        other => return Err(format!("bad escape \\{}", other as char)),
                    };
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}
