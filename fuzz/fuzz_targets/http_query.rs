//! Fuzz target `http_query`: see `clarion::fuzzing::http_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::http_query(data));
