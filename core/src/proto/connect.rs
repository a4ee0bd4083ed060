//! CONNECT JSON (spec §1.4) and the Go `encoding/json` semantics nats-server
//! decodes it with.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
        let Some(map) = fold_object(json)? else {
            return Ok(Connect::default());
        };
        for key in ["import", "export"] {
            if let Some(v) = map.get(key) {
                check_subject_permission(v)?;
            }
        }
        serde_json::from_value(Value::Object(map)).map_err(|_| Error::InvalidJson)
    }

    /// Compact JSON in nats-server's field order, with Go's HTML-safe
    /// escaping of `<`, `>`, `&`, U+2028 and U+2029.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        go_escape(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// Go's key folding for the ASCII field names we know: ASCII letters to
/// lower case, and the two non-ASCII letters whose simple case fold is an
/// ASCII letter (U+017F `ſ` → `s`, U+212A Kelvin sign → `k`).
pub(super) fn fold_key(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{017F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A top-level JSON object with keys folded, `null` members dropped and the
/// last duplicate kept, in document order; `None` for a top-level `null`.
struct Folded(Option<Map<String, Value>>);

impl<'de> Deserialize<'de> for Folded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Folded;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Folded, E> {
                Ok(Folded(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Folded, A::Error> {
                let mut out = Map::new();
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let v: Value = m.next_value()?;
                    if !v.is_null() {
                        out.insert(fold_key(&k), v);
                    }
                }
                Ok(Folded(Some(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `json` into a [`Folded`] object.
pub(super) fn fold_object(json: &[u8]) -> Result<Option<Map<String, Value>>, Error> {
    let text = String::from_utf8_lossy(json);
    let folded: Folded = serde_json::from_str(&text).map_err(|_| Error::InvalidJson)?;
    Ok(folded.0)
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

/// Rewrites serde_json output to Go's `encoding/json` escaping: `<`, `>`,
/// `&` become `\u003c`, `\u003e`, `\u0026`, and U+2028/U+2029 become
/// `\u2028`/`\u2029`. These bytes only occur inside strings in JSON text, so
/// a byte-wise rewrite is exact.
pub(super) fn go_escape(json: Vec<u8>) -> Vec<u8> {
    let needs = json.iter().enumerate().any(|(i, &b)| {
        matches!(b, b'<' | b'>' | b'&')
            || (b == 0xE2
                && json.get(i + 1) == Some(&0x80)
                && matches!(json.get(i + 2), Some(0xA8 | 0xA9)))
    });
    if !needs {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if json.get(i + 1) == Some(&0x80)
                && matches!(json.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if json[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                continue;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold_key("VERBOSE"), "verbose");
        assert_eq!(fold_key("\u{017F}ig"), "sig");
        assert_eq!(fold_key("n\u{212A}ey"), "nkey");
        assert_eq!(fold_key("\u{00C9}x"), "\u{00C9}x");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            go_escape(b"{\"a\":\"<&>\"}".to_vec()),
            b"{\"a\":\"\\u003c\\u0026\\u003e\"}".to_vec()
        );
        assert_eq!(
            go_escape("\"\u{2028}\u{2029}\"".as_bytes().to_vec()),
            b"\"\\u2028\\u2029\"".to_vec()
        );
        assert_eq!(go_escape(b"{}".to_vec()), b"{}".to_vec());
    }
}
