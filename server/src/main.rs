//! The `natsws` command.
fn main() {}
