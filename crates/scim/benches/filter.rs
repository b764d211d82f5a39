//! Benchmarks of the filter code: run with `cargo bench -p roster-scim --bench filter`.

fn main() {
    divan::main();
}
