//! The subject space of the in-page server and the connections' outbound
//! buffers: core's [`Router`] with [`select`], delivering straight into the
//! receivers' buffers (one encode per delivery, no queue of events).

use std::collections::BTreeMap;
use std::sync::Arc;

use natsws_core::auth::{Permissions, ResponsePermission};
use natsws_core::router::{select, ConnId, Message, Origin, Router, SubRef, SubjectSpace};
use natsws_core::session::encode_delivery;
use natsws_core::time::Millis;

/// Reply subjects remembered per connection for `allow_responses` before
/// the expired ones (then all) are dropped, as natsws keeps them.
const MAX_REPLIES: usize = 4096;

/// One reply subject a connection with `allow_responses` may publish to.
#[derive(Debug, Clone, Copy)]
struct Response {
    /// Publishes left; negative = unlimited.
    left: i64,
    /// When the permission lapses (session clock).
    expires: Millis,
}

/// What deliveries need of one connection.
#[derive(Debug, Default)]
pub(crate) struct Peer {
    /// Bytes to hand to the client at the next drain.
    pub(crate) out: Vec<u8>,
    /// Messages and bytes delivered (`/connz` `out_msgs`, `out_bytes`).
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
    /// The granted permissions (response permissions need them).
    pub(crate) perms: Option<Arc<Permissions>>,
    /// The authenticated user (`/connz` `authorized_user`).
    pub(crate) user: String,
    /// The INFO `nonce` nkey users sign (empty when no user has an nkey).
    pub(crate) nonce: String,
    /// Reply subjects this connection may answer (`allow_responses`).
    responses: BTreeMap<Box<[u8]>, Response>,
    /// Already listed in [`World::dirty`].
    dirty: bool,
}

impl Peer {
    /// Uses one response permission for `subject` (nats-server
    /// `checkResponsePerms`): true when
    /// `subject` is a live reply subject this connection received.
    pub(crate) fn use_response(&mut self, subject: &[u8], now: Millis) -> bool {
        self.responses.retain(|_, r| r.expires > now);
        let Some(r) = self.responses.get_mut(subject) else {
            return false;
        };
        if r.left < 0 {
            return true;
        }
        r.left -= 1;
        if r.left == 0 {
            self.responses.remove(subject);
        }
        true
    }

    fn grant_response(&mut self, reply: &[u8], rp: ResponsePermission, now: Millis) {
        if self.responses.len() >= MAX_REPLIES {
            self.responses.retain(|_, r| r.expires > now);
            if self.responses.len() >= MAX_REPLIES {
                self.responses.clear();
            }
        }
        let max = if rp.max == 0 { 1 } else { rp.max };
        let expires = match rp.expires_ms {
            0 => now.saturating_add(Millis(120_000)),
            ResponsePermission::NO_EXPIRY => Millis(u64::MAX),
            ms => now.saturating_add(Millis(ms)),
        };
        self.responses
            .insert(reply.into(), Response { left: max, expires });
    }
}

/// The subject space and every connection's outbound state.
pub(crate) struct World {
    /// The one account's subscriptions (`$G`).
    pub(crate) router: Router<ConnId>,
    /// Every open connection's outbound state.
    pub(crate) peers: BTreeMap<ConnId, Peer>,
    /// Connections with bytes to drain, in the order they got them.
    pub(crate) dirty: Vec<ConnId>,
    /// Queue-group start index source (xorshift32 state, never 0).
    rng: u32,
    /// The session clock, for response permissions.
    pub(crate) now: Millis,
    /// Subscriptions that reached their auto-unsubscribe limit in this
    /// publish; removed after the delivery walk.
    exhausted: Vec<SubRef<ConnId>>,
    /// `/subsz` counters: matches made, messages routed to no one.
    pub(crate) num_matches: u64,
}

impl World {
    /// An empty subject space; `seed` drives queue-group picks.
    pub(crate) fn new(seed: u32) -> World {
        World {
            router: Router::new(),
            peers: BTreeMap::new(),
            dirty: Vec::new(),
            rng: seed | 1,
            now: Millis::ZERO,
            exhausted: Vec::new(),
            num_matches: 0,
        }
    }

    /// Lists `cid` for the next drain.
    pub(crate) fn mark_dirty(&mut self, cid: ConnId) {
        if let Some(p) = self.peers.get_mut(&cid) {
            if !p.dirty {
                p.dirty = true;
                self.dirty.push(cid);
            }
        }
    }

    /// Takes the list of connections to drain, clearing their marks.
    pub(crate) fn take_dirty(&mut self) -> Vec<ConnId> {
        let list = std::mem::take(&mut self.dirty);
        for cid in &list {
            if let Some(p) = self.peers.get_mut(cid) {
                p.dirty = false;
            }
        }
        list
    }
}

impl SubjectSpace for World {
    type Target = ConnId;

    fn subscribe(&mut self, sub: &SubRef<ConnId>) {
        self.router.insert(sub);
    }

    fn unsubscribe(&mut self, sub: &SubRef<ConnId>) {
        self.router.remove(sub);
    }

    /// Routes one message (spec `nats-protocol.md` §2.2 through core's
    /// `select`): deliveries to `origin`'s own subscriptions go to
    /// `self_out`, all others into the receiver's buffer, which is marked
    /// for the next drain.
    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize {
        let result = self.router.matches(msg.subject);
        self.num_matches += 1;
        let size = (msg.payload.len() + msg.headers.map_or(0, <[u8]>::len)) as u64;
        let World {
            peers,
            dirty,
            rng,
            now,
            exhausted,
            ..
        } = self;
        let mut rand = |n: u32| {
            let mut x = *rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *rng = x;
            x % n.max(1)
        };
        let count = select(&result, origin, echo, &mut rand, |sub, last| {
            let Some(peer) = peers.get_mut(&sub.conn) else {
                return;
            };
            // Subscribe deny patterns drop messages at delivery (spec §3.5,
            // natsws `DeliveryPerms::on_deliver`).
            if peer
                .perms
                .as_ref()
                .is_some_and(|p| p.has_subscribe_deny() && !p.can_deliver(msg.subject))
            {
                return;
            }
            if origin == Origin::Conn(sub.conn) {
                encode_delivery(sub, msg, self_out);
            } else {
                encode_delivery(sub, msg, &mut peer.out);
                if !peer.dirty {
                    peer.dirty = true;
                    dirty.push(sub.conn);
                }
            }
            peer.out_bytes += size;
            peer.out_msgs += 1;
            if let (Some(reply), Some(rp)) = (
                msg.reply,
                peer.perms.as_ref().and_then(|p| p.allow_responses()),
            ) {
                peer.grant_response(reply, rp, *now);
            }
            if last {
                exhausted.push(sub.clone());
            }
        });
        for sub in std::mem::take(&mut self.exhausted) {
            self.router.remove(&sub);
        }
        count
    }
}
