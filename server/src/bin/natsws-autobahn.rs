//! Test-only: the natsws server's WebSocket listener and event loops with an
//! echo application instead of NATS (feature `autobahn`), so the Autobahn
//! testsuite (`wstest -m fuzzingclient`, `scripts/autobahn.sh`) checks the
//! server's own transport: accept, reads, flush coalescing, writes, the close
//! handshake and the lingering close. Not reachable from any configuration
//! of the `natsws` binary.
//!
//! Usage: `natsws-autobahn <port> [--compress]`. Listens on 127.0.0.1.

use natsws_server::options::Options;
use natsws_server::server;
use natsws_server::settings::Settings;

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
    // Autobahn's largest messages are 16 MiB; the outbound queue must hold
    // an echo of one. No NATS pings and no keepalive pings reach an echo
    // connection (Autobahn expects only echoes).
    let conf = format!(
        "host: 127.0.0.1\nport: -1\nmax_pending: 256MB\nmax_payload: 64MB\n\
         ping_interval: \"24h\"\n\
         websocket {{ host: 127.0.0.1, port: {port}, no_tls: true, compression: {compress}, ping_interval: \"24h\", keepalive: 0 }}\n"
    );
    let settings = Options::from_config_str(&conf, "<natsws-autobahn>")
        .map_err(|e| e.to_string())
        .and_then(|o| Settings::from_options(&o).map_err(|e| e.to_string()));
    let mut settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("natsws-autobahn: {e}");
            std::process::exit(2);
        }
    };
    settings.autobahn_echo = true;
    if let Some(ws) = settings.websocket.as_mut() {
        ws.max_message = natsws_core::ws::echo::MAX_MESSAGE as u64;
    }
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
