//! Animated GIF decoding from arbitrary bytes.
//!
//! Run with `cargo +nightly fuzz run gif corpus/gif` in crates/media/fuzz.
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
    decode_bytes("fuzz.gif", &with_magic(data, 0, b"GIF89a"));
});
