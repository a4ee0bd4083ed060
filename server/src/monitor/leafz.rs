//! `/routez` and `/leafz`: natsws has no cluster routes, so `/routez`
//! answers nats-server's object with an empty list; `/leafz` lists the
//! leafnode links.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::log::rfc3339;
use crate::shared::Shared;

/// The `/routez` object (nats-server `Server.Routez`) with no routes.
pub(crate) fn routez(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id, "server_name": shared.server_name,
        "now": rfc3339(SystemTime::now()), "num_routes": 0, "routes": []
    })
}

/// The `/leafz` object (nats-server `Server.Leafz`, spec `leafnode.md`
/// §6.1): one entry per open leafnode link; `acc` filters by the local
/// account, `subs=1` adds each link's `subscriptions_list` (the peer's
/// interest, as subjects or `subject queue`).
pub(crate) fn leafz(shared: &Shared, acc: Option<&str>, subs: bool) -> Value {
    let mut leafs = Vec::new();
    for a in shared.accounts.all() {
        if acc.is_some_and(|x| x != a.name) {
            continue;
        }
        for link in a.leafs.all() {
            let c = &link.conn;
            let name = c
                .client
                .lock()
                .map(|m| m.name().to_string())
                .unwrap_or_default();
            // Go's duration text (nats-server `getRTT`; a leaf's CONNECT
            // names no `lang`, so no PING is sent for it).
            let rtt = crate::rtt::go_duration(c.rtt.get());
            let mut v = json!({
                "id": c.cid,
                "name": name,
                "is_spoke": !link.hub,
                "account": a.name,
                "ip": c.peer_addr().ip().to_string(),
                "port": c.peer_addr().port(),
                "rtt": rtt,
                "in_msgs": c.in_msgs.load(Ordering::Relaxed),
                "out_msgs": c.out_msgs.load(Ordering::Relaxed),
                "in_bytes": c.in_bytes.load(Ordering::Relaxed),
                "out_bytes": c.out_bytes.load(Ordering::Relaxed),
                "subscriptions": c.subs.load(Ordering::Relaxed),
                "compression": "off",
            });
            if link.is_isolated() {
                // Omitted when false (nats-server `LeafInfo.IsIsolated`).
                v["is_isolated"] = true.into();
            }
            if c.kind.is_ws() {
                v["websocket"] = true.into();
            }
            if subs {
                let mut list = Vec::new();
                a.router
                    .lock()
                    .expect("router")
                    .sublist()
                    .for_each(|_, _, s| {
                        if s.conn == c.cid {
                            list.push(String::from_utf8_lossy(s.sid()).into_owned());
                        }
                    });
                list.sort();
                v["subscriptions_list"] = list.into();
            }
            leafs.push(v);
        }
    }
    json!({
        "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
        "leafnodes": leafs.len(), "leafs": leafs
    })
}

/// The number of open leafnode links (`/varz` `leafnodes`).
pub(super) fn count(shared: &Shared) -> usize {
    shared
        .accounts
        .all()
        .iter()
        .map(|a| a.leafs.all().len())
        .sum()
}

/// `/varz` `leaf` (spec §6.2): the listener's host, port and timeouts, and
/// the remotes with their local account and `host:port` URLs.
pub(super) fn varz_leaf(shared: &Shared) -> Value {
    let s = shared.settings();
    let Some(l) = s.leafnodes.as_ref() else {
        return json!({});
    };
    let mut v = json!({});
    if let Some(a) = shared.leaf_addr.get() {
        v["host"] = a.ip().to_string().into();
        v["port"] = a.port().into();
        let t = l.authorization.timeout.map_or(2.0, |d| d.as_secs_f64());
        v["auth_timeout"] = t.into();
        v["tls_timeout"] = 2.into();
    }
    let remotes: Vec<Value> = l
        .remotes
        .iter()
        .map(|r| {
            let urls: Vec<String> = r
                .urls
                .iter()
                .filter_map(|u| crate::leaf_remote::RemoteUrl::parse(u))
                .map(|u| u.host_port)
                .collect();
            json!({"local_account": r.account, "urls": urls})
        })
        .collect();
    if !remotes.is_empty() {
        v["remotes"] = remotes.into();
    }
    v
}
