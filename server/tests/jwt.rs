//! Operator mode / JWT authentication (nats-protocol spec §3.4, websocket
//! spec §5.5–5.6, TestWSJWTWithAllowedConnectionTypes,
//! TestWSJWTCookieUser). JWTs are minted by `common::jwt`.
//!
//! Every test here passes against the reference nats-server.

mod common;

use common::jwt::{self, User};
use common::{Conn, Server, TempDir};
use nkeys::KeyPair;
use serde_json::{json, Value};

const AV: &str = "Authorization Violation";

/// An operator, one account (with a signing key) and the config trusting
/// them through `resolver: MEMORY` + `resolver_preload`.
struct Trust {
    op: KeyPair,
    acc: KeyPair,
    signing: KeyPair,
}

impl Trust {
    fn new() -> Trust {
        Trust {
            op: KeyPair::new_operator(),
            acc: KeyPair::new_account(),
            signing: KeyPair::new_account(),
        }
    }

    /// Config with `operator` set to `op_value` (inline JWT or a path).
    fn conf_with(&self, op_value: &str, ws_extra: &str) -> String {
        let acc_jwt = jwt::account(&self.op, &self.acc, "A", &[self.signing.public_key()]);
        format!(
            r#"listen: "127.0.0.1:-1"
operator: "{op_value}"
resolver: MEMORY
resolver_preload: {{
  {}: "{acc_jwt}"
}}
websocket {{
  listen: "127.0.0.1:-1"
  no_tls: true
  {ws_extra}
}}
"#,
            self.acc.public_key()
        )
    }

    fn conf(&self, ws_extra: &str) -> String {
        self.conf_with(&jwt::operator(&self.op, None), ws_extra)
    }

    /// A user JWT issued by the account key.
    fn user(&self, kp: &KeyPair, nats: Value) -> String {
        jwt::user(
            &self.acc,
            kp,
            User {
                nats,
                ..User::default()
            },
        )
    }
}

fn connect_line(fields: Value) -> Vec<u8> {
    let mut c = json!({"verbose": false, "pedantic": false, "protocol": 1});
    for (k, v) in fields.as_object().unwrap() {
        c[k] = v.clone();
    }
    format!("CONNECT {c}\r\nPING\r\n").into_bytes()
}

/// Connects, signs the nonce with `signer` (if any) and sends `jwt`.
fn try_jwt(s: &Server, ws: bool, jwt: &str, signer: Option<&KeyPair>) -> Conn {
    let (mut c, info) = Conn::on(s, ws);
    assert_eq!(info["auth_required"], json!(true), "{info}");
    let nonce = info["nonce"].as_str().expect("nonce in operator mode");
    let mut f = json!({ "jwt": jwt });
    if let Some(kp) = signer {
        f["sig"] = json!(jwt::sign_nonce(kp, nonce));
    }
    c.send(&connect_line(f));
    c
}

fn jwt_ok(s: &Server, ws: bool, jwt: &str, signer: Option<&KeyPair>) -> Conn {
    let mut c = try_jwt(s, ws, jwt, signer);
    c.expect("PONG\r\n");
    c
}

fn jwt_refused(s: &Server, ws: bool, jwt: &str, signer: Option<&KeyPair>) {
    let mut c = try_jwt(s, ws, jwt, signer);
    c.expect_err_close(AV, 1008, "Authentication Failure");
}

#[test]
fn user_jwt_signed_by_account() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let ujwt = t.user(&u, json!({}));
    for ws in [false, true] {
        let mut c = jwt_ok(&s, ws, &ujwt, Some(&u));
        // Bound to the account named by the JWT.
        let info = common::parse_info(&c.expect("\r\n"));
        assert_eq!(info["remote_account"], json!(t.acc.public_key()));
        // Missing or wrong signature.
        jwt_refused(&s, ws, &ujwt, None);
        jwt_refused(&s, ws, &ujwt, Some(&KeyPair::new_user()));
    }
    s.expect_log("authentication error");
}

#[test]
fn operator_from_file() {
    let t = Trust::new();
    let dir = TempDir::new();
    let path = dir.0.join("op.jwt");
    std::fs::write(&path, jwt::operator(&t.op, None)).unwrap();
    let s = Server::start(&t.conf_with(path.to_str().unwrap(), ""));
    let u = KeyPair::new_user();
    jwt_ok(&s, false, &t.user(&u, json!({})), Some(&u));
}

#[test]
fn user_jwt_signed_by_account_signing_key() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let ujwt = jwt::user(
        &t.signing,
        &u,
        User {
            issuer_account: Some(t.acc.public_key()),
            ..User::default()
        },
    );
    jwt_ok(&s, false, &ujwt, Some(&u));
    jwt_ok(&s, true, &ujwt, Some(&u));
    // A key that is not one of the account's signing keys.
    let rogue = KeyPair::new_account();
    let bad = jwt::user(
        &rogue,
        &u,
        User {
            issuer_account: Some(t.acc.public_key()),
            ..User::default()
        },
    );
    jwt_refused(&s, false, &bad, Some(&u));
    // Signed by an unknown account.
    let bad = jwt::user(&rogue, &u, User::default());
    jwt_refused(&s, false, &bad, Some(&u));
}

#[test]
fn no_jwt_or_other_credentials_refused() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    for ws in [false, true] {
        let (mut c, _) = Conn::on(&s, ws);
        c.send(&connect_line(json!({})));
        c.expect_err_close(AV, 1008, "Authentication Failure");
        let (mut c, _) = Conn::on(&s, ws);
        c.send(&connect_line(json!({"user": "u", "pass": "p"})));
        c.expect_err_close(AV, 1008, "Authentication Failure");
    }
}

#[test]
fn expired_user_jwt_refused() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let expired = jwt::user(
        &t.acc,
        &u,
        User {
            exp: Some(jwt::now() - 60),
            ..User::default()
        },
    );
    jwt_refused(&s, false, &expired, Some(&u));
    jwt_refused(&s, true, &expired, Some(&u));
    let valid = jwt::user(
        &t.acc,
        &u,
        User {
            exp: Some(jwt::now() + 3600),
            ..User::default()
        },
    );
    jwt_ok(&s, false, &valid, Some(&u));
}

#[test]
fn bearer_jwt_needs_no_signature() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let bearer = t.user(&u, json!({"bearer_token": true}));
    jwt_ok(&s, false, &bearer, None);
    jwt_ok(&s, true, &bearer, None);
}

#[test]
fn jwt_permissions_apply() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let ujwt = t.user(
        &u,
        json!({"pub": {"allow": ["allowed.>"]}, "sub": {"deny": ["secret"]}}),
    );
    let mut c = jwt_ok(&s, false, &ujwt, Some(&u));
    c.expect("\r\n"); // connect_info INFO
    c.send(b"PUB other 1\r\nz\r\n");
    c.expect("-ERR 'Permissions Violation for Publish to \"other\"'\r\n");
    c.send(b"SUB secret 1\r\n");
    c.expect("-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n");
    c.send(b"PUB allowed.x 1\r\nz\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
}

/// TestWSJWTWithAllowedConnectionTypes: unknown types are ignored while a
/// known one remains; none known → refused.
#[test]
fn jwt_allowed_connection_types() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    for (types, ws_ok) in [
        (json!(["STANDARD"]), false),
        (json!(["STANDARD", "websocket"]), true),
        (json!(["WEBSOCKET", "SomeNewType"]), true),
        (json!(["SomeNewType"]), false),
    ] {
        let u = KeyPair::new_user();
        let ujwt = t.user(&u, json!({ "allowed_connection_types": types }));
        if ws_ok {
            jwt_ok(&s, true, &ujwt, Some(&u));
        } else {
            jwt_refused(&s, true, &ujwt, Some(&u));
        }
    }
    let u = KeyPair::new_user();
    let std_only = t.user(&u, json!({"allowed_connection_types": ["STANDARD"]}));
    jwt_ok(&s, false, &std_only, Some(&u));
}

/// TestWSJWTCookieUser: the `jwt_cookie` value stands in for CONNECT's
/// `jwt`; bearer cookies need no signature, others do; CONNECT's `jwt`
/// wins over the cookie.
#[test]
fn jwt_cookie() {
    let t = Trust::new();
    let s = Server::start(&t.conf("jwt_cookie: natsjwt"));
    let port = s.ws_port.unwrap();
    let bu = KeyPair::new_user();
    let bearer = t.user(&bu, json!({"bearer_token": true}));
    let su = KeyPair::new_user();
    let signed = t.user(&su, json!({}));

    // Bearer cookie, bare CONNECT {} (verbose defaults to true).
    let (mut c, _) = Conn::ws(port, &[("Cookie", &format!("natsjwt={bearer}"))]);
    c.send(b"CONNECT {}\r\n");
    c.expect("+OK\r\n");
    c.ping();

    // Non-bearer cookie without a signature.
    let (mut c, _) = Conn::ws(port, &[("Cookie", &format!("natsjwt={signed}"))]);
    c.send(b"CONNECT {}\r\n");
    c.expect_err_close(AV, 1008, "Authentication Failure");

    // Non-bearer cookie with the signature in CONNECT.
    let (mut c, info) = Conn::ws(port, &[("Cookie", &format!("natsjwt={signed}"))]);
    let sig = jwt::sign_nonce(&su, info["nonce"].as_str().unwrap());
    c.send(&connect_line(json!({ "sig": sig })));
    c.expect("PONG\r\n");

    // CONNECT's jwt overrides the cookie.
    let (mut c, _) = Conn::ws(port, &[("Cookie", &format!("natsjwt={signed}"))]);
    c.send(&connect_line(json!({ "jwt": bearer })));
    c.expect("PONG\r\n");

    // The cookie is ignored on other names.
    let (mut c, _) = Conn::ws(port, &[("Cookie", &format!("other={bearer}"))]);
    c.send(b"CONNECT {}\r\n");
    c.expect_err_close(AV, 1008, "Authentication Failure");
}

#[test]
fn jwt_cookie_requires_trust() {
    let e = Server::try_start(
        "listen: \"127.0.0.1:-1\"\nwebsocket {\n listen: \"127.0.0.1:-1\"\n no_tls: true\n jwt_cookie: natsjwt\n}\n",
    )
    .err()
    .expect("refused");
    assert!(
        e.contains(
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"natsjwt\""
        ),
        "{e}"
    );
}

/// An account JWT signed by an operator the server does not trust: its
/// users are refused.
#[test]
fn account_from_untrusted_operator() {
    let t = Trust::new();
    let rogue_op = KeyPair::new_operator();
    let racc = KeyPair::new_account();
    let racc_jwt = jwt::account(&rogue_op, &racc, "R", &[]);
    let conf = t.conf("").replace(
        "resolver_preload: {\n",
        &format!(
            "resolver_preload: {{\n  {}: \"{racc_jwt}\"\n",
            racc.public_key()
        ),
    );
    // nats-server starts (the preload is not checked against the trust).
    let s = Server::start(&conf);
    let u = KeyPair::new_user();
    let ujwt = jwt::user(&racc, &u, User::default());
    jwt_refused(&s, false, &ujwt, Some(&u));
    jwt_refused(&s, true, &ujwt, Some(&u));
    // The trusted account still works.
    jwt_ok(&s, false, &t.user(&u, json!({})), Some(&u));
}

/// A fixed-offset zone (`Etc/GMT±N`) where it is now between 06:00 and
/// 18:00, and the time of day there in seconds, so that windows of a few
/// minutes around now never cross midnight (nats-server and natsws differ
/// only there, docs/compat.md).
fn midday_zone() -> (String, i64) {
    zone_at_hour(12)
}

/// A fixed-offset zone (UTC-11 to UTC+12) where the hour now is `hour`,
/// and the time of day there in seconds.
fn zone_at_hour(hour: i64) -> (String, i64) {
    let now = jwt::now();
    let utc = now.rem_euclid(86_400);
    // Local = UTC + offset; Etc/GMT-5 is UTC+5 (POSIX signs).
    let offset_h = (hour - utc / 3600 + 48) % 24;
    let offset_h = if offset_h > 12 {
        offset_h - 24
    } else {
        offset_h
    };
    let name = match offset_h {
        0 => "Etc/UTC".to_string(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    let local = (now + offset_h * 3600).rem_euclid(86_400);
    (name, local)
}

fn hms(secs_of_day: i64) -> String {
    let s = secs_of_day.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// JWT `times` connect windows in `times_location` (nats-server
/// `validateTimes`): inside a window the user connects; outside it, or in a
/// zone the server does not know, it is an Authorization Violation.
#[test]
fn jwt_times_windows() {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    let (zone, local) = midday_zone();
    let with = |start: i64, end: i64, zone: &str| {
        t.user(
            &u,
            json!({"times": [{"start": hms(start), "end": hms(end)}], "times_location": zone}),
        )
    };
    for ws in [false, true] {
        jwt_ok(&s, ws, &with(local - 600, local + 600, &zone), Some(&u));
        // Two windows: the second is open.
        let two = t.user(
            &u,
            json!({"times": [{"start": hms(local + 600), "end": hms(local + 1200)},
                             {"start": hms(local - 60), "end": hms(local + 60)}],
                   "times_location": zone}),
        );
        jwt_ok(&s, ws, &two, Some(&u));
        jwt_refused(&s, ws, &with(local + 600, local + 1200, &zone), Some(&u));
        // nats-server logs the reason on its own line first.
        s.expect_log("Outside connect times");
        jwt_refused(&s, ws, &with(local - 1200, local - 600, &zone), Some(&u));
        jwt_refused(
            &s,
            ws,
            &with(local - 600, local + 600, "Mars/Olympus"),
            Some(&u),
        );
    }
}

/// The connection closes when its window does (nats-server
/// `setExpiration`): `-ERR 'User Authentication Expired'`, WebSocket close
/// 1008.
#[test]
fn jwt_times_window_end_closes_the_connection() {
    window_ends_in_two_seconds(12, 600);
}

/// Connects over TCP and WebSocket inside a window that opened
/// `opened_secs_ago` in a zone where it is `hour` o'clock and that closes 2 s
/// from now; each connection must be closed then with `User Authentication
/// Expired` (WebSocket close 1008).
fn window_ends_in_two_seconds(hour: i64, opened_secs_ago: i64) {
    let t = Trust::new();
    let s = Server::start(&t.conf(""));
    let u = KeyPair::new_user();
    for ws in [false, true] {
        let (zone, local) = zone_at_hour(hour);
        assert_eq!(local / 3600, hour, "{zone} {local}");
        let jwt = t.user(
            &u,
            json!({"times": [{"start": hms(local - opened_secs_ago), "end": hms(local + 2)}],
                   "times_location": zone}),
        );
        let mut c = jwt_ok(&s, ws, &jwt, Some(&u));
        c.expect_err_close(
            "User Authentication Expired",
            1008,
            "Authentication Expired",
        );
    }
}

/// A window that crossed midnight, seen after midnight (here 03:xx in a
/// window from 22:xx to 03:xx + 2 s): admitted, and closed when the window
/// ends that morning.
#[test]
fn jwt_times_overnight_window_after_midnight() {
    window_ends_in_two_seconds(3, 5 * 3600);
}

/// `$SYS.REQ.USER.INFO` (served by the default system account, operations
/// spec §2.6) tells a JWT user when its credentials expire: `expires` is
/// the time left in whole seconds, as a Go Duration (nanoseconds), and its
/// JWT `pub`/`sub` lists appear as `permissions`.
#[test]
fn user_info_shows_jwt_expiry_and_permissions() {
    let t = Trust::new();
    let sys = KeyPair::new_account();
    let sys_jwt = jwt::account(&t.op, &sys, "SYS", &[]);
    let op = jwt::operator(&t.op, Some(&sys.public_key()));
    let conf = t.conf_with(&op, "").replace(
        "resolver_preload: {",
        &format!(
            "resolver_preload: {{\n  {}: \"{sys_jwt}\"",
            sys.public_key()
        ),
    );
    let s = Server::start(&conf);
    let kp = KeyPair::new_user();
    let user = jwt::user(
        &t.acc,
        &kp,
        User {
            nats: json!({"pub": {"deny": ["secret"]}}),
            exp: Some(jwt::now() + 3600),
            ..User::default()
        },
    );
    let mut c = jwt_ok(&s, false, &user, Some(&kp));
    c.send(b"SUB _INBOX.ui 1\r\nPUB $SYS.REQ.USER.INFO _INBOX.ui 0\r\n\r\n");
    c.expect("MSG _INBOX.ui 1 ");
    let len_line = c.expect("\r\n");
    let len: usize = len_line.trim().parse().unwrap();
    let mut body = c.expect("\r\n");
    while body.len() < len + 2 {
        body.push_str(&c.expect("\r\n"));
    }
    let v: Value = serde_json::from_str(body.trim_end()).unwrap();
    let d = &v["data"];
    let expires = d["expires"].as_u64().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(expires % 1_000_000_000, 0, "{v}");
    let secs = expires / 1_000_000_000;
    assert!((3590..=3600).contains(&secs), "{v}");
    assert_eq!(d["user"], json!(kp.public_key()), "{v}");
    assert_eq!(
        d["permissions"],
        json!({"publish": {"deny": ["secret"]}, "subscribe": {}}),
        "{v}"
    );
}

/// An account JWT with extra `nats` claims (exports, imports).
fn account_with(op: &KeyPair, acc: &KeyPair, name: &str, extra: Value) -> String {
    let mut nats = json!({
        "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                   "wildcards": true, "conn": -1, "leaf": -1},
        "default_permissions": {"pub": {}, "sub": {}},
        "type": "account",
    });
    for (k, v) in extra.as_object().unwrap() {
        nats[k] = v.clone();
    }
    jwt::encode(op, &acc.public_key(), name, None, nats)
}

/// Reads one MSG on `subject` (any sid): returns its reply and payload.
fn read_msg(c: &mut Conn, subject: &str) -> (Option<String>, String) {
    c.expect(&format!("MSG {subject} "));
    let line = c.expect("\r\n");
    let parts: Vec<&str> = line.split_whitespace().collect();
    let len: usize = parts.last().unwrap().parse().unwrap();
    let reply = (parts.len() == 3).then(|| parts[1].to_string());
    let mut body = String::new();
    while body.len() < len + 2 {
        body.push_str(&c.expect("\r\n"));
    }
    (reply, body[..len].to_string())
}

/// Operator mode (spec §3.5): the account JWTs' `exports` and `imports`
/// claims link the accounts as an `accounts {}` block would: a stream
/// import with `local_subject`, one with the deprecated `to` (a prefix), a
/// service import with `local_subject`; an import of a private
/// (`token_req`) export without an activation token, and of a subject not
/// exported, deliver nothing.
#[test]
fn account_jwt_exports_and_imports_link_accounts() {
    let op = KeyPair::new_operator();
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    let (ap, bp) = (a.public_key(), b.public_key());
    let a_jwt = account_with(
        &op,
        &a,
        "A",
        json!({"exports": [
            {"subject": "s.>", "type": "stream"},
            {"subject": "svc.*", "type": "service"},
            {"subject": "priv.>", "type": "stream", "token_req": true},
        ]}),
    );
    let b_jwt = account_with(
        &op,
        &b,
        "B",
        json!({"imports": [
            {"subject": "s.one", "account": ap, "type": "stream", "local_subject": "mine.one"},
            {"subject": "s.two", "account": ap, "type": "stream", "to": "pre"},
            {"subject": "svc.x", "account": ap, "type": "service", "local_subject": "ask"},
            {"subject": "priv.x", "account": ap, "type": "stream"},
            {"subject": "nope", "account": ap, "type": "stream"},
        ]}),
    );
    let conf = format!(
        "listen: \"127.0.0.1:-1\"\noperator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{\n  {ap}: \"{a_jwt}\"\n  {bp}: \"{b_jwt}\"\n}}\n",
        jwt::operator(&op, None)
    );
    let s = Server::start(&conf);
    let login = |acc: &KeyPair| {
        let kp = KeyPair::new_user();
        let u = jwt::user(acc, &kp, User::default());
        jwt_ok(&s, false, &u, Some(&kp))
    };
    let mut ca = login(&a);
    let mut cb = login(&b);
    cb.send(b"SUB mine.one 1\r\nSUB pre.s.two 2\r\nSUB priv.x 3\r\nSUB nope 4\r\nSUB s.one 5\r\n");
    cb.ping();
    ca.send(b"SUB svc.x 9\r\n");
    ca.ping();
    // Streams: the unlinked subjects first, so nothing before the linked
    // ones means they were not delivered.
    ca.send(b"PUB priv.x 1\r\np\r\nPUB nope 1\r\nn\r\nPUB s.one 1\r\n1\r\nPUB s.two 1\r\n2\r\n");
    ca.ping();
    let got = read_msg(&mut cb, "mine.one");
    assert_eq!(got, (None, "1".to_string()));
    let got = read_msg(&mut cb, "pre.s.two");
    assert_eq!(got, (None, "2".to_string()));
    let rest = cb.ping();
    assert!(!rest.contains("MSG"), "{rest}");
    // Service: B's request on its local subject reaches A's responder on
    // the exported one, and the answer comes back.
    cb.send(b"SUB _INBOX.r 7\r\nPUB ask _INBOX.r 2\r\nhi\r\n");
    let (reply, body) = read_msg(&mut ca, "svc.x");
    assert_eq!(body, "hi");
    let reply = reply.expect("a reply subject");
    ca.send(format!("PUB {reply} 3\r\nyes\r\n").as_bytes());
    let (_, body) = read_msg(&mut cb, "_INBOX.r");
    assert_eq!(body, "yes");
}
