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

use vh_proto::v1::Value;

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

/// A value to put into a struct the shim builds, or read from one the
/// plugin handed over: the one borrowed form of a wire value
/// (`vh_proto::direct::hook_frame::Arg`; `NullS` is a NULL `s`).
pub use vh_proto::direct::hook_frame::Arg;

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
            args: [Arg::L(0); Self::MOST],
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
            Arg::S(s) | Arg::Json(s) => c_bytes(s).len() + 1,
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
        Arg::L(l) => ElemValue { l: *l as c_long },
        Arg::D(d) => ElemValue { d: *d },
        Arg::NullS => ElemValue { s: ptr::null_mut() },
        Arg::S(s) | Arg::Json(s) => ElemValue {
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
                    if matches!(a, Arg::S(_) | Arg::Json(_)) {
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
/// As [`arg`].
pub unsafe fn element_to_wire(c: u8, e: &Element) -> Result<Value, char> {
    // SAFETY: per this function's contract.
    Ok(unsafe { arg(c, e) }.ok_or(c as char)?.to_value())
}

/// One element of format character `c` as the wire value it stands for,
/// borrowed (`vh_proto::direct::hook_frame::Arg`); `None` if `c` is not
/// `l`, `s`, `d`, `D` or `p`. The one place these rules live: an opaque
/// pointer (`p`) reaches a script as its address, as generation B's
/// wrapper passes it (docs/abi.md §4.3); a NULL `s` or `D` is `null_s`.
///
/// # Safety
/// `e` holds the union member `c` names; a string is NULL or a valid C
/// string that outlives the result.
pub unsafe fn arg<'a>(c: u8, e: &'a Element) -> Option<Arg<'a>> {
    // SAFETY: the union member read matches the format character.
    unsafe {
        Some(match c {
            b'l' => Arg::L(e.value.l),
            b'd' => Arg::D(e.value.d),
            b's' | b'D' if e.value.s.is_null() => Arg::NullS,
            b's' => Arg::S(CStr::from_ptr(e.value.s).to_bytes()),
            b'D' => Arg::Json(CStr::from_ptr(e.value.s).to_bytes()),
            b'p' => Arg::L(e.value.p as c_long),
            _ => return None,
        })
    }
}

/// The elements of a struct as borrowed wire values, in order, if every
/// format character is one [`arg`] reads; `None` (nothing read) otherwise.
/// Cheap to clone (a writer walks it twice: lengths, then bytes).
///
/// # Safety
/// As [`view`]; string elements are NULL or valid C strings that outlive
/// the iterator.
pub unsafe fn args<'a>(
    format: &'a [u8],
    elems: &'a [Element],
) -> Option<impl ExactSizeIterator<Item = Arg<'a>> + Clone> {
    if !format.iter().all(|c| b"lsdDp".contains(c)) {
        return None;
    }
    Some(format.iter().zip(elems).map(|(&c, e)| {
        // SAFETY: per this function's contract; every `c` was checked
        // above, so `arg` gives a value (`null_s` would only mask a bug).
        unsafe { arg(c, e) }.unwrap_or(Arg::NullS)
    }))
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
    use vh_proto::v1::value::Kind;

    #[test]
    fn build_is_one_block_with_copies() {
        let nick = b"\xcf\xee\xeb\xfc\xe7".to_vec();
        let t = build(&[Arg::S(&nick), Arg::L(-2), Arg::NullS, Arg::D(1.5)]);
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
        let t = build_owned(&[Arg::S(b"abc"), Arg::L(3), Arg::NullS]);
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
            let t = build_owned(&[Arg::Json(b"[1]"), Arg::D(0.5)]);
            free_args(t);
        }
    }
}
