//! Request bodies of the `$SYS` services (operations spec §2.4): the event
//! filter every server-level request may carry, and the endpoint options
//! mapped onto the monitoring endpoints' query parameters, with the texts
//! nats-server's JSON decoder gives for a body it cannot take (nats-server
//! `zReq`: `json.Unmarshal` into `<Name>EventOptions`).

use serde_json::Value;

use crate::monitor::Params;

/// Why a request body was refused: the `description` of the 400 error
/// envelope, Go's `encoding/json` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
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
pub(crate) enum Opts {
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
pub(crate) struct Body {
    /// The body as sent (an object; empty when there was no body).
    pub json: serde_json::Map<String, Value>,
}

/// Parses `body` (empty: no options) for `opts` with Go's checks.
pub(crate) fn parse(body: &[u8], opts: Opts) -> Result<Body, BodyError> {
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
    fn str(&self, key: &str) -> Option<&str> {
        self.json
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        self.json.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// Whether this server stays silent (nats-server `filterRequest`):
    /// `server_name`/`host`/`cluster` not contained in ours (equal with
    /// `exact_match`), a `tags` entry we lack (we have none), or a `domain`
    /// (we have no JetStream domain).
    pub(crate) fn filtered_out(&self, name: &str, host: &str) -> bool {
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

    /// `ConnzOptions` as `/connz` query parameters.
    pub(crate) fn connz_params(&self) -> Params {
        let mut p = Params::new();
        for key in ["sort", "user", "acc", "filter_subject", "mqtt_client"] {
            if let Some(v) = self.str(key) {
                p.insert(key.into(), v.into());
            }
        }
        for key in ["offset", "limit", "cid"] {
            if let Some(n) = self.json.get(key).and_then(Value::as_i64) {
                p.insert(key.into(), n.to_string());
            }
        }
        if self.flag("auth") {
            p.insert("auth".into(), "true".into());
        }
        if self.flag("subscriptions") || self.flag("subscriptions_detail") {
            p.insert("subs".into(), "true".into());
        }
        // ConnState: 0 open, 1 closed, 2 any.
        let state = match self.json.get("state").and_then(Value::as_i64) {
            Some(1) => "closed",
            Some(2) => "any",
            _ => "open",
        };
        p.insert("state".into(), state.into());
        p
    }

    /// `SubszOptions` as `/subsz` query parameters.
    pub(crate) fn subsz_params(&self) -> Params {
        let mut p = Params::new();
        for key in ["offset", "limit"] {
            if let Some(n) = self.json.get(key).and_then(Value::as_i64) {
                p.insert(key.into(), n.to_string());
            }
        }
        if self.flag("subscriptions") {
            p.insert("subs".into(), "true".into());
        }
        if let Some(t) = self.str("test") {
            p.insert("test".into(), t.into());
        }
        if let Some(a) = self.str("account") {
            p.insert("acc".into(), a.into());
        }
        p
    }

    /// `AccountzOptions` as `/accountz` query parameters.
    pub(crate) fn accountz_params(&self) -> Params {
        let mut p = Params::new();
        if let Some(a) = self.str("account") {
            p.insert("acc".into(), a.into());
        }
        p
    }

    /// `include_unused` of an account STATZ request.
    pub(crate) fn include_unused(&self) -> bool {
        self.flag("include_unused")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn connz_options_become_query_parameters() {
        let b = parse(
            br#"{"state":1,"auth":true,"limit":5,"acc":"APP","subscriptions":true}"#,
            Opts::Connz,
        )
        .unwrap();
        let p = b.connz_params();
        assert_eq!(p["state"], "closed");
        assert_eq!(p["auth"], "true");
        assert_eq!(p["limit"], "5");
        assert_eq!(p["acc"], "APP");
        assert_eq!(p["subs"], "true");
    }
}
