//! INFO JSON (server → client, spec §1.5).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::gojson::{from_go_json, go_escape, no_check};
use super::Error;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

/// The nats-server release whose wire behaviour natsws matches: what a
/// server built on this core sends as INFO `version` (client and leafnode
/// INFO, leafnode CONNECT), `/varz` `version` and `$SYS` events' `ver`.
/// Clients gate features on that field: nats.ws and nats.js refuse KV below
/// 2.6.2 and choose JetStream APIs by it (nats.js `Features`), nats.go by
/// `ServerVersion`; a nats-server hub does the same with its leaves. The
/// implementation's own version travels in INFO `go` (`natsws <version>`).
pub const SERVER_VERSION: &str = "2.15.1";

/// The server's INFO (nats-server `Info`, spec §1.5).
///
/// Serialises in nats-server's field order; fields marked "omitted when
/// empty" follow Go's `omitempty` (false, 0, "" and empty lists are left
/// out). Route/gateway/leafnode-only keys are not modelled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    /// Server public nkey (`N…`, 56 chars).
    pub server_id: String,
    /// `server_name` option, else the server id.
    pub server_name: String,
    /// Server version, e.g. `2.15.0-dev`.
    pub version: String,
    /// Protocol version (1).
    pub proto: i32,
    /// Git commit. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    /// Runtime version string (nats-server: the Go version).
    pub go: String,
    /// Client listen host (`0.0.0.0` by default).
    pub host: String,
    /// Client listen port.
    pub port: u16,
    /// The server supports headers.
    pub headers: bool,
    /// Authentication required. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// TLS mandatory. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Client certificates required. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// TLS optional. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    /// This connection's max payload in bytes (default 1048576).
    pub max_payload: i32,
    /// JetStream enabled. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    /// Route-only. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// This connection's cid. Omitted when 0.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub client_id: u64,
    /// Peer IP as seen by the server. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    /// Nonce to sign for nkey/JWT auth. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// Cluster name. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Cluster name was generated. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// JetStream domain. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Client URLs of the cluster. Omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// Never sent to clients. Omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    /// Lame-duck mode. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// Routes/leafnodes. Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Set in the INFO that follows the first PONG. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    /// Bound account (connect_info INFO). Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// Bound account is the system account. Omitted when false.
    #[serde(skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
    /// JetStream API level. Omitted when 0.
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub api_lvl: i32,
    /// Server curve public key (`X…`). Omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

impl Info {
    /// Compact JSON in nats-server's field order and omissions, with Go's
    /// HTML-safe escaping. [`encode_info`](super::encode_info) wraps it as
    /// `INFO <json> \r\n`.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        go_escape(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses INFO JSON with Go `encoding/json` rules (case-insensitive keys,
    /// unknown keys ignored, last duplicate wins, `null` leaves the default).
    /// nats-server parses an INFO from a client this way and closes on error
    /// (spec §1.2).
    ///
    /// # Errors
    /// [`Error::InvalidJson`] for malformed JSON or a value of the wrong type.
    pub fn from_json(json: &[u8]) -> Result<Info, Error> {
        from_go_json(json, no_check, &[])
    }
}
