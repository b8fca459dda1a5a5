//! Fuzz target `api`: see `fuzz_api` in checks/api.rs.
#![no_main]
#![allow(dead_code)]

include!("../checks/api.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_api(data));
