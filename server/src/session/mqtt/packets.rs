//! The MQTT packets after CONNECT: PUBLISH and its QoS 2 release,
//! SUBSCRIBE/UNSUBSCRIBE (mqtt spec §2.4–§2.6, §4.2–§4.6), the rendering
//! of queued deliveries at flush, and the timers (keep-alive, `ack_wait`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use natsws_core::mqtt::codec::{self, encode_publish, encode_suback, Filters, SUBACK_FAILURE};
use natsws_core::mqtt::session::Resend;
use natsws_core::mqtt::topic;
use natsws_core::router::{SubRef, Subscription};
use natsws_core::session::{Close, ClosedReason};
use natsws_core::subject::Filter;
use natsws_core::time::Millis;

use super::{close, some, Cx, MqttConn};
use crate::deliver;
use crate::mqtt::window::{Window, TOTAL_LIMIT};
use crate::mqtt::{records, Inner, OutMsg, Scratch, Staged, SubEntry, SubPair};
use crate::sink::{ConnShared, Sink};

/// Buffer capacity an idle connection may keep (bytes).
const IDLE_KEEP: usize = 256;

/// Appends a redelivery: the PUBLISH with DUP=1 and its identifier, or the
/// PUBREL.
pub(super) fn resend(out: &mut Vec<u8>, r: Resend<'_, OutMsg>) {
    match r {
        Resend::Publish { id, qos, msg } => {
            encode_publish(out, true, qos, false, msg.topic(), id, msg.payload())
        }
        Resend::Pubrel(id) => codec::encode_ack(out, codec::kind::PUBREL, id),
    }
}

impl MqttConn {
    /// Sends what waits for room in the windows, while there is room.
    pub(super) fn fill(&mut self, s: &mut Inner, out: &mut Vec<u8>, now: Millis) {
        s.fill(out, now);
    }

    /// PUBLISH from the client (mqtt spec §2.4, §4.2, §4.3).
    pub(super) fn on_publish(
        &mut self,
        cx: &mut Cx<'_>,
        p: &codec::Publish<'_>,
        out: &mut Vec<u8>,
    ) {
        self.count_in(p.payload.len());
        let mut subject = std::mem::take(&mut cx.turn.mqtt.subject);
        subject.clear();
        // The codec checked that the topic converts.
        let _ = topic::topic_to_subject(p.topic.as_bytes(), &mut subject);
        let allowed = self.may_publish(cx, &subject);
        match p.qos {
            2 => {
                if let Some(s) = &self.session {
                    let mut inner = s.inner.lock().expect("mqtt session");
                    let qos2_in = &mut inner.rare_mut().qos2_in;
                    if allowed && !qos2_in.contains_key(&p.id) {
                        qos2_in.insert(
                            p.id,
                            Staged {
                                subject: subject.as_slice().into(),
                                msg: OutMsg::new(p.topic.as_bytes(), p.payload),
                                retain: p.retain,
                            },
                        );
                        s.mark(inner.clean);
                    }
                }
                codec::encode_ack(out, codec::kind::PUBREC, p.id);
            }
            q => {
                if allowed {
                    self.publish(cx, &subject, p.topic.as_bytes(), p.payload, q, p.retain);
                }
                if q == 1 {
                    codec::encode_ack(out, codec::kind::PUBACK, p.id);
                }
            }
        }
        cx.turn.mqtt.subject = subject;
    }

    /// PUBREL: the staged QoS 2 message is delivered once, then PUBCOMP
    /// (also for an unknown identifier, mqtt spec §2.5).
    pub(super) fn on_pubrel(&mut self, cx: &mut Cx<'_>, id: u16, out: &mut Vec<u8>) {
        let staged = self.session.as_ref().and_then(|s| {
            let mut inner = s.inner.lock().expect("mqtt session");
            let m = inner.rare_mut().qos2_in.remove(&id);
            s.mark(inner.clean);
            m
        });
        if let Some(m) = staged {
            self.publish(cx, &m.subject, m.msg.topic(), m.msg.payload(), 2, m.retain);
        }
        codec::encode_ack(out, codec::kind::PUBCOMP, id);
    }

    /// The SUBACK code for one filter, and its converted subject (mqtt
    /// spec §2.6).
    fn grant(&mut self, cx: &Cx<'_>, filter: &str, qos: u8) -> (u8, Option<Filter>) {
        let mut subject = Vec::new();
        if topic::filter_to_subject(filter.as_bytes(), &mut subject).is_err() {
            return (SUBACK_FAILURE, None);
        }
        let Ok(f) = Filter::try_from(subject) else {
            return (SUBACK_FAILURE, None);
        };
        if f.as_bytes().starts_with(b"$MQTT.") {
            return (SUBACK_FAILURE, None);
        }
        if let Some(p) = self.permits() {
            if !p.can_subscribe(f.as_bytes(), None) {
                crate::error!(
                    "{} - {}:{} - Permissions Violation for Subscription to \"{f}\"",
                    cx.me.log_peer(),
                    cx.me.kind.label(),
                    cx.me.cid
                );
                return (SUBACK_FAILURE, None);
            }
        }
        let granted = match qos.min(2) {
            2 if super::MqttSettings::of(&cx.turn.settings).downgrade_qos2 => 1,
            q => q,
        };
        (granted, Some(f))
    }

    /// SUBSCRIBE: each filter granted or refused, the SUBACK, then the
    /// retained messages of each granted filter (RETAIN=1).
    pub(super) fn on_subscribe(
        &mut self,
        cx: &mut Cx<'_>,
        id: u16,
        filters: Filters<'_>,
        now: Millis,
        out: &mut Vec<u8>,
    ) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let max_inflight = super::MqttSettings::of(&cx.turn.settings).max_inflight;
        let mut codes = Vec::new();
        let mut granted = Vec::new();
        for (filter, qos) in filters.iter() {
            let (code, f) = self.grant(cx, filter, qos);
            codes.push(code);
            let Some(f) = f else { continue };
            let mut inner = session.inner.lock().expect("mqtt session");
            let key = filter.as_bytes();
            let win = Window::new(key, max_inflight);
            // A QoS 1/2 subscription's window counts toward the session's
            // total (a QoS 0 one has none, as nats-server's consumers).
            let was_counted = inner.subs.get(key).is_some_and(|e| e.qos > 0);
            if code > 0 && !was_counted && inner.total_cap() + win.cap as usize > TOTAL_LIMIT {
                crate::error!(
                    "{} - {}:{} - max_ack_pending for all subscriptions of the session would exceed the limit of {TOTAL_LIMIT}: {filter:?} refused",
                    cx.me.log_peer(),
                    cx.me.kind.label(),
                    cx.me.cid
                );
                if let Some(c) = codes.last_mut() {
                    *c = SUBACK_FAILURE;
                }
                continue;
            }
            if let Some(e) = inner.subs.get_mut(key) {
                e.qos = code;
            } else {
                let mut subjects = vec![f.clone()];
                if let Some(t) = topic::parent_level_twin(f.as_bytes()) {
                    if let Ok(t) = Filter::try_from(t) {
                        subjects.push(t);
                    }
                }
                let target = Sink::Numbered(session.clone());
                let subs: SubPair = subjects
                    .into_iter()
                    .map(|s| {
                        SubRef::new(
                            Subscription::new(session.sub_conn(), key, s, None, false)
                                .with_target(Some(target.clone())),
                        )
                    })
                    .collect();
                for s in &subs {
                    deliver::subscribe(cx.shared, cx.account, s);
                }
                cx.me.subs.fetch_add(subs.len(), Ordering::Relaxed);
                inner.subs.insert(SubEntry {
                    qos: code,
                    reserved: crate::mqtt::reserved(f.as_bytes()),
                    subs,
                    win,
                });
            }
            granted.push((f, code));
        }
        let mut inner = session.inner.lock().expect("mqtt session");
        // SUBACK of a persistent session goes out after this turn's commit.
        session.mark(inner.clean);
        encode_suback(out, id, &codes);
        for (f, qos) in granted {
            let mut subjects = vec![f.as_bytes().to_vec()];
            if let Some(t) = topic::parent_level_twin(f.as_bytes()) {
                subjects.push(t.to_vec());
            }
            for s in subjects {
                for (_, m) in cx.shared.mqtt.retained_matching(&cx.account.name, &s) {
                    let q = m.qos.min(qos);
                    // Retained deliveries count in no window (slot 0).
                    inner.deliver(out, q, 0, true, m.msg.topic(), m.msg.payload(), now);
                }
            }
        }
    }

    /// UNSUBSCRIBE: matching filters removed (exact text), UNSUBACK always.
    pub(super) fn on_unsubscribe(
        &mut self,
        cx: &mut Cx<'_>,
        id: u16,
        filters: Filters<'_>,
        out: &mut Vec<u8>,
    ) {
        if let Some(session) = &self.session {
            let mut inner = session.inner.lock().expect("mqtt session");
            for (filter, _) in filters.iter() {
                if let Some(r) = inner.rare_opt_mut() {
                    r.orphans.retain(|(f, _)| **f != *filter.as_bytes());
                }
                if let Some(e) = inner.subs.remove(filter.as_bytes()) {
                    for s in &e.subs {
                        deliver::unsubscribe(cx.shared, cx.account, s);
                    }
                    cx.me.subs.fetch_sub(e.subs.len(), Ordering::Relaxed);
                }
            }
            session.mark(inner.clean);
        }
        codec::encode_ack(out, codec::kind::UNSUBACK, id);
    }

    /// At flush: renders the deliveries queued on the session since the
    /// last flush into PUBLISH packets in the connection's outbox, giving
    /// QoS 1/2 deliveries their packet identifiers now; `scratch` is the
    /// loop's.
    pub(crate) fn render(
        &mut self,
        me: &Arc<ConnShared>,
        now: Millis,
        scratch: &mut Scratch,
    ) -> bool {
        let Some(session) = self.session.clone() else {
            return false;
        };
        let mut inner = session.inner.lock().expect("mqtt session");
        // Taken over: the new owner renders what is queued.
        let owner = inner.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, me));
        if inner.queued() == 0 || !owner {
            return false;
        }
        let Scratch {
            subject: topic_buf,
            recs,
            rendered,
        } = scratch;
        recs.clear();
        std::mem::swap(recs, &mut inner.rare_mut().records);
        rendered.clear();
        for (qos, slot, subject, payload) in records(recs) {
            topic_buf.clear();
            topic::subject_to_topic(subject, topic_buf);
            inner.deliver(rendered, qos, slot, false, topic_buf, payload, now);
        }
        // Rendering moves routed records (already durable) into the
        // window: no acknowledgement depends on that.
        let lazy = session.mark_lazy(inner.clean);
        drop(inner);
        if lazy {
            self.lazy_written_by(now);
        }
        if !rendered.is_empty() {
            me.out.lock().expect("out").buf.extend_from_slice(rendered);
        }
        true
    }

    /// A PINGREQ came (the client is idle or quiet): buffers a burst grew
    /// and that hold nothing now go back to the allocator, so an idle
    /// session keeps only its fixed state (issue #17: idle memory per
    /// connection). The loop's scratch buffers are shrunk the same way.
    pub(super) fn shrink_idle(&mut self, scratch: &mut Scratch) {
        for v in [
            &mut scratch.recs,
            &mut scratch.rendered,
            &mut scratch.subject,
        ] {
            if v.capacity() > IDLE_KEEP {
                *v = Vec::new();
            }
        }
        if let Some(s) = &self.session {
            s.inner.lock().expect("mqtt session").shrink_idle(IDLE_KEEP);
        }
    }

    /// When [`MqttConn::handle_timeout`] is next due: the CONNECT
    /// deadline, the keep-alive expiry or the next redelivery.
    pub(crate) fn poll_timeout(&self) -> Option<Millis> {
        let ka = self.keep_alive().map(|k| self.last_in.saturating_add(k));
        let redeliver = self.session.as_ref().and_then(|s| {
            let inner = s.inner.lock().expect("mqtt session");
            inner.rare().and_then(|r| r.out.poll_timeout())
        });
        [some(self.deadline), ka, redeliver]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timers: no CONNECT in time, keep-alive expiry (1.5 × k without
    /// input: Read Error, the will is published), `ack_wait` redelivery.
    pub(crate) fn handle_timeout(&mut self, now: Millis, out: &mut Vec<u8>) -> Result<(), Close> {
        let passed = some(self.deadline).is_some_and(|t| t <= now);
        if passed && self.session.is_some() {
            // The lazy change: the loop's flush after its timers writes it.
            self.deadline = Millis(0);
        }
        let deadline_passed = passed && self.session.is_none();
        if deadline_passed && self.held {
            return Err(close(
                ClosedReason::DuplicateClientId,
                "Client ID held in the takeover jail: closed".to_string(),
            ));
        }
        if deadline_passed {
            return Err(close(
                ClosedReason::AuthenticationTimeout,
                "MQTT CONNECT not received in time".to_string(),
            ));
        }
        if let Some(k) = self.keep_alive() {
            if self.last_in.saturating_add(k) <= now {
                return Err(close(
                    ClosedReason::ReadError,
                    format!("keep alive expired after {} ms", k.0),
                ));
            }
        }
        if let Some(s) = &self.session {
            let mut inner = s.inner.lock().expect("mqtt session");
            if let Some(r) = inner.rare_opt_mut() {
                r.out.redeliver(now, false, |r| resend(out, r));
            }
        }
        Ok(())
    }
}
