//! Fuzz target `http_body`: see `clarion::fuzzing::http_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::http_body(data));
