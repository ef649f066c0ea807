//! `docs/compatibility.md` must list every item of the script-facing
//! contract in `docs/abi.md` — the hooks of §4.1, the `vh` functions of
//! §7.2, the module attributes of §7.3 and the constants of §7.4 — and
//! nothing else in those tables, each with at least one test, and every
//! test it names must exist (a `#[test]` function, not ignored, in
//! `tests/hubsim/tests/<file>.rs`). Fails with the list of differences.
//!
//! Its "Departures under B" table lists every place where
//! vh-runner under generation B does not do what B's plugin did, each
//! with a reason that allows it (a crash, hang, leak, memory corruption or
//! lost bytes in B, or B contradicting its own docs) and a test; the item
//! tables mark the same rows `**departure**`.
//!
//! Its "C callers of the wrapper" section names a test for every behaviour
//! at the C ABI, and each of its departures a reason and a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The repository root.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The project's reference of the wrapper ABI, in the repository.
fn abi_path() -> PathBuf {
    repo_root().join("docs/abi.md")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines after the heading that starts with `heading` up to the next
/// heading of any level.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    let found = lines.by_ref().any(|l| l.starts_with(heading));
    assert!(found, "no heading {heading:?}");
    lines.take_while(|l| !l.starts_with('#')).collect()
}

/// The cells of a table row (`| a | b |`), trimmed; None for other lines.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// `x` of a cell that is exactly `` `x` ``.
fn code(cell: &str) -> Option<&str> {
    let name = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!name.is_empty() && !name.contains('`')).then_some(name)
}

/// The items of one kind, by name; hooks carry their index.
type Items = BTreeMap<String, Option<usize>>;

/// The four item lists of docs/abi.md.
struct AbiItems {
    hooks: Items,
    functions: Items,
    attributes: Items,
    constants: Items,
}

/// Rows whose first cell is `` `name` ``; `indexed`: the second cell is a
/// number (the hook index), and the name is in the second or first cell.
fn code_rows(lines: &[&str], name_cell: usize, index_cell: Option<usize>) -> Items {
    let mut items = Items::new();
    for line in lines {
        let Some(cells) = cells(line) else { continue };
        let Some(name) = cells.get(name_cell).and_then(|c| code(c)) else {
            continue;
        };
        let index = match index_cell {
            Some(i) => match cells.get(i).and_then(|c| c.parse().ok()) {
                Some(n) => Some(n),
                None => continue,
            },
            None => None,
        };
        let previous = items.insert(name.to_string(), index);
        assert!(previous.is_none(), "{name} is listed twice");
    }
    items
}

/// Every `eCR_…`, `eBOT_…` and `eBF_…` name in `lines`.
fn constant_names(lines: &[&str]) -> Items {
    let mut items = Items::new();
    for line in lines {
        let bytes = line.as_bytes();
        for prefix in ["eCR_", "eBOT_", "eBF_"] {
            for (at, _) in line.match_indices(prefix) {
                let starts_word = at == 0 || !is_name_byte(bytes[at - 1]);
                let end = at
                    + prefix.len()
                    + bytes[at + prefix.len()..]
                        .iter()
                        .take_while(|&&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                        .count();
                if starts_word && end > at + prefix.len() {
                    items.insert(line[at..end].to_string(), None);
                }
            }
        }
    }
    items
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn abi_items(abi: &str) -> AbiItems {
    let items = AbiItems {
        hooks: code_rows(&section(abi, "### 4.1 "), 1, Some(0)),
        functions: code_rows(&section(abi, "### 7.2 "), 0, None),
        attributes: code_rows(&section(abi, "### 7.3 "), 0, None),
        constants: constant_names(&section(abi, "### 7.4 ")),
    };
    // Guards against a parser that silently finds nothing.
    assert_eq!(items.hooks.len(), 41, "docs/abi.md §4.1: {:?}", items.hooks);
    assert!(
        items.functions.len() >= 60,
        "docs/abi.md §7.2: {:?}",
        items.functions
    );
    assert!(
        items.attributes.len() >= 8,
        "docs/abi.md §7.3: {:?}",
        items.attributes
    );
    assert!(
        items.constants.len() >= 37,
        "docs/abi.md §7.4: {:?}",
        items.constants
    );
    items
}

/// `file.rs::test_name` references in `text`.
fn test_refs(text: &str) -> Vec<(String, String)> {
    let mut refs = Vec::new();
    for (at, _) in text.match_indices(".rs::") {
        let file_start = text[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let rest = &text[at + 5..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if file_start < at && name_len > 0 {
            refs.push((
                format!("{}.rs", &text[file_start..at]),
                rest[..name_len].to_string(),
            ));
        }
    }
    refs
}

/// The `#[test]` functions of a test file that are not `#[ignore]`d.
fn test_functions(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let (mut in_test, mut ignored) = (false, false);
    for line in source.lines().map(str::trim) {
        if line == "#[test]" {
            (in_test, ignored) = (true, false);
        } else if in_test && line.starts_with("#[") {
            ignored |= line.starts_with("#[ignore");
        } else if in_test {
            if let Some(rest) = line.strip_prefix("fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|&c| is_name_byte(c as u8))
                    .collect();
                if !ignored {
                    names.insert(name);
                }
            }
            in_test = false;
        }
    }
    names
}

/// Everything that differs between docs/abi.md's items and the document, and
/// every test the document names that `tests` (file -> test functions)
/// lacks. Empty when they agree.
fn drift(abi: &AbiItems, doc: &str, tests: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let kinds = [
        ("## Hooks", "hook", &abi.hooks, 0, Some(1)),
        ("## Functions", "function", &abi.functions, 0, None),
        (
            "## Module attributes",
            "attribute",
            &abi.attributes,
            0,
            None,
        ),
        ("## Constants", "constant", &abi.constants, 0, None),
    ];
    for (heading, kind, want, name_cell, index_cell) in kinds {
        let lines = section(doc, heading);
        let got = code_rows(&lines, name_cell, index_cell);
        for (name, index) in want {
            match got.get(name) {
                None => problems.push(format!(
                    "{kind} {name} (docs/abi.md) is missing from the doc"
                )),
                Some(i) if i != index => problems.push(format!(
                    "{kind} {name}: index {i:?} in the doc, {index:?} in docs/abi.md"
                )),
                Some(_) => {}
            }
        }
        for name in got.keys().filter(|n| !want.contains_key(*n)) {
            problems.push(format!(
                "{kind} {name} is in the doc but not in docs/abi.md"
            ));
        }
        for line in &lines {
            let Some(name) = cells(line).and_then(|c| c.get(name_cell).and_then(|c| code(c)))
            else {
                continue;
            };
            if test_refs(line).is_empty() {
                problems.push(format!("{kind} {name} names no test"));
            }
        }
    }
    for (file, name) in test_refs(doc) {
        match tests.get(&file) {
            None => problems.push(format!("{file}::{name}: no test file {file}")),
            Some(names) if !names.contains(&name) => {
                problems.push(format!("{file}::{name}: no such #[test] in {file}"))
            }
            Some(_) => {}
        }
    }
    problems
}

/// What may justify a departure from generation B's own behaviour
/// (docs/architecture.md "Semantics"): "docs" = B contradicts its own documentation.
const DEPARTURE_KINDS: [&str; 6] = [
    "crash",
    "hang",
    "leak",
    "memory corruption",
    "lost bytes",
    "docs",
];

/// What differs between the "Departures under B" table and the rows the
/// item tables mark `**departure**` in their B column, and the rows whose
/// kind is not one of [`DEPARTURE_KINDS`] or that name no test.
fn departure_drift(abi: &AbiItems, doc: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for line in section(doc, "## Departures under B") {
        let Some(cells) = cells(line) else { continue };
        let Some(item) = cells[0].split('`').nth(1) else {
            continue;
        };
        listed.insert(item.to_string());
        for kind in cells.get(1).map_or("", |c| c).split(',').map(str::trim) {
            if !DEPARTURE_KINDS.contains(&kind) {
                problems.push(format!(
                    "departure {item}: kind {kind:?} is no reason to depart"
                ));
            }
        }
        if test_refs(line).is_empty() {
            problems.push(format!("departure {item} names no test"));
        }
    }
    let covers = |item: &str, name: &str| match item.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => item == name,
    };
    let tables = [
        ("## Functions", &abi.functions, 2),
        ("## Module attributes", &abi.attributes, 2),
        ("## Constants", &abi.constants, 3),
    ];
    for (heading, names, b_cell) in tables {
        let mut marked = BTreeSet::new();
        for line in section(doc, heading) {
            let Some(cells) = cells(line) else { continue };
            let (Some(name), Some(b)) = (cells.first().and_then(|c| code(c)), cells.get(b_cell))
            else {
                continue;
            };
            if b.contains("**departure**") {
                marked.insert(name.to_string());
                if !listed.iter().any(|item| covers(item, name)) {
                    problems.push(format!(
                        "{name}: marked a departure, not in the departures table"
                    ));
                }
            }
        }
        for item in &listed {
            for name in names.keys().filter(|n| covers(item, n)) {
                if !marked.contains(name) {
                    problems.push(format!(
                        "{name}: in the departures table, not marked in its row"
                    ));
                }
            }
        }
    }
    problems
}

/// What may justify a departure from the original wrappers at the C ABI
/// ("C callers of the wrapper"): behaviour that needs the interpreter in
/// the hub's process, ids that would let a dead worker's answer pass for a
/// new script's, text decoded with the wrong encoding, or one of
/// [`DEPARTURE_KINDS`].
const C_CALLER_KINDS: [&str; 3] = ["out of process", "stale ids", "wrong text"];

/// Rows of the "C callers of the wrapper" tables that name no test, and
/// departures whose kind is not one of [`C_CALLER_KINDS`] or
/// [`DEPARTURE_KINDS`].
fn c_caller_drift(doc: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let rows = |heading: &str| -> Vec<Vec<String>> {
        section(doc, heading)
            .iter()
            .filter_map(|l| cells(l))
            .filter(|c| {
                !c[0].is_empty()
                    && !c[0].starts_with("---")
                    && c[0] != "Behaviour"
                    && c[0] != "Item"
            })
            .map(|c| c.iter().map(|x| x.to_string()).collect())
            .collect()
    };
    let behaviours = rows("## C callers of the wrapper");
    if behaviours.is_empty() {
        problems.push("no behaviour rows under \"C callers of the wrapper\"".into());
    }
    for row in &behaviours {
        if test_refs(&row.join("|")).is_empty() {
            problems.push(format!("C callers: {:?} names no test", row[0]));
        }
    }
    for row in rows("### Departures for C callers") {
        let kind = row.get(1).map_or("", String::as_str);
        if !C_CALLER_KINDS.contains(&kind) && !DEPARTURE_KINDS.contains(&kind) {
            problems.push(format!(
                "C callers departure {:?}: kind {kind:?} is no reason to depart",
                row[0]
            ));
        }
        if test_refs(&row.join("|")).is_empty() {
            problems.push(format!("C callers departure {:?} names no test", row[0]));
        }
    }
    problems
}

/// Every `tests/hubsim/tests/*.rs` file's test functions.
fn hubsim_tests() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    std::fs::read_dir(&dir)
        .expect("tests dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            (file, test_functions(&read(&p)))
        })
        .collect()
}

#[test]
fn compatibility_doc_lists_every_abi_item_with_existing_tests() {
    let abi = abi_items(&read(&abi_path()));
    let doc = read(&repo_root().join("docs/compatibility.md"));
    let problems = drift(&abi, &doc, &hubsim_tests());
    assert!(
        problems.is_empty(),
        "docs/compatibility.md and {} disagree:\n  {}",
        abi_path().display(),
        problems.join("\n  ")
    );
}

#[test]
fn departures_under_b_are_listed_with_their_reason_and_test() {
    let abi = abi_items(&read(&abi_path()));
    let doc = read(&repo_root().join("docs/compatibility.md"));
    let problems = departure_drift(&abi, &doc);
    assert!(
        problems.is_empty(),
        "docs/compatibility.md, \"Departures under B\":\n  {}",
        problems.join("\n  ")
    );
    // The check itself: an unmarked row, an unlisted mark, a bad kind.
    let broken = doc
        .replace("| `SQL` | leak |", "| `SQL` | taste |")
        .replace(
            "`(code)` -> bool: **departure**",
            "`(code)` -> bool, departure",
        )
        .replace(
            "| `Topic` | str or None | str, None for `''` |",
            "| `Topic` | str or None | **departure** |",
        );
    let problems = departure_drift(&abi, &broken);
    for want in [
        "departure SQL: kind \"taste\" is no reason to depart",
        "StopHub: in the departures table, not marked in its row",
        "Topic: marked a departure, not in the departures table",
    ] {
        assert!(
            problems.iter().any(|p| p == want),
            "{want:?} not reported:\n{problems:#?}"
        );
    }
}

#[test]
fn c_caller_behaviours_and_departures_name_their_tests_and_reasons() {
    let doc = read(&repo_root().join("docs/compatibility.md"));
    let problems = c_caller_drift(&doc);
    assert!(
        problems.is_empty(),
        "docs/compatibility.md, \"C callers of the wrapper\":\n  {}",
        problems.join("\n  ")
    );
    // The check itself: a bad kind, a row without a test.
    let broken = doc.replace("| wrong text |", "| taste |").replace(
        "| abi_callers.rs::a_callback_filled_in_after_w_begin_is_seen_under_b_only |",
        "| none |",
    );
    let problems = c_caller_drift(&broken);
    for want in [
        "kind \"taste\" is no reason to depart",
        "the callback table given to `w_Begin` (§3.2)\" names no test",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{want:?} not reported:\n{problems:#?}"
        );
    }
}

#[test]
fn drift_check_reports_missing_items_and_unknown_tests() {
    let abi = abi_items(&read(&abi_path()));
    let doc = read(&repo_root().join("docs/compatibility.md"));
    let tests = hubsim_tests();
    let on_timer = doc
        .lines()
        .find(|l| l.starts_with("| `OnTimer` |"))
        .expect("the OnTimer row");
    let broken = doc
        .replace(&format!("{on_timer}\n"), "")
        .replace("| `eCR_QUIT` | 4 |", "| `eCR_QUITS` | 4 |")
        .replace(
            "conformance_api.rs::constants_have_the_hubs_values",
            "conformance_api.rs::no_such_test",
        )
        .replace("| `OnNewConn` | 0 |", "| `OnNewConn` | 1 |");
    let problems = drift(&abi, &broken, &tests);
    for want in [
        "hook OnTimer (docs/abi.md) is missing from the doc",
        "constant eCR_QUIT (docs/abi.md) is missing from the doc",
        "constant eCR_QUITS is in the doc but not in docs/abi.md",
        "conformance_api.rs::no_such_test: no such #[test] in conformance_api.rs",
        "hook OnNewConn: index Some(1) in the doc, Some(0) in docs/abi.md",
    ] {
        assert!(
            problems.iter().any(|p| p == want),
            "{want:?} not reported:\n{problems:#?}"
        );
    }
    let ignored = test_functions("#[test]\n#[ignore]\nfn skipped() {}\n#[test]\nfn runs() {}\n");
    assert_eq!(ignored, BTreeSet::from(["runs".to_string()]));
}
