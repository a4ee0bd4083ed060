//! The system account and `$SYS` (operations spec §2): request services
//! and their envelopes, filters, events, isolation from other accounts and
//! the automatic imports. Runs against natsws and, with
//! `NATSWS_TEST_SERVER_BIN`, against nats-server: every assertion on a
//! JSON shape is a fixed key list taken from nats-server 2.15.1, so both
//! servers are held to the same shape.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::time::{Duration, Instant};

use common::{find, is_timeout, parse_info, Raw, Server};
use serde_json::Value;

const CONF: &str = r#"
port: -1
http_port: -1
server_name: ops_srv
accounts {
  SYS { users: [{user: sys, password: sys}] }
  APP { users: [{user: app, password: app}, {user: app2, password: app2}] }
}
system_account: SYS
"#;

/// One message a client received: subject, reply, headers, payload.
#[derive(Debug, Clone)]
struct Msg {
    subject: String,
    headers: String,
    payload: Vec<u8>,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.payload)))
    }
}

/// A minimal NATS client over a [`Raw`] connection.
struct Nc {
    raw: Raw,
    info: Value,
    next_sid: u32,
}

impl Nc {
    fn connect(s: &Server, user: &str, pass: &str) -> Nc {
        let mut raw = Raw::connect(s.client_port);
        let line = raw.expect("\r\n");
        let info = parse_info(&line);
        let connect = serde_json::json!({
            "user": user, "pass": pass, "verbose": false, "headers": true,
            "no_responders": true, "protocol": 1, "name": "n1", "lang": "rust", "version": "1.0",
        });
        raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        raw.expect("PONG\r\n");
        Nc {
            raw,
            info,
            next_sid: 1,
        }
    }

    fn sub(&mut self, subject: &str) {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.raw
            .send(format!("SUB {subject} {sid}\r\nPING\r\n").as_bytes());
        self.raw.expect("PONG\r\n");
    }

    fn publish(&mut self, subject: &str, reply: Option<&str>, body: &[u8]) {
        let mut b = match reply {
            Some(r) => format!("PUB {subject} {r} {}\r\n", body.len()).into_bytes(),
            None => format!("PUB {subject} {}\r\n", body.len()).into_bytes(),
        };
        b.extend_from_slice(body);
        b.extend_from_slice(b"\r\n");
        self.raw.send(&b);
    }

    /// The next MSG/HMSG within `wait`, skipping PINGs (answered) and
    /// PONGs.
    fn next(&mut self, wait: Duration) -> Option<Msg> {
        let until = Instant::now() + wait;
        loop {
            if let Some(m) = self.parse() {
                return Some(m);
            }
            if Instant::now() >= until {
                return None;
            }
            let mut chunk = [0u8; 65536];
            match self.raw.sock.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.raw.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => return None,
            }
        }
    }

    /// One message off the front of the buffer, if complete.
    fn parse(&mut self) -> Option<Msg> {
        loop {
            let end = find(&self.raw.buf, b"\r\n")?;
            let line = String::from_utf8_lossy(&self.raw.buf[..end]).into_owned();
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[0] {
                "MSG" | "HMSG" => {
                    let total: usize = parts[parts.len() - 1].parse().unwrap();
                    let hdr: usize = if parts[0] == "HMSG" {
                        parts[parts.len() - 2].parse().unwrap()
                    } else {
                        0
                    };
                    if self.raw.buf.len() < end + 2 + total + 2 {
                        return None;
                    }
                    let body = self.raw.buf[end + 2..end + 2 + total].to_vec();
                    self.raw.buf.drain(..end + 2 + total + 2);
                    return Some(Msg {
                        subject: parts[1].to_string(),
                        headers: String::from_utf8_lossy(&body[..hdr]).into_owned(),
                        payload: body[hdr..].to_vec(),
                    });
                }
                "PING" => {
                    self.raw.buf.drain(..end + 2);
                    self.raw.send(b"PONG\r\n");
                }
                _ => {
                    self.raw.buf.drain(..end + 2);
                }
            }
        }
    }

    /// A request on a fresh inbox; `None` on timeout. A no-responders
    /// status comes back as a message with a `503` header.
    fn request(&mut self, subject: &str, body: &str) -> Option<Msg> {
        let inbox = format!("_INBOX.t{}", self.next_sid);
        self.sub(&inbox);
        self.publish(subject, Some(&inbox), body.as_bytes());
        self.next(Duration::from_millis(1500))
    }

    /// A request that must be answered with JSON.
    fn ask(&mut self, subject: &str, body: &str) -> Value {
        let m = self
            .request(subject, body)
            .unwrap_or_else(|| panic!("no answer to {subject}"));
        assert!(
            !m.headers.contains("503"),
            "no responders for {subject}: {}",
            m.headers
        );
        m.json()
    }

    /// Whether `subject` has no responders.
    fn no_responders(&mut self, subject: &str) -> bool {
        self.request(subject, "")
            .is_some_and(|m| m.headers.contains("503") && m.payload.is_empty())
    }

    /// Everything received until a PING round trip completes (the server
    /// has sent all it had for this connection by then... for its own
    /// loop; events from other threads are waited for with `next`).
    fn drain(&mut self, wait: Duration) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.next(wait) {
            out.push(m);
        }
        out
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `ServerInfo` keys both servers send (nats-server adds
/// `feature_flags`, JetStream's; natsws has none: docs/compat.md).
fn server_keys(v: &Value) -> BTreeSet<String> {
    let mut k = keys(v);
    k.remove("feature_flags");
    k
}

const SERVER_KEYS: &[&str] = &[
    "name",
    "host",
    "id",
    "ver",
    "jetstream",
    "flags",
    "seq",
    "time",
];

const STATSZ_KEYS: &[&str] = &[
    "active_accounts",
    "active_servers",
    "connections",
    "cores",
    "cpu",
    "gomaxprocs",
    "mem",
    "received",
    "received_from_clients",
    "sent",
    "sent_to_clients",
    "slow_consumers",
    "start",
    "subscriptions",
    "total_connections",
];

fn http_json(s: &Server, path: &str) -> Value {
    let (status, body) = s.http_get(path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn ping_and_endpoints_answer_with_the_reference_envelopes() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"] {
        let v = sys.ask(subject, "");
        assert_eq!(keys(&v), set(&["server", "statsz"]), "{subject}");
        assert_eq!(server_keys(&v["server"]), set(SERVER_KEYS));
        assert_eq!(v["server"]["name"], "ops_srv");
        assert_eq!(v["server"]["id"], id.as_str());
        assert_eq!(keys(&v["statsz"]), set(STATSZ_KEYS));
        assert_eq!(keys(&v["statsz"]["sent"]), set(&["msgs", "bytes"]));
        assert!(v["statsz"]["connections"].as_u64().unwrap() >= 1);
    }
    let v = sys.ask("$SYS.REQ.SERVER.PING.IDZ", "");
    assert_eq!(keys(&v), set(&["name", "host", "id"]));
    assert_eq!(v["id"], id.as_str());
    let v = sys.ask("$SYS.REQ.SERVER.PING.HEALTHZ", "");
    assert_eq!(
        v["data"],
        serde_json::json!({"status": "ok", "status_code": 200})
    );
    // The data objects are the monitoring endpoints' own.
    for (name, path) in [
        ("VARZ", "/varz"),
        ("CONNZ", "/connz"),
        ("SUBSZ", "/subsz"),
        ("ACCOUNTZ", "/accountz"),
        ("ROUTEZ", "/routez"),
        ("LEAFZ", "/leafz"),
    ] {
        for subject in [
            format!("$SYS.REQ.SERVER.PING.{name}"),
            format!("$SYS.REQ.SERVER.{id}.{name}"),
        ] {
            let v = sys.ask(&subject, "");
            assert_eq!(keys(&v), set(&["server", "data"]), "{subject}");
            assert_eq!(server_keys(&v["server"]), set(SERVER_KEYS));
            assert_eq!(keys(&v["data"]), keys(&http_json(&s, path)), "{subject}");
            assert_eq!(v["data"]["server_id"], id.as_str());
        }
    }
    let v = sys.ask("$SYS.REQ.SERVER.PING.ACCOUNTZ", "");
    assert_eq!(v["data"]["system_account"], "SYS");
    let names: BTreeSet<String> = v["data"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, set(&["$G", "SYS", "APP"]));
    let v = sys.ask("$SYS.REQ.SERVER.PING.JSZ", "");
    assert_eq!(v["data"]["disabled"], true);
    // The seq of ServerInfo grows.
    let a = sys.ask("$SYS.REQ.SERVER.PING", "")["server"]["seq"]
        .as_u64()
        .unwrap();
    let b = sys.ask("$SYS.REQ.SERVER.PING", "")["server"]["seq"]
        .as_u64()
        .unwrap();
    assert!(b > a, "{a} {b}");
    // Another server id: nobody answers.
    assert!(sys.no_responders("$SYS.REQ.SERVER.NOTME.VARZ"));
    assert!(sys.no_responders("$SYS.REQ.SERVER.PING.NOSUCHZ"));
    // USER.INFO about the system user itself.
    let v = sys.ask("$SYS.REQ.USER.INFO", "");
    assert_eq!(
        v["data"],
        serde_json::json!({"user": "sys", "account": "SYS", "account_name": "SYS"})
    );
}

#[test]
fn request_bodies_filter_and_refuse_with_go_texts() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    // Filters: a match answers, a miss stays silent.
    let v = sys.ask("$SYS.REQ.SERVER.PING.VARZ", r#"{"server_name":"ops"}"#);
    assert_eq!(v["data"]["server_name"], "ops_srv");
    let v = sys.ask(
        "$SYS.REQ.SERVER.PING",
        r#"{"server_name":"ops_srv","exact_match":true}"#,
    );
    assert_eq!(v["server"]["name"], "ops_srv");
    for body in [
        r#"{"server_name":"no-such-server"}"#,
        r#"{"server_name":"ops","exact_match":true}"#,
        r#"{"cluster":"c1"}"#,
        r#"{"tags":["az:1"]}"#,
    ] {
        assert!(
            sys.request("$SYS.REQ.SERVER.PING.VARZ", body).is_none(),
            "{body}"
        );
        assert!(
            sys.request("$SYS.REQ.SERVER.PING", body).is_none(),
            "{body}"
        );
    }
    // Bad bodies: 400 and Go's decoder text.
    for (subject, body, text) in [
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            "xx{",
            "invalid character 'x' looking for beginning of value",
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            r#"{"limit":"a"}"#,
            "json: cannot unmarshal string into Go struct field ConnzEventOptions.limit of type int",
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            "[]",
            "json: cannot unmarshal array into Go value of type server.ConnzEventOptions",
        ),
    ] {
        let v = sys.ask(subject, body);
        assert_eq!(keys(&v), set(&["server", "error"]), "{body}");
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["description"], text);
    }
    // CONNZ options: paging, state, auth, account.
    let _app = Nc::connect(&s, "app", "app");
    let v = sys.ask("$SYS.REQ.SERVER.PING.CONNZ", r#"{"limit":1}"#);
    assert_eq!(v["data"]["limit"], 1);
    assert_eq!(v["data"]["num_connections"], 1);
    assert_eq!(v["data"]["total"], 2);
    let v = sys.ask("$SYS.REQ.SERVER.PING.CONNZ", r#"{"auth":true,"acc":"APP"}"#);
    let conns = v["data"]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["authorized_user"], "app");
    assert_eq!(conns[0]["account"], "APP");
    let v = sys.ask("$SYS.REQ.ACCOUNT.APP.CONNZ", "");
    assert_eq!(v["data"]["total"], 1);
    let v = sys.ask(
        "$SYS.REQ.SERVER.PING.SUBSZ",
        r#"{"subscriptions":true,"account":"APP","test":"zzz"}"#,
    );
    assert_eq!(v["data"]["total"], 0);
}

/// The messages of `nc` until `want` arrived (STATSZ heartbeats skipped).
fn until(nc: &mut Nc, want: &str) -> Vec<Msg> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Some(m) = nc.next(Duration::from_millis(500)) else {
            continue;
        };
        if m.subject.ends_with(".STATSZ") {
            continue;
        }
        let done = m.subject == want;
        out.push(m);
        if done {
            return out;
        }
    }
    panic!(
        "no {want}; got {:?}",
        out.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

#[test]
fn connect_disconnect_and_auth_error_events() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    sys.sub("$SYS.>");
    let mut app = Nc::connect(&s, "app", "app");
    let got = until(&mut sys, "$SYS.ACCOUNT.APP.CONNECT");
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "$SYS.SERVER.ACCOUNT.APP.CONNS",
            "$SYS.ACCOUNT.APP.SERVER.CONNS",
            "$SYS.ACCOUNT.APP.CONNECT"
        ]
    );
    let conns = got[1].json();
    assert_eq!(
        conns["type"],
        "io.nats.server.advisory.v1.account_connections"
    );
    assert_eq!(
        keys(&conns),
        set(&[
            "type",
            "id",
            "timestamp",
            "server",
            "acc",
            "name",
            "conns",
            "leafnodes",
            "total_conns",
            "num_subscriptions",
            "sent",
            "received",
            "slow_consumers"
        ])
    );
    assert_eq!(conns["conns"], 1);
    assert_eq!(conns["acc"], "APP");
    // The four automatic imports are APP's subscriptions.
    assert_eq!(conns["num_subscriptions"], 4);
    let connect = got[2].json();
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(
        keys(&connect),
        set(&["type", "id", "timestamp", "server", "client"])
    );
    assert_eq!(
        keys(&connect["client"]),
        set(&[
            "acc",
            "client_type",
            "host",
            "id",
            "kind",
            "lang",
            "name",
            "name_tag",
            "start",
            "user",
            "ver"
        ])
    );
    assert_eq!(connect["client"]["acc"], "APP");
    assert_eq!(connect["client"]["user"], "app");
    assert_eq!(connect["client"]["kind"], "Client");
    assert_eq!(connect["client"]["client_type"], "nats");
    assert_eq!(connect["client"]["id"], app.info["client_id"]);
    app.publish("foo", None, b"hello");
    app.raw.send(b"PING\r\n");
    app.raw.expect("PONG\r\n");
    drop(app);
    let got = until(&mut sys, "$SYS.ACCOUNT.APP.DISCONNECT");
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "$SYS.SERVER.ACCOUNT.APP.CONNS",
            "$SYS.ACCOUNT.APP.SERVER.CONNS",
            "$SYS.ACCOUNT.APP.DISCONNECT"
        ]
    );
    let conns = got[1].json();
    assert_eq!(conns["conns"], 0);
    // From the server's side: APP's clients published one 5-byte message.
    assert_eq!(conns["received"]["msgs"], 1);
    assert_eq!(conns["received"]["bytes"], 5);
    assert_eq!(conns["sent"]["msgs"], 0);
    let d = got[2].json();
    assert_eq!(d["type"], "io.nats.server.advisory.v1.client_disconnect");
    assert_eq!(
        keys(&d),
        set(&[
            "type",
            "id",
            "timestamp",
            "server",
            "client",
            "sent",
            "received",
            "reason"
        ])
    );
    assert_eq!(d["reason"], "Client Closed");
    assert_eq!(d["sent"], serde_json::json!({"msgs": 1, "bytes": 5}));
    assert_eq!(d["received"], serde_json::json!({"msgs": 0, "bytes": 0}));
    assert!(keys(&d["client"]).contains("stop"));
    // A wrong password: the auth error, then the $G disconnect.
    let mut bad = Raw::connect(s.client_port);
    bad.expect("\r\n");
    bad.send(b"CONNECT {\"user\":\"app\",\"pass\":\"nope\",\"verbose\":false}\r\n");
    bad.expect("-ERR 'Authorization Violation'");
    let got = until(&mut sys, "$SYS.ACCOUNT.$G.DISCONNECT");
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    let auth_err = format!("$SYS.SERVER.{id}.CLIENT.AUTH.ERR");
    assert_eq!(subjects, [auth_err.as_str(), "$SYS.ACCOUNT.$G.DISCONNECT"]);
    for m in &got {
        let v = m.json();
        assert_eq!(v["reason"], "Authentication Failure");
        assert_eq!(v["client"]["acc"], "$G");
        assert_eq!(v["client"]["user"], "app");
        assert_eq!(v["type"], "io.nats.server.advisory.v1.client_disconnect");
    }
    // A client that never sends CONNECT still gets a disconnect event.
    let mut quiet = Raw::connect(s.client_port);
    quiet.expect("\r\n");
    drop(quiet);
    let got = until(&mut sys, "$SYS.ACCOUNT.$G.DISCONNECT");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["reason"], "Client Closed");
}

#[test]
fn statsz_is_broadcast_periodically() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    sys.sub("$SYS.SERVER.*.STATSZ");
    let m = sys
        .next(Duration::from_secs(5))
        .expect("a STATSZ within 5 s");
    assert_eq!(m.subject, format!("$SYS.SERVER.{id}.STATSZ"));
    assert_eq!(keys(&m.json()), set(&["server", "statsz"]));
    // A PING without a reply asks for a broadcast.
    sys.drain(Duration::from_millis(10));
    sys.publish("$SYS.REQ.SERVER.PING", None, b"");
    let m = sys.next(Duration::from_secs(5)).expect("a STATSZ");
    assert_eq!(m.subject, format!("$SYS.SERVER.{id}.STATSZ"));
}

#[test]
fn other_accounts_see_nothing_of_sys() {
    let s = Server::start(CONF);
    let mut app = Nc::connect(&s, "app", "app");
    app.sub(">");
    let mut sys = Nc::connect(&s, "sys", "sys");
    sys.sub("$SYS.ACCOUNT.*.CONNECT");
    let other = Nc::connect(&s, "app2", "app2");
    drop(other);
    let mut bad = Raw::connect(s.client_port);
    bad.expect("\r\n");
    bad.send(b"CONNECT {\"user\":\"app\",\"pass\":\"nope\"}\r\n");
    bad.expect("-ERR");
    // The system user saw app2's connect, so the events were published.
    let m = sys.next(Duration::from_secs(5)).expect("connect event");
    assert!(m.subject.ends_with(".CONNECT"), "{}", m.subject);
    app.raw.send(b"PING\r\n");
    app.raw.expect("PONG\r\n");
    let seen = app.drain(Duration::from_millis(300));
    assert!(
        seen.is_empty(),
        "APP saw {:?}",
        seen.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    // APP's users cannot reach the server-wide services (once the `>`
    // subscriber, which would answer, is gone).
    drop(app);
    let mut asker = Nc::connect(&s, "app2", "app2");
    assert!(asker.no_responders("$SYS.REQ.SERVER.PING"));
    assert!(asker.no_responders("$SYS.REQ.SERVER.PING.VARZ"));
}

#[test]
fn global_account_wildcard_subscriber_sees_nothing() {
    // No auth: every client in $G, the default $SYS account serves.
    let s = Server::start("port: -1\nhttp_port: -1\n");
    let mut g = Nc::connect(&s, "", "");
    g.sub(">");
    let other = Nc::connect(&s, "", "");
    drop(other);
    let quiet = Raw::connect(s.client_port);
    drop(quiet);
    // PING ⇒ STATSZ broadcast, only in $SYS.
    g.publish("$SYS.REQ.SERVER.PING", None, b"");
    let seen = g.drain(Duration::from_millis(500));
    let subjects: Vec<&str> = seen.iter().map(|m| m.subject.as_str()).collect();
    // Only its own publish comes back (echo), nothing of $SYS's events.
    assert_eq!(subjects, ["$SYS.REQ.SERVER.PING"]);
    drop(g);
    let mut g = Nc::connect(&s, "", "");
    assert!(g.no_responders("$SYS.REQ.SERVER.PING.VARZ"));
    // The imports: USER.INFO and CONNZ of its own account still answer.
    let v = g.ask("$SYS.REQ.USER.INFO", "");
    assert_eq!(v["data"]["account"], "$G");
    let v = g.ask("$SYS.REQ.SERVER.PING.CONNZ", "");
    assert_eq!(v["data"]["num_connections"], 1);
}

#[test]
fn imports_let_users_ask_about_their_own_account() {
    let s = Server::start(CONF);
    let _sys = Nc::connect(&s, "sys", "sys");
    let _app2 = Nc::connect(&s, "app2", "app2");
    let mut app = Nc::connect(&s, "app", "app");
    for subject in ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"] {
        let v = app.ask(subject, r#"{"auth":true}"#);
        let conns = v["data"]["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 2, "{subject}: only APP's connections");
        assert!(conns.iter().all(|c| c["account"] == "APP"));
    }
    let v = app.ask("$SYS.REQ.USER.INFO", "");
    assert_eq!(keys(&v), set(&["server", "data"]));
    assert_eq!(
        v["data"],
        serde_json::json!({"user": "app", "account": "APP", "account_name": "APP"})
    );
    let v = app.ask("$SYS.REQ.ACCOUNT.PING.STATZ", "");
    let statz = v["data"]["account_statz"].as_array().unwrap();
    assert_eq!(statz.len(), 1);
    assert_eq!(statz[0]["acc"], "APP");
    assert_eq!(statz[0]["conns"], 2);
    assert_eq!(
        keys(&v["data"]),
        set(&["server_id", "now", "account_statz"])
    );
    assert!(app.no_responders("$SYS.REQ.SERVER.PING.VARZ"));
    assert!(app.no_responders("$SYS.REQ.ACCOUNT.APP.CONNZ"));
}

#[test]
fn no_system_account_means_no_sys_services() {
    let s = Server::start("port: -1\nno_system_account: true\n");
    let mut g = Nc::connect(&s, "", "");
    assert!(g.no_responders("$SYS.REQ.SERVER.PING"));
    assert!(g.no_responders("$SYS.REQ.USER.INFO"));
    assert!(g.no_responders("$SYS.REQ.SERVER.PING.CONNZ"));
}

#[test]
fn system_account_must_exist() {
    let err = Server::try_start("port: -1\nsystem_account: NOPE\n")
        .err()
        .expect("refused");
    assert!(
        err.contains("error resolving system account: account missing"),
        "{err}"
    );
}

#[test]
fn shutdown_event_reaches_system_subscribers() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    sys.sub("$SYS.SERVER.*.SHUTDOWN");
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let m = sys.next(Duration::from_secs(5)).expect("SHUTDOWN event");
    assert_eq!(m.subject, format!("$SYS.SERVER.{id}.SHUTDOWN"));
    assert_eq!(server_keys(&m.json()), set(SERVER_KEYS));
}

#[test]
fn lame_duck_event_reaches_system_subscribers() {
    let s = Server::start(&format!(
        "{CONF}\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"10s\"\n"
    ));
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    sys.sub("$SYS.SERVER.*.LAMEDUCK");
    let status = std::process::Command::new("kill")
        .arg("-USR2")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let m = sys.next(Duration::from_secs(5)).expect("LAMEDUCK event");
    assert_eq!(m.subject, format!("$SYS.SERVER.{id}.LAMEDUCK"));
    assert_eq!(server_keys(&m.json()), set(SERVER_KEYS));
}

#[test]
fn websocket_clients_are_reported_as_websocket() {
    let s = Server::start(&format!(
        "{CONF}\nwebsocket {{\n  port: -1\n  no_tls: true\n}}\n"
    ));
    let mut sys = Nc::connect(&s, "sys", "sys");
    sys.sub("$SYS.ACCOUNT.APP.CONNECT");
    let mut ws = common::WsRaw::connect(s.ws_port.expect("websocket port"));
    ws.expect("INFO");
    ws.send(b"CONNECT {\"user\":\"app\",\"pass\":\"app\",\"verbose\":false}\r\nPING\r\n");
    ws.expect("PONG");
    let m = sys.next(Duration::from_secs(5)).expect("connect event");
    let v = m.json();
    assert_eq!(v["client"]["client_type"], "websocket");
    assert_eq!(v["client"]["acc"], "APP");
}

#[test]
fn account_services_from_the_system_account() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    let v = sys.ask(&format!("$SYS.REQ.SERVER.{id}.STATSZ"), "");
    assert_eq!(keys(&v), set(&["server", "statsz"]));
    // APP has no connections yet: STATZ and CONNS stay silent.
    assert!(sys.request("$SYS.REQ.ACCOUNT.APP.STATZ", "").is_none());
    let v = sys.ask("$SYS.REQ.ACCOUNT.APP.STATZ", r#"{"include_unused":true}"#);
    assert_eq!(v["data"]["account_statz"][0]["conns"], 0);
    let _app = Nc::connect(&s, "app", "app");
    let v = sys.ask("$SYS.REQ.ACCOUNT.APP.STATZ", "");
    let stat = &v["data"]["account_statz"][0];
    assert_eq!(stat["acc"], "APP");
    assert_eq!(stat["conns"], 1);
    assert_eq!(
        keys(stat),
        set(&[
            "acc",
            "name",
            "conns",
            "leafnodes",
            "total_conns",
            "num_subscriptions",
            "sent",
            "received",
            "slow_consumers"
        ])
    );
    let v = sys.ask("$SYS.REQ.ACCOUNT.APP.SUBSZ", r#"{"subscriptions":true}"#);
    assert_eq!(keys(&v), set(&["server", "data"]));
    assert!(v["data"]["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["account"] == "APP"));
    // From the system account, an account PING covers every account with
    // connections, or those listed.
    let v = sys.ask("$SYS.REQ.ACCOUNT.PING.STATZ", "");
    let accs: BTreeSet<String> = v["data"]["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["acc"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(accs, set(&["APP", "SYS"]));
    let v = sys.ask("$SYS.REQ.ACCOUNT.PING.STATZ", r#"{"accounts":["APP"]}"#);
    let list = v["data"]["account_statz"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["acc"], "APP");
}

#[test]
fn kick_closes_a_client_with_reason_kicked() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    let mut app = Nc::connect(&s, "app", "app");
    let cid = app.info["client_id"].as_u64().unwrap();
    let subject = format!("$SYS.REQ.SERVER.{id}.KICK");
    let v = sys.ask(&subject, &format!("{{\"cid\":{cid}}}"));
    assert_eq!(keys(&v), set(&["server"]));
    let rest = app.raw.read_to_close();
    assert!(!rest.contains("-ERR"), "{rest}");
    let v = sys.ask(&subject, r#"{"cid":999999}"#);
    assert_eq!(
        v["error"],
        serde_json::json!({"code": 500, "description": "no such client or leafnode id"})
    );
    // Not a kick request: not answered.
    assert!(sys.request(&subject, "nope").is_none());
    // The closed list is updated as the socket closes: poll it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = http_json(&s, &format!("/connz?state=closed&cid={cid}"));
        if v["connections"][0]["reason"] == "Kicked" {
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
    }
}

#[test]
fn reload_request_reloads_the_config_file() {
    let s = Server::start(CONF);
    let mut sys = Nc::connect(&s, "sys", "sys");
    let id = sys.info["server_id"].as_str().unwrap().to_string();
    let subject = format!("$SYS.REQ.SERVER.{id}.RELOAD");
    // A reloadable change: a new APP user can log in afterwards.
    let added = CONF.replace(
        "{user: app2, password: app2}",
        "{user: app2, password: app2}, {user: app3, password: app3}",
    );
    std::fs::write(s.conf_path(), &added).unwrap();
    let v = sys.ask(&subject, "");
    assert_eq!(keys(&v), set(&["server"]), "{v}");
    let _app3 = Nc::connect(&s, "app3", "app3");
    // A filter that does not match: no reload, no answer.
    assert!(sys
        .request(&subject, r#"{"server_name":"other"}"#)
        .is_none());
    // A refused change: 500 with the reload error text.
    std::fs::write(s.conf_path(), format!("{added}\nserver_name: renamed\n")).unwrap();
    let v = sys.ask(&subject, "");
    assert_eq!(v["error"]["code"], 500, "{v}");
    let text = v["error"]["description"].as_str().unwrap();
    assert!(
        text.starts_with("config reload not supported for ServerName"),
        "{text}"
    );
}
