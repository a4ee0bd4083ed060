//! `/accountz?acc=<name>` shows an account's exports, imports (the
//! configured ones and the automatic `$SYS` ones, operations spec §2.6) and
//! mappings in nats-server's `account_detail` shape (`ExtExport`,
//! `ExtImport`, `ExtMap`). Runs against natsws and, with
//! `NATSWS_TEST_SERVER_BIN`, nats-server 2.15.1. nats-server lists exports
//! and imports in map order, so lists are compared as sets.

mod common;

use std::collections::BTreeSet;

use common::Server;
use serde_json::{json, Value};

const CONF: &str = r#"
port: -1
http_port: -1
accounts {
  A {
    users: [{user: a, password: a}]
    exports: [
      {stream: "s.>"}
      {service: "svc.*", response_type: stream, accounts: [B]}
      {service: "one"}
      {stream: "r.*", accounts: [B]}
    ]
    mappings: { "m.a": "m.b", "w.a": [{destination: "w.1", weight: 40}, {destination: "w.2", weight: 60}], "p.a": [{destination: "p.b", weight: 30}] }
  }
  B {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "s.>"}, prefix: "p"}
      {stream: {account: A, subject: "r.x"}, to: "local.r"}
      {service: {account: A, subject: "svc.x"}, to: "local.x"}
      {service: {account: A, subject: "one"}}
    ]
  }
}
mappings: { "g.a": "g.b" }
"#;

fn detail(s: &Server, acc: &str) -> Value {
    let (code, head, body) = s.http_get_head(&format!("/accountz?acc={acc}"));
    assert_eq!(code, 200, "{body}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["account_detail"].clone()
}

/// The body of a chunked HTTP/1.1 response (nats-server sends large
/// monitoring answers chunked).
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

fn as_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn set(list: &[Value]) -> BTreeSet<String> {
    list.iter().map(|e| e.to_string()).collect()
}

fn sys_imports(acc: &str) -> Vec<Value> {
    let imp = |subject: String, local: &str, share: bool| {
        json!({"subject": subject, "account": "$SYS", "to": local, "local_subject": local,
               "type": "service", "invalid": false, "share": share, "tracking": false})
    };
    vec![
        imp(
            format!("$SYS.REQ.ACCOUNT.{acc}.CONNZ"),
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            false,
        ),
        imp(
            format!("$SYS.REQ.ACCOUNT.{acc}.CONNZ"),
            "$SYS.REQ.SERVER.PING.CONNZ",
            false,
        ),
        imp(
            format!("$SYS.REQ.ACCOUNT.{acc}.STATZ"),
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            false,
        ),
        imp(
            format!("$SYS.REQ.USER.{acc}.INFO"),
            "$SYS.REQ.USER.INFO",
            true,
        ),
    ]
}

#[test]
fn account_detail_lists_exports_imports_and_mappings() {
    let s = Server::start(CONF);
    let a = detail(&s, "A");
    assert_eq!(a["account_name"], "A");
    assert_eq!(a["name_tag"], "A");
    assert_eq!(
        as_set(&a["exports"]),
        set(&[
            json!({"subject": "s.>", "type": "stream"}),
            json!({"subject": "svc.*", "type": "service", "response_type": "Streamed",
                   "approved_accounts": ["B"]}),
            json!({"subject": "one", "type": "service", "response_type": "Singleton"}),
            json!({"subject": "r.*", "type": "stream", "approved_accounts": ["B"]}),
        ])
    );
    assert_eq!(as_set(&a["imports"]), set(&sys_imports("A")));
    assert_eq!(
        a["mappings"],
        json!({
            "m.a": [{"subject": "m.b", "weight": 100}],
            // nats-server's running totals, sorted by weight.
            "w.a": [{"subject": "w.1", "weight": 40}, {"subject": "w.2", "weight": 100}],
            // The weight left goes to the source itself.
            "p.a": [{"subject": "p.b", "weight": 30}, {"subject": "p.a", "weight": 100}],
        })
    );

    let b = detail(&s, "B");
    assert!(b.get("exports").is_none(), "{b}");
    assert!(b.get("mappings").is_none(), "{b}");
    let mut want = sys_imports("B");
    want.extend([
        json!({"subject": "s.>", "account": "A", "local_subject": "p.s.>", "type": "stream",
               "invalid": false, "share": false, "tracking": false}),
        json!({"subject": "r.x", "account": "A", "local_subject": "local.r", "type": "stream",
               "invalid": false, "share": false, "tracking": false}),
        json!({"subject": "svc.x", "account": "A", "to": "local.x", "local_subject": "local.x",
               "type": "service", "invalid": false, "share": false, "tracking": false}),
        json!({"subject": "one", "account": "A", "to": "one", "local_subject": "one",
               "type": "service", "invalid": false, "share": false, "tracking": false}),
    ]);
    assert_eq!(as_set(&b["imports"]), set(&want));

    // The global account: the top-level mappings and the $SYS imports.
    let g = detail(&s, "$G");
    assert_eq!(
        g["mappings"],
        json!({"g.a": [{"subject": "g.b", "weight": 100}]})
    );
    assert_eq!(as_set(&g["imports"]), set(&sys_imports("$G")));

    // The system account says it is the system one, exports the services
    // behind the automatic imports and imports its own USER.INFO.
    let sys = detail(&s, "$SYS");
    assert_eq!(sys["is_system"], true, "{sys}");
    let exports = as_set(&sys["exports"]);
    for e in [
        json!({"subject": "$SYS.REQ.ACCOUNT.*.CONNZ", "type": "service", "response_type": "Streamed"}),
        json!({"subject": "$SYS.REQ.ACCOUNT.*.STATZ", "type": "service", "response_type": "Streamed"}),
        json!({"subject": "$SYS.REQ.USER.*.INFO", "type": "service", "response_type": "Singleton"}),
    ] {
        assert!(exports.contains(&e.to_string()), "{e} not in {sys}");
    }
    assert_eq!(as_set(&sys["imports"]), set(&sys_imports("$SYS")[3..]));
}

/// Without a system account there are no automatic imports.
#[test]
fn no_system_account_means_no_sys_imports() {
    let s = Server::start(&format!("{CONF}\nno_system_account: true\n"));
    let a = detail(&s, "A");
    assert!(a.get("imports").is_none(), "{a}");
    assert!(a.get("is_system").is_none(), "{a}");
}
