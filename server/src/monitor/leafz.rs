//! `/routez` and `/leafz`: natsws has no cluster routes or leafnode
//! connections yet, so both answer nats-server's objects with empty lists.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::log::rfc3339;
use crate::shared::Shared;

/// The `/routez` object (nats-server `Server.Routez`) with no routes.
pub(crate) fn routez(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id, "server_name": shared.server_name,
        "now": rfc3339(SystemTime::now()), "num_routes": 0, "routes": []
    })
}

/// The `/leafz` object (nats-server `Server.Leafz`) with no leafnodes.
pub(crate) fn leafz(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
        "leafnodes": 0, "leafs": []
    })
}
