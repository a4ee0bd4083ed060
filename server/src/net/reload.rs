//! A reload reaches the loop's open connections: at the first turn after
//! the settings were swapped, each connection's protocol re-evaluates
//! itself against the new settings (`Proto::reconfigure`: limits, ping,
//! authorization and permissions, operations spec §1.5), on its owning
//! loop, so no other thread touches its session.

use super::*;
use crate::session::Cx;
use crate::settings::Settings;

impl EventLoop {
    /// Re-evaluates every open connection of this loop after a reload
    /// replaced `old`; what the protocol owes a peer (`-ERR` lines) is
    /// queued, and a connection the new configuration no longer admits is
    /// closed with the reason its protocol gives.
    pub(super) fn reconfigure_conns(&mut self, old: &Settings) {
        let now = self.shared.now();
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        let mut out = std::mem::take(&mut self.scratch_out);
        for t in tokens {
            let EventLoop {
                conns,
                shared,
                turn,
                ..
            } = self;
            let Some(conn) = conns.get_mut(t) else {
                continue;
            };
            if conn.closing.is_some()
                || conn.sock.is_handshaking()
                || conn.ws.as_ref().is_some_and(|w| !w.is_open())
            {
                continue;
            }
            out.clear();
            let mut cx = Cx {
                shared,
                turn,
                me: &conn.shared,
                account: &mut conn.account,
                nonce: &conn.nonce,
                cookies: conn.ws.as_ref().and_then(|w| w.cookies.as_deref()),
            };
            let res = conn.proto.reconfigure(&mut cx, old, now, &mut out);
            if !out.is_empty() {
                turn.queue_out(&conn.shared, &out);
            }
            match res {
                Err(c) => self.close(t, c.reason, true),
                Ok(()) => arm(&mut self.timers, &mut self.conns[t], t),
            }
        }
        self.scratch_out = out;
    }
}
