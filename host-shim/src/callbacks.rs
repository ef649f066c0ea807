//! The hub's callback table (docs/abi.md §6): names, indices per
//! generation, argument formats, and calling one callback for a script's
//! `vh.*` call with the ownership rules of §2.7 / §6.3.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use vh_proto::v1::{CallResult, HubCall, Value, value::Kind};

pub use crate::callback_names::{A_NAMES, MAX_CALLBACKS};
use crate::generation::Generation;
use crate::targs::{self, Arg, Gathered, Targs};

/// A callback entry: `w_Targs *(*)(int id, w_Targs *args)` (docs/abi.md §2.1).
pub type Callback = unsafe extern "C" fn(c_int, *mut Targs) -> *mut Targs;

/// Index of generation A's `GetIPASN`, where B inserted `GetIPCity`.
const B_INSERT_AT: usize = 22;

/// The table index and argument format of `name` in `generation`
/// ([`Table`]'s calls look the name up with the last one first).
pub fn lookup(generation: Generation, name: &str) -> Option<(usize, &'static str)> {
    locate(generation, name, || a_position(name))
}

/// [`lookup`], with `a` giving `name`'s position in [`A_NAMES`].
fn locate(
    generation: Generation,
    name: &str,
    a: impl FnOnce() -> Option<usize>,
) -> Option<(usize, &'static str)> {
    if generation == Generation::B && name == "GetIPCity" {
        return Some((B_INSERT_AT, "ss"));
    }
    let a = a()?;
    let format = A_NAMES[a].1;
    let index = match generation {
        Generation::B if a >= B_INSERT_AT => a + 1,
        _ => a,
    };
    Some((index, format))
}

/// Where `name` is in [`A_NAMES`].
fn a_position(name: &str) -> Option<usize> {
    A_NAMES.iter().position(|(n, _)| *n == name)
}

// Every callback's arguments fit in a [`Gathered`].
const _: () = {
    let mut i = 0;
    while i < A_NAMES.len() {
        assert!(A_NAMES[i].1.len() <= Gathered::MOST);
        i += 1;
    }
};

/// The plugin's table as each generation's wrapper keeps it (docs/abi.md
/// §3.2): generation A's copied the 100 entries at `w_Begin`; B's kept the
/// caller's pointer and so sees entries the caller fills in later.
pub struct Table {
    entries: [Option<Callback>; MAX_CALLBACKS],
    /// The caller's table (generation B), read at every call; 0 under A.
    live: usize,
    generation: Generation,
    /// The position in [`A_NAMES`] of the callback called last, compared
    /// first at the next call: a script's calls are mostly the same few
    /// sends, and the scan over the names reads some 25 cache lines, which
    /// a hook that finds the hub's caches cold pays for
    /// (docs/performance.md "The hub thread's side of a pipelined call").
    last: AtomicUsize,
}

impl Table {
    /// The table at `raw` for `generation`: its 100 entries copied (A), or
    /// the pointer kept (B).
    ///
    /// # Safety
    /// `raw` points to 100 entries, each NULL or a callback of the
    /// [`Callback`] type; under B they stay readable and so typed for as
    /// long as the shim runs (python_pi never frees its table, §3.2).
    pub unsafe fn new(raw: *const *const c_void, generation: Generation) -> Table {
        let mut entries = [None; MAX_CALLBACKS];
        for (i, e) in entries.iter_mut().enumerate() {
            // SAFETY: per the contract.
            *e = unsafe { as_callback(*raw.add(i)) };
        }
        Table {
            entries,
            live: if generation == Generation::B {
                raw as usize
            } else {
                0
            },
            generation,
            last: AtomicUsize::new(usize::MAX),
        }
    }

    /// Where `name` is in [`A_NAMES`], the callback called last compared
    /// first (see `last`).
    fn a_position(&self, name: &str) -> Option<usize> {
        let last = self.last.load(Ordering::Relaxed);
        if A_NAMES.get(last).is_some_and(|(n, _)| *n == name) {
            return Some(last);
        }
        let a = a_position(name)?;
        self.last.store(a, Ordering::Relaxed);
        Some(a)
    }

    /// Entry `index` as the generation's wrapper would see it now.
    fn entry(&self, index: usize) -> Option<Callback> {
        if self.live == 0 || index >= MAX_CALLBACKS {
            return self.entries.get(index).copied().flatten();
        }
        // SAFETY: `live` is the caller's table of 100 entries (see `new`);
        // read afresh, as the caller may have filled it in since.
        unsafe {
            as_callback(
                (self.live as *const *const c_void)
                    .add(index)
                    .read_volatile(),
            )
        }
    }

    /// Runs one `vh.*` call on the hub thread: builds the argument struct,
    /// calls the callback with the script's real id (docs/abi.md §6.2), copies the
    /// result out and releases it as §6.3 says.
    ///
    /// Must only run on the hub thread while the hub is inside a shim
    /// function (docs/architecture.md "host-shim").
    pub fn call(&self, call: &HubCall) -> CallResult {
        let fail = |error: String| CallResult {
            script_id: call.script_id,
            call_id: call.call_id,
            ok: false,
            values: Vec::new(),
            error,
        };
        let name = call.callback.as_str();
        let Some((index, format)) = locate(self.generation, name, || self.a_position(name)) else {
            return fail(format!("no hub callback named {:?}", call.callback));
        };
        let Some(cb) = self.entry(index) else {
            return fail(format!(
                "the hub has no {} callback (python_pi {})",
                call.callback,
                self.generation.as_str()
            ));
        };
        let gathered = Gathered::new(&call.args).filter(|g| g.format() == format.as_bytes());
        let Some(gathered) = gathered else {
            let got: String = call
                .args
                .iter()
                .map(|v| Arg::from_wire(v).format_char() as char)
                .collect();
            return fail(format!(
                "{} takes arguments {format:?}, got {got:?}",
                call.callback
            ));
        };
        let packed = targs::build(gathered.args());
        if packed.is_null() {
            return fail("out of memory".into());
        }
        // SAFETY: a callback from the plugin's table, called on the hub
        // thread with a struct it may read and must not free (§2.7).
        let res = unsafe { cb(call.script_id, packed) };
        // SAFETY: `packed` came from calloc in targs::build.
        unsafe { libc::free(packed.cast()) };
        if res.is_null() {
            return fail(String::new());
        }
        // SAFETY: a result struct built by the plugin through our w_pack.
        match unsafe { take_result(&call.callback, self.generation, res) } {
            Ok(values) => CallResult {
                script_id: call.script_id,
                call_id: call.call_id,
                ok: true,
                values,
                error: String::new(),
            },
            Err(e) => fail(e),
        }
    }
}

/// A table entry as a callback; `None` for NULL.
///
/// # Safety
/// `p` is NULL or a function of the [`Callback`] type.
unsafe fn as_callback(p: *const c_void) -> Option<Callback> {
    // SAFETY: per the contract, a non-NULL entry is a Callback.
    (!p.is_null()).then(|| unsafe { std::mem::transmute::<*const c_void, Callback>(p) })
}

fn s_value(bytes: &[u8]) -> Value {
    Value {
        kind: Some(Kind::S(bytes.to_vec())),
    }
}

/// Copies a callback result into wire values and releases it: the struct,
/// every owned string (all of them, except A's GetGeoIP key literals), the
/// SQL matrix and the GeoIP vector (docs/abi.md §2.7, §6.3, §12).
///
/// # Safety
/// `res` is a live result struct from the plugin.
unsafe fn take_result(
    name: &str,
    generation: Generation,
    res: *mut Targs,
) -> Result<Vec<Value>, String> {
    // SAFETY: per the contract.
    let Some((format, elems)) = (unsafe { targs::view(res) }) else {
        unsafe { libc::free(res.cast()) };
        return Err("callback result without a format".into());
    };
    // `format` and `elems` lie in `res`, freed last.
    let mut values = Vec::with_capacity(format.len());
    let mut error = None;
    for (i, (&c, e)) in format.iter().zip(elems).enumerate() {
        // SAFETY: union members read as the format character says; strings
        // are malloc'ed by the plugin and ours to free (§6.3).
        unsafe {
            match c {
                b'l' | b'd' | b's' | b'D' => {
                    let v = targs::element_to_wire(c, e).expect("l, d, s and D always convert");
                    values.push(v);
                    let literal_key = name == "GetGeoIP" && generation == Generation::A && i < 8;
                    if matches!(c, b's' | b'D') && !e.value.s.is_null() && !literal_key {
                        libc::free(e.value.s.cast());
                    }
                }
                b'p' if name == "SQL" => {
                    let mut cells = Vec::new();
                    take_sql_matrix(&values, e.value.p, &mut cells);
                    values.extend(cells);
                }
                b'p' if name == "GetGeoIP" => {
                    let mut sink: Vec<Vec<u8>> = Vec::new();
                    vh_shim_geo_take(
                        e.value.p,
                        push_string,
                        (&mut sink as *mut Vec<Vec<u8>>).cast(),
                    );
                    values.extend(sink.iter().map(|s| s_value(s)));
                }
                other => {
                    error = Some(format!(
                        "{name} returned an element of type '{}'",
                        other as char
                    ));
                }
            }
        }
    }
    // SAFETY: the block itself; strings were handled above.
    unsafe { libc::free(res.cast()) };
    error.map_or(Ok(values), Err)
}

/// Appends the `rows * cols` cells of SQL's `char**` matrix (row-major,
/// each cell and the array owned by us; docs/abi.md §6.3 SQL) and frees them.
///
/// # Safety
/// `matrix` is NULL or holds `rows * cols` malloc'ed strings.
unsafe fn take_sql_matrix(head: &[Value], matrix: *mut c_void, out: &mut Vec<Value>) {
    let dim = |i: usize| match head.get(i).and_then(|v| v.kind.as_ref()) {
        Some(Kind::L(n)) => usize::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    if matrix.is_null() {
        return;
    }
    let cells = matrix.cast::<*mut c_char>();
    for i in 0..dim(1) * dim(2) {
        // SAFETY: per the contract.
        unsafe {
            let cell = *cells.add(i);
            if cell.is_null() {
                out.push(Value {
                    kind: Some(Kind::NullS(true)),
                });
            } else {
                out.push(s_value(CStr::from_ptr(cell).to_bytes()));
                libc::free(cell.cast());
            }
        }
    }
    // SAFETY: the array itself is owned by us.
    unsafe { libc::free(matrix) };
}

unsafe extern "C" {
    fn vh_shim_geo_take(
        vec: *mut c_void,
        sink: unsafe extern "C" fn(*mut c_void, *const c_char, usize),
        ctx: *mut c_void,
    );
}

/// Sink for `vh_shim_geo_take`: appends one string to a `Vec<Vec<u8>>`.
unsafe extern "C" fn push_string(ctx: *mut c_void, bytes: *const c_char, len: usize) {
    // SAFETY: ctx is the &mut Vec passed by take_result; bytes has len bytes.
    unsafe {
        let sink = &mut *ctx.cast::<Vec<Vec<u8>>>();
        sink.push(std::slice::from_raw_parts(bytes.cast::<u8>(), len).to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_shift_from_22_in_generation_b() {
        assert_eq!(lookup(Generation::A, "GetIPASN"), Some((22, "ss")));
        assert_eq!(lookup(Generation::B, "GetIPASN"), Some((23, "ss")));
        assert_eq!(lookup(Generation::B, "GetIPCity"), Some((22, "ss")));
        assert_eq!(lookup(Generation::A, "GetIPCity"), None);
        assert_eq!(lookup(Generation::A, "SQL").unwrap().0, 41);
        assert_eq!(lookup(Generation::B, "SQL").unwrap().0, 42);
        assert_eq!(lookup(Generation::A, "StopHub").unwrap().0, 55);
        assert_eq!(lookup(Generation::B, "StopHub").unwrap().0, 56);
        assert_eq!(lookup(Generation::A, "mc"), Some((50, "ss")));
    }
}
