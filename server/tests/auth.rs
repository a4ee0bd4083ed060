//! Black-box authentication tests (nats-protocol spec §3, §1.9; websocket
//! spec §5 and §8 group G), over TCP and WebSocket. Exact texts are checked
//! with raw exchanges; async-nats covers the client success paths.
//!
//! Every test here passes against the reference nats-server
//! (`NATSWS_TEST_SERVER_BIN=<nats-server> cargo test -p natsws-server --test auth`).

mod common;

use common::login::{conf, connect, login_ok, login_refused, AV};
use common::{Conn, Server, DEADLINE};
use serde_json::json;

/// The account named in the `connect_info` INFO that follows the first
/// PONG (CONNECT `protocol` 1).
fn bound_account(c: &mut Conn) -> String {
    let line = c.expect("\r\n");
    let info = common::parse_info(&line);
    assert_eq!(info["connect_info"], json!(true), "{line}");
    info["remote_account"].as_str().unwrap().to_string()
}

/// Kills the server and asserts that none of `secrets` appears in any log
/// line it wrote.
fn assert_log_has_no(s: &mut Server, secrets: &[&str]) {
    for l in s.kill_and_drain_log() {
        for sec in secrets {
            assert!(!l.contains(sec), "secret {sec:?} in log line {l:?}");
        }
    }
}

#[test]
fn user_password_tcp_and_ws() {
    let mut s = Server::start(&conf(
        "authorization { user: bob, password: \"s3cr3t-pw\" }",
        "",
    ));
    assert!(
        s.startup_log
            .iter()
            .any(|l| l.contains("Plaintext passwords detected, use nkeys or bcrypt")),
        "{:?}",
        s.startup_log
    );
    for ws in [false, true] {
        let (_, info) = Conn::on(&s, ws);
        assert_eq!(info["auth_required"], json!(true), "ws={ws}");
        assert!(
            info.get("nonce").is_none(),
            "no nonce without nkeys: {info}"
        );
        login_ok(&s, ws, json!({"user": "bob", "pass": "s3cr3t-pw"}));
        login_refused(&s, ws, json!({"user": "bob", "pass": "wrong-pw-1"}));
        s.expect_log("authentication error - User \"bob\"");
        login_refused(&s, ws, json!({"user": "alice", "pass": "s3cr3t-pw"}));
        login_refused(&s, ws, json!({}));
    }
    assert_log_has_no(&mut s, &["s3cr3t-pw", "wrong-pw-1"]);
}

/// With tracing on, CONNECT is traced with `pass`, `auth_token` and `sig`
/// replaced by `[REDACTED]` (spec §1.4); no secret reaches the log.
#[test]
fn trace_redacts_secrets() {
    let kp = nkeys::KeyPair::new_user();
    let mut s = Server::start(&conf(
        &format!(
            "trace: true\nauthorization {{ users: [ {{user: tuser, password: \"tr4ce-pw\"}}, {{nkey: {}}} ] }}",
            kp.public_key()
        ),
        "",
    ));
    login_ok(&s, false, json!({"user": "tuser", "pass": "tr4ce-pw"}));
    s.expect_log("\"pass\":\"[REDACTED]\"");
    login_refused(
        &s,
        true,
        json!({"user": "tuser", "pass": "wr0ng-tr4ce", "auth_token": "tr4ce-tok"}),
    );
    let (mut c, info) = Conn::on(&s, false);
    let sig = common::jwt::sign_nonce(&kp, info["nonce"].as_str().unwrap());
    c.send(&connect(json!({"nkey": kp.public_key(), "sig": sig})));
    c.expect("PONG\r\n");
    let sig_line = s.expect_log("CONNECT");
    assert!(sig_line.contains("[REDACTED]"), "{sig_line}");
    assert_log_has_no(&mut s, &["tr4ce-pw", "wr0ng-tr4ce", "tr4ce-tok", &sig]);
}

/// INFO `nonce`: 11 random bytes in base64url without padding (15
/// characters), only when nkeys are configured.
#[test]
fn info_nonce_format() {
    let kp = nkeys::KeyPair::new_user();
    let s = Server::start(&conf(
        &format!(
            "authorization {{ users: [ {{nkey: {}}}, {{user: u, password: p}} ] }}",
            kp.public_key()
        ),
        "",
    ));
    for ws in [false, true] {
        let (_, info) = Conn::on(&s, ws);
        let nonce = info["nonce"].as_str().expect("nonce");
        assert_eq!(nonce.len(), 15, "{nonce}");
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{nonce}"
        );
    }
    // No auth at all: neither auth_required nor nonce.
    let s = Server::start(&conf("", ""));
    for ws in [false, true] {
        let (_, info) = Conn::on(&s, ws);
        assert!(
            info.get("auth_required").is_none() && info.get("nonce").is_none(),
            "{info}"
        );
    }
}

#[test]
fn first_op_must_be_connect_when_auth_required() {
    let s = Server::start(&conf("authorization { user: bob, password: pw }", ""));
    for ws in [false, true] {
        let (mut c, _) = Conn::on(&s, ws);
        c.send(b"PING\r\n");
        c.expect_err_close(AV, 1008, "Authentication Failure");
        let (mut c, _) = Conn::on(&s, ws);
        c.send(b"SUB foo 1\r\n");
        c.expect_err_close(AV, 1008, "Authentication Failure");
        // Judged by the first byte before parsing (nats-server `parse`):
        // no parse error or payload check before authentication.
        for op in [&b"FOO bar\r\n"[..], b"PUB foo 99999999\r\n", b"\r\n"] {
            let (mut c, _) = Conn::on(&s, ws);
            c.send(op);
            c.expect_err_close(AV, 1008, "Authentication Failure");
        }
    }
}

#[test]
fn bcrypt_password() {
    let hash = bcrypt::hash("bcrypt-pw", 4).unwrap();
    assert!(hash.starts_with("$2"));
    let s = Server::start(&conf(
        &format!("authorization {{ users: [ {{user: carol, password: \"{hash}\"}} ] }}"),
        "",
    ));
    assert!(
        !s.startup_log
            .iter()
            .any(|l| l.contains("Plaintext passwords")),
        "{:?}",
        s.startup_log
    );
    for ws in [false, true] {
        login_ok(&s, ws, json!({"user": "carol", "pass": "bcrypt-pw"}));
        // The hash itself is not a password.
        login_refused(&s, ws, json!({"user": "carol", "pass": hash}));
        login_refused(&s, ws, json!({"user": "carol", "pass": "bcrypt-pX"}));
    }
}

#[test]
fn token_tcp_and_ws() {
    let mut s = Server::start(&conf("authorization { token: \"t0k3n-secret\" }", ""));
    for ws in [false, true] {
        let (_, info) = Conn::on(&s, ws);
        assert_eq!(info["auth_required"], json!(true));
        login_ok(&s, ws, json!({"auth_token": "t0k3n-secret"}));
        login_refused(&s, ws, json!({"auth_token": "bad-t0k3n"}));
        s.expect_log("authentication error - Token \"[REDACTED]\"");
        login_refused(&s, ws, json!({"user": "t0k3n", "pass": "x"}));
    }
    assert_log_has_no(&mut s, &["t0k3n-secret", "bad-t0k3n"]);
}

#[test]
fn users_list() {
    let s = Server::start(&conf(
        "authorization { users: [ {user: alice, password: apw}, {user: bob, password: bpw} ] }",
        "",
    ));
    for ws in [false, true] {
        login_ok(&s, ws, json!({"user": "alice", "pass": "apw"}));
        login_ok(&s, ws, json!({"user": "bob", "pass": "bpw"}));
        login_refused(&s, ws, json!({"user": "alice", "pass": "bpw"}));
        login_refused(&s, ws, json!({"user": "mallory", "pass": "apw"}));
        s.expect_log("authentication error - User \"mallory\"");
    }
}

#[test]
fn nkey_signature() {
    let kp = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let s = Server::start(&conf(
        &format!(
            "authorization {{ users: [ {{nkey: {}}} ] }}",
            kp.public_key()
        ),
        "",
    ));
    for ws in [false, true] {
        let (mut c, info) = Conn::on(&s, ws);
        assert_eq!(info["auth_required"], json!(true));
        let nonce = info["nonce"].as_str().expect("nonce with nkey users");
        assert!(!nonce.is_empty());
        let sig = common::jwt::sign_nonce(&kp, nonce);
        c.send(&connect(json!({"nkey": kp.public_key(), "sig": sig})));
        c.expect("PONG\r\n");
        // A fresh nonce per connection.
        let (mut c, info2) = Conn::on(&s, ws);
        assert_ne!(info2["nonce"], info["nonce"]);
        // The previous connection's signature does not fit this nonce.
        c.send(&connect(json!({"nkey": kp.public_key(), "sig": sig})));
        c.expect_err_close(AV, 1008, "Authentication Failure");
        s.expect_log(&format!(
            "authentication error - Nkey \"{}\"",
            kp.public_key()
        ));
        // Unknown key, correctly signed.
        let (mut c, info) = Conn::on(&s, ws);
        let sig = common::jwt::sign_nonce(&other, info["nonce"].as_str().unwrap());
        c.send(&connect(json!({"nkey": other.public_key(), "sig": sig})));
        c.expect_err_close(AV, 1008, "Authentication Failure");
        // Known key, no signature.
        login_refused(&s, ws, json!({"nkey": kp.public_key()}));
    }
}

#[test]
fn auth_timeout_tcp() {
    let s = Server::start(&conf(
        "authorization { user: a, password: b, timeout: 0.3 }",
        "",
    ));
    let (mut c, _) = Conn::on(&s, false);
    c.expect_err_close("Authentication Timeout", 1008, "Authentication Timeout");
}

/// TestWSAuthTimeout: the websocket `authorization.timeout` overrides the
/// global one. The global one (60 s) is beyond the test deadline, so only
/// the override can produce the error in time; a TCP client opened first
/// can still log in after the ws client timed out.
#[test]
fn ws_auth_timeout_overrides_global() {
    let s = Server::start(&conf(
        "authorization { timeout: 60 }",
        "authorization { user: wsu, password: wsp, timeout: 0.2 }",
    ));
    let (mut tcp, _) = Conn::on(&s, false);
    let (mut c, info) = Conn::on(&s, true);
    assert_eq!(info["auth_required"], json!(true));
    c.expect_err_close("Authentication Timeout", 1008, "Authentication Timeout");
    tcp.send(&connect(json!({})));
    tcp.expect("PONG\r\n");
}

/// TestWSBasicAuth: top-level vs websocket user/password.
#[test]
fn ws_user_password_override_matrix() {
    let top = "authorization { user: normal, password: client }";
    let wsa = "authorization { user: websocket, password: client }";
    // (top-level block, ws block, user, ok)
    let cases = [
        (top, "", "websocket", false),
        (top, "", "normal", true),
        ("", wsa, "normal", false),
        ("", wsa, "websocket", true),
        (top, wsa, "normal", false),
        (top, wsa, "websocket", true),
    ];
    for (t, w, user, ok) in cases {
        let s = Server::start(&conf(t, w));
        // INFO auth_required: ws = top-level or ws override; TCP = top-level.
        let (_, info) = Conn::on(&s, true);
        assert_eq!(info["auth_required"], json!(true));
        let (_, info) = Conn::on(&s, false);
        assert_eq!(info.get("auth_required").is_some(), !t.is_empty(), "{info}");
        let creds = json!({"user": user, "pass": "client"});
        if ok {
            login_ok(&s, true, creds);
        } else {
            login_refused(&s, true, creds);
        }
        // TCP clients always use the top-level settings.
        if !t.is_empty() {
            login_ok(&s, false, json!({"user": "normal", "pass": "client"}));
        }
    }
}

/// TestWSTokenAuth: top-level vs websocket token.
#[test]
fn ws_token_override_matrix() {
    let cases = [
        ("authorization { token: goodtoken }", "", "badtoken", false),
        ("authorization { token: goodtoken }", "", "goodtoken", true),
        ("", "authorization { token: goodtoken }", "badtoken", false),
        ("", "authorization { token: goodtoken }", "goodtoken", true),
        (
            "authorization { token: clienttoken }",
            "authorization { token: websockettoken }",
            "clienttoken",
            false,
        ),
        (
            "authorization { token: clienttoken }",
            "authorization { token: websockettoken }",
            "websockettoken",
            true,
        ),
    ];
    for (t, w, token, ok) in cases {
        let s = Server::start(&conf(t, w));
        let creds = json!({ "auth_token": token });
        if ok {
            login_ok(&s, true, creds);
        } else {
            login_refused(&s, true, creds);
        }
    }
}

/// A websocket `password` alone is no override (websocket spec §5.1): no
/// auth is required over ws.
#[test]
fn ws_password_alone_is_no_override() {
    let s = Server::start(&conf("", "authorization { password: lonely }"));
    let (mut c, info) = Conn::on(&s, true);
    assert!(info.get("auth_required").is_none(), "{info}");
    c.send(&connect(json!({})));
    c.expect("PONG\r\n");
}

/// user/pass and token cookies (websocket spec §5.4).
#[test]
fn ws_cookies() {
    let s = Server::start(&conf(
        "",
        "authorization { user: cu, password: cp }\n user_cookie: nuser\n pass_cookie: npass",
    ));
    let port = s.ws_port.unwrap();
    let (mut c, _) = Conn::ws(port, &[("Cookie", "other=1; nuser=cu; npass=cp")]);
    c.send(&connect(json!({})));
    c.expect("PONG\r\n");
    let (mut c, _) = Conn::ws(port, &[("Cookie", "nuser=cu; npass=wrong")]);
    c.send(&connect(json!({})));
    c.expect_err_close(AV, 1008, "Authentication Failure");
    // CONNECT's own credentials take precedence over the cookies.
    let (mut c, _) = Conn::ws(port, &[("Cookie", "nuser=cu; npass=wrong")]);
    c.send(&connect(json!({"pass": "cp"})));
    c.expect("PONG\r\n");
    // Cookies are matched by exact name.
    let (mut c, _) = Conn::ws(port, &[("Cookie", "NUSER=cu; NPASS=cp")]);
    c.send(&connect(json!({})));
    c.expect_err_close(AV, 1008, "Authentication Failure");

    let s = Server::start(&conf(
        "",
        "authorization { token: cookietok }\n token_cookie: ntok",
    ));
    let port = s.ws_port.unwrap();
    let (mut c, _) = Conn::ws(port, &[("Cookie", "ntok=cookietok")]);
    c.send(&connect(json!({})));
    c.expect("PONG\r\n");
    let (mut c, _) = Conn::ws(port, &[("Cookie", "ntok=nope")]);
    c.send(&connect(json!({})));
    c.expect_err_close(AV, 1008, "Authentication Failure");
}

const NO_AUTH_ACCOUNTS: &str = r#"
accounts {
  normal: { users: [ {user: noauth, password: pwd}, {user: user, password: pwd} ] }
  websocket: { users: [ {user: wsnoauth, password: pwd}, {user: wsuser, password: pwd} ] }
}
no_auth_user: noauth
"#;

/// TestWSNoAuthUser and the global no_auth_user: user and account
/// selection, with and without the websocket override; INFO auth_required.
#[test]
fn no_auth_user_selection() {
    for (override_, ws, creds, acc) in [
        (false, false, None, "normal"),
        (false, true, None, "normal"),
        (false, true, Some("user"), "normal"),
        (true, true, None, "websocket"),
        (true, true, Some("wsuser"), "websocket"),
        (true, false, None, "normal"),
        (true, false, Some("wsuser"), "websocket"),
    ] {
        let ws_conf = if override_ {
            "no_auth_user: wsnoauth"
        } else {
            ""
        };
        let s = Server::start(&conf(NO_AUTH_ACCOUNTS, ws_conf));
        let (mut c, info) = Conn::on(&s, ws);
        if ws {
            // no_auth_user does not clear auth_required for ws clients.
            assert_eq!(info["auth_required"], json!(true), "{info}");
        } else {
            assert!(info.get("auth_required").is_none(), "{info}");
        }
        let fields = match creds {
            Some(u) => json!({"user": u, "pass": "pwd"}),
            None => json!({}),
        };
        c.send(&connect(fields));
        c.expect("PONG\r\n");
        assert_eq!(
            bound_account(&mut c),
            acc,
            "override={override_} ws={ws} creds={creds:?}"
        );
    }
}

/// TestWSNoAuthUserOverride: a PING before CONNECT authenticates as the
/// no_auth_user right away; over ws that is the websocket one. Binding is
/// observed through delivery: only publishers of the same account reach
/// the pre-CONNECT subscription.
#[test]
fn no_auth_user_ping_before_connect_binds() {
    let s = Server::start(&conf(NO_AUTH_ACCOUNTS, "no_auth_user: wsnoauth"));
    for (ws, same, other) in [(false, "user", "wsuser"), (true, "wsuser", "user")] {
        let (mut c, _) = Conn::on(&s, ws);
        c.send(b"PING\r\n");
        c.expect("PONG\r\n");
        // No CONNECT: verbose defaults to true.
        c.send(b"SUB bind.x 1\r\nPING\r\n");
        c.expect("PONG\r\n");
        let mut o = login_ok(&s, false, json!({"user": other, "pass": "pwd"}));
        o.send(b"PUB bind.x 5\r\nother\r\n");
        o.ping();
        let mut p = login_ok(&s, false, json!({"user": same, "pass": "pwd"}));
        p.send(b"PUB bind.x 4\r\nsame\r\n");
        p.ping();
        let got = c.expect("same\r\n");
        assert!(!got.contains("other"), "cross-account delivery: {got:?}");
        let got = c.ping();
        assert!(!got.contains("other"), "cross-account delivery: {got:?}");
    }
}

#[test]
fn no_auth_user_validation() {
    let users = "authorization { users: [ {user: user, password: pwd} ] }";
    let e = Server::try_start(&conf(users, "no_auth_user: notfound"))
        .err()
        .expect("refused");
    assert!(e.contains("not present as user"), "{e}");
    let e = Server::try_start(&conf(
        &format!("{users}\nno_auth_user: user"),
        "no_auth_user: notfound",
    ))
    .err()
    .expect("refused");
    assert!(e.contains("not present as user"), "{e}");
    let e = Server::try_start(&conf("", "no_auth_user: ghost"))
        .err()
        .expect("refused");
    assert!(e.contains("users/nkeys are not defined"), "{e}");
}

/// TestWSUsersAuth / TestWSBindToProperAccount: allowed_connection_types.
#[test]
fn allowed_connection_types() {
    let s = Server::start(&conf(
        r#"accounts {
             a: { users: [ {user: a, password: pwd, allowed_connection_types: ["STANDARD", "websocket"]} ] }
             b: { users: [ {user: std, password: pwd, allowed_connection_types: "STANDARD"},
                           {user: wsonly, password: pwd, allowed_connection_types: ["WEBSOCKET"]} ] }
           }"#,
        "",
    ));
    login_ok(&s, false, json!({"user": "std", "pass": "pwd"}));
    login_refused(&s, true, json!({"user": "std", "pass": "pwd"}));
    login_ok(&s, true, json!({"user": "wsonly", "pass": "pwd"}));
    login_refused(&s, false, json!({"user": "wsonly", "pass": "pwd"}));
    login_refused(&s, true, json!({"user": "a", "pass": "bad"}));
    // Lower-case `websocket` is accepted and the ws client binds to its
    // account: its publish reaches a TCP subscriber of account a.
    let mut sub = login_ok(&s, false, json!({"user": "a", "pass": "pwd"}));
    sub.send(b"SUB foo 1\r\n");
    sub.ping();
    let mut w = login_ok(&s, true, json!({"user": "a", "pass": "pwd"}));
    w.send(b"PUB foo 7\r\nfrom ws\r\nPING\r\n");
    w.expect("PONG\r\n");
    sub.expect("MSG foo 1 7\r\nfrom ws\r\n");
}

/// The no_auth_user fast path still enforces allowed_connection_types.
#[test]
fn no_auth_user_respects_connection_types() {
    let s = Server::start(&conf(
        r#"authorization { users: [ {user: std, password: pwd, allowed_connection_types: ["STANDARD"]} ] }
           no_auth_user: std"#,
        "",
    ));
    login_ok(&s, false, json!({}));
    login_refused(&s, true, json!({}));
}

#[test]
fn unknown_connection_type_is_a_config_error() {
    let e = Server::try_start(&conf(
        r#"authorization { users: [ {user: u, password: p, allowed_connection_types: ["STANDARD", "foo"]} ] }"#,
        "",
    ))
    .err()
    .expect("refused");
    assert!(e.contains("invalid connection types [\"FOO\"]"), "{e}");
}

/// TestWSNkeyAuth: nkey users with connection-type filtering.
#[test]
fn nkey_with_connection_types() {
    let tcp_only = nkeys::KeyPair::new_user();
    let both = nkeys::KeyPair::new_user();
    let s = Server::start(&conf(
        &format!(
            r#"authorization {{ users: [
                 {{nkey: {}, allowed_connection_types: ["STANDARD"]}},
                 {{nkey: {}, allowed_connection_types: ["STANDARD", "WEBSOCKET"]}} ] }}"#,
            tcp_only.public_key(),
            both.public_key()
        ),
        "",
    ));
    for (kp, ws, ok) in [
        (&tcp_only, false, true),
        (&tcp_only, true, false),
        (&both, true, true),
        (&both, false, true),
    ] {
        let (mut c, info) = Conn::on(&s, ws);
        let sig = common::jwt::sign_nonce(kp, info["nonce"].as_str().unwrap());
        c.send(&connect(json!({"nkey": kp.public_key(), "sig": sig})));
        if ok {
            c.expect("PONG\r\n");
        } else {
            c.expect_err_close(AV, 1008, "Authentication Failure");
        }
    }
}

/// A legacy `account` field in CONNECT is an authorization violation.
#[test]
fn connect_account_field_refused() {
    let s = Server::start(&conf("authorization { user: u, password: p }", ""));
    login_refused(&s, false, json!({"user": "u", "pass": "p", "account": "x"}));
}

// ---- async-nats success paths -------------------------------------------

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connects with `opts` to `url`, round-trips one message, returns whether
/// the connection succeeded.
async fn round_trip(opts: async_nats::ConnectOptions, url: String) -> bool {
    use futures_util::StreamExt;
    let Ok(Ok(nc)) = tokio::time::timeout(DEADLINE, opts.connect(url)).await else {
        return false;
    };
    let mut sub = nc.subscribe("rt.x").await.unwrap();
    nc.publish("rt.x", "hi".into()).await.unwrap();
    let m = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("message in time")
        .expect("message");
    assert_eq!(&m.payload[..], b"hi");
    true
}

#[test]
fn async_nats_user_password_token_nkey() {
    let kp = nkeys::KeyPair::new_user();
    let seed = kp.seed().unwrap();
    let s = Server::start(&conf(
        &format!(
            "authorization {{ users: [ {{user: anu, password: anp}}, {{nkey: {}}} ] }}",
            kp.public_key()
        ),
        "",
    ));
    let t = Server::start(&conf("authorization { token: antok }", ""));
    let urls = |s: &Server| [s.nats_url(), s.ws_url()];
    rt().block_on(async {
        for url in urls(&s) {
            let o = async_nats::ConnectOptions::with_user_and_password("anu".into(), "anp".into());
            assert!(round_trip(o, url.clone()).await, "user/pass {url}");
            let o = async_nats::ConnectOptions::with_nkey(seed.clone());
            assert!(round_trip(o, url.clone()).await, "nkey {url}");
            let o = async_nats::ConnectOptions::with_user_and_password("anu".into(), "bad".into());
            assert!(!round_trip(o, url.clone()).await, "bad password {url}");
        }
        for url in urls(&t) {
            let o = async_nats::ConnectOptions::with_token("antok".into());
            assert!(round_trip(o, url.clone()).await, "token {url}");
            let o = async_nats::ConnectOptions::with_token("nope".into());
            assert!(!round_trip(o, url.clone()).await, "bad token {url}");
        }
    });
}

/// `--user`/`--pass` and `--auth` on the command line (spec §3.2).
#[test]
fn cli_user_password_and_token() {
    let s = Server::start_args(&conf("", ""), &["--user", "cliu", "--pass", "clipw"]);
    for ws in [false, true] {
        login_ok(&s, ws, json!({"user": "cliu", "pass": "clipw"}));
        login_refused(&s, ws, json!({"user": "cliu", "pass": "nope"}));
    }
    let s = Server::start_args(&conf("", ""), &["--auth", "clitok"]);
    for ws in [false, true] {
        login_ok(&s, ws, json!({"auth_token": "clitok"}));
        login_refused(&s, ws, json!({"auth_token": "nope"}));
    }
}

/// Only the websocket block names a no_auth_user: ws clients without
/// credentials get it, TCP clients must authenticate.
#[test]
fn ws_only_no_auth_user() {
    let s = Server::start(&conf(
        "authorization { users: [ {user: u, password: p}, {user: wsguest, password: g} ] }",
        "no_auth_user: wsguest",
    ));
    let (_, info) = Conn::on(&s, false);
    assert_eq!(info["auth_required"], json!(true));
    login_refused(&s, false, json!({}));
    login_ok(&s, true, json!({}));
    login_ok(&s, false, json!({"user": "u", "pass": "p"}));
}

/// websocket user/token overrides cannot coexist with users/nkeys
/// (websocket spec §1.4 step 5).
#[test]
fn ws_override_with_users_is_a_config_error() {
    let users = "authorization { users: [ {user: u, password: p} ] }";
    let e = Server::try_start(&conf(users, "authorization { user: w, password: x }"))
        .err()
        .expect("refused");
    assert!(
        e.contains("websocket authentication username not compatible with presence of users/nkeys"),
        "{e}"
    );
    let e = Server::try_start(&conf(users, "authorization { token: t }"))
        .err()
        .expect("refused");
    assert!(
        e.contains("websocket authentication token not compatible with presence of users/nkeys"),
        "{e}"
    );
}
