//! A classic `vh` function's usual discarded send (docs/protocol.md
//! "Pipelined calls"), from the script's arguments to the held frame in one
//! call: `Channel.send_as_is(spec, args)`. What the call needs that does
//! not change from one send to the next is made once: each function's
//! [`SendSpec`] when `vh._api` builds it, the runtime's [`Context`] (its
//! hub codec, the discarded-result rules, its main thread) when the
//! runtime is made (`vh._pipeline.as_is_for`). On a hook that finds its
//! worker asleep every look-up the classic function makes costs about a
//! microsecond, so it makes as few as it can: `rt.as_is(send, args)`
//! (docs/performance.md "One call for a discarded send").

use std::ffi::{CString, c_ulong};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use vh_proto::v1::Value;

use crate::charmap::CharTable;
use crate::values::{from_py, usual_arg};

/// One pipelined classic function's parameters, as `vh._api` describes
/// them (`FunctionSpec`): `vh._core.SendSpec(callback, kinds, required,
/// defaults)`, with one `l`, `s` or `d` per parameter in `kinds`, the first
/// `required` of them required, and each one's default in `defaults`.
///
/// # Errors
/// `ValueError` if `kinds` has another letter or `defaults` another length.
#[pyclass(frozen, module = "vh._core")]
pub struct SendSpec {
    callback: String,
    kinds: Vec<u8>,
    required: usize,
    defaults: Py<PyTuple>,
}

#[pymethods]
impl SendSpec {
    #[new]
    fn new(
        callback: String,
        kinds: &str,
        required: usize,
        defaults: Bound<'_, PyTuple>,
    ) -> PyResult<Self> {
        let kinds = kinds.as_bytes().to_vec();
        if defaults.len() != kinds.len()
            || required > kinds.len()
            || kinds.iter().any(|k| !b"lsd".contains(k))
        {
            return Err(PyValueError::new_err(format!(
                "SendSpec({callback:?}): kinds {:?}, {required} required, {} defaults",
                String::from_utf8_lossy(&kinds),
                defaults.len()
            )));
        }
        Ok(Self {
            callback,
            kinds,
            required,
            defaults: defaults.unbind(),
        })
    }
}

/// What every send of one runtime shares: the hub codec's encoding map
/// (`ScriptState.charmap[1]`, `None` for a codec that is not a charmap
/// one), the same as a table, and its name, `vh._discard.RULES`, and the main thread's id
/// (`_thread.get_ident()` there): a send from another thread is never
/// pipelined.
pub struct Context {
    encode_map: Option<Py<PyAny>>,
    /// The charmap codec as a table (module `charmap`); `None` for
    /// another codec or a decoding table it could not read.
    table: Option<CharTable>,
    encoding: CString,
    rules: Vec<u8>,
    main_thread: c_ulong,
}

impl Context {
    /// # Errors
    /// `ValueError` for an encoding name with a NUL byte.
    pub fn new(
        charmap: &Bound<'_, PyAny>,
        encoding: &str,
        rules: &[u8],
        main_thread: c_ulong,
    ) -> PyResult<Self> {
        let (encode_map, table) = if charmap.is_none() {
            (None, None)
        } else {
            let map = charmap.get_item(1)?;
            let table = CharTable::new(&charmap.get_item(0)?, &map).ok();
            (Some(map.unbind()), table)
        };
        Ok(Self {
            encode_map,
            table,
            encoding: CString::new(encoding)
                .map_err(|_| PyValueError::new_err("an encoding name with NUL"))?,
            rules: rules.to_vec(),
            main_thread,
        })
    }

    /// True on the runtime's main thread.
    pub fn on_main_thread(&self) -> bool {
        // SAFETY: a plain query of the calling thread's id.
        unsafe { pyo3::ffi::PyThread_get_thread_ident() == self.main_thread }
    }

    /// `vh._discard.RULES`.
    pub fn rules(&self) -> &[u8] {
        &self.rules
    }
}

impl SendSpec {
    /// The number of arguments if this function takes that many, else
    /// `None`.
    pub fn arity(&self, args: &Bound<'_, PyTuple>) -> Option<usize> {
        let given = args.len();
        (self.required..=self.kinds.len())
            .contains(&given)
            .then_some(given)
    }

    /// The callback's hub values for `args` as `vh._api.convert_args`
    /// makes them (`values::usual_arg`), then the defaults of the
    /// parameters not given (unconverted, as `convert_args` appends them);
    /// `None` if an argument is not a usual one of its kind: the caller
    /// then takes the Python way, which raises what the script must see.
    ///
    /// # Errors
    /// None of its own; only a failure to allocate.
    pub fn values(
        &self,
        py: Python<'_>,
        cx: &Context,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Option<Vec<Value>>> {
        let map = cx.encode_map.as_ref().map(|m| m.bind(py));
        let mut values = Vec::with_capacity(self.kinds.len());
        for (i, arg) in args.iter().enumerate() {
            match usual_arg(self.kinds[i], &arg, cx.table.as_ref(), map, &cx.encoding)? {
                Some(v) => values.push(v),
                None => return Ok(None),
            }
        }
        for d in self.defaults.bind(py).iter().skip(args.len()) {
            match from_py(&d) {
                Ok(v) => values.push(v),
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(values))
    }

    /// The hub callback's name.
    pub fn callback(&self) -> &str {
        &self.callback
    }
}
