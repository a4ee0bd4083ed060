//! The I/O shell: event-loop threads, each a `mio::Poll`, a slab of
//! connections and a timer heap; it knows connections and transports
//! (TCP, TLS, the WebSocket overlay), not the protocol they carry, which is
//! the protocol's ([`crate::session::Proto`]).
//!
//! Per wake-up: accept (loop 0), read every readable connection until
//! `WouldBlock` (processing each read at once, so a connection never holds
//! more than one partial op plus one read), fire due timers, then flush every
//! dirty connection once: framing (WebSocket) and compression happen there,
//! over the whole batch, and each connection gets one `write` per wake-up.
//!
//! Files: `event_loop` (the loop, timers, lame duck, shutdown), `accept`
//! (listeners, new connections, TLS handshakes), `read` (reads and the
//! WebSocket/session step), `write` (flush, vectored frames in `crate::ws_frames`,
//! close, lingering close), `conn` (deadlines).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use natsws_core::router::ConnId;
use natsws_core::session::ClosedReason;
use natsws_core::time::Millis;

use crate::account::Account;
use crate::deliver::Turn;
use crate::kind::ConnKind;
use crate::session::Proto;
use crate::shared::{ClosedConn, Shared, CLOSED_RING};
use crate::sink::{ClientMeta, ConnShared, Kill};
use crate::ws::{WsConn, WsEvent};
use conn::TimerKey;
use transport::Transport;

mod accept;
mod conn;
mod event_loop;
mod leaf;
mod leaf_dial;
mod mqtt_hold;
mod read;
mod reload;
pub(crate) mod transport;
mod write;

use crate::ws_frames::{Frames, VECTORED_MIN, VECTORED_SLICES};
use conn::arm;
use write::oversized;

/// Token of the loop's waker.
pub(crate) const WAKER: Token = Token(usize::MAX - 1);
const CLIENT_LISTENER: Token = Token(usize::MAX - 2);
const WS_LISTENER: Token = Token(usize::MAX - 3);
const LEAF_LISTENER: Token = Token(usize::MAX - 4);
const MQTT_LISTENER: Token = Token(usize::MAX - 5);
pub(crate) use leaf::{bind_listener as bind_leaf_listener, start_remotes};

/// Size of the per-loop read buffer (the largest single read), bytes.
const READ_BUF: usize = 64 * 1024;
/// Reads per connection per wake-up before yielding to others (fairness).
const MAX_READS_PER_TURN: usize = 16;
/// How long a closing connection's input is drained before the socket is
/// dropped (lingering close), ms.
const LINGER: Millis = Millis(2000);
/// How long a publisher's reads pause when one of its deliveries found the
/// target's queue over three quarters of `max_pending` (nats-server's fast
/// producer stall: 2–5 ms), ms.
const STALL: Millis = Millis(3);

/// An optional instant in 8 bytes, where `Option<Millis>` takes 16: the
/// loop slot of every connection holds five of them. `u64::MAX` (an
/// instant never reached) stands for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At(u64);

impl At {
    /// No instant.
    const NONE: At = At(u64::MAX);

    /// The instant, if any.
    fn get(self) -> Option<Millis> {
        (self.0 != u64::MAX).then_some(Millis(self.0))
    }
}

impl From<Option<Millis>> for At {
    fn from(t: Option<Millis>) -> At {
        t.map_or(At::NONE, |m| At(m.0.min(u64::MAX - 1)))
    }
}

/// A connection's I/O buffers. Boxed and dropped while the connection
/// is quiet (issue #17: memory per idle connection): made by the first
/// read or write that needs them, given back once the handshake is over
/// and when an idle client's PING was answered, so an idle connection
/// keeps a pointer's worth instead of 88 bytes and three buffers.
#[derive(Default)]
struct Io {
    /// Bytes read and not yet consumed by the session (WebSocket: the
    /// un-framed payload).
    inbuf: Vec<u8>,
    /// Bytes ready for the socket (framed for WebSocket).
    wbuf: Vec<u8>,
    /// How much of `wbuf` the socket took.
    wpos: usize,
    /// Spare buffer swapped with the outbox at flush time.
    spare: Vec<u8>,
    /// The largest batch taken from the outbox since the socket last took
    /// everything (for the buffer shrink).
    last_batch: usize,
}

impl Io {
    /// Nothing read and unconsumed, nothing waiting for the socket.
    fn is_idle(&self) -> bool {
        self.inbuf.is_empty() && self.spare.is_empty() && self.wpos == self.wbuf.len()
    }
}

/// The nonce a connection sent in INFO (nkeys/JWT), read as a `&str`
/// (empty when none): a thin pointer, 8 bytes, since most connections
/// have none; kept for the connection's life (a reload re-checks a
/// leaf's or a client's credentials against it).
#[derive(Default)]
struct Nonce(
    #[allow(clippy::box_collection)] // thin on purpose (see above)
    Option<Box<String>>,
);

impl From<String> for Nonce {
    fn from(s: String) -> Nonce {
        Nonce((!s.is_empty()).then(|| Box::new(s)))
    }
}

impl std::ops::Deref for Nonce {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_deref().map_or("", String::as_str)
    }
}

/// The connection's [`Io`], made on first use. A function of the field,
/// not of `Conn`, so that the other fields stay free to borrow.
fn io(slot: &mut Option<Box<Io>>) -> &mut Io {
    slot.get_or_insert_with(Box::default)
}

struct Conn {
    shared: Arc<ConnShared>,
    /// The account this connection publishes and subscribes in.
    account: Arc<Account>,
    /// The nonce sent in INFO (nkeys/JWT), empty when none.
    nonce: Nonce,
    /// The socket, plain or TLS (see [`Transport`]).
    sock: Transport,
    proto: Proto,
    /// The WebSocket overlay, boxed so that only WebSocket connections pay
    /// for its state in the loop's slot.
    ws: Option<Box<WsConn>>,
    /// The I/O buffers, boxed and only while in use (see [`Io`]).
    io: Option<Box<Io>>,
    /// Close once `wbuf` is written.
    closing: Option<ClosedReason>,
    /// Whether the session has passed CONNECT/auth (pre-auth accounting).
    pre_auth: bool,
    /// The handshake's buffers were given back (see
    /// `Conn::release_buffers`).
    greeted: bool,
    /// Still readable (stopped early for fairness).
    more_to_read: bool,
    /// The poller reported the peer's write side closed: reads go on to
    /// EOF instead of stopping at a short read (a FIN that came with the
    /// last data raises no further edge).
    read_closed: bool,
    write_interest: bool,
    /// The last input was an idle client's PING (NATS PING or PONG, MQTT
    /// PINGREQ): once its answer is written, the buffers go back to the
    /// allocator (see `Conn::release_idle`).
    idle_ping: bool,
    /// When a pending write started blocking (write deadline).
    blocked_since: At,
    /// One deadline for two phases that never overlap (8 bytes a
    /// connection): before the close, the handshake's (WebSocket TLS and
    /// HTTP upgrade, or the TLS handshake of a client-port or MQTT
    /// connection); once closing, the lingering close's: the last bytes
    /// are written and our side is shut down; the peer's remaining input
    /// is read and discarded until EOF or this deadline, so closing with
    /// unread input does not reset the connection and destroy the `-ERR`
    /// or close frame in flight. Read and set through
    /// `Conn::handshake_deadline` and `Conn::draining`.
    phase_deadline: At,
    /// This connection's live entry in the timer heap: its next deadline
    /// or an earlier time, when the deadline moved later since (see
    /// `conn::arm`); other entries of the connection are stale and skipped.
    timer_at: At,
    /// Fast-producer stall: reads resume at this time (see [`STALL`]).
    stalled_until: At,
    /// `proxy_protocol`: the connection may still start with a PROXY
    /// header (read before anything reaches the protocol).
    proxy_pending: bool,
    /// MQTT file store: the commit epoch its queued acknowledgements wait
    /// for (0: none); while set it is neither read nor flushed (see
    /// `mqtt_hold`).
    acks_after: u64,
}

/// One event loop.
pub(crate) struct EventLoop {
    poll: Poll,
    shared: Arc<Shared>,
    /// Connections by token; each boxed, so that the slab's spare capacity
    /// (it doubles as it grows) costs a pointer per slot, not a connection.
    conns: Slab<Box<Conn>>,
    timers: BinaryHeap<Reverse<(Millis, TimerKey)>>,
    rbuf: Vec<u8>,
    /// TLS ciphertext read ahead of rustls (see [`transport::TlsScratch`]).
    tls_in: transport::TlsScratch,
    /// What a connection's turn touches besides itself (see [`Turn`]).
    turn: Turn,
    readable: Vec<usize>,
    client_listener: Option<TcpListener>,
    ws_listener: Option<TcpListener>,
    mqtt_listener: Option<TcpListener>,
    /// The `leafnodes` listener (loop 0).
    leaf_listener: Option<TcpListener>,
    next_loop: usize,
    scratch_out: Vec<u8>,
    /// Lame duck mode has been entered by this loop.
    in_lame_duck: bool,
    /// Connections holding acknowledgements until their commit epoch is
    /// durable (see `mqtt_hold`).
    held: Vec<(usize, Arc<ConnShared>)>,
    /// The newest epoch held connections wait for that is not yet asked
    /// for (0: none; see `mqtt_hold`).
    held_need: u64,
}
