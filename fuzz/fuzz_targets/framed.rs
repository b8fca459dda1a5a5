//! Fuzz target `framed`: see `fuzz_framed` in checks/proto.rs.
#![no_main]
#![allow(dead_code)]

include!("../checks/proto.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_framed(data));
