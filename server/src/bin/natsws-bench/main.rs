//! `natsws-bench`: a load generator for any NATS server.
fn main() {}
