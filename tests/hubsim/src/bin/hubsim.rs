//! The `hubsim` command: a trampoline into the C program `hubsim_main` (c/cli.c), which
//! holds all command-line logic. Run `hubsim --help` for usage.

use std::ffi::{CString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

fn main() {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()).expect("arguments cannot contain NUL bytes"))
        .collect();
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
    argv.push(std::ptr::null_mut());
    let argc = c_int::try_from(args.len()).expect("argument count fits in an int");
    // SAFETY: argv holds argc valid NUL-terminated strings followed by a null pointer, all
    // alive (owned by `args`) for the whole call; hubsim_main does not keep them.
    let code = unsafe { vh_hubsim::ffi::hubsim_main(argc, argv.as_mut_ptr()) };
    std::process::exit(code);
}
