//! Sessions and a router wired together in memory with a simulated clock:
//! the protocol behaviour of spec `nats-protocol.md` §0–§2 end to end,
//! without sockets.

use std::collections::BTreeMap;

use natsws_core::proto::{Connect, Limits};
use natsws_core::router::{self, ConnId, Message, Origin, Router, SubRef, SubjectSpace};
use std::sync::Arc;

use natsws_core::session::{
    encode_delivery, AuthFailure, ClosedReason, Grant, Host, Permits, Session, SessionConfig,
};
use natsws_core::time::Millis;

/// The in-memory server: one router, one outbound buffer per connection.
struct World {
    router: Router,
    sessions: BTreeMap<ConnId, Session>,
    pending: BTreeMap<ConnId, Vec<u8>>,
    out: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeMap<ConnId, ClosedReason>,
    now: Millis,
    seed: u32,
    password: Option<&'static str>,
    /// What a successful authentication grants.
    grant: Grant,
    /// Reply subjects a denied publish may still use (one use each).
    replies: Vec<Vec<u8>>,
}

struct WorldHost<'a> {
    router: &'a mut Router,
    out: &'a mut BTreeMap<ConnId, Vec<u8>>,
    seed: &'a mut u32,
    password: Option<&'static str>,
    grant: &'a Grant,
    replies: &'a mut Vec<Vec<u8>>,
}

/// Test permissions: publish allowed to subjects starting with
/// `pub_prefix`, subscribe allowed to exactly the listed (subject, queue)
/// pairs.
struct PrefixPermits {
    pub_prefix: &'static [u8],
    subs: Vec<(&'static [u8], Option<&'static [u8]>)>,
}

impl Permits for PrefixPermits {
    fn can_publish(&self, subject: &[u8]) -> bool {
        subject.starts_with(self.pub_prefix)
    }
    fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.subs.iter().any(|&(s, q)| s == subject && q == queue)
    }
}

impl SubjectSpace for WorldHost<'_> {
    type Target = ();
    fn subscribe(&mut self, sub: &SubRef) {
        self.router.insert(sub);
    }
    fn unsubscribe(&mut self, sub: &SubRef) {
        self.router.remove(sub);
    }
    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize {
        let res = self.router.matches(msg.subject);
        let mut done = Vec::new();
        let seed = &mut *self.seed;
        let mut rand = |n: u32| {
            *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (*seed >> 8) % n
        };
        let out = &mut *self.out;
        let n = router::select(&res, origin, echo, &mut rand, |sub, last| {
            if origin == Origin::Conn(sub.conn) {
                encode_delivery(sub, msg, self_out);
            } else {
                encode_delivery(sub, msg, out.entry(sub.conn).or_default());
            }
            if last {
                done.push(sub.clone());
            }
        });
        for s in done {
            self.router.remove(&s);
        }
        n
    }
}

impl Host for WorldHost<'_> {
    fn authenticate(&mut self, connect: Option<&Connect>) -> Result<Grant, AuthFailure> {
        match (self.password, connect.map(|c| c.pass.as_str())) {
            (Some(want), Some(got)) if want == got => Ok(self.grant.clone()),
            // The no-auth binding of a client that skipped CONNECT.
            (Some(_), None) => Ok(self.grant.clone()),
            _ => Err(AuthFailure::Violation),
        }
    }
    fn response_permitted(&mut self, subject: &[u8]) -> bool {
        match self.replies.iter().position(|r| r == subject) {
            Some(i) => {
                self.replies.remove(i);
                true
            }
            None => false,
        }
    }
}

impl World {
    fn new() -> Self {
        World {
            router: Router::new(),
            sessions: BTreeMap::new(),
            pending: BTreeMap::new(),
            out: BTreeMap::new(),
            closed: BTreeMap::new(),
            now: Millis(0),
            seed: 7,
            password: None,
            grant: Grant::default(),
            replies: Vec::new(),
        }
    }

    fn connect_with(&mut self, id: ConnId, cfg: SessionConfig) {
        let cfg = SessionConfig { conn: id, ..cfg };
        self.sessions.insert(id, Session::new(cfg, self.now));
    }

    fn connect(&mut self, id: ConnId) {
        self.connect_with(id, SessionConfig::default());
    }

    /// Feeds bytes from client `id`; returns the close reason if it closed.
    fn send(&mut self, id: ConnId, bytes: &[u8]) -> Option<ClosedReason> {
        let buf = self.pending.entry(id).or_default();
        buf.extend_from_slice(bytes);
        let input = std::mem::take(buf);
        let session = self.sessions.get_mut(&id).expect("session");
        let mut own = Vec::new();
        let mut host = WorldHost {
            router: &mut self.router,
            out: &mut self.out,
            seed: &mut self.seed,
            password: self.password,
            grant: &self.grant,
            replies: &mut self.replies,
        };
        let res = session.handle_input(&input, self.now, &mut host, &mut own);
        let ret = match res {
            Ok(n) => {
                self.pending.insert(id, input[n..].to_vec());
                None
            }
            Err(close) => {
                session.close(&mut host);
                self.closed.insert(id, close.reason);
                Some(close.reason)
            }
        };
        self.out.entry(id).or_default().extend_from_slice(&own);
        ret
    }

    fn tick(&mut self, to: Millis) -> Vec<(ConnId, ClosedReason)> {
        self.now = to;
        let mut closed = vec![];
        for (&id, s) in self.sessions.iter_mut() {
            if s.is_closed() {
                continue;
            }
            if s.poll_timeout().is_some_and(|t| t <= to) {
                let mut own = Vec::new();
                if let Err(c) = s.handle_timeout(to, &mut own) {
                    let mut host = WorldHost {
                        router: &mut self.router,
                        out: &mut self.out,
                        seed: &mut self.seed,
                        password: self.password,
                        grant: &self.grant,
                        replies: &mut self.replies,
                    };
                    s.close(&mut host);
                    closed.push((id, c.reason));
                }
                self.out.entry(id).or_default().extend_from_slice(&own);
            }
        }
        closed
    }

    fn take(&mut self, id: ConnId) -> String {
        String::from_utf8_lossy(&std::mem::take(self.out.entry(id).or_default())).into_owned()
    }
}

const QUIET: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n";

#[test]
fn pub_sub_between_two_connections() {
    let mut w = World::new();
    w.connect(1);
    w.connect(2);
    w.send(1, QUIET);
    w.send(2, QUIET);
    w.send(1, b"SUB foo.* 9\r\nPING\r\n");
    assert_eq!(w.take(1), "PONG\r\n");
    w.send(2, b"PUB foo.bar reply 5\r\nhello\r\n");
    assert_eq!(w.take(1), "MSG foo.bar 9 reply 5\r\nhello\r\n");
    assert_eq!(w.take(2), "");
}

#[test]
fn default_connect_is_verbose_and_pedantic() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, b"CONNECT {}\r\nSUB foo 1\r\nPUB foo.* 1\r\nx\r\n");
    // +OK for CONNECT and SUB; pedantic -ERR for the wildcard publish, which
    // is still routed (the sub on `foo` does not match `foo.*`) and +OK'd.
    assert_eq!(
        w.take(1),
        "+OK\r\n+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n"
    );
}

#[test]
fn telnet_client_without_connect_gets_ok_and_messages() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, b"SUB a 1\r\nPUB a 2\r\nhi\r\n");
    assert_eq!(w.take(1), "+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\n");
}

#[test]
fn echo_false_suppresses_own_delivery() {
    let mut w = World::new();
    w.connect(1);
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPING\r\n",
    );
    assert_eq!(w.take(1), "PONG\r\n");
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB a 1\r\nPUB a 1\r\ny\r\n");
    assert_eq!(w.take(2), "MSG a 1 1\r\ny\r\n");
    assert_eq!(w.take(1), "MSG a 1 1\r\ny\r\n");
}

#[test]
fn headers_reach_header_subscribers_and_are_stripped_for_others() {
    let mut w = World::new();
    w.connect(1);
    w.connect(2);
    w.connect(3);
    w.send(1, QUIET);
    w.send(2, b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    w.send(3, QUIET);
    w.send(1, b"SUB foo 1\r\n");
    w.send(2, b"SUB foo 2\r\n");
    w.send(3, b"HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
    assert_eq!(
        w.take(1),
        "HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
    );
    assert_eq!(w.take(2), "MSG foo 2 5\r\nhello\r\n");
}

#[test]
fn hpub_without_headers_closes_without_err() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, b"CONNECT {\"verbose\":false}\r\n");
    let r = w.send(1, b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    assert_eq!(r, Some(ClosedReason::ProtocolViolation));
    assert_eq!(w.take(1), "");
}

#[test]
fn hpub_headers_flag_checked_before_sizes() {
    // nats-server refuses HPUB for missing header support before it looks
    // at the arguments, so an oversized HPUB closes without the max-payload
    // -ERR (spec §1.2, §1.9).
    let small = SessionConfig {
        limits: Limits {
            max_control_line: 4096,
            max_payload: 16,
        },
        ..SessionConfig::default()
    };
    let mut w = World::new();
    w.connect_with(1, small.clone());
    w.send(1, b"CONNECT {\"verbose\":false}\r\n");
    let r = w.send(1, b"HPUB foo 12 40\r\n");
    assert_eq!(r, Some(ClosedReason::ProtocolViolation));
    assert_eq!(w.take(1), "");
    // Before any CONNECT as well.
    w.connect_with(2, small.clone());
    assert_eq!(
        w.send(2, b"HPUB foo 12 40\r\n"),
        Some(ClosedReason::ProtocolViolation)
    );
    assert_eq!(w.take(2), "");
    // With headers the size is checked.
    w.connect_with(3, small);
    w.send(3, b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    assert_eq!(
        w.send(3, b"HPUB foo 12 40\r\n"),
        Some(ClosedReason::MaxPayloadExceeded)
    );
    assert_eq!(w.take(3), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn second_connect_merges_over_earlier_options() {
    let mut w = World::new();
    w.connect(1);
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"headers\":true,\"name\":\"a\"}\r\n",
    );
    // Nothing in the second CONNECT: verbose, pedantic, echo and headers
    // keep the first CONNECT's values (no +OK, no -ERR, no own copy).
    w.send(
        1,
        b"CONNECT {\"lang\":\"rust\"}\r\nSUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n",
    );
    w.send(1, b"HPUB foo.a 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n");
    assert_eq!(w.take(1), "PONG\r\n");
    let c = w.sessions[&1].connect_options().unwrap();
    assert_eq!((c.name.as_str(), c.lang.as_str()), ("a", "rust"));
    assert!(!c.verbose && !c.pedantic && !c.echo && c.headers);
    // The other connection sees the HPUB, so it was accepted.
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB foo.b 1\r\n");
    w.send(1, b"HPUB foo.b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(w.take(2), "HMSG foo.b 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    // A CONNECT that turns headers off makes HPUB a protocol violation.
    w.send(1, b"CONNECT {\"headers\":false}\r\n");
    assert_eq!(
        w.send(1, b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        Some(ClosedReason::ProtocolViolation)
    );
    assert_eq!(w.take(1), "");
}

#[test]
fn second_connect_checks_merged_no_responders() {
    // no_responders from the first CONNECT, headers turned off by the
    // second: the merged options fail the check.
    let mut w = World::new();
    w.connect(1);
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
    );
    assert_eq!(
        w.send(1, b"CONNECT {\"headers\":false}\r\n"),
        Some(ClosedReason::NoRespondersRequiresHeaders)
    );
    assert_eq!(
        w.take(1),
        "-ERR 'no responders requires headers support'\r\n"
    );
    // headers from the first CONNECT satisfy no_responders in the second.
    w.connect(2);
    w.send(2, b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    w.send(
        2,
        b"CONNECT {\"no_responders\":true}\r\nSUB r 1\r\nPUB svc r 0\r\n\r\n",
    );
    assert_eq!(
        w.take(2),
        "HMSG r 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n"
    );
}

#[test]
fn no_responders_sends_503_to_own_reply_subscription() {
    let mut w = World::new();
    w.connect(1);
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.a.* 5\r\nPUB svc _INBOX.a.1 0\r\n\r\n",
    );
    let subj = "svc";
    let l = 32 + subj.len();
    assert_eq!(
        w.take(1),
        format!("HMSG _INBOX.a.1 5 {l} {l}\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n")
    );
    // With a responder there is no 503.
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB svc 1\r\n");
    w.send(1, b"PUB svc _INBOX.a.2 0\r\n\r\n");
    assert_eq!(w.take(1), "");
    assert_eq!(w.take(2), "MSG svc 1 _INBOX.a.2 0\r\n\r\n");
}

#[test]
fn no_responders_requires_headers() {
    let mut w = World::new();
    w.connect(1);
    let r = w.send(1, b"CONNECT {\"no_responders\":true}\r\n");
    assert_eq!(r, Some(ClosedReason::NoRespondersRequiresHeaders));
    assert_eq!(
        w.take(1),
        "-ERR 'no responders requires headers support'\r\n"
    );
}

#[test]
fn bad_protocol_and_account_fields() {
    let mut w = World::new();
    w.connect(1);
    assert_eq!(
        w.send(1, b"CONNECT {\"protocol\":2}\r\n"),
        Some(ClosedReason::BadClientProtocolVersion)
    );
    assert_eq!(w.take(1), "-ERR 'invalid client protocol'\r\n");
    w.connect(2);
    assert_eq!(
        w.send(2, b"CONNECT {\"account\":\"A\"}\r\n"),
        Some(ClosedReason::AuthenticationFailure)
    );
    assert_eq!(w.take(2), "-ERR 'Authorization Violation'\r\n");
    w.connect(3);
    assert_eq!(
        w.send(3, b"CONNECT {\"verbose\":tru}\r\n"),
        Some(ClosedReason::ProtocolViolation)
    );
    assert_eq!(w.take(3), "");
}

#[test]
fn auth_required_first_op_must_be_connect() {
    let mut w = World::new();
    w.password = Some("s3cret");
    let cfg = SessionConfig {
        auth_required: true,
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg.clone());
    assert_eq!(
        w.send(1, b"PING\r\n"),
        Some(ClosedReason::AuthenticationFailure)
    );
    assert_eq!(w.take(1), "-ERR 'Authorization Violation'\r\n");
    w.connect_with(2, cfg.clone());
    assert_eq!(
        w.send(2, b"CONNECT {\"pass\":\"nope\"}\r\n"),
        Some(ClosedReason::AuthenticationFailure)
    );
    w.connect_with(3, cfg);
    assert_eq!(
        w.send(
            3,
            b"CONNECT {\"pass\":\"s3cret\",\"verbose\":false}\r\nPING\r\n"
        ),
        None
    );
    assert_eq!(w.take(3), "PONG\r\n");
}

#[test]
fn auth_required_judges_the_first_byte_before_parsing() {
    // nats-server `parse` (OP_START): before CONNECT, an op that does not
    // start with C/c is an authorization violation, whatever it would parse
    // as: unknown ops, oversized PUBs, blank lines.
    let mut w = World::new();
    w.password = Some("s3cret");
    let cfg = SessionConfig {
        auth_required: true,
        limits: Limits {
            max_payload: 16,
            ..Limits::default()
        },
        ..SessionConfig::default()
    };
    for (id, input) in [
        (1, &b"FOO bar\r\n"[..]),
        (2, b"PUB foo 999999\r\n"),
        (3, b"\r\n"),
        (4, b"X"),
        (5, b"pub foo 1\r\n"),
    ] {
        w.connect_with(id, cfg.clone());
        assert_eq!(
            w.send(id, input),
            Some(ClosedReason::AuthenticationFailure),
            "{input:?}"
        );
        assert_eq!(w.take(id), "-ERR 'Authorization Violation'\r\n");
    }
    // An op starting with C is parsed as nats-server does.
    w.connect_with(6, cfg.clone());
    assert_eq!(w.send(6, b"CAT\r\n"), Some(ClosedReason::ProtocolViolation));
    assert_eq!(w.take(6), "-ERR 'Unknown Protocol Operation'\r\n");
    // After a good CONNECT in the same read, the rest is parsed as usual.
    w.connect_with(7, cfg);
    assert_eq!(
        w.send(
            7,
            b"connect {\"pass\":\"s3cret\",\"verbose\":false}\r\nPUB foo 999\r\n"
        ),
        Some(ClosedReason::MaxPayloadExceeded)
    );
    assert_eq!(w.take(7), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn auth_timeout_fires_only_without_connect() {
    let mut w = World::new();
    w.password = Some("p");
    let cfg = SessionConfig {
        auth_required: true,
        auth_timeout: Millis(2000),
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg.clone());
    w.connect_with(2, cfg);
    w.send(2, b"CONNECT {\"pass\":\"p\",\"verbose\":false}\r\n");
    assert!(w.tick(Millis(1999)).is_empty());
    let closed = w.tick(Millis(2000));
    assert_eq!(closed, vec![(1, ClosedReason::AuthenticationTimeout)]);
    assert_eq!(w.take(1), "-ERR 'Authentication Timeout'\r\n");
}

#[test]
fn stale_connection_after_ping_max_unanswered() {
    let mut w = World::new();
    let cfg = SessionConfig {
        first_ping: Millis(2000),
        ping_interval: Millis(10_000),
        ping_max: 2,
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg);
    w.send(1, QUIET);
    assert!(w.tick(Millis(2000)).is_empty());
    assert_eq!(w.take(1), "PING\r\n");
    assert!(w.tick(Millis(12_000)).is_empty());
    assert_eq!(w.take(1), "PING\r\n");
    let closed = w.tick(Millis(22_000));
    assert_eq!(closed, vec![(1, ClosedReason::StaleConnection)]);
    assert_eq!(w.take(1), "-ERR 'Stale Connection'\r\n");
}

#[test]
fn pong_resets_outstanding_and_activity_skips_pings() {
    let mut w = World::new();
    let cfg = SessionConfig {
        first_ping: Millis(2000),
        ping_interval: Millis(10_000),
        ping_max: 1,
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg);
    w.send(1, QUIET);
    w.tick(Millis(2000));
    assert_eq!(w.take(1), "PING\r\n");
    w.now = Millis(2100);
    w.send(1, b"PONG\r\n");
    // Activity within the interval and a fresh RTT: the PING is skipped.
    w.now = Millis(9000);
    w.send(1, b"PUB x 0\r\n\r\n");
    assert!(w.tick(Millis(12_000)).is_empty());
    assert_eq!(w.take(1), "");
    // No activity in the next interval: PING again, then stale.
    assert!(w.tick(Millis(22_000)).is_empty());
    assert_eq!(w.take(1), "PING\r\n");
    assert_eq!(
        w.tick(Millis(32_000)),
        vec![(1, ClosedReason::StaleConnection)]
    );
}

/// `ping_counts`: server PINGs sent by the timer and every PONG received
/// (an unsolicited one too), for the server's RTT timing.
#[test]
fn ping_counts_track_server_pings_and_pongs() {
    let mut w = World::new();
    let cfg = SessionConfig {
        first_ping: Millis(2000),
        ping_interval: Millis(10_000),
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg);
    w.send(1, QUIET);
    assert_eq!(w.sessions[&1].ping_counts(), (0, 0));
    w.send(1, b"PONG\r\n");
    assert_eq!(w.sessions[&1].ping_counts(), (0, 1));
    w.tick(Millis(2000));
    assert_eq!(w.take(1), "PING\r\n");
    assert_eq!(w.sessions[&1].ping_counts(), (1, 1));
    w.send(1, b"PONG\r\n");
    assert_eq!(w.sessions[&1].ping_counts(), (1, 2));
}

#[test]
fn connect_info_follows_first_pong_for_protocol_1() {
    let mut w = World::new();
    let cfg = SessionConfig {
        connect_info: Some(b"INFO {\"connect_info\":true} \r\n".to_vec()),
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg.clone());
    w.send(1, QUIET);
    w.send(1, b"PING\r\nPING\r\n");
    assert_eq!(
        w.take(1),
        "PONG\r\nINFO {\"connect_info\":true} \r\nPONG\r\n"
    );
    w.connect_with(2, cfg);
    w.send(2, b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    assert_eq!(w.take(2), "PONG\r\n");
}

#[test]
fn unsub_with_max_counts_earlier_deliveries() {
    let mut w = World::new();
    w.connect(1);
    w.connect(2);
    w.send(1, QUIET);
    w.send(2, QUIET);
    w.send(1, b"SUB a 1\r\n");
    w.send(2, b"PUB a 1\r\nx\r\n");
    w.send(1, b"UNSUB 1 3\r\n");
    for _ in 0..5 {
        w.send(2, b"PUB a 1\r\ny\r\n");
    }
    assert_eq!(
        w.take(1),
        "MSG a 1 1\r\nx\r\nMSG a 1 1\r\ny\r\nMSG a 1 1\r\ny\r\n"
    );
    assert_eq!(w.router.len(), 0);
    // UNSUB with a max not above what was delivered removes at once.
    w.send(1, b"SUB b 2\r\n");
    w.send(2, b"PUB b 1\r\nx\r\n");
    w.send(1, b"UNSUB 2 1\r\n");
    w.send(2, b"PUB b 1\r\nx\r\n");
    assert_eq!(w.take(1), "MSG b 2 1\r\nx\r\n");
    assert_eq!(w.router.len(), 0);
    // The sid is free again.
    w.send(1, b"SUB b 2\r\n");
    assert_eq!(w.router.len(), 1);
}

#[test]
fn duplicate_sid_is_ignored_and_unknown_unsub_is_fine() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, b"SUB a 1\r\nSUB b 1\r\nUNSUB 99\r\n");
    assert_eq!(w.take(1), "+OK\r\n+OK\r\n+OK\r\n");
    assert_eq!(w.router.len(), 1);
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"PUB b 0\r\n\r\nPUB a 0\r\n\r\n");
    assert_eq!(w.take(1), "MSG a 1 0\r\n\r\n");
}

#[test]
fn invalid_subject_and_max_subscriptions_keep_connection() {
    let mut w = World::new();
    w.connect_with(
        1,
        SessionConfig {
            max_subscriptions: 1,
            ..SessionConfig::default()
        },
    );
    w.send(1, QUIET);
    assert_eq!(w.send(1, b"SUB foo..bar 1\r\n"), None);
    assert_eq!(w.take(1), "-ERR 'Invalid Subject'\r\n");
    w.send(1, b"SUB a 1\r\nSUB b 2\r\nPING\r\n");
    assert_eq!(
        w.take(1),
        "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
    );
    assert!(w.closed.is_empty());
}

#[test]
fn max_sub_tokens_refuses_deep_subjects_and_keeps_connection() {
    let mut w = World::new();
    w.connect_with(
        1,
        SessionConfig {
            max_sub_tokens: 2,
            max_subscriptions: 2,
            ..SessionConfig::default()
        },
    );
    // Verbose: +OK only for accepted subscriptions. Empty tokens count,
    // and the token check comes before the subject and sid checks.
    w.send(
        1,
        b"CONNECT {}\r\nSUB a.b 1\r\nSUB a.b.c 2\r\nSUB a..b 3\r\nSUB a.b.c q 1\r\nSUB a. 4\r\n",
    );
    let deny = |s: &str| {
        format!("-ERR 'Permissions Violation for Subscription to \"{s}\", too many tokens'\r\n")
    };
    assert_eq!(
        w.take(1),
        format!(
            "+OK\r\n+OK\r\n{}{}{}-ERR 'Invalid Subject'\r\n",
            deny("a.b.c"),
            deny("a..b"),
            deny("a.b.c")
        )
    );
    assert_eq!(w.router.len(), 1);
    // Checked before the subscription limit.
    w.send(
        1,
        b"SUB x 5\r\nSUB x.y.z 6\r\nSUB y 7\r\nPUB a.b.c 0\r\n\r\nPUB a.b 0\r\n\r\n",
    );
    assert_eq!(
        w.take(1),
        format!(
            "+OK\r\n{}-ERR 'maximum subscriptions exceeded'\r\n+OK\r\n+OK\r\nMSG a.b 1 0\r\n\r\n",
            deny("x.y.z")
        )
    );
    assert!(w.closed.is_empty());
    // 0 is unlimited.
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB a.b.c.d.e.f.g.h 1\r\nPUB a.b.c.d.e.f.g.h 0\r\n\r\n");
    assert_eq!(w.take(2), "MSG a.b.c.d.e.f.g.h 1 0\r\n\r\n");
}

#[test]
fn reserved_replies_and_subjects_are_permission_violations() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, QUIET);
    w.send(1, b"SUB > 1\r\n");
    w.send(
        1,
        b"PUB a _R_.x 0\r\n\r\nPUB _GR_.x 0\r\n\r\nPUB ok 0\r\n\r\n",
    );
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n\
         MSG ok 1 0\r\n\r\n"
    );
}

#[test]
fn second_connect_drops_subscriptions() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, QUIET);
    w.send(1, b"SUB a 1\r\nSUB b 2\r\n");
    assert_eq!(w.router.len(), 2);
    w.send(1, QUIET);
    assert_eq!(w.router.len(), 0);
}

#[test]
fn queue_group_delivers_once_per_message() {
    let mut w = World::new();
    for id in 1..=4 {
        w.connect(id);
        w.send(id, QUIET);
    }
    w.send(1, b"SUB work q 1\r\n");
    w.send(2, b"SUB work q 1\r\n");
    w.send(3, b"SUB work 1\r\n");
    for _ in 0..100 {
        w.send(4, b"PUB work 1\r\nx\r\n");
    }
    let count = |s: &str| s.matches("MSG").count();
    let (a, b, c) = (w.take(1), w.take(2), w.take(3));
    assert_eq!(count(&a) + count(&b), 100);
    assert!(count(&a) > 0 && count(&b) > 0, "both members used");
    assert_eq!(count(&c), 100);
}

#[test]
fn closing_releases_subscriptions_and_errors_close_with_reason() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, QUIET);
    w.send(1, b"SUB a 1\r\nSUB b 2\r\n");
    let r = w.send(1, b"FOO\r\n");
    assert_eq!(r, Some(ClosedReason::ProtocolViolation));
    assert_eq!(w.take(1), "-ERR 'Unknown Protocol Operation'\r\n");
    assert_eq!(w.router.len(), 0);
    w.connect(2);
    let r = w.send(2, b"PUB a 2000000\r\n");
    assert_eq!(r, Some(ClosedReason::MaxPayloadExceeded));
    assert_eq!(w.take(2), "-ERR 'Maximum Payload Violation'\r\n");
    w.connect(3);
    let r = w.send(3, b"-ERR 'boom'\r\n");
    assert_eq!(r, Some(ClosedReason::ParseError));
    assert_eq!(w.take(3), "");
}

#[test]
fn ops_split_at_every_byte_give_the_same_output() {
    let stream: &[u8] = b"CONNECT {\"verbose\":true,\"headers\":true}\r\nSUB a.* q 1\r\nSUB a.b 2\r\nPUB a.b r 5\r\nhello\r\nHPUB a.c 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\nUNSUB 2\r\nPUB a.b 0\r\n\r\n";
    let whole = {
        let mut w = World::new();
        w.connect(1);
        assert_eq!(w.send(1, stream), None);
        w.take(1)
    };
    assert!(whole.contains("MSG a.b 2 r 5"));
    for split in 1..stream.len() {
        let mut w = World::new();
        w.connect(1);
        assert_eq!(w.send(1, &stream[..split]), None);
        assert_eq!(w.send(1, &stream[split..]), None);
        assert_eq!(w.take(1), whole, "split at {split}");
    }
    let mut w = World::new();
    w.connect(1);
    for b in stream {
        w.send(1, std::slice::from_ref(b));
    }
    assert_eq!(w.take(1), whole);
}

#[test]
fn limits_come_from_config() {
    let mut w = World::new();
    w.connect_with(
        1,
        SessionConfig {
            limits: Limits {
                max_control_line: 16,
                max_payload: 4,
            },
            ..SessionConfig::default()
        },
    );
    assert_eq!(
        w.send(1, b"PUB a 5\r\n"),
        Some(ClosedReason::MaxPayloadExceeded)
    );
    w.connect_with(
        2,
        SessionConfig {
            limits: Limits {
                max_control_line: 16,
                max_payload: 4,
            },
            ..SessionConfig::default()
        },
    );
    assert_eq!(
        w.send(2, b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\n"),
        Some(ClosedReason::MaxControlLineExceeded)
    );
    assert_eq!(w.take(2), "-ERR 'maximum control line exceeded'\r\n");
}

/// A client whose grant allows publishing only under `ok.` and subscribing
/// only to `in` (plain) and `work` in queue `q`.
fn world_with_permits() -> World {
    let mut w = World::new();
    w.password = Some("pw");
    w.grant = Grant {
        permits: Some(Arc::new(PrefixPermits {
            pub_prefix: b"ok.",
            subs: vec![(b"in", None), (b"work", Some(b"q"))],
        })),
        ..Grant::default()
    };
    w
}

/// Auth required and checked; everything else default.
fn auth_cfg() -> SessionConfig {
    SessionConfig {
        auth_required: true,
        auth_check: true,
        ..SessionConfig::default()
    }
}

#[test]
fn publish_permission_violation_drops_message_and_keeps_connection() {
    let mut w = world_with_permits();
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB > 1\r\n");
    w.connect_with(1, auth_cfg());
    assert_eq!(
        w.send(
            1,
            b"CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\nPUB no.x 1\r\na\r\nPUB ok.x 1\r\nb\r\n"
        ),
        None
    );
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Publish to \"no.x\"'\r\n"
    );
    assert_eq!(w.take(2), "MSG ok.x 1 1\r\nb\r\n");
    // The cached answer is the same the second time.
    w.send(1, b"PUB no.x 1\r\na\r\n");
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Publish to \"no.x\"'\r\n"
    );
    assert_eq!(w.take(2), "");
}

#[test]
fn response_permission_allows_one_reply() {
    let mut w = world_with_permits();
    w.replies.push(b"_INBOX.r1".to_vec());
    w.connect(2);
    w.send(2, QUIET);
    w.send(2, b"SUB _INBOX.> 1\r\n");
    w.connect_with(1, auth_cfg());
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\nPUB _INBOX.r1 1\r\na\r\nPUB _INBOX.r1 1\r\nb\r\n",
    );
    assert_eq!(w.take(2), "MSG _INBOX.r1 1 1\r\na\r\n");
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n"
    );
}

#[test]
fn subscribe_permission_violation_names_the_queue() {
    let mut w = world_with_permits();
    w.connect_with(1, auth_cfg());
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\nSUB out 1\r\nSUB work other 2\r\nSUB work q 3\r\nSUB in 4\r\n",
    );
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Subscription to \"out\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"work\" using queue \"other\"'\r\n"
    );
    assert_eq!(w.router.len(), 2);
}

#[test]
fn grant_limits_subscriptions_and_payload() {
    let mut w = World::new();
    w.password = Some("pw");
    w.grant = Grant {
        max_subscriptions: Some(1),
        max_payload: Some(4),
        ..Grant::default()
    };
    w.connect_with(1, auth_cfg());
    w.send(
        1,
        b"CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\nSUB a 1\r\nSUB b 2\r\n",
    );
    assert_eq!(w.take(1), "-ERR 'maximum subscriptions exceeded'\r\n");
    assert_eq!(
        w.send(1, b"PUB a 5\r\nhello\r\n"),
        Some(ClosedReason::MaxPayloadExceeded)
    );
    assert_eq!(w.take(1), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn expired_credentials_close_the_connection() {
    let mut w = World::new();
    w.password = Some("pw");
    w.grant = Grant {
        expires_at: Some(Millis(5000)),
        ..Grant::default()
    };
    w.connect_with(1, auth_cfg());
    w.send(1, b"CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\n");
    assert_eq!(w.tick(Millis(4999)), vec![]);
    w.take(1);
    assert_eq!(
        w.tick(Millis(5000)),
        vec![(1, ClosedReason::AuthenticationExpired)]
    );
    assert_eq!(w.take(1), "-ERR 'User Authentication Expired'\r\n");
}

#[test]
fn no_auth_user_binds_a_client_that_skips_connect() {
    let mut w = world_with_permits();
    // auth optional: no timer, credentials checked when sent.
    let cfg = SessionConfig {
        auth_required: false,
        ..auth_cfg()
    };
    w.connect_with(1, cfg.clone());
    assert_eq!(w.send(1, b"SUB out 1\r\nSUB in 2\r\n"), None);
    // Bound to the grant of the no-auth user: its permissions apply.
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Subscription to \"out\"'\r\n+OK\r\n"
    );
    w.connect_with(2, cfg);
    assert_eq!(
        w.send(2, b"CONNECT {\"pass\":\"wrong\"}\r\n"),
        Some(ClosedReason::AuthenticationFailure)
    );
    assert_eq!(w.take(2), "-ERR 'Authorization Violation'\r\n");
}

#[test]
fn delivery_encoding_follows_subscriber_header_support() {
    use natsws_core::router::Subscription;
    use natsws_core::subject::Filter;
    let msg = Message {
        subject: b"foo",
        reply: Some(b"r"),
        headers: Some(b"NATS/1.0\r\nA: b\r\n\r\n"),
        payload: b"hello",
    };
    let sub = |headers| -> Subscription {
        Subscription::new(1, b"7", Filter::try_from("foo").unwrap(), None, headers)
    };
    let mut out = vec![];
    encode_delivery(&sub(true), &msg, &mut out);
    assert_eq!(
        out,
        b"HMSG foo 7 r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n".to_vec()
    );
    out.clear();
    encode_delivery(&sub(false), &msg, &mut out);
    assert_eq!(out, b"MSG foo 7 r 5\r\nhello\r\n".to_vec());
}

// Configuration reload (operations spec §1.3, §1.5): what an open session
// takes from a reload.

impl World {
    /// A reload replaced connection `id`'s permissions; returns the sids
    /// removed.
    fn replace_permits(&mut self, id: ConnId, permits: Option<Arc<dyn Permits>>) -> Vec<String> {
        let session = self.sessions.get_mut(&id).expect("session");
        let mut own = Vec::new();
        let mut host = WorldHost {
            router: &mut self.router,
            out: &mut self.out,
            seed: &mut self.seed,
            password: self.password,
            grant: &self.grant,
            replies: &mut self.replies,
        };
        let mut removed = Vec::new();
        session.replace_permits(permits, &mut host, &mut own, |sub| {
            removed.push(String::from_utf8_lossy(sub.sid()).into_owned());
        });
        self.out.entry(id).or_default().extend_from_slice(&own);
        removed
    }
}

#[test]
fn reload_permissions_remove_denied_subscriptions_with_the_reference_err() {
    let mut w = World::new();
    w.connect(1);
    w.connect(2);
    w.send(1, QUIET);
    w.send(2, QUIET);
    w.send(1, b"SUB news.> 1\r\nSUB other 2\r\nSUB q grp 3\r\nPING\r\n");
    assert_eq!(w.take(1), "PONG\r\n");
    let narrow = PrefixPermits {
        pub_prefix: b"",
        subs: vec![(b"other", None)],
    };
    let removed = w.replace_permits(1, Some(Arc::new(narrow)));
    assert_eq!(removed, ["1", "3"]);
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Subscription to \"news.>\" (sid \"1\")'\r\n\
         -ERR 'Permissions Violation for Subscription to \"q\" using queue \"grp\" (sid \"3\")'\r\n"
    );
    // The removed subscriptions get nothing; the kept one still does, and
    // a new SUB is checked against the new permissions.
    w.send(
        2,
        b"PUB news.a 1\r\nx\r\nPUB q 1\r\ny\r\nPUB other 1\r\nz\r\n",
    );
    w.send(1, b"SUB news.b 4\r\nPING\r\n");
    assert_eq!(
        w.take(1),
        "MSG other 2 1\r\nz\r\n-ERR 'Permissions Violation for Subscription to \"news.b\"'\r\nPONG\r\n"
    );
    // Back to everything allowed: nothing removed, new SUBs pass.
    assert!(w.replace_permits(1, None).is_empty());
    w.send(1, b"SUB news.c 5\r\nPING\r\n");
    assert_eq!(w.take(1), "PONG\r\n");
    assert!(w.closed.is_empty());
}

#[test]
fn reload_publish_permissions_apply_past_the_cache() {
    let mut w = World::new();
    w.connect(1);
    w.send(1, QUIET);
    let only_a = PrefixPermits {
        pub_prefix: b"a",
        subs: vec![(b"b", None)],
    };
    w.replace_permits(1, Some(Arc::new(only_a)));
    w.send(1, b"SUB b 1\r\nPUB b 1\r\nx\r\nPING\r\n");
    assert_eq!(
        w.take(1),
        "-ERR 'Permissions Violation for Publish to \"b\"'\r\nPONG\r\n"
    );
    // The denial was cached; the new permissions must not see it.
    let a_and_b = PrefixPermits {
        pub_prefix: b"",
        subs: vec![(b"b", None)],
    };
    assert!(w.replace_permits(1, Some(Arc::new(a_and_b))).is_empty());
    w.send(1, b"PUB b 1\r\nx\r\nPING\r\n");
    assert_eq!(w.take(1), "MSG b 1 1\r\nx\r\nPONG\r\n");
}

#[test]
fn reload_limits_apply_to_the_open_session() {
    let mut w = World::new();
    let cfg = SessionConfig {
        limits: Limits {
            max_control_line: 4096,
            max_payload: 4,
        },
        ..SessionConfig::default()
    };
    w.connect_with(1, cfg);
    w.send(1, QUIET);
    let s = w.sessions.get_mut(&1).unwrap();
    assert!(s.is_connected());
    s.reconfigure(
        natsws_core::session::Reconfigure {
            limits: Limits {
                max_control_line: 4096,
                max_payload: 8,
            },
            max_subscriptions: 1,
            ping_interval: Millis(1000),
            ping_max: 2,
        },
        Millis(0),
    );
    w.send(1, b"SUB a 1\r\nSUB b 2\r\nPUB a 6\r\n123456\r\nPING\r\n");
    assert_eq!(
        w.take(1),
        "-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 6\r\n123456\r\nPONG\r\n"
    );
    // The shorter ping interval brings the next PING forward.
    let s = &w.sessions[&1];
    assert!(
        s.poll_timeout().unwrap() <= Millis(1000),
        "{:?}",
        s.poll_timeout()
    );
    assert_eq!(
        w.send(1, b"PUB a 9\r\n123456789\r\n"),
        Some(ClosedReason::MaxPayloadExceeded)
    );
}
