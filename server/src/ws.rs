//! The server side of a WebSocket connection: the upgrade handshake through
//! `natsws_core::ws::handshake`, un-framing of inbound bytes into the NATS
//! byte stream (websocket spec §4.1), control frames, permessage-deflate,
//! and framing of each outbound batch at flush time (spec §3.8).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

use natsws_core::session::ClosedReason;
use natsws_core::time::Millis;

use crate::ws_frames::Frames;
use natsws_core::ws::codec::{self, CloseState, Framing};
use natsws_core::ws::deflate::{Deflater, Inflater};
use natsws_core::ws::handshake::{self, PathKind, RequestParser, Status, UpgradeConfig};
use natsws_core::ws::inbound::{CloseReply, Inbound, ReadStatus};
use natsws_core::ws::{DecoderConfig, SendCloseCode};

/// The `websocket {}` listener, resolved.
#[derive(Debug, Clone)]
pub struct WsListenConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// `no_tls: true` (plaintext allowed; a warning is logged).
    pub no_tls: bool,
    /// `tls { … }`: the listener speaks wss (a `tls` block wins over
    /// `no_tls`). Its `timeout`/`handshake_first` do not apply: the TLS
    /// handshake and the HTTP request head share `handshake_timeout`.
    pub tls: Option<crate::tls::TlsListen>,
    /// `handshake_timeout` (natsws default 10 s; nats-server has none).
    pub handshake_timeout: Duration,
    /// `compression`.
    pub compression: bool,
    /// `same_origin`.
    pub same_origin: bool,
    /// `allowed_origins`, as configured (for `/varz`).
    pub allowed_origins: Vec<String>,
    /// `ping_interval` override for WebSocket clients; zero = the global one.
    pub ping_interval: Duration,
    /// natsws `proxy_protocol`: a PROXY header may precede the HTTP request.
    pub proxy_protocol: bool,
    /// natsws `keepalive`: a ping frame after this much outbound silence,
    /// and a close as stale after `ping_max` of these windows without a
    /// byte from the peer; zero = off (default 20 s).
    pub keepalive: Duration,
    /// The handshake settings handed to core.
    pub upgrade: UpgradeConfig,
    /// natsws `upgrade_rate_limit`: accepted upgrades per second across the
    /// listener; above it a request gets 503 with `Retry-After`.
    pub upgrade_rate_limit: Option<std::sync::Arc<RateLimit>>,
    /// natsws `trusted_proxies`: peers whose `X-Forwarded-For` names the
    /// client (empty = none; then the header is only shown in logs, as
    /// nats-server does).
    pub trusted_proxies: Vec<natsws_core::ws::proxy::Cidr>,
    /// Limit on one uncompressed inbound WebSocket message, bytes (the
    /// NATS decoder still enforces `max_payload` per PUB).
    pub max_message: u64,
}

/// What a read produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsEvent {
    /// Nothing for the NATS layer (handshake in progress, control frames).
    Nothing,
    /// The handshake just completed (the 101 is in `wbuf`); the INFO must
    /// go out next. Any NATS bytes that came with it are in `nats_in`.
    Upgraded,
    /// NATS bytes were appended to `nats_in`.
    Data,
    /// The connection must close (after the NATS bytes already in `nats_in`
    /// are processed, websocket spec §8 D45, and `wbuf` is flushed).
    Close(ClosedReason),
}

/// The close frame owed to the peer, written after pending data.
enum FinalClose {
    /// Echo of the peer's close.
    Reply(CloseReply),
    /// The answer to a frame error (its close code and text).
    Error(natsws_core::ws::Error),
}

enum Phase {
    Handshake(RequestParser),
    Open,
}

/// A token bucket shared by all loops: `per_sec` tokens a second, at most
/// `per_sec` stored (a burst of one second's worth).
#[derive(Debug)]
pub struct RateLimit {
    per_sec: u32,
    /// (tokens, when they were counted).
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl RateLimit {
    /// A full bucket of `per_sec` (≥ 1) tokens.
    pub fn new(per_sec: u32, now: std::time::Instant) -> RateLimit {
        let per_sec = per_sec.max(1);
        RateLimit {
            per_sec,
            state: std::sync::Mutex::new((f64::from(per_sec), now)),
        }
    }

    /// Takes a token, or says how long until the next one.
    ///
    /// # Errors
    /// The time until a token is available.
    pub fn try_acquire(&self, now: std::time::Instant) -> Result<(), Duration> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let rate = f64::from(self.per_sec);
        let elapsed = now.saturating_duration_since(st.1).as_secs_f64();
        st.0 = (st.0 + elapsed * rate).min(rate);
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - st.0) / rate))
        }
    }
}

/// 503 for an upgrade over `upgrade_rate_limit`: `Retry-After` is a whole
/// number of seconds, at least 1, with up to as many again of random jitter
/// so that refused clients do not all come back at once (user-needs §16).
fn write_throttled(out: &mut Vec<u8>, wait: Duration) {
    let base = wait.as_secs().max(1);
    let after = base + fastrand::u64(0..=base);
    let body = "Service Unavailable\n";
    out.extend_from_slice(
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: {after}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// Per-connection WebSocket state.
pub struct WsConn {
    phase: Phase,
    inbound: Inbound,
    framing: Framing,
    compression: bool,
    safari: bool,
    state: CloseState,
    final_close: Option<FinalClose>,
    max_message: u64,
    /// The connection's max payload: the cap on one inflated message
    /// (websocket spec §3.5).
    max_payload: usize,
    /// Credential cookies captured at the upgrade (websocket spec §5.4);
    /// `None` when none of the configured cookies was sent.
    pub cookies: Option<Box<natsws_core::ws::handshake::CookieValues>>,
    /// What the upgrade request said, set at the upgrade until the loop
    /// takes it ([`take_upgrade`](Self::take_upgrade)).
    upgrade: Option<Box<WsUpgrade>>,
    /// The application reads and writes WebSocket frames itself (see
    /// [`WsConn::new`]).
    pass_through: bool,
    /// Whether an upgrade on a `…/leafnode` path is accepted (leafnodes
    /// configured); otherwise it is answered 404.
    pub leaf_ok: bool,
    /// The upgrade was for a leafnode (`…/leafnode` path).
    leaf: bool,
    /// Client side (a solicited leafnode, spec `leafnode.md` §5.2): the
    /// handshake was done by the dialer; frames from the server are
    /// unmasked; ours are masked when this is set.
    client: Option<bool>,
    /// Output in flight as vectored writes (see [`Frames`]): all of the
    /// loop's batch (its `spare`), cut into frames; it precedes anything
    /// framed by copying. Kept here, not in the loop's slot, so only
    /// WebSocket connections pay for it.
    pub(crate) frames: Option<Frames>,
    /// Keepalive (operations.md §6.4): (window, windows without input
    /// before the connection is stale); `None` when `keepalive` is zero
    /// and for solicited leafnodes.
    pub(crate) keepalive: Option<(Millis, u32)>,
    /// When a byte last came from the peer (keepalive's stale check).
    pub(crate) last_in: Millis,
    /// When the connection last had something to send (keepalive's ping
    /// after outbound silence).
    pub(crate) last_out: Millis,
}

impl WsConn {
    /// A connection awaiting its upgrade request. With `pass_through`, the
    /// application speaks WebSocket frames itself: after the upgrade,
    /// inbound bytes go to it unparsed and nothing is framed on the way
    /// out (the Autobahn echo, `crate::session::Proto::frames_itself`).
    pub fn new(cfg: &WsListenConfig, max_payload: usize, pass_through: bool) -> WsConn {
        WsConn {
            phase: Phase::Handshake(RequestParser::new(cfg.tls.is_some())),
            inbound: Inbound::new(DecoderConfig::server(), max_payload),
            framing: Framing::SINGLE,
            compression: false,
            safari: false,
            state: CloseState::Open,
            final_close: None,
            max_message: cfg.max_message,
            max_payload,
            cookies: None,
            upgrade: None,
            pass_through,
            leaf_ok: false,
            leaf: false,
            client: None,
            frames: None,
            keepalive: None,
            last_in: Millis(0),
            last_out: Millis(0),
        }
    }

    /// The client side of a connection whose upgrade the dialer completed
    /// (a `ws://` leafnode remote): open, reading unmasked frames, masking
    /// its own unless `mask` is false (`Nats-No-Masking` agreed), with
    /// permessage-deflate when `compression` was agreed.
    pub fn client(max_payload: usize, mask: bool, compression: bool) -> WsConn {
        let mut dc = DecoderConfig::client();
        dc.compression = compression;
        dc.max_compressed_message = natsws_core::ws::compressed_limit(max_payload);
        WsConn {
            phase: Phase::Open,
            inbound: Inbound::new(dc, max_payload),
            framing: Framing::SINGLE,
            compression,
            safari: false,
            state: CloseState::Open,
            final_close: None,
            max_message: u64::MAX,
            max_payload,
            cookies: None,
            upgrade: None,
            pass_through: false,
            leaf_ok: false,
            leaf: true,
            client: Some(mask),
            frames: None,
            keepalive: None,
            last_in: Millis(0),
            last_out: Millis(0),
        }
    }

    /// Whether this is the client side ([`WsConn::client`]).
    pub fn is_client(&self) -> bool {
        self.client.is_some()
    }

    /// Whether the upgrade was a leafnode's (`…/leafnode` path, spec
    /// `leafnode.md` §5.1).
    pub fn is_leaf(&self) -> bool {
        self.leaf
    }

    /// What the upgrade request said, once (after [`WsEvent::Upgraded`]).
    pub fn take_upgrade(&mut self) -> Option<Box<WsUpgrade>> {
        self.upgrade.take()
    }

    /// From now on takes binary messages only: a text message closes the
    /// connection with 1003 (MQTT over WebSocket, [MQTT-6.0.0-1], mqtt
    /// spec §1.3 IMPL).
    pub fn binary_only(&mut self) {
        self.inbound.set_binary_only(true);
    }

    /// Whether the upgrade completed (the 101 went out).
    pub fn upgraded(&self) -> bool {
        matches!(self.phase, Phase::Open)
    }

    /// Whether data frames may still be sent (handshake done, no close
    /// frame sent).
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open) && self.state.can_send_close()
    }

    /// Handles bytes read from the socket (`data` is unmasked in place).
    /// NATS bytes go to `nats_in`; handshake responses, pongs and close
    /// frames go to `wbuf`. [`WsEvent::Close`] means: process `nats_in`,
    /// flush `wbuf`, close.
    pub fn on_read(
        &mut self,
        cfg: &WsListenConfig,
        peer: std::net::IpAddr,
        mut data: &mut [u8],
        nats_in: &mut Vec<u8>,
        wbuf: &mut Vec<u8>,
    ) -> WsEvent {
        let mut upgraded = false;
        if let Phase::Handshake(parser) = &mut self.phase {
            match parser.feed(&cfg.upgrade, data) {
                Ok(Status::Partial) => return WsEvent::Nothing,
                Ok(Status::Complete { consumed, .. }) if consumed < data.len() => {
                    // nats-server's wsUpgrade: bytes buffered after the
                    // request head (`Buffered() > 0`) drop the connection
                    // without a response (websocket spec §2.3 step 13).
                    crate::debug!(
                        "websocket handshake error: {}",
                        natsws_core::ws::Error::DataBeforeHandshake
                    );
                    return WsEvent::Close(ClosedReason::ProtocolViolation);
                }
                Ok(Status::Complete {
                    value: up,
                    consumed,
                }) => {
                    if let Some(limit) = &cfg.upgrade_rate_limit {
                        if let Err(wait) = limit.try_acquire(std::time::Instant::now()) {
                            crate::debug!("websocket upgrade refused: upgrade_rate_limit reached");
                            write_throttled(wbuf, wait);
                            return WsEvent::Close(ClosedReason::MaxConnectionsExceeded);
                        }
                    }
                    self.leaf = up.kind == PathKind::Leafnode && self.leaf_ok;
                    if up.kind == PathKind::Leafnode && !self.leaf {
                        // Leafnodes over WebSocket are not served when none
                        // are configured.
                        crate::debug!("websocket upgrade for {:?} refused: not supported", up.kind);
                        wbuf.extend_from_slice(
                            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nConnection: close\r\nContent-Length: 10\r\n\r\nNot Found\n",
                        );
                        return WsEvent::Close(ClosedReason::ProtocolViolation);
                    }
                    handshake::write_accept_response(wbuf, &up, &cfg.upgrade);
                    let mut dc = DecoderConfig::server();
                    dc.no_masking = up.no_masking;
                    dc.compression = up.compression;
                    dc.max_message = self.max_message;
                    dc.max_compressed_message = natsws_core::ws::compressed_limit(self.max_payload);
                    self.inbound = Inbound::new(dc, self.max_payload);
                    self.framing = Framing::for_peer(up.browser);
                    self.compression = up.compression;
                    self.safari = up.safari;
                    if up.cookies != Default::default() {
                        self.cookies = Some(Box::new(up.cookies.clone()));
                    }
                    let forwarded = if cfg.trusted_proxies.is_empty() {
                        up.forwarded_for.map(|ip| Forwarded { ip, trusted: false })
                    } else {
                        let ip = natsws_core::ws::proxy::client_ip(
                            peer,
                            &up.x_forwarded_for,
                            &cfg.trusted_proxies,
                        );
                        (ip != peer).then_some(Forwarded { ip, trusted: true })
                    };
                    self.upgrade = Some(Box::new(WsUpgrade {
                        forwarded,
                        path: up.path.clone(),
                        origin: up.origin.clone(),
                        user_agent: up.user_agent.clone(),
                        compression: up.compression,
                        no_masking: up.no_masking,
                        browser: up.browser,
                    }));
                    self.phase = Phase::Open;
                    upgraded = true;
                    data = &mut data[consumed..];
                }
                Err(e) => {
                    if e != natsws_core::ws::Error::HealthCheck {
                        crate::debug!("websocket handshake error: {e}");
                    }
                    handshake::write_reject_response_in(wbuf, &e, parser.is_http10());
                    return WsEvent::Close(ClosedReason::ProtocolViolation);
                }
            }
        }
        self.read_frames(data, nats_in, wbuf, upgraded)
    }

    /// [`WsConn::on_read`] of an open client-side connection: frames only.
    pub fn on_read_client(
        &mut self,
        data: &mut [u8],
        nats_in: &mut Vec<u8>,
        wbuf: &mut Vec<u8>,
    ) -> WsEvent {
        self.read_frames(data, nats_in, wbuf, false)
    }

    /// The frames after the handshake: un-framed into `nats_in`.
    fn read_frames(
        &mut self,
        data: &mut [u8],
        nats_in: &mut Vec<u8>,
        wbuf: &mut Vec<u8>,
        upgraded: bool,
    ) -> WsEvent {
        if self.pass_through {
            nats_in.extend_from_slice(data);
            return if upgraded {
                WsEvent::Upgraded
            } else if data.is_empty() {
                WsEvent::Nothing
            } else {
                WsEvent::Data
            };
        }
        let before = nats_in.len();
        let res =
            with_inflater(|inflater| self.inbound.read(data, nats_in, wbuf, None, Some(inflater)));
        match res {
            Ok(ReadStatus::Open) => {}
            Ok(ReadStatus::Closed(reply)) => {
                // Echoed by close_frame, after any pending data (spec §3.3).
                self.final_close = Some(FinalClose::Reply(reply));
                return WsEvent::Close(ClosedReason::ClientClosed);
            }
            Err(e) => {
                crate::debug!("websocket read error: {e}");
                self.final_close = Some(FinalClose::Error(e));
                return WsEvent::Close(ClosedReason::ProtocolViolation);
            }
        }
        if upgraded {
            WsEvent::Upgraded
        } else if nats_in.len() > before {
            WsEvent::Data
        } else {
            WsEvent::Nothing
        }
    }

    /// Frames one outbound batch of NATS bytes into `wbuf`: binary frames
    /// (4 KiB frames for browsers), compressed when negotiated and above the
    /// 64-byte threshold (websocket spec §3.8).
    pub fn frame_out(&mut self, nats: &[u8], wbuf: &mut Vec<u8>) {
        if nats.is_empty() || !self.is_open() {
            return;
        }
        if self.pass_through {
            return;
        }
        if self.compression {
            // Safari cannot take fragmented compressed messages.
            let framing = if self.safari {
                Framing::SINGLE
            } else {
                self.framing
            };
            if self.client == Some(true) {
                let mut key = || fastrand::u32(..).to_be_bytes();
                DEFLATER.with(|d| {
                    d.borrow_mut()
                        .frame_batch(nats, wbuf, framing, Some(&mut key))
                });
            } else {
                frame_compressed(nats, wbuf, framing);
            }
            return;
        }
        let mut key = || fastrand::u32(..).to_be_bytes();
        let mask: Option<&mut dyn FnMut() -> [u8; 4]> = match self.client {
            Some(true) => Some(&mut key),
            _ => None,
        };
        codec::frame_batch(nats, wbuf, self.framing, mask);
    }

    /// How [`frame_out`](Self::frame_out) would cut `len` NATS bytes when
    /// it would send them unchanged as plain binary frames (open, not
    /// compressed): the frame size — every frame but the last carries
    /// exactly this many bytes; `len` itself for non-browser peers, 4 KiB
    /// for browsers (websocket spec §3.8). The caller may then send frame
    /// headers and bytes with vectored writes instead of copying the bytes
    /// behind the headers. `None`: use `frame_out`.
    pub fn plain_frame_size(&self, len: usize) -> Option<usize> {
        if self.pass_through || self.client == Some(true) {
            return None;
        }
        if len == 0 || !self.is_open() || self.compression {
            return None;
        }
        Some(
            self.framing
                .max_frame
                .filter(|&m| m > 0)
                .map_or(len, |m| m.min(len)),
        )
    }

    /// Appends a ping frame (empty payload) for the keepalive, when data
    /// frames may still be sent (spec operations.md §6.4; RFC 6455 §5.5.2:
    /// the peer answers with a pong, browsers do so on their own).
    pub fn ping(&mut self, wbuf: &mut Vec<u8>) -> bool {
        if !self.is_open() {
            return false;
        }
        codec::write_ping(wbuf, &[], None).is_ok()
    }

    /// Records that the application (pass-through) has sent its own close
    /// frame: no other is sent.
    pub fn mark_close_sent(&mut self) {
        self.state = self.state.close_sent();
    }

    /// Appends the close frame, once: the echo of the peer's close or the
    /// answer to a frame error when one is owed, else `code` (never
    /// 1005/1006/1015) with `reason`.
    pub fn close_frame(&mut self, code: u16, reason: &str, wbuf: &mut Vec<u8>) {
        if !self.is_open() {
            return;
        }
        match self.final_close.take() {
            Some(FinalClose::Reply(reply)) => {
                reply.write(wbuf, None);
                self.state = self.state.close_sent();
                return;
            }
            Some(FinalClose::Error(e)) => {
                codec::write_close_for_error(wbuf, &e, None);
                self.state = self.state.close_sent();
                return;
            }
            None => {}
        }
        let code = natsws_core::ws::CloseCode(code)
            .to_sendable()
            .unwrap_or(SendCloseCode::INTERNAL_ERROR);
        codec::write_close(wbuf, code, reason, None);
        self.state = self.state.close_sent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn rate_limit_is_a_token_bucket() {
        let t0 = Instant::now();
        let l = RateLimit::new(2, t0);
        assert_eq!(l.try_acquire(t0), Ok(()));
        assert_eq!(l.try_acquire(t0), Ok(()));
        // Empty: the next token in half a second.
        assert_eq!(l.try_acquire(t0), Err(Duration::from_millis(500)));
        assert!(l.try_acquire(t0 + Duration::from_millis(400)).is_err());
        assert_eq!(l.try_acquire(t0 + Duration::from_millis(500)), Ok(()));
        // A long pause refills one second's worth, no more.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(l.try_acquire(later), Ok(()));
        assert_eq!(l.try_acquire(later), Ok(()));
        assert!(l.try_acquire(later).is_err());
    }

    #[test]
    fn throttled_response_says_when_to_retry() {
        for wait in [Duration::from_millis(1), Duration::from_secs(3)] {
            let mut out = Vec::new();
            write_throttled(&mut out, wait);
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
                "{text}"
            );
            let after: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix("Retry-After: "))
                .unwrap()
                .parse()
                .unwrap();
            let base = wait.as_secs().max(1);
            assert!((base..=2 * base).contains(&after), "{after}");
        }
    }
}

/// What a WebSocket connection's upgrade request said that outlives the
/// handshake: the client address for INFO, JWT `src` and logs, and the
/// details `/connz` shows (natsws extension, user-needs §20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUpgrade {
    /// The client address from `X-Forwarded-For`.
    pub forwarded: Option<Forwarded>,
    /// The request path (without the query).
    pub path: String,
    /// `Origin`, when sent.
    pub origin: Option<String>,
    /// `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// permessage-deflate negotiated.
    pub compression: bool,
    /// `Nats-No-Masking` negotiated: the client sends unmasked frames.
    pub no_masking: bool,
    /// A browser (`Mozilla/` User-Agent): outbound frames of at most 4 KiB.
    pub browser: bool,
}

/// A WebSocket client's address from `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// The address.
    pub ip: std::net::IpAddr,
    /// Resolved through `trusted_proxies` (then it is the client address
    /// for INFO, `/connz`, JWT `src` and logs); false: the first header
    /// line as sent, shown in logs only (nats-server, websocket spec §2.9).
    pub trusted: bool,
}

// permessage-deflate for the event loops: one reusable compressor and
// decompressor per thread (not per connection), from
// `natsws_core::ws::deflate` (user-needs §2: bounded compressor memory).
thread_local! {
    static INFLATER: RefCell<Inflater> = RefCell::new(Inflater::new());
    static DEFLATER: RefCell<Deflater> = RefCell::new(Deflater::new());
}

/// Runs `f` with this thread's inflater (shared by every connection of
/// the loop; it is reset per message).
pub(crate) fn with_inflater<R>(f: impl FnOnce(&mut Inflater) -> R) -> R {
    INFLATER.with(|i| f(&mut i.borrow_mut()))
}

/// Frames an outbound batch with compression negotiated: small batches
/// (≤ 64 bytes) uncompressed, larger ones as one compressed message
/// (websocket spec §3.8 mode 3).
pub(crate) fn frame_compressed(payload: &[u8], out: &mut Vec<u8>, framing: Framing) {
    DEFLATER.with(|d| d.borrow_mut().frame_batch(payload, out, framing, None));
}
