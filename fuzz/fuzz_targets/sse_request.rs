//! Fuzz target `sse_request`: see `clarion::fuzzing::sse_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::sse_request(data));
