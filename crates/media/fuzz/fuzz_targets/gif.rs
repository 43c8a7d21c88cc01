//! Animated GIF decoding from arbitrary bytes.
//!
//! Run with `cargo +nightly fuzz run gif corpus/gif` in crates/media/fuzz.
#![no_main]

include!("../body.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    decode_bytes("fuzz.gif", &with_magic(data, 0, b"GIF89a"));
});
