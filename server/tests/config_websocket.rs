//! `websocket { … }` keys (websocket.md §1.2/§1.3) and every startup
//! validation text of §1.4.

use core::time::Duration;

use natsws_server::options::Options;

fn opts(src: &str) -> Options {
    Options::from_config_str(src, "ws.conf").unwrap_or_else(|e| panic!("{e}"))
}

fn opts_err(src: &str) -> String {
    Options::from_config_str(src, "ws.conf")
        .unwrap_err()
        .to_string()
}

fn validate_err(src: &str) -> String {
    opts(src).validate().unwrap_err().to_string()
}

#[test]
fn all_keys_parse() {
    let o = opts(
        r#"ws {
  listen: "127.0.0.1:8080"
  advertise: "ws.example.com:443"
  no_tls: true
  same_origin: true
  allowed_origins: ["http://a.example", "https://b.example:8443"]
  compress: true
  handshake_timeout: "4s"
  jwt_cookie: jwt
  user_cookie: u
  pass_cookie: p
  token_cookie: t
  no_auth_user: someone
  authentication { username: wu, password: wp, timeout: 3 }
  headers { X-Frame-Options: DENY, "Strict-Transport-Security": "max-age=1" }
  ping_interval: "20s"
}
"#,
    );
    let ws = &o.websocket;
    assert_eq!((ws.host.as_str(), ws.port), ("127.0.0.1", 8080));
    assert!(ws.enabled());
    assert_eq!(ws.advertise.as_deref(), Some("ws.example.com:443"));
    assert!(ws.no_tls && ws.same_origin && ws.compression);
    assert_eq!(ws.allowed_origins.len(), 2);
    assert_eq!(ws.handshake_timeout, Duration::from_secs(4));
    assert_eq!(ws.jwt_cookie.as_deref(), Some("jwt"));
    assert_eq!(ws.user_cookie.as_deref(), Some("u"));
    assert_eq!(ws.pass_cookie.as_deref(), Some("p"));
    assert_eq!(ws.token_cookie.as_deref(), Some("t"));
    assert_eq!(ws.no_auth_user.as_deref(), Some("someone"));
    let a = ws.authorization.as_ref().unwrap();
    assert_eq!(a.user.as_deref(), Some("wu"));
    assert_eq!(a.password.as_deref(), Some("wp"));
    assert_eq!(a.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        ws.headers,
        vec![
            ("X-Frame-Options".to_string(), "DENY".to_string()),
            (
                "Strict-Transport-Security".to_string(),
                "max-age=1".to_string()
            )
        ]
    );
    assert_eq!(ws.ping_interval, Some(Duration::from_secs(20)));
    // Every websocket key is enforced: nothing is refused.
    assert!(o.unsupported().is_empty());
}

#[test]
fn defaults_and_forms() {
    let o = opts("websocket { port: 8080, no_tls: true }\n");
    let ws = &o.websocket;
    assert_eq!(ws.bind_host(), "0.0.0.0");
    assert_eq!(ws.handshake_timeout, Duration::ZERO);
    assert!(!ws.compression && !ws.same_origin && ws.ping_interval.is_none());
    assert!(o.validate().is_ok());
    assert!(o.unsupported().is_empty());
    let o = opts("websocket { listen: 9000, handshake_timeout: 2, origin: \"http://x\", compression: true }\n");
    assert_eq!(o.websocket.port, 9000);
    assert_eq!(o.websocket.handshake_timeout, Duration::from_secs(2));
    assert_eq!(o.websocket.allowed_origins, vec!["http://x"]);
    // Unknown-type ws auth timeout silently becomes 1 s (nats-server quirk).
    let o = opts("websocket { authorization { timeout: \"x\" } }\n");
    assert_eq!(
        o.websocket.authorization.unwrap().timeout,
        Some(Duration::from_secs(1))
    );
}

#[test]
fn ws_ping_interval_integer_warns() {
    let o = opts("websocket { ping_interval: 10 }\n");
    assert_eq!(o.websocket.ping_interval, Some(Duration::from_secs(10)));
    assert!(o.warnings[0]
        .message
        .contains("ping_interval should be converted to a duration"));
}

#[test]
fn parse_errors() {
    assert!(opts_err("websocket: 1\n").contains("Expected websocket to be a map, got int64"));
    assert!(opts_err("websocket { port: \"x\" }\n").contains("not int64"));
    assert!(
        opts_err("websocket { listen: true }\n").contains("expected port or host:port, got bool")
    );
    assert!(opts_err("websocket { allowed_origins: [1] }\n")
        .contains("error parsing allowed origins: unsupported type in array int64"));
    assert!(opts_err("websocket { allowed_origins: {a: b} }\n")
        .contains("error parsing allowed origins: unsupported type map[string]interface {}"));
    assert!(opts_err("websocket { handshake_timeout: \"x\" }\n").contains("invalid duration"));
    assert!(opts_err("websocket { handshake_timeout: true }\n")
        .contains("error parsing handshake timeout: unsupported type bool"));
    assert!(opts_err("websocket { headers: 1 }\n")
        .contains("error parsing headers: unsupported type int64"));
    assert!(opts_err("websocket { headers { a: 1 } }\n")
        .contains("error parsing header key a: unsupported type int64"));
    assert!(
        opts_err("websocket { authorization { users: [] } }\n").contains("unknown field \"users\"")
    );
    assert!(opts_err("websocket { unknown_ws: 1 }\n").contains("unknown field \"unknown_ws\""));
    assert!(opts_err("websocket { ping_interval: \"bad\" }\n")
        .contains("error parsing ping_interval: "));
    assert!(
        opts_err("websocket { tls { key_file: k, cert_file: c, foo: 1 } }\n")
            .contains("error parsing tls config, unknown field \"foo\"")
    );
}

// §1.4, in order.

#[test]
fn v14_inert_without_port() {
    // No port: no validation at all.
    assert!(opts("websocket { allowed_origins: [\"bad\"] }\n")
        .validate()
        .is_ok());
}

#[test]
fn v14_requires_tls() {
    assert_eq!(
        validate_err("websocket { port: 8080 }\n"),
        "websocket requires TLS configuration"
    );
    assert!(
        opts("websocket { port: 8080, tls { cert_file: c, key_file: k } }\n")
            .validate()
            .is_ok()
    );
    // no_tls with a tls block: tls wins, still valid.
    assert!(
        opts("websocket { port: 8080, no_tls: false, tls { cert_file: c, key_file: k } }\n")
            .validate()
            .is_ok()
    );
}

#[test]
fn v14_allowed_origins() {
    let base =
        |o: &str| format!("websocket {{ port: 8080, no_tls: true, allowed_origins: [\"{o}\"] }}\n");
    assert_eq!(
        validate_err(&base("foo")),
        "unable to parse allowed origin: parse \"foo\": invalid URI for request"
    );
    assert_eq!(
        validate_err(&base("http://this:is:bad:url")),
        "unable to parse allowed origin: parse \"http://this:is:bad:url\": invalid port \":url\" after host"
    );
    assert_eq!(
        validate_err(&base("ftp://x.example")),
        "unable to parse allowed origin \"ftp://x.example\": allowed origins must be absolute URLs with http or https scheme"
    );
    assert_eq!(
        validate_err(&base("http:///path")),
        "unable to parse allowed origin \"http:///path\": host is required"
    );
    assert!(opts(&base("https://ok.example:8443")).validate().is_ok());
}

#[test]
fn v14_no_auth_user() {
    assert_eq!(
        validate_err("websocket { port: 1, no_tls: true, no_auth_user: u }\n"),
        "no_auth_user: \"u\" present, but users/nkeys are not defined"
    );
    assert_eq!(
        validate_err("authorization { users: [{user: v}] }\nwebsocket { port: 1, no_tls: true, no_auth_user: u }\n"),
        "no_auth_user: \"u\" not present as user or nkey in authorization block or account configuration"
    );
    assert!(opts("accounts { A { users: [{user: u}] } }\nwebsocket { port: 1, no_tls: true, no_auth_user: u }\n")
        .validate()
        .is_ok());
}

#[test]
fn v14_ws_auth_vs_users() {
    assert_eq!(
        validate_err("authorization { users: [{user: v}] }\nwebsocket { port: 1, no_tls: true, authorization { user: x, password: y } }\n"),
        "websocket authentication username not compatible with presence of users/nkeys"
    );
    assert_eq!(
        validate_err("authorization { users: [{nkey: UX}] }\nwebsocket { port: 1, no_tls: true, authorization { token: t } }\n"),
        "websocket authentication token not compatible with presence of users/nkeys"
    );
}

#[test]
fn v14_jwt_cookie_requires_operators() {
    assert_eq!(
        validate_err("websocket { port: 1, no_tls: true, jwt_cookie: my_jwt }\n"),
        "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"my_jwt\""
    );
}

#[test]
fn v14_pinned_certs() {
    let e = validate_err(
        "websocket { port: 1, tls { cert_file: c, key_file: k, pinned_certs: [\"zz\"] } }\n",
    );
    assert!(e.starts_with("websocket: "), "{e}");
}

#[test]
fn v14_forbidden_headers() {
    for h in [
        "Host",
        "content-length",
        "Connection",
        "UPGRADE",
        "Nats-No-Masking",
    ] {
        assert_eq!(
            validate_err(&format!(
                "websocket {{ port: 1, no_tls: true, headers {{ \"{h}\": v }} }}\n"
            )),
            format!("websocket: invalid header \"{h}\" not allowed")
        );
    }
    assert_eq!(
        validate_err("websocket { port: 1, no_tls: true, headers { Sec-WebSocket-Protocol: v } }\n"),
        "websocket: invalid header \"Sec-WebSocket-Protocol\", \"Sec-WebSocket-\" prefix not allowed"
    );
}

#[test]
fn v14_order_first_failure_wins() {
    // No TLS is reported before a bad origin or header.
    assert_eq!(
        validate_err("websocket { port: 1, allowed_origins: [foo], headers { Host: x } }\n"),
        "websocket requires TLS configuration"
    );
    // Websocket validation runs after the global checks.
    assert_eq!(
        validate_err("max_payload: 2MB\nmax_pending: 1MB\nwebsocket { port: 1 }\n"),
        "max_payload (2097152) cannot be higher than max_pending (1048576)"
    );
}

#[test]
fn ws_tls_rejects_known_urls_check() {
    assert!(opts_err(
        "websocket { tls { cert_file: c, key_file: k, verify_cert_and_check_known_urls: true } }\n"
    )
    .contains("verify_cert_and_check_known_urls not supported in this context"));
}
