//! Every config block in the seed documents (/work/shared/seeds) as a
//! fixture, with what natsws does with it: start, or refuse with which
//! message. "Refuse" is either a parse error, a startup validation error, or
//! a non-empty `Options::unsupported()` list.

use std::path::{Path, PathBuf};

use natsws_server::options::Options;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// What loading the fixture leads to.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Parses, validates, nothing unsupported.
    Starts,
    /// Config error (parse/convert) containing the text.
    ConfigError(String),
    /// Startup validation error, exact text.
    Invalid(String),
    /// Refused: unsupported features, by name.
    Unsupported(Vec<String>),
}

fn outcome(name: &str) -> Outcome {
    let o = match Options::from_file(&fixture(name)) {
        Ok(o) => o,
        Err(e) => return Outcome::ConfigError(e.to_string()),
    };
    if let Err(e) = o.validate() {
        return Outcome::Invalid(e.to_string());
    }
    let u = o.unsupported();
    if u.is_empty() {
        Outcome::Starts
    } else {
        Outcome::Unsupported(u.into_iter().map(|u| u.feature).collect())
    }
}

fn config_error_at(name: &str, line_col: &str, msg: &str) {
    match outcome(name) {
        Outcome::ConfigError(e) => {
            let want = format!("{name}:{line_col}: {msg}");
            assert!(e.ends_with(&want), "{e}\nwant suffix: {want}");
        }
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn seed_001_websocket_block_with_tls_starts() {
    // port 443 + tls {}: valid for nats-server, and for natsws (wss).
    assert_eq!(outcome("seed_001_websocket.conf"), Outcome::Starts);
    let o = Options::from_file(&fixture("seed_001_websocket.conf")).unwrap();
    assert_eq!(o.websocket.port, 443);
    assert!(o.websocket.tls.is_some());
}

#[test]
fn seed_001_users_fixed_starts() {
    // authorization with users is enforced now.
    assert_eq!(outcome("seed_001_users_fixed.conf"), Outcome::Starts);
}

#[test]
fn seed_004_websocket_zh_same_as_001() {
    assert_eq!(outcome("seed_004_websocket_zh.conf"), Outcome::Starts);
}

#[test]
fn seed_004_users_examples_do_not_parse() {
    // `{user: foo password: foopwd, …}`: nats-server's lexer needs `,`, `;`
    // or a newline between map entries, so the doc example fails before the
    // `{...}` placeholder is even reached (same in nats-server).
    let msg = "Expected a map value terminator ',' or a map terminator '}', but got 'p' instead.";
    config_error_at("seed_004_users_placeholder.conf", "4:16", msg);
    config_error_at("seed_004_users_ws_only.conf", "4:16", msg);
    config_error_at("seed_004_users_std_ws.conf", "4:16", msg);
}

#[test]
fn seed_004_docker_block_starts() {
    // `websocket` then `{` on the next line is a valid block.
    assert_eq!(outcome("seed_004_docker.conf"), Outcome::Starts);
    let o = Options::from_file(&fixture("seed_004_docker.conf")).unwrap();
    assert_eq!((o.websocket.port, o.websocket.no_tls), (8080, true));
}

#[test]
fn seed_003_basic_starts() {
    assert_eq!(outcome("seed_003_basic.conf"), Outcome::Starts);
    let o = Options::from_file(&fixture("seed_003_basic.conf")).unwrap();
    assert!(o.websocket.compression);
}

#[test]
fn seed_003_tls_starts() {
    assert_eq!(outcome("seed_003_tls.conf"), Outcome::Starts);
}

#[test]
fn seed_003_shared_port_config_is_valid() {
    // The config layer accepts it (nats-server too); the claim that ws and
    // monitoring share a port is wrong: the second bind fails at startup
    // (`Unable to listen for websocket connections: …`), outside this layer.
    assert_eq!(outcome("seed_003_shared_port.conf"), Outcome::Starts);
    let o = Options::from_file(&fixture("seed_003_shared_port.conf")).unwrap();
    assert_eq!((o.http_port, o.websocket.port), (8222, 8222));
}

#[test]
fn seed_003_advanced_rejects_no_masking() {
    // `no_masking` is not a nats-server websocket key.
    config_error_at(
        "seed_003_advanced.conf",
        "27:1",
        "unknown field \"no_masking\"",
    );
}

#[test]
fn seed_003_origins_requires_tls() {
    assert_eq!(
        outcome("seed_003_origins.conf"),
        Outcome::Invalid("websocket requires TLS configuration".into())
    );
}

#[test]
fn default_config_starts() {
    let o = Options::from_config_str(natsws_server::cli::DEFAULT_CONFIG, "default.conf").unwrap();
    o.validate().unwrap();
    assert!(o.unsupported().is_empty());
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4222));
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.1"), 8222)
    );
    assert_eq!(
        (o.websocket.host.as_str(), o.websocket.port),
        ("127.0.0.1", 8080)
    );
    assert!(o.websocket.no_tls);
}
