//! The shim exports what each generation's original wrapper exports for
//! its callers (docs/abi.md §1.2, §1.3; docs/compatibility.md "C callers of
//! the wrapper"): every function of the originals' public headers. The
//! helpers the originals export only because they are not `static` are
//! listed, with the reason they are not exported, in [`NOT_EXPORTED`].
//! With `VERLIHUB_SRC_A` / `VERLIHUB_SRC_B` set, each original is built and
//! its own `nm -D --defined-only` list is checked against these lists;
//! else the lists below (docs/abi.md §1.2, §1.3 and the headers) stand alone.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::originals::original;
use common::{shim_path, target_dir};

/// Generation A's `wrapper.h` functions (docs/abi.md §1.2, §3.10).
const A_API: &[&str] = &[
    "w_Begin",
    "w_End",
    "w_ReserveID",
    "w_Load",
    "w_Unload",
    "w_HasHook",
    "w_CallHook",
    "w_GetHook",
    "w_HookName",
    "w_CallName",
    "w_pack",
    "w_unpack",
    "w_LogLevel",
    "w_packprint",
];

/// What generation B's `wrapper.h` and `json_marshal.h` add (§1.3, §3.9,
/// §3.10).
const B_EXTRA: &[&str] = &[
    "w_CallFunction",
    "w_RegisterFunction",
    "w_UnregisterFunction",
    "w_free_args",
    "_ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE",
    "_ZN9nVerliHub13nPythonPlugin9parseJsonERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERNS0_9JsonValueE",
    "_ZN9nVerliHub13nPythonPlugin12toJsonStringB5cxx11ERKNS0_9JsonValueEb",
    "_ZN9nVerliHub13nPythonPlugin16jsonToStringListERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
    "_ZN9nVerliHub13nPythonPlugin15stringMapToJsonERKSt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEES7_St4lessIS7_ESaISt4pairIKS7_S7_EEE",
    "_ZN9nVerliHub13nPythonPlugin15jsonToStringMapERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERSt3mapIS6_S6_St4lessIS6_ESaISt4pairIS7_S6_EEE",
];

/// Exported by an original only because they are not `static`, declared in
/// none of its headers: the wrapper's internal state (`w_Python`,
/// `w_Scripts`, a C++ vector), helpers over its embedded interpreter and
/// CPython objects (`Call`, `BasicCall`, `GetID`, `_update_settings`, the
/// `PyObject` JSON converters), and string and varargs helpers of its own
/// `w_pack`. A departure (docs/compatibility.md): out of process they have
/// no meaning, and generic names (`Call`, `GetID`) would be visible to the
/// whole hub (the plugin loads the wrapper `RTLD_GLOBAL`, §1.1).
const NOT_EXPORTED: &[&str] = &[
    "w_Python",
    "w_Scripts",
    "_Z4CalliP7_objectPKcS2_z",
    "_Z9BasicCalliP7_objectPKc",
    "_Z5GetIDv",
    "_Z9GetFreeIDv",
    "_Z7GetNamePKc",
    "_Z16_update_settingsP9w_TScriptPKcS2_S2_S2_",
    "_Z8w_vapackPKcP13__va_list_tag",
    "_Z10w_vaunpackP7w_TargsPKcP13__va_list_tag",
    "_Z8w_SubStrPKcii",
    "_Z10w_IdentStrPKcS0_i",
    "_Z9w_FindStrPKcS0_i",
    "_ZN9nVerliHub13nPythonPlugin19JsonValueToPyObjectERKNS0_9JsonValueE",
    "_ZN9nVerliHub13nPythonPlugin19PyObjectToJsonValueEP7_objectRNS0_9JsonValueE",
    "_ZN9nVerliHub13nPythonPlugin20JsonStringToPyObjectEPKc",
    "_ZN9nVerliHub13nPythonPlugin20PyObjectToJsonStringEP7_object",
];

/// The shim's own extra exports (counters and the C half of `w_pack`).
const SHIM_EXTRA_PREFIX: &str = "vh_shim_";

/// Strong defined symbols of `lib` (`nm -D --defined-only`), without the
/// weak and unique ones (template instances of the C++ standard library).
fn exports(lib: &Path) -> BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("run nm");
    assert!(out.status.success(), "nm {}", lib.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
            let strong = kind.len() == 1 && kind.chars().all(|c| c.is_ascii_uppercase());
            (strong && !matches!(kind, "W" | "V" | "U")).then(|| name.to_string())
        })
        .collect()
}

fn api(g: char) -> BTreeSet<String> {
    let extra: &[&str] = if g == 'B' { B_EXTRA } else { &[] };
    A_API.iter().chain(extra).map(|s| s.to_string()).collect()
}

#[test]
fn the_shim_exports_each_generations_api_and_nothing_generic() {
    let shim = exports(&shim_path());
    for g in ['A', 'B'] {
        let want = api(g);
        let missing: Vec<_> = want.difference(&shim).collect();
        assert!(
            missing.is_empty(),
            "generation {g}: the shim lacks {missing:?}"
        );
        let Some(orig) = original(g) else { continue };
        let theirs = exports(&orig.wrapper);
        let unknown: Vec<_> = theirs
            .iter()
            .filter(|s| !want.contains(*s) && !NOT_EXPORTED.contains(&s.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "original {g} exports what this test does not know: {unknown:?}"
        );
        let absent: Vec<_> = want.difference(&theirs).collect();
        assert!(absent.is_empty(), "original {g} lacks {absent:?}");
    }
    let all = api('B');
    let extra: Vec<_> = shim
        .iter()
        .filter(|s| !all.contains(*s) && !s.starts_with(SHIM_EXTRA_PREFIX))
        .collect();
    assert!(extra.is_empty(), "the shim also exports {extra:?}");
}

/// Builds `cpp/json_probe.cpp` (against B's own header when B's sources
/// are there) and runs it against `lib`; its output.
fn probe(lib: &Path, header: Option<&Path>, env: &[(String, String)]) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("cpp/json_probe.cpp");
    let name = if header.is_some() {
        "json_probe_b"
    } else {
        "json_probe"
    };
    let exe = target_dir().join(name);
    let mut cc = Command::new("g++");
    cc.args(["-std=c++17", "-w", "-O1", "-o"])
        .arg(&exe)
        .arg(&src);
    if let Some(h) = header {
        cc.arg("-DHAVE_RAPIDJSON")
            .arg(format!("-DVH_B_HEADER=\"{}\"", h.display()));
    }
    let built = cc.arg("-ldl").output().expect("run g++");
    assert!(
        built.status.success(),
        "building json_probe: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(&exe)
        .arg(lib)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run json_probe");
    assert!(
        out.status.success(),
        "json_probe {}: {}",
        lib.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// B's JSON helpers through a C++ caller: the same text as B's own.
#[test]
fn b_json_helpers_answer_a_cpp_caller_as_bs_own() {
    let shim = probe(&shim_path(), None, &[]);
    for want in [
        "parse 1 {\"a\":{\"k\":\"v\"},\"b\":[1,2.5,\"x\u{e9}\\n\",true,null]}",
        "parse 1 [0.1,1e30,-0.0,100.0,1.5e-7,0.001,-42,9223372036854775807]",
        "    \"a\": {\n        \"k\": \"v\"\n    },",
        "parse 0 -",
        "tuple [null,\"t\"]",
        "list <a> <1> <{\"x\":2}> <null>",
        "list <18446744073709551615> <{\"u\":[18446744073709551615]}> <2.5>",
        "map {\"k\":\"v\",\"q\\\"\":\"\\n",
        "tomap 1 a=b n=3 o=[1]",
        "tomap 0 old=x",
    ] {
        assert!(shim.contains(want), "{want:?} not in:\n{shim}");
    }
    let Some(src) = std::env::var_os("VERLIHUB_SRC_B").filter(|v| !v.is_empty()) else {
        eprintln!("SKIPPED (original B): set VERLIHUB_SRC_B to compare with B's own helpers");
        return;
    };
    let Some(orig) = original('B') else { return };
    let header = Path::new(&src).join("plugins/python/json_marshal.h");
    let theirs = probe(&orig.wrapper, Some(&header), &orig.env);
    let ours = probe(&shim_path(), Some(&header), &[]);
    assert_eq!(ours, theirs, "the shim's JSON helpers and B's differ");
}
