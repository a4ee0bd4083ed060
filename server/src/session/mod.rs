//! The connection kinds the event loop serves, behind one seam: [`Proto`].
//! The loop (`crate::net`) knows sockets, TLS and the WebSocket overlay; what
//! the bytes mean is the protocol's. Each variant wraps a sans-IO state
//! machine from core (the client [`Session`]) or, test-only, the Autobahn
//! echo; leafnodes and MQTT become further variants.
//!
//! Calling protocol, per connection (the order matters, as in
//! `natsws_core::session`):
//! 1. [`Proto::open`] when the connection is accepted;
//! 2. [`Proto::upgraded`] when a WebSocket upgrade completes (the protocol
//!    starts then, not at accept);
//! 3. [`Proto::input`] with everything not yet consumed (keep the rest and
//!    present it again with the next bytes); replies go to `out` (rendered
//!    later into the transport: framed for WebSocket), or, for a protocol
//!    that [`frames_itself`](Proto::frames_itself), straight to `wbuf`;
//! 4. [`Proto::handle_timeout`] when [`Proto::poll_timeout`] is due, and
//!    `poll_timeout` again after every call to re-arm the timer;
//! 5. [`Proto::close`] once, whatever ended the connection.
//!
//! On `Err(Close)` the protocol has ended: what it owed the peer (an
//! `-ERR`) is in `out`; the loop flushes it and closes (WebSocket: with the
//! close frame of [`ClosedReason::ws_close_code`], unless the protocol
//! frames itself and has sent its own).

pub(crate) mod client;
pub(crate) mod leaf;
mod leaf_accept;
pub(crate) use leaf_accept::info_line as leaf_info;
#[cfg(feature = "autobahn")]
mod echo;
mod mqtt;
pub(crate) mod mqtt_store;
mod reload;

use std::sync::Arc;

use natsws_core::proto::Connect;
use natsws_core::session::{Close, Session};
use natsws_core::time::Millis;

use crate::account::Account;
use crate::deliver::Turn;
use crate::shared::Shared;
use crate::sink::{ConnShared, Sink};
use client::ClientHost;

/// What a connection speaks once its transport is up.
// The client is the hot variant and lives inline; the small echo is
// test-only.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Proto {
    /// A NATS client, over TCP or WebSocket (boxed: the session is ~800
    /// bytes, and every connection slot of a loop is as large as the
    /// largest variant, MQTT connections too).
    Client(Box<Session<Sink>>),
    /// An MQTT 3.1.1 client, over TCP or WebSocket (`/mqtt`).
    Mqtt(Box<mqtt::MqttConn>),
    /// A leafnode link (spec `leafnode.md`), accepted or solicited.
    Leaf(Box<leaf::Leaf>),
    /// Test-only (feature `autobahn`): echoes WebSocket messages, for the
    /// Autobahn testsuite run against the server's own transport and loop.
    #[cfg(feature = "autobahn")]
    Echo(echo::Echo),
}

/// What the loop lends a protocol for one call: the server, this loop's
/// turn, the connection's shared part and account, and what its handshake
/// said (the INFO nonce, WebSocket cookies).
pub(crate) struct Cx<'a> {
    /// The server.
    pub shared: &'a Shared,
    /// This loop's turn.
    pub turn: &'a mut Turn,
    /// The connection's shared part.
    pub me: &'a Arc<ConnShared>,
    /// The account it publishes and subscribes in (replaced when
    /// authentication binds it elsewhere).
    pub account: &'a mut Arc<Account>,
    /// The nonce sent in INFO ("" when none).
    pub nonce: &'a str,
    /// Credential cookies of a WebSocket connection.
    pub cookies: Option<&'a natsws_core::ws::handshake::CookieValues>,
}

impl Cx<'_> {
    fn client_host(&mut self) -> ClientHost<'_> {
        let mut host = ClientHost::new(self.shared, self.turn, self.me, self.account);
        host.nonce = self.nonce;
        host.cookies = self.cookies;
        host
    }
}

impl Proto {
    /// The protocol of a connection accepted from `cs.kind`'s listener,
    /// at `now`.
    pub(crate) fn open(
        shared: &Shared,
        cs: &Arc<ConnShared>,
        rng: &mut fastrand::Rng,
        now: Millis,
    ) -> Proto {
        #[cfg(feature = "autobahn")]
        if shared.settings().autobahn_echo && cs.kind == crate::kind::ConnKind::WEBSOCKET {
            return Proto::Echo(echo::Echo::default());
        }
        if cs.kind.kind == crate::kind::Kind::Mqtt {
            return Proto::Mqtt(Box::new(mqtt::MqttConn::new(shared, cs, now)));
        }
        Proto::Client(Box::new(Session::new(
            client::session_config(shared, cs, rng),
            now,
        )))
    }

    /// Before the loop writes the connection: a protocol that numbers its
    /// messages renders what was routed to it since the last flush into
    /// the outbox (MQTT: PUBLISH packets with their identifiers).
    /// True when it rendered something (its timers may have changed).
    pub(crate) fn render(
        &mut self,
        me: &Arc<ConnShared>,
        now: Millis,
        turn: &mut crate::deliver::Turn,
    ) -> bool {
        match self {
            Proto::Mqtt(m) => m.render(me, now, &mut turn.mqtt),
            _ => false,
        }
    }

    /// Whether the protocol reads and writes WebSocket frames itself: the
    /// overlay then passes inbound bytes through unparsed and frames
    /// nothing on the way out.
    pub(crate) fn frames_itself(&self) -> bool {
        match self {
            Proto::Client(_) | Proto::Mqtt(_) | Proto::Leaf(_) => false,
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => true,
        }
    }

    /// The WebSocket upgrade completed at `now`: the protocol starts now.
    pub(crate) fn upgraded(&mut self, now: Millis) {
        match self {
            Proto::Client(s) => s.restart_timers(now),
            Proto::Mqtt(m) => m.upgraded(now),
            Proto::Leaf(_) => {}
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => {}
        }
    }

    /// Consumes what it can of `input` (see the module docs); returns how
    /// many bytes it used.
    pub(crate) fn input(
        &mut self,
        cx: &mut Cx<'_>,
        input: &mut [u8],
        now: Millis,
        out: &mut Vec<u8>,
        wbuf: &mut Vec<u8>,
    ) -> Result<usize, Close> {
        match self {
            Proto::Client(s) => {
                let _ = wbuf;
                let (pings, connected) = (s.ping_counts(), s.connect_options().is_some());
                let mut host = cx.client_host();
                let res = s.handle_input(input, now, &mut host, out);
                let (om, ob) = (host.out_msgs, host.out_bytes);
                // The CONNECT estimate first: a PONG after it in the same
                // input replaces it, as in nats-server.
                if !connected && s.connect_options().is_some() {
                    cx.me.rtt.connected();
                }
                crate::rtt::note_pings(&cx.me.rtt, pings, s.ping_counts());
                cx.shared.stats.count_out(om, ob);
                cx.turn.remove_exhausted();
                res
            }
            Proto::Mqtt(m) => {
                let res = m.input(cx, input, now, out);
                cx.turn.remove_exhausted();
                res
            }
            Proto::Leaf(l) => {
                let pings = l.ping_counts();
                let res = l.input(cx, input, now, out);
                crate::rtt::note_pings(&cx.me.rtt, pings, l.ping_counts());
                cx.turn.remove_exhausted();
                res
            }
            #[cfg(feature = "autobahn")]
            Proto::Echo(e) => e.input(cx.me, input, wbuf),
        }
    }

    /// Server PINGs sent and PONGs received so far (client and leaf; zero
    /// for the others): compared around [`Proto::handle_timeout`] with
    /// [`crate::rtt::note_pings`].
    pub(crate) fn ping_counts(&self) -> (u64, u64) {
        match self {
            Proto::Client(s) => s.ping_counts(),
            Proto::Leaf(l) => l.ping_counts(),
            _ => (0, 0),
        }
    }

    /// When [`Proto::handle_timeout`] is next due.
    pub(crate) fn poll_timeout(&self) -> Option<Millis> {
        match self {
            Proto::Client(s) => s.poll_timeout(),
            Proto::Mqtt(m) => m.poll_timeout(),
            Proto::Leaf(l) => l.poll_timeout(),
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => None,
        }
    }

    /// Runs the protocol's timers (client: auth timeout, PING, stale,
    /// credential expiry); what it sends goes to `out`.
    pub(crate) fn handle_timeout(&mut self, now: Millis, out: &mut Vec<u8>) -> Result<(), Close> {
        match self {
            Proto::Client(s) => s.handle_timeout(now, out),
            Proto::Mqtt(m) => m.handle_timeout(now, out),
            Proto::Leaf(l) => l.handle_timeout(now, out),
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => Ok(()),
        }
    }

    /// The connection ended: releases what the protocol holds in the
    /// subject space.
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>) {
        match self {
            Proto::Client(s) => s.close(&mut cx.client_host()),
            Proto::Mqtt(m) => m.close(cx),
            Proto::Leaf(l) => l.close(cx),
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => {}
        }
    }

    /// Whether the peer takes asynchronous INFO (client: protocol 1 after
    /// its first PONG), such as lame duck mode's.
    pub(crate) fn takes_async_info(&self) -> bool {
        match self {
            Proto::Client(s) => s.takes_async_info(),
            Proto::Mqtt(_) => false,
            Proto::Leaf(_) => false,
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => false,
        }
    }

    /// SUB/UNSUB operations a NATS client sent so far, wrapping (see
    /// `Session::interest_ops`; 0 for the others, whose subscription
    /// changes show in `ConnShared::subs`): compared around
    /// [`Proto::input`] for `/connz` `last_activity`.
    pub(crate) fn interest_ops(&self) -> u32 {
        match self {
            Proto::Client(s) => s.interest_ops(),
            _ => 0,
        }
    }

    /// Messages and payload bytes received so far.
    pub(crate) fn in_counts(&self) -> (u64, u64) {
        match self {
            Proto::Client(s) => s.in_counts(),
            Proto::Mqtt(m) => m.in_counts(),
            Proto::Leaf(l) => l.in_counts(),
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => (0, 0),
        }
    }

    /// The CONNECT accepted, once there is one (name, lang, version for
    /// `/connz`; the end of the pre-auth accounting).
    pub(crate) fn connect_options(&self) -> Option<&Connect> {
        match self {
            Proto::Client(s) => s.connect_options(),
            Proto::Mqtt(m) => m.connect_options(),
            Proto::Leaf(_) => None,
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => None,
        }
    }
}
