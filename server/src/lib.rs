//! natsws-server: the `natsws` binary's library. A thin shell over
//! `natsws-core`: mio event loops, listeners, the NATS config language, CLI,
//! HTTP monitoring and logging.
#![warn(missing_docs)]
#![recursion_limit = "256"]

pub(crate) mod account;
pub mod auth;
pub mod cli;
pub mod config;
pub(crate) mod deliver;
pub mod healthcheck;
pub(crate) mod imports;
pub(crate) mod info;
pub(crate) mod jwt_links;
pub mod kind;
pub(crate) mod leaf_creds;
pub(crate) mod leaf_interest;
pub(crate) mod leaf_perms;
pub(crate) mod leaf_proxy_head;
pub(crate) mod leaf_remote;
pub(crate) mod leaf_tls;
pub(crate) mod leaf_tunnel;
pub(crate) mod leaf_version;
pub mod log;
pub(crate) mod monitor;
pub(crate) mod mqtt;
pub(crate) mod net;
pub mod options;
pub mod reload;
pub(crate) mod rtt;
pub mod server;
pub(crate) mod session;
pub mod settings;
pub(crate) mod shared;
pub(crate) mod sink;
pub(crate) mod system;
pub mod tls;
pub mod ws;
pub(crate) mod ws_frames;

/// The version natsws reports in INFO, `/varz` and `--version`.
pub use info::VERSION;
