//! `/connz` (nats-server `Server.Connz`): open and recently closed client
//! connections, by cid, paged with `offset`/`limit`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::connz_sort::Row;
use super::{param_int, uptime_string, Error, Params};
use crate::account::Account;
use crate::log::rfc3339;
use crate::shared::{ClosedConn, Shared};
use crate::sink::ConnShared;
use natsws_core::time::Millis;

/// The query of a `/connz` request.
struct Query<'a> {
    /// `subs`: list each connection's subscriptions.
    subs: bool,
    /// `subs=detail`: list them with their details instead.
    subs_detail: bool,
    /// `offset` (default 0).
    offset: usize,
    /// `limit` (default 1024; 1 with `cid`).
    limit: usize,
    /// `cid`: only this connection.
    cid: Option<u64>,
    /// `state`: `open` (default), `closed`, `any` or `all`.
    state: &'a str,
    /// `acc`: only connections bound to this account (also how the
    /// account-scoped `$SYS` requests narrow it).
    acc: Option<&'a str>,
    /// `auth`: add `authorized_user`, `account` and `name_tag`.
    auth: bool,
    /// `mqtt_client`: only connections of this MQTT client id.
    mqtt_client: Option<&'a str>,
    /// `sort` (empty: by cid; see [`super::connz_sort`]).
    sort: &'a str,
}

impl<'a> Query<'a> {
    /// Reads the query, with nats-server's error texts.
    fn parse(params: &'a Params) -> Result<Query<'a>, Error> {
        let subs_detail = params.get("subs").is_some_and(|v| v == "detail");
        let subs = !subs_detail && params.get("subs").is_some_and(|v| v != "0" && v != "false");
        let offset = param_int(params, "offset", 0)?.max(0) as usize;
        let mut limit = param_int(params, "limit", 1024)?.max(0) as usize;
        let cid = match params.get("cid") {
            Some(v) => Some(v.parse::<u64>().map_err(|_| Error::Uint {
                key: "cid".into(),
                value: v.clone(),
            })?),
            None => None,
        };
        if cid.is_some() {
            limit = 1;
        }
        let state = params.get("state").map_or("open", String::as_str);
        let acc = params
            .get("acc")
            .map(String::as_str)
            .filter(|a| !a.is_empty());
        let auth = super::param_bool(params, "auth")?;
        Ok(Query {
            subs,
            subs_detail,
            offset,
            limit,
            cid,
            state,
            mqtt_client: params.get("mqtt_client").map(String::as_str),
            sort: params.get("sort").map_or("", String::as_str),
            acc,
            auth,
        })
    }

    /// Whether connection `cid` of account `acc` passes the `cid` and
    /// `acc` filters.
    fn wants(&self, cid: u64, acc: &str) -> bool {
        self.cid.is_none_or(|x| x == cid) && self.acc.is_none_or(|a| a == acc)
    }

    /// Whether a connection with MQTT client id `id` ("" for none) passes
    /// the `mqtt_client` filter (mqtt spec §5).
    fn wants_mqtt(&self, id: &str) -> bool {
        self.mqtt_client.is_none_or(|x| x == id)
    }
}

/// With `auth`: the user and account of a connection (nats-server
/// `ConnInfo.AuthorizedUser`, `Account`, `NameTag`): `account` is left
/// out for the global account `$G`, and so is `name_tag` of a closed
/// connection (nats-server `Connz`).
fn add_auth(meta: &crate::sink::ClientMeta, open: bool, obj: &mut serde_json::Map<String, Value>) {
    if !meta.user().is_empty() {
        obj.insert("authorized_user".into(), json!(meta.user()));
    }
    let global = meta.account() == "$G";
    if !meta.account().is_empty() && !global {
        obj.insert("account".into(), json!(meta.account()));
    }
    if !meta.account().is_empty() && (open || !global) {
        obj.insert("name_tag".into(), json!(meta.account()));
    }
}

/// The subscriptions of connection `cid`, across `accounts`: subjects, or
/// with `detail` nats-server's client `SubDetail` objects (`subject`,
/// `qgroup`, `sid`, `msgs`, `max`, `cid`; `newClientSubDetail`).
fn subscriptions_of(cid: u64, accounts: &[Arc<Account>], detail: bool) -> Vec<Value> {
    let mut list = Vec::new();
    for acc in accounts {
        if let Ok(r) = acc.router.lock() {
            r.sublist().for_each(|_, _, s| {
                if s.conn != cid {
                    return;
                }
                list.push(if detail {
                    super::subsz::sub_detail(s)
                } else {
                    json!(String::from_utf8_lossy(s.filter()))
                });
            });
        }
    }
    list
}

/// The natsws extensions of an open connection: `client_ip` behind
/// trusted proxies and the `websocket` upgrade request.
fn extensions(c: &ConnShared, obj: &mut serde_json::Map<String, Value>) {
    if let Some(f) = c.forwarded().filter(|f| f.trusted) {
        // natsws extension: the client behind trusted proxies
        // (`ip` stays the TCP peer, as in nats-server).
        obj.insert("client_ip".into(), json!(f.ip.to_string()));
    }
    if let Some(m) = c.upgrade.get() {
        // natsws extension: the WebSocket upgrade request.
        let mut w = json!({
            "path": m.path,
            "compression": m.compression,
            "browser": m.browser,
        });
        let wo = w.as_object_mut().expect("object");
        if let Some(o) = &m.origin {
            wo.insert("origin".into(), json!(o));
        }
        if let Some(ua) = &m.user_agent {
            wo.insert("user_agent".into(), json!(ua));
        }
        obj.insert("websocket".into(), w);
    }
}

/// The wall-clock time of a connection's last activity (nats-server
/// `client.last`) recorded as `ms` on the server clock, which started at
/// `epoch_wall` ([`Shared::start`]): the same at every request. The
/// connection's `start` when `ms` is 0 (none since the accept) or it
/// would fall before it (the server clock counts whole milliseconds).
fn last_activity(epoch_wall: SystemTime, start: SystemTime, ms: u64) -> SystemTime {
    if ms == 0 {
        return start;
    }
    (epoch_wall + Duration::from_millis(ms)).max(start)
}

/// The idle time of a connection whose last activity was recorded as `ms`
/// ([`ConnShared::last_activity`]), at `mono` on the server clock: from
/// the monotonic clock, so a step of the wall clock does not change it
/// (as Go's `time.Sub` of two `time.Now()` readings); `since_start` when
/// `ms` is 0.
fn idle_time(ms: u64, mono: Millis, since_start: Duration) -> Duration {
    if ms == 0 {
        return since_start;
    }
    Duration::from_millis(mono.0.saturating_sub(ms))
}

/// One open connection's object; `activity`: its last activity and the
/// idle time since.
fn open_conn(
    c: &ConnShared,
    now: SystemTime,
    activity: (SystemTime, Duration),
    q: &Query<'_>,
    accounts: &[Arc<Account>],
) -> Value {
    let subs = q.subs;
    let meta = c.client.lock().map(|m| m.clone()).unwrap_or_default();
    let rtt = crate::rtt::go_duration(c.rtt.get());
    let pending = c.out.lock().map_or(0, |o| o.buf.len());
    let mut v = json!({
        "cid": c.cid,
        "kind": if c.kind.is_leaf() { "Leafnode" } else { "Client" },
        "type": c.kind.connz_type(),
        "ip": c.peer_addr().ip().to_string(),
        "port": c.peer_addr().port(),
        "start": rfc3339(c.start()),
        "last_activity": rfc3339(activity.0),
        "uptime": uptime_string(now.duration_since(c.start()).unwrap_or_default()),
        "idle": uptime_string(activity.1),
        "rtt": rtt,
        "pending_bytes": pending,
        "in_msgs": c.in_msgs.load(Ordering::Relaxed),
        "out_msgs": c.out_msgs.load(Ordering::Relaxed),
        "in_bytes": c.in_bytes.load(Ordering::Relaxed),
        "out_bytes": c.out_bytes.load(Ordering::Relaxed),
        "subscriptions": c.subs.load(Ordering::Relaxed),
    });
    let obj = v.as_object_mut().expect("object");
    if c.proxied().is_some() {
        // natsws extension: the PROXY protocol sender (the socket's peer).
        obj.insert("proxy_ip".into(), json!(c.peer().to_string()));
    }
    for (k, val) in [
        ("name", meta.name()),
        ("lang", meta.lang()),
        ("version", meta.version()),
        ("mqtt_client", meta.mqtt_client.as_deref().unwrap_or("")),
    ] {
        if !val.is_empty() {
            obj.insert(k.into(), json!(val));
        }
    }
    extensions(c, obj);
    if q.auth {
        add_auth(&meta, true, obj);
    }
    if let Some(t) = c.tls() {
        obj.insert("tls_version".into(), json!(t.version));
        obj.insert("tls_cipher_suite".into(), json!(t.cipher));
    }
    if subs || q.subs_detail {
        let list = subscriptions_of(c.cid, accounts, q.subs_detail);
        if !list.is_empty() {
            let key = if q.subs_detail {
                "subscriptions_list_detail"
            } else {
                "subscriptions_list"
            };
            obj.insert(key.into(), Value::Array(list));
        }
    }
    v
}

/// One closed connection's object: the open one's keys as they stood at
/// the close (nats-server `saveClosedClient` fills the same `ConnInfo`),
/// plus `stop` and `reason`; `activity`: its last activity and the idle
/// time from it to the close.
fn closed_conn(c: &ClosedConn, activity: (SystemTime, Duration), auth: bool) -> Value {
    let (last, idle) = activity;
    let st = &c.stats;
    let mut v = json!({
        "cid": c.cid, "kind": if c.kind.is_leaf() { "Leafnode" } else { "Client" }, "type": c.kind.connz_type(),
        "ip": c.peer.ip().to_string(), "port": c.peer.port(),
        "start": rfc3339(c.start), "last_activity": rfc3339(last), "stop": rfc3339(c.stop),
        "reason": c.reason.as_str(),
        "uptime": uptime_string(c.stop.duration_since(c.start).unwrap_or_default()),
        "idle": uptime_string(idle),
        "rtt": crate::rtt::go_duration(st.rtt), "pending_bytes": st.pending,
        "in_msgs": st.in_msgs, "out_msgs": st.out_msgs,
        "in_bytes": st.in_bytes, "out_bytes": st.out_bytes,
        "subscriptions": st.subs,
    });
    let obj = v.as_object_mut().expect("object");
    for (k, val) in [
        ("name", c.client.name()),
        ("lang", c.client.lang()),
        ("version", c.client.version()),
        ("mqtt_client", c.client.mqtt_client.as_deref().unwrap_or("")),
    ] {
        if !val.is_empty() {
            obj.insert(k.into(), json!(val));
        }
    }
    if auth {
        add_auth(&c.client, false, obj);
    }
    v
}

/// The `/connz` object for the query `params`.
pub(crate) fn connz(shared: &Shared, params: &Params) -> Result<Value, Error> {
    let q = Query::parse(params)?;
    if !matches!(q.state, "open" | "closed" | "any" | "all") {
        return Err(Error::State(q.state.to_string()));
    }
    super::connz_sort::check(q.sort, q.state)?;
    let now = SystemTime::now();
    let mono = shared.now();
    let mut list: Vec<Row> = Vec::new();
    if matches!(q.state, "open" | "any" | "all") {
        let conns: Vec<_> = shared
            .conns
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        let accounts = shared.accounts.all();
        for c in conns.iter() {
            let (acc, mqtt_id) = c
                .client
                .lock()
                .map(|m| (Box::<str>::from(m.account()), m.mqtt_client.clone()))
                .unwrap_or_default();
            if q.wants(c.cid, &acc) && q.wants_mqtt(mqtt_id.as_deref().unwrap_or("")) {
                let ms = c.last_activity.load(Ordering::Relaxed);
                let last = last_activity(shared.start, c.start(), ms);
                let uptime = now.duration_since(c.start()).unwrap_or_default();
                let idle = idle_time(ms, mono, uptime);
                list.push(Row {
                    cid: c.cid,
                    start: c.start(),
                    last,
                    stop: None,
                    rtt: c.rtt.get(),
                    v: open_conn(c, now, (last, idle), &q, &accounts),
                });
            }
        }
    }
    if matches!(q.state, "closed" | "any" | "all") {
        let closed: Vec<_> = shared
            .closed
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        for c in closed.iter().filter(|c| {
            q.wants(c.cid, c.client.account())
                && q.wants_mqtt(c.client.mqtt_client.as_deref().unwrap_or(""))
        }) {
            let last = last_activity(shared.start, c.start, c.stats.last_activity);
            let uptime = c.stop.duration_since(c.start).unwrap_or_default();
            let idle = match c.stats.last_activity {
                0 => uptime,
                _ => c.stats.idle,
            };
            list.push(Row {
                cid: c.cid,
                start: c.start,
                last,
                stop: Some(c.stop),
                rtt: c.stats.rtt,
                v: closed_conn(c, (last, idle), q.auth),
            });
        }
    }
    list.sort_by_key(|r| r.cid);
    super::connz_sort::sort(&mut list, q.sort, now);
    let total = list.len();
    let page: Vec<Value> = list
        .into_iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|r| r.v)
        .collect();
    Ok(json!({
        "server_id": shared.server_id,
        "now": rfc3339(now),
        "num_connections": page.len(),
        "total": total,
        "offset": q.offset,
        "limit": q.limit,
        "connections": page,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_activity_is_stable_and_never_before_start() {
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let start = epoch + Duration::from_millis(2_000);
        // None since the accept: the start, idle since it.
        assert_eq!(last_activity(epoch, start, 0), start);
        let up = Duration::from_secs(7);
        assert_eq!(idle_time(0, Millis(90_000), up), up);
        // Recorded at 88.5 s on the server clock.
        assert_eq!(
            last_activity(epoch, start, 88_500),
            epoch + Duration::from_millis(88_500)
        );
        assert_eq!(
            idle_time(88_500, Millis(90_000), up),
            Duration::from_millis(1_500)
        );
        // A store after the clock was read: no idle.
        assert_eq!(idle_time(90_001, Millis(90_000), up), Duration::ZERO);
        // Never before the start (the server clock counts whole ms).
        assert_eq!(last_activity(epoch, start, 1_999), start);
    }
}
