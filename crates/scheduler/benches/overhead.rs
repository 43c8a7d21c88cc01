//! Run with `cargo bench -p framebreak-scheduler --bench overhead`.
fn main() {}
