//! `$SYS.REQ.SERVER.<id>.LDM` (operations spec §2.3, nats-server
//! `ldmClient` and `LDMClientByID`): one client is told that the server is
//! entering lame duck mode (an INFO with `"ldm":true`), so it reconnects
//! elsewhere, without the server entering lame duck mode itself.

use std::sync::atomic::Ordering;

use natsws_core::sysreq::{self, Opts};
use serde_json::{Map, Value};

use super::events::server_info;
use super::requests::{envelope, to_vec};
use crate::shared::Shared;

/// The 500 text for an id that is no client connection (leafnodes
/// included), as nats-server.
const NO_SUCH_CLIENT: &str = "no such client id";

/// The 500 text for a client that does not take asynchronous INFO
/// (protocol 0, or its first PING not answered yet).
const NOT_READY: &str =
    "client does not support Lame Duck Mode or is not ready to receive the notification";

/// Handles one LDM request: the body must be a JSON object with an
/// optional numeric `cid` (anything else is logged at ERR with the
/// reference's text and not answered); the event filter applies. The
/// client gets the lame duck INFO of its listener and the answer is the
/// bare `{"server"}` envelope, or a 500 with [`NO_SUCH_CLIENT`] or
/// [`NOT_READY`].
pub(super) fn ldm(shared: &Shared, payload: &[u8]) -> Option<Vec<u8>> {
    let cid = serde_json::from_slice::<Value>(payload)
        .ok()
        .filter(Value::is_object)
        .map(|v| v.get("cid").map_or(Some(0), Value::as_u64));
    let Some(Some(cid)) = cid else {
        // nats-server logs the kick handler's text here too.
        crate::error!("Error unmarshalling kick client request");
        return None;
    };
    match sysreq::parse(payload, Opts::Filter("EventFilterOptions")) {
        Ok(b) if b.filtered_out(&shared.server_name, &shared.client_addr.ip().to_string()) => {
            return None
        }
        Ok(_) => {}
        Err(e) => return Some(envelope(shared, Err((400, e.to_string())))),
    }
    let conn = shared.conns.lock().ok()?.get(&cid).cloned();
    let Some(c) = conn.filter(|c| !c.kind.is_leaf()) else {
        return Some(envelope(shared, Err((500, NO_SUCH_CLIENT.into()))));
    };
    if !c.async_info.load(Ordering::Acquire) {
        return Some(envelope(shared, Err((500, NOT_READY.into()))));
    }
    crate::debug!(
        "{} - {}:{} - Sending Lame Duck Mode info to client",
        c.log_peer(),
        c.kind.label(),
        c.cid
    );
    let info = shared
        .info_templates(c.kind)
        .ldm_line(c.cid, c.client_addr());
    c.out.lock().ok()?.buf.extend_from_slice(&info);
    if !c.dirty.swap(true, Ordering::AcqRel) {
        let l = &shared.loops[c.loop_idx()];
        l.inbox.lock().expect("inbox").push(c.clone());
        let _ = l.waker.wake();
    }
    let mut m = Map::new();
    m.insert("server".into(), server_info(shared));
    Some(to_vec(&Value::Object(m)))
}
