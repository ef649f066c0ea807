//! Exported names for the functions written in C and C++.
//!
//! rustc links a cdylib with a version script that exports only Rust's own
//! `#[no_mangle]` items and hides every symbol of linked C archives. The
//! variadic `w_pack`/`w_unpack` (docs/abi.md §2.3, §2.4) and the C++
//! `stringListToJson` (§1.3) and JSON helpers of B's header (docs/abi.md
//! §1.3) therefore live under internal names in `c/pack.c`,
//! `cpp/string_list.cpp` and `cpp/json_marshal.cpp`, and the exported names
//! are these naked functions: one tail jump each, which leaves every
//! argument register (and `%al`, the vector-register count of a variadic
//! call) untouched, so the callee sees the caller's exact call.

use core::arch::naked_asm;

unsafe extern "C" {
    fn vh_c_w_pack();
    fn vh_c_w_unpack();
    fn vh_cpp_string_list_to_json();
    fn vh_cpp_parse_json();
    fn vh_cpp_to_json_string();
    fn vh_cpp_json_to_string_list();
    fn vh_cpp_string_map_to_json();
    fn vh_cpp_json_to_string_map();
}

macro_rules! trampoline {
    ($(#[$meta:meta])* $export:literal, $name:ident => $target:ident) => {
        $(#[$meta])*
        #[unsafe(naked)]
        #[unsafe(export_name = $export)]
        pub unsafe extern "C" fn $name() {
            #[cfg(target_arch = "x86_64")]
            naked_asm!("jmp {f}@PLT", f = sym $target);
            #[cfg(target_arch = "aarch64")]
            naked_asm!("b {f}", f = sym $target);
        }
    };
}

trampoline!(
    /// `w_Targs *w_pack(const char *format, ...)`, both generations
    /// (docs/abi.md §2.3): a new struct from the varargs, strings not copied.
    ///
    /// # Safety
    /// Variadic C call only: each vararg must have the type its format
    /// character names (§2.2). The result is one `calloc` block (format
    /// copied inside it) that `free()` or `w_free_args` releases; NULL on an
    /// unknown format character or out of memory.
    "w_pack", w_pack => vh_c_w_pack
);

trampoline!(
    /// `int w_unpack(w_Targs *a, const char *format, ...)`, both
    /// generations (docs/abi.md §2.4): 1 and the values written through the
    /// pointers, or 0 with nothing written.
    ///
    /// # Safety
    /// Variadic C call only: one pointer of the element's type per format
    /// character (except `|`); `a` NULL or a struct from `w_pack`. Strings
    /// written out alias the struct's strings.
    "w_unpack", w_unpack => vh_c_w_unpack
);

trampoline!(
    /// `std::string nVerliHub::nPythonPlugin::stringListToJson(const
    /// std::vector<std::string>&)`, called directly by the generation B
    /// plugin (docs/abi.md §1.3): a JSON array of the strings.
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI.
    "_ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE",
    string_list_to_json => vh_cpp_string_list_to_json
);

trampoline!(
    /// `bool nVerliHub::nPythonPlugin::parseJson(const std::string&,
    /// JsonValue&)`, exported by generation B's wrapper (docs/abi.md §1.3):
    /// true and the value for a well-formed JSON document, else false.
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI and B's `JsonValue`.
    "_ZN9nVerliHub13nPythonPlugin9parseJsonERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERNS0_9JsonValueE",
    parse_json => vh_cpp_parse_json
);

trampoline!(
    /// `std::string nVerliHub::nPythonPlugin::toJsonString(const
    /// JsonValue&, bool pretty)`, generation B (docs/abi.md §1.3): the
    /// value as JSON text, compact or indented.
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI and B's `JsonValue`.
    "_ZN9nVerliHub13nPythonPlugin12toJsonStringB5cxx11ERKNS0_9JsonValueEb",
    to_json_string => vh_cpp_to_json_string
);

trampoline!(
    /// `std::vector<std::string> nVerliHub::nPythonPlugin::jsonToStringList(
    /// const std::string&)`, generation B (docs/abi.md §1.3).
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI.
    "_ZN9nVerliHub13nPythonPlugin16jsonToStringListERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
    json_to_string_list => vh_cpp_json_to_string_list
);

trampoline!(
    /// `std::string nVerliHub::nPythonPlugin::stringMapToJson(const
    /// std::map<std::string, std::string>&)`, generation B (docs/abi.md §1.3).
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI.
    "_ZN9nVerliHub13nPythonPlugin15stringMapToJsonERKSt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEES7_St4lessIS7_ESaISt4pairIKS7_S7_EEE",
    string_map_to_json => vh_cpp_string_map_to_json
);

trampoline!(
    /// `bool nVerliHub::nPythonPlugin::jsonToStringMap(const std::string&,
    /// std::map<std::string, std::string>&)`, generation B (docs/abi.md §1.3).
    ///
    /// # Safety
    /// C++ call only, with the libstdc++ C++11 ABI.
    "_ZN9nVerliHub13nPythonPlugin15jsonToStringMapERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERSt3mapIS6_S6_St4lessIS6_ESaISt4pairIS7_S6_EEE",
    json_to_string_map => vh_cpp_json_to_string_map
);
