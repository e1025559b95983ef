//! Fuzz target `config_toml`: see `clarion::fuzzing::config_toml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::config_toml(data));
