//! Black-box authorization tests (nats-protocol spec §3.5–3.6, §1.9):
//! publish/subscribe allow and deny lists, queue-qualified entries,
//! delivery-time deny, allow_responses, accounts isolation,
//! default_permissions. Violations keep the connection.
//!
//! Every test here passes against the reference nats-server.

mod common;

use common::{Conn, Server};
use serde_json::json;

fn conf(top: &str) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n}}\n"
    )
}

fn login(s: &Server, ws: bool, user: &str) -> Conn {
    let (mut c, _) = Conn::on(s, ws);
    let cj = json!({"verbose": false, "pedantic": false, "protocol": 1, "user": user, "pass": "p"});
    c.send(format!("CONNECT {cj}\r\nPING\r\n").as_bytes());
    c.expect("PONG\r\n");
    c
}

fn pub_violation(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Publish to \"{subject}\"'\r\n")
}

fn sub_violation(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Subscription to \"{subject}\"'\r\n")
}

const USERS: &str = r#"
authorization {
  users: [
    {user: admin, password: p}
    {user: limited, password: p, permissions: {
        publish: { allow: ["allowed.>", "x"], deny: ["allowed.secret"] }
        subscribe: { allow: ["sub.>", "q.* workers", "wild.>", "both.*", "both.* grp"],
                     deny: ["sub.deny", "wild.secret.*", "both.no", "both.d grp"] }
    }}
    {user: resp, password: p, permissions: { subscribe: "svc.>", allow_responses: true }}
  ]
}
"#;

#[test]
fn publish_allow_and_deny() {
    let s = Server::start(&conf(USERS));
    for ws in [false, true] {
        let mut admin = login(&s, false, "admin");
        admin.send(b"SUB > 1\r\n");
        admin.ping();
        let mut c = login(&s, ws, "limited");
        for denied in ["denied.x", "allowed.secret", "xx", "allowed"] {
            c.send(format!("PUB {denied} 2\r\nno\r\n").as_bytes());
            c.expect(&pub_violation(denied));
        }
        // The connection is kept and allowed subjects still flow.
        c.send(b"PUB allowed.a.b 3\r\nyes\r\nPUB x 3\r\nyes\r\n");
        c.ping();
        let got = admin.expect("MSG x 1 3\r\nyes\r\n");
        assert!(got.contains("MSG allowed.a.b 1 3\r\nyes\r\n"), "{got:?}");
        assert!(!got.contains("no\r\n"), "denied message delivered: {got:?}");
    }
}

#[test]
fn subscribe_allow_and_deny() {
    let s = Server::start(&conf(USERS));
    for ws in [false, true] {
        let mut c = login(&s, ws, "limited");
        c.send(b"SUB sub.deny 1\r\n");
        c.expect(&sub_violation("sub.deny"));
        c.send(b"SUB other 2\r\n");
        c.expect(&sub_violation("other"));
        // Wildcard SUB subjects are matched as literal token lists.
        c.send(b"SUB sub.* 3\r\n");
        c.send(b"SUB wild.secret.* 4\r\n");
        c.expect(&sub_violation("wild.secret.*"));
        c.send(b"SUB wild.secret.> 5\r\n");
        c.expect(&sub_violation("wild.secret.>"));
        c.send(b"SUB > 6\r\n");
        c.expect(&sub_violation(">"));
        let rest = c.ping();
        assert!(!rest.contains("-ERR"), "{rest:?}");
        // sub.* (sid 3) is live.
        let mut admin = login(&s, false, "admin");
        admin.send(b"PUB sub.ok 2\r\nhi\r\n");
        admin.ping();
        c.expect("MSG sub.ok 3 2\r\nhi\r\n");
    }
}

#[test]
fn queue_qualified_subscribe_entries() {
    let s = Server::start(&conf(USERS));
    let mut c = login(&s, false, "limited");
    // "q.* workers": only queue workers.
    c.send(b"SUB q.a workers 1\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
    c.send(b"SUB q.a others 2\r\n");
    c.expect("-ERR 'Permissions Violation for Subscription to \"q.a\" using queue \"others\"'\r\n");
    // A plain SUB is allowed only by plain entries.
    c.send(b"SUB q.a 3\r\n");
    c.expect(&sub_violation("q.a"));
    // "both.*" (plain) and "both.* grp": a queue SUB must use grp.
    c.send(b"SUB both.a 4\r\nSUB both.a grp 5\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
    c.send(b"SUB both.a zzz 6\r\n");
    c.expect("-ERR 'Permissions Violation for Subscription to \"both.a\" using queue \"zzz\"'\r\n");
    // A plain deny entry denies every queue.
    c.send(b"SUB both.no grp 7\r\n");
    c.expect(
        "-ERR 'Permissions Violation for Subscription to \"both.no\" using queue \"grp\"'\r\n",
    );
    // A queue-qualified deny entry denies only that queue.
    c.send(b"SUB both.d grp 8\r\n");
    c.expect("-ERR 'Permissions Violation for Subscription to \"both.d\" using queue \"grp\"'\r\n");
    c.send(b"SUB both.d 9\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
    // Only plain entries match sub.x: any queue but _sys_.
    c.send(b"SUB sub.x anyq 10\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
    c.send(b"SUB sub.x _sys_ 11\r\n");
    c.expect(
        "-ERR 'Permissions Violation for Subscription to \"sub.x\" using queue \"_sys_\"'\r\n",
    );
    c.ping();
    // Also without any permissions.
    let mut a = login(&s, false, "admin");
    a.send(b"SUB sub.x _sys_ 1\r\n");
    a.expect(
        "-ERR 'Permissions Violation for Subscription to \"sub.x\" using queue \"_sys_\"'\r\n",
    );
    a.ping();
}

/// A permitted wildcard SUB that can still see denied subjects: those
/// messages are dropped at delivery time.
#[test]
fn delivery_time_deny_drop() {
    let s = Server::start(&conf(USERS));
    for ws in [false, true] {
        let mut c = login(&s, ws, "limited");
        c.send(b"SUB wild.> 1\r\n");
        c.ping();
        let mut admin = login(&s, false, "admin");
        admin.send(b"PUB wild.secret.x 6\r\nsecret\r\nPUB wild.ok 4\r\nfine\r\n");
        admin.ping();
        let got = c.expect("MSG wild.ok 1 4\r\nfine\r\n");
        assert!(!got.contains("secret"), "denied subject delivered: {got:?}");
        // Nothing else arrives later either.
        let rest = c.ping();
        assert!(!rest.contains("secret"), "{rest:?}");
    }
}

#[test]
fn allow_responses_once() {
    let s = Server::start(&conf(USERS));
    let mut r = login(&s, false, "resp");
    r.send(b"SUB svc.> 1\r\n");
    r.ping();
    let mut admin = login(&s, false, "admin");
    admin.send(b"SUB _INBOX.me 9\r\nPUB svc.req _INBOX.me 3\r\nreq\r\n");
    admin.ping();
    r.expect("MSG svc.req 1 _INBOX.me 3\r\nreq\r\n");
    // No publish allow list: plain publishes are denied.
    r.send(b"PUB other 1\r\nz\r\n");
    r.expect(&pub_violation("other"));
    // One response to the delivered reply subject …
    r.send(b"PUB _INBOX.me 4\r\nresp\r\n");
    r.ping();
    admin.expect("MSG _INBOX.me 9 4\r\nresp\r\n");
    // … and only one.
    r.send(b"PUB _INBOX.me 5\r\nresp2\r\n");
    r.expect(&pub_violation("_INBOX.me"));
    let rest = r.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
    let rest = admin.ping();
    assert!(
        !rest.contains("resp2"),
        "second response delivered: {rest:?}"
    );
}

#[test]
fn accounts_isolation() {
    let s = Server::start(&conf(
        r#"accounts {
             A: { users: [ {user: a1, password: p}, {user: a2, password: p} ] }
             B: { users: [ {user: b1, password: p} ] }
           }"#,
    ));
    for ws in [false, true] {
        let mut a1 = login(&s, ws, "a1");
        a1.send(b"SUB foo 1\r\n");
        a1.ping();
        let mut b1 = login(&s, !ws, "b1");
        b1.send(b"SUB foo 1\r\nPUB foo 6\r\nfrom-b\r\n");
        b1.ping();
        let mut a2 = login(&s, false, "a2");
        a2.send(b"PUB foo 6\r\nfrom-a\r\n");
        a2.ping();
        let got = a1.expect("MSG foo 1 6\r\nfrom-a\r\n");
        assert!(!got.contains("from-b"), "cross-account delivery: {got:?}");
        let got = a1.ping();
        assert!(!got.contains("from-b"), "cross-account delivery: {got:?}");
        // b1 saw its own message only.
        let got = b1.ping();
        assert!(!got.contains("from-a"), "cross-account delivery: {got:?}");
    }
}

#[test]
fn default_permissions() {
    let s = Server::start(&conf(
        r#"authorization {
             default_permissions: { publish: "ok.>", subscribe: { deny: "hidden" } }
             users: [
               {user: d, password: p}
               {user: full, password: p, permissions: { publish: ">" }}
             ]
           }"#,
    ));
    for ws in [false, true] {
        let mut d = login(&s, ws, "d");
        d.send(b"PUB no 1\r\nz\r\n");
        d.expect(&pub_violation("no"));
        d.send(b"SUB hidden 1\r\n");
        d.expect(&sub_violation("hidden"));
        d.send(b"PUB ok.1 1\r\nz\r\n");
        let rest = d.ping();
        assert!(!rest.contains("-ERR"), "{rest:?}");
        let mut f = login(&s, ws, "full");
        f.send(b"PUB no 1\r\nz\r\n");
        let rest = f.ping();
        assert!(!rest.contains("-ERR"), "{rest:?}");
    }
}

#[test]
fn account_default_permissions() {
    let s = Server::start(&conf(
        r#"accounts {
             A: { default_permissions: { publish: { deny: "forbidden.>" } },
                  users: [ {user: u, password: p} ] }
           }"#,
    ));
    let mut c = login(&s, false, "u");
    c.send(b"PUB forbidden.x 1\r\nz\r\n");
    c.expect(&pub_violation("forbidden.x"));
    c.send(b"PUB fine 1\r\nz\r\n");
    let rest = c.ping();
    assert!(!rest.contains("-ERR"), "{rest:?}");
}
