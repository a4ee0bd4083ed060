//! natsws-server: the `natsws` binary's library. A thin shell over
//! `natsws-core`: mio event loops, listeners, the NATS config language, CLI,
//! HTTP monitoring and logging.
#![warn(missing_docs)]
#![recursion_limit = "256"]

pub mod account;
pub mod auth;
pub mod cli;
pub mod config;
pub mod deflate;
pub mod deliver;
pub mod info;
pub mod kind;
pub mod log;
pub mod monitor;
pub mod net;
pub mod options;
pub mod server;
pub mod session;
pub mod settings;
pub mod shared;
pub mod sink;
pub mod tls;
pub mod transport;
pub mod ws;
