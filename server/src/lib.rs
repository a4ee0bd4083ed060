//! natsws-server: the `natsws` binary's library. A thin shell over
//! `natsws-core`: mio event loop, listeners, rustls, the NATS config
//! language, CLI and HTTP monitoring.
#![warn(missing_docs)]
pub mod cli;
pub mod config;
pub mod options;
