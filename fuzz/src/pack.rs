//! `w_pack` / `w_unpack` and the `w_Targs` helpers through the C ABI
//! (docs/abi.md §2): arbitrary formats (valid or not) and element
//! data in, and every result checked against docs/abi.md, not just "did not
//! crash".
//!
//! Calling a C variadic function with a format chosen at run time needs
//! one fixed call shape: [`call_pack`] always passes 8 integer-class values
//! (`long` and every pointer) and then 8 `double`s. On x86-64 SysV and
//! AArch64 Linux, integer-class and floating-point varargs are fetched from
//! separate register files and then the stack in call order, so `va_arg`
//! with any format of at most 8 integer-class and 8 `d` characters reads
//! exactly the values meant for it (formally C says `va_arg(ap, char *)`
//! must meet a pointer argument; the ABI passes both in the same 8-byte
//! slot). Formats are cut to fit those limits.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use arbitrary::{Result, Unstructured};
use vh_proto::v1::value::Kind;
use vh_python_wrapper::targs::{self, Arg, ElemValue, Element, Targs};
use vh_python_wrapper::{ffi, trampoline};

/// `w_Targs *w_pack(const char *format, ...)`.
pub type Pack = unsafe extern "C" fn(*const c_char, ...) -> *mut Targs;
/// `int w_unpack(w_Targs *a, const char *format, ...)`.
pub type Unpack = unsafe extern "C" fn(*mut Targs, *const c_char, ...) -> c_int;

/// Integer-class / `double` varargs passed to every `w_pack` call.
pub const INT_SLOTS: usize = 8;
/// See [`INT_SLOTS`].
pub const DOUBLE_SLOTS: usize = 8;
/// Out pointers passed to every `w_unpack` call (= longest unpack format).
pub const OUT_SLOTS: usize = 16;
/// What `w_unpack` must leave in an out slot it does not write.
pub const SENTINEL: u64 = 0xa5a5_5a5a_a5a5_5a5a;

/// Characters `w_pack` accepts (docs/abi.md §2.2).
pub const PACK_CHARS: &[u8] = b"lsdpLDO";

/// The shim's exported `w_pack`, as the variadic function it is.
pub fn pack_fn() -> Pack {
    // SAFETY: the trampoline jumps to vh_c_w_pack, which has exactly this
    // signature; only the Rust declaration of the naked stub differs.
    unsafe {
        std::mem::transmute::<unsafe extern "C" fn(), Pack>(
            trampoline::w_pack as unsafe extern "C" fn(),
        )
    }
}

/// The shim's exported `w_unpack`, as the variadic function it is.
pub fn unpack_fn() -> Unpack {
    // SAFETY: as `pack_fn`, for vh_c_w_unpack.
    unsafe {
        std::mem::transmute::<unsafe extern "C" fn(), Unpack>(
            trampoline::w_unpack as unsafe extern "C" fn(),
        )
    }
}

/// Calls `pack(format, ints[0..8], doubles[0..8])`.
///
/// # Safety
/// `format` is a C string whose valid characters need at most 8
/// integer-class and 8 `d` values; pointer slots hold what the format
/// character promises (`s`/`D` a C string or NULL, `L` a NULL-terminated
/// list or NULL).
pub unsafe fn call_pack(
    pack: Pack,
    format: *const c_char,
    ints: &[u64; INT_SLOTS],
    doubles: &[f64; DOUBLE_SLOTS],
) -> *mut Targs {
    let [i0, i1, i2, i3, i4, i5, i6, i7] = *ints;
    let [d0, d1, d2, d3, d4, d5, d6, d7] = *doubles;
    // SAFETY: per the contract.
    unsafe {
        pack(
            format, i0, i1, i2, i3, i4, i5, i6, i7, d0, d1, d2, d3, d4, d5, d6, d7,
        )
    }
}

/// Calls `unpack(a, format, &out[0], .. &out[15])`.
///
/// # Safety
/// `a` is NULL or a live struct; `format` a C string of at most 16
/// characters.
pub unsafe fn call_unpack(
    unpack: Unpack,
    a: *mut Targs,
    format: *const c_char,
    out: &mut [u64; OUT_SLOTS],
) -> c_int {
    let o = out.as_mut_ptr();
    // SAFETY: 16 distinct pointers into `out`; the rest per the contract.
    unsafe {
        unpack(
            a,
            format,
            o,
            o.add(1),
            o.add(2),
            o.add(3),
            o.add(4),
            o.add(5),
            o.add(6),
            o.add(7),
            o.add(8),
            o.add(9),
            o.add(10),
            o.add(11),
            o.add(12),
            o.add(13),
            o.add(14),
            o.add(15),
        )
    }
}

/// How many values `w_unpack(stored struct, want)` must write, per docs/abi.md
/// §2.4: A's exact match, or B's one `|` splitting required from optional
/// characters (the stored format is a prefix of at least the required
/// ones). `None`: it must return 0 and write nothing. Written from the
/// spec, independently of the shim's `unpack_plan`.
pub fn spec_unpack(stored: &[u8], want: &[u8]) -> Option<usize> {
    let bars = want.iter().filter(|&&c| c == b'|').count();
    let chars: Vec<u8> = want.iter().copied().filter(|&c| c != b'|').collect();
    match bars {
        0 => (stored == chars.as_slice()).then_some(chars.len()),
        1 => {
            let required = want.iter().position(|&c| c == b'|').unwrap_or(0);
            let ok = stored.len() >= required
                && stored.len() <= chars.len()
                && chars.starts_with(stored);
            ok.then_some(chars.len())
        }
        _ => None,
    }
}

/// The 8 bytes of an element's value.
pub fn bits(e: &Element) -> u64 {
    // SAFETY: every member of the union is 8 bytes; reading them as a long
    // only copies bits.
    unsafe { e.value.l as u64 }
}

fn c_string(bytes: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    v.push(0);
    v
}

/// A `malloc`ed copy of `bytes` without NULs, NUL-terminated.
fn malloc_str(bytes: &[u8]) -> *mut c_char {
    let s = c_string(bytes);
    // SAFETY: a fresh block of s.len() bytes, fully written.
    unsafe {
        let p = libc::malloc(s.len()).cast::<u8>();
        assert!(!p.is_null(), "malloc");
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        p.cast()
    }
}

/// A `malloc`ed NULL-terminated list of `malloc`ed strings.
fn malloc_list(items: &[&[u8]]) -> *mut *mut c_char {
    // SAFETY: a fresh array of items.len() + 1 pointers, fully written.
    unsafe {
        let list = libc::malloc((items.len() + 1) * size_of::<*mut c_char>()).cast::<*mut c_char>();
        assert!(!list.is_null(), "malloc");
        for (i, s) in items.iter().enumerate() {
            list.add(i).write(malloc_str(s));
        }
        list.add(items.len()).write(ptr::null_mut());
        list
    }
}

/// Frees what [`malloc_str`] / [`malloc_list`] made, for a format character.
///
/// # Safety
/// `p` is NULL or came from the matching allocator above, not yet freed.
unsafe fn free_slot(c: u8, p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: per the contract.
    unsafe {
        if c == b'L' {
            let list = p.cast::<*mut c_char>();
            let mut i = 0;
            while !(*list.add(i)).is_null() {
                libc::free((*list.add(i)).cast());
                i += 1;
            }
        }
        libc::free(p);
    }
}

/// One fuzzer input: `w_pack` with an arbitrary format and elements, then
/// `w_packprint`, `w_unpack` with an arbitrary format, and release with
/// `free` (generation A) or `w_free_args` (B); or the same checks on a
/// struct from `targs::build`; or `w_free_args` on a struct laid out the
/// way a hub builds one.
pub fn targs(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=3u8) {
        Ok(0) => pack_case(&mut u),
        Ok(1) => build_case(&mut u),
        Ok(2) => hub_struct_case(&mut u),
        _ => null_case(),
    };
}

/// A format: arbitrary bytes, or (more often) only valid characters; cut
/// to the varargs limits; never NUL.
fn arbitrary_format(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let valid_only = u.ratio(3, 4)?;
    let raw: Vec<u8> = u.arbitrary()?;
    let mut format = Vec::new();
    let (mut ints, mut doubles) = (0, 0);
    for b in raw.into_iter().take(32) {
        let c = if valid_only {
            PACK_CHARS[b as usize % PACK_CHARS.len()]
        } else if b == 0 {
            continue;
        } else {
            b
        };
        if PACK_CHARS.contains(&c) {
            let (n, limit) = if c == b'd' {
                (&mut doubles, DOUBLE_SLOTS)
            } else {
                (&mut ints, INT_SLOTS)
            };
            if *n == limit {
                break;
            }
            *n += 1;
        }
        format.push(c);
    }
    Ok(format)
}

/// An unpack format: the stored one, a variant with `|`, or arbitrary
/// bytes; at most [`OUT_SLOTS`] characters, never NUL.
fn unpack_format(u: &mut Unstructured<'_>, stored: &[u8]) -> Result<Vec<u8>> {
    let mut want: Vec<u8> = match u.int_in_range(0..=3u8)? {
        0 => stored.to_vec(),
        1 => {
            let mut w = stored.to_vec();
            let at = u.int_in_range(0..=w.len())?;
            w.insert(at, b'|');
            let extra: Vec<u8> = u.arbitrary()?;
            w.extend(
                extra
                    .iter()
                    .map(|b| PACK_CHARS[*b as usize % PACK_CHARS.len()]),
            );
            w
        }
        2 => {
            let raw: Vec<u8> = u.arbitrary()?;
            raw.iter().map(|b| b"lsdpLDO|"[*b as usize % 8]).collect()
        }
        _ => u.arbitrary::<Vec<u8>>()?,
    };
    want.retain(|&b| b != 0);
    want.truncate(OUT_SLOTS);
    Ok(want)
}

/// An element's value drawn from the input before anything is allocated
/// (so that running out of input never leaks).
enum Draw<'a> {
    /// `l`, `d` bits, or an opaque `p` / `O` pointer (never dereferenced).
    Bits(u64),
    /// `s`, `D`: a string or NULL.
    Str(Option<&'a [u8]>),
    /// `L`: a list or NULL.
    List(Option<Vec<&'a [u8]>>),
}

impl<'a> Draw<'a> {
    fn new(u: &mut Unstructured<'a>, c: u8) -> Result<Draw<'a>> {
        Ok(match c {
            b'd' => Draw::Bits(u.arbitrary::<f64>()?.to_bits()),
            b's' | b'D' => Draw::Str(if u.ratio(1, 8)? {
                None
            } else {
                Some(u.arbitrary()?)
            }),
            b'L' => {
                let mut items: Vec<&[u8]> = u.arbitrary()?;
                items.truncate(4);
                Draw::List((!u.ratio(1, 8)?).then_some(items))
            }
            _ => Draw::Bits(u.arbitrary()?),
        })
    }

    /// The value: bits as drawn, or a fresh malloc'ed string / list.
    fn make(&self) -> u64 {
        match self {
            Draw::Bits(b) => *b,
            Draw::Str(s) => s.map_or(ptr::null_mut(), malloc_str) as u64,
            Draw::List(l) => l.as_deref().map_or(ptr::null_mut(), malloc_list) as u64,
        }
    }
}

fn pack_case(u: &mut Unstructured<'_>) -> Result<()> {
    let format = arbitrary_format(u)?;
    let valid = format.iter().all(|c| PACK_CHARS.contains(c));
    let chars: Vec<u8> = format
        .iter()
        .copied()
        .filter(|c| PACK_CHARS.contains(c))
        .collect();
    let draws = chars
        .iter()
        .map(|&c| Draw::new(u, c))
        .collect::<Result<Vec<_>>>()?;
    let want = unpack_format(u, &format)?;
    let free_args = u.arbitrary::<bool>()?;
    // Nothing is drawn from the input from here on.
    let mut ints = [0u64; INT_SLOTS];
    let mut doubles = [0f64; DOUBLE_SLOTS];
    let (mut ni, mut nd) = (0, 0);
    let values: Vec<u64> = draws.iter().map(Draw::make).collect();
    for (&c, &v) in chars.iter().zip(&values) {
        if c == b'd' {
            doubles[nd] = f64::from_bits(v);
            nd += 1;
        } else {
            ints[ni] = v;
            ni += 1;
        }
    }
    let free_ours = || {
        for (&c, &v) in chars.iter().zip(&values) {
            if matches!(c, b's' | b'D' | b'L') {
                // SAFETY: each came from malloc_str / malloc_list once.
                unsafe { free_slot(c, v as *mut c_void) };
            }
        }
    };
    let fmt_c = c_string(&format);
    // SAFETY: the format fits the slots; each slot holds what its
    // character promises (see Draw).
    let t = unsafe { call_pack(pack_fn(), fmt_c.as_ptr().cast(), &ints, &doubles) };
    if !valid {
        assert!(t.is_null(), "w_pack accepted the invalid format {format:?}");
        free_ours();
        return Ok(());
    }
    assert!(!t.is_null(), "w_pack refused the valid format {format:?}");
    // SAFETY: a live struct from w_pack.
    let (stored, elems) = unsafe { targs::view(t) }.expect("w_pack struct has a format");
    assert_eq!(stored, format.as_slice(), "w_pack stored another format");
    for (j, (e, (&c, &v))) in elems.iter().zip(chars.iter().zip(&values)).enumerate() {
        assert_eq!(e.kind as u8, c, "element {j} type");
        assert_eq!(bits(e), v, "element {j} ({}) value", c as char);
    }
    check_packprint(t, &format);
    let mut out = [SENTINEL; OUT_SLOTS];
    let want_c = c_string(&want);
    // SAFETY: live struct, format of at most 16 characters.
    let r = unsafe { call_unpack(unpack_fn(), t, want_c.as_ptr().cast(), &mut out) };
    check_unpacked(&format, &want, r, &out, &values);
    if free_args {
        // Generation B: w_free_args frees our strings and lists with it.
        // SAFETY: live struct; outside pointers are malloc'ed, each once.
        unsafe { ffi::w_free_args(t) };
    } else {
        // SAFETY: generation A frees the one block; strings stay ours.
        unsafe { libc::free(t.cast()) };
        free_ours();
    }
    Ok(())
}

/// `w_unpack`'s answer `r` and out slots against docs/abi.md.
fn check_unpacked(stored: &[u8], want: &[u8], r: c_int, out: &[u64; OUT_SLOTS], values: &[u64]) {
    match spec_unpack(stored, want) {
        None => {
            assert_eq!(r, 0, "w_unpack({stored:?}, {want:?}) must fail");
            assert!(
                out.iter().all(|&o| o == SENTINEL),
                "a failed w_unpack wrote through a pointer"
            );
        }
        Some(n) => {
            assert_eq!(r, 1, "w_unpack({stored:?}, {want:?}) must succeed");
            for (j, &o) in out.iter().enumerate() {
                let expect = match j {
                    _ if j >= n => SENTINEL,
                    _ if j < values.len() => values[j],
                    _ => 0, // an absent optional element
                };
                assert_eq!(o, expect, "w_unpack({stored:?}, {want:?}) slot {j}");
            }
        }
    }
}

fn check_packprint(t: *mut Targs, format: &[u8]) {
    // SAFETY: live struct; the text stays valid until the next call.
    let text = unsafe { CStr::from_ptr(ffi::w_packprint(t)) }.to_bytes();
    assert!(
        text.starts_with(format) && text.ends_with(b" )"),
        "w_packprint: {}",
        String::from_utf8_lossy(text)
    );
}

fn build_case(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(0..=40usize)?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        args.push(match u.int_in_range(0..=4u8)? {
            0 => Arg::L(u.arbitrary()?),
            1 => Arg::NullS,
            2 => Arg::S(u.arbitrary::<&[u8]>()?),
            3 => Arg::D(u.arbitrary()?),
            _ => Arg::Json(u.arbitrary::<&[u8]>()?),
        });
    }
    let format: Vec<u8> = args.iter().map(Arg::format_char).collect();
    let want = unpack_format(u, &format)?;
    let free_args = u.arbitrary::<bool>()?;
    let t = targs::build(&args);
    assert!(!t.is_null(), "build failed");
    // SAFETY: a live struct from build.
    let (stored, elems) = unsafe { targs::view(t) }.expect("built struct has a format");
    assert_eq!(stored, format.as_slice());
    // SAFETY: as above; strings are valid C strings or NULL.
    let wire = unsafe { targs::to_wire(stored, elems) }.expect("l, s, d and D convert");
    let cut = |s: &[u8]| s.split(|&b| b == 0).next().unwrap_or_default().to_vec();
    for (a, w) in args.iter().zip(&wire) {
        let want = match a {
            Arg::L(l) => Kind::L(*l),
            Arg::NullS => Kind::NullS(true),
            Arg::S(s) => Kind::S(cut(s)),
            Arg::D(d) => Kind::D(*d),
            Arg::Json(s) => Kind::Json(cut(s)),
        };
        match (&w.kind, &want) {
            (Some(Kind::D(a)), Kind::D(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            (got, want) => assert_eq!(got.as_ref(), Some(want)),
        }
    }
    check_packprint(t, &format);
    // The Rust half of w_unpack, with an out array of exactly the format's length.
    let want_c = c_string(&want);
    let blank = Element {
        kind: 0,
        value: ElemValue { l: 0 },
    };
    let mut out = vec![blank; want.len().max(1)];
    // SAFETY: live struct, C string of want.len() characters, room for them.
    let r =
        unsafe { targs::vh_shim_unpack(t, want_c.as_ptr().cast(), out.as_mut_ptr(), want.len()) };
    match spec_unpack(&format, &want) {
        None => assert_eq!(r, -1, "unpack({format:?}, {want:?}) must fail"),
        Some(n) => {
            assert_eq!(r, n as _, "unpack({format:?}, {want:?})");
            let chars: Vec<u8> = want.iter().copied().filter(|&c| c != b'|').collect();
            for j in 0..n {
                assert_eq!(out[j].kind as u8, chars[j]);
                let expect = if j < elems.len() { bits(&elems[j]) } else { 0 };
                assert_eq!(bits(&out[j]), expect, "slot {j}");
            }
        }
    }
    if free_args {
        // SAFETY: live struct; its strings are inside its block.
        unsafe { ffi::w_free_args(t) };
    } else {
        // SAFETY: one calloc block.
        unsafe { libc::free(t.cast()) };
    }
    Ok(())
}

/// A struct as a hub's own code builds one for `w_free_args` (docs/abi.md §2.6):
/// `malloc`ed header and elements, the format inside the block or
/// `malloc`ed apart, strings and lists `malloc`ed or NULL.
fn hub_struct_case(u: &mut Unstructured<'_>) -> Result<()> {
    let raw: Vec<u8> = u.arbitrary()?;
    let format: Vec<u8> = raw
        .iter()
        .take(24)
        .map(|b| PACK_CHARS[*b as usize % PACK_CHARS.len()])
        .collect();
    let draws = format
        .iter()
        .map(|&c| Draw::new(u, c))
        .collect::<Result<Vec<_>>>()?;
    let inside = u.arbitrary::<bool>()?;
    let n = format.len();
    let header = size_of::<Targs>();
    let size = header + n * size_of::<Element>() + if inside { n + 1 } else { 0 };
    // SAFETY: a fresh block; every write below stays inside it.
    unsafe {
        let block = libc::malloc(size).cast::<u8>();
        assert!(!block.is_null(), "malloc");
        let elems = block.add(header).cast::<Element>();
        for (j, (&c, d)) in format.iter().zip(&draws).enumerate() {
            elems.add(j).write(Element {
                kind: c as c_char,
                value: ElemValue { l: d.make() as i64 },
            });
        }
        let fmt = if inside {
            block.add(header + n * size_of::<Element>())
        } else {
            libc::malloc(n + 1).cast::<u8>()
        };
        assert!(!fmt.is_null(), "malloc");
        ptr::copy_nonoverlapping(format.as_ptr(), fmt, n);
        fmt.add(n).write(0);
        (*block.cast::<Targs>()).format = fmt.cast();
        check_packprint(block.cast(), &format);
        ffi::w_free_args(block.cast());
    }
    Ok(())
}

/// NULL and format-less structs everywhere a struct is taken.
fn null_case() -> Result<()> {
    let mut out = [SENTINEL; OUT_SLOTS];
    // SAFETY: NULL is allowed for each of these.
    unsafe {
        assert_eq!(
            call_unpack(unpack_fn(), ptr::null_mut(), c"l".as_ptr(), &mut out),
            0
        );
        assert_eq!(CStr::from_ptr(ffi::w_packprint(ptr::null_mut())), c"(null)");
        ffi::w_free_args(ptr::null_mut());
        assert!(
            call_pack(
                pack_fn(),
                ptr::null(),
                &[0; INT_SLOTS],
                &[0.0; DOUBLE_SLOTS]
            )
            .is_null()
        );
        // A struct whose format pointer is NULL.
        let t = libc::calloc(1, size_of::<Targs>()).cast::<Targs>();
        assert_eq!(call_unpack(unpack_fn(), t, c"".as_ptr(), &mut out), 0);
        assert_eq!(CStr::from_ptr(ffi::w_packprint(t)), c"(null)");
        ffi::w_free_args(t);
    }
    assert!(out.iter().all(|&o| o == SENTINEL));
    Ok(())
}
