//! Run with `cargo bench -p framebreak-scheduler --bench million`.
fn main() {}
