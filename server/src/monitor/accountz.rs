//! `/accountz` (nats-server `Server.Accountz`).

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::log::rfc3339;
use crate::shared::Shared;

/// The `/accountz` object.
pub(super) fn accountz(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
        "system_account": "", "accounts": ["$G"]
    })
}
