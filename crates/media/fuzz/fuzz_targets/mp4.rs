//! MP4 container + H.264 decoding from arbitrary bytes.
//!
//! Run with `cargo +nightly fuzz run mp4 corpus/mp4` in crates/media/fuzz.
#![no_main]

include!("../body.rs");

/// Handled re_mp4 panics are not crashes; every other panic aborts, on any
/// thread (libfuzzer-sys would abort on the handled ones too).
fn install_panic_policy() {
    std::panic::set_hook(Box::new(|info| {
        if !panic_is_expected(info) {
            eprintln!("{info}");
            std::process::abort();
        }
    }));
}

libfuzzer_sys::fuzz_target!(init: install_panic_policy(), |data: &[u8]| {
    decode_bytes("fuzz.mp4", &with_magic(data, 4, b"ftyp"));
});
