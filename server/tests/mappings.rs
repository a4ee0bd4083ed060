//! Subject mappings (operations spec §3.4): top-level (global account) and
//! per account, wildcard tokens, functions, weighted destinations, and the
//! startup errors. Runs against natsws and, with `NATSWS_TEST_SERVER_BIN`,
//! against nats-server.

mod common;

use common::login::{conf, connect};
use common::{Conn, Server};
use serde_json::json;

const GLOBAL: &str = r#"
mappings {
  "orders.*": "orders.v2.{{wildcard(1)}}"
  "swap.*.*": "swapped.$2.$1"
  "part.*": "part.{{partition(3,1)}}.{{wildcard(1)}}"
  "fn.*": "fn.{{splitFromLeft(1,2)}}.{{SliceFromRight(1,2)}}"
  "rest.*.>": "rest2.$1.>"
  "lr.*": "lr.{{left(1,2)}}.{{right(1,2)}}"
  "w": [{destination: "w.a", weight: 50%}, {destination: "w.b", weight: 50}]
  "split30": [{destination: "split30.moved", weight: 30}]
}
"#;

/// Everything `c` received before the answer to a PING.
fn drain(c: &mut Conn) -> String {
    let got = c.ping();
    got.strip_suffix("PONG\r\n").unwrap_or(&got).to_string()
}

/// A connected anonymous client (or one logged in with `user`).
fn client(s: &Server, ws: bool, user: Option<&str>) -> Conn {
    let (mut c, _) = Conn::on(s, ws);
    match user {
        Some(u) => c.send(&connect(json!({"user": u, "pass": u}))),
        None => c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n"),
    }
    c.expect("PONG\r\n");
    c
}

#[test]
fn global_mappings_rewrite_published_subjects() {
    let s = Server::start(&conf(GLOBAL, ""));
    for ws in [false, true] {
        let mut sub = client(&s, ws, None);
        let mut publ = client(&s, !ws, None);
        sub.send(b"SUB orders.> 1\r\nSUB swapped.> 2\r\nSUB part.> 3\r\nSUB fn.> 4\r\nSUB rest2.> 5\r\nSUB rest.> 6\r\n");
        sub.send(b"SUB lr.> 8\r\n");
        sub.ping();
        publ.send(b"PUB orders.17 1\r\na\r\nPUB swap.x.y 1\r\nb\r\n");
        publ.send(b"PUB part.k1 1\r\nc\r\nPUB part.k3 1\r\nd\r\nPUB part.order-42 1\r\ne\r\n");
        publ.send(b"PUB fn.abcde 1\r\nf\r\nPUB rest.q.r.s 1\r\ng\r\n");
        publ.send(b"PUB lr.abcde 1\r\ni\r\n");
        publ.ping();
        assert_eq!(
            drain(&mut sub),
            "MSG orders.v2.17 1 1\r\na\r\n\
             MSG swapped.y.x 2 1\r\nb\r\n\
             MSG part.0.k1 3 1\r\nc\r\n\
             MSG part.2.k3 3 1\r\nd\r\n\
             MSG part.2.order-42 3 1\r\ne\r\n\
             MSG fn.ab.cde.a.bc.de 4 1\r\nf\r\n\
             MSG rest2.q.r.s 5 1\r\ng\r\n\
             MSG lr.ab.de 8 1\r\ni\r\n",
            "ws={ws}"
        );
    }
}

/// Publishes `n` messages on `subject` and counts where they land among
/// `subjects` (every MSG must be on one of them).
fn spread(s: &Server, subject: &str, subjects: &[&str], n: usize) -> Vec<usize> {
    let mut sub = client(s, false, None);
    for (i, t) in subjects.iter().enumerate() {
        sub.send(format!("SUB {t} {i}\r\n").as_bytes());
    }
    sub.ping();
    let mut publ = client(s, true, None);
    let mut batch = Vec::new();
    for _ in 0..n {
        batch.extend_from_slice(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
    }
    publ.send(&batch);
    publ.ping();
    let got = drain(&mut sub);
    let mut counts = vec![0; subjects.len()];
    let mut total = 0;
    for line in got.lines().filter(|l| l.starts_with("MSG ")) {
        let subj = line.split(' ').nth(1).unwrap();
        let i = subjects
            .iter()
            .position(|t| *t == subj)
            .unwrap_or_else(|| panic!("landed on {subj}"));
        counts[i] += 1;
        total += 1;
    }
    assert_eq!(total, n, "every message lands once: {counts:?}");
    counts
}

#[test]
fn weighted_mappings_spread_over_their_destinations() {
    let s = Server::start(&conf(GLOBAL, ""));
    let c = spread(&s, "w", &["w.a", "w.b", "w"], 400);
    assert!(c[0] > 0 && c[1] > 0 && c[2] == 0, "{c:?}");
    // Weights under 100: the rest stays on the source subject.
    let c = spread(&s, "split30", &["split30.moved", "split30"], 400);
    assert!(c[0] > 0 && c[1] > 0, "{c:?}");
}

const PER_ACCOUNT: &str = r#"
accounts {
  A: {
    users: [{user: a, password: a}]
    mappings { "x": "y", "m.*": "n.$1" }
  }
  B: { users: [{user: b, password: b}] }
}
"#;

#[test]
fn account_mappings_apply_in_their_account_only() {
    let s = Server::start(&conf(PER_ACCOUNT, ""));
    let mut a = client(&s, true, Some("a"));
    let mut b = client(&s, false, Some("b"));
    a.send(b"SUB x 1\r\nSUB y 2\r\nSUB n.* 3\r\n");
    b.send(b"SUB x 1\r\nSUB y 2\r\n");
    a.ping();
    b.ping();
    a.send(b"PUB x 1\r\n1\r\nPUB m.q 1\r\n2\r\n");
    b.send(b"PUB x 1\r\n3\r\n");
    assert_eq!(drain(&mut a), "MSG y 2 1\r\n1\r\nMSG n.q 3 1\r\n2\r\n");
    assert_eq!(drain(&mut b), "MSG x 1 1\r\n3\r\n");
}

/// Starts with `top` and expects the start to fail with `text` in the
/// output.
fn refused(top: &str, text: &str) {
    match Server::try_start(&conf(top, "")) {
        Ok(_) => panic!("started with {top}"),
        Err(out) => assert!(out.contains(text), "want {text:?} in:\n{out}"),
    }
}

#[test]
fn bad_mappings_refuse_to_start_with_the_reference_texts() {
    refused(
        r#"mappings { "a.*": "b.$2" }"#,
        r#"Error adding mapping for "a.*" to "b.$2" : invalid mapping destination: wildcard index out of range in $2: [2]"#,
    );
    refused(
        r#"mappings { "a.*": "b.{{nope(1)}}" }"#,
        r#"Error adding mapping for "a.*" to "b.{{nope(1)}}" : invalid mapping destination: unknown function in {{nope(1)}}"#,
    );
    refused(
        r#"mappings { "a.*": "b.*" }"#,
        r#"Error adding mapping for "a.*" to "b.*" : invalid subject"#,
    );
    refused(
        r#"mappings { "q": [{destination: "x", weight: 120}] }"#,
        "Invalid weight 120 for mapping destination",
    );
    refused(
        r#"mappings { "q": [{destination: "x", weight: "abc"}] }"#,
        r#"Invalid weight "abc" for mapping destination"#,
    );
    refused(
        r#"mappings { "q": [{destination: "x", weight: 60}, {destination: "y", weight: 50}] }"#,
        r#"Error adding mapping for "q" : total weight needs to be <= 100"#,
    );
    refused(
        r#"mappings { "q": [{destination: "x", weight: 10}, {destination: "x", weight: 20}] }"#,
        r#"Error adding mapping for "q" : duplicate entry for "x""#,
    );
    refused(
        r#"mappings { "q": [{destination: "x"}] }"#,
        r#"Missing weight for mapping destination "x""#,
    );
    refused(
        r#"mappings { "q": [{destination: "x", weight: 1, colour: red}] }"#,
        r#"Unknown field "colour" for mapping destination"#,
    );
    refused(
        r#"mappings { "a..b": "c" }"#,
        r#"Subject "a..b" is not a valid subject"#,
    );
    refused(
        r#"accounts { A: { mappings { "a.*": "b.{{wildcard()}}" } } }"#,
        "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}",
    );
}

/// Rewrites the config file and reloads it with SIGHUP; returns once the
/// server logged that the reload took effect.
fn reload(s: &Server, conf: &str) {
    std::fs::write(s.conf_path(), conf).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
}

#[test]
fn mappings_and_imports_follow_a_reload() {
    let accounts = |mapping: &str, import: &str| {
        conf(
            &format!(
                r#"
mappings {{ "x": "{mapping}" }}
authorization {{ users: [{{user: g, password: g}}] }}
accounts {{
  A: {{ users: [{{user: a, password: a}}], exports: [{{stream: "ev.>"}}] }}
  B: {{ users: [{{user: b, password: b}}], imports: [{import}] }}
}}
"#
            ),
            "",
        )
    };
    let imp = r#"{stream: {account: A, subject: "ev.>"}, prefix: "p"}"#;
    let s = Server::start(&accounts("y", imp));
    let mut g = client(&s, false, Some("g"));
    let mut a = client(&s, false, Some("a"));
    let mut b = client(&s, true, Some("b"));
    g.send(b"SUB y 1\r\nSUB z 2\r\n");
    b.send(b"SUB p.> 1\r\nSUB q.> 2\r\n");
    g.ping();
    b.ping();
    g.send(b"PUB x 1\r\n1\r\n");
    a.send(b"PUB ev.1 1\r\n1\r\n");
    a.ping();
    assert_eq!(drain(&mut g), "MSG y 1 1\r\n1\r\n");
    assert_eq!(drain(&mut b), "MSG p.ev.1 1 1\r\n1\r\n");
    reload(
        &s,
        &accounts(
            "z",
            r#"{stream: {account: A, subject: "ev.>"}, prefix: "q"}"#,
        ),
    );
    g.send(b"PUB x 1\r\n2\r\n");
    a.send(b"PUB ev.2 1\r\n2\r\n");
    a.ping();
    assert_eq!(drain(&mut g), "MSG z 2 1\r\n2\r\n");
    assert_eq!(drain(&mut b), "MSG q.ev.2 2 1\r\n2\r\n");
}
