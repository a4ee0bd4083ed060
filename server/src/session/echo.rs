//! Test-only (feature `autobahn`): the Autobahn echo as a connection kind.
//! It speaks WebSocket messages itself (core's `EchoConn`: fragmentation,
//! UTF-8, close handshake), so the overlay passes its bytes through
//! unparsed and it writes its own frames, close frame included.

use std::sync::Arc;

use natsws_core::session::{Close, ClosedReason};
use natsws_core::ws::echo::EchoConn;

use crate::sink::ConnShared;

/// The echo state, made at the first bytes after the upgrade (masking and
/// compression as negotiated).
#[derive(Default)]
pub(crate) struct Echo {
    conn: Option<Box<EchoConn>>,
}

impl Echo {
    /// Echoes what `input` completes; everything is consumed. `Err` when
    /// the close handshake is done or failed (its close frame is in
    /// `wbuf`).
    pub(crate) fn input(
        &mut self,
        me: &Arc<ConnShared>,
        input: &mut [u8],
        wbuf: &mut Vec<u8>,
    ) -> Result<usize, Close> {
        let echo = self.conn.get_or_insert_with(|| {
            let (compression, no_masking) = me
                .upgrade
                .get()
                .map_or((false, false), |u| (u.compression, u.no_masking));
            Box::new(EchoConn::for_peer(compression, no_masking))
        });
        if echo.process(input, wbuf) {
            return Err(Close {
                reason: ClosedReason::ClientClosed,
                log: None,
            });
        }
        Ok(input.len())
    }
}
