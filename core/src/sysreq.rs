//! Request bodies of the `$SYS` services (operations spec §2.4): the JSON
//! options of a request (`<Name>EventOptions`: the event filter every
//! server-level request may carry plus the endpoint's own options), checked
//! as nats-server's JSON decoder checks them, with its texts for a body it
//! cannot take (nats-server `zReq`: `json.Unmarshal`), and the event
//! filter's verdict (`filterRequest`). The server maps the options onto its
//! monitoring endpoints.

use alloc::string::{String, ToString};

use serde_json::Value;

/// Why a request body was refused: the `description` of the 400 error
/// envelope, Go's `encoding/json` text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Not JSON at all, first offending character (`invalid character 'x'
    /// looking for beginning of value`).
    InvalidStart(char),
    /// The body ended inside a value (`unexpected end of JSON input`).
    UnexpectedEnd,
    /// Another syntax error (serde_json's text: natsws does not reproduce
    /// Go's positions; docs/compat.md).
    Syntax(String),
    /// A JSON value of the wrong kind for the whole body: `json: cannot
    /// unmarshal <kind> into Go value of type server.<Struct>`.
    NotObject {
        /// JSON kind (`array`, `string`, `number`, `bool`).
        kind: &'static str,
        /// Go struct name.
        target: &'static str,
    },
    /// A field of the wrong kind: `json: cannot unmarshal <kind> into Go
    /// struct field <Struct>.<field> of type <type>`.
    Field {
        /// JSON kind.
        kind: &'static str,
        /// Go struct name.
        target: &'static str,
        /// The JSON key.
        field: &'static str,
        /// Go type name.
        ty: &'static str,
    },
}

impl core::fmt::Display for BodyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BodyError::InvalidStart(c) => {
                write!(f, "invalid character '{c}' looking for beginning of value")
            }
            BodyError::UnexpectedEnd => f.write_str("unexpected end of JSON input"),
            BodyError::Syntax(s) => f.write_str(s),
            BodyError::NotObject { kind, target } => write!(
                f,
                "json: cannot unmarshal {kind} into Go value of type server.{target}"
            ),
            BodyError::Field {
                kind,
                target,
                field,
                ty,
            } => write!(
                f,
                "json: cannot unmarshal {kind} into Go struct field {target}.{field} of type {ty}"
            ),
        }
    }
}

/// The JSON kind names Go's decoder uses.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A Go field type a body key decodes into.
#[derive(Clone, Copy)]
enum Ty {
    Str(&'static str),
    Bool,
    Int(&'static str),
    Strings,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str(n) | Ty::Int(n) => n,
            Ty::Bool => "bool",
            Ty::Strings => "[]string",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Ty::Str(_), Value::String(_)) | (Ty::Bool, Value::Bool(_)) => true,
            (Ty::Int("uint64"), Value::Number(n)) => n.is_u64(),
            (Ty::Int(_), Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Ty::Strings, Value::Array(a)) => a.iter().all(|x| x.is_string() || x.is_null()),
            _ => false,
        }
    }
}

/// `EventFilterOptions` keys (nats-server `events.go`).
const FILTER_KEYS: &[(&str, Ty)] = &[
    ("server_name", Ty::Str("string")),
    ("cluster", Ty::Str("string")),
    ("host", Ty::Str("string")),
    ("tags", Ty::Strings),
    ("domain", Ty::Str("string")),
    ("exact_match", Ty::Bool),
];

/// `ConnzOptions` keys.
const CONNZ_KEYS: &[(&str, Ty)] = &[
    ("sort", Ty::Str("server.SortOpt")),
    ("auth", Ty::Bool),
    ("subscriptions", Ty::Bool),
    ("subscriptions_detail", Ty::Bool),
    ("offset", Ty::Int("int")),
    ("limit", Ty::Int("int")),
    ("cid", Ty::Int("uint64")),
    ("mqtt_client", Ty::Str("string")),
    ("state", Ty::Int("server.ConnState")),
    ("user", Ty::Str("string")),
    ("acc", Ty::Str("string")),
    ("filter_subject", Ty::Str("string")),
];

/// `SubszOptions` keys.
const SUBSZ_KEYS: &[(&str, Ty)] = &[
    ("offset", Ty::Int("int")),
    ("limit", Ty::Int("int")),
    ("subscriptions", Ty::Bool),
    ("account", Ty::Str("string")),
    ("test", Ty::Str("string")),
];

/// `AccountzOptions` keys.
const ACCOUNTZ_KEYS: &[(&str, Ty)] = &[("account", Ty::Str("string"))];

/// `StatszOptions`/`AccountStatzOptions` keys.
const STATZ_KEYS: &[(&str, Ty)] = &[("accounts", Ty::Strings), ("include_unused", Ty::Bool)];

/// Which options struct a body decodes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opts {
    /// `ConnzEventOptions`.
    Connz,
    /// `SubszEventOptions`.
    Subsz,
    /// `AccountzEventOptions`.
    Accountz,
    /// `StatszEventOptions` / `AccountStatzEventOptions`.
    Statz,
    /// Any other `<Name>EventOptions`: only the filter.
    Filter(&'static str),
}

impl Opts {
    fn target(self) -> &'static str {
        match self {
            Opts::Connz => "ConnzEventOptions",
            Opts::Subsz => "SubszEventOptions",
            Opts::Accountz => "AccountzEventOptions",
            Opts::Statz => "StatszEventOptions",
            Opts::Filter(n) => n,
        }
    }

    fn keys(self) -> &'static [(&'static str, Ty)] {
        match self {
            Opts::Connz => CONNZ_KEYS,
            Opts::Subsz => SUBSZ_KEYS,
            Opts::Accountz => ACCOUNTZ_KEYS,
            Opts::Statz => STATZ_KEYS,
            Opts::Filter(_) => &[],
        }
    }
}

/// A decoded request body: the filter's verdict and the endpoint's
/// options as monitoring query parameters.
#[derive(Debug, Default)]
pub struct Body {
    /// The body as sent (an object; empty when there was no body).
    pub json: serde_json::Map<String, Value>,
}

/// Parses `body` (empty: no options) for `opts` with Go's checks.
pub fn parse(body: &[u8], opts: Opts) -> Result<Body, BodyError> {
    if body.is_empty() {
        return Ok(Body::default());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| syntax(body, &e))?;
    let json = match v {
        Value::Object(m) => m,
        Value::Null => return Ok(Body::default()),
        other => {
            return Err(BodyError::NotObject {
                kind: kind_of(&other),
                target: opts.target(),
            })
        }
    };
    for (key, ty) in opts.keys().iter().chain(FILTER_KEYS) {
        if let Some(v) = json.get(*key) {
            if !ty.accepts(v) {
                return Err(BodyError::Field {
                    kind: kind_of(v),
                    target: opts.target(),
                    field: key,
                    ty: ty.name(),
                });
            }
        }
    }
    Ok(Body { json })
}

/// Go's text for a body that is not JSON.
fn syntax(body: &[u8], e: &serde_json::Error) -> BodyError {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => BodyError::UnexpectedEnd,
        Some(&b)
            if !matches!(
                b,
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            ) =>
        {
            BodyError::InvalidStart(char::from(b))
        }
        _ if e.is_eof() => BodyError::UnexpectedEnd,
        _ => BodyError::Syntax(e.to_string()),
    }
}

impl Body {
    /// The string option `key`, when present and not empty.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The boolean option `key` (absent: false).
    pub fn flag(&self, key: &str) -> bool {
        self.json.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The integer option `key`, when present.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.json.get(key).and_then(Value::as_i64)
    }

    /// Whether this server stays silent (nats-server `filterRequest`):
    /// `server_name`/`host`/`cluster` not contained in ours (not equal with
    /// `exact_match`), any `tags` (a server with no tags lacks them), or a
    /// `domain` (no JetStream domain). `name` and `host` are the server's.
    pub fn filtered_out(&self, name: &str, host: &str) -> bool {
        let exact = self.flag("exact_match");
        let miss = |want: Option<&str>, have: &str| match want {
            None => false,
            Some(w) if exact => w != have,
            Some(w) => !have.contains(w),
        };
        if miss(self.str("server_name"), name)
            || miss(self.str("host"), host)
            || miss(self.str("cluster"), "")
        {
            return true;
        }
        let tags = self
            .json
            .get("tags")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
        tags || self.str("domain").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn go_decoder_texts() {
        let e = |b: &str, o| parse(b.as_bytes(), o).unwrap_err().to_string();
        assert_eq!(
            e("xx{", Opts::Connz),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            e(r#"{"limit":"a"}"#, Opts::Connz),
            "json: cannot unmarshal string into Go struct field ConnzEventOptions.limit of type int"
        );
        assert_eq!(
            e("[]", Opts::Connz),
            "json: cannot unmarshal array into Go value of type server.ConnzEventOptions"
        );
        assert_eq!(e("{", Opts::Connz), "unexpected end of JSON input");
        assert_eq!(
            e(r#"{"cid":-1}"#, Opts::Connz),
            "json: cannot unmarshal number into Go struct field ConnzEventOptions.cid of type uint64"
        );
        assert!(parse(b"", Opts::Connz).is_ok());
        assert!(parse(b"null", Opts::Connz).is_ok());
    }

    #[test]
    fn filters_follow_filter_request() {
        let b = |s: &str| parse(s.as_bytes(), Opts::Filter("VarzEventOptions")).unwrap();
        assert!(!b("{}").filtered_out("ops_srv", "0.0.0.0"));
        assert!(!b(r#"{"server_name":"ops"}"#).filtered_out("ops_srv", "0.0.0.0"));
        assert!(b(r#"{"server_name":"ops","exact_match":true}"#).filtered_out("ops_srv", "h"));
        assert!(b(r#"{"server_name":"nope"}"#).filtered_out("ops_srv", "h"));
        assert!(b(r#"{"host":"127"}"#).filtered_out("ops_srv", "0.0.0.0"));
        assert!(b(r#"{"cluster":"c"}"#).filtered_out("ops_srv", "h"));
        assert!(b(r#"{"tags":["a"]}"#).filtered_out("ops_srv", "h"));
        assert!(b(r#"{"domain":"d"}"#).filtered_out("ops_srv", "h"));
    }
}
