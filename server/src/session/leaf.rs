//! The leafnode kind on the event loop (spec `leafnode.md` §3–§4): one
//! link to another server, accepted on the `leafnodes` port or solicited
//! from a `remotes` entry ([`Remote`]).
//!
//! Handshake (§3.1): the accepting side sends INFO (with `nonce`,
//! `info_on_connect`, `leafnode_urls`), the soliciting side answers CONNECT,
//! the accepting side answers an INFO with `connect_info` and both send
//! their interest dump ([`crate::leaf_interest`]). natsws never negotiates
//! S2 compression: it sends no pre-CONNECT INFO and no `compress_mode`, and
//! its INFO has no `compression`, which nats-server reads as "not
//! supported" (§3.11).
//!
//! After it: `LS+`/`LS-` become subscriptions of this connection in the
//! bound account (key = subject [queue]), `LMSG`/`HMSG` are published with
//! this connection as the origin (never echoed back; queue groups only as
//! named, §4.3), `PING`/`PONG` keep the link alive (§3.9), and an `LS+` of
//! the account's own `$LDS.` subject is a loop (§4.5).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use natsws_core::proto::leaf::{LeafDecoder, LeafError, LeafOp};
use natsws_core::proto::Limits;
use natsws_core::router::{Message, Origin, SubRef, Subscription};
use natsws_core::session::{Close, ClosedReason};
use natsws_core::subject::Filter;
use natsws_core::time::Millis;

use super::Cx;
use crate::deliver;
use crate::leaf_interest::LeafLink;
pub(crate) use crate::leaf_remote::{Remote, RemoteUrl};
use crate::sink::Sink;

/// How long the soliciting side waits for the `connect_info` INFO after
/// CONNECT (nats-server `connectProcessTimeout`).
const CONNECT_FINISH: Millis = Millis(2000);
/// The first PING of a link: 1 s (+ up to 20 %, nats-server
/// `firstPingInterval`).
const FIRST_PING: Millis = Millis(1000);
/// How long a soliciting side waits before redialing after a loop (§4.5).
pub(crate) const LOOP_DELAY: Duration = Duration::from_secs(30);
/// How long a soliciting side waits before redialing a hub that refused
/// its version (nats-server `leafNodeMinVersionReconnectDelay`).
const MIN_VERSION_DELAY: Duration = Duration::from_secs(5);
/// How long a soliciting side in the hub role waits before redialing after
/// it closed the link on a permission violation (nats-server
/// `leafNodeReconnectAfterPermViolation`).
const PERM_VIOLATION_DELAY: Duration = Duration::from_secs(30);

/// Which side of the link this is.
#[derive(Debug)]
enum Role {
    /// We dialed it.
    Solicit(Arc<Remote>),
    /// It dialed our `leafnodes` port.
    Accept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Soliciting: waiting for the hub's first INFO.
    AwaitInfo,
    /// Soliciting: CONNECT sent, waiting for the `connect_info` INFO.
    AwaitConnectInfo,
    /// Accepting: waiting for CONNECT.
    AwaitConnect,
    /// Handshake done.
    Open,
}

/// A leafnode connection's protocol state.
pub(crate) struct Leaf {
    dec: LeafDecoder,
    role: Role,
    phase: Phase,
    /// First-INFO, connect-finish or auth deadline.
    deadline: Option<Millis>,
    next_ping: Option<Millis>,
    pings_out: u32,
    ping_interval: Millis,
    ping_max: u32,
    /// The peer's interest: key (`subject` or `subject queue`) → sub.
    subs: HashMap<Box<[u8]>, SubRef<Sink>>,
    link: Option<Arc<LeafLink>>,
    /// The peer's server name.
    pub(crate) remote_name: String,
    /// Delay owed to the dialer when this connection closes.
    delay: Option<Duration>,
    /// `deny_imports`: messages on these subjects from the peer are
    /// dropped (spec §4.6).
    deny_imports: Vec<Filter>,
    /// Accepting side: the soliciting leaf said `"is_hub":true`.
    pub(super) peer_is_hub: bool,
    /// The peer's JetStream domain (INFO or CONNECT `domain`).
    pub(super) remote_domain: String,
    /// Soliciting side: the hub's `export` from its `connect_info` INFO
    /// (the hub user's publish permissions: what this side may send);
    /// applied with `deny_exports` (spec §4.6 IMPL).
    hub_export: crate::leaf_perms::Rules,
    /// Soliciting side: the hub's `import` (the hub user's subscribe
    /// permissions: what the hub sends us). Only interest it lets through
    /// is advertised (nats-server checks `canSubscribe` before a spoke's
    /// `LS+`, and a hub closes the link on a literal one it denies), and
    /// messages it denies are dropped.
    hub_import: Option<crate::leaf_perms::Rules>,
    /// Soliciting with `hub: true`: what the peer may send in (the hub's
    /// `export` with `deny_exports`); anything else is a violation, as on
    /// an accepting hub (nats-server `leafSendAllowed` on `opts.Export`).
    solicit_export: Option<crate::leaf_perms::Rules>,
    /// Accepting side: the bound user's permissions, swapped for the
    /// link (spec §4.6); `None` when the user has none.
    pub(super) hub_perms: Option<Arc<crate::leaf_perms::HubPerms>>,
    /// Accepting side: the CONNECT as received, re-checked on reload.
    pub(super) connect_json: Vec<u8>,
    /// Accepting side: when the bound JWT user expires (server clock).
    expires: Option<Millis>,
    /// PINGs sent and PONGs received, ever (timed at ns resolution by
    /// [`crate::rtt::Rtt`] through `Proto::note_pings`).
    ping_counts: (u64, u64),
    in_msgs: u64,
    in_bytes: u64,
    /// Interest isolation of the link (spec §4.7): the server's
    /// `isolate_leafnode_interest`, else a solicited remote's own; an
    /// accepting side adds the peer's CONNECT `isolate` (nats-server
    /// `createLeafNode`, `processLeafnodeConnect`).
    pub(super) isolated: bool,
}

impl Leaf {
    /// A solicited connection to `remote`: waits for INFO for the remote's
    /// `first_info_timeout`.
    pub(crate) fn solicit(
        cx_settings: &crate::settings::Settings,
        remote: Arc<Remote>,
        now: Millis,
    ) -> Leaf {
        let t = Millis(remote.cfg.first_info_timeout.as_millis() as u64);
        let local = remote.cfg.local_isolation;
        let mut l = Leaf::new(cx_settings, Role::Solicit(remote), Phase::AwaitInfo);
        l.isolated |= local;
        l.deadline = Some(now.saturating_add(t));
        l
    }

    /// The dialer waited the whole `first_info_timeout` for the INFO
    /// (`crate::net::leaf_dial`): the deadline is now.
    pub(crate) fn info_overdue(&mut self, now: Millis) {
        if self.phase == Phase::AwaitInfo {
            self.deadline = Some(now);
        }
    }

    /// An accepted connection: waits for CONNECT for the auth timeout.
    pub(crate) fn accept(settings: &crate::settings::Settings, now: Millis) -> Leaf {
        let t = settings
            .leafnodes
            .as_ref()
            .and_then(|l| l.authorization.timeout)
            .unwrap_or(Duration::from_secs(2));
        let mut l = Leaf::new(settings, Role::Accept, Phase::AwaitConnect);
        l.deadline = Some(now.saturating_add(Millis(t.as_millis() as u64)));
        l
    }

    fn new(s: &crate::settings::Settings, role: Role, phase: Phase) -> Leaf {
        Leaf {
            dec: LeafDecoder::new(Limits {
                max_control_line: s.max_control_line,
                max_payload: s.max_payload,
            }),
            role,
            phase,
            deadline: None,
            next_ping: None,
            pings_out: 0,
            ping_interval: Millis(s.ping_interval.as_millis() as u64),
            ping_max: s.ping_max,
            subs: HashMap::new(),
            link: None,
            remote_name: String::new(),
            delay: None,
            deny_imports: Vec::new(),
            peer_is_hub: false,
            remote_domain: String::new(),
            hub_export: Default::default(),
            hub_import: None,
            solicit_export: None,
            hub_perms: None,
            connect_json: Vec::new(),
            expires: None,
            ping_counts: (0, 0),
            in_msgs: 0,
            in_bytes: 0,
            isolated: s
                .leafnodes
                .as_ref()
                .is_some_and(|l| l.isolate_leafnode_interest),
        }
    }

    /// PINGs sent and PONGs received since the start.
    pub(crate) fn ping_counts(&self) -> (u64, u64) {
        self.ping_counts
    }

    /// Messages and payload bytes received.
    pub(crate) fn in_counts(&self) -> (u64, u64) {
        (self.in_msgs, self.in_bytes)
    }

    /// When [`Leaf::handle_timeout`] is due.
    pub(crate) fn poll_timeout(&self) -> Option<Millis> {
        [self.deadline, self.next_ping, self.expires]
            .into_iter()
            .flatten()
            .min()
    }

    /// A JWT user's `exp` (Unix seconds) becomes a deadline on the server
    /// clock `now`: then `-ERR 'User Authentication Expired'` and a close
    /// (nats-server `setExpiration` applies to leafs too).
    pub(super) fn set_expiry(&mut self, exp_unix: Option<u64>, now: Millis) {
        self.expires = exp_unix.map(|exp| {
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            now.saturating_add(Millis((exp * 1000).saturating_sub(now_unix)))
        });
    }

    /// Handshake deadlines and the keep-alive (spec §3.3, §3.5, §3.9).
    pub(crate) fn handle_timeout(&mut self, now: Millis, out: &mut Vec<u8>) -> Result<(), Close> {
        if self.expires.is_some_and(|e| e <= now) {
            natsws_core::proto::encode_err(out, "User Authentication Expired");
            return Err(close(ClosedReason::AuthenticationExpired, None));
        }
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            return Err(match self.phase {
                Phase::AwaitConnect => {
                    natsws_core::proto::encode_err(out, "Authentication Timeout");
                    close(ClosedReason::AuthenticationTimeout, None)
                }
                Phase::AwaitConnectInfo => {
                    natsws_core::proto::encode_err(out, "Stale Leaf Node Connection - Closing");
                    close(ClosedReason::StaleConnection, None)
                }
                _ => close(ClosedReason::ReadError, None),
            });
        }
        if self.next_ping.is_some_and(|t| t <= now) {
            if self.pings_out >= self.ping_max {
                natsws_core::proto::encode_err(out, "Stale Connection");
                return Err(close(ClosedReason::StaleConnection, None));
            }
            self.pings_out += 1;
            self.ping_counts.0 += 1;
            out.extend_from_slice(natsws_core::proto::PING);
            self.next_ping = Some(now.saturating_add(self.ping_interval));
        }
        Ok(())
    }

    /// Consumes what it can of `input`; replies go to `out`.
    pub(crate) fn input(
        &mut self,
        cx: &mut Cx<'_>,
        input: &[u8],
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<usize, Close> {
        let mut used = 0;
        loop {
            let (op, n) = match self.dec.decode(&input[used..]) {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(used),
                Err(e) => return Err(self.decode_error(&e, out)),
            };
            used += n;
            self.op(cx, op, now, out)?;
        }
    }

    fn decode_error(&mut self, e: &LeafError, out: &mut Vec<u8>) -> Close {
        if let Some(t) = e.err_text() {
            natsws_core::proto::encode_err(out, t);
        }
        let reason = match e {
            LeafError::MaxControlLineExceeded => ClosedReason::MaxControlLineExceeded,
            LeafError::MaxPayloadExceeded { .. } => ClosedReason::MaxPayloadExceeded,
            _ => ClosedReason::ProtocolViolation,
        };
        close(reason, Some(e.to_string()))
    }

    fn op(
        &mut self,
        cx: &mut Cx<'_>,
        op: LeafOp<'_>,
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        match (self.phase, op) {
            (_, LeafOp::Ping) => out.extend_from_slice(natsws_core::proto::PONG),
            (_, LeafOp::Pong) => {
                self.pings_out = 0;
                self.ping_counts.1 += 1;
            }
            (_, LeafOp::Ok) => {}
            (_, LeafOp::Err(t)) => {
                let t = String::from_utf8_lossy(t);
                log_conn(
                    cx,
                    crate::log::Level::Error,
                    &format!("Leafnode Error '{t}'"),
                );
                if t.starts_with("Loop detected") {
                    self.delay = Some(LOOP_DELAY);
                }
                if t.contains(crate::leaf_version::REJECTED) {
                    // nats-server `leafProcessErr`: 5 s before the next dial.
                    self.delay = Some(MIN_VERSION_DELAY);
                    log_conn(cx, crate::log::Level::Error, "Leafnode connection dropped due to minimum version requirement. Delaying attempt to reconnect for 5s");
                }
            }
            (Phase::AwaitInfo, LeafOp::Info(json)) => self.first_info(cx, json, now, out)?,
            (Phase::AwaitConnectInfo, LeafOp::Info(json)) => {
                let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
                if v["connect_info"].as_bool() == Some(true) {
                    self.hub_export = crate::leaf_perms::Rules::from_json(&v["export"]);
                    let import = crate::leaf_perms::Rules::from_json(&v["import"]);
                    self.hub_import = (!import.is_empty()).then_some(import);
                    self.finish(cx, now);
                }
            }
            (Phase::AwaitConnect, LeafOp::Connect(json)) => {
                super::leaf_accept::connect(self, cx, json, now, out)?
            }
            (Phase::AwaitConnect, _) => {
                natsws_core::proto::encode_err(out, "Authorization Violation");
                return Err(close(ClosedReason::AuthenticationFailure, None));
            }
            (Phase::Open, LeafOp::Sub { subject, queue }) => {
                ls_activity(cx, now);
                self.ls_plus(cx, subject, queue, out)?
            }
            (Phase::Open, LeafOp::Unsub { subject, queue }) => {
                ls_activity(cx, now);
                let mut key = subject.to_vec();
                if let Some(q) = queue {
                    key.push(b' ');
                    key.extend_from_slice(q);
                }
                if let Some(sub) = self.subs.remove(key.as_slice()) {
                    deliver::interest(cx.shared, cx.turn, cx.account, &sub, false);
                    cx.me
                        .subs
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            (
                Phase::Open,
                LeafOp::Msg {
                    subject,
                    reply,
                    queues,
                    headers,
                    payload,
                },
            ) => {
                self.in_msgs += 1;
                self.in_bytes += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
                if self.deny_imports.iter().any(|d| d.matches(subject)) {
                    return Ok(());
                }
                if self
                    .hub_import
                    .as_ref()
                    .is_some_and(|i| !i.permits(subject))
                {
                    return Ok(());
                }
                if let Some(p) = &self.hub_perms {
                    if !p.inbound(cx.me, subject, || cx.shared.now()) {
                        return self.violation(cx, "Publish", subject, out);
                    }
                }
                if let Some(e) = &self.solicit_export {
                    let special = subject.starts_with(b"_R_.") || subject.starts_with(b"$JS.ACK.");
                    if !special && !e.permits(subject) {
                        self.delay = Some(PERM_VIOLATION_DELAY);
                        return self.violation(cx, "Publish", subject, out);
                    }
                }
                let msg = Message {
                    subject,
                    reply,
                    headers,
                    payload,
                };
                // A JetStream delivery routed on the inbox but shown with
                // the stream subject: `<ack reply>@<subject>` (§4.4,
                // nats-server jsAckDeliverIdx).
                let split = reply
                    .filter(|r| r.starts_with(b"$JS.ACK."))
                    .and_then(|r| {
                        r.iter()
                            .rposition(|&b| b == b'@')
                            .map(|i| (&r[..i], &r[i + 1..]))
                    })
                    .filter(|(_, s)| !s.is_empty());
                let shown = split.map(|(ack, real)| Message {
                    subject: real,
                    reply: Some(ack),
                    headers,
                    payload,
                });
                let mut self_out = Vec::new();
                deliver::publish_to_queues(
                    cx.shared,
                    cx.account,
                    Origin::Conn(cx.me.cid),
                    false,
                    &msg,
                    cx.turn,
                    &mut self_out,
                    Some(queues),
                    shown.as_ref(),
                );
            }
            (_, LeafOp::Info(json)) => {
                if let Role::Solicit(r) = &self.role {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) {
                        r.learn_urls(&v);
                    }
                }
            }
            (_, _) => {
                natsws_core::proto::encode_err(out, "Authorization Violation");
                return Err(close(ClosedReason::ProtocolViolation, None));
            }
        }
        Ok(())
    }

    /// Soliciting: the hub's first INFO (spec §3.3): check the port,
    /// send CONNECT (§3.4).
    fn first_info(
        &mut self,
        cx: &mut Cx<'_>,
        json: &[u8],
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        let Role::Solicit(remote) = &self.role else {
            return Ok(());
        };
        let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| {
            close(
                ClosedReason::ProtocolViolation,
                Some("invalid INFO json".into()),
            )
        })?;
        if v["client_id"].as_u64().unwrap_or(0) == 0 || v.get("leafnode_urls").is_none() {
            log_conn(
                cx,
                crate::log::Level::Error,
                "attempted to connect to wrong port",
            );
            return Err(close(ClosedReason::ProtocolViolation, None));
        }
        if let Some(mp) = v["max_payload"].as_u64() {
            cx.me.peer_max_payload.store(
                u32::try_from(mp).unwrap_or(u32::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        remote.learn_urls(&v);
        self.remote_domain = v["domain"].as_str().unwrap_or_default().to_string();
        self.remote_name = v["server_name"]
            .as_str()
            .or(v["server_id"].as_str())
            .unwrap_or_default()
            .to_string();
        let name = cx.shared.server_name.clone();
        let mut c = serde_json::json!({
            "version": natsws_core::proto::SERVER_VERSION,
            "server_id": cx.shared.server_id,
            "name": name,
            "cluster": name,
            "headers": true,
            "remote_account": remote.cfg.account,
            "protocol": 3,
        });
        if remote.cfg.hub {
            c["is_hub"] = true.into();
        }
        if remote.cfg.request_isolation {
            // Asks the hub to isolate this link (spec §4.7).
            c["isolate"] = true.into();
        }
        if !remote.cfg.deny_imports.is_empty() {
            c["deny_pub"] = remote.cfg.deny_imports.clone().into();
        }
        if let Some(u) = remote.current.lock().expect("remote").clone() {
            if let Some(user) = u.user {
                match u.pass {
                    Some(p) => {
                        c["user"] = user.into();
                        c["pass"] = p.into();
                    }
                    None => {
                        c["user"] = user.clone().into();
                        c["auth_token"] = user.into();
                    }
                }
            }
        }
        let nonce = v["nonce"].as_str().unwrap_or_default();
        if let Some(path) = &remote.cfg.credentials {
            match crate::leaf_creds::read(path) {
                Ok(creds) => {
                    c["jwt"] = creds.jwt.into();
                    sign_with(&mut c, &creds.key, nonce);
                }
                Err(e) => {
                    log_conn(cx, crate::log::Level::Error, &e.to_string());
                    return Err(close(ClosedReason::ProtocolViolation, None));
                }
            }
        } else if let Some(seed) = &remote.cfg.nkey_seed {
            if let Ok(kp) = nkeys::KeyPair::from_seed(seed) {
                sign_with(&mut c, &kp, nonce);
                c["nkey"] = kp.public_key().into();
            }
        }
        out.extend_from_slice(b"CONNECT ");
        out.extend_from_slice(c.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        crate::debug!(
            "{} - {}:{} - Remote leafnode connect msg sent",
            cx.me.log_peer(),
            cx.me.kind.label(),
            cx.me.cid
        );
        if v["info_on_connect"].as_bool() == Some(true) {
            self.phase = Phase::AwaitConnectInfo;
            self.deadline = Some(now.saturating_add(CONNECT_FINISH));
        } else {
            self.finish(cx, now);
        }
        Ok(())
    }

    /// The handshake is done: registers the link with the bound account,
    /// sends the interest dump, starts the keep-alive.
    pub(super) fn finish(&mut self, cx: &mut Cx<'_>, now: Millis) {
        let hub = match &self.role {
            Role::Solicit(r) => r.cfg.hub,
            // A leaf that said `is_hub` takes the hub role (§4.7).
            Role::Accept => !self.peer_is_hub,
        };
        let deny: Vec<Filter> = match &self.role {
            Role::Solicit(r) => r
                .cfg
                .deny_imports
                .iter()
                .filter_map(|d| Filter::try_from(d.as_str()).ok())
                .collect(),
            Role::Accept => Vec::new(),
        };
        // deny_exports and the hub's `export` (allow and deny): never
        // delivered to the peer (spec §4.6), through the connection's
        // delivery permissions. Accepting: the bound user's subscribe
        // rights (set at CONNECT).
        if let Role::Solicit(r) = &self.role {
            let mut rules = self.hub_export.clone();
            rules.deny.extend(r.cfg.deny_exports.iter().cloned());
            if let Some(d) = rules.delivery(None) {
                *cx.me.perms.lock().expect("perms") = Some(Box::new(d));
                cx.me
                    .has_perms
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            if r.cfg.hub && !rules.is_empty() {
                self.solicit_export = Some(rules);
            }
        }
        self.deny_imports = deny.clone();
        // The peer's name is set before the link is registered, so a
        // `/leafz` that lists the link also shows its name.
        {
            let mut meta = cx.me.client.lock().expect("meta");
            meta.set_names(&self.remote_name, "", "");
        }
        let interest = match &self.hub_perms {
            Some(p) => Some(p.export.clone()),
            None => self.hub_import.clone(),
        };
        let link = Arc::new(
            LeafLink::new(cx.me.clone(), hub, deny)
                .with_interest(interest)
                .isolated(self.isolated),
        );
        {
            let router = cx.account.router.lock().expect("router");
            let mut ob = cx.me.out.lock().expect("out");
            cx.account
                .leafs
                .register(&router, link.clone(), &mut ob.buf);
        }
        cx.turn.queue_out(cx.me, &[]);
        self.link = Some(link);
        self.phase = Phase::Open;
        self.deadline = None;
        let jitter = fastrand::u64(0..=FIRST_PING.0 / 5);
        self.next_ping = Some(now.saturating_add(Millis(FIRST_PING.0 + jitter)));
        let text = match &self.role {
            Role::Solicit(_) => format!(
                "Leafnode connection created for account: {} ",
                cx.account.name
            ),
            Role::Accept => "Leafnode connection created ".to_string(),
        };
        log_conn(cx, crate::log::Level::Info, &text);
        // natsws has no JetStream, so its domain is "" (§4.10, §6.4).
        let js = format!(
            "JetStream using domains: local \"\", remote \"{}\"",
            self.remote_domain
        );
        log_conn(cx, crate::log::Level::Info, &js);
    }

    /// `LS+`: the peer's interest becomes a subscription of this
    /// connection; our own `$LDS` subject coming back is a loop (§4.5).
    fn ls_plus(
        &mut self,
        cx: &mut Cx<'_>,
        subject: &[u8],
        queue: Option<(&[u8], u32)>,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        if subject == cx.account.leafs.lds().as_bytes() {
            let text = format!(
                "Loop detected for leafnode account=\"{}\". Delaying attempt to reconnect for 30s",
                cx.account.name
            );
            log_conn(cx, crate::log::Level::Error, &text);
            natsws_core::proto::encode_err(out, &text);
            self.delay = Some(LOOP_DELAY);
            return Err(close(ClosedReason::ProtocolViolation, None));
        }
        if let Some(p) = &self.hub_perms {
            if !p.interest_in(subject) {
                return self.violation(cx, "Subscription", subject, out);
            }
        }
        let mut key = subject.to_vec();
        if let Some((q, _)) = queue {
            key.push(b' ');
            key.extend_from_slice(q);
        }
        if let Some(sub) = self.subs.get(key.as_slice()) {
            // A repeated LS+: a queue weight update.
            if let Some((_, w)) = queue {
                deliver::reweigh(cx.shared, cx.turn, cx.account, sub, w);
            }
            return Ok(());
        }
        let Ok(filter) = Filter::try_from(subject) else {
            // nats-server keeps invalid subjects out of the sublist too.
            return Ok(());
        };
        let mut s = Subscription::new(cx.me.cid, &key, filter, queue.map(|q| q.0), true)
            .with_target(Some(Sink::Conn(cx.me.clone())));
        if let Some((_, w)) = queue {
            // A remote queue member weighing `w` (spec §4.2).
            s = s.with_remote_weight(w);
        }
        let sub = SubRef::new(s);
        deliver::interest(cx.shared, cx.turn, cx.account, &sub, true);
        cx.me
            .subs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.subs.insert(key.into_boxed_slice(), sub);
        Ok(())
    }

    /// A message or interest the bound user's permissions forbid (spec
    /// §4.6, nats-server `leafPermViolation`): in the hub role `-ERR
    /// 'Permissions Violation for <action> to "<subject>"'`, the log line
    /// `<action> Violation on "<subject>" - Check other side
    /// configuration` and a close (`Protocol Violation`); in the spoke
    /// role (the leaf said `is_hub`) it is dropped silently.
    fn violation(
        &mut self,
        cx: &mut Cx<'_>,
        action: &str,
        subject: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        if self.peer_is_hub {
            return Ok(());
        }
        let mut quoted = String::new();
        natsws_core::session::go_quote(&mut quoted, subject);
        natsws_core::proto::encode_err(
            out,
            &format!("Permissions Violation for {action} to {quoted}"),
        );
        log_conn(
            cx,
            crate::log::Level::Error,
            &format!("{action} Violation on {quoted} - Check other side configuration"),
        );
        Err(close(ClosedReason::ProtocolViolation, None))
    }

    /// The connection ended: its interest leaves the account, the link is
    /// unregistered, the dialer is told.
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>) {
        if self.link.take().is_some() {
            cx.account.leafs.unregister(cx.me.cid);
        }
        for (_, sub) in self.subs.drain() {
            deliver::interest(cx.shared, cx.turn, cx.account, &sub, false);
        }
        if let Role::Solicit(r) = &self.role {
            r.notify_closed(self.delay);
        }
    }

    /// A reload: an accepted, open link is authorized again
    /// ([`super::leaf_accept::reauthorize`]); solicited links and
    /// handshakes in progress read their settings at the next connect.
    pub(crate) fn reconfigure(&mut self, cx: &mut Cx<'_>, out: &mut Vec<u8>) -> Result<(), Close> {
        if !matches!(self.role, Role::Accept) || self.phase != Phase::Open {
            return Ok(());
        }
        super::leaf_accept::reauthorize(self, cx, out)
    }

    /// Sets the bound account's name-independent state after CONNECT
    /// (accepting side).
    pub(super) fn set_remote_name(&mut self, name: String) {
        self.remote_name = name;
    }
}

/// A close with an optional log line.
pub(super) fn close(reason: ClosedReason, log: Option<String>) -> Close {
    Close { reason, log }
}

/// Logs `text` with the connection's prefix (`<peer> - lid:<cid> - `).
pub(super) fn log_conn(cx: &Cx<'_>, level: crate::log::Level, text: &str) {
    crate::log::log(
        level,
        format_args!(
            "{} - {}:{} - {text}",
            cx.me.log_peer(),
            cx.me.kind.label(),
            cx.me.cid
        ),
    );
}

/// Adds `sig`, the ed25519 signature of `nonce` by `kp` (base64url
/// without padding), to a soliciting CONNECT (spec §3.6, nats-server
/// `sendLeafConnect`).
fn sign_with(c: &mut serde_json::Value, kp: &nkeys::KeyPair, nonce: &str) {
    use base64::Engine as _;
    if let Ok(sig) = kp.sign(nonce.as_bytes()) {
        c["sig"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sig)
            .into();
    }
}

/// Every `LS+`/`LS-` of an open link is activity for `/connz`
/// `last_activity` (nats-server `processLeafSub`, `processLeafUnsub`).
fn ls_activity(cx: &Cx<'_>, now: Millis) {
    let at = now.0.max(1);
    cx.me
        .last_activity
        .store(at, std::sync::atomic::Ordering::Relaxed);
}
