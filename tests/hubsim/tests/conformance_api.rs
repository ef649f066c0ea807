//! Conformance of the `vh` module (docs/abi.md §7.2–§7.4)
//! for both plugin generations: for every function, the exact callback
//! arguments the hub receives (defaults of omitted arguments included), what
//! the hub does (records), and the Python result the script sees; `TypeError`
//! for wrong argument counts; the module attributes and constants.
//!
//! Under generation B the script gets B's own `vh` (docs/abi.md §7.1–§7.3, B
//! column; docs/architecture.md "Semantics"): each test asserts B's values under B
//! and A's under A, row by row; where B's in-process behaviour was a
//! crash, a leak, lost bytes or contradicted B's own documentation, the
//! row asserts the departure docs/compatibility.md lists.
//!
//! The script is `scripts/conf_api.py`: the test sends it a Python
//! expression through a hook and gets `ascii()` of the value back in the
//! hook's `(str, n)` result, so the report itself makes no callback.
//!
//! The callback arguments come from a spy plugin face: hubsim loads its
//! "plugin face" (the shared object exporting python_pi's `_<Name>`
//! callbacks, tests/hubsim/README.md) from `HUBSIM_FACE_DIR`; this test
//! builds one ([`SPY_FACE`]) that writes one line per callback call —
//! `CB <Name>\t<script id>\t<format>\t<arg>...`, read straight from the
//! `w_Targs` the shim built (§2.1) — and then forwards to hubsim as the
//! stock face does. For the lookups hubsim cannot answer (no GeoIP, no
//! database) it returns what python_pi would for one known IP and query,
//! built the plugin's way (A: GeoIP key literals, not owned; B: strdup'ed).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Runner, script, serial, shim_env, shim_path, show, target_dir};
use vh_hubsim::{Generation, HookArg, Hub};

const GENERATIONS: [Generation; 2] = [Generation::A, Generation::B];

/// Hook index of `OnPublicBotMessage`, the channel the expressions go in
/// by (the hub waits for it, and it has no connection).
const EVAL_HOOK: i32 = 14;

/// The spy plugin face (C++: it builds the GeoIP `std::vector<std::string>`
/// as python_pi does). Compiled twice, like hubsim's `c/plugin_face.c`:
/// plain for generation A, with `-DHUBSIM_GEN_B` for B.
const SPY_FACE: &str = r#"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <dlfcn.h>

#include "callback_list.h"

extern "C" {
typedef struct w_Targs w_Targs;
typedef w_Targs *(*w_Tcallback)(int id, w_Targs *args);
typedef w_Targs *(*w_Tpack)(const char *format, ...);
void hubsim_face_init(const w_Tcallback *table, int count);
}

static w_Tcallback impls[HUBSIM_CB_COUNT];

void hubsim_face_init(const w_Tcallback *table, int count)
{
	for (int i = 0; i < HUBSIM_CB_COUNT; i++)
		impls[i] = (table && i < count) ? table[i] : nullptr;
}

/* docs/abi.md §2.1: format pointer, then 16-byte elements (type byte, value at +8). */
struct Element {
	char type;
	union { long l; char *s; double d; void *p; } v;
};

static const char *format_of(const w_Targs *a)
{
	return *reinterpret_cast<const char *const *>(a);
}

static const Element *elements_of(const w_Targs *a)
{
	return reinterpret_cast<const Element *>(reinterpret_cast<const char *>(a) + 8);
}

static void escape(std::string &out, const char *s)
{
	if (!s) {
		out += "(null)";
		return;
	}
	for (; *s; s++) {
		if (*s == '\\') out += "\\\\";
		else if (*s == '\n') out += "\\n";
		else if (*s == '\t') out += "\\t";
		else out += *s;
	}
}

static void spy(const char *name, int id, const w_Targs *a)
{
	const char *path = getenv("CONF_SPY_LOG");
	if (!path || !*path)
		return;
	std::string line = std::string("CB ") + name + "\t" + std::to_string(id) + "\t";
	const char *f = a ? format_of(a) : nullptr;
	line += a ? (f ? f : "(no format)") : "NULL";
	for (size_t i = 0; f && f[i]; i++) {
		const Element &e = elements_of(a)[i];
		char number[64];
		line += '\t';
		if (e.type != f[i])
			line += "(type byte differs)";
		switch (f[i]) {
		case 'l': line += std::to_string(e.v.l); break;
		case 's': escape(line, e.v.s); break;
		case 'd': snprintf(number, sizeof number, "%.17g", e.v.d); line += number; break;
		default: line += "(not l, s or d)";
		}
	}
	line += '\n';
	if (FILE *out = fopen(path, "ab")) {
		fwrite(line.data(), 1, line.size(), out);
		fclose(out);
	}
}

static w_Tpack pack()
{
	return reinterpret_cast<w_Tpack>(dlsym(RTLD_DEFAULT, "w_pack"));
}

static bool arg_is(const w_Targs *a, size_t i, const char *want)
{
	const char *f = a ? format_of(a) : nullptr;
	if (!f || strlen(f) <= i || f[i] != 's')
		return false;
	const char *s = elements_of(a)[i].v.s;
	return s && !strcmp(s, want);
}

#define GEO_IP "203.0.113.7"
#define SQL_QUERY "SELECT nick, class FROM reglist"

#ifdef HUBSIM_GEN_B
#define KEY(k) strdup(k)
#else
#define KEY(k) const_cast<char *>(k) /* A: string literals, not owned (docs/abi.md §6.3) */
#endif

/* What python_pi answers for the lookups hubsim has no data for. */
static w_Targs *canned(const char *name, const w_Targs *a)
{
	/* A MyINFO answer with NULL fields (B's wrapper made them ''). */
	if (!strcmp(name, "GetMyINFO") && arg_is(a, 0, "nullfields"))
		return pack()("ssssss", strdup("nullfields"), static_cast<char *>(nullptr),
			      strdup("<t>"), static_cast<char *>(nullptr), strdup(""), strdup("0"));
	if (!strcmp(name, "GetIPCC") && arg_is(a, 0, GEO_IP))
		return pack()("s", strdup("CH"));
	if (!strcmp(name, "GetIPCN") && arg_is(a, 0, GEO_IP))
		return pack()("s", strdup("Switzerland"));
	if (!strcmp(name, "GetIPASN") && arg_is(a, 0, GEO_IP))
		return pack()("s", strdup("AS64500 Example"));
	if (!strcmp(name, "GetGeoIP") && arg_is(a, 0, GEO_IP)) {
		auto *v = new std::vector<std::string>{
			"host", "example.net", "range_low", "203.0.113.0", "range_high",
			"203.0.113.255", "country_code", "CH", "country_code_xxx", "CHE",
			"country", "Switzerland", "region_code", "ZH", "region", "Zurich",
			"time_zone", "Europe/Zurich", "continent_code", "EU", "continent",
			"Europe", "city", "Z\xfc" "rich", "postal_code", "8001"};
		return pack()("sdsdslslp", KEY("latitude"), 47.375, KEY("longitude"), 8.5,
			      KEY("metro_code"), 7L, KEY("area_code"), 31L, static_cast<void *>(v));
	}
	if (!strcmp(name, "SQL") && arg_is(a, 0, SQL_QUERY)) {
		char **cells = static_cast<char **>(malloc(4 * sizeof(char *)));
		cells[0] = strdup("alice");
		cells[1] = strdup("1");
		cells[2] = strdup("b\xf6" "b");
		cells[3] = strdup("NULL");
		return pack()("lllp", 1L, 2L, 2L, static_cast<void *>(cells));
	}
	return nullptr;
}

#define SPY_FORWARD(name, b_index)                                   \
	extern "C" w_Targs *_##name(int id, w_Targs *args);          \
	extern "C" w_Targs *_##name(int id, w_Targs *args)           \
	{                                                            \
		spy(#name, id, args);                                \
		if (w_Targs *r = canned(#name, args))                \
			return r;                                    \
		return impls[b_index] ? impls[b_index](id, args) : nullptr; \
	}
#define SPY_COMMON(name, a_index, b_index) SPY_FORWARD(name, b_index)
#ifdef HUBSIM_GEN_B
#define SPY_B_ONLY(name, b_index) SPY_FORWARD(name, b_index)
#else
#define SPY_B_ONLY(name, b_index)
#endif

HUBSIM_CALLBACKS(SPY_COMMON, SPY_B_ONLY)

#ifdef HUBSIM_GEN_B
/* The B plugin's exported static member and its link-time references to the wrapper. */
extern "C" {
void *_ZN9nVerliHub13nPythonPlugin9cpiPython16lib_callfunctionE = nullptr;
void w_free_args(w_Targs *args);
void _ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE(void);
__attribute__((used)) void (*const conf_spy_b_links[2])(void) = {
	reinterpret_cast<void (*)(void)>(w_free_args),
	_ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE,
};
}
#endif
"#;

/// Builds both spy faces once per test process; their directory (for
/// `HUBSIM_FACE_DIR`).
fn spy_face_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("conf-spy-face");
        std::fs::create_dir_all(&dir).expect("spy face dir");
        let pid = std::process::id();
        let source = dir.join(format!("spy_face.{pid}.cpp"));
        std::fs::write(&source, SPY_FACE).expect("spy face source");
        let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("c");
        let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        for (generation, define) in [("a", None), ("b", Some("-DHUBSIM_GEN_B"))] {
            // Built beside and renamed: another test process may load it.
            let tmp = dir.join(format!("libhubsim_plugin_{generation}.so.{pid}"));
            let mut cmd = Command::new(&compiler);
            cmd.args(["-std=c++17", "-shared", "-fPIC", "-Wall", "-I"])
                .arg(&include);
            cmd.args(define)
                .arg("-o")
                .arg(&tmp)
                .arg(&source)
                .arg("-ldl");
            let out = cmd.output().expect("run the C++ compiler");
            assert!(
                out.status.success(),
                "building the spy face failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let so = dir.join(format!("libhubsim_plugin_{generation}.so"));
            std::fs::rename(&tmp, so).expect("install the spy face");
        }
        let _ = std::fs::remove_file(&source);
        dir
    })
    .clone()
}

/// Hub bytes of `text`: each char is one byte (U+0000..U+00FF), what the
/// hub's default CP1252 has for the characters used here.
fn hub(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a one-byte character"))
        .collect()
}

/// What one evaluated expression did.
struct Eval {
    /// `ok <ascii(value)>` or `raise <Type>: <message>`.
    result: String,
    /// The spy's `CB ...` lines, in call order.
    calls: Vec<Vec<u8>>,
    /// Records other than the evaluating hook's own `HOOK` line.
    actions: Vec<Vec<u8>>,
}

/// `conf_api.py` loaded on a hub with the spy face, and three users online:
/// `alice` (class 0), `Jürgen` (3, an operator), `bob` (0).
struct Api {
    hub: Hub,
    id: i32,
    spy_log: PathBuf,
    script: PathBuf,
    generation: Generation,
    config_dir: PathBuf,
    opened_s: (u64, u64),
}

/// A user to log in: nick, class, IP and MyINFO (desc, tag, speed, email,
/// share).
type User = (&'static [u8], i64, &'static [u8], [&'static [u8]; 5]);

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

impl Api {
    fn open(runner: &Runner, generation: Generation) -> Api {
        Api::open_with(runner, generation, &[])
    }

    /// Like [`Api::open`], with hub configuration set before the load.
    fn open_with(runner: &Runner, generation: Generation, config: &[(&[u8], &[u8])]) -> Api {
        shim_env(&runner.socket(), 5_000);
        let spy_log = runner.dir.path().join("spy.log");
        let config_dir = runner.dir.path().join("etc");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        // SAFETY: tests hold `serial()`; nothing else reads the environment now.
        unsafe {
            std::env::set_var("HUBSIM_FACE_DIR", spy_face_dir());
            std::env::set_var("CONF_SPY_LOG", &spy_log);
            std::env::set_var("HUBSIM_CONFIG_DIR", &config_dir);
        }
        let before = unix_now_s();
        let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
        let after = unix_now_s();
        for (var, value) in config {
            hub.set_config(b"config", var, value);
        }
        let script = script("conf_api.py");
        let id = hub.load(&script);
        assert!(
            id >= 0,
            "conf_api.py under {generation:?}:\n{}",
            runner.log()
        );
        let users: [User; 3] = [
            (
                b"alice",
                0,
                b"10.0.0.1",
                [b"desc", b"<++ V:1>", b"100\x01", b"a@x", b"1234"],
            ),
            (b"J\xfcrgen", 3, b"10.0.0.2", [b"", b"", b"", b"", b"5"]),
            (b"bob", 0, b"10.0.0.3", [b"", b"", b"", b"", b"0"]),
        ];
        for (nick, class, ip, [desc, tag, speed, email, share]) in users {
            assert!(hub.login(nick, class, ip, desc, tag, speed, email, share));
        }
        Api {
            hub,
            id,
            spy_log,
            script,
            generation,
            config_dir,
            opened_s: (before, after),
        }
    }

    /// The spy's lines since the last [`Api::eval`] (or ever).
    fn calls(&self) -> Vec<Vec<u8>> {
        std::fs::read(&self.spy_log)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// Evaluates `expression` in the script (one hook call).
    fn eval(&mut self, expression: &str) -> Eval {
        std::fs::write(&self.spy_log, b"").expect("truncate the spy log");
        self.hub.clear_records();
        let args = [
            HookArg::Str(Some(b"conf_eval")),
            HookArg::Str(Some(expression.as_bytes())),
            HookArg::Long(0),
            HookArg::Long(0),
        ];
        self.hub
            .call_hook(EVAL_HOOK, "ssll", &args)
            .expect("call_hook");
        let mut actions = self.hub.records();
        let prefix = format!("HOOK OnPublicBotMessage\t{}\tsl:", self.id).into_bytes();
        let at = actions
            .iter()
            .rposition(|r| r.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{expression}: no report:\n{}", show(&actions)));
        let line = actions.remove(at);
        let report = line[prefix.len()..]
            .strip_suffix(b":1")
            .expect("the report ends with its n");
        Eval {
            result: String::from_utf8(report.to_vec()).expect("ascii() is ASCII"),
            calls: self.calls(),
            actions,
        }
    }

    /// The spy line `CB <name>\t<id>\t<rest>` for `call` = `"<name>\t<rest>"`
    /// (the spy writes a backslash as two).
    fn cb(&self, call: &str) -> Vec<u8> {
        let (name, rest) = call.split_once('\t').unwrap_or((call, ""));
        let rest = rest.replace('\\', "\\\\");
        hub(&format!("CB {name}\t{}\t{rest}", self.id))
    }

    /// Evaluates `expression` and asserts the result (`ok <want>`), the
    /// callbacks (`"<Name>\t<format>\t<args>"`, tab-separated) and the
    /// hub's records (`{path}` is the script path, `{id}` its id).
    fn check(&mut self, expression: &str, want: &str, calls: &[&str], actions: &[&str]) {
        let got = self.eval(expression);
        let generation = self.generation;
        let context = || {
            format!(
                "{generation:?} {expression}\nrecords:\n{}\ncallbacks:\n{}",
                show(&got.actions),
                show(&got.calls)
            )
        };
        assert_eq!(got.result, format!("ok {want}"), "{}", context());
        let want_calls: Vec<Vec<u8>> = calls.iter().map(|c| self.cb(&self.fill(c))).collect();
        assert_eq!(got.calls, want_calls, "{}", context());
        let want_actions: Vec<Vec<u8>> = actions.iter().map(|a| hub(&self.fill(a))).collect();
        assert_eq!(got.actions, want_actions, "{}", context());
    }

    /// Like [`Api::check`] for an expression that raises `exception`
    /// (`raise <exception>: ...`) before any callback.
    fn check_raises(&mut self, expression: &str, exception: &str) {
        let got = self.eval(expression);
        assert!(
            got.result.starts_with(&format!("raise {exception}: ")),
            "{:?} {expression}: {}",
            self.generation,
            got.result
        );
        assert!(got.calls.is_empty(), "{}", show(&got.calls));
        assert!(got.actions.is_empty(), "{}", show(&got.actions));
    }

    /// Like [`Api::check_raises`], with the whole `raise <Type>: <message>`.
    fn check_raises_text(&mut self, expression: &str, want: &str) {
        let got = self.eval(expression);
        assert_eq!(
            got.result,
            format!("raise {want}"),
            "{:?} {expression}",
            self.generation
        );
        assert!(got.calls.is_empty(), "{}", show(&got.calls));
        assert!(got.actions.is_empty(), "{}", show(&got.actions));
    }

    /// `a` under generation A, `b` under B.
    fn ab<'t>(&self, a: &'t str, b: &'t str) -> &'t str {
        match self.generation {
            Generation::A => a,
            Generation::B => b,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{id}", &self.id.to_string())
            .replace("{path}", &self.script.display().to_string())
    }
}

/// Polls `done` every 2 ms; panics after 5 s, naming `what`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} after 5 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sending_functions_pass_their_arguments_and_defaults_to_the_hub() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.SendToOpChat('ops: J\\xfcrgen')",
            "True",
            &["SendToOpChat\tss\tops: J\u{fc}rgen\t(null)"],
            &["OPCHAT OpChat\tops: J\u{fc}rgen"],
        );
        f.check(
            "vh.SendToOpChat('hi', 'J\\xfcrgen')",
            "True",
            &["SendToOpChat\tss\thi\tJ\u{fc}rgen"],
            &["OPCHAT J\u{fc}rgen\thi"],
        );
        f.check(
            "vh.SendToActive('$Hello x')",
            "True",
            &["SendToActive\tsl\t$Hello x\t0"],
            &["RAW *\t$Hello x|"],
        );
        f.check(
            "vh.SendToActive('$A|', 5)",
            "True",
            &["SendToActive\tsl\t$A|\t5"],
            &["RAW *\t$A|"],
        );
        f.check(
            "vh.SendToPassive('$P')",
            "True",
            &["SendToPassive\tsl\t$P\t0"],
            &["RAW *\t$P|"],
        );
        f.check(
            "vh.SendToActiveClass('$C', 3, 10)",
            "True",
            &["SendToActiveClass\tslll\t$C\t3\t10\t0"],
            &["RAW *\t$C|"],
        );
        f.check(
            "vh.SendToPassiveClass('$C', 0, 2, 1)",
            "True",
            &["SendToPassiveClass\tslll\t$C\t0\t2\t1"],
            &["RAW *\t$C|"],
        );
        f.check(
            "vh.SendDataToUser('$To', 'alice')",
            "True",
            &["SendDataToUser\tssl\t$To\talice\t0"],
            &["RAW alice\t$To|"],
        );
        f.check(
            "vh.SendDataToUser('$To', 'nobody', 2)",
            "False",
            &["SendDataToUser\tssl\t$To\tnobody\t2"],
            &[],
        );
        f.check(
            "vh.SendDataToAll('$All', 0, 10)",
            "True",
            &["SendDataToAll\tslll\t$All\t0\t10\t0"],
            &["RAW *\t$All|"],
        );
        f.check(
            "vh.SendPMToAll('news', 'Verlihub', 3, 10)",
            "True",
            &["SendPMToAll\tssll\tnews\tVerlihub\t3\t10"],
            &["PM J\u{fc}rgen\tVerlihub\tVerlihub\tnews"],
        );
        f.check(
            "vh.mc('hello $ | world')",
            "True",
            &["mc\tss\thello $ | world\t(null)"],
            &["MC Verlihub\thello $ | world"],
        );
        // B's mc(text): no from_nick (its wrapper packed only `s`, which
        // the plugin refused; here the text reaches the hub, a departure).
        if generation == Generation::A {
            f.check(
                "vh.mc('hello', 'J\\xfcrgen')",
                "True",
                &["mc\tss\thello\tJ\u{fc}rgen"],
                &["MC J\u{fc}rgen\thello"],
            );
        } else {
            f.check_raises_text(
                "vh.mc('hello', 'J\\xfcrgen')",
                "TypeError: Function takes at most 1 arguments, got 2",
            );
        }
        f.check(
            "vh.usermc('psst', 'alice')",
            "True",
            &["usermc\tsss\tpsst\talice\t(null)"],
            &["USERMC alice\tVerlihub\tpsst"],
        );
        f.check(
            "vh.usermc('psst', 'alice', 'Bot')",
            "True",
            &["usermc\tsss\tpsst\talice\tBot"],
            &["USERMC alice\tBot\tpsst"],
        );
        f.check(
            "vh.usermc('psst', 'nobody')",
            "False",
            &["usermc\tsss\tpsst\tnobody\t(null)"],
            &[],
        );
        f.check(
            "vh.classmc('ops only', 3, 10)",
            "True",
            &["classmc\tslls\tops only\t3\t10\t(null)"],
            &["CLASSMC 3\t10\tVerlihub\tops only"],
        );
        if generation == Generation::A {
            f.check(
                "vh.classmc('guests', 0, 1, 'Bot')",
                "True",
                &["classmc\tslls\tguests\t0\t1\tBot"],
                &["CLASSMC 0\t1\tBot\tguests"],
            );
        } else {
            f.check_raises_text(
                "vh.classmc('guests', 0, 1, 'Bot')",
                "TypeError: Function takes at most 3 arguments, got 4",
            );
        }
        f.check(
            "vh.pm('hi', 'alice')",
            "True",
            &["pm\tssss\thi\talice\t(null)\t(null)"],
            &["PM alice\tVerlihub\tVerlihub\thi"],
        );
        f.check(
            "vh.pm('hi', 'alice', 'J\\xfcrgen', 'Shown')",
            "True",
            &["pm\tssss\thi\talice\tJ\u{fc}rgen\tShown"],
            &["PM alice\tJ\u{fc}rgen\tShown\thi"],
        );
        f.check(
            "vh.pm('hi', 'nobody')",
            "False",
            &["pm\tssss\thi\tnobody\t(null)\t(null)"],
            &[],
        );
    }
}

#[test]
fn user_functions_read_and_change_users() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.GetMyINFO('alice')",
            r"('alice', 'desc', '<++ V:1>', '100\x01', 'a@x', '1234')",
            &["GetMyINFO\ts\talice"],
            &[],
        );
        f.check(
            "vh.GetMyINFO('nobody')",
            "None",
            &["GetMyINFO\ts\tnobody"],
            &[],
        );
        // NULL fields: None under A, '' under B (docs/abi.md §7.2).
        f.check(
            "vh.GetMyINFO('nullfields')",
            f.ab(
                "('nullfields', None, '<t>', None, '', '0')",
                "('nullfields', '', '<t>', '', '', '0')",
            ),
            &["GetMyINFO\ts\tnullfields"],
            &[],
        );
        f.check(
            "vh.SetMyINFO('alice', 'new d\\xe9sc')",
            "True",
            &["SetMyINFO\tssssss\talice\tnew d\u{e9}sc\t(null)\t(null)\t(null)\t(null)"],
            &["MYINFO $MyINFO $ALL alice new d\u{e9}sc<++ V:1>$ $100\u{1}$a@x$1234$"],
        );
        f.check(
            "vh.SetMyINFO('alice', None, '<T>', 'LAN\\x01', 'e@x', '99')",
            "True",
            &["SetMyINFO\tssssss\talice\t(null)\t<T>\tLAN\u{1}\te@x\t99"],
            &["MYINFO $MyINFO $ALL alice new d\u{e9}sc<T>$ $LAN\u{1}$e@x$99$"],
        );
        f.check(
            "vh.SetMyINFOFlag('alice', 2)",
            "True",
            &["SetMyINFOFlag\tsl\talice\t2"],
            &["MYINFO $MyINFO $ALL alice new d\u{e9}sc<T>$ $LAN\u{3}$e@x$99$"],
        );
        f.check(
            "vh.UnsetMyINFOFlag('alice', 2)",
            "True",
            &["UnsetMyINFOFlag\tsl\talice\t2"],
            &["MYINFO $MyINFO $ALL alice new d\u{e9}sc<T>$ $LAN\u{1}$e@x$99$"],
        );
        f.check(
            "vh.SetMyINFOFlag('alice', 0)",
            "False",
            &["SetMyINFOFlag\tsl\talice\t0"],
            &[],
        );
        f.check(
            "vh.GetUserClass('J\\xfcrgen')",
            "3",
            &["GetUserClass\ts\tJ\u{fc}rgen"],
            &[],
        );
        f.check(
            "vh.GetUserClass('nobody')",
            "-2",
            &["GetUserClass\ts\tnobody"],
            &[],
        );
        f.check(
            "vh.GetUserIP('alice')",
            "'10.0.0.1'",
            &["GetUserIP\ts\talice"],
            &[],
        );
        f.check(
            "vh.GetUserIP('Verlihub')",
            "'127.0.0.1'",
            &["GetUserIP\ts\tVerlihub"],
            &[],
        );
        // B: None for an empty string (docs/abi.md §7.1).
        let empty = f.ab("''", "None");
        f.check(
            "vh.GetUserIP('nobody')",
            empty,
            &["GetUserIP\ts\tnobody"],
            &[],
        );
        f.check(
            "vh.SetUserIP('alice', '10.9.9.9')",
            "True",
            &["SetUserIP\tss\talice\t10.9.9.9"],
            &[],
        );
        f.check(
            "vh.GetUserIP('alice')",
            "'10.9.9.9'",
            &["GetUserIP\ts\talice"],
            &[],
        );
        f.check(
            "vh.SetUserIP('nobody', '10.9.9.9')",
            "False",
            &["SetUserIP\tss\tnobody\t10.9.9.9"],
            &[],
        );
        // hubsim has no DNS, hub URLs, ExtJSON or GeoIP: '' (A), None (B).
        for name in [
            "GetUserHost",
            "GetUserHubURL",
            "GetUserExtJSON",
            "GetUserCC",
        ] {
            f.check(
                &format!("vh.{name}('alice')"),
                empty,
                &[&format!("{name}\ts\talice")],
                &[],
            );
        }
        f.check(
            "vh.CloseConnection('bob', 1000, vh.eCR_SYNTAX)",
            "True",
            &["CloseConnection\tsll\tbob\t1000\t14"],
            &["CLOSE bob\t14"],
        );
        f.check(
            "vh.CloseConnection('alice')",
            "True",
            &["CloseConnection\tsll\talice\t0\t0"],
            &["CLOSE alice\t0"],
        );
        f.check(
            "vh.CloseConnection('nobody')",
            "False",
            &["CloseConnection\tsll\tnobody\t0\t0"],
            &[],
        );
    }
}

#[test]
fn user_restrictions_take_keywords_and_return_a_dict() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        if generation == Generation::B {
            user_restrictions_of_generation_b(&mut f);
            continue;
        }
        let none = "{'chat': False, 'pm': False, 'search': False, 'ctm': False}";
        f.check(
            "vh.UserRestrictions('bob')",
            none,
            &["UserRestrictions\tsssss\tbob\t(null)\t(null)\t(null)\t(null)"],
            &[],
        );
        f.check(
            "vh.UserRestrictions('bob', pm='3h', ctm='1')",
            "{'chat': False, 'pm': True, 'search': False, 'ctm': True}",
            &["UserRestrictions\tsssss\tbob\t(null)\t3h\t(null)\t1"],
            &[],
        );
        f.check(
            "vh.UserRestrictions('bob', '1', None, '2d')",
            "{'chat': True, 'pm': True, 'search': True, 'ctm': True}",
            &["UserRestrictions\tsssss\tbob\t1\t(null)\t2d\t(null)"],
            &[],
        );
        f.check(
            "vh.UserRestrictions('bob', chat='0', pm='0', search='0', ctm='0')",
            none,
            &["UserRestrictions\tsssss\tbob\t0\t0\t0\t0"],
            &[],
        );
        // A returned NULL without an exception here (SystemError); None.
        f.check(
            "vh.UserRestrictions('bob', chat='soon')",
            "None",
            &["UserRestrictions\tsssss\tbob\tsoon\t(null)\t(null)\t(null)"],
            &[],
        );
        f.check(
            "vh.UserRestrictions('nobody', chat='1')",
            "None",
            &["UserRestrictions\tsssss\tnobody\t1\t(null)\t(null)\t(null)"],
            &[],
        );
        f.check_raises("vh.UserRestrictions('bob', nochat='1')", "TypeError");
        f.check_raises("vh.UserRestrictions(nick='bob')", "TypeError");
    }
}

/// Generation B's `UserRestrictions(nick, nochat='', nopm='', nosearch='',
/// noctm='')` (docs/abi.md §7.2): `''` for an omitted item (unchanged, §6.3), and
/// a bool: True if any restriction is active, False on failure.
fn user_restrictions_of_generation_b(f: &mut Api) {
    f.check(
        "vh.UserRestrictions('bob')",
        "False",
        &["UserRestrictions\tsssss\tbob\t\t\t\t"],
        &[],
    );
    f.check(
        "vh.UserRestrictions('bob', nopm='3h', noctm='1')",
        "True",
        &["UserRestrictions\tsssss\tbob\t\t3h\t\t1"],
        &[],
    );
    f.check(
        "vh.UserRestrictions('bob', '1', None, '2d')",
        "True",
        &["UserRestrictions\tsssss\tbob\t1\t\t2d\t"],
        &[],
    );
    f.check(
        "vh.UserRestrictions('bob', nochat='0', nopm='0', nosearch='0', noctm='0')",
        "False",
        &["UserRestrictions\tsssss\tbob\t0\t0\t0\t0"],
        &[],
    );
    f.check(
        "vh.UserRestrictions('bob', nochat='soon')",
        "False",
        &["UserRestrictions\tsssss\tbob\tsoon\t\t\t"],
        &[],
    );
    f.check(
        "vh.UserRestrictions('nobody', nochat='1')",
        "False",
        &["UserRestrictions\tsssss\tnobody\t1\t\t\t"],
        &[],
    );
    f.check_raises("vh.UserRestrictions('bob', chat='1')", "TypeError");
    f.check_raises("vh.UserRestrictions(nick='bob')", "TypeError");
}

#[test]
fn list_functions_return_lists_and_raw_lists() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.GetNickList()",
            r"['Verlihub', 'OpChat', 'alice', 'J\xfcrgen', 'bob']",
            &["GetNickList\t"],
            &[],
        );
        f.check(
            "vh.GetOpList()",
            r"['Verlihub', 'OpChat', 'J\xfcrgen']",
            &["GetOpList\t"],
            &[],
        );
        f.check(
            "vh.GetBotList()",
            "['Verlihub', 'OpChat']",
            &["GetBotList\t"],
            &[],
        );
        // A plugin: the raw "$NickList a$$b$$"; a B plugin answers JSON,
        // for which B's wrapper had no raw form (None, docs/abi.md §7.2).
        let raw = |prefix: &str, nicks: &str| match generation {
            Generation::A => format!("'{prefix} {nicks}'"),
            Generation::B => "None".to_string(),
        };
        f.check(
            "vh.GetRawNickList()",
            &raw("$NickList", r"Verlihub$$OpChat$$alice$$J\xfcrgen$$bob$$"),
            &["GetNickList\t"],
            &[],
        );
        f.check(
            "vh.GetRawOpList()",
            &raw("$OpList", r"Verlihub$$OpChat$$J\xfcrgen$$"),
            &["GetOpList\t"],
            &[],
        );
        f.check(
            "vh.GetRawBotList()",
            &raw("$BotList", "Verlihub$$OpChat$$"),
            &["GetBotList\t"],
            &[],
        );
        f.check("vh.GetUsersCount()", "3", &["GetUsersCount\t"], &[]);
        f.check(
            "vh.GetTotalShareSize()",
            "'1239'",
            &["GetTotalShareSize\t"],
            &[],
        );
    }
}

#[test]
fn geoip_functions_return_strings_and_a_dict() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.GetIPCC('203.0.113.7')",
            "'CH'",
            &["GetIPCC\ts\t203.0.113.7"],
            &[],
        );
        f.check(
            "vh.GetIPCC('10.0.0.1')",
            f.ab("''", "None"),
            &["GetIPCC\ts\t10.0.0.1"],
            &[],
        );
        f.check(
            "vh.GetIPCN('203.0.113.7')",
            "'Switzerland'",
            &["GetIPCN\ts\t203.0.113.7"],
            &[],
        );
        f.check(
            "vh.GetIPASN('203.0.113.7')",
            "'AS64500 Example'",
            &["GetIPASN\tss\t203.0.113.7\t(null)"],
            &[],
        );
        f.check(
            "vh.GetIPASN('10.0.0.1', '/db/asn.mmdb')",
            "None",
            &["GetIPASN\tss\t10.0.0.1\t/db/asn.mmdb"],
            &[],
        );
        f.check(
            "vh.GetGeoIP('203.0.113.7')",
            concat!(
                "{'latitude': 47.375, 'longitude': 8.5, 'metro_code': 7, 'area_code': 31, ",
                "'host': 'example.net', 'range_low': '203.0.113.0', ",
                "'range_high': '203.0.113.255', 'country_code': 'CH', ",
                "'country_code_xxx': 'CHE', 'country': 'Switzerland', 'region_code': 'ZH', ",
                "'region': 'Zurich', 'time_zone': 'Europe/Zurich', 'continent_code': 'EU', ",
                r"'continent': 'Europe', 'city': 'Z\xfcrich', 'postal_code': '8001'}"
            ),
            &["GetGeoIP\tss\t203.0.113.7\t(null)"],
            &[],
        );
        f.check(
            "vh.GetGeoIP('10.0.0.1', 'city.mmdb')",
            "None",
            &["GetGeoIP\tss\t10.0.0.1\tcity.mmdb"],
            &[],
        );
        // B parsed GetGeoIP's arguments as "s|s": no None.
        if generation == Generation::B {
            f.check_raises_text(
                "vh.GetGeoIP('203.0.113.7', None)",
                "TypeError: argument 2 must be str, not None",
            );
        }
        // GetIPCity: a B callback neither wrapper offered to scripts.
        f.check("hasattr(vh, 'GetIPCity')", "False", &[], &[]);
    }
}

#[test]
fn registration_ban_and_robot_functions_change_the_hub() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.AddRegUser('newbie', 1)",
            "True",
            &["AddRegUser\tslss\tnewbie\t1\t(null)\t(null)"],
            &[],
        );
        f.check(
            "vh.AddRegUser('newbie', 2, 'pw', 'J\\xfcrgen')",
            "False",
            &["AddRegUser\tslss\tnewbie\t2\tpw\tJ\u{fc}rgen"],
            &[],
        );
        f.check(
            "vh.AddRegUser('other', 7)",
            "False",
            &["AddRegUser\tslss\tother\t7\t(null)\t(null)"],
            &[],
        );
        f.check(
            "vh.SetRegClass('newbie', 2)",
            "True",
            &["SetRegClass\tsl\tnewbie\t2"],
            &[],
        );
        f.check(
            "vh.DelRegUser('newbie')",
            "True",
            &["DelRegUser\ts\tnewbie"],
            &[],
        );
        f.check(
            "vh.DelRegUser('newbie')",
            "False",
            &["DelRegUser\ts\tnewbie"],
            &[],
        );
        f.check(
            "vh.Ban('J\\xfcrgen', 'carol', 'spam', 3600, vh.eBF_NICK)",
            "True",
            &["Ban\tsssll\tJ\u{fc}rgen\tcarol\tspam\t3600\t4"],
            &["BAN J\u{fc}rgen\tcarol\tspam\t3600\t4"],
        );
        f.check(
            "vh.DelNickTempBan('carol')",
            "True",
            &["DelNickTempBan\ts\tcarol"],
            &[],
        );
        f.check(
            "vh.DelIPTempBan('10.0.0.66')",
            "True",
            &["DelIPTempBan\ts\t10.0.0.66"],
            &[],
        );
        f.check(
            "vh.KickUser('J\\xfcrgen', 'bob', 'bye')",
            "True",
            &["KickUser\tssssss\tJ\u{fc}rgen\tbob\tbye\t(null)\t(null)\t(null)"],
            &["KICK J\u{fc}rgen\tbob\tbye", "CLOSE bob\tkicked"],
        );
        f.check(
            "vh.KickUser('nobody', 'alice', 'x', 'dchub://h', 'op note', 'user note')",
            "False",
            &["KickUser\tssssss\tnobody\talice\tx\tdchub://h\top note\tuser note"],
            &[],
        );
        for (nick, code) in [("Verlihub", 4), ("new bot", 3), ("", 2), ("Robo", 0)] {
            f.check(
                &format!("vh.IsRobotNickBad('{nick}')"),
                &code.to_string(),
                &[&format!("IsRobotNickBad\ts\t{nick}")],
                &[],
            );
        }
        f.check(
            "vh.AddRobot('Robo', 3, 'a bot', 'LAN\\x01', 'r@x', '0')",
            "True",
            &["AddRobot\tslssss\tRobo\t3\ta bot\tLAN\u{1}\tr@x\t0"],
            &["MYINFO $MyINFO $ALL Robo a bot$ $LAN\u{1}$r@x$0$"],
        );
        f.check(
            "vh.IsRobotNickBad('Robo')",
            "1",
            &["IsRobotNickBad\ts\tRobo"],
            &[],
        );
        f.check(
            "vh.AddRobot('Robo', 3, 'again', '', '', '0')",
            "False",
            &["AddRobot\tslssss\tRobo\t3\tagain\t\t\t0"],
            &[],
        );
        f.check("vh.DelRobot('Robo')", "True", &["DelRobot\ts\tRobo"], &[]);
        f.check("vh.DelRobot('Robo')", "False", &["DelRobot\ts\tRobo"], &[]);
    }
}

#[test]
fn command_script_and_config_functions_reenter_the_hooks() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.ParseCommand('J\\xfcrgen', '!op cmd', 0)",
            "True",
            &[
                "ParseCommand\tssl\tJ\u{fc}rgen\t!op cmd\t0",
                "SendToOpChat\tss\tOnOperatorCommand('J\\xfcrgen', '!op cmd')\t(null)",
            ],
            &[
                "OPCHAT OpChat\tOnOperatorCommand('J\\xfcrgen', '!op cmd')",
                "HOOK OnOperatorCommand\t{id}\tl:0",
            ],
        );
        f.check(
            "vh.ParseCommand('nobody', '!x', 1)",
            "False",
            &["ParseCommand\tssl\tnobody\t!x\t1"],
            &[],
        );
        // Instant: OnScriptCommand re-enters this script at once (the hub
        // does not wait for its result: NULL).
        let commands = runner.dir.path().join("script_commands.txt");
        let now = if generation == Generation::A {
            f.check(
                "vh.ScriptCommand('now', 'd\\xe4ta', 1)",
                "True",
                &["ScriptCommand\tssl\tnow\td\u{e4}ta\t1"],
                &["HOOK OnScriptCommand\t{id}\tNULL"],
            );
            let now = f.fill("OnScriptCommand('now', 'd\\xe4ta', 'python', '{path}')\n");
            wait_for(&now, || {
                std::fs::read_to_string(&commands).unwrap_or_default() == now
            });
            now
        } else {
            // B's ScriptCommand(cmd, data, plugin): three str, so never
            // instant (its wrapper packed `sss`, which the plugin refused;
            // here the command reaches the hub, a departure).
            f.check_raises_text(
                "vh.ScriptCommand('now', 'd\\xe4ta', 1)",
                "TypeError: Argument 2 must be str, not int",
            );
            f.check_raises_text(
                "vh.ScriptCommand('later', 'x')",
                "TypeError: Function requires at least 3 arguments, got 2",
            );
            String::new()
        };
        // Not instant: queued until the next timer tick.
        f.check(
            f.ab(
                "vh.ScriptCommand('later', 'x')",
                "vh.ScriptCommand('later', 'x', 'python')",
            ),
            "True",
            &["ScriptCommand\tssl\tlater\tx\t0"],
            &[],
        );
        f.hub.clear_records();
        assert!(f.hub.timer(1_700_000_000.0));
        let records = f.hub.records();
        assert_eq!(
            records,
            [hub(&f.fill("HOOK OnScriptCommand\t{id}\tNULL"))],
            "{generation:?}:\n{}",
            show(&records)
        );
        let later = f.fill("OnScriptCommand('later', 'x', 'python', '{path}')\n");
        wait_for(&later, || {
            std::fs::read_to_string(&commands).unwrap_or_default() == format!("{now}{later}")
        });
        std::fs::remove_file(&commands).expect("script_commands.txt");
        // SetConfig: OnSetConfig may veto; python_pi never reports success
        // (docs/abi.md §6.3), so it is False either way, as in both generations.
        f.check(
            "vh.SetConfig('config', 'hub_topic', 'Hello')",
            "False",
            &[
                "SetConfig\tsss\tconfig\thub_topic\tHello",
                "SendToOpChat\tss\tOnSetConfig('Verlihub', 'config', 'hub_topic', 'Hello', '', -1)\t(null)",
            ],
            &[
                "OPCHAT OpChat\tOnSetConfig('Verlihub', 'config', 'hub_topic', 'Hello', '', -1)",
                "HOOK OnSetConfig\t{id}\tl:1",
                "CONFIG config\thub_topic\tHello",
            ],
        );
        f.check(
            "vh.SetConfig('config', 'hub_topic', 'veto')",
            "False",
            &[
                "SetConfig\tsss\tconfig\thub_topic\tveto",
                "SendToOpChat\tss\tOnSetConfig('Verlihub', 'config', 'hub_topic', 'veto', 'Hello', -1)\t(null)",
            ],
            &[
                "OPCHAT OpChat\tOnSetConfig('Verlihub', 'config', 'hub_topic', 'veto', 'Hello', -1)",
                "HOOK OnSetConfig\t{id}\tl:0",
            ],
        );
        f.check(
            "vh.GetConfig('config', 'hub_topic')",
            "'Hello'",
            &["GetConfig\tsss\tconfig\thub_topic\t(null)"],
            &[],
        );
        f.check(
            "vh.GetConfig('config', 'no_such_var', 'dfl')",
            "'dfl'",
            &["GetConfig\tsss\tconfig\tno_such_var\tdfl"],
            &[],
        );
        f.check(
            "vh.GetConfig('config', 'no_such_var')",
            "None",
            &["GetConfig\tsss\tconfig\tno_such_var\t(null)"],
            &[],
        );
        // A value set to '': '' under A, None under B (docs/abi.md §7.1), so a
        // script written for B may write `GetConfig(...) or default`.
        f.hub.set_config(b"config", b"conf_empty", b"");
        f.check(
            "vh.GetConfig('config', 'conf_empty', 'dfl')",
            f.ab("''", "None"),
            &["GetConfig\tsss\tconfig\tconf_empty\tdfl"],
            &[],
        );
        f.check("vh.Topic()", "'Hello'", &["Topic\ts\t(null)"], &[]);
        f.check(
            "vh.Topic('T\\xf6pic')",
            r"'T\xf6pic'",
            &["Topic\ts\tT\u{f6}pic"],
            &["TOPIC T\u{f6}pic"],
        );
        f.check(
            "vh.name_and_version()",
            "('conf_api.py', '0.0.0')",
            &["name_and_version\tss\t(null)\t(null)"],
            &[],
        );
        if generation == Generation::A {
            f.check(
                "vh.name_and_version('Conf', '1.2')",
                "('Conf', '1.2')",
                &["name_and_version\tss\tConf\t1.2"],
                &[],
            );
            f.check(
                "vh.name_and_version(None, '1.3')",
                "('Conf', '1.3')",
                &["name_and_version\tss\t(null)\t1.3"],
                &[],
            );
        } else {
            // B's name_and_version() takes nothing (and always gave None:
            // its wrapper packed no argument, which the plugin refused;
            // here the hub answers, a departure).
            f.check_raises_text(
                "vh.name_and_version('Conf', '1.2')",
                "TypeError: Function takes at most 0 arguments, got 2",
            );
        }
        f.check(
            "vh.StopHub(3)",
            "True",
            &["StopHub\tll\t3\t0"],
            &["STOPHUB 3\t0"],
        );
        if generation == Generation::A {
            f.check(
                "vh.StopHub(0, -1)",
                "True",
                &["StopHub\tll\t0\t-1"],
                &["STOPHUB 0\t-1"],
            );
        } else {
            // B's StopHub(code): no delay (and always False, departure).
            f.check_raises_text(
                "vh.StopHub(0, -1)",
                "TypeError: Function takes at most 1 arguments, got 2",
            );
        }
    }
}

#[test]
fn database_and_hub_figures_functions() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        f.check(
            "vh.SQL('SELECT nick, class FROM reglist', 5)",
            r"(1, [['alice', '1'], ['b\xf6b', 'NULL']])",
            &["SQL\tsl\tSELECT nick, class FROM reglist\t5"],
            &[],
        );
        // hubsim has no database: the query fails, (0, []) as in A. B's
        // SQL(query, limit) takes both (and always gave None, leaking the
        // result: here A's result, a departure).
        if generation == Generation::A {
            f.check(
                "vh.SQL('SELECT 1')",
                "(0, [])",
                &["SQL\tsl\tSELECT 1\t100"],
                &[],
            );
        } else {
            f.check_raises_text(
                "vh.SQL('SELECT 1')",
                "TypeError: Function requires at least 2 arguments, got 1",
            );
            f.check(
                "vh.SQL('SELECT 1', 0)",
                "(0, [])",
                &["SQL\tsl\tSELECT 1\t0"],
                &[],
            );
        }
        // A always returned 0.0 here, B 0 (docs/abi.md §7.2); the hub's real
        // value, as a float under A and an int (B's type) under B.
        f.check(
            "vh.GetServFreq()",
            f.ab("1.0", "1"),
            &["GetServFreq\t"],
            &[],
        );
    }
}

#[test]
fn encode_and_decode_escape_the_five_nmdc_characters() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        if generation == Generation::B {
            // B's Decode turns every `&#<n>;` into its character (docs/abi.md
            // §7.2). A's encode/decode stay, as vh-runner extras.
            f.check(
                "(vh.encode('$'), vh.decode('&#36;&#65;'))",
                "('&#36;', '$&#65;')",
                &[],
                &[],
            );
            f.check(
                "(vh.Encode('a$b|c~d`e\\x05f'), vh.Decode('&#36;&#124;&#65;&#321;&#'))",
                r"('a&#36;b&#124;c&#126;d&#96;e&#5;f', '$|AA&#')",
                &[],
                &[],
            );
            continue;
        }
        f.check(
            "vh.encode('a$b|c~d`e\\x05f&#36;')",
            "'a&#36;b&#124;c&#126;d&#96;e&#5;f&#36;'",
            &[],
            &[],
        );
        f.check(
            "vh.decode('a&#36;b&#124;c&#126;d&#96;e&#5;f&#65;&#')",
            r"'a$b|c~d`e\x05f&#65;&#'",
            &[],
            &[],
        );
        f.check(
            "(vh.Encode('$|'), vh.Decode('&#36;&#124;&#65;'))",
            "('&#36;&#124;', '$|&#65;')",
            &[],
            &[],
        );
    }
}

/// Every §7.2 function of generation A (and B's `Encode`/`Decode`): (name,
/// required, most) arguments.
const ARITIES: [(&str, usize, usize); 60] = [
    ("SendToOpChat", 1, 2),
    ("SendToActive", 1, 2),
    ("SendToPassive", 1, 2),
    ("SendToActiveClass", 3, 4),
    ("SendToPassiveClass", 3, 4),
    ("SendDataToUser", 2, 3),
    ("SendDataToAll", 3, 4),
    ("SendPMToAll", 4, 4),
    ("CloseConnection", 1, 3),
    ("GetMyINFO", 1, 1),
    ("SetMyINFO", 1, 6),
    ("GetUserClass", 1, 1),
    ("GetNickList", 0, 0),
    ("GetOpList", 0, 0),
    ("GetBotList", 0, 0),
    ("GetRawNickList", 0, 0),
    ("GetRawOpList", 0, 0),
    ("GetRawBotList", 0, 0),
    ("GetUserHost", 1, 1),
    ("GetUserIP", 1, 1),
    ("SetUserIP", 2, 2),
    ("SetMyINFOFlag", 2, 2),
    ("UnsetMyINFOFlag", 2, 2),
    ("GetUserHubURL", 1, 1),
    ("GetUserExtJSON", 1, 1),
    ("GetUserCC", 1, 1),
    ("GetIPCC", 1, 1),
    ("GetIPCN", 1, 1),
    ("GetIPASN", 1, 2),
    ("GetGeoIP", 1, 2),
    ("AddRegUser", 2, 4),
    ("DelRegUser", 1, 1),
    ("SetRegClass", 2, 2),
    ("Ban", 5, 5),
    ("KickUser", 3, 6),
    ("DelNickTempBan", 1, 1),
    ("DelIPTempBan", 1, 1),
    ("ParseCommand", 3, 3),
    ("ScriptCommand", 2, 3),
    ("SetConfig", 3, 3),
    ("GetConfig", 2, 3),
    ("IsRobotNickBad", 1, 1),
    ("AddRobot", 6, 6),
    ("DelRobot", 1, 1),
    ("SQL", 1, 2),
    ("GetServFreq", 0, 0),
    ("GetUsersCount", 0, 0),
    ("GetTotalShareSize", 0, 0),
    ("usermc", 2, 3),
    ("pm", 2, 4),
    ("mc", 1, 2),
    ("classmc", 3, 4),
    ("UserRestrictions", 1, 5),
    ("Topic", 0, 1),
    ("name_and_version", 0, 2),
    ("StopHub", 1, 2),
    ("encode", 1, 1),
    ("decode", 1, 1),
    ("Encode", 1, 1),
    ("Decode", 1, 1),
];

/// Generation B's signatures where they differ from A's (docs/abi.md §7.2, B
/// column); B has no `encode`/`decode`.
const B_ARITIES: [(&str, usize, usize); 7] = [
    ("mc", 1, 1),
    ("classmc", 3, 3),
    ("StopHub", 1, 1),
    ("name_and_version", 0, 0),
    ("SQL", 2, 2),
    ("ScriptCommand", 3, 3),
    ("UserRestrictions", 1, 5),
];

/// (name, required, most) of every function under `generation`.
fn arities(generation: Generation) -> Vec<(&'static str, usize, usize)> {
    ARITIES
        .iter()
        .filter(|(n, _, _)| generation == Generation::A || !["encode", "decode"].contains(n))
        .map(|&(n, r, m)| match generation {
            Generation::A => (n, r, m),
            Generation::B => B_ARITIES
                .iter()
                .find(|(b, _, _)| *b == n)
                .copied()
                .unwrap_or((n, r, m)),
        })
        .collect()
}

#[test]
fn wrong_argument_counts_and_types_raise_type_error_before_any_callback() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        for (name, required, most) in arities(generation) {
            let want = if required == 0 {
                "['TypeError']"
            } else {
                "['TypeError', 'TypeError']"
            };
            f.check(
                &format!("arity('{name}', {required}, {most})"),
                want,
                &[],
                &[],
            );
        }
        // B's own texts (docs/abi.md §7.1, `vh_ParseArgs`).
        if generation == Generation::B {
            for (expression, text) in [
                (
                    "vh.SendToActive()",
                    "Function requires at least 1 arguments, got 0",
                ),
                (
                    "vh.GetUserClass('a', 'b')",
                    "Function takes at most 1 arguments, got 2",
                ),
                ("vh.mc(5)", "Argument 0 must be str, not int"),
                ("vh.mc(b'raw')", "Argument 0 must be str, not bytes"),
                ("vh.StopHub('3')", "Argument 0 must be int, not str"),
                (
                    "vh.SendToActive('x', 1.5)",
                    "Argument 1 must be int, not float",
                ),
            ] {
                f.check_raises_text(expression, &format!("TypeError: {text}"));
            }
        }
        // Types: a number for a string, a string for a number; no keywords.
        f.check_raises("vh.mc(5)", "TypeError");
        f.check_raises("vh.mc('x', 5)", "TypeError");
        f.check_raises("vh.StopHub('3')", "TypeError");
        f.check_raises("vh.SendToActive('x', 1.5)", "TypeError");
        f.check_raises("vh.mc(text='x')", "TypeError");
        f.check_raises("vh.SendToActive('x', delay=1)", "TypeError");
        // What the hub could not take as it is: raised, never cut or
        // replaced (docs/architecture.md "Hub strings are bytes").
        f.check_raises("vh.mc('a\\x00b')", "ValueError");
        // bytes are no str under B (docs/abi.md §7.1).
        f.check_raises("vh.mc(b'a\\x00b')", f.ab("ValueError", "TypeError"));
        f.check_raises("vh.SendToActive('x', 2**63)", "OverflowError");
        f.check_raises("vh.SendToActive('x', -2**63 - 1)", "OverflowError");
        f.check_raises("vh.mc('\\u0416')", "UnicodeEncodeError");
        // Accepted: bytes for a string (sent as is; A only), None and bool
        // for a number (0 and 0/1, as generation B), the whole C long range.
        if generation == Generation::A {
            f.check(
                "vh.mc(b'raw \\xfc')",
                "True",
                &["mc\tss\traw \u{fc}\t(null)"],
                &["MC Verlihub\traw \u{fc}"],
            );
        }
        f.check(
            "vh.SendToActive('x', None)",
            "True",
            &["SendToActive\tsl\tx\t0"],
            &["RAW *\tx|"],
        );
        f.check(
            "vh.SendToActiveClass('r', -2**63, 2**63 - 1)",
            "True",
            &["SendToActiveClass\tslll\tr\t-9223372036854775808\t9223372036854775807\t0"],
            &["RAW *\tr|"],
        );
        f.check(
            "vh.StopHub(True)",
            "True",
            &["StopHub\tll\t1\t0"],
            &["STOPHUB 1\t0"],
        );
    }
}

#[test]
fn call_dynamic_function_checks_its_name_before_any_callback() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        // Generation B's CallDynamicFunction(name, *args) calls a C function
        // another plugin registered for this script (docs/abi.md §3.10). No hub
        // callback is involved: an unknown name raises NameError, a bad
        // name TypeError, as B's did.
        f.check_raises(
            "vh.CallDynamicFunction('conf_nobody_registered_this', 1)",
            "NameError",
        );
        f.check_raises("vh.CallDynamicFunction('')", "TypeError");
        f.check_raises("vh.CallDynamicFunction(5)", "TypeError");
        f.check_raises("vh.CallDynamicFunction()", "TypeError");
        f.check_raises("vh.CallDynamicFunction('f', object())", "TypeError");
    }
}

#[test]
fn module_attributes_describe_the_script_and_the_hub() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let config: [(&[u8], &[u8]); 2] = [
            (b"hub_security", b"S\xe9curit\xe9"),
            (b"opchat_name", b"Ops"),
        ];
        let mut f = Api::open_with(&runner, generation, &config);
        // B: the module name, without `.py` (docs/abi.md §7.3).
        let want = format!(
            r"({}, 'S\xe9curit\xe9', 'Ops', '{}', '{}', '{}', 'config')",
            f.id,
            f.ab("conf_api.py", "conf_api"),
            f.script.display(),
            f.config_dir.display()
        );
        f.check(
            "(vh.myid, vh.botname, vh.opchatname, vh.name, vh.path, vh.basedir, vh.config_name)",
            &want,
            &[],
            &[],
        );
        if generation == Generation::B {
            // B's module had no version (docs/abi.md §7.3); A's starttime stays,
            // a vh-runner extra under B. B imported the script as a module.
            f.check(
                "[hasattr(vh, n) for n in ('__version__', '__version_string__')]",
                "[False, False]",
                &[],
                &[],
            );
            f.check(
                "__import__('sys').modules['conf_api'].__name__",
                "'conf_api'",
                &[],
                &[],
            );
        } else {
            f.check(
                "(vh.__version__, vh.__version_string__)",
                "((1, 6, 0, 0), '1.6.0.0')",
                &[],
                &[],
            );
        }
        let got = f.eval("(type(vh.starttime).__name__, vh.starttime)");
        let (before, after) = f.opened_s;
        let starttime: u64 = got
            .result
            .strip_prefix("ok ('int', ")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{generation:?}: {}", got.result));
        assert!(
            (before..=after).contains(&starttime),
            "{generation:?}: starttime {starttime} not in [{before}, {after}]"
        );
        // The defaults go with the bot names: vh.mc from vh.botname.
        f.check(
            "vh.mc('x')",
            "True",
            &["mc\tss\tx\t(null)"],
            &["MC S\u{e9}curit\u{e9}\tx"],
        );
        // Ids are never reused (docs/abi.md §3.4: B's rule; A reused the lowest).
        let first = f.id;
        assert!(f.hub.unload(first));
        f.id = f.hub.load(&f.script);
        assert!(f.id > first, "{generation:?}: {} after {first}", f.id);
        f.check("vh.myid", &f.id.to_string(), &[], &[]);
    }
}

/// Spec §7.4 with generation A's (the hub's) values.
const CONSTANTS: [(&str, i64); 37] = [
    ("eCR_DEFAULT", 0),
    ("eCR_INVALID_USER", 1),
    ("eCR_KICKED", 2),
    ("eCR_FORCEMOVE", 3),
    ("eCR_QUIT", 4),
    ("eCR_HUB_LOAD", 5),
    ("eCR_TIMEOUT", 6),
    ("eCR_TO_ANYACTION", 7),
    ("eCR_USERLIMIT", 8),
    ("eCR_SHARE_LIMIT", 9),
    ("eCR_TAG_NONE", 10),
    ("eCR_TAG_INVALID", 11),
    ("eCR_PASSWORD", 12),
    ("eCR_LOGIN_ERR", 13),
    ("eCR_SYNTAX", 14),
    ("eCR_INVALID_KEY", 15),
    ("eCR_RECONNECT", 16),
    ("eCR_CLONE", 17),
    ("eCR_SELF", 18),
    ("eCR_BADNICK", 19),
    ("eCR_NOREDIR", 20),
    ("eBOT_OK", 0),
    ("eBOT_EXISTS", 1),
    ("eBOT_WITHOUT_NICK", 2),
    ("eBOT_BAD_CHARS", 3),
    ("eBOT_RESERVED_NICK", 4),
    ("eBOT_API_ERROR", 5),
    ("eBF_NICKIP", 1),
    ("eBF_IP", 2),
    ("eBF_NICK", 4),
    ("eBF_RANGE", 8),
    ("eBF_HOST1", 16),
    ("eBF_HOST2", 32),
    ("eBF_HOST3", 64),
    ("eBF_SHARE", 128),
    ("eBF_PREFIX", 256),
    ("eBF_HOSTR1", 512),
];

#[test]
fn constants_have_the_hubs_values() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Api::open(&runner, generation);
        let names: Vec<String> = CONSTANTS.iter().map(|(n, _)| format!("'{n}'")).collect();
        let want: Vec<String> = CONSTANTS
            .iter()
            .map(|(n, v)| format!("('{n}', 'int', {v})"))
            .collect();
        f.check(
            &format!(
                "[(n, type(getattr(vh, n)).__name__, getattr(vh, n)) for n in [{}]]",
                names.join(", ")
            ),
            &format!("[{}]", want.join(", ")),
            &[],
            &[],
        );
        // The hub's eCR_PLUGIN, which OnCloseConnEx reports after a script
        // refused a nick: neither wrapper exported it (docs/abi.md §7.4); vh does,
        // with the hub's value.
        f.check("vh.eCR_PLUGIN", "21", &[], &[]);
        // `from vh import *` gives them, as the plugin's module did.
        f.check(
            "all(n in vh.__all__ for n, _ in vh.__dict__.items() if n[:4] in ('eCR_', 'eBOT', 'eBF_'))",
            "True",
            &[],
            &[],
        );
    }
}
