//! The `tls { … }` block (nats-protocol.md §4.3), shared by the client
//! port, HTTPS monitoring and the websocket block.

use core::time::Duration;
use std::path::PathBuf;

use super::read::{bool_of, str_list, str_of, Reader};
use crate::config::{Diagnostic, Entry, Map, Span, Value};

/// A `tls { … }` block (§4.3). Fields natsws does not interpret are checked
/// for being known keys only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsConfig {
    /// Position of the block's key.
    pub span: Option<Span>,
    /// `cert_file`.
    pub cert_file: Option<PathBuf>,
    /// `key_file`.
    pub key_file: Option<PathBuf>,
    /// `ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `verify`: require and verify client certificates.
    pub verify: bool,
    /// `verify_and_map`.
    pub verify_and_map: bool,
    /// `insecure`.
    pub insecure: bool,
    /// `timeout` (default 2 s).
    pub timeout: Option<Duration>,
    /// `pinned_certs` (hex SHA-256 of SPKI).
    pub pinned_certs: Vec<String>,
    /// `min_version` (`1.2`/`1.3`).
    pub min_version: Option<String>,
    /// `handshake_first`/`first`/`immediate` given (bool true, `auto` or a
    /// duration).
    pub handshake_first: bool,
}

/// nats-server `tls` keys natsws accepts without interpreting them.
const TLS_OTHER_KEYS: &[&str] = &[
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "certs",
    "certificates",
    "ocsp_peer",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "allow_insecure_cipher_suites",
    "verify_cert_and_check_known_urls",
];

/// Convert a `tls` map; `span` is the block key's position.
pub(super) fn parse_tls(r: &mut Reader, m: &Map, span: &Span) -> TlsConfig {
    let mut t = TlsConfig {
        span: Some(span.clone()),
        ..TlsConfig::default()
    };
    let path = |r: &mut Reader, e: &Entry| r.ok(str_of(e)).map(PathBuf::from);
    for e in &m.entries {
        match e.key.to_ascii_lowercase().as_str() {
            "cert_file" => t.cert_file = path(r, e),
            "key_file" => t.key_file = path(r, e),
            "ca_file" => t.ca_file = path(r, e),
            "verify" => r.set(&mut t.verify, bool_of(e)),
            "verify_and_map" => {
                if let Some(b) = r.ok(bool_of(e)) {
                    t.verify_and_map = b;
                    t.verify |= b;
                }
            }
            "insecure" => r.set(&mut t.insecure, bool_of(e)),
            "timeout" => t.timeout = r.seconds(e, "tls timeout"),
            "pinned_certs" => t.pinned_certs = r.ok(str_list(e)).unwrap_or_default(),
            "min_version" => {
                t.min_version = match &e.value.value {
                    Value::Float(f) => Some(format!("{f:.1}")),
                    _ => r.ok(str_of(e)),
                }
            }
            "handshake_first" | "first" | "immediate" => {
                t.handshake_first = !matches!(e.value.value, Value::Bool(false))
            }
            k if TLS_OTHER_KEYS.contains(&k) => {}
            _ => {
                if !e.used_as_variable {
                    r.errors.push(Diagnostic::at(
                        &e.key_span,
                        format!("error parsing tls config, unknown field \"{}\"", e.key),
                    ));
                }
            }
        }
    }
    if t.cert_file.is_some() && t.key_file.is_none() {
        r.errors.push(Diagnostic::at(
            span,
            "missing 'key_file' in TLS configuration",
        ));
    }
    t
}
