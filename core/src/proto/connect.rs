//! CONNECT JSON (spec §1.4) and the Go `encoding/json` semantics nats-server
//! decodes it with.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::gojson::{fold_key, from_go_json, go_escape, merge_go_json};
use super::Error;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The options a client sends in `CONNECT` (nats-server `ClientOpts`, spec
/// §1.4).
///
/// Serialises in nats-server's field order with its `omitempty` omissions.
/// The derived `Deserialize` is plain serde (exact key names); the server must
/// use [`Connect::from_json`], which follows Go's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connect {
    /// Deliver this connection's own publishes to its own subscriptions.
    /// Default `true`.
    pub echo: bool,
    /// Send `+OK` after CONNECT and each accepted PUB/HPUB/SUB/UNSUB. Default
    /// `true`.
    pub verbose: bool,
    /// Validate publish subjects (`-ERR 'Invalid Publish Subject'`). Default
    /// `true`.
    pub pedantic: bool,
    /// Informational, ignored by servers.
    pub tls_required: bool,
    /// User public nkey (`U…`) for nkey auth.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nkey: String,
    /// User JWT (operator mode).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    /// Signature of the INFO nonce.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sig: String,
    /// Token auth.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_token: String,
    /// User name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Password.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    /// Client name (monitoring, logs).
    pub name: String,
    /// Client language.
    pub lang: String,
    /// Client library version.
    pub version: String,
    /// 0 = original protocol, 1 = async INFO. Other values are rejected by
    /// the session (`-ERR 'invalid client protocol'`).
    pub protocol: i64,
    /// Legacy; any non-empty value is an authorization violation.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// Legacy; `true` is an authorization violation.
    #[serde(skip_serializing_if = "is_false")]
    pub new_account: bool,
    /// The client can send HPUB and receive HMSG.
    #[serde(skip_serializing_if = "is_false")]
    pub headers: bool,
    /// Ask for a 503 status message on requests with no responders.
    #[serde(skip_serializing_if = "is_false")]
    pub no_responders: bool,
    /// Leafnodes only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// Trusted-proxy signature.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub proxy_sig: String,
}

impl Default for Connect {
    /// nats-server's starting point: `verbose`, `pedantic` and `echo` true,
    /// everything else false/empty/0 (spec §1.4). A client that never sends
    /// CONNECT gets these.
    fn default() -> Self {
        Connect {
            echo: true,
            verbose: true,
            pedantic: true,
            tls_required: false,
            nkey: String::new(),
            jwt: String::new(),
            sig: String::new(),
            auth_token: String::new(),
            user: String::new(),
            pass: String::new(),
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            account: String::new(),
            new_account: false,
            headers: false,
            no_responders: false,
            remote_account: String::new(),
            proxy_sig: String::new(),
        }
    }
}

impl Connect {
    /// Parses CONNECT JSON the way nats-server's Go `encoding/json` does
    /// (spec §1.4):
    /// - starts from [`Connect::default`] (verbose, pedantic, echo true);
    /// - keys match case-insensitively (Go's folding, including `ſ`→`s` and
    ///   the Kelvin sign→`k`), unknown keys are ignored, the last of
    ///   duplicate keys wins, `null` leaves a field unchanged;
    /// - top-level `null` yields the defaults;
    /// - invalid UTF-8 inside strings is replaced by U+FFFD.
    ///
    /// Known differences in inputs no client sends: lone UTF-16 surrogate
    /// escapes and nesting deeper than 128 levels are errors here.
    ///
    /// # Errors
    /// [`Error::InvalidJson`] (close, no -ERR) for malformed JSON, a
    /// non-object top level, or a value of the wrong type (e.g. a string for
    /// a bool, a fraction or out-of-range number for `protocol`, a non-object
    /// `import`/`export`).
    pub fn from_json(json: &[u8]) -> Result<Connect, Error> {
        // `import`/`export` need check_member's type checks: general path.
        from_go_json(json, check_member, &["import", "export"])
    }

    /// Decodes a later CONNECT over these options, as nats-server does (it
    /// unmarshals every CONNECT into the connection's existing options, spec
    /// §1.4): keys present replace the fields, keys absent or `null` keep
    /// their current values (a second `CONNECT {}` changes nothing, so
    /// `headers`, `echo`, `verbose`, `pedantic`, `no_responders` and the
    /// credentials stay as the first CONNECT set them). Same rules as
    /// [`Connect::from_json`] otherwise; starting from
    /// [`Connect::default`] the result equals `from_json`.
    ///
    /// # Errors
    /// As [`Connect::from_json`]; on error `self` is left unchanged (Go
    /// leaves it half-updated, but the connection is closed either way).
    pub fn merge_json(&mut self, json: &[u8]) -> Result<(), Error> {
        *self = merge_go_json(self, json, check_member)?;
        Ok(())
    }

    /// Compact JSON in nats-server's field order, with Go's HTML-safe
    /// escaping of `<`, `>`, `&`, U+2028 and U+2029.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        go_escape(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Members serde cannot type-check alone.
fn check_member(key: &str, v: &Value) -> Result<(), Error> {
    match key {
        "import" | "export" => check_subject_permission(v),
        _ => Ok(()),
    }
}

/// nats-server `SubjectPermission {allow, deny []string}`: the value must be
/// an object whose `allow`/`deny` (any case) are null or arrays of
/// strings/nulls.
fn check_subject_permission(v: &Value) -> Result<(), Error> {
    let Value::Object(m) = v else {
        return Err(Error::InvalidJson);
    };
    for (k, v) in m {
        let k = fold_key(k);
        if k != "allow" && k != "deny" {
            continue;
        }
        match v {
            Value::Null => {}
            Value::Array(items) => {
                if !items.iter().all(|i| i.is_string() || i.is_null()) {
                    return Err(Error::InvalidJson);
                }
            }
            _ => return Err(Error::InvalidJson),
        }
    }
    Ok(())
}
