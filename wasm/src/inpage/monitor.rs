//! `/connz` and `/subsz` of the in-page server, as JSON text in
//! nats-server's shapes (spec `operations.md` monitoring; natsws
//! `server/src/monitor`). Times are the caller's clock in milliseconds; the
//! JavaScript side renders them as RFC 3339 and adds `now`/`uptime`.

use natsws_core::router::ConnId;
use natsws_core::router::SubRef;
use serde_json::{json, Value};

use super::InPageCore;

fn sub_json(s: &SubRef<ConnId>) -> Value {
    let mut v = json!({
        "account": natsws_core::auth::GLOBAL_ACCOUNT,
        "subject": String::from_utf8_lossy(s.filter()),
        "sid": String::from_utf8_lossy(s.sid()),
        "msgs": s.delivered(),
        "cid": s.conn,
    });
    if let Some(q) = s.queue() {
        v["qgroup"] = json!(String::from_utf8_lossy(q));
    }
    if s.max_msgs() > 0 {
        v["max"] = json!(s.max_msgs());
    }
    v
}

/// The connections in `state` (`open`, `closed`, `any`/`all`).
pub(crate) fn connz(core: &InPageCore, state: &str, subs: bool, auth: bool) -> String {
    let mut list = Vec::new();
    if matches!(state, "open" | "any" | "all") {
        for (cid, c) in &core.conns {
            if c.closing.is_some() {
                continue;
            }
            let peer = core.world.peers.get(cid);
            let (in_msgs, in_bytes) = c.session.in_counts();
            let opts = c.session.connect_options();
            let subs_list: Vec<_> = c.session.subscriptions().collect();
            let mut v = json!({
                "cid": cid,
                "kind": "Client",
                "type": "websocket",
                "ip": "127.0.0.1",
                "port": 0,
                "start": c.start,
                "last_activity": c.last_activity,
                "pending_bytes": peer.map_or(0, |p| p.out.len()),
                "in_msgs": in_msgs,
                "out_msgs": peer.map_or(0, |p| p.out_msgs),
                "in_bytes": in_bytes,
                "out_bytes": peer.map_or(0, |p| p.out_bytes),
                "subscriptions": subs_list.len(),
            });
            if let Some(o) = opts {
                for (k, s) in [
                    ("name", &o.name),
                    ("lang", &o.lang),
                    ("version", &o.version),
                ] {
                    if !s.is_empty() {
                        v[k] = json!(s);
                    }
                }
            }
            // Measured by the server's PINGs, 0 before the first PONG
            // (nats-server shows it as a Go duration, `0s` unmeasured; the
            // JS side renders it).
            v["rtt"] = json!(c.session.rtt().map_or(0, |r| r.0));
            // `auth=1`: who authenticated (nats-server `ConnzOptions.Username`).
            if auth {
                if let Some(p) = peer.filter(|p| !p.user.is_empty()) {
                    v["authorized_user"] = json!(p.user);
                }
                if core.opts.auth.is_some() {
                    v["account"] = json!(natsws_core::auth::GLOBAL_ACCOUNT);
                }
            }
            if subs && !subs_list.is_empty() {
                v["subscriptions_list"] = json!(subs_list
                    .iter()
                    .map(|s| String::from_utf8_lossy(s.filter()).into_owned())
                    .collect::<Vec<_>>());
            }
            list.push(v);
        }
    }
    if matches!(state, "closed" | "any" | "all") {
        for c in core.closed.iter().rev() {
            let mut v = json!({
                "cid": c.cid, "kind": "Client", "type": "websocket",
                "ip": "127.0.0.1", "port": 0,
                "start": c.start, "stop": c.stop, "reason": c.reason.as_str(),
            });
            for (k, s) in [
                ("name", &c.name),
                ("lang", &c.lang),
                ("version", &c.version),
                ("authorized_user", &c.user),
            ] {
                if !s.is_empty() {
                    v[k] = json!(s);
                }
            }
            list.push(v);
        }
    }
    json!({
        "server_id": core.server_id,
        "num_connections": list.len(),
        "total": list.len(),
        "offset": 0,
        "limit": 1024,
        "connections": list,
    })
    .to_string()
}

/// The subscriptions, optionally only those matching `test`.
pub(crate) fn subsz(core: &InPageCore, subs: bool, test: Option<&str>) -> String {
    let mut all: Vec<&SubRef<ConnId>> = core
        .conns
        .values()
        .filter(|c| c.closing.is_none())
        .flat_map(|c| c.session.subscriptions())
        .collect();
    if let Some(t) = test {
        all.retain(|s| s.matches(t.as_bytes()));
    }
    let mut v = json!({
        "server_id": core.server_id,
        "num_subscriptions": core.world.router.len(),
        "num_cache": 0,
        "num_inserts": 0,
        "num_removes": 0,
        "num_matches": core.world.num_matches,
        "cache_hit_rate": 0.0,
        "max_fanout": 0,
        "avg_fanout": 0.0,
        "total": all.len(),
        "offset": 0,
        "limit": 1024,
    });
    if subs {
        v["subscriptions_list"] = json!(all.iter().map(|s| sub_json(s)).collect::<Vec<_>>());
    }
    v.to_string()
}
