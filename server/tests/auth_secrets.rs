//! A user with a secret is never let in without it, over TCP and
//! WebSocket, one test per way a user can be matched (issue 13 §1); and a
//! user without a password whom a `verify_and_map` listener could map is a
//! certificate-only identity on every other listener (nats-server
//! `canTLSMap` and `processClientOrLeafAuthentication`).
//!
//! Every test here passes against the reference nats-server
//! (`NATSWS_TEST_SERVER_BIN=<nats-server> cargo test -p natsws-server --test auth_secrets`).
//! The JWT ways (non-bearer JWT without `sig`, over both transports) are in
//! `jwt.rs` (`user_jwt_signed_by_account`, `bearer_jwt_needs_no_signature`).

mod common;

use common::login::{conf, login_ok, login_refused};
use common::pki::Pki;
use common::{Conn, Server};
use serde_json::{json, Value};

const CERT_USER: &str = "CN=app,OU=web,O=example";

/// The CONNECT fields that carry no secret for user `name`: no `pass`, an
/// empty `pass`, and a token in place of the password.
fn no_secret(name: &str) -> [Value; 3] {
    [
        json!({ "user": name }),
        json!({ "user": name, "pass": "" }),
        json!({ "user": name, "auth_token": "pw" }),
    ]
}

/// The users block of the issue: the certificate user without a password
/// and a password user.
fn users() -> String {
    format!(
        r#"authorization {{ users: [
  {{ user: "{CERT_USER}", permissions: {{ publish: "mapped.>", subscribe: "mapped.>" }} }}
  {{ user: tcpuser, password: tcppass }}
] }}"#
    )
}

/// Client port (plain) and a wss listener with `verify_and_map`: the
/// issue's config.
fn wss_maps(pki: &Pki, top: &str) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\n{}\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  tls {{\n  {}\n  }}\n}}\n",
        users(),
        pki.block("verify_and_map: true")
    )
}

/// A TLS client port with `verify_and_map` and a plain websocket listener.
fn tcp_maps(pki: &Pki) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\n{}\ntls {{\n  {}\n}}\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n}}\n",
        users(),
        pki.block("verify_and_map: true")
    )
}

#[test]
fn cert_user_refused_by_name_on_the_client_port_when_wss_maps() {
    let pki = Pki::new();
    let s = Server::start(&wss_maps(&pki, ""));
    for fields in no_secret(CERT_USER) {
        login_refused(&s, false, fields);
    }
    // The DN written another way names the same certificate user.
    login_refused(&s, false, json!({ "user": "O=example,OU=web,CN=app" }));
    login_ok(&s, false, json!({ "user": "tcpuser", "pass": "tcppass" }));
}

#[test]
fn cert_user_refused_by_name_on_websocket_when_the_client_port_maps() {
    let pki = Pki::new();
    let s = Server::start(&tcp_maps(&pki));
    for fields in no_secret(CERT_USER) {
        login_refused(&s, true, fields);
    }
    // Through the user cookie, with no pass cookie.
    let s = Server::start(&tcp_maps(&pki).replace(
        "no_tls: true",
        "no_tls: true\n  user_cookie: u\n  pass_cookie: p",
    ));
    let ws = s.ws_port.unwrap();
    let (mut c, _) = Conn::ws(ws, &[("Cookie", &format!("u=\"{CERT_USER}\""))]);
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect_err_close(common::login::AV, 1008, "Authentication Failure");
}

#[test]
fn cert_user_as_no_auth_user_is_bound_without_a_secret() {
    let pki = Pki::new();
    let s = Server::start(&wss_maps(&pki, &format!("no_auth_user: \"{CERT_USER}\"")));
    let mut c = login_ok(&s, false, json!({}));
    // Bound with the certificate user's permissions.
    c.send(b"PUB other 1\r\nx\r\nPING\r\n");
    c.expect("Permissions Violation for Publish to \"other\"");
}

#[test]
fn passwordless_user_without_any_mapping_listener_logs_in_by_name() {
    // As nats-server: when no listener maps certificates, two empty
    // passwords compare equal.
    let s = Server::start(&conf(&users(), ""));
    for ws in [false, true] {
        login_ok(&s, ws, json!({ "user": CERT_USER }));
        login_refused(&s, ws, json!({ "user": CERT_USER, "pass": "x" }));
    }
}

#[test]
fn password_and_bcrypt_users_refuse_missing_or_empty_password() {
    let bcrypt = "$2a$11$xH8dkGrP8ZnNhAwkNDMu2.ZKKPkpqWGX3HG0OcY9tFqeRBvWi8KRW";
    let s = Server::start(&conf(
        &format!(
            "authorization {{ users: [ {{ user: plain, password: pw }}, {{ user: hashed, password: \"{bcrypt}\" }} ] }}"
        ),
        "",
    ));
    for ws in [false, true] {
        for name in ["plain", "hashed"] {
            for fields in no_secret(name) {
                login_refused(&s, ws, fields);
            }
        }
        login_refused(&s, ws, json!({}));
        login_ok(&s, ws, json!({ "user": "plain", "pass": "pw" }));
    }
}

#[test]
fn single_user_and_tokens_refuse_missing_or_empty_secret() {
    let bcrypt_token = "$2a$11$xH8dkGrP8ZnNhAwkNDMu2.ZKKPkpqWGX3HG0OcY9tFqeRBvWi8KRW";
    for (top, secretless) in [
        (
            "authorization { user: u, password: pw }".to_string(),
            [
                json!({ "user": "u" }),
                json!({ "user": "u", "pass": "" }),
                json!({}),
            ],
        ),
        (
            "authorization { token: tok }".to_string(),
            [
                json!({ "auth_token": "" }),
                json!({ "user": "tok" }),
                json!({}),
            ],
        ),
        (
            format!("authorization {{ token: \"{bcrypt_token}\" }}"),
            [
                json!({ "auth_token": "" }),
                json!({ "pass": "" }),
                json!({}),
            ],
        ),
    ] {
        let s = Server::start(&conf(&top, ""));
        for ws in [false, true] {
            for fields in &secretless {
                login_refused(&s, ws, fields.clone());
            }
        }
    }
}

#[test]
fn nkey_without_signature_is_refused() {
    let kp = nkeys::KeyPair::new_user();
    let s = Server::start(&conf(
        &format!(
            "authorization {{ users: [ {{ nkey: {} }} ] }}",
            kp.public_key()
        ),
        "",
    ));
    for ws in [false, true] {
        for sig in [None, Some(""), Some("AAAA")] {
            let mut f = json!({ "nkey": kp.public_key() });
            if let Some(sig) = sig {
                f["sig"] = json!(sig);
            }
            login_refused(&s, ws, f);
        }
    }
}

#[test]
fn websocket_override_refuses_missing_secret_and_is_no_credential_on_tcp() {
    for (ws_auth, secretless, good) in [
        (
            "authorization { user: wu, password: wp }",
            [
                json!({ "user": "wu" }),
                json!({ "user": "wu", "pass": "" }),
                json!({}),
            ],
            json!({ "user": "wu", "pass": "wp" }),
        ),
        (
            "authorization { token: wt }",
            [
                json!({ "auth_token": "" }),
                json!({ "user": "wt" }),
                json!({}),
            ],
            json!({ "auth_token": "wt" }),
        ),
    ] {
        let s = Server::start(&conf(
            "authorization { user: tcpuser, password: tcppass }",
            ws_auth,
        ));
        for fields in secretless {
            login_refused(&s, true, fields);
        }
        login_ok(&s, true, good.clone());
        // The websocket block's credentials do not open the client port.
        login_refused(&s, false, good);
        login_ok(&s, false, json!({ "user": "tcpuser", "pass": "tcppass" }));
    }
}

#[test]
fn user_meant_for_one_listener_is_refused_on_the_other() {
    let s = Server::start(&conf(
        r#"authorization { users: [
  { user: wsonly, password: w, allowed_connection_types: ["WEBSOCKET"] }
  { user: tcponly, password: t, allowed_connection_types: ["STANDARD"] }
] }"#,
        "",
    ));
    login_ok(&s, true, json!({ "user": "wsonly", "pass": "w" }));
    login_refused(&s, false, json!({ "user": "wsonly", "pass": "w" }));
    login_ok(&s, false, json!({ "user": "tcponly", "pass": "t" }));
    login_refused(&s, true, json!({ "user": "tcponly", "pass": "t" }));
}
