//! Fuzz target `client_frame`: see `clarion::fuzzing::client_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::client_frame(data));
