//! The MQTT 3.1.1 kind on the event loop (mqtt spec §2–§4): core's packet
//! decoder, the CONNECT decision (authentication through the client's
//! [`ClientHost`](super::client::ClientHost), session attach and takeover),
//! PUBLISH in at QoS 0/1/2 into the subject space with the `Nmqtt-Pub`
//! header, SUBSCRIBE/UNSUBSCRIBE on converted subjects, retained messages,
//! wills, keep-alive and `ack_wait` redelivery.
//!
//! Deliveries to this connection's session arrive as records
//! ([`crate::mqtt::MqttSession`] is a [`crate::sink::Sink::Numbered`]) and
//! are rendered into PUBLISH packets by [`MqttConn::render`] when the loop
//! flushes the connection: that is where packet identifiers are assigned.

mod packets;
mod reload;

use std::sync::Arc;

use natsws_core::mqtt::codec::{self, encode_connack, rc, Decoder, Limits, Packet, Reaction};
use natsws_core::proto::Connect;
use natsws_core::router::{Message, Origin};
use natsws_core::session::{Close, ClosedReason, Permits};
use natsws_core::time::Millis;

use super::Cx;
use crate::deliver;
use crate::mqtt::{MqttSession, OutMsg, SessionKey};
use crate::shared::Shared;
use crate::sink::{ConnShared, Kill};

/// The `Nmqtt-Pub` header block of an MQTT publish, by QoS (mqtt spec
/// §3.6).
const NMQTT_PUB: [&[u8]; 3] = [
    b"NATS/1.0\r\nNmqtt-Pub:0\r\n\r\n",
    b"NATS/1.0\r\nNmqtt-Pub:1\r\n\r\n",
    b"NATS/1.0\r\nNmqtt-Pub:2\r\n\r\n",
];

/// One MQTT connection's protocol state.
///
/// Kept small (issue #17: an idle connection's memory): the settings are
/// read from the loop's [`crate::deliver::Turn`] when used, the scratch
/// buffers are the loop's ([`crate::mqtt::Scratch`]), deadlines are
/// [`Millis`] with 0 for none, and the input counts and the credentials
/// are kept (boxed, [`Extra`]) only once it published or the CONNECT had
/// some.
pub(crate) struct MqttConn {
    dec: Decoder,
    /// The session it owns once CONNECT succeeded.
    session: Option<Arc<MqttSession>>,
    /// When bytes last arrived.
    last_in: Millis,
    /// The connection's one timer besides keep-alive and redelivery (0:
    /// none). Without a session: close at this time (no CONNECT by then,
    /// or, when `held`, the end of the takeover jail). With one (the
    /// CONNECT was accepted, so neither applies any more): when a lazily
    /// marked store change is due to be written (see
    /// [`MqttConn::lazy_written_by`]).
    deadline: Millis,
    /// The input counts and what is kept of the CONNECT (`None`: nothing
    /// received yet and nothing kept).
    extra: Option<Box<Extra>>,
    /// The CONNECT's keep-alive, seconds (0: no limit); the limit is 1.5 ×
    /// that without input.
    keep_alive: u16,
    /// A CONNECT within the takeover jail (spec §4.5.4): held without a
    /// CONNACK, its later input ignored, and closed at `deadline`.
    held: bool,
    /// A DISCONNECT was received: no will.
    disconnected: bool,
}

/// What a connection keeps once it has published or kept something of its
/// CONNECT (boxed: an idle subscriber has neither; issue #17).
#[derive(Default)]
struct Extra {
    /// PUBLISH packets received.
    in_msgs: u64,
    /// Their payload bytes.
    in_bytes: u64,
    /// The accepted CONNECT, its credentials and the bound user's
    /// permissions (`None`: none of them kept).
    aux: Option<Box<Aux>>,
}

/// What a connection keeps of its CONNECT and its authentication.
struct Aux {
    /// Publish/subscribe permissions of the bound user.
    permits: Option<Arc<dyn Permits>>,
    /// The CONNECT as NATS fields, once accepted: shown to the loop once
    /// (it ends the pre-auth count and fills `/connz` from it), then
    /// dropped at the next input, so an idle connection does not keep it.
    connect: Option<Connect>,
    /// The CONNECT's user name and password, for the re-check on reload
    /// (kept only when one is not empty).
    user: Box<str>,
    pass: Box<str>,
}

/// A close with a log line.
fn close(reason: ClosedReason, log: impl Into<Option<String>>) -> Close {
    Close {
        reason,
        log: log.into(),
    }
}

fn millis(d: std::time::Duration) -> Millis {
    Millis(d.as_millis() as u64)
}

/// A deadline at `t` (never 0, which means none).
fn due(t: Millis) -> Millis {
    t.max(Millis(1))
}

/// `t` as an option (0: none).
fn some(t: Millis) -> Option<Millis> {
    (t.0 != 0).then_some(t)
}

/// The MQTT settings a connection reads when it uses them (the defaults
/// without an `mqtt` block), instead of a copy in every connection.
pub(super) struct MqttSettings {
    /// `max_ack_pending` (default 1024).
    pub max_inflight: usize,
    /// `ack_wait` (default 30 s).
    pub ack_wait: Millis,
    /// `takeover_jail` (default 1 s).
    pub jail: Millis,
    /// `downgrade_qos2_subscribe` (default false).
    pub downgrade_qos2: bool,
}

impl MqttSettings {
    /// The MQTT settings of `settings`.
    pub(super) fn of(settings: &crate::settings::Settings) -> MqttSettings {
        let m = settings.mqtt.as_ref();
        MqttSettings {
            max_inflight: usize::from(
                m.map_or(crate::settings::DEFAULT_MQTT_MAX_ACK_PENDING, |m| {
                    m.max_ack_pending
                }),
            ),
            ack_wait: millis(m.map_or(crate::settings::DEFAULT_MQTT_ACK_WAIT, |m| m.ack_wait)),
            jail: millis(m.map_or(std::time::Duration::from_secs(1), |m| m.takeover_jail)),
            downgrade_qos2: m.is_some_and(|m| m.downgrade_qos2_subscribe),
        }
    }
}

impl MqttConn {
    /// A connection accepted at `now` (or upgraded, for `/mqtt`).
    pub(crate) fn new(shared: &Shared, cs: &ConnShared, now: Millis) -> MqttConn {
        let settings = shared.settings();
        let m = settings.mqtt.as_ref();
        let mut deadline = m.map_or(Millis(10_000), |m| millis(m.connect_timeout));
        if let Some(a) = settings.auth.as_deref() {
            if a.required(cs.kind) {
                deadline = deadline.min(a.timeout(cs.kind));
            }
        }
        MqttConn {
            dec: Decoder::new(Limits {
                max_payload: settings.max_payload,
                reject_qos2_publish: m.is_some_and(|m| m.reject_qos2_publish),
            }),
            session: None,
            last_in: now,
            deadline: due(now.saturating_add(deadline)),
            extra: None,
            keep_alive: 0,
            held: false,
            disconnected: false,
        }
    }

    /// What is kept of the CONNECT, if anything.
    fn aux(&self) -> Option<&Aux> {
        self.extra.as_ref()?.aux.as_deref()
    }

    /// [`MqttConn::extra`], made at first use.
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Publish/subscribe permissions of the bound user (`None`: all).
    fn permits(&self) -> Option<&Arc<dyn Permits>> {
        self.aux()?.permits.as_ref()
    }

    /// Replaces the permissions (a reload).
    fn set_permits(&mut self, permits: Option<Arc<dyn Permits>>) {
        match self.extra.as_mut().and_then(|e| e.aux.as_mut()) {
            Some(a) => a.permits = permits,
            None if permits.is_none() => {}
            None => {
                self.extra().aux = Some(Box::new(Aux {
                    permits,
                    connect: None,
                    user: Box::default(),
                    pass: Box::default(),
                }))
            }
        }
        self.trim_aux();
    }

    /// Drops [`Extra::aux`] once it holds nothing, and [`MqttConn::extra`]
    /// once it holds nothing either.
    fn trim_aux(&mut self) {
        let Some(e) = &mut self.extra else {
            return;
        };
        let empty = e.aux.as_ref().is_some_and(|a| {
            a.connect.is_none() && a.permits.is_none() && a.user.is_empty() && a.pass.is_empty()
        });
        if empty {
            e.aux = None;
        }
        if e.aux.is_none() && e.in_msgs == 0 && e.in_bytes == 0 {
            self.extra = None;
        }
    }

    /// Counts one PUBLISH received with `payload` bytes.
    fn count_in(&mut self, payload: usize) {
        let e = self.extra();
        e.in_msgs += 1;
        e.in_bytes += payload as u64;
    }

    /// 1.5 × the CONNECT's keep-alive, ms (`None`: no limit).
    fn keep_alive(&self) -> Option<Millis> {
        (self.keep_alive > 0).then(|| Millis(u64::from(self.keep_alive) * 1500))
    }

    /// The WebSocket upgrade completed at `now`: the CONNECT deadline
    /// starts again.
    pub(crate) fn upgraded(&mut self, now: Millis) {
        self.last_in = now;
    }

    /// Messages and payload bytes received.
    pub(crate) fn in_counts(&self) -> (u64, u64) {
        self.extra
            .as_ref()
            .map_or((0, 0), |e| (e.in_msgs, e.in_bytes))
    }

    /// The accepted CONNECT, as NATS fields.
    pub(crate) fn connect_options(&self) -> Option<&Connect> {
        self.aux().and_then(|a| a.connect.as_ref())
    }

    /// The CONNECT's credentials as NATS fields (the re-check on reload).
    pub(super) fn credentials(&self) -> Connect {
        let (user, pass) = self.aux().map_or(("", ""), |a| (&*a.user, &*a.pass));
        Connect {
            user: user.to_string(),
            pass: pass.to_string(),
            auth_token: pass.to_string(),
            ..Connect::default()
        }
    }

    /// Decodes and handles every complete packet of `input`.
    pub(crate) fn input(
        &mut self,
        cx: &mut Cx<'_>,
        input: &[u8],
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<usize, Close> {
        self.last_in = now;
        let aux = self.extra.as_mut().and_then(|e| e.aux.as_mut());
        if let (Some(_), Some(a)) = (&self.session, aux) {
            if a.connect.is_some() {
                // The loop read it after the input that accepted the
                // CONNECT.
                a.connect = None;
                self.trim_aux();
            }
        }
        if self.held {
            // Held in the takeover jail: nothing it sends is handled.
            return Ok(input.len());
        }
        let mut used = 0;
        loop {
            match self.dec.decode(&input[used..]) {
                Ok(None) => return Ok(used),
                Ok(Some((p, n))) => {
                    used += n;
                    self.packet(cx, p, now, out)?;
                    if self.held {
                        return Ok(input.len());
                    }
                }
                Err(e) => {
                    if let Reaction::Connack(code) = e.reaction() {
                        encode_connack(out, false, code);
                    }
                    let reason = if e.is_max_payload() {
                        ClosedReason::MaxPayloadExceeded
                    } else {
                        ClosedReason::ProtocolViolation
                    };
                    return Err(close(reason, e.to_string()));
                }
            }
        }
    }

    fn packet(
        &mut self,
        cx: &mut Cx<'_>,
        p: Packet<'_>,
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        match p {
            Packet::Connect(c) => self.on_connect(cx, &c, now, out),
            Packet::Publish(p) => {
                self.on_publish(cx, &p, out);
                Ok(())
            }
            Packet::Puback(id) => {
                self.with_session(now, |s, me| {
                    let m = s.rare_opt_mut().and_then(|r| r.out.puback(id));
                    s.acked(m);
                    me.fill(s, out, now);
                    false
                });
                Ok(())
            }
            Packet::Pubrec(id) => {
                // The PUBREL stage is written before the PUBREL goes out:
                // after a crash the PUBLISH must not be sent again.
                self.with_session(now, |s, _| {
                    let known = s.rare_opt_mut().is_some_and(|r| r.out.pubrec(id, now));
                    if known {
                        codec::encode_ack(out, codec::kind::PUBREL, id);
                    }
                    known
                });
                Ok(())
            }
            Packet::Pubcomp(id) => {
                self.with_session(now, |s, me| {
                    let m = s.rare_opt_mut().and_then(|r| r.out.pubcomp(id));
                    s.acked(m);
                    me.fill(s, out, now);
                    false
                });
                Ok(())
            }
            Packet::Pubrel(id) => {
                self.on_pubrel(cx, id, out);
                Ok(())
            }
            Packet::Subscribe { id, filters } => {
                self.on_subscribe(cx, id, filters, now, out);
                Ok(())
            }
            Packet::Unsubscribe { id, filters } => {
                self.on_unsubscribe(cx, id, filters, out);
                Ok(())
            }
            Packet::Pingreq => {
                codec::encode_pingresp(out);
                self.shrink_idle(&mut cx.turn.mqtt);
                Ok(())
            }
            Packet::Disconnect => {
                self.disconnected = true;
                if let Some(s) = &self.session {
                    let mut inner = s.inner.lock().expect("mqtt session");
                    if inner.will().is_some_and(|w| w.owner == cx.me.cid) {
                        inner.take_will();
                    }
                }
                Err(close(ClosedReason::ClientClosed, None))
            }
        }
    }

    /// Runs `f` on the session's state (nothing before CONNECT) and marks
    /// the session for the store: for the next commit when `f` returns
    /// true (what it sent depends on the change), else lazily (an
    /// acknowledgement received: losing it in a crash only redelivers).
    fn with_session(
        &mut self,
        now: Millis,
        f: impl FnOnce(&mut crate::mqtt::Inner, &mut Self) -> bool,
    ) {
        let Some(s) = self.session.clone() else {
            return;
        };
        let mut inner = s.inner.lock().expect("mqtt session");
        if f(&mut inner, self) {
            s.mark(inner.clean);
        } else if s.mark_lazy(inner.clean) {
            self.lazy_written_by(now);
        }
    }

    /// A lazy store change was marked at `now`: the connection's timer
    /// fires [`crate::mqtt::LAZY_COMMIT`] later, so the loop wakes and its
    /// flush writes it even when nothing else happens.
    pub(super) fn lazy_written_by(&mut self, now: Millis) {
        // Without a session the timer is the CONNECT deadline or the jail.
        if self.session.is_some() && self.deadline.0 == 0 {
            let wait = Millis(crate::mqtt::LAZY_COMMIT.as_millis() as u64);
            self.deadline = due(now.saturating_add(wait));
        }
    }

    /// CONNECT after the codec's checks (mqtt spec §2.3 rows 21–23, §4.5).
    fn on_connect(
        &mut self,
        cx: &mut Cx<'_>,
        c: &codec::Connect<'_>,
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        let nats = Connect {
            user: c.user.unwrap_or_default().to_string(),
            pass: c
                .password
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            auth_token: c
                .password
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            ..Connect::default()
        };
        let mut permits = None;
        if cx.shared.settings().auth.is_some() {
            let mut host = cx.client_host();
            match natsws_core::session::Host::authenticate(&mut host, Some(&nats)) {
                Ok(grant) => permits = grant.permits,
                Err(_) => {
                    encode_connack(out, false, rc::NOT_AUTHORIZED);
                    return Err(close(ClosedReason::AuthenticationFailure, None));
                }
            }
        }
        let random: String;
        let id = if c.client_id.is_empty() {
            let mut rng = fastrand::Rng::new();
            random = (0..22).map(|_| rng.alphanumeric()).collect();
            &random
        } else {
            c.client_id
        };
        let set = MqttSettings::of(&cx.turn.settings);
        let key = SessionKey(cx.shared.mqtt.account_name(&cx.account.name), id.into());
        let client_id = &*key.1;
        if cx.shared.mqtt.jailed(&key, now, set.jail) {
            // nats-server holds such a client for the jail time, then
            // closes it without a CONNACK (mqtt spec §4.5.4): a client
            // that reconnects at once does not flap in a tight loop.
            crate::warn!(
                "{} - {}:{} - Client ID {client_id:?} replaced within {} ms: held, then closed",
                cx.me.log_peer(),
                cx.me.kind.label(),
                cx.me.cid,
                set.jail.0
            );
            self.held = true;
            self.deadline = due(now.saturating_add(set.jail));
            return Ok(());
        }
        let at = cx.shared.mqtt.attach(
            key.clone(),
            cx.me,
            c.clean,
            set.max_inflight,
            set.ack_wait,
            now,
        );
        if let Some(old) = &at.taken_from {
            crate::warn!(
                "{} - {}:{} - Replacing old client {}:{} since both have the same client ID {client_id:?}",
                cx.me.log_peer(),
                cx.me.kind.label(),
                cx.me.cid,
                old.kind.label(),
                old.cid
            );
            cx.shared.kill(old, Kill::Takeover);
        }
        for s in &at.dropped {
            deliver::unsubscribe(cx.shared, cx.account, s);
        }
        cx.me.client.lock().expect("meta").mqtt_client = Some(key.1.clone());
        encode_connack(out, at.present, rc::ACCEPTED);
        {
            let mut inner = at.session.inner.lock().expect("mqtt session");
            if let Some(w) = &c.will {
                inner.rare_mut().will = Some(crate::mqtt::WillMsg {
                    owner: cx.me.cid,
                    msg: OutMsg::new(w.topic.as_bytes(), w.message),
                    qos: w.qos,
                    retain: w.retain,
                });
            }
            let subs: usize = inner.subs.values().map(|e| e.subs.len()).sum();
            cx.me
                .subs
                .fetch_add(subs, std::sync::atomic::Ordering::Relaxed);
            if std::mem::take(&mut inner.resend_all) {
                let r = &mut inner.rare_mut().out;
                r.redeliver(now, true, |r| packets::resend(out, r));
            }
            self.fill(&mut inner, out, now);
        }
        at.session.mark(c.clean);
        self.session = Some(at.session);
        self.keep_alive = c.keep_alive;
        self.deadline = Millis(0);
        self.extra().aux = Some(Box::new(Aux {
            permits,
            user: nats.user.as_str().into(),
            pass: nats.pass.as_str().into(),
            connect: Some(nats),
        }));
        Ok(())
    }

    /// Publishes an MQTT message into the account (mqtt spec §3.6), and
    /// stores or clears it as retained.
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &mut self,
        cx: &mut Cx<'_>,
        subject: &[u8],
        topic: &[u8],
        payload: &[u8],
        qos: u8,
        retain: bool,
    ) {
        let msg = Message {
            subject,
            reply: None,
            headers: Some(NMQTT_PUB[usize::from(qos.min(2))]),
            payload,
        };
        let mut self_out = Vec::new();
        let p = deliver::publish(
            cx.shared,
            cx.account,
            Origin::Conn(cx.me.cid),
            true,
            &msg,
            cx.turn,
            &mut self_out,
        );
        let n = p.deliveries as u64;
        cx.shared.stats.count_out(n, n * p.size);
        if retain {
            cx.shared
                .mqtt
                .retain(&cx.account.name, subject, topic, payload, qos);
        }
    }

    /// Whether the bound user may publish to `subject` (a denied publish is
    /// dropped silently and logged, mqtt spec §2.4).
    fn may_publish(&self, cx: &Cx<'_>, subject: &[u8]) -> bool {
        let ok = self.permits().is_none_or(|p| p.can_publish(subject));
        if !ok {
            crate::error!(
                "{} - {}:{} - Permissions Violation for Publish to \"{}\"",
                cx.me.log_peer(),
                cx.me.kind.label(),
                cx.me.cid,
                String::from_utf8_lossy(subject)
            );
        }
        ok
    }

    /// The connection ended: the will (unless DISCONNECT or a takeover),
    /// then the session is released (a clean one removed).
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>) {
        let Some(s) = self.session.take() else {
            return;
        };
        let will = {
            let mut inner = s.inner.lock().expect("mqtt session");
            match inner.will() {
                Some(w) if w.owner == cx.me.cid && !self.disconnected => inner.take_will(),
                _ => None,
            }
        };
        if let Some(w) = will {
            let mut subject = std::mem::take(&mut cx.turn.mqtt.subject);
            subject.clear();
            if natsws_core::mqtt::topic::topic_to_subject(w.msg.topic(), &mut subject).is_ok()
                && self.may_publish(cx, &subject)
            {
                self.publish(
                    cx,
                    &subject,
                    w.msg.topic(),
                    w.msg.payload(),
                    w.qos,
                    w.retain,
                );
            }
            cx.turn.mqtt.subject = subject;
        }
        let subs = cx.shared.mqtt.detach(&s, cx.me.cid);
        for sub in &subs {
            deliver::unsubscribe(cx.shared, cx.account, sub);
        }
        cx.turn.remove_exhausted();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #17: the per-connection MQTT state (boxed in
    /// [`super::Proto::Mqtt`]): 56 bytes, a 64-byte heap chunk. Was 320
    /// bytes with copied settings, three scratch buffers, the account
    /// name, the credentials and the permissions inline, then 72 (an
    /// 80-byte chunk) with the input counts inline.
    #[test]
    fn idle_connection_footprint() {
        let conn = std::mem::size_of::<MqttConn>();
        assert!(conn <= 56, "MqttConn is {conn} bytes");
        // Made at the first PUBLISH (or CONNECT details kept): a 32-byte
        // chunk.
        assert!(std::mem::size_of::<Extra>() <= 24);
        assert!(std::mem::size_of::<Decoder>() <= 20);
    }
}
