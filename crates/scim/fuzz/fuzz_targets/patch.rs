//! Fuzz target for the patch code: `cargo fuzz run patch` from crates/scim.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
