//! The shim running one `vh.*` call, a `HubCall` that a script (or a
//! hostile worker) controls entirely, against a callback table whose
//! callbacks return arbitrary results, as a buggy hub might: NULL, a struct
//! without a format, any mix of `l s d D p L O` elements (docs/abi.md §6.3).
//!
//! Checked: the callback is called only with the argument format the
//! plugin unpacks and the caller's script id, its strings are valid C
//! strings; the result is copied out exactly (or refused with `ok =
//! false`), and released exactly once (AddressSanitizer and
//! LeakSanitizer see a double free, an invalid free or a leak).

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use arbitrary::{Result, Unstructured};
use prost::Message;
use vh_proto::v1::value::Kind;
use vh_proto::v1::{HubCall, Value};
use vh_python_wrapper::callbacks::{A_NAMES, MAX_CALLBACKS, Table, lookup};
use vh_python_wrapper::generation::Generation;
use vh_python_wrapper::targs::{self, Targs};

use crate::pack::{DOUBLE_SLOTS, INT_SLOTS, call_pack, pack_fn};

/// What the fake callback returns.
#[derive(Debug, Clone)]
enum Reply {
    Null,
    /// A struct whose format pointer is NULL.
    NoFormat,
    /// `w_pack(format, ...)` with these elements.
    Packed(Vec<Elem>),
}

/// One element of a reply.
#[derive(Debug, Clone)]
enum Elem {
    L(i64),
    D(f64),
    /// `s`: a malloc'ed string (the receiver frees it), or NULL.
    S(Option<Vec<u8>>),
    /// `D`: a malloc'ed JSON text, or NULL.
    Json(Option<Vec<u8>>),
    /// `p`: SQL's row-major `rows * cols` matrix of malloc'ed cells (NULL
    /// cells allowed), or NULL.
    Matrix(Option<Vec<Option<Vec<u8>>>>),
    /// `L` or `O`, always NULL: no callback of the table returns them.
    Opaque(u8),
}

impl Elem {
    fn format_char(&self) -> u8 {
        match self {
            Elem::L(_) => b'l',
            Elem::D(_) => b'd',
            Elem::S(_) => b's',
            Elem::Json(_) => b'D',
            Elem::Matrix(_) => b'p',
            Elem::Opaque(c) => *c,
        }
    }
}

/// What the fake callback saw.
#[derive(Default)]
struct Seen {
    calls: usize,
    ids: Vec<c_int>,
    formats: Vec<Vec<u8>>,
}

thread_local! {
    static REPLY: RefCell<Reply> = const { RefCell::new(Reply::Null) };
    static LITERAL_KEYS: RefCell<bool> = const { RefCell::new(false) };
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

/// GetGeoIP's first 8 strings under generation A are string literals the
/// receiver must not free (docs/abi.md §6.3, §12).
static GEO_KEY: &CStr = c"country_code";

fn malloc_bytes(bytes: &[u8]) -> *mut c_char {
    let mut v: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    v.push(0);
    // SAFETY: a fresh block of v.len() bytes, fully written.
    unsafe {
        let p = libc::malloc(v.len()).cast::<u8>();
        assert!(!p.is_null(), "malloc");
        ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
        p.cast()
    }
}

/// The callback in every filled slot of the table.
unsafe extern "C" fn fake_callback(id: c_int, args: *mut Targs) -> *mut Targs {
    // SAFETY: the shim passes a struct it built; view checks NULL.
    let view = unsafe { targs::view(args) };
    let (format, elems) = view.expect("the shim passed a struct with a format");
    for (&c, e) in format.iter().zip(elems) {
        if matches!(c, b's' | b'D') {
            // SAFETY: the union member of an 's' element; ASan checks the read.
            let s = unsafe { e.value.s };
            if !s.is_null() {
                let _ = unsafe { CStr::from_ptr(s) }.to_bytes().len();
            }
        }
    }
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        s.calls += 1;
        s.ids.push(id);
        s.formats.push(format.to_vec());
    });
    let literal_keys = LITERAL_KEYS.with(|l| *l.borrow());
    match REPLY.with(|r| r.borrow().clone()) {
        Reply::Null => ptr::null_mut(),
        // SAFETY: an 8-byte zeroed header: format NULL.
        Reply::NoFormat => unsafe { libc::calloc(1, size_of::<Targs>()).cast() },
        Reply::Packed(elems) => pack_reply(&elems, literal_keys),
    }
}

fn pack_reply(elems: &[Elem], literal_keys: bool) -> *mut Targs {
    let mut ints = [0u64; INT_SLOTS];
    let mut doubles = [0f64; DOUBLE_SLOTS];
    let (mut ni, mut nd) = (0, 0);
    let mut format = Vec::new();
    for (i, e) in elems.iter().enumerate() {
        let v: u64 = match e {
            Elem::L(l) => *l as u64,
            Elem::D(d) => {
                doubles[nd] = *d;
                nd += 1;
                format.push(b'd');
                continue;
            }
            // The shim never frees these (not even as 'D'): literals.
            Elem::S(_) | Elem::Json(_) if literal_keys && i < 8 => GEO_KEY.as_ptr() as u64,
            Elem::S(s) | Elem::Json(s) => s.as_deref().map_or(ptr::null_mut(), malloc_bytes) as u64,
            Elem::Matrix(None) | Elem::Opaque(_) => 0,
            Elem::Matrix(Some(cells)) => {
                // SAFETY: a fresh array of cells.len() pointers, fully written.
                unsafe {
                    let m = libc::malloc(cells.len().max(1) * size_of::<*mut c_char>())
                        .cast::<*mut c_char>();
                    assert!(!m.is_null(), "malloc");
                    for (k, c) in cells.iter().enumerate() {
                        m.add(k)
                            .write(c.as_deref().map_or(ptr::null_mut(), malloc_bytes));
                    }
                    m as u64
                }
            }
        };
        ints[ni] = v;
        ni += 1;
        format.push(e.format_char());
    }
    format.push(0);
    // SAFETY: at most 8 + 8 values (see `draw_reply`), each as promised.
    unsafe { call_pack(pack_fn(), format.as_ptr().cast(), &ints, &doubles) }
}

/// The names the shim knows, plus unknown ones.
fn draw_name(u: &mut Unstructured<'_>) -> Result<String> {
    let i = u.int_in_range(0..=A_NAMES.len() + 1)?;
    Ok(match i {
        i if i < A_NAMES.len() => A_NAMES[i].0.to_string(),
        i if i == A_NAMES.len() => "GetIPCity".to_string(),
        _ => u.arbitrary()?,
    })
}

fn draw_value(u: &mut Unstructured<'_>, c: Option<u8>) -> Result<Value> {
    let pick = match c {
        Some(b'l') => 0,
        Some(b'd') => 2,
        Some(b's') => {
            if u.ratio(1, 6)? {
                3
            } else {
                1
            }
        }
        _ => u.int_in_range(0..=5u8)?,
    };
    let kind = match pick {
        0 => Some(Kind::L(u.arbitrary()?)),
        1 => Some(Kind::S(u.arbitrary()?)),
        2 => Some(Kind::D(u.arbitrary()?)),
        3 => Some(Kind::NullS(true)),
        4 => Some(Kind::Json(u.arbitrary()?)),
        _ => None,
    };
    Ok(Value { kind })
}

fn draw_reply(u: &mut Unstructured<'_>, name: &str) -> Result<Reply> {
    match u.int_in_range(0..=9u8)? {
        0 => return Ok(Reply::Null),
        1 => return Ok(Reply::NoFormat),
        _ => {}
    }
    let n = u.int_in_range(0..=12usize)?;
    let (mut ints, mut doubles) = (0, 0);
    let mut elems: Vec<Elem> = Vec::new();
    for i in 0..n {
        let e = match u.int_in_range(0..=7u8)? {
            0 | 1 if name == "SQL" && (i == 1 || i == 2) => Elem::L(u.int_in_range(0..=3)?),
            0 | 1 => Elem::L(u.arbitrary()?),
            2 => Elem::D(u.arbitrary()?),
            3 | 4 => Elem::S((!u.ratio(1, 8)?).then(|| u.arbitrary()).transpose()?),
            5 => Elem::Json((!u.ratio(1, 8)?).then(|| u.arbitrary()).transpose()?),
            6 => {
                // SQL's matrix needs its dimensions at 1 and 2 (docs/abi.md §6.3).
                // The shim reads them from the values copied so far, so
                // element 0 must copy to exactly one value too ("lllp").
                let dims = match (elems.first(), elems.get(1), elems.get(2)) {
                    (Some(first), Some(Elem::L(r)), Some(Elem::L(c)))
                        if name == "SQL" && !matches!(first, Elem::Matrix(_) | Elem::Opaque(_)) =>
                    {
                        Some((*r as usize) * (*c as usize))
                    }
                    _ => None,
                };
                match dims {
                    Some(cells) if !u.ratio(1, 8)? => {
                        let mut m = Vec::with_capacity(cells);
                        for _ in 0..cells {
                            m.push((!u.ratio(1, 8)?).then(|| u.arbitrary()).transpose()?);
                        }
                        Elem::Matrix(Some(m))
                    }
                    _ => Elem::Matrix(None),
                }
            }
            _ => Elem::Opaque(if u.arbitrary()? { b'L' } else { b'O' }),
        };
        let counter = if matches!(e, Elem::D(_)) {
            &mut doubles
        } else {
            &mut ints
        };
        if *counter == INT_SLOTS.min(DOUBLE_SLOTS) {
            break;
        }
        *counter += 1;
        elems.push(e);
    }
    Ok(Reply::Packed(elems))
}

/// The values the shim must copy out of `reply`, or `None` if it must
/// refuse the result (`ok = false`).
fn expected(reply: &Reply, name: &str) -> Option<Vec<Value>> {
    let Reply::Packed(elems) = reply else {
        return None;
    };
    let v = |kind: Kind| Value { kind: Some(kind) };
    let cut = |s: &[u8]| s.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>();
    let mut out = Vec::new();
    let mut refused = false;
    for (i, e) in elems.iter().enumerate() {
        match e {
            Elem::L(l) => out.push(v(Kind::L(*l))),
            Elem::D(d) => out.push(v(Kind::D(*d))),
            Elem::S(_) | Elem::Json(_) if i < 8 && LITERAL_KEYS.with(|l| *l.borrow()) => {
                let key = GEO_KEY.to_bytes().to_vec();
                out.push(v(if matches!(e, Elem::S(_)) {
                    Kind::S(key)
                } else {
                    Kind::Json(key)
                }))
            }
            Elem::S(None) | Elem::Json(None) => out.push(v(Kind::NullS(true))),
            Elem::S(Some(s)) => out.push(v(Kind::S(cut(s)))),
            Elem::Json(Some(s)) => out.push(v(Kind::Json(cut(s)))),
            Elem::Matrix(m) if name == "SQL" => {
                for cell in m.iter().flatten() {
                    out.push(match cell {
                        Some(s) => v(Kind::S(cut(s))),
                        None => v(Kind::NullS(true)),
                    });
                }
            }
            Elem::Matrix(None) if name == "GetGeoIP" => {}
            Elem::Matrix(_) | Elem::Opaque(_) => refused = true,
        }
    }
    (!refused).then_some(out)
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (&x.kind, &y.kind) {
            (Some(Kind::D(p)), Some(Kind::D(q))) => p.to_bits() == q.to_bits(),
            (p, q) => p == q,
        })
}

/// One fuzzer input: a `HubCall` (drawn, or decoded from raw protobuf
/// bytes) run by `Table::call` against a table of generation A or B whose
/// filled slots return a drawn reply.
pub fn hub_call(data: &[u8]) {
    let _ = run(data);
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let generation = if u.arbitrary()? {
        Generation::A
    } else {
        Generation::B
    };
    // Mostly a full table; sometimes with holes (a plugin without a callback).
    let holes: u128 = if u.ratio(1, 4)? { u.arbitrary()? } else { 0 };
    let call = if u.ratio(1, 4)? {
        let raw: &[u8] = u.arbitrary()?;
        match HubCall::decode(raw) {
            Ok(c) => c,
            Err(_) => return Ok(()),
        }
    } else {
        let callback = draw_name(&mut u)?;
        let format = lookup(generation, &callback).map(|(_, f)| f.as_bytes());
        let exact = u.ratio(7, 8)?;
        let args = match format {
            Some(f) if exact => f
                .iter()
                .map(|&c| draw_value(&mut u, Some(c)))
                .collect::<Result<Vec<_>>>()?,
            _ => {
                let n = u.int_in_range(0..=8usize)?;
                (0..n)
                    .map(|_| draw_value(&mut u, None))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        HubCall {
            script_id: u.arbitrary()?,
            call_id: u.arbitrary()?,
            callback,
            args,
            pipelined: false,
        }
    };
    let reply = draw_reply(&mut u, &call.callback)?;
    let literal_keys = call.callback == "GetGeoIP" && generation == Generation::A;

    let mut raw = [ptr::null::<c_void>(); MAX_CALLBACKS];
    for (i, slot) in raw.iter_mut().enumerate() {
        if holes & (1u128 << i) == 0 {
            *slot = fake_callback as *const c_void;
        }
    }
    // SAFETY: every non-NULL entry is a callback of the right type, and
    // `raw` outlives `table` (B keeps the pointer).
    let table = unsafe { Table::new(raw.as_ptr(), generation) };
    REPLY.with(|r| *r.borrow_mut() = reply.clone());
    LITERAL_KEYS.with(|l| *l.borrow_mut() = literal_keys);
    SEEN.with(|s| *s.borrow_mut() = Seen::default());
    let result = table.call(&call);
    let seen = SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()));

    assert_eq!(
        (result.script_id, result.call_id),
        (call.script_id, call.call_id)
    );
    let entry = lookup(generation, &call.callback);
    let callable = entry.filter(|(index, format)| {
        let got: Vec<u8> = call
            .args
            .iter()
            .map(|v| match v.kind {
                Some(Kind::L(_)) => b'l',
                Some(Kind::D(_)) => b'd',
                Some(Kind::Json(_)) => b'D',
                _ => b's',
            })
            .collect();
        holes & (1u128 << index) == 0 && got == format.as_bytes()
    });
    match callable {
        None => {
            assert_eq!(seen.calls, 0, "a callback ran for a refused call");
            assert!(!result.ok, "a call that cannot run reported ok");
            assert!(!result.error.is_empty(), "a refused call without a reason");
        }
        Some((_, format)) => {
            assert_eq!(seen.calls, 1);
            assert_eq!(seen.ids, [call.script_id], "callback got another id");
            assert_eq!(seen.formats, [format.as_bytes().to_vec()]);
            match expected(&reply, &call.callback) {
                Some(values) => {
                    assert!(result.ok, "refused a good reply: {}", result.error);
                    assert!(same(&result.values, &values), "{result:?} vs {values:?}");
                }
                None => assert!(!result.ok, "accepted the reply {reply:?}"),
            }
        }
    }
    Ok(())
}
