//! The Python 2 `vh` module's argument checks and results (docs/abi.md
//! §7.1, §7.2 A column) for what hubsim cannot answer (it has no database
//! or GeoIP): a real Python 2.7 imports the runner's package and calls the
//! classic functions over a scripted channel that records each callback
//! and answers with the hub values python_pi's callbacks return.

mod common;

use std::process::Command;

use common::py2::python2;
use common::target_dir;

const SCRIPT: &str = r#"
import vh
from vh import _runtime

class Channel(object):
    def __init__(self):
        self.answers = {}
        self.calls = []
    def call_blocking(self, callback, args):
        self.calls.append((callback, args))
        return self.answers.get(callback, (False, [], "refused"))
    start_call = None

ch = Channel()
rt = _runtime.Runtime(ch, 3, "t.py")
rt._main_ident = -1  # every call takes the blocking path of the scripted channel
_runtime.install(rt)

def show(label, value):
    print("%s %r" % (label, value))

ch.answers["SQL"] = (True, [1, 2, 2, "alice", "1", "b\xf6b", None], "")
show("sql", vh.SQL("SELECT nick, class FROM reglist", 5))
show("sql-args", ch.calls[-1])
show("sql-default", (vh.SQL("SELECT 1"), ch.calls[-1]))
ch.answers["SQL"] = (False, [], "")
show("sql-failed", vh.SQL("x"))
ch.answers["GetGeoIP"] = (True, ["latitude", 47.5, "longitude", 8.5, "metro_code", 7,
                                 "area_code", 31, "city", "Z\xfcrich"], "")
show("geoip", sorted(vh.GetGeoIP("203.0.113.7").items()))
ch.answers["UserRestrictions"] = (True, [5], "")
show("restr", (sorted(vh.UserRestrictions("bob", pm="1").items()), ch.calls[-1]))
ch.answers["GetMyINFO"] = (True, ["bob", "d", "<t>", "1\x01", "", "42"], "")
show("myinfo", vh.GetMyINFO("bob"))
del ch.answers["GetMyINFO"]
show("myinfo-failed", vh.GetMyINFO("nobody"))
ch.answers["name_and_version"] = (True, ["t", "1.0"], "")
show("nav", (vh.name_and_version("t", "1.0"), ch.calls[-1]))
ch.answers["GetNickList"] = (True, ["$NickList "], "")
show("empty-list", vh.GetNickList())
ch.answers["GetUserClass"] = (True, ["not an int"], "")
show("malformed", vh.GetUserClass("bob"))
show("bool-failed", vh.mc("hi"))
ch.answers["mc"] = (True, [], "")
show("bool-ok", (vh.mc("hi"), ch.calls[-1]))
n = len(ch.calls)
show("unicode", (vh.mc(u"hi"), len(ch.calls) == n))
show("long", (vh.classmc("x", 1L, 2), len(ch.calls) == n))
show("float-for-int", (vh.classmc("x", 1.0, 2), len(ch.calls) == n))
for label, call in [("few", lambda: vh.mc()), ("many", lambda: vh.mc("a", "b", "c")),
                    ("kw", lambda: vh.mc("a", from_nick="b")), ("nul", lambda: vh.mc("a\0b"))]:
    try:
        call()
        show(label, "no error")
    except Exception as e:
        show(label, "%s: %s" % (type(e).__name__, e))
show("encode", (vh.encode("\x05$`|~"), vh.decode("&#5;&#36;&#96;&#124;&#126;&#38;")))
show("consts", (vh.eCR_NOREDIR, vh.eBOT_OK, vh.eBF_HOSTR1, vh.__version_string__))
"#;

#[test]
fn classic_functions_check_and_convert_as_generation_a() {
    let Some(py2) = python2() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(target_dir().join("vh-runner"))
        .arg("py2-package")
        .arg(dir.path())
        .output()
        .expect("vh-runner py2-package");
    assert!(out.status.success());
    let out = Command::new(&py2)
        .args(["-c", SCRIPT])
        .env("PYTHONPATH", dir.path())
        .output()
        .expect("python2.7");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = [
        r"sql (1L, [['alice', '1'], ['b\xf6b', 'NULL']])",
        r"sql-args ('SQL', ['SELECT nick, class FROM reglist', 5])",
        r"sql-default ((1L, [['alice', '1'], ['b\xf6b', 'NULL']]), ('SQL', ['SELECT 1', 100]))",
        "sql-failed (0, [])",
        r"geoip [('area_code', 31), ('city', 'Z\xfcrich'), ('latitude', 47.5), ('longitude', 8.5), ('metro_code', 7)]",
        "restr ([('chat', True), ('ctm', False), ('pm', False), ('search', True)], ('UserRestrictions', ['bob', None, '1', None, None]))",
        r"myinfo ('bob', 'd', '<t>', '1\x01', '', '42')",
        "myinfo-failed None",
        "nav (('t', '1.0'), ('name_and_version', ['t', '1.0']))",
        "empty-list None",
        "malformed None",
        "bool-failed False",
        "bool-ok (True, ('mc', ['hi', None]))",
        "unicode (False, True)",
        "long (False, True)",
        "float-for-int (False, True)",
        "few 'TypeError: too few arguments'",
        "many 'TypeError: too many arguments'",
        "kw 'TypeError: mc() takes no keyword arguments'",
        "nul 'ValueError: mc() argument 1 (text) contains a NUL byte, which the hub cannot take'",
        "encode ('&#5;&#36;&#96;&#124;&#126;', '\\x05$`|~&#38;')",
        "consts (20, 0, 512, '1.6.0.0')",
    ];
    let shown: Vec<&str> = text.lines().filter(|l| !l.starts_with("vh: ")).collect();
    assert_eq!(shown, expected, "{text}");
    // Each refused argument says why, as A logged it.
    assert!(
        text.contains("vh: mc() argument 1 (text) must be str or None, not unicode")
            && text.contains("vh: classmc() argument 2 (min_class) must be int, not long"),
        "{text}"
    );
}
