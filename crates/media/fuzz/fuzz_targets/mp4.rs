//! MP4 container + H.264 decoding from arbitrary bytes.
//!
//! Run with `cargo +nightly fuzz run mp4 corpus/mp4` in crates/media/fuzz.
#![no_main]

include!("../body.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    decode_bytes("fuzz.mp4", &with_magic(data, 4, b"ftyp"));
});
