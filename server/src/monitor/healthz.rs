//! `/healthz` (nats-server `Server.HandleHealthz`, its basic form): `ok`,
//! or a 500 once lame duck mode has closed the listeners.

use serde_json::json;

use super::Response;
use crate::shared::Shared;

/// The `/healthz` answer: `{"status":"ok"}` (200), or in lame duck mode
/// nats-server's `readyForConnections` failure (500).
pub(super) fn healthz(shared: &Shared) -> Response {
    if shared.in_lame_duck() {
        // The listeners are closed (nats-server
        // `readyForConnections`).
        let mut down = vec!["server"];
        if shared.ws_addr.is_some() {
            down.push("websocket");
        }
        let err = format!(
            "failed to be ready for connections after 1ms: {}",
            down.join(", ")
        );
        crate::warn!("Healthcheck failed: {err:?}");
        // nats-server's field order.
        let body = format!(
            "{{\"status\":\"error\",\"error\":{}}}",
            serde_json::to_string(&err).unwrap_or_default()
        );
        return Response {
            status: 500,
            ctype: "application/json",
            body: body.into_bytes(),
        };
    }
    Response {
        status: 200,
        ctype: "application/json",
        body: serde_json::to_vec(&json!({"status": "ok"})).unwrap_or_default(),
    }
}
