//! Account links at run time: subject mappings, stream exports, service
//! imports and the response mappings that bring replies back (spec
//! `operations.md` §3.2, §3.4; nats-server `selectMappedSubject`,
//! `processServiceImport`, `addRespServiceImport`).
//!
//! [`install`] builds each configured account's [`Links`] once at start
//! and hangs them on the [`Account`] (`Account::links`). A publish into an
//! account without links costs one atomic load
//! ([`Account::has_links`]); with links, [`route`]:
//! 1. maps the subject (the first `mappings` entry whose source matches;
//!    weights per message), on the publish itself and on requests
//!    forwarded by a service import, not on stream-import deliveries;
//! 2. delivers locally (the caller's delivery engine);
//! 3. a subject under this account's response prefix (`_R_.xxxxxx.`) is a
//!    reply to a forwarded request: it goes to the requester's account on
//!    the requester's own reply subject (singleton: once; stream/chunked:
//!    until `response_threshold` passes without a response);
//! 4. the first service import whose local subject matches forwards the
//!    message into the exporter on the exported subject, with a new reply
//!    `_R_.<account prefix>.<6 random base-62>` recorded there (expires
//!    after the threshold);
//! 5. every stream export whose importer's subject matches delivers into
//!    the importer (prefix, `to`, or the same subject; the reply passes
//!    unchanged).
//!
//! Cross-account deliveries have an internal origin. A stream-import
//! delivery reaches the importer's subscriptions only (as in nats-server,
//! where importers are shadow subscriptions in the exporter: an imported
//! stream re-exported goes no further). Service requests and responses
//! follow the links of each account they enter (a service re-exported by
//! its importer chains), up to [`MAX_HOPS`] accounts deep.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use natsws_core::router::{ConnId, Message, Origin};
use natsws_core::subject::filter_matches;
use natsws_core::subject::transform::{Mapped, Mapping, Transform};
use natsws_core::time::Millis;

use crate::account::{Account, Accounts, GLOBAL_ACCOUNT};
use crate::options::{tokenize, AccountLinks, ResponseType};
use crate::sink::ConnShared;

/// How many accounts one message may cross (a guard against loops the
/// configuration checks do not catch).
pub(crate) const MAX_HOPS: usize = 8;

/// Response mappings one exporter keeps at most: above it the oldest
/// request loses its mapping (its late response is dropped), so requests
/// nobody answers cannot grow memory without bound within a threshold.
pub(crate) const MAX_RESPONSE_MAPPINGS: usize = 1 << 20;

/// Where a cross-account delivery lands.
#[derive(Debug)]
enum Dest {
    /// The same subject.
    Same,
    /// `prefix.` (with its dot) then the subject.
    Prefix(Box<[u8]>),
    /// A fixed subject.
    Literal(Box<[u8]>),
    /// A wildcard transform.
    Map(Transform),
}

impl Dest {
    /// `subject`'s destination: borrowed when unchanged, else written to
    /// `buf`.
    fn apply<'a>(&'a self, subject: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Dest::Same => subject,
            Dest::Literal(l) => l,
            Dest::Prefix(p) => {
                buf.extend_from_slice(p);
                buf.extend_from_slice(subject);
                buf
            }
            Dest::Map(t) => {
                t.apply(subject, &mut |n| fastrand::u32(0..n), buf);
                buf
            }
        }
    }

    /// `from` → `to` as a stream import's or service import's `to`: the
    /// same subject, a literal, or a strict transform (nats-server
    /// `addMappedStreamImportWithClaim`, `addServiceImport`).
    fn between(from: &str, to: &str) -> Dest {
        if from == to {
            return Dest::Same;
        }
        let wild = from.split('.').any(|t| t == "*" || t == ">");
        match wild.then(|| Transform::new_strict(from, &tokenize(to))) {
            Some(Ok(t)) => Dest::Map(t),
            _ => Dest::Literal(to.as_bytes().into()),
        }
    }
}

/// A stream export as seen from the exporter: one importer.
struct StreamRoute {
    /// The importer's subject (a filter on the exporter's subjects).
    from: Box<[u8]>,
    dest: Dest,
    to: Arc<Account>,
}

/// A service import as seen from the importer.
struct ServiceRoute {
    /// The local subject (filter) the importer publishes to.
    local: Box<[u8]>,
    dest: Dest,
    to: Arc<Account>,
    /// The exporter's response table.
    responses: Arc<Responses>,
    response_type: ResponseType,
    /// `response_threshold` in milliseconds.
    threshold: u64,
    /// The importing account (where responses go back to).
    requester: Arc<Account>,
    /// `share`: the requester's client details go along.
    share: bool,
}

/// A forwarded request waiting for its response.
struct Pending {
    to: Arc<Account>,
    reply: Box<[u8]>,
    singleton: bool,
    threshold: u64,
    expires: Millis,
}

/// An exporter's response mappings: `_R_.` replies back to requesters.
pub(crate) struct Responses {
    /// `_R_.` + 6 base-62 + `.`, chosen once per account.
    prefix: Box<[u8]>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    map: HashMap<Box<[u8]>, Pending>,
    /// Expiry order (an entry may have been refreshed or answered since).
    order: VecDeque<(Millis, Box<[u8]>)>,
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn push_base62(out: &mut Vec<u8>, n: usize) {
    for _ in 0..n {
        out.push(BASE62[fastrand::usize(0..BASE62.len())]);
    }
}

impl Table {
    /// Drops the mappings whose time passed.
    fn sweep(&mut self, now: Millis) {
        while let Some((t, _)) = self.order.front() {
            if *t > now {
                break;
            }
            let (_, k) = self.order.pop_front().expect("front");
            if self.map.get(&k).is_some_and(|p| p.expires <= now) {
                self.map.remove(&k);
            }
        }
    }
}

impl Responses {
    fn new() -> Responses {
        let mut prefix = b"_R_.".to_vec();
        push_base62(&mut prefix, 6);
        prefix.push(b'.');
        Responses {
            prefix: prefix.into(),
            table: Mutex::new(Table::default()),
        }
    }

    /// A new reply subject for a request whose answer goes to `reply` in
    /// `to`.
    fn register(&self, route: &ServiceRoute, reply: &[u8], now: Millis) -> Vec<u8> {
        let mut t = self.table.lock().expect("responses");
        t.sweep(now);
        while t.map.len() >= MAX_RESPONSE_MAPPINGS {
            let Some((_, k)) = t.order.pop_front() else {
                break;
            };
            t.map.remove(&k);
        }
        let key = loop {
            let mut k = self.prefix.to_vec();
            push_base62(&mut k, 6);
            if !t.map.contains_key(k.as_slice()) {
                break k.into_boxed_slice();
            }
        };
        let expires = Millis(now.0.saturating_add(route.threshold));
        t.order.push_back((expires, key.clone()));
        t.map.insert(
            key.clone(),
            Pending {
                to: route.requester.clone(),
                reply: reply.into(),
                singleton: route.response_type == ResponseType::Singleton,
                threshold: route.threshold,
                expires,
            },
        );
        key.into_vec()
    }

    /// The requester's account and reply subject for a response on
    /// `subject`, if it is still mapped.
    fn take(&self, subject: &[u8], now: Millis) -> Option<(Arc<Account>, Box<[u8]>)> {
        let mut t = self.table.lock().expect("responses");
        t.sweep(now);
        let p = t.map.get_mut(subject)?;
        if p.expires <= now {
            t.map.remove(subject);
            return None;
        }
        if p.singleton {
            let p = t.map.remove(subject).expect("present");
            return Some((p.to, p.reply));
        }
        p.expires = Millis(now.0.saturating_add(p.threshold));
        let out = (p.to.clone(), p.reply.clone());
        let e = p.expires;
        t.order.push_back((e, subject.into()));
        Some(out)
    }

    /// Live response mappings.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().expect("responses").map.len()
    }
}

/// One account's links (see the module docs).
#[derive(Default)]
pub(crate) struct Links {
    mappings: Vec<Mapping>,
    streams: Vec<StreamRoute>,
    services: Vec<ServiceRoute>,
    responses: Option<Arc<Responses>>,
}

/// Installs the links of `settings` (its `account_links` and top-level
/// `mappings`) on the accounts, at start and after each reload: accounts
/// that lost theirs are cleared; an exporter keeps its response table
/// (prefix and pending requests) across a reload.
pub(crate) fn install_settings(accounts: &Accounts, settings: &crate::settings::Settings) {
    let global: Vec<Mapping> = settings
        .mappings
        .iter()
        .filter_map(|m| m.build().ok())
        .collect();
    install(accounts, &settings.account_links, &global);
}

/// Builds and installs every account's links: `links` per account name,
/// `global` the top-level mappings. Accounts named here are created.
/// Configuration checks ran before ([`crate::options::Options`]); an
/// entry that still fails to build is skipped.
pub(crate) fn install(accounts: &Accounts, links: &[(String, AccountLinks)], global: &[Mapping]) {
    let mut built: HashMap<String, Links> = HashMap::new();
    fn entry<'b>(built: &'b mut HashMap<String, Links>, name: &str) -> &'b mut Links {
        built.entry(name.to_string()).or_default()
    }
    entry(&mut built, GLOBAL_ACCOUNT).mappings = global.to_vec();
    for (name, l) in links {
        let me = entry(&mut built, name);
        me.mappings = l.mappings.iter().filter_map(|m| m.build().ok()).collect();
        if !l.service_exports.is_empty() {
            let kept = links_of(&accounts.get(name)).and_then(|old| old.responses.clone());
            me.responses = Some(kept.unwrap_or_else(|| Arc::new(Responses::new())));
        }
    }
    for (name, l) in links {
        let importer = accounts.get(name);
        for si in &l.stream_imports {
            let dest = match (&si.prefix, &si.to) {
                (Some(p), _) => {
                    let p = if p.ends_with('.') {
                        p.clone()
                    } else {
                        format!("{p}.")
                    };
                    Dest::Prefix(p.into_bytes().into())
                }
                (None, Some(to)) => Dest::between(&si.subject, to),
                (None, None) => Dest::Same,
            };
            entry(&mut built, &si.account).streams.push(StreamRoute {
                from: si.subject.as_bytes().into(),
                dest,
                to: importer.clone(),
            });
        }
        for si in &l.service_imports {
            let exporter_links = links.iter().find(|(n, _)| *n == si.account).map(|(_, x)| x);
            let export = exporter_links.and_then(|x| {
                x.service_exports
                    .iter()
                    .find(|e| e.subject == si.subject)
                    .or_else(|| {
                        x.service_exports
                            .iter()
                            .find(|e| crate::options::subset_match(&si.subject, &e.subject))
                    })
            });
            let Some(export) = export else { continue };
            let Some(responses) = entry(&mut built, &si.account).responses.clone() else {
                continue;
            };
            let route = ServiceRoute {
                local: si.to.as_bytes().into(),
                dest: Dest::between(&si.to, &si.subject),
                to: accounts.get(&si.account),
                responses,
                response_type: export.response_type,
                threshold: export.response_threshold.as_millis() as u64,
                requester: importer.clone(),
                share: si.share,
            };
            entry(&mut built, name).services.push(route);
        }
    }
    for (name, l) in built {
        let empty = l.mappings.is_empty()
            && l.streams.is_empty()
            && l.services.is_empty()
            && l.responses.is_none();
        if !empty {
            accounts
                .get(&name)
                .set_links(Arc::new(l) as Arc<dyn Any + Send + Sync>);
        } else {
            accounts.get(&name).clear_links();
        }
    }
    for acc in accounts.all() {
        let configured = acc.name == GLOBAL_ACCOUNT || links.iter().any(|(n, _)| *n == acc.name);
        if !configured && acc.has_links() {
            acc.clear_links();
        }
    }
}

/// The links of `acc`, if any.
pub(crate) fn links_of(acc: &Account) -> Option<Arc<Links>> {
    acc.links()?.downcast::<Links>().ok()
}

/// The client connection of a connection id, for the `Nats-Request-Info`
/// header of a service request (looked up only when a service import
/// forwards a client's request).
pub(crate) type Requester<'r> = dyn Fn(ConnId) -> Option<Arc<ConnShared>> + 'r;

/// The delivery engine's local publish: delivers one message to the
/// subscriptions of one account and returns how many it reached.
pub(crate) type Local<'l> = dyn FnMut(&Arc<Account>, Origin, bool, &Message<'_>) -> usize + 'l;

/// Publishes `msg` into `acc`, following its links (see the module docs);
/// `local` delivers into one account. Returns every subscription reached,
/// in every account (no_responders counts them all).
pub(crate) fn route(
    now: Millis,
    acc: &Arc<Account>,
    origin: Origin,
    echo: bool,
    msg: &Message<'_>,
    requester: &Requester<'_>,
    local: &mut Local<'_>,
) -> usize {
    hop(now, acc, origin, echo, msg, 0, true, requester, local)
}

/// The name of the header that tells a service who asked (nats-server
/// `ClientInfoHdr`).
const REQUEST_INFO: &[u8] = b"Nats-Request-Info";

/// The request's header block with `Nats-Request-Info: <info>` added
/// (nats-server `processServiceImport`), or None when the block has one
/// already (a request forwarded again keeps the first).
fn request_info(headers: Option<&[u8]>, info: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(headers.map_or(12, <[u8]>::len) + info.len() + 24);
    match headers {
        Some(h) if h.len() >= 4 && h.ends_with(b"\r\n\r\n") => {
            let has = h.split(|&b| b == b'\n').any(|l| {
                l.len() > REQUEST_INFO.len()
                    && l[..REQUEST_INFO.len()].eq_ignore_ascii_case(REQUEST_INFO)
                    && l[REQUEST_INFO.len()] == b':'
            });
            if has {
                return None;
            }
            out.extend_from_slice(&h[..h.len() - 2]);
        }
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    out.extend_from_slice(REQUEST_INFO);
    out.extend_from_slice(b": ");
    out.extend_from_slice(info.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    Some(out)
}

/// The requester's `ClientInfo` JSON (nats-server `getClientInfo`): the
/// account and the RTT (ns) always; with `share` also its address, id,
/// user, name, lang, version, kind and client type (omitted when empty).
fn client_info(cs: Option<&ConnShared>, account: &str, share: bool) -> String {
    let mut m = serde_json::Map::new();
    let meta = cs.and_then(|c| c.client.lock().ok().map(|g| g.clone()));
    if let (true, Some(c)) = (share, cs) {
        m.insert("host".into(), c.client_ip().to_string().into());
        m.insert("id".into(), c.cid.into());
    }
    m.insert("acc".into(), account.into());
    if let (true, Some(meta)) = (share, &meta) {
        for (k, v) in [
            ("user", meta.user()),
            ("name", meta.name()),
            ("lang", meta.lang()),
            ("ver", meta.version()),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), v.into());
            }
        }
    }
    // nats-server `getClientInfo`: the RTT as measured, untruncated.
    if let Some(rtt) = cs.map(|c| c.rtt.nanos()).filter(|&n| n > 0) {
        m.insert("rtt".into(), rtt.into());
    }
    if let (true, Some(c)) = (share, cs) {
        m.insert("kind".into(), "Client".into());
        m.insert("client_type".into(), c.kind.connz_type().into());
    }
    serde_json::Value::Object(m).to_string()
}

/// One account of a route: `depth` accounts crossed so far; `map`: apply
/// the account's mappings.
#[allow(clippy::too_many_arguments)]
fn hop(
    now: Millis,
    acc: &Arc<Account>,
    origin: Origin,
    echo: bool,
    msg: &Message<'_>,
    depth: usize,
    map: bool,
    requester: &Requester<'_>,
    local: &mut Local<'_>,
) -> usize {
    let Some(l) = links_of(acc) else {
        return local(acc, origin, echo, msg);
    };
    let mut mapped = Vec::new();
    let mut m = *msg;
    if map {
        if let Some(mp) = l.mappings.iter().find(|mp| mp.matches(msg.subject)) {
            match mp.select(msg.subject, &mut |n| fastrand::u32(0..n), &mut mapped) {
                Mapped::To => m.subject = &mapped,
                Mapped::Dropped => return 0,
            }
        }
    }
    // The message as it arrived (by reference: the delivery engine tells it
    // from the copies links make) unless a mapping rewrote it.
    let mut n = if mapped.is_empty() {
        local(acc, origin, echo, msg)
    } else {
        local(acc, origin, echo, &m)
    };
    if depth + 1 >= MAX_HOPS {
        return n;
    }
    if let Some(resp) = &l.responses {
        if m.subject.starts_with(&resp.prefix) {
            if let Some((to, reply)) = resp.take(m.subject, now) {
                let fwd = Message {
                    subject: &reply,
                    ..m
                };
                n += hop(
                    now,
                    &to,
                    Origin::Internal,
                    false,
                    &fwd,
                    depth + 1,
                    false,
                    requester,
                    local,
                );
            }
            return n;
        }
    }
    if let Some(sr) = l
        .services
        .iter()
        .find(|s| filter_matches(&s.local, m.subject))
    {
        let mut buf = Vec::new();
        let subject = sr.dest.apply(m.subject, &mut buf);
        let reply = m.reply.map(|r| sr.responses.register(sr, r, now));
        // A client's request names its account; an internal publisher has
        // no client info, and a request forwarded again keeps the first.
        let headers = match origin {
            Origin::Conn(cid) => {
                let info = client_info(requester(cid).as_deref(), &acc.name, sr.share);
                request_info(m.headers, &info)
            }
            Origin::Internal => None,
        };
        let fwd = Message {
            subject,
            reply: reply.as_deref(),
            headers: headers.as_deref().or(m.headers),
            ..m
        };
        n += hop(
            now,
            &sr.to,
            Origin::Internal,
            false,
            &fwd,
            depth + 1,
            true,
            requester,
            local,
        );
    }
    for st in &l.streams {
        if filter_matches(&st.from, m.subject) {
            let mut buf = Vec::new();
            let fwd = Message {
                subject: st.dest.apply(m.subject, &mut buf),
                ..m
            };
            // Delivered to the importer's subscriptions only: nats-server
            // matches stream importers as shadow subscriptions in the
            // exporter, so the importer's own links do not apply (a
            // re-export of an imported stream carries nothing further).
            n += local(&st.to, Origin::Internal, false, &fwd);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_to(acc: &Arc<Account>, rt: ResponseType, threshold: u64) -> ServiceRoute {
        ServiceRoute {
            local: b"svc".as_slice().into(),
            dest: Dest::Same,
            to: acc.clone(),
            responses: Arc::new(Responses::new()),
            response_type: rt,
            threshold,
            requester: acc.clone(),
            share: false,
        }
    }

    #[test]
    fn singleton_responses_map_once_and_expire_after_the_threshold() {
        let accs = Accounts::new();
        let r = route_to(accs.global(), ResponseType::Singleton, 1000);
        let resp = &r.responses;
        let k = resp.register(&r, b"_INBOX.1", Millis(0));
        assert!(k.starts_with(b"_R_.") && k.len() == 4 + 6 + 1 + 6, "{k:?}");
        assert!(k.starts_with(&resp.prefix));
        let (_, reply) = resp.take(&k, Millis(10)).expect("mapped");
        assert_eq!(&*reply, b"_INBOX.1");
        assert!(resp.take(&k, Millis(11)).is_none(), "singleton: once");
        // Unanswered: gone once the threshold passed, swept by later calls.
        let k2 = resp.register(&r, b"_INBOX.2", Millis(0));
        assert!(resp.take(&k2, Millis(1000)).is_none());
        let _ = resp.register(&r, b"_INBOX.3", Millis(5000));
        assert_eq!(resp.len(), 1);
    }

    #[test]
    fn stream_responses_last_until_the_threshold_passes_without_one() {
        let accs = Accounts::new();
        let r = route_to(accs.global(), ResponseType::Stream, 1000);
        let resp = &r.responses;
        let k = resp.register(&r, b"_INBOX.s", Millis(0));
        for t in [500, 1400, 2300] {
            assert!(resp.take(&k, Millis(t)).is_some(), "at {t}");
        }
        assert!(resp.take(&k, Millis(3300)).is_none());
        assert_eq!(resp.len(), 0);
    }
}
