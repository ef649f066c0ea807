//! Builds the two non-Rust pieces of the shim (docs/abi.md §1.3,
//! §2.3): the variadic `w_pack`/`w_unpack` in C and `stringListToJson` in C++.

fn main() {
    println!("cargo:rerun-if-changed=c/pack.c");
    println!("cargo:rerun-if-changed=cpp/string_list.cpp");
    println!("cargo:rerun-if-changed=cpp/json_marshal.cpp");
    cc::Build::new()
        .file("c/pack.c")
        .flag_if_supported("-std=c11")
        .warnings(true)
        .extra_warnings(true)
        .compile("vh_shim_pack");
    cc::Build::new()
        .cpp(true)
        .file("cpp/string_list.cpp")
        .file("cpp/json_marshal.cpp")
        .flag_if_supported("-std=c++17")
        .warnings(true)
        .compile("vh_shim_cpp");
}
