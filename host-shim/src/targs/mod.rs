//! `w_Targs`: the argument lists that cross the C ABI (docs/abi.md
//! §2), their allocation and ownership rules (§2.7), and conversion to and
//! from wire [`Value`]s.
//!
//! Two layouts, as the originals allocate (docs/abi.md §2.1, §2.7):
//! * [`build`]: **one** `calloc` block: header, elements, then the format
//!   string and copies of the strings. Generation A's plugin releases a
//!   hook result with `free()` alone, which releases all of it; callback
//!   arguments use it too (the shim frees them itself).
//! * [`build_owned`]: header and elements in one block, the format and each
//!   string `malloc`ed on their own, as generation B's `w_pack("s",
//!   strdup(s))` results: a caller may `free()` a string it unpacked and
//!   then the struct (B's hook and `w_CallFunction` results).
//!
//! `w_free_args` releases either completely: it frees the pointers that
//! lie outside the struct's own block (§2.6).
//!
//! `pack` holds the Rust half of `w_pack`/`w_unpack` (the C file
//! `c/pack.c` reads the varargs), `print` the text of `w_packprint`.

mod pack;
mod print;

pub use pack::{vh_shim_pack, vh_shim_pack_rejected, vh_shim_unpack};
pub use print::packprint;

use std::ffi::{CStr, c_char, c_long, c_void};
use std::ptr;

use vh_proto::v1::{Value, value::Kind};

/// One 16-byte element (docs/abi.md §2.1): the format character, then the value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Element {
    /// The element's format character (`l`, `s`, `d`, `p`, `L`, `D`, `O`).
    pub kind: c_char,
    /// The value, read by `kind`.
    pub value: ElemValue,
}

/// The element's value union (docs/abi.md §2.1).
#[repr(C)]
#[derive(Clone, Copy)]
pub union ElemValue {
    /// `l`.
    pub l: c_long,
    /// `s`, `D`: borrowed or owned as §2.7 says.
    pub s: *mut c_char,
    /// `d`.
    pub d: f64,
    /// `p`, `L`, `O`.
    pub p: *mut c_void,
}

/// The header: format pointer, then a flexible array of [`Element`]s.
#[repr(C)]
pub struct Targs {
    /// NUL-terminated, one character per element.
    pub format: *const c_char,
    args: [Element; 0],
}

const HEADER: usize = size_of::<Targs>();
const ELEM: usize = size_of::<Element>();
const _: () = assert!(HEADER == 8 && ELEM == 16, "docs/abi.md §2.1 layout (LP64)");

/// A value to put into a struct the shim builds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// `l`.
    Long(i64),
    /// `s`; `None` is a NULL pointer.
    Str(Option<&'a [u8]>),
    /// `d`.
    Double(f64),
    /// `D`: a JSON document.
    Json(&'a [u8]),
}

impl<'a> Arg<'a> {
    /// The wire value as an argument (strings borrowed from it).
    pub fn from_wire(v: &'a Value) -> Arg<'a> {
        match &v.kind {
            Some(Kind::L(l)) => Arg::Long(*l),
            Some(Kind::S(s)) => Arg::Str(Some(s)),
            Some(Kind::D(d)) => Arg::Double(*d),
            Some(Kind::Json(j)) => Arg::Json(j),
            Some(Kind::NullS(_)) | None => Arg::Str(None),
        }
    }

    /// The format character of this argument.
    pub fn format_char(&self) -> u8 {
        match self {
            Arg::Long(_) => b'l',
            Arg::Str(_) => b's',
            Arg::Double(_) => b'd',
            Arg::Json(_) => b'D',
        }
    }
}

/// A worker's values as arguments, with their format letters, gathered
/// on the stack: the hub thread makes a struct of them for every hook's
/// answer and every `vh.*` call, and allocates nothing for it.
pub struct Gathered<'a> {
    args: [Arg<'a>; Gathered::MOST],
    format: [u8; Gathered::MOST],
    n: usize,
}

impl<'a> Gathered<'a> {
    /// Most values gathered: the longest callback format (six letters,
    /// docs/abi.md §6.3); a hook's answer has at most five (§4.4).
    pub const MOST: usize = 6;

    /// `values` gathered, or `None` if there are more than [`Self::MOST`].
    pub fn new(values: &'a [Value]) -> Option<Self> {
        if values.len() > Self::MOST {
            return None;
        }
        let mut g = Gathered {
            args: [Arg::Long(0); Self::MOST],
            format: [0; Self::MOST],
            n: values.len(),
        };
        for (i, v) in values.iter().enumerate() {
            g.args[i] = Arg::from_wire(v);
            g.format[i] = g.args[i].format_char();
        }
        Some(g)
    }

    /// The arguments, in order.
    pub fn args(&self) -> &[Arg<'a>] {
        &self.args[..self.n]
    }

    /// Their format letters (`l`, `s`, `d`, `D`).
    pub fn format(&self) -> &[u8] {
        &self.format[..self.n]
    }
}

/// Bytes up to the first NUL: C strings cannot carry more (docs/abi.md §8).
fn c_bytes(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

/// Builds one self-contained block holding `args`, their format and copies
/// of their strings. Released with `free()` or `w_free_args`.
///
/// Returns NULL only if `calloc` fails.
pub fn build(args: &[Arg<'_>]) -> *mut Targs {
    let strings: usize = args
        .iter()
        .map(|a| match a {
            Arg::Str(Some(s)) | Arg::Json(s) => c_bytes(s).len() + 1,
            _ => 0,
        })
        .sum();
    let n = args.len();
    let size = HEADER + ELEM * n + (n + 1) + strings;
    // SAFETY: calloc of a non-zero size; the block is written only within it.
    unsafe {
        let block = libc::calloc(1, size).cast::<u8>();
        if block.is_null() {
            return ptr::null_mut();
        }
        let elems = block.add(HEADER).cast::<Element>();
        let mut tail = block.add(HEADER + ELEM * n);
        let format = tail;
        for a in args {
            *tail = a.format_char();
            tail = tail.add(1);
        }
        tail = tail.add(1); // NUL from calloc
        for (i, a) in args.iter().enumerate() {
            let element = element(a, |s| {
                ptr::copy_nonoverlapping(s.as_ptr(), tail, s.len());
                let p = tail.cast::<c_char>();
                tail = tail.add(s.len() + 1);
                p
            });
            elems.add(i).write(element);
        }
        let t = block.cast::<Targs>();
        (*t).format = format.cast::<c_char>();
        t
    }
}

/// The element of `a`; a string's bytes (up to its first NUL) are placed
/// by `place`, which returns where the NUL-terminated copy is: the one
/// mechanism behind [`build`] (inside the block) and [`build_owned`] (one
/// `malloc` each).
fn element(a: &Arg<'_>, place: impl FnOnce(&[u8]) -> *mut c_char) -> Element {
    let value = match a {
        Arg::Long(l) => ElemValue { l: *l as c_long },
        Arg::Double(d) => ElemValue { d: *d },
        Arg::Str(None) => ElemValue { s: ptr::null_mut() },
        Arg::Str(Some(s)) | Arg::Json(s) => ElemValue {
            s: place(c_bytes(s)),
        },
    };
    Element {
        kind: a.format_char() as c_char,
        value,
    }
}

/// `strdup` of `s` up to its first NUL; NULL only if `malloc` fails.
fn c_strdup(s: &[u8]) -> *mut c_char {
    let s = c_bytes(s);
    // SAFETY: malloc of len + 1 bytes, all written below.
    unsafe {
        let p = libc::malloc(s.len() + 1).cast::<u8>();
        if !p.is_null() {
            ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
        }
        p.cast()
    }
}

/// Builds a struct holding `args` as generation B's wrapper allocates its
/// results (docs/abi.md §2.6, §2.7): header and elements in one `calloc`
/// block, the format and every string `malloc`ed on their own. Released
/// with `w_free_args`, or by `free()` on each string and then the struct
/// (the format then leaks, as with B's own results).
///
/// Returns NULL only if an allocation fails (nothing is left allocated).
pub fn build_owned(args: &[Arg<'_>]) -> *mut Targs {
    let n = args.len();
    let format: Vec<u8> = args.iter().map(Arg::format_char).collect();
    // SAFETY: calloc of a non-zero size; written only within it. On a
    // failed allocation everything made so far is released.
    unsafe {
        let block = libc::calloc(1, HEADER + ELEM * n).cast::<u8>();
        if block.is_null() {
            return ptr::null_mut();
        }
        let t = block.cast::<Targs>();
        let fmt = c_strdup(&format);
        (*t).format = fmt;
        let elems = block.add(HEADER).cast::<Element>();
        let mut failed = fmt.is_null();
        for (i, a) in args.iter().enumerate() {
            let element = element(a, |s| {
                let p = c_strdup(s);
                failed |= p.is_null();
                p
            });
            elems.add(i).write(element);
        }
        if failed {
            if fmt.is_null() {
                for (i, a) in args.iter().enumerate() {
                    if matches!(a, Arg::Str(Some(_)) | Arg::Json(_)) {
                        libc::free((*elems.add(i)).value.s.cast());
                    }
                }
                libc::free(block.cast());
            } else {
                free_args(t);
            }
            return ptr::null_mut();
        }
        t
    }
}

/// The format and elements of `a`, or `None` for NULL / NULL format.
///
/// # Safety
/// `a` is NULL or a valid struct whose format has one character per element.
pub unsafe fn view<'a>(a: *const Targs) -> Option<(&'a [u8], &'a [Element])> {
    if a.is_null() {
        return None;
    }
    // SAFETY: per the caller's contract.
    unsafe {
        let format = (*a).format;
        if format.is_null() {
            return None;
        }
        let format = CStr::from_ptr(format).to_bytes();
        let elems =
            std::slice::from_raw_parts(a.cast::<u8>().add(HEADER).cast::<Element>(), format.len());
        Some((format, elems))
    }
}

/// Copies the elements of `a` into wire values (hook arguments, callback
/// results). Only `l`, `s`, `d` and `D` can be copied.
///
/// # Errors
/// The first format character that is not one of those.
///
/// # Safety
/// As [`view`]; string elements are NULL or valid C strings.
pub unsafe fn to_wire(format: &[u8], elems: &[Element]) -> Result<Vec<Value>, char> {
    format
        .iter()
        .zip(elems)
        // SAFETY: per this function's contract.
        .map(|(&c, e)| unsafe { element_to_wire(c, e) })
        .collect()
}

/// One element of format character `c` as a wire value (see [`to_wire`]).
///
/// # Errors
/// `c` is not `l`, `s`, `d`, `D` or `p`.
///
/// # Safety
/// `e` holds the union member `c` names; a string is NULL or a valid C
/// string.
pub unsafe fn element_to_wire(c: u8, e: &Element) -> Result<Value, char> {
    // SAFETY: the union member read matches the format character.
    let kind = unsafe {
        match c {
            b'l' => Kind::L(e.value.l),
            b'd' => Kind::D(e.value.d),
            b's' if e.value.s.is_null() => Kind::NullS(true),
            b's' => Kind::S(CStr::from_ptr(e.value.s).to_bytes().to_vec()),
            b'D' if e.value.s.is_null() => Kind::NullS(true),
            b'D' => Kind::Json(CStr::from_ptr(e.value.s).to_bytes().to_vec()),
            // An opaque pointer reaches a script as its address, as
            // generation B's wrapper passes it (docs/abi.md §4.3).
            b'p' => Kind::L(e.value.p as c_long),
            other => return Err(other as char),
        }
    };
    Ok(Value { kind: Some(kind) })
}

/// `w_free_args` (docs/abi.md §2.6): frees every `s`/`D` string, `L` array and the
/// format that lie outside the struct's own block, then the block.
///
/// # Safety
/// `a` is NULL or a `malloc`ed struct whose outside pointers are `malloc`ed.
pub unsafe fn free_args(a: *mut Targs) {
    if a.is_null() {
        return;
    }
    // SAFETY: `a` is a live malloc block per the contract.
    unsafe {
        let lo = a as usize;
        let hi = lo + libc::malloc_usable_size(a.cast());
        let outside = |p: *const c_void| !p.is_null() && ((p as usize) < lo || (p as usize) >= hi);
        if let Some((format, elems)) = view(a) {
            let room = (hi - lo).saturating_sub(HEADER) / ELEM;
            let inside_fmt = !outside((*a).format.cast());
            let n = if inside_fmt {
                format.len().min(room)
            } else {
                format.len()
            };
            for (&c, e) in format.iter().zip(&elems[..n]) {
                match c {
                    b's' | b'D' if outside(e.value.s.cast()) => libc::free(e.value.s.cast()),
                    b'L' if outside(e.value.p) => {
                        let list = e.value.p.cast::<*mut c_char>();
                        let mut i = 0;
                        while !(*list.add(i)).is_null() {
                            libc::free((*list.add(i)).cast());
                            i += 1;
                        }
                        libc::free(list.cast());
                    }
                    _ => {}
                }
            }
            if !inside_fmt {
                libc::free((*a).format as *mut c_void);
            }
        }
        libc::free(a.cast());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_is_one_block_with_copies() {
        let nick = b"\xcf\xee\xeb\xfc\xe7".to_vec();
        let t = build(&[
            Arg::Str(Some(&nick)),
            Arg::Long(-2),
            Arg::Str(None),
            Arg::Double(1.5),
        ]);
        // SAFETY: fresh struct from build.
        unsafe {
            let (format, elems) = view(t).unwrap();
            assert_eq!(format, b"slsd");
            let w = to_wire(format, elems).unwrap();
            assert_eq!(w[0].kind, Some(Kind::S(nick.clone())));
            assert_eq!(w[1].kind, Some(Kind::L(-2)));
            assert_eq!(w[2].kind, Some(Kind::NullS(true)));
            assert_eq!(w[3].kind, Some(Kind::D(1.5)));
            free_args(t);
        }
    }

    #[test]
    fn build_owned_allocates_each_string_on_its_own() {
        let t = build_owned(&[Arg::Str(Some(b"abc")), Arg::Long(3), Arg::Str(None)]);
        // SAFETY: fresh struct from build_owned; its strings are malloc'ed.
        unsafe {
            let (format, elems) = view(t).unwrap();
            assert_eq!(format, b"sls");
            let s = elems[0].value.s;
            let lo = t as usize;
            let hi = lo + libc::malloc_usable_size(t.cast());
            assert!((s as usize) < lo || (s as usize) >= hi, "outside the block");
            assert_eq!(CStr::from_ptr(s).to_bytes(), b"abc");
            // What a C caller may do with B's result: free the string, then the struct.
            libc::free(s.cast());
            libc::free((*t).format as *mut c_void);
            libc::free(t.cast());
            let t = build_owned(&[Arg::Json(b"[1]"), Arg::Double(0.5)]);
            free_args(t);
        }
    }
}
