//! What the server publishes into the system account (operations spec
//! §2.5): client `CONNECT`/`DISCONNECT`, `CLIENT.AUTH.ERR`, the account
//! `SERVER.CONNS` counts, `SHUTDOWN` and `LAMEDUCK`; and the pieces every
//! `$SYS` message carries (`ServerInfo`, §2.2) and the internal publish
//! they all go through ([`publish`]: `deliver::publish` from
//! `Origin::Internal`, nats-server `sendInternalMsg`).
//!
//! Events are built only when there is a system account
//! ([`crate::settings::Settings::system_account`]); they are published
//! whether or not somebody listens, as nats-server does (the match is one
//! cached sublist lookup).

use std::sync::Arc;
use std::time::SystemTime;

use natsws_core::router::{Message, Origin};
use natsws_core::session::ClosedReason;
use serde_json::{json, Map, Value};

use crate::account::Account;
use crate::deliver::{self, Turn};
use crate::log::rfc3339;
use crate::shared::Shared;
use crate::sink::{ClientMeta, ConnShared};

/// `type` of a connect event (nats-server `ConnectEventMsgType`).
const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
/// `type` of a disconnect and an auth error event
/// (`DisconnectEventMsgType`).
const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";
/// `type` of an account connections event (`AccountNumConnsMsgType`).
const CONNS_TYPE: &str = "io.nats.server.advisory.v1.account_connections";

/// The system account, when the server has one (set once at start by
/// [`install`]).
pub(crate) fn system_account(shared: &Shared) -> Option<&Arc<Account>> {
    shared.sys.account.get()
}

/// Records the system account named by the settings, if any (at start,
/// before any connection).
pub(crate) fn install(shared: &Shared) {
    if let Some(name) = shared.settings().system_account.as_deref() {
        let _ = shared.sys.account.set(shared.accounts.get(name));
    }
}

/// `ServerInfo` (spec §2.2, nats-server `ServerInfo`): `name`, `host` (the
/// client listen host), `id`, `ver`, `jetstream` (false), `flags` (0),
/// `seq` (this server's next message sequence) and `time` (now, RFC 3339
/// with nanoseconds). natsws has no cluster, domain, tags, metadata or
/// JetStream feature flags, so those omitempty keys never appear.
pub(crate) fn server_info(shared: &Shared) -> Value {
    json!({
        "name": shared.server_name,
        "host": shared.client_addr.ip().to_string(),
        "id": shared.server_id,
        "ver": natsws_core::proto::SERVER_VERSION,
        "jetstream": false,
        "flags": 0,
        "seq": shared.sys.next_seq(),
        "time": rfc3339(SystemTime::now()),
    })
}

/// Publishes `payload` on `subject` (with `reply`) into `acc` from the
/// server itself (`Origin::Internal`), as any client's publish reaches its
/// subscribers: the receivers' loops are woken at the end. Callable from
/// any thread, also from inside an internal handler's delivery (nothing is
/// locked then). Returns the receiver count.
pub(crate) fn publish(
    shared: &Shared,
    acc: &Arc<Account>,
    subject: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) -> usize {
    // A turn that belongs to no loop: every receiver is queued on its own
    // loop's inbox and that loop woken.
    let mut turn = Turn::new(usize::MAX, shared);
    let msg = Message {
        subject,
        reply,
        headers: None,
        payload,
    };
    let p = deliver::publish(
        shared,
        acc,
        Origin::Internal,
        false,
        &msg,
        &mut turn,
        &mut Vec::new(),
    );
    for (i, w) in turn.wake.iter().enumerate() {
        if *w {
            let _ = shared.loops[i].waker.wake();
        }
    }
    turn.remove_exhausted();
    let n = p.deliveries as u64;
    shared.stats.count_out(n, n * p.size);
    p.deliveries
}

/// Publishes what `build` makes on `subject` into the system account, if
/// there is one and somebody subscribes to `subject` there (one cached
/// sublist match): the JSON is not built for nobody.
pub(crate) fn emit(shared: &Shared, subject: &str, build: impl FnOnce() -> Value) {
    let Some(sys) = system_account(shared) else {
        return;
    };
    let interest = sys
        .router
        .lock()
        .map(|mut r| {
            let m = r.matches(subject.as_bytes());
            !m.plain.is_empty() || !m.queues.is_empty()
        })
        .unwrap_or(false);
    if interest {
        let body = serde_json::to_vec(&build()).unwrap_or_default();
        publish(shared, sys, subject.as_bytes(), None, &body);
    }
}

/// A new event id: 22 random base-62 characters, the shape of
/// nats-server's nuid.
fn event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// The `type`, `id`, `timestamp` and `server` of a typed event.
fn typed(shared: &Shared, kind: &str, now: SystemTime) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("id".into(), json!(event_id()));
    m.insert("timestamp".into(), json!(rfc3339(now)));
    m.insert("server".into(), server_info(shared));
    m
}

/// `ClientInfo` (spec §2.2) of connection `cs` in account `acc`; `stop`
/// for a disconnect. Empty strings are left out (omitempty).
fn client_info(cs: &ConnShared, meta: &ClientMeta, acc: &str, stop: Option<SystemTime>) -> Value {
    let mut m = Map::new();
    m.insert("start".into(), json!(rfc3339(cs.start())));
    m.insert("host".into(), json!(cs.client_ip().to_string()));
    m.insert("id".into(), json!(cs.cid));
    m.insert("acc".into(), json!(acc));
    for (k, v) in [
        ("user", meta.user()),
        ("name", meta.name()),
        ("lang", meta.lang()),
        ("ver", meta.version()),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    }
    // The disconnect event's `rtt`: nanoseconds, left out when zero
    // (nats-server `getRTT`).
    let rtt = cs.rtt.get().as_nanos();
    if stop.is_some() && rtt > 0 {
        m.insert("rtt".into(), json!(rtt));
    }
    if let Some(stop) = stop {
        m.insert("stop".into(), json!(rfc3339(stop)));
    }
    // Config mode: the account name is its name tag.
    m.insert("name_tag".into(), json!(acc));
    m.insert("kind".into(), json!("Client"));
    m.insert("client_type".into(), json!(cs.kind.connz_type()));
    Value::Object(m)
}

/// `{"msgs","bytes"}`.
fn msg_bytes(msgs: u64, bytes: u64) -> Value {
    json!({"msgs": msgs, "bytes": bytes})
}

/// A client connection passed CONNECT in account `acc` (nats-server
/// `accountConnectEvent`): its account's counts (`SERVER.CONNS`) first,
/// then `$SYS.ACCOUNT.<acc>.CONNECT`, as nats-server orders them.
pub(crate) fn client_connect(shared: &Shared, cs: &ConnShared, acc: &Arc<Account>) {
    if system_account(shared).is_none() {
        return;
    }
    shared.sys.ensure_imports(&acc.name);
    shared.sys.count_conn(&acc.name, 1);
    account_conns(shared, acc);
    let subject = format!("$SYS.ACCOUNT.{}.CONNECT", acc.name);
    emit(shared, &subject, || {
        let meta = cs.client.lock().map(|m| m.clone()).unwrap_or_default();
        let mut m = typed(shared, CONNECT_TYPE, SystemTime::now());
        m.insert("client".into(), client_info(cs, &meta, &acc.name, None));
        Value::Object(m)
    });
}

/// A client connection closed with `reason` (nats-server
/// `accountDisconnectEvent`, and `sendAuthErrorEvent` for an
/// authentication failure): `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` first when
/// it failed to authenticate, then, if it had passed CONNECT (`counted`),
/// its account's new counts, then `$SYS.ACCOUNT.<acc>.DISCONNECT`. Every
/// client connection gets a disconnect event, also one that never sent
/// CONNECT (attributed to `$G`); leafnode connections get none.
pub(crate) fn client_disconnect(
    shared: &Shared,
    cs: &ConnShared,
    acc: &Arc<Account>,
    reason: ClosedReason,
    counted: bool,
) {
    // Leafnode connections are not clients: nats-server sends these only
    // from `saveClosedClient`.
    if system_account(shared).is_none() || cs.kind.is_leaf() {
        return;
    }
    let meta = || cs.client.lock().map(|m| m.clone()).unwrap_or_default();
    let now = SystemTime::now();
    let ordering = std::sync::atomic::Ordering::Relaxed;
    let event = |shared: &Shared| {
        let meta = meta();
        let mut m = typed(shared, DISCONNECT_TYPE, now);
        m.insert(
            "client".into(),
            client_info(cs, &meta, &acc.name, Some(now)),
        );
        m.insert(
            "sent".into(),
            msg_bytes(cs.in_msgs.load(ordering), cs.in_bytes.load(ordering)),
        );
        m.insert(
            "received".into(),
            msg_bytes(cs.out_msgs.load(ordering), cs.out_bytes.load(ordering)),
        );
        m.insert("reason".into(), json!(reason.as_str()));
        Value::Object(m)
    };
    if reason == ClosedReason::AuthenticationFailure {
        let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", shared.server_id);
        emit(shared, &subject, || event(shared));
    }
    shared.sys.add_closed(
        &acc.name,
        [
            cs.in_msgs.load(ordering),
            cs.in_bytes.load(ordering),
            cs.out_msgs.load(ordering),
            cs.out_bytes.load(ordering),
        ],
    );
    if counted {
        shared.sys.count_conn(&acc.name, -1);
        account_conns(shared, acc);
    }
    let subject = format!("$SYS.ACCOUNT.{}.DISCONNECT", acc.name);
    emit(shared, &subject, || event(shared));
}

/// The `AccountNumConns` object of `acc` (nats-server
/// `statzReq`/`sendAccConnsUpdate`): `acc`, `name`, `conns`, `leafnodes`
/// (0), `total_conns`, `num_subscriptions`, `sent` (delivered to the
/// account's clients) and `received` (published by them) over its closed
/// and open connections, with zero `gateways`/`routes`/`leafs`, and
/// `slow_consumers` (0). Walks the open connections: built only for a
/// listener or a request, never per message.
pub(crate) fn account_stat(shared: &Shared, acc: &Account) -> Map<String, Value> {
    let figures = shared.sys.conns_of(&acc.name);
    let conns = figures.conns;
    let subs = acc.router.lock().map_or(0, |r| r.len());
    let (mut rin, mut rout) = (figures.closed_in, figures.closed_out);
    let open: Vec<_> = shared
        .conns
        .lock()
        .map(|c| c.values().cloned().collect())
        .unwrap_or_default();
    let ordering = std::sync::atomic::Ordering::Relaxed;
    for c in open {
        if c.client.lock().is_ok_and(|m| m.account() == acc.name) {
            rin.0 += c.in_msgs.load(ordering);
            rin.1 += c.in_bytes.load(ordering);
            rout.0 += c.out_msgs.load(ordering);
            rout.1 += c.out_bytes.load(ordering);
        }
    }
    let stats = |(msgs, bytes): (u64, u64)| {
        json!({
            "msgs": msgs, "bytes": bytes,
            "gateways": {"msgs": 0, "bytes": 0},
            "routes": {"msgs": 0, "bytes": 0},
            "leafs": {"msgs": 0, "bytes": 0},
        })
    };
    let mut m = Map::new();
    m.insert("acc".into(), json!(acc.name));
    m.insert("name".into(), json!(acc.name));
    m.insert("conns".into(), json!(conns));
    m.insert("leafnodes".into(), json!(0));
    m.insert("total_conns".into(), json!(conns));
    m.insert("num_subscriptions".into(), json!(subs));
    m.insert("sent".into(), stats(rout));
    m.insert("received".into(), stats(rin));
    m.insert("slow_consumers".into(), json!(0));
    m
}

/// The account connections event of `acc` (spec §2.5), on both
/// `$SYS.SERVER.ACCOUNT.<acc>.CONNS` (the old subject) and
/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS`, with the same event id.
pub(crate) fn account_conns(shared: &Shared, acc: &Account) {
    let mut event: Option<Map<String, Value>> = None;
    for subject in [
        format!("$SYS.SERVER.ACCOUNT.{}.CONNS", acc.name),
        format!("$SYS.ACCOUNT.{}.SERVER.CONNS", acc.name),
    ] {
        emit(shared, &subject, || {
            let m = event.get_or_insert_with(|| {
                let mut m = typed(shared, CONNS_TYPE, SystemTime::now());
                m.extend(account_stat(shared, acc));
                m
            });
            m.insert("server".into(), server_info(shared));
            Value::Object(m.clone())
        });
    }
}

/// `$SYS.SERVER.<id>.SHUTDOWN` (`what` = `SHUTDOWN`) or `.LAMEDUCK`: a bare
/// `ServerInfo` (nats-server `sendShutdownEvent`, `sendLDMShutdownEventLocked`).
pub(crate) fn server_event(shared: &Shared, what: &str) {
    let subject = format!("$SYS.SERVER.{}.{what}", shared.server_id);
    emit(shared, &subject, || server_info(shared));
}
