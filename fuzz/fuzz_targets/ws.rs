//! Fuzz target `ws`: see `fuzz_ws` in checks/proto.rs.
#![no_main]
#![allow(dead_code)]

include!("../checks/proto.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_ws(data));
