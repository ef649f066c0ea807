//! Exported names for the functions written in C and C++.
//!
//! rustc links a cdylib with a version script that exports only Rust's own
//! `#[no_mangle]` items and hides every symbol of linked C archives. The
//! variadic `w_pack`/`w_unpack` (docs/abi.md §2.3, §2.4) and the C++
//! `stringListToJson` (§1.3) therefore live under internal names in
//! `c/pack.c` and `cpp/string_list.cpp`, and the names python_pi resolves
//! are these naked functions: one tail jump each, which leaves every
//! argument register (and `%al`, the vector-register count of a variadic
//! call) untouched, so the callee sees the caller's exact call.

use core::arch::naked_asm;

unsafe extern "C" {
    fn vh_c_w_pack();
    fn vh_c_w_unpack();
    fn vh_cpp_string_list_to_json();
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
