//! Fuzz target `dotenv`: see `clarion::fuzzing::dotenv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::dotenv(data));
