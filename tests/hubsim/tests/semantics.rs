//! A script gets the `vh` of its plugin generation (docs/architecture.md
//! "Semantics"): a script written for python_pi 1.7 (generation B),
//! unchanged, on a B hub gets B's answers (`None` for an empty string,
//! docs/abi.md §7.1; B's module, §7.3, §7.5), and runner.toml's
//! `semantics` gives a script the other generation's `vh` on either hub.
//!
//! The script is `scripts/b_style.py`: it treats `None` as "not set" and
//! reports the hub description and a user's fields as its REST endpoint
//! would, in the `(str, n)` result of `OnPublicBotMessage`.

mod common;

use common::{Runner, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, HookArg, Hub};

/// What `b_style.py` reports for `alice` (class 0, 10.0.0.1; hubsim has no
/// DNS or GeoIP, and the hub description is set to `''`).
const B_REPORT: &str = concat!(
    "[('description', 'DC++ Hub'), ('has_version', False), ('name', 'b_style'), ",
    "('ran_as_main', False), ('restricted', False), ('scripts_folder_on_path', True), ",
    "('user', {'nick': 'alice', ",
    "'ip': '10.0.0.1', 'host': 'unresolved', 'country_code': '??', 'class': 0})]"
);

/// The same script with generation A's `vh`: `''` is "set", the module
/// runs as `__main__`, `UserRestrictions` gives a dict.
const A_REPORT: &str = concat!(
    "[('description', ''), ('has_version', True), ('name', 'b_style.py'), ",
    "('ran_as_main', True), ('restricted', {'chat': False, 'pm': False, 'search': False, ",
    "'ctm': False}), ('scripts_folder_on_path', False), ",
    "('user', {'nick': 'alice', 'ip': '10.0.0.1', 'host': '', ",
    "'country_code': '', 'class': 0})]"
);

/// Loads `b_style.py` on a hub of `generation` served by `runner`, and
/// returns its report on `alice`.
fn report(runner: &Runner, generation: Generation) -> String {
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
    hub.set_config(b"config", b"hub_desc", b"");
    let id = hub.load(&script("b_style.py"));
    assert!(
        id >= 0,
        "b_style.py under {generation:?}:\n{}",
        runner.log()
    );
    assert!(hub.login(b"alice", 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
    hub.clear_records();
    let args = [
        HookArg::Str(Some(b"b_style")),
        HookArg::Str(Some(b"alice")),
        HookArg::Long(0),
        HookArg::Long(0),
    ];
    hub.call_hook(14, "ssll", &args).expect("call_hook");
    let records = hub.records();
    let prefix = format!("HOOK OnPublicBotMessage\t{id}\tsl:").into_bytes();
    let line = records
        .iter()
        .find(|r| r.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{generation:?}: no report:\n{}", show(&records)));
    let report = line[prefix.len()..]
        .strip_suffix(b":1")
        .expect("the report ends with its n");
    String::from_utf8(report.to_vec()).expect("ascii() is ASCII")
}

#[test]
fn a_script_written_for_b_gets_bs_answers_on_a_b_hub() {
    let _serial = serial();
    let runner = Runner::start();
    assert_eq!(report(&runner, Generation::B), B_REPORT);
    // The same script on an A hub gets A's vh: what B's scripts broke on.
    assert_eq!(report(&runner, Generation::A), A_REPORT);
}

#[test]
fn runner_toml_gives_a_script_the_other_generations_vh() {
    let _serial = serial();
    let config = "[[script]]\nmatch = \"b_style.py\"\nsemantics = \"B\"\n";
    let runner = Runner::start_with(config);
    assert_eq!(report(&runner, Generation::A), B_REPORT);
    assert_eq!(report(&runner, Generation::B), B_REPORT);
    let config = "[defaults]\nsemantics = \"A\"\n";
    let runner = Runner::start_with(config);
    assert_eq!(report(&runner, Generation::B), A_REPORT);
}
