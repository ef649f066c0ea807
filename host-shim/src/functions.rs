//! Generation B's extras (docs/abi.md §3.9, §3.10): the argument
//! and result marshaling of `w_CallFunction`, the per-script registry of
//! `w_RegisterFunction`, and running a script's `vh.CallDynamicFunction`
//! on the hub thread. The waiting itself is the hub thread's (module `hub`).
//!
//! Strings stay hub bytes on this side (docs/architecture.md "Hub strings are bytes");
//! the worker decodes them with the hub encoding and `surrogateescape`,
//! where B's wrapper used strict UTF-8 (docs/abi.md §8).

use std::collections::HashMap;
use std::ffi::{CStr, c_char};
use std::sync::Mutex;

use vh_proto::v1::{CallResult, DynamicCall, Value, value::Kind};

use crate::callbacks::Callback;
use crate::targs::{self, Arg, Element, Targs};

/// What `w_UnregisterFunction` could not do (docs/abi.md §3.10: 0, logged for the
/// last two).
#[derive(Debug, PartialEq, Eq)]
pub enum Unregister {
    /// The script has no registered function at all.
    NoRegistry,
    /// No function of that name is registered for the script.
    UnknownName,
}

/// C functions other plugins registered for each script
/// (`w_RegisterFunction`), by script id, then by name (C string bytes).
/// A script's entry goes when the hub unloads it, all of them at `w_End`.
#[derive(Default)]
pub struct Registry {
    by_script: Mutex<HashMap<i32, HashMap<Vec<u8>, Callback>>>,
}

impl Registry {
    /// Inserts or replaces `name -> cb` for script `id`.
    pub fn register(&self, id: i32, name: &[u8], cb: Callback) {
        self.by_script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id)
            .or_default()
            .insert(name.to_vec(), cb);
    }

    /// Removes `name` of script `id`.
    ///
    /// # Errors
    /// [`Unregister`] says what was missing.
    pub fn unregister(&self, id: i32, name: &[u8]) -> Result<(), Unregister> {
        let mut all = self.by_script.lock().unwrap_or_else(|e| e.into_inner());
        let functions = all.get_mut(&id).ok_or(Unregister::NoRegistry)?;
        functions.remove(name).ok_or(Unregister::UnknownName)?;
        if functions.is_empty() {
            all.remove(&id);
        }
        Ok(())
    }

    /// Forgets every function of script `id` (it was unloaded).
    pub fn drop_script(&self, id: i32) {
        self.by_script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The function `name` of script `id`, copied out so that no lock is
    /// held while it runs (it may register or unregister functions).
    pub fn get(&self, id: i32, name: &[u8]) -> Option<Callback> {
        self.by_script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)?
            .get(name)
            .copied()
    }

    /// Runs a script's `vh.CallDynamicFunction` on the hub thread (docs/abi.md
    /// §3.10): calls the registered function with id -1 and a struct in
    /// the arguments' format, releases that struct with `w_free_args`
    /// semantics, and answers with the result's first element, which is
    /// then released with `w_free_args` too (its strings must therefore be
    /// `malloc`ed, e.g. `strdup`, as B requires).
    ///
    /// `ok = false` only if no such function is registered for the script;
    /// a NULL result or one with another first format character is `ok`
    /// without values (the script gets None).
    pub fn call_dynamic(&self, call: &DynamicCall) -> CallResult {
        let answer = |ok: bool, values: Vec<Value>, error: String| CallResult {
            script_id: call.script_id,
            call_id: call.call_id,
            ok,
            values,
            error,
        };
        let Some(cb) = self.get(call.script_id, &call.name) else {
            return answer(
                false,
                Vec::new(),
                format!(
                    "no dynamic function {:?} is registered for script #{}",
                    String::from_utf8_lossy(&call.name),
                    call.script_id
                ),
            );
        };
        let args: Vec<Arg<'_>> = call.args.iter().map(Arg::from_wire).collect();
        let packed = targs::build(&args);
        if packed.is_null() {
            return answer(true, Vec::new(), "out of memory".into());
        }
        // SAFETY: a function registered for this purpose, called on the hub
        // thread with a struct it may read and must not free; id -1 as B.
        let res = unsafe { cb(-1, packed) };
        // SAFETY: `packed` is ours (one block); `res` is NULL or the
        // function's struct, released as B releases it.
        unsafe {
            targs::free_args(packed);
            let value = first_value(res);
            targs::free_args(res);
            answer(true, value.into_iter().collect(), String::new())
        }
    }
}

/// The first element of a dynamic function's result as a wire value
/// (docs/abi.md §3.10): 'l', 's', 'd', 'D', and 'L' as a JSON array; `None` for
/// NULL, an empty format or any other character.
///
/// # Safety
/// `res` is NULL or a valid struct.
unsafe fn first_value(res: *const Targs) -> Option<Value> {
    // SAFETY: per the contract.
    let (format, elems) = unsafe { targs::view(res) }?;
    let (&c, e) = format.first().zip(elems.first())?;
    let kind = match c {
        // SAFETY: the union member read matches the format character.
        b'L' => Kind::Json(unsafe { json_string_list(e.value.p.cast()) }),
        b'l' | b's' | b'd' | b'D' => {
            // SAFETY: as above; strings are NULL or valid C strings.
            return unsafe { targs::to_wire(&[c], std::slice::from_ref(e)) }
                .ok()?
                .pop();
        }
        _ => return None,
    };
    Some(Value { kind: Some(kind) })
}

/// `w_CallFunction`'s `params` as wire values (see `FunctionCall.args` in
/// vh.proto): 'l', 's', 'd' as they are, 'D' as JSON (NULL as an empty
/// document, which the worker reads as `{}`, docs/abi.md §3.9), 'p' as its
/// address, 'L' as a JSON array of its strings.
///
/// # Errors
/// For 'O' (a Python object has no meaning in another process) and any
/// unknown character: the message for the log.
///
/// # Safety
/// `format` and `elems` come from [`targs::view`] of a valid struct.
pub unsafe fn params_to_wire(format: &[u8], elems: &[Element]) -> Result<Vec<Value>, String> {
    format
        .iter()
        .zip(elems)
        .map(|(&c, e)| {
            // SAFETY: the union member read matches the format character.
            let kind = unsafe {
                match c {
                    b'p' => Kind::L(e.value.p as i64),
                    b'L' => Kind::Json(json_string_list(e.value.p.cast())),
                    b'D' if e.value.s.is_null() => Kind::Json(Vec::new()),
                    b'l' | b's' | b'd' | b'D' => targs::to_wire(&[c], std::slice::from_ref(e))
                        .ok()
                        .and_then(|mut v| v.pop())
                        .and_then(|v| v.kind)
                        .ok_or_else(|| format!("unreadable '{}' element", c as char))?,
                    b'O' => {
                        return Err(
                            "a Python object ('O') cannot reach a script in another process".into(),
                        );
                    }
                    other => return Err(format!("unknown format character '{}'", other as char)),
                }
            };
            Ok(Value { kind: Some(kind) })
        })
        .collect()
}

/// The struct `w_CallFunction` returns for the function's result (docs/abi.md
/// §3.9): one element 'l', 'd', 's' or 'D', allocated as generation B's
/// wrapper does (docs/abi.md §2.7): the string and the format `malloc`ed
/// on their own, so that a caller may `free()` the string it unpacked and
/// then the struct, or release all of it with `w_free_args`. `None` for a
/// value without a C form.
pub fn result_struct(value: &Value) -> Option<*mut Targs> {
    value.kind.as_ref()?;
    let arg = Arg::from_wire(value);
    let t = targs::build_owned(std::slice::from_ref(&arg));
    (!t.is_null()).then_some(t)
}

/// A NULL-terminated `char **` as a JSON array of its strings, bytes >= 0x80
/// unchanged (hub encoding), as B's `stringListToJson` writes them.
///
/// # Safety
/// `list` is NULL or a NULL-terminated array of valid C strings.
unsafe fn json_string_list(list: *const *const c_char) -> Vec<u8> {
    let mut out = b"[".to_vec();
    if !list.is_null() {
        let mut i = 0;
        // SAFETY: per the contract, read up to the NULL terminator.
        while let Some(item) = unsafe { (*list.add(i)).as_ref() } {
            if i > 0 {
                out.push(b',');
            }
            // SAFETY: a valid C string per the contract.
            json_string(&mut out, unsafe { CStr::from_ptr(item) }.to_bytes());
            i += 1;
        }
    }
    out.push(b']');
    out
}

/// Appends `s` as a JSON string: quote, backslash and control bytes
/// escaped, every other byte as it is.
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    unsafe extern "C" fn add(_id: i32, _args: *mut Targs) -> *mut Targs {
        ptr::null_mut()
    }

    #[test]
    fn registry_follows_b_semantics() {
        let r = Registry::default();
        assert_eq!(r.unregister(1, b"f"), Err(Unregister::NoRegistry));
        r.register(1, b"f", add);
        r.register(1, b"f", add); // replaces
        assert!(r.get(1, b"f").is_some());
        assert!(r.get(2, b"f").is_none());
        assert_eq!(r.unregister(1, b"g"), Err(Unregister::UnknownName));
        assert_eq!(r.unregister(1, b"f"), Ok(()));
        assert!(r.get(1, b"f").is_none());
        r.register(3, b"h", add);
        r.drop_script(3);
        assert!(r.get(3, b"h").is_none());
    }

    #[test]
    fn string_lists_become_json_with_hub_bytes_kept() {
        let items = [c"a\"b".as_ptr(), c"\xe9\\\n".as_ptr(), ptr::null()];
        // SAFETY: a NULL-terminated array of C strings.
        let json = unsafe { json_string_list(items.as_ptr()) };
        assert_eq!(json, b"[\"a\\\"b\",\"\xe9\\\\\\n\"]".to_vec());
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { json_string_list(ptr::null()) }, b"[]".to_vec());
    }

    #[test]
    fn params_convert_by_format_and_refuse_python_objects() {
        let list = [c"x".as_ptr(), ptr::null()];
        let t = targs::build(&[Arg::L(7), Arg::S(b"n\xe9"), Arg::D(0.5)]);
        // SAFETY: fresh struct; elements read as their characters.
        unsafe {
            let (format, elems) = targs::view(t).unwrap();
            let v = params_to_wire(format, elems).unwrap();
            assert_eq!(v[0].kind, Some(Kind::L(7)));
            assert_eq!(v[1].kind, Some(Kind::S(b"n\xe9".to_vec())));
            assert_eq!(v[2].kind, Some(Kind::D(0.5)));
            let mut e = elems[0];
            e.value.p = list.as_ptr() as *mut _;
            assert_eq!(
                params_to_wire(b"L", &[e]).unwrap()[0].kind,
                Some(Kind::Json(b"[\"x\"]".to_vec()))
            );
            e.value.s = ptr::null_mut();
            assert_eq!(
                params_to_wire(b"D", &[e]).unwrap()[0].kind,
                Some(Kind::Json(Vec::new()))
            );
            assert!(params_to_wire(b"O", &[e]).is_err());
            targs::free_args(t);
        }
    }

    #[test]
    fn results_are_one_block() {
        let v = Value {
            kind: Some(Kind::Json(b"[1,2]".to_vec())),
        };
        let t = result_struct(&v).unwrap();
        // SAFETY: fresh struct from result_struct.
        unsafe {
            let (format, elems) = targs::view(t).unwrap();
            assert_eq!(format, b"D");
            assert_eq!(CStr::from_ptr(elems[0].value.s).to_bytes(), b"[1,2]");
            targs::free_args(t);
        }
        assert!(result_struct(&Value { kind: None }).is_none());
    }
}
