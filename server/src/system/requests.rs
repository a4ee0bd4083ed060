//! The `$SYS` request services (operations spec §2.3) and the automatic
//! imports of every account (§2.6): internal subscriptions
//! (`Sink::Internal`) whose handler builds the answer with the monitoring
//! endpoints' own builders (`/varz`, `/connz`, `/subsz`, `/accountz`, …)
//! and publishes it on the request's reply subject in the account it was
//! asked in (nats-server `initEventTracking`, `zReq`).
//!
//! The automatic imports are a narrow internal rule, not the general
//! imports/exports: each non-system account gets handlers on
//! `$SYS.REQ.SERVER.PING.CONNZ`, `$SYS.REQ.ACCOUNT.PING.CONNZ`,
//! `$SYS.REQ.ACCOUNT.PING.STATZ` and `$SYS.REQ.USER.INFO` that answer about
//! that account (or the requesting connection) only.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use natsws_core::router::{Message, Origin, SubRef, Subscription};
use natsws_core::subject::Filter;
use serde_json::{json, Map, Value};

use natsws_core::sysreq::{self, Body, Opts};

use super::body;
use super::events::{self, publish, server_info};
use crate::account::Account;
use crate::log::rfc3339;
use crate::monitor;
use crate::shared::Shared;
use crate::sink::{Handler, Sink};

/// What a request subject asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `STATSZ` (and the bare `PING`): `{"server","statsz"}`.
    Statsz,
    /// `IDZ`: bare `{"name","host","id"}`.
    Idz,
    /// `VARZ`.
    Varz,
    /// `CONNZ` (scoped to an account for the account forms).
    Connz,
    /// `SUBSZ`.
    Subsz,
    /// `HEALTHZ`.
    Healthz,
    /// `ACCOUNTZ`.
    Accountz,
    /// `ROUTEZ`: no routes.
    Routez,
    /// `GATEWAYZ`: no gateways.
    Gatewayz,
    /// `LEAFZ`: no leafnodes.
    Leafz,
    /// `JSZ`: JetStream disabled.
    Jsz,
    /// Account `STATZ`.
    Statz,
    /// Account `CONNS`: an account connections event.
    Conns,
    /// `USER.INFO`: about the requesting connection.
    UserInfo,
    /// `<id>.KICK`: close the client `{"cid":N}` (reason `Kicked`).
    Kick,
    /// `<id>.LDM`: a lame duck INFO to the client `{"cid":N}`.
    Ldm,
    /// `<id>.RELOAD`: reload the configuration file.
    Reload,
}

/// Which account an answer is about.
#[derive(Debug, Clone)]
enum Scope {
    /// The whole server.
    Server,
    /// The account named by the subject's fourth token
    /// (`$SYS.REQ.ACCOUNT.<acc>.<NAME>`).
    Token,
    /// The requester's own account (`…PING…` forms and the imports).
    Requester,
}

/// One internal subscription's handler.
struct Req {
    shared: Weak<Shared>,
    /// Where the request was asked, so where the answer goes.
    acc: Weak<Account>,
    ep: Endpoint,
    scope: Scope,
}

/// The server-level endpoints: `PING.<NAME>` and `<id>.<NAME>`.
const SERVER_ENDPOINTS: &[(&str, Endpoint)] = &[
    ("STATSZ", Endpoint::Statsz),
    ("IDZ", Endpoint::Idz),
    ("VARZ", Endpoint::Varz),
    ("CONNZ", Endpoint::Connz),
    ("SUBSZ", Endpoint::Subsz),
    ("HEALTHZ", Endpoint::Healthz),
    ("ACCOUNTZ", Endpoint::Accountz),
    ("ROUTEZ", Endpoint::Routez),
    ("GATEWAYZ", Endpoint::Gatewayz),
    ("LEAFZ", Endpoint::Leafz),
    ("JSZ", Endpoint::Jsz),
];

/// The account-level endpoints: `$SYS.REQ.ACCOUNT.<acc>.<NAME>`.
const ACCOUNT_ENDPOINTS: &[(&str, Endpoint)] = &[
    ("CONNZ", Endpoint::Connz),
    ("SUBSZ", Endpoint::Subsz),
    ("LEAFZ", Endpoint::Leafz),
    ("STATZ", Endpoint::Statz),
    ("CONNS", Endpoint::Conns),
];

/// Subscribes `ep` on `subject` in `acc`.
fn add(shared: &Arc<Shared>, acc: &Arc<Account>, subject: &str, ep: Endpoint, scope: Scope) {
    let Ok(filter) = Filter::try_from(subject) else {
        return;
    };
    let handler = Req {
        shared: Arc::downgrade(shared),
        acc: Arc::downgrade(acc),
        ep,
        scope,
    };
    let sub = SubRef::new(
        Subscription::new(0, subject.as_bytes(), filter, None, false)
            .with_target(Some(Sink::Internal(Arc::new(handler)))),
    );
    crate::deliver::subscribe(shared, acc, &sub);
}

/// Registers the system account's services and the automatic imports of
/// every account there is now and of every account bound later (through
/// [`super::state::SysState::ensure_imports`]). Nothing without a system
/// account.
pub(crate) fn register(shared: &Arc<Shared>) {
    events::install(shared);
    let Some(sys) = events::system_account(shared).cloned() else {
        return;
    };
    let id = shared.server_id.clone();
    add(
        shared,
        &sys,
        "$SYS.REQ.SERVER.PING",
        Endpoint::Statsz,
        Scope::Server,
    );
    for (name, ep) in SERVER_ENDPOINTS {
        let s = &format!("$SYS.REQ.SERVER.PING.{name}");
        add(shared, &sys, s, *ep, Scope::Server);
        add(
            shared,
            &sys,
            &format!("$SYS.REQ.SERVER.{id}.{name}"),
            *ep,
            Scope::Server,
        );
    }
    let kick = format!("$SYS.REQ.SERVER.{id}.KICK");
    add(shared, &sys, &kick, Endpoint::Kick, Scope::Server);
    let ldm = format!("$SYS.REQ.SERVER.{id}.LDM");
    add(shared, &sys, &ldm, Endpoint::Ldm, Scope::Server);
    let reload = format!("$SYS.REQ.SERVER.{id}.RELOAD");
    add(shared, &sys, &reload, Endpoint::Reload, Scope::Server);
    for (name, ep) in ACCOUNT_ENDPOINTS {
        let s = format!("$SYS.REQ.ACCOUNT.*.{name}");
        add(shared, &sys, &s, *ep, Scope::Token);
    }
    add(
        shared,
        &sys,
        "$SYS.REQ.USER.INFO",
        Endpoint::UserInfo,
        Scope::Requester,
    );
    let done: Mutex<HashSet<String>> = Mutex::new(HashSet::from([sys.name.clone()]));
    let weak = Arc::downgrade(shared);
    let hook = move |name: &str| {
        let Some(shared) = weak.upgrade() else { return };
        {
            let mut done = done.lock().expect("imports");
            if done.contains(name) {
                return;
            }
            done.insert(name.to_string());
        }
        let acc = shared.accounts.get(name);
        imports(&shared, &acc);
    };
    let _ = shared.sys.import_hook.set(Box::new(hook));
    for acc in shared.accounts.all() {
        shared.sys.ensure_imports(&acc.name);
    }
}

/// The automatic imports of a non-system account (spec §2.6).
fn imports(shared: &Arc<Shared>, acc: &Arc<Account>) {
    let r = Scope::Requester;
    add(
        shared,
        acc,
        "$SYS.REQ.SERVER.PING.CONNZ",
        Endpoint::Connz,
        r.clone(),
    );
    add(
        shared,
        acc,
        "$SYS.REQ.ACCOUNT.PING.CONNZ",
        Endpoint::Connz,
        r.clone(),
    );
    add(
        shared,
        acc,
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        Endpoint::Statz,
        r.clone(),
    );
    add(shared, acc, "$SYS.REQ.USER.INFO", Endpoint::UserInfo, r);
}

impl Handler for Req {
    fn deliver(&self, sub: &Subscription<Sink>, msg: &Message<'_>) {
        self.deliver_from(Origin::Internal, sub, msg);
    }

    fn deliver_from(&self, origin: Origin, _sub: &Subscription<Sink>, msg: &Message<'_>) {
        let (Some(shared), Some(acc)) = (self.shared.upgrade(), self.acc.upgrade()) else {
            return;
        };
        let Some(reply) = msg.reply else {
            // A PING without a reply subject: the STATSZ broadcast
            // (nats-server `statszReq`), at most one a second.
            if self.ep == Endpoint::Statsz && shared.sys.statsz_allowed(std::time::Instant::now()) {
                broadcast_statsz(&shared);
            }
            return;
        };
        if self.ep == Endpoint::Reload {
            return reload(&shared, &acc, reply, msg.payload);
        }
        let scope = match self.scope {
            Scope::Server => None,
            Scope::Token => {
                let token = msg.subject.split(|&b| b == b'.').nth(3).unwrap_or_default();
                match token {
                    // In the system account, an account PING for STATZ
                    // is about every account (nats-server `statzReq`).
                    b"PING" if self.ep == Endpoint::Statz => None,
                    b"PING" => Some(acc.name.clone()),
                    t => Some(String::from_utf8_lossy(t).into_owned()),
                }
            }
            Scope::Requester => Some(acc.name.clone()),
        };
        if let Some(answer) = answer(&shared, self.ep, scope.as_deref(), origin, msg.payload) {
            publish(&shared, &acc, reply, None, &answer);
        }
    }
}

/// The answer's body, or `None` to stay silent (filtered out, nothing to
/// report).
fn answer(
    shared: &Shared,
    ep: Endpoint,
    scope: Option<&str>,
    origin: Origin,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let opts = match ep {
        Endpoint::Connz => Opts::Connz,
        Endpoint::Subsz => Opts::Subsz,
        Endpoint::Accountz => Opts::Accountz,
        Endpoint::Statz | Endpoint::Statsz => Opts::Statz,
        Endpoint::Idz => Opts::Filter("IdzEventOptions"),
        Endpoint::Varz => Opts::Filter("VarzEventOptions"),
        Endpoint::Healthz => Opts::Filter("HealthzEventOptions"),
        Endpoint::Routez => Opts::Filter("RoutezEventOptions"),
        Endpoint::Gatewayz => Opts::Filter("GatewayzEventOptions"),
        Endpoint::Leafz => Opts::Filter("LeafzEventOptions"),
        Endpoint::Jsz => Opts::Filter("JszEventOptions"),
        Endpoint::Conns | Endpoint::UserInfo => Opts::Filter("EventFilterOptions"),
        Endpoint::Kick => return kick(shared, payload),
        Endpoint::Ldm => return super::ldm::ldm(shared, payload),
        Endpoint::Reload => return None,
    };
    let body = match sysreq::parse(payload, opts) {
        Ok(b) => b,
        Err(e) => return Some(envelope(shared, Err((400, e.to_string())))),
    };
    if body.filtered_out(&shared.server_name, &shared.client_addr.ip().to_string()) {
        return None;
    }
    let data = match ep {
        Endpoint::Statsz => return Some(to_vec(&statsz(shared))),
        Endpoint::Idz => {
            return Some(to_vec(&json!({
                "name": shared.server_name,
                "host": shared.client_addr.ip().to_string(),
                "id": shared.server_id,
            })))
        }
        Endpoint::Conns => return account_conns_answer(shared, scope?),
        Endpoint::Varz => Ok(monitor::varz::varz(shared)),
        Endpoint::Connz => {
            let mut p = body::connz_params(&body);
            if let Some(acc) = scope {
                p.insert("acc".into(), acc.into());
            }
            monitor::connz::connz(shared, &p).map_err(|e| (400, e.to_string()))
        }
        Endpoint::Subsz => {
            let mut p = body::subsz_params(&body);
            if let Some(acc) = scope {
                p.insert("acc".into(), acc.into());
            }
            monitor::subsz::subsz(shared, &p).map_err(|e| (400, e.to_string()))
        }
        Endpoint::Accountz => monitor::accountz::accountz(shared, &body::accountz_params(&body))
            .map_err(|e| (400, e.to_string())),
        Endpoint::Healthz => Ok(healthz(shared)),
        Endpoint::Routez => Ok(monitor::leafz::routez(shared)),
        Endpoint::Leafz => Ok(monitor::leafz::leafz(shared, None, false)),
        Endpoint::Gatewayz => Ok(gatewayz(shared)),
        Endpoint::Jsz => Ok(jsz(shared)),
        Endpoint::Statz => return account_statz(shared, scope, &body),
        Endpoint::UserInfo => Ok(user_info(shared, origin)?),
        Endpoint::Kick | Endpoint::Ldm | Endpoint::Reload => return None,
    };
    Some(envelope(shared, data))
}

pub(super) fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `ServerAPIResponse`: `{"server", "data"}` or `{"server", "error":
/// {"code", "description"}}` (spec §2.2).
pub(super) fn envelope(shared: &Shared, data: Result<Value, (u16, String)>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("server".into(), server_info(shared));
    match data {
        Ok(d) => m.insert("data".into(), d),
        Err((code, description)) => m.insert(
            "error".into(),
            json!({"code": code, "description": description}),
        ),
    };
    to_vec(&Value::Object(m))
}

/// `<id>.KICK` (nats-server `kickClient`): the body must be
/// `{"cid":N}` (anything else is logged and not answered); the event filter
/// applies; the client with that id is closed with reason `Kicked` and the
/// answer is the bare `{"server"}` envelope, or the 500 `no such client or
/// leafnode id`.
fn kick(shared: &Shared, payload: &[u8]) -> Option<Vec<u8>> {
    let cid = serde_json::from_slice::<Value>(payload)
        .ok()
        .filter(Value::is_object)
        .map(|v| v.get("cid").map_or(Some(0), Value::as_u64));
    let Some(Some(cid)) = cid else {
        crate::error!("Error unmarshalling kick client request");
        return None;
    };
    let body = sysreq::parse(payload, Opts::Filter("EventFilterOptions"));
    match body {
        Ok(b) if b.filtered_out(&shared.server_name, &shared.client_addr.ip().to_string()) => {
            return None
        }
        Ok(_) => {}
        Err(e) => return Some(envelope(shared, Err((400, e.to_string())))),
    }
    let conn = shared.conns.lock().ok()?.get(&cid).cloned();
    match conn {
        Some(c) => {
            shared.kill(&c, crate::sink::Kill::Kicked);
            let mut m = Map::new();
            m.insert("server".into(), server_info(shared));
            Some(to_vec(&Value::Object(m)))
        }
        None => Some(envelope(
            shared,
            Err((500, "no such client or leafnode id".into())),
        )),
    }
}

/// `<id>.RELOAD` (spec §1.1, nats-server `reloadConfig`): the event
/// filter applies; the reload runs on its own thread (it may close
/// connections, this handler runs on a loop's), then the answer is the
/// bare `{"server"}` envelope, or a 500 with the reload's error text.
fn reload(shared: &Arc<Shared>, acc: &Arc<Account>, reply: &[u8], payload: &[u8]) {
    match sysreq::parse(payload, Opts::Filter("EventFilterOptions")) {
        Ok(b) if b.filtered_out(&shared.server_name, &shared.client_addr.ip().to_string()) => {
            return
        }
        Ok(_) => {}
        Err(e) => {
            let body = envelope(shared, Err((400, e.to_string())));
            publish(shared, acc, reply, None, &body);
            return;
        }
    }
    let (shared, acc, reply) = (shared.clone(), acc.clone(), reply.to_vec());
    let spawned = std::thread::Builder::new()
        .name("natsws-reload".into())
        .spawn(move || {
            let body = match crate::reload::reload(&shared) {
                Ok(_) => {
                    let mut m = Map::new();
                    m.insert("server".into(), server_info(&shared));
                    to_vec(&Value::Object(m))
                }
                Err(e) => envelope(&shared, Err((500, e.to_string()))),
            };
            publish(&shared, &acc, &reply, None, &body);
        });
    if let Err(e) = spawned {
        crate::error!("$SYS reload request: {e}");
    }
}

/// The statsz message (`{"server","statsz"}`, spec §2.2) from the `/varz`
/// figures.
pub(crate) fn statsz(shared: &Shared) -> Value {
    let v = monitor::varz::varz(shared);
    let n = |k: &str| v.get(k).cloned().unwrap_or(json!(0));
    let active = shared.sys.active_accounts().len();
    let stats = json!({
        "start": n("start"),
        "mem": n("mem"),
        "cores": n("cores"),
        "cpu": n("cpu"),
        "connections": n("connections"),
        "total_connections": n("total_connections"),
        "active_accounts": active,
        "subscriptions": n("subscriptions"),
        "sent": {"msgs": n("out_msgs"), "bytes": n("out_bytes")},
        "sent_to_clients": {"msgs": n("out_msgs"), "bytes": n("out_bytes")},
        "received": {"msgs": n("in_msgs"), "bytes": n("in_bytes")},
        "received_from_clients": {"msgs": n("in_msgs"), "bytes": n("in_bytes")},
        "slow_consumers": n("slow_consumers"),
        "active_servers": 1,
        "gomaxprocs": n("cores"),
    });
    let mut stats = stats;
    // nats-server `sendStatsz`: the split by kind only when a figure is
    // not 0, `stale_connections` omitted when 0.
    for (key, total) in [
        ("slow_consumer_stats", None),
        ("stale_connection_stats", Some("stale_connections")),
    ] {
        let split = &v[key];
        let any = ["clients", "routes", "gateways", "leafs"]
            .iter()
            .any(|k| split[*k].as_u64().is_some_and(|n| n != 0));
        if any {
            stats[key] = split.clone();
        }
        if let Some(t) = total.filter(|t| v[*t].as_u64().is_some_and(|n| n != 0)) {
            stats[t] = v[t].clone();
        }
    }
    json!({"server": server_info(shared), "statsz": stats})
}

/// Publishes the statsz message on `$SYS.SERVER.<id>.STATSZ`.
pub(crate) fn broadcast_statsz(shared: &Shared) {
    let subject = format!("$SYS.SERVER.{}.STATSZ", shared.server_id);
    events::emit(shared, &subject, || statsz(shared));
}

/// `HEALTHZ` `data` (nats-server `HealthStatus`): ok, or unavailable once
/// lame duck mode closed the listeners.
fn healthz(shared: &Shared) -> Value {
    if shared.in_lame_duck() {
        return json!({
            "status": "unavailable",
            "status_code": 503,
            "error": "failed to be ready for connections",
        });
    }
    json!({"status": "ok", "status_code": 200})
}

/// `GATEWAYZ` `data`: no gateways.
fn gatewayz(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "outbound_gateways": {},
        "inbound_gateways": {},
    })
}

/// `JSZ` `data` of a server without JetStream, as nats-server 2.15.1
/// answers it (`disabled: true`, zero figures).
fn jsz(shared: &Shared) -> Value {
    json!({
        "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0,
        "accounts": 0, "ha_assets": 0, "api": {"level": 0, "total": 0, "errors": 0},
        "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
        "disabled": true, "config": {"max_memory": 0, "max_storage": 0},
        "streams": 0, "consumers": 0, "messages": 0, "bytes": 0, "total": 0,
    })
}

/// Account `STATZ`: `{"server_id","now","account_statz":[…]}` for
/// account `acc`, or with `None` for the accounts the body's `accounts`
/// lists, else every account; accounts without connections are skipped
/// unless `include_unused`, and an empty list is not answered (nats-server
/// `statzReq`).
fn account_statz(shared: &Shared, acc: Option<&str>, body: &Body) -> Option<Vec<u8>> {
    let listed: Option<Vec<String>> = body.json.get("accounts").and_then(|v| {
        let names: Vec<String> = v
            .as_array()?
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        (!names.is_empty()).then_some(names)
    });
    let unused = body.flag("include_unused");
    let stats: Vec<Value> = shared
        .accounts
        .all()
        .iter()
        .filter(|a| match (acc, &listed) {
            (Some(only), _) => a.name == only,
            (None, Some(names)) => names.contains(&a.name),
            (None, None) => true,
        })
        .filter(|a| unused || shared.sys.conns_of(&a.name).conns > 0)
        .map(|a| Value::Object(events::account_stat(shared, a)))
        .collect();
    if stats.is_empty() {
        return None;
    }
    let data = json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "account_statz": stats,
    });
    Some(envelope(shared, Ok(data)))
}

/// Account `CONNS`: the account connections event of `acc`, when it has
/// connections.
fn account_conns_answer(shared: &Shared, acc: &str) -> Option<Vec<u8>> {
    if shared.sys.conns_of(acc).conns == 0 {
        return None;
    }
    let account = shared.accounts.all().into_iter().find(|a| a.name == acc)?;
    let mut m = Map::new();
    m.insert("server".into(), server_info(shared));
    m.extend(events::account_stat(shared, &account));
    Some(to_vec(&Value::Object(m)))
}

/// `USER.INFO` `data` about the requesting connection: `user` (omitted
/// when empty), `account`, `account_name`. natsws does not report
/// `permissions` or `expires` (docs/compat.md).
fn user_info(shared: &Shared, origin: Origin) -> Option<Value> {
    let Origin::Conn(cid) = origin else {
        return None;
    };
    let cs = shared.conns.lock().ok()?.get(&cid).cloned()?;
    let meta = cs.client.lock().ok()?.clone();
    let mut m = Map::new();
    if !meta.user().is_empty() {
        m.insert("user".into(), json!(meta.user()));
    }
    m.insert("account".into(), json!(meta.account()));
    m.insert("account_name".into(), json!(meta.account()));
    let perms = cs.perms.lock().ok()?.as_ref().map(|d| d.perms.clone());
    if let Some(p) = perms {
        m.insert("permissions".into(), body::public_permissions(&p.public()));
    }
    if let Some(exp) = meta.expires_unix() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // nats-server `claimExpiration`: time left, whole seconds, in
        // nanoseconds (a Go Duration); omitted when zero.
        let left = exp.saturating_sub(now);
        if left > 0 {
            m.insert("expires".into(), json!(left.saturating_mul(1_000_000_000)));
        }
    }
    Some(Value::Object(m))
}

/// The periodic `$SYS` messages, on their own thread until the server
/// stops: `$SYS.SERVER.<id>.STATSZ` 250 ms after start, then with a
/// doubling period up to every 10 s (nats-server `statsHBInterval`), and
/// every 30 s the `SERVER.CONNS` of each account with connections
/// (`eventsHBInterval`).
pub(crate) fn spawn_heartbeat(shared: &Arc<Shared>) -> std::io::Result<()> {
    if events::system_account(shared).is_none() {
        return Ok(());
    }
    let weak = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("natsws-sys".into())
        .spawn(move || {
            let mut period = Duration::from_millis(250);
            let mut since_conns = Duration::ZERO;
            loop {
                let Some(shared) = weak.upgrade() else { return };
                if shared.sys.wait_stop(period) {
                    return;
                }
                broadcast_statsz(&shared);
                since_conns += period;
                if since_conns >= Duration::from_secs(30) {
                    since_conns = Duration::ZERO;
                    for name in shared.sys.active_accounts() {
                        events::account_conns(&shared, &shared.accounts.get(&name));
                    }
                }
                period = (period * 2).min(Duration::from_secs(10));
            }
        })?;
    Ok(())
}
