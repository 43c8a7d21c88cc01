//! APNG and animated WebP decoding from arbitrary bytes: the first byte
//! picks the format.
//!
//! Run with `cargo +nightly fuzz run apng_webp corpus/apng_webp` in crates/media/fuzz.
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
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick % 2 == 0 {
        decode_bytes("fuzz.png", &with_magic(rest, 0, b"\x89PNG\r\n\x1a\n"));
    } else {
        decode_bytes("fuzz.webp", &with_magic(&with_magic(rest, 0, b"RIFF"), 8, b"WEBP"));
    }
});
