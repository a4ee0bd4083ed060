//! What natsws parses but does not implement: the `cluster`, `gateway`
//! and `leafnodes` blocks, and the other nats-server
//! keys in `OTHER_NATS_KEYS`. They are recorded with their position and
//! listed by [`Options::unsupported`]; the server refuses to start while
//! that list is non-empty, so nothing is silently ignored.

use core::fmt;

use super::read::{map_of, parse_listen, port_of, str_of, Reader};
use super::{Options, Spanned};
use crate::config::{Diagnostic, Entry, Span, Value};

/// A block natsws records but does not implement (cluster, gateway,
/// leafnodes, mqtt): its position and listen address if given.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockInfo {
    /// Position of the block's key.
    pub span: Span,
    /// `host`/`net`/`listen` host, if configured.
    pub host: Option<String>,
    /// `port`/`listen` port, if configured.
    pub port: Option<i32>,
}

/// A configured feature natsws does not enforce yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsupported {
    /// Feature name (config key path, e.g. `websocket.authorization`).
    pub feature: String,
    /// Where it is configured.
    pub span: Option<Span>,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.span {
            write!(f, "{s}: ")?;
        }
        write!(
            f,
            "\"{}\" is configured but not supported by natsws yet",
            self.feature
        )
    }
}

/// Top-level nats-server keys that natsws parses only to report them as
/// unsupported (§4.2).
const OTHER_NATS_KEYS: &[&str] = &[
    "trace_headers",
    "syslog",
    "remote_syslog",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "max_traced_msg_len",
    "prof_port",
    "prof_block_rate",
    "no_fast_producer_stall",
    "disable_sublist_cache",
    "no_sublist_cache",
    "allow_non_tls",
    "ocsp",
    "ocsp_cache",
    "proxies",
    "resolver_tls",
    "resolver_pinned_accounts",
    "default_sentinel",
    "store_dir",
    "storedir",
    "connect_error_reports",
    "reconnect_error_reports",
    "server_metadata",
    "feature_flags",
];

impl Options {
    /// `cluster`, `gateway`, `leafnodes`/`leaf`, `mqtt`, `jetstream` and the
    /// keys in `OTHER_NATS_KEYS`, recorded to be refused.
    pub(super) fn apply_unsupported_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "cluster" => self.cluster = parse_block(r, e, "cluster"),
            "gateway" => self.gateway = parse_block(r, e, "gateway"),
            "leafnodes" | "leaf" => self.leaf = super::leaf::parse(r, e),
            "mqtt" => self.mqtt = super::mqtt::parse_mqtt(r, e),
            "jetstream" => {
                let enabled = match &e.value.value {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) if s.eq_ignore_ascii_case("enabled") => Some(true),
                    Value::String(s) if s.eq_ignore_ascii_case("disabled") => Some(false),
                    Value::Map(m) => Some(
                        !m.get_ci("enabled")
                            .is_some_and(|x| x.value.value == Value::Bool(false)),
                    ),
                    v => {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!(
                                "Expected jetstream to be a bool, string or map, got {}",
                                v.go_type()
                            ),
                        ));
                        None
                    }
                };
                if let Value::Map(m) = &e.value.value {
                    if let Some(d) = m.get_ci("store_dir").or_else(|| m.get_ci("storedir")) {
                        self.jetstream_store_dir = r.ok(str_of(d));
                    }
                }
                if enabled == Some(true) {
                    r.warnings.push(Diagnostic::at(
                        &e.key_span,
                        "JetStream is not supported; ignoring jetstream block (MQTT state is kept by natsws)",
                    ));
                }
                if let Some(b) = enabled {
                    self.jetstream = Some(Spanned {
                        value: b,
                        span: e.key_span.clone(),
                    });
                }
            }
            "default_js_domain" => self.default_js_domain = super::leaf::parse_js_domains(r, e),
            k if OTHER_NATS_KEYS.contains(&k) => self.other_features.push(Spanned {
                value: e.key.clone(),
                span: e.key_span.clone(),
            }),
            _ => return false,
        }
        true
    }

    /// Configured features natsws does not enforce yet. The server must
    /// refuse to start when this is non-empty (print each entry).
    pub fn unsupported(&self) -> Vec<Unsupported> {
        let mut out = Vec::new();
        let mut add = |feature: &str, span: Option<&Span>| {
            out.push(Unsupported {
                feature: feature.to_string(),
                span: span.cloned(),
            })
        };
        if let Some(a) = &self.authorization {
            if a.auth_callout {
                add("authorization.auth_callout", Some(&a.span));
            }
        }
        if let Some(r) = &self.resolver {
            let t = r.value.trim().to_ascii_uppercase();
            if t != "MEMORY" && t != "MEM" {
                add("resolver (natsws supports MEMORY)", Some(&r.span));
            }
        }
        for (name, b) in [
            ("cluster", &self.cluster),
            ("gateway", &self.gateway),
            ("leafnodes", &self.leafnodes),
        ] {
            if let Some(b) = b {
                add(name, Some(&b.span));
            }
        }
        if let Some(l) = &self.leaf {
            for (name, span) in &l.unsupported {
                add(name, Some(span));
            }
        }
        for f in &self.other_features {
            add(&f.value, Some(&f.span));
        }
        out
    }
}

/// A refused block: its position and `listen`/`host`/`port` if given;
/// other keys are not checked.
fn parse_block(r: &mut Reader, e: &Entry, what: &str) -> Option<BlockInfo> {
    let m = r.ok(map_of(e, what))?;
    let mut b = BlockInfo {
        span: e.key_span.clone(),
        host: None,
        port: None,
    };
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "listen" => {
                if let Some((h, p)) = r.ok(parse_listen(k)) {
                    b.host = h.or(b.host.take());
                    b.port = Some(p);
                }
            }
            "host" | "net" => b.host = r.ok(str_of(k)),
            "port" => b.port = r.ok(port_of(k)),
            _ => {}
        }
    }
    Some(b)
}
