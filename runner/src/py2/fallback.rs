//! Which Python a failed first load points to: the traceback's last line
//! tells Python 3 code that failed under Python 2.7 from Python 2 code that
//! failed under Python 3 (docs/admin.md "Python 2 scripts"), and which error
//! the hub is told when both failed.

/// Modules of Python 2's standard library that Python 3 no longer has
/// under that name: an `ImportError` of one of them at load marks a
/// Python 2 script.
pub const PYTHON2_ONLY_MODULES: &[&str] = &[
    "urllib2",
    "urlparse",
    "ConfigParser",
    "Queue",
    "cPickle",
    "StringIO",
    "cStringIO",
    "HTMLParser",
    "httplib",
    "Cookie",
    "cookielib",
    "BaseHTTPServer",
    "SimpleHTTPServer",
    "CGIHTTPServer",
    "SocketServer",
    "xmlrpclib",
    "SimpleXMLRPCServer",
    "htmlentitydefs",
    "commands",
    "thread",
    "dummy_thread",
    "anydbm",
    "dbhash",
    "whichdb",
    "robotparser",
    "repr",
    "copy_reg",
    "sets",
    "md5",
    "sha",
    "Tkinter",
    "tkMessageBox",
    "UserDict",
    "UserList",
    "UserString",
    "__builtin__",
    "exceptions",
    "string_escape",
    "popen2",
    "mimetools",
    "rfc822",
];

/// Why a first load under Python 2.7 failed as Python 3 code fails there,
/// or `None`: the traceback's last line is a `SyntaxError`/`TabError`
/// (Python 3 syntax), or an `ImportError` of a module (one Python 2.7 does
/// not have, a Python 3 standard module or a package installed only for
/// the Python 3). Such a script is loaded again under Python 3.
pub fn fails_as_python3(error: &str) -> Option<String> {
    let last = error.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let python3_code = last.starts_with("SyntaxError")
        || last.starts_with("TabError")
        || (last.starts_with("ImportError") && last.contains("No module named"));
    python3_code.then(|| last.to_string())
}

/// Why a load that failed under Python 3 looks like Python 2 code, from
/// the traceback's last line: a `SyntaxError` (or `TabError`, its kin), or
/// an `ImportError` of a module only Python 2's standard library has.
/// `None` if it does not.
pub fn fails_as_python2(error: &str) -> Option<String> {
    let last = error.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    if last.starts_with("SyntaxError") || last.starts_with("TabError") {
        return Some(last.to_string());
    }
    if last.starts_with("ModuleNotFoundError") || last.starts_with("ImportError") {
        let module = last
            .split("No module named ")
            .nth(1)?
            .trim_matches(|c| c == '\'' || c == '"');
        let top = module.split('.').next().unwrap_or(module);
        if PYTHON2_ONLY_MODULES.contains(&top) {
            return Some(last.to_string());
        }
    }
    None
}

/// What the hub is told when a script failed to load under both
/// interpreters (`(name, traceback)` each, in the order tried): the
/// traceback of the one whose language the script is written in, which is
/// the first unless the first could not even compile it (a `SyntaxError`
/// or `TabError`), then one line with the other's last line. So a Python 2
/// script on an A hub whose module is missing shows that `ImportError`, as
/// python_pi 1.6 would, not the `print` statement Python 3 then choked on.
pub fn both_failed(first: (&str, &str), second: (&str, &str)) -> String {
    let last = |tb: &str| {
        tb.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_string()
    };
    let not_compiled = |tb: &str| {
        let l = last(tb);
        l.starts_with("SyntaxError") || l.starts_with("TabError")
    };
    let (shown, other) = if not_compiled(first.1) {
        (second, first)
    } else {
        (first, second)
    };
    format!(
        "{}\n(vh-runner: under {} it failed too: {})",
        shown.1.trim_end(),
        other.0,
        last(other.1)
    )
}
