//! `/accountz` against the real binary: the list of accounts and the
//! `?acc=` detail, in the shape nats-server 2.15.1 gives. Passes against
//! both servers (`NATSWS_TEST_SERVER_BIN`); both get
//! `no_system_account: true` where the comparison is about everything but
//! the system account (whose automatic imports count as subscriptions).

mod common;

use std::collections::BTreeSet;

use common::{Raw, Server};
use serde_json::Value;

/// Two configured accounts: `A` with a user, `B` with none.
const ACCOUNTS: &str = "port: -1\nhttp_port: -1\n\
    accounts {\n  A { users: [{user: a, password: a}] }\n  B {}\n}\n";

/// [`ACCOUNTS`] without a system account.
fn start() -> Server {
    Server::start(&format!("{ACCOUNTS}no_system_account: true\n"))
}

/// GETs `path`, expects 200 and parses the JSON body.
fn get_json(s: &Server, path: &str) -> Value {
    let (status, body) = s.http_get(path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The `accounts` list as a set (nats-server's order is a map's).
fn names(v: &Value) -> BTreeSet<String> {
    v["accounts"]
        .as_array()
        .expect("accounts array")
        .iter()
        .map(|n| n.as_str().expect("account name").to_string())
        .collect()
}

#[test]
fn accountz_lists_configured_accounts() {
    let s = start();
    let v = get_json(&s, "/accountz");
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["server_id", "now", "accounts"]),
        "{v}"
    );
    assert!(v["server_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(v["now"].as_str().is_some_and(|t| t.ends_with('Z')));
    let want: BTreeSet<String> = ["$G", "A", "B"].map(String::from).into();
    assert_eq!(names(&v), want);
}

/// Both servers create `$SYS` by default and name it.
#[test]
fn accountz_system_account() {
    let s = Server::start(ACCOUNTS);
    let v = get_json(&s, "/accountz");
    assert_eq!(v["system_account"], "$SYS");
    assert!(names(&v).contains("$SYS"), "{v}");
    // A configured system account is named instead.
    let s = Server::start(&format!("{ACCOUNTS}system_account: B\n"));
    let v = get_json(&s, "/accountz");
    assert_eq!(v["system_account"], "B");
    assert!(!names(&v).contains("$SYS"), "{v}");
}

#[test]
fn accountz_acc_gives_the_account_detail() {
    let s = start();
    let mut c = Raw::connect(s.client_port);
    c.expect(" \r\n");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB x 1\r\nSUB y.> 2\r\nPING\r\n");
    c.expect("PONG\r\n");
    let v = get_json(&s, "/accountz?acc=A");
    assert!(v.get("accounts").is_none(), "{v}");
    let d = &v["account_detail"];
    assert_eq!(d["account_name"], "A");
    assert_eq!(d["subscriptions"], 2, "{v}");
    assert_eq!(d["jetstream_enabled"], false);
    assert_eq!(d["leafnode_connections"], 0);
    let g = get_json(&s, "/accountz?acc=$G");
    assert_eq!(g["account_detail"]["account_name"], "$G");
    assert_eq!(g["account_detail"]["subscriptions"], 0, "{g}");
    let b = get_json(&s, "/accountz?acc=B");
    assert_eq!(b["account_detail"]["subscriptions"], 0, "{b}");
    assert_eq!(
        s.http_get("/accountz?acc=NOPE"),
        (400, "Account NOPE does not exist".to_string())
    );
}
