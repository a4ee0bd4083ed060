//! Account JWT import and export claims in operator mode (operations spec
//! §3.5, nats-server `updateAccountClaimsWithRefresh`): the `exports` and
//! `imports` of each `resolver_preload` account JWT become the same
//! [`AccountLinks`] as an `accounts {}` block's, keyed by the account's
//! public key (its name in operator mode), so `crate::imports` installs
//! them and `/accountz` shows them.
//!
//! As nats-server: an import whose export does not exist or does not
//! approve the importer is skipped (it would be `invalid`); exports with
//! `token_req` approve nobody, since natsws does not take activation
//! tokens; stream import `to` (the deprecated field) is a prefix,
//! `local_subject` a rename; service import `local_subject` (else `to`,
//! else `subject`) is the local subject.

use std::time::Duration;

use serde_json::Value;

use crate::config::Span;
use crate::options::{
    export_approved, AccountLinks, Export, ResponseType, ServiceImport, StreamImport,
    DEFAULT_RESPONSE_THRESHOLD,
};

/// The claims (`nats` object) of account `key`'s JWT: its signature
/// verified (`natsws_core::auth::jwt::verify`) and its `sub` the key it is
/// preloaded under; else `None` (the account gets no links). Whether the
/// issuer is trusted is checked when the account is used.
fn claims(key: &str, jwt: &str) -> Option<Value> {
    let verified = natsws_core::auth::jwt::verify(jwt).ok()?;
    let v: Value = serde_json::from_slice(&verified.claims_json).ok()?;
    if v.get("sub").and_then(Value::as_str) != Some(key) {
        return None;
    }
    v.get("nats").cloned()
}

/// A position for entries that come from a JWT, not a file.
fn span(account: &str) -> Span {
    Span {
        file: format!("jwt:{account}").into(),
        line: 0,
        col: 0,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// One JWT `exports` entry: (is a service, the export).
fn export(e: &Value, account: &str) -> Option<(bool, Export)> {
    let subject = str_field(e, "subject")?.to_string();
    let service = str_field(e, "type") == Some("service");
    let response_type = match str_field(e, "response_type") {
        Some("Stream") => ResponseType::Stream,
        Some("Chunked") => ResponseType::Chunked,
        _ => ResponseType::Singleton,
    };
    // A Go Duration in nanoseconds.
    let threshold = e
        .get("response_threshold")
        .and_then(Value::as_u64)
        .filter(|&n| n > 0)
        .map_or(DEFAULT_RESPONSE_THRESHOLD, Duration::from_nanos);
    let token_req = e.get("token_req").and_then(Value::as_bool) == Some(true);
    Some((
        service,
        Export {
            subject,
            accounts: token_req.then(Vec::new),
            token_position: e
                .get("account_token_position")
                .and_then(Value::as_u64)
                .map_or(0, |n| n as u32),
            response_type,
            response_threshold: threshold,
            latency: None,
            allow_trace: e.get("allow_trace").and_then(Value::as_bool) == Some(true),
            span: span(account),
        },
    ))
}

/// The links of every preloaded account JWT (`(public key, JWT)` pairs),
/// imports checked against the exporters' exports.
pub(crate) fn from_preload(preload: &[(String, String)]) -> Vec<(String, AccountLinks)> {
    let claims: Vec<(&str, Value)> = preload
        .iter()
        .filter_map(|(k, jwt)| Some((k.as_str(), claims(k, jwt)?)))
        .collect();
    let mut out: Vec<(String, AccountLinks)> = Vec::new();
    for (name, c) in &claims {
        let mut l = AccountLinks::default();
        for e in c
            .get("exports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match export(e, name) {
                Some((true, x)) => l.service_exports.push(x),
                Some((false, x)) => l.stream_exports.push(x),
                None => {}
            }
        }
        out.push((name.to_string(), l));
    }
    for (name, c) in &claims {
        let mut streams = Vec::new();
        let mut services = Vec::new();
        for i in c
            .get("imports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(subject), Some(account)) = (str_field(i, "subject"), str_field(i, "account"))
            else {
                continue;
            };
            let service = str_field(i, "type") == Some("service");
            let Some((_, exporter)) = out.iter().find(|(n, _)| n == account) else {
                continue;
            };
            let exports = if service {
                &exporter.service_exports
            } else {
                &exporter.stream_exports
            };
            if !export_approved(exports, name, subject) {
                continue;
            }
            let local = str_field(i, "local_subject");
            let to = str_field(i, "to");
            if service {
                services.push(ServiceImport {
                    account: account.to_string(),
                    subject: subject.to_string(),
                    to: local.or(to).unwrap_or(subject).to_string(),
                    share: i.get("share").and_then(Value::as_bool) == Some(true),
                    span: span(name),
                });
            } else {
                streams.push(StreamImport {
                    account: account.to_string(),
                    subject: subject.to_string(),
                    prefix: if local.is_none() {
                        to.map(str::to_string)
                    } else {
                        None
                    },
                    to: local.map(str::to_string),
                    span: span(name),
                });
            }
        }
        if let Some((_, l)) = out.iter_mut().find(|(n, _)| n == name) {
            l.stream_imports = streams;
            l.service_imports = services;
        }
    }
    out.retain(|(_, l)| !l.is_empty());
    out
}
