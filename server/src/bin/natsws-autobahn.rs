//! Test-only: the natsws server's WebSocket listener and event loops with an
//! echo application instead of NATS (feature `autobahn`), so the Autobahn
//! testsuite (`wstest -m fuzzingclient`, `scripts/autobahn.sh`) checks the
//! server's own transport: accept, reads, flush coalescing, writes, the close
//! handshake and the lingering close. Not reachable from any configuration
//! of the `natsws` binary.
//!
//! Usage: `natsws-autobahn <port> [--compress]`. Listens on 127.0.0.1.

use std::time::Duration;

use natsws_core::ws::handshake::UpgradeConfig;
use natsws_server::server;
use natsws_server::settings::Settings;
use natsws_server::ws::WsListenConfig;

fn main() {
    let mut port = 9001u16;
    let mut compress = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--compress" => compress = true,
            p => match p.parse() {
                Ok(n) => port = n,
                Err(e) => {
                    eprintln!("natsws-autobahn: bad port {p:?}: {e}");
                    std::process::exit(2);
                }
            },
        }
    }
    let mut upgrade = UpgradeConfig::default();
    upgrade.compression = compress;
    let settings = Settings {
        client_addr: "127.0.0.1:0".parse().expect("literal"),
        websocket: Some(WsListenConfig {
            addr: ([127, 0, 0, 1], port).into(),
            no_tls: true,
            handshake_timeout: Duration::from_secs(10),
            compression: compress,
            same_origin: false,
            allowed_origins: Vec::new(),
            // No NATS pings reach an echo connection; keep the session quiet.
            ping_interval: Duration::from_secs(24 * 3600),
            upgrade,
            trusted_proxies: Vec::new(),
            upgrade_rate_limit: None,
            max_message: natsws_core::ws::echo::MAX_MESSAGE as u64,
            tls: None,
            echo: true,
        }),
        // Autobahn's largest messages are 16 MiB; the outbound queue must
        // hold an echo of one.
        max_pending: 256 * 1024 * 1024,
        max_payload: 64 * 1024 * 1024,
        ping_interval: Duration::from_secs(24 * 3600),
        ..Settings::default()
    };
    let running = match server::start(settings) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("natsws-autobahn: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "natsws-autobahn listening on {:?} (compression {})",
        running.shared.ws_addr,
        if compress { "on" } else { "off" }
    );
    loop {
        std::thread::park();
    }
}
