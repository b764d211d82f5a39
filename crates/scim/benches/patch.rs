//! Benchmarks of the patch code: run with `cargo bench -p roster-scim --bench patch`.

fn main() {
    divan::main();
}
