//! Fuzz target for the filter code: `cargo fuzz run filter` from crates/scim.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
