//! cargo-fuzz target `proto_decode`: see `vh_fuzz::proto_decode`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::proto_decode(data));
