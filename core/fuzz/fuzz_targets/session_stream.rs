//! Arbitrary bytes through two [`Session`]s sharing a [`Router`]: no panic,
//! consumed bytes never exceed what was given, a closed session stays
//! closed, and closing releases every subscription.
//!
//! Input: the first byte picks a split point; the rest is fed to session 1
//! in two pieces, then `PUB`s from session 2 exercise deliveries to it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::proto::{Connect, Limits};
use natsws_core::router::{self, Message, Origin, Router, SubRef, SubjectSpace};
use natsws_core::session::{encode_delivery, AuthFailure, Grant, Host, Session, SessionConfig};
use natsws_core::time::Millis;

struct H<'a> {
    router: &'a mut Router,
    other: &'a mut Vec<u8>,
}

impl SubjectSpace for H<'_> {
    type Target = ();
    fn subscribe(&mut self, sub: &SubRef) {
        self.router.insert(sub);
    }
    fn unsubscribe(&mut self, sub: &SubRef) {
        self.router.remove(sub);
    }
    fn publish(&mut self, p: Origin, echo: bool, msg: &Message<'_>, out: &mut Vec<u8>) -> usize {
        let res = self.router.matches(msg.subject);
        let mut done = Vec::new();
        let other = &mut *self.other;
        let n = router::select(&res, p, echo, &mut |n| n / 2, |s, last| {
            if p == Origin::Conn(s.conn) {
                encode_delivery(s, msg, out);
            } else {
                encode_delivery(s, msg, other);
            }
            if last {
                done.push(s.clone());
            }
        });
        for s in done {
            self.router.remove(&s);
        }
        n
    }
}

impl Host for H<'_> {
    fn authenticate(&mut self, c: Option<&Connect>) -> Result<Grant, AuthFailure> {
        match c {
            // No CONNECT first: the no-auth binding, with a small limit.
            None => Ok(Grant {
                max_subscriptions: Some(2),
                ..Grant::default()
            }),
            Some(c) if c.pass == "p" => Ok(Grant::default()),
            Some(_) => Err(AuthFailure::Violation),
        }
    }
}

fn feed(s: &mut Session, buf: &mut Vec<u8>, bytes: &[u8], h: &mut H<'_>, now: Millis) -> bool {
    buf.extend_from_slice(bytes);
    let mut out = Vec::new();
    match s.handle_input(buf, now, h, &mut out) {
        Ok(n) => {
            assert!(n <= buf.len());
            buf.drain(..n);
            true
        }
        Err(_) => {
            s.close(h);
            assert!(s.is_closed());
            false
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let mut router = Router::new();
    let mut other = Vec::new();
    let cfg = SessionConfig {
        limits: Limits {
            max_control_line: 256,
            max_payload: 1024,
        },
        auth_required: split % 7 == 0,
        auth_check: split % 3 == 0,
        max_subscriptions: 8,
        ..SessionConfig::default()
    };
    let mut s1 = Session::new(SessionConfig { conn: 1, ..cfg.clone() }, Millis(0));
    let mut s2 = Session::new(SessionConfig { conn: 2, auth_required: false, ..cfg }, Millis(0));
    let (mut b1, mut b2) = (Vec::new(), Vec::new());
    let mut h = H { router: &mut router, other: &mut other };
    let open = feed(&mut s1, &mut b1, &rest[..split], &mut h, Millis(1))
        && feed(&mut s1, &mut b1, &rest[split..], &mut h, Millis(2));
    feed(&mut s2, &mut b2, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nPUB a 1\r\nx\r\nHPUB a.b r 12 13\r\nNATS/1.0\r\n\r\ny\r\n", &mut h, Millis(3));
    let mut out = Vec::new();
    let _ = s1.handle_timeout(Millis(10_000_000), &mut out);
    if open {
        assert!(b1.len() <= 256 + 1024 + 64, "buffered {}", b1.len());
    }
    s1.close(&mut h);
    s2.close(&mut h);
    assert_eq!(router.len(), 0, "closing released every subscription");
});
