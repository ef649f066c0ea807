//! The shapes scripts are written in load and answer, under each plugin
//! generation's semantics, through hubsim, the shim, a real runner and
//! real workers: what a hub admin tries first with scripts written for the
//! plugin.
//!
//! The scripts are the skeletons and snippets of the plugin's own
//! documentation, rewritten as whole scripts in `shapes/` (Python 3) and
//! `shapes_py2/` (Python 2 syntax): the README's "Script Structure" with
//! its module-level `name_and_version()`, its examples, its hook list, and
//! the example scripts' queue/cache-and-`OnTimer` patterns; and every
//! script block of docs/script-authors.md, taken from the document itself.
//! Each is loaded on a generation A hub (A's `vh`) and a generation B hub
//! (B's `vh`), Python 3; the Python 2 ones, and each Python 3 shape that
//! Python 2.7 can compile, also in a Python 2.7 worker on an A hub.
//!
//! A shape's header says what to expect: `# answers: <hooks>` lists the
//! hooks the session below fires that the script defines, and
//! `# fails-under: <label> <error>` a load that fails in-process too, for
//! a label `A`, `B` (the semantics) or `py2` (a Python 2.7 worker, whose
//! semantics are A). For each script and run:
//! * it loads (or fails with that error);
//! * every hook it defines that the session fires is answered: a `HOOK`
//!   record of its id for each listed hook, and none of its records `NULL`
//!   (what the hub sees for a hook past its deadline, a dead worker, or a
//!   hook that raised under B, docs/abi.md §4.3), but for the hooks the
//!   hub does not wait for;
//! * `!pylist` lists it with its id and path, as both plugins list a
//!   loaded script (docs/abi.md §10.1: id and path; neither plugin shows a
//!   declared name or version there).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::faults::status_row;
use common::{Runner, py2, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, Hub};

const ADMIN: &[u8] = b"admin";

/// Hooks whose result the hub ignores: the shim answers them `NULL` at
/// once and delivers them without waiting (docs/compatibility.md, "not
/// waited"), so their record says nothing of the script.
const NOT_WAITED: &[&str] = &[
    "OnCloseConn",
    "OnCloseConnEx",
    "OnUnLoad",
    "OnScriptCommand",
    "OnUserLogout",
];

/// What a shape expects of one run.
#[derive(Debug, Clone)]
struct Shape {
    path: PathBuf,
    /// Hooks the session fires that the script must answer.
    answers: Vec<String>,
    /// `(label, error)`: the load fails under `label` with `error` in the log.
    fails: Vec<(String, String)>,
}

impl Shape {
    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The error the load must fail with in a run with `labels`, if any.
    fn failure(&self, labels: &[&str]) -> Option<&str> {
        self.fails
            .iter()
            .find(|(l, _)| labels.contains(&l.as_str()))
            .map(|(_, e)| e.as_str())
    }
}

/// Reads a shape's `# answers:` and `# fails-under:` header lines.
fn shape(path: &Path) -> Shape {
    let text = std::fs::read_to_string(path).expect("shape script");
    let mut answers = Vec::new();
    let mut fails = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# answers:") {
            answers.extend(rest.split_whitespace().map(str::to_string));
        } else if let Some(rest) = line.strip_prefix("# fails-under:") {
            let mut words = rest.split_whitespace();
            let label = words.next().expect("a label").to_string();
            let error = words.next().expect("an error").to_string();
            fails.push((label, error));
        }
    }
    Shape {
        path: path.to_path_buf(),
        answers,
        fails,
    }
}

/// The `*.py` shapes of `tests/<folder>`, sorted by name.
fn shapes(folder: &str) -> Vec<Shape> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("shapes folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no shapes in {}", dir.display());
    paths.iter().map(|p| shape(p)).collect()
}

/// Hooks each script block of docs/script-authors.md answers in the
/// session; a block not listed here fails the test, so a new one is
/// covered as soon as it is written.
const DOC_SCRIPTS: &[(&str, &[&str])] = &[
    ("welcome.py", &["OnUserLogin", "OnParsedMsgChat"]),
    ("seen_store.py", &[]),
    ("whois.py", &["OnParsedMsgChat"]),
    ("status_before.py", &["OnTimer"]),
    ("status_after.py", &[]),
];

/// The script blocks (`<!-- file: NAME -->` before a python block, tests
/// left out) of docs/script-authors.md, written into `dir`.
fn doc_scripts(dir: &Path) -> Vec<Shape> {
    let doc = common::repo_root().join("docs/script-authors.md");
    let text = std::fs::read_to_string(&doc).expect("docs/script-authors.md");
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("<!-- file: ") {
        let after = &rest[at + "<!-- file: ".len()..];
        let name = after.split_whitespace().next().expect("a file name");
        let body_start = after.find("```python\n").expect("a python block") + "```python\n".len();
        let body_len = after[body_start..].find("\n```").expect("a closing fence") + 1;
        let body = &after[body_start..body_start + body_len];
        rest = &after[body_start + body_len..];
        if name.starts_with("test_") {
            continue;
        }
        let answers = DOC_SCRIPTS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} of docs/script-authors.md is not in DOC_SCRIPTS"))
            .1;
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write a doc script");
        found.push(Shape {
            path,
            answers: answers.iter().map(|s| s.to_string()).collect(),
            fails: Vec::new(),
        });
    }
    assert_eq!(
        found.len(),
        DOC_SCRIPTS.len(),
        "docs/script-authors.md lost a script block"
    );
    found
}

/// Opens a hub with the admin (class 10, for `!pylist`) logged in.
fn open(runner: &Runner, generation: Generation) -> Hub {
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    assert!(hub.login(ADMIN, 10, b"10.0.0.9", b"", b"", b"", b"", b"0"));
    hub
}

/// A session that fires the hooks the shapes answer: a login, chat lines
/// and commands, a PM, a user command, two timer ticks and a logout.
fn session(hub: &mut Hub) {
    assert!(hub.login(
        b"alice",
        0,
        b"10.0.0.2",
        b"d",
        b"<++ V:1,M:A,H:1/0/0,S:1>",
        b"100\x01",
        b"",
        b"0"
    ));
    for line in [
        "hello everyone",
        "!stats",
        "!info",
        "!ops",
        "!users",
        "a badword here",
        "+calc 1+2",
    ] {
        hub.chat(b"alice", line.as_bytes());
    }
    hub.pm(b"alice", ADMIN, b"hi");
    hub.timer(1.0);
    hub.timer(2.0);
    hub.logout(b"alice");
}

/// Loads every shape on one hub, runs the session, and checks each one as
/// the module doc says. `labels` name the run (`A`/`B`, `py2`); every
/// loaded script runs under the Python `python` (`vh-runner status`'s PY
/// column: `3` for any Python 3, else the version).
fn run(runner: &Runner, generation: Generation, labels: &[&str], shapes: &[Shape], python: &str) {
    let mut hub = open(runner, generation);
    let mut loaded: BTreeMap<i32, &Shape> = BTreeMap::new();
    for s in shapes {
        let id = hub.load(&s.path);
        match s.failure(labels) {
            None => {
                assert!(
                    id >= 0,
                    "{labels:?}: {} did not load:\n{}",
                    s.name(),
                    runner.log()
                );
                loaded.insert(id, s);
            }
            Some(error) => {
                assert!(id < 0, "{labels:?}: {} loaded; expected {error}", s.name());
                assert!(
                    runner.log().contains(error),
                    "{labels:?}: {} failed without {error}:\n{}",
                    s.name(),
                    runner.log()
                );
            }
        }
    }
    hub.clear_records();
    session(&mut hub);
    let records = hub.records();
    for (id, s) in &loaded {
        let mine: Vec<(String, String)> =
            records.iter().filter_map(|r| hook_record(r, *id)).collect();
        for (hook, result) in mine
            .iter()
            .filter(|(h, _)| !NOT_WAITED.contains(&h.as_str()))
        {
            assert_ne!(
                result,
                "NULL",
                "{labels:?}: {} did not answer {hook}:\n{}\n{}",
                s.name(),
                show(&records),
                runner.log()
            );
        }
        for hook in &s.answers {
            assert!(
                mine.iter().any(|(h, _)| h == hook),
                "{labels:?}: {} was not called for {hook}:\n{}",
                s.name(),
                show(&records)
            );
        }
    }
    hub.clear_records();
    assert!(
        !hub.chat(ADMIN, b"!pylist"),
        "!pylist is answered, not said"
    );
    let listing = show(&hub.records());
    for (id, s) in &loaded {
        let row = format!(" #{id} {}", s.path.display());
        assert!(
            listing.contains(&row),
            "{labels:?}: !pylist lacks {row}:\n{listing}"
        );
    }
    for (id, s) in &loaded {
        let py = &status_row(runner, &s.name())["PY"];
        let want = if python == "3" {
            py.starts_with('3')
        } else {
            py == python
        };
        assert!(want, "{labels:?}: {} ran under Python {py}", s.name());
        assert!(hub.unload(*id), "{labels:?}: unload #{id}");
    }
}

/// `(hook, result)` of a `HOOK <name>\t<id>\t<result>` record of script `id`.
fn hook_record(record: &[u8], id: i32) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(record.strip_prefix(b"HOOK ")?);
    let mut fields = text.splitn(3, '\t');
    let hook = fields.next()?.to_string();
    (fields.next()? == id.to_string()).then(|| (hook, fields.next().unwrap_or("").to_string()))
}

#[test]
fn the_plugin_documentations_script_shapes_load_and_answer_under_a_and_b() {
    let _serial = serial();
    let runner = Runner::start();
    let shapes = shapes("shapes");
    run(&runner, Generation::A, &["A"], &shapes, "3");
    run(&runner, Generation::B, &["B"], &shapes, "3");
}

#[test]
fn the_script_authors_guides_scripts_load_and_answer_under_a_and_b() {
    let _serial = serial();
    let runner = Runner::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let scripts = doc_scripts(dir.path());
    run(&runner, Generation::A, &["A"], &scripts, "3");
    run(&runner, Generation::B, &["B"], &scripts, "3");
}

/// True if Python 2.7 compiles `path` (the shape is also Python 2 syntax).
fn python2_compiles(python2: &Path, path: &Path) -> bool {
    std::process::Command::new(python2)
        .args([
            "-c",
            "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
        ])
        .arg(path)
        .output()
        .expect("run python2.7")
        .status
        .success()
}

#[test]
fn python2_shapes_load_and_answer_in_a_python2_worker() {
    let Some(python2) = py2::python2() else {
        return;
    };
    let _serial = serial();
    let mut shapes = shapes("shapes_py2");
    let both: Vec<Shape> = crate::shapes("shapes")
        .into_iter()
        .filter(|s| python2_compiles(&python2, &s.path))
        .collect();
    assert!(
        both.iter().any(|s| s.name() == "every_hook.py"),
        "Python 2.7 compiles no Python 3 shape: {python2:?} is not a Python 2.7"
    );
    shapes.extend(both);
    let sections: String = shapes
        .iter()
        .map(|s| py2::script_section(&python2, &s.name()))
        .collect();
    let runner = Runner::start_with(&sections);
    run(&runner, Generation::A, &["A", "py2"], &shapes, "2.7");
}
