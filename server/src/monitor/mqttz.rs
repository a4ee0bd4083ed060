//! `/mqttz` (natsws extension, mqtt spec §5 IMPL, issue #17): the MQTT
//! sessions, persistent ones too, connected or not, with their filters and
//! queue sizes, and the retained-message count; `DELETE
//! /mqttz?client_id=<id>[&account=<name>]` deletes an offline session
//! (nats-server users have no tool to clear a stuck session, spec §8).

use serde_json::{json, Value};

use super::Params;
use crate::mqtt::DeleteError;
use crate::shared::Shared;

/// The `/mqttz` object.
pub(super) fn mqttz(shared: &Shared) -> Value {
    let sessions: Vec<Value> = shared
        .mqtt
        .list()
        .into_iter()
        .map(|s| {
            let subs: Vec<Value> = s
                .subs
                .iter()
                .map(|(f, q)| json!({"filter": f, "qos": q}))
                .collect();
            json!({
                "account": s.account,
                "client_id": s.client_id,
                "connected": s.connected,
                "clean": s.clean,
                "subscriptions": subs,
                "inflight": s.inflight,
                "pending": s.pending,
                "queued_bytes": s.queued_bytes,
                "qos2_in": s.qos2_in,
            })
        })
        .collect();
    json!({
        "server_id": shared.server_id,
        "enabled": shared.mqtt_addr.is_some(),
        "store": if shared.mqtt.durable() { "file" } else { "memory" },
        "num_sessions": sessions.len(),
        "sessions": sessions,
        "retained": shared.mqtt.retained_count(),
    })
}

/// `DELETE /mqttz?client_id=…&account=…` (account `$G` by default): 200
/// with `{"deleted": …}`, 404 when there is no such session, 409 while a
/// connection holds it, 400 without a client id.
pub(super) fn delete(shared: &Shared, params: &Params) -> (u16, Value) {
    let get = |k: &str| params.get(k).map(String::as_str);
    let Some(id) = get("client_id").filter(|v| !v.is_empty()) else {
        return (400, json!({"error": "client_id is required"}));
    };
    let account = get("account").unwrap_or(crate::account::GLOBAL_ACCOUNT);
    let key = crate::mqtt::SessionKey::new(account, id);
    match shared.mqtt.delete(&key) {
        Ok(subs) => {
            let acc = shared.accounts.get(account);
            for s in &subs {
                crate::deliver::unsubscribe(shared, &acc, s);
            }
            shared.mqtt.commit();
            (
                200,
                json!({"deleted": {"account": account, "client_id": id}}),
            )
        }
        Err(DeleteError::NotFound) => (404, json!({"error": "no such session"})),
        Err(DeleteError::Connected) => (409, json!({"error": "session is connected"})),
    }
}
