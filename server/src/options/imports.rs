//! Account `exports`, `imports` and `mappings` (spec `operations.md`
//! §3.1, §3.3, §3.4): parsed per account, plus the top-level `mappings`
//! of the global account, then checked across accounts once every
//! account is known ([`Options::check_links`], nats-server
//! `parseAccounts`' second half). Error texts and positions are
//! nats-server's: entry errors point at the entry's key, cross-account
//! errors at the `accounts` key.

use std::time::Duration;

use natsws_core::subject::transform::{Mapping, Transform, WeightedDest};
use natsws_core::subject::validate_filter;

use super::read::{str_of, Reader};
use super::Options;
use crate::config::{Diagnostic, Entry, Map, Span, Value};

/// Default `response_threshold` of a service export: 2 minutes.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// How a service export answers (`response_type`, §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseType {
    /// `single`/`singleton` (default): one response per request.
    #[default]
    Singleton,
    /// `stream`: any number of responses until the threshold passes
    /// without one.
    Stream,
    /// `chunk`/`chunked`: as `Stream`.
    Chunked,
}

/// One `exports` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// The exported subject (`stream`/`service`), wildcards allowed.
    pub subject: String,
    /// `accounts`: who may import; `None` = public.
    pub accounts: Option<Vec<String>>,
    /// `account_token_position` (1-based; 0 = none): that token of an
    /// import's subject must be the importing account's name.
    pub token_position: u32,
    /// Services: `response_type`.
    pub response_type: ResponseType,
    /// Services: `response_threshold` (default 2 min).
    pub response_threshold: Duration,
    /// Services: `latency` results subject (accepted, not tracked).
    pub latency: Option<String>,
    /// Services: `allow_trace` (accepted, no effect: no message tracing).
    pub allow_trace: bool,
    /// Where the entry is.
    pub span: Span,
}

/// One `imports` entry of kind `stream`.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamImport {
    /// The exporting account.
    pub account: String,
    /// The exporter's subject imported.
    pub subject: String,
    /// `prefix`: delivered as `<prefix>.<subject>`.
    pub prefix: Option<String>,
    /// `to`: delivered on this subject (wildcards by position).
    pub to: Option<String>,
    /// Where the entry is.
    pub span: Span,
}

/// One `imports` entry of kind `service`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceImport {
    /// The exporting account.
    pub account: String,
    /// The exporter's subject (where requests are forwarded).
    pub subject: String,
    /// `to`: the local subject the importer publishes to (default
    /// `subject`).
    pub to: String,
    /// `share`: pass the requester's info (accepted, not sent yet).
    pub share: bool,
    /// Where the entry is.
    pub span: Span,
}

/// One weighted destination of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDest {
    /// `destination`/`dest`.
    pub dest: String,
    /// `weight`, 0–100 (100 for a plain string destination).
    pub weight: u8,
    /// `cluster`.
    pub cluster: Option<String>,
}

/// One `mappings`/`maps` entry: a source and its destinations.
#[derive(Clone, Debug, PartialEq)]
pub struct MappingOpt {
    /// The source subject (wildcards allowed).
    pub source: String,
    /// Its destinations.
    pub dests: Vec<MapDest>,
}

impl MappingOpt {
    /// The core mapping (checked when parsed, so `Ok` after a successful
    /// [`Options`] conversion). No cluster: natsws has none.
    pub fn build(&self) -> Result<Mapping, natsws_core::subject::transform::MappingError> {
        let ds: Vec<WeightedDest<'_>> = self
            .dests
            .iter()
            .map(|d| WeightedDest {
                dest: &d.dest,
                weight: d.weight,
                cluster: d.cluster.as_deref(),
            })
            .collect();
        Mapping::new(&self.source, &ds, None)
    }
}

/// An account's exports, imports and mappings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountLinks {
    /// `exports` of kind `stream`.
    pub stream_exports: Vec<Export>,
    /// `exports` of kind `service`.
    pub service_exports: Vec<Export>,
    /// `imports` of kind `stream`.
    pub stream_imports: Vec<StreamImport>,
    /// `imports` of kind `service`.
    pub service_imports: Vec<ServiceImport>,
    /// `mappings`/`maps`, in file order (the first matching source wins).
    pub mappings: Vec<MappingOpt>,
}

impl AccountLinks {
    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.stream_exports.is_empty()
            && self.service_exports.is_empty()
            && self.stream_imports.is_empty()
            && self.service_imports.is_empty()
            && self.mappings.is_empty()
    }
}

fn err(r: &mut Reader, span: &Span, msg: impl Into<String>) {
    r.errors.push(Diagnostic::at(span, msg));
}

/// A string value or the nats-server type error `<what> <go type>`.
fn string_val(r: &mut Reader, k: &Entry, what: &str) -> Option<String> {
    match &k.value.value {
        Value::String(s) => Some(s.clone()),
        v => {
            err(r, &k.key_span, format!("{what}{}", v.go_type()));
            None
        }
    }
}

/// `exports: [...]` of one account (nats-server `parseAccountExports`).
pub(super) fn parse_exports(r: &mut Reader, e: &Entry, links: &mut AccountLinks) {
    let Value::Array(items) = &e.value.value else {
        let t = e.value.value.go_type();
        return err(
            r,
            &e.key_span,
            format!("Exports should be an array, got {t}"),
        );
    };
    for item in items {
        let Value::Map(m) = &item.value else {
            let t = item.value.go_type();
            err(
                r,
                &item.span,
                format!("Export Items should be a map with type entry, got {t}"),
            );
            continue;
        };
        parse_export(r, m, &item.span, links);
    }
}

/// One export entry (nats-server `parseExportStreamOrService`).
fn parse_export(r: &mut Reader, m: &Map, span: &Span, links: &mut AccountLinks) {
    let mut stream: Option<String> = None;
    let mut service: Option<String> = None;
    let mut ex = Export {
        subject: String::new(),
        accounts: None,
        token_position: 0,
        response_type: ResponseType::Singleton,
        response_threshold: DEFAULT_RESPONSE_THRESHOLD,
        latency: None,
        allow_trace: false,
        span: span.clone(),
    };
    let (mut rt_at, mut lat_at, mut trace_at): (Option<Span>, Option<Span>, Option<Span>) =
        (None, None, None);
    let (mut rt_seen, mut thr_seen) = (false, false);
    for k in &m.entries {
        let at = &k.key_span;
        match k.key.to_ascii_lowercase().as_str() {
            "stream" => {
                if let Some(s) = &service {
                    let _ = s;
                    let v = value_text(&k.value.value);
                    err(
                        r,
                        at,
                        format!("Detected stream {v} but already saw a service"),
                    );
                    continue;
                }
                let early = [
                    (&rt_at, "Detected response directive on non-service"),
                    (&lat_at, "Detected latency directive on non-service"),
                    (&trace_at, "Detected allow_trace directive on non-service"),
                ];
                if let Some((sp, msg)) = early.iter().find_map(|(s, m)| s.as_ref().map(|s| (s, m)))
                {
                    err(r, sp, *msg);
                    continue;
                }
                stream = string_val(r, k, "Expected stream name to be string, got ");
            }
            "service" => {
                if stream.is_some() {
                    let v = value_text(&k.value.value);
                    err(
                        r,
                        at,
                        format!("Detected service {v} but already saw a stream"),
                    );
                    continue;
                }
                service = string_val(r, k, "Expected service name to be string, got ");
            }
            "response" | "response_type" => {
                if rt_seen {
                    err(r, at, "Duplicate response type definition");
                    continue;
                }
                rt_seen = true;
                rt_at = Some(at.clone());
                let Some(v) = string_val(r, k, "Expected response type to be string, got ") else {
                    continue;
                };
                ex.response_type = match v.to_ascii_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        err(r, at, format!("Unknown response type: \"{v}\""));
                        continue;
                    }
                };
                if stream.is_some() {
                    err(r, at, "Detected response directive on non-service");
                }
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if thr_seen {
                    err(r, at, "Duplicate response threshold detected");
                    continue;
                }
                thr_seen = true;
                let Some(v) = string_val(
                    r,
                    k,
                    "Expected response threshold to be a parseable time duration, got ",
                ) else {
                    continue;
                };
                match super::read::parse_go_duration(&v) {
                    Ok(d) => ex.response_threshold = d,
                    Err(_) => {
                        err(
                            r,
                            at,
                            format!("Expected response threshold to be a parseable time duration, got \"{v}\""),
                        );
                        continue;
                    }
                }
                if stream.is_some() {
                    err(r, at, "Detected response directive on non-service");
                }
            }
            "accounts" => match super::read::str_list(k) {
                Ok(l) => ex.accounts = Some(l),
                Err(d) => r.errors.push(d),
            },
            "latency" => {
                lat_at = Some(at.clone());
                let Some(l) = latency(r, k) else { continue };
                ex.latency = l;
                if stream.is_some() {
                    err(r, at, "Detected latency directive on non-service");
                }
            }
            "account_token_position" => match &k.value.value {
                Value::Integer(n) if *n >= 0 && *n <= i64::from(u32::MAX) => {
                    ex.token_position = *n as u32
                }
                v => {
                    let t = v.go_type();
                    err(
                        r,
                        at,
                        format!("Expected account_token_position to be an integer, got {t}"),
                    );
                }
            },
            "allow_trace" => {
                trace_at = Some(at.clone());
                ex.allow_trace = matches!(k.value.value, Value::Bool(true));
                if stream.is_some() {
                    err(r, at, "Detected allow_trace directive on non-service");
                }
            }
            _ => r.unknown(k),
        }
    }
    if let Some(s) = stream {
        ex.subject = s;
        links.stream_exports.push(ex);
    } else if let Some(s) = service {
        ex.subject = s;
        links.service_exports.push(ex);
    }
}

/// `latency`: a results subject, or `{sampling, subject}`; None after an
/// error (nats-server `parseServiceLatency`).
fn latency(r: &mut Reader, k: &Entry) -> Option<Option<String>> {
    let at = &k.key_span;
    match &k.value.value {
        Value::String(s) => Some(Some(s.clone())),
        Value::Map(lm) => match lm.get_ci("subject") {
            Some(s) => Some(r.ok(str_of(s))),
            None => {
                err(r, at, "Latency subject required, but missing");
                None
            }
        },
        v => {
            let t = v.go_type();
            let msg = format!("Expected latency entry to be a map/struct or string, got {t}");
            err(r, at, msg);
            None
        }
    }
}

/// Go's `%q` of a string value, `%!q(…)` avoided: the text as written.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Integer(n) => n.to_string(),
        other => other.go_type().to_string(),
    }
}

/// `imports: [...]` of one account (nats-server `parseAccountImports`).
pub(super) fn parse_imports(r: &mut Reader, e: &Entry, links: &mut AccountLinks) {
    let Value::Array(items) = &e.value.value else {
        let t = e.value.value.go_type();
        return err(
            r,
            &e.key_span,
            format!("Imports should be an array, got {t}"),
        );
    };
    for item in items {
        let Value::Map(m) = &item.value else {
            let t = item.value.go_type();
            err(
                r,
                &item.span,
                format!("Import Items should be a map with type entry, got {t}"),
            );
            continue;
        };
        parse_import(r, m, &item.span, links);
    }
}

/// `{account, subject}` of an import (nats-server `parseAccount`).
fn account_subject(r: &mut Reader, k: &Entry, kind: &str) -> Option<(String, String)> {
    let Value::Map(m) = &k.value.value else {
        let t = k.value.value.go_type();
        err(
            r,
            &k.key_span,
            format!("{kind} entry should be an account map, got {t}"),
        );
        return None;
    };
    let (mut acc, mut subj) = (String::new(), String::new());
    for f in &m.entries {
        match f.key.to_ascii_lowercase().as_str() {
            "account" => acc = r.ok(str_of(f)).unwrap_or_default(),
            "subject" => subj = r.ok(str_of(f)).unwrap_or_default(),
            _ => r.unknown(f),
        }
    }
    if acc.is_empty() || subj.is_empty() {
        err(r, &k.key_span, "Expect an account name and a subject");
        return None;
    }
    Some((acc, subj))
}

/// One import entry (nats-server `parseImportStreamOrService`).
fn parse_import(r: &mut Reader, m: &Map, span: &Span, links: &mut AccountLinks) {
    let mut stream: Option<(String, String)> = None;
    let mut service: Option<(String, String)> = None;
    let (mut prefix, mut to, mut share) = (None::<String>, None::<String>, false);
    let mut trace_at: Option<Span> = None;
    let mut to_at: Option<Span> = None;
    for k in &m.entries {
        let at = &k.key_span;
        match k.key.to_ascii_lowercase().as_str() {
            "stream" => {
                if service.is_some() {
                    err(r, at, "Detected stream but already saw a service");
                    continue;
                }
                stream = account_subject(r, k, "Stream");
            }
            "service" => {
                if stream.is_some() {
                    err(r, at, "Detected service but already saw a stream");
                    continue;
                }
                if let Some(t) = &trace_at {
                    err(r, t, "Detected allow_trace directive on a non-stream");
                    continue;
                }
                service = account_subject(r, k, "Service");
            }
            "prefix" => prefix = r.ok(str_of(k)),
            "to" => {
                to = r.ok(str_of(k));
                to_at = Some(at.clone());
            }
            "share" => share = matches!(k.value.value, Value::Bool(true)),
            "allow_trace" => {
                if service.is_some() {
                    err(r, at, "Detected allow_trace directive on a non-stream");
                    continue;
                }
                trace_at = Some(at.clone());
            }
            _ => r.unknown(k),
        }
    }
    if let (Some(_), Some(_), Some(at)) = (&stream, &prefix, &to_at) {
        // nats-server reports it only when `to` comes after the other two
        // in its (random) map order; natsws always does.
        return err(
            r,
            at,
            "Stream import can not have a 'prefix' and a 'to' property",
        );
    }
    if let Some((account, subject)) = stream {
        links.stream_imports.push(StreamImport {
            account,
            subject,
            prefix: prefix.filter(|p| !p.is_empty()),
            to: to.filter(|t| !t.is_empty()),
            span: span.clone(),
        });
    } else if let Some((account, subject)) = service {
        let to = to
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| subject.clone());
        if let Some(dup) = links
            .service_imports
            .iter()
            .find(|d| d.to == to && d.account == account)
        {
            let msg = format!(
                "Duplicate service import subject \"{to}\", previously used in import for account \"{}\", subject \"{}\"",
                dup.account, dup.subject
            );
            return err(r, span, msg);
        }
        links.service_imports.push(ServiceImport {
            account,
            subject,
            to,
            share,
            span: span.clone(),
        });
    }
}

/// `mappings`/`maps { … }` (nats-server `parseAccountMappings`).
pub(super) fn parse_mappings(r: &mut Reader, e: &Entry) -> Vec<MappingOpt> {
    let Value::Map(m) = &e.value.value else {
        let t = e.value.value.go_type();
        err(
            r,
            &e.key_span,
            format!("Expected a map of mappings, got {t}"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in &m.entries {
        let src = k.key.as_str();
        let at = &k.key_span;
        if validate_filter(src.as_bytes()).is_err() {
            err(r, at, format!("Subject \"{src}\" is not a valid subject"));
            continue;
        }
        let (dests, plain) = match &k.value.value {
            Value::String(d) => (
                vec![MapDest {
                    dest: d.clone(),
                    weight: 100,
                    cluster: None,
                }],
                Some(d.clone()),
            ),
            Value::Array(items) => {
                let mut ds = Vec::new();
                for it in items {
                    if let Some(d) = map_dest(r, &it.value, &it.span) {
                        ds.push(d);
                    }
                }
                (ds, None)
            }
            v @ Value::Map(_) => match map_dest(r, v, at) {
                Some(d) => (vec![d], None),
                None => continue,
            },
            v => {
                let t = v.go_type();
                err(r, at, format!("Unknown type {t} for mapping destination"));
                continue;
            }
        };
        let opt = MappingOpt {
            source: src.to_string(),
            dests,
        };
        if let Err(e) = opt.build() {
            let msg = match plain {
                Some(d) => format!("Error adding mapping for \"{src}\" to \"{d}\" : {e}"),
                None => format!("Error adding mapping for \"{src}\" : {e}"),
            };
            err(r, at, msg);
            continue;
        }
        out.push(opt);
    }
    out
}

/// One weighted destination map (nats-server `parseAccountMapDest`).
fn map_dest(r: &mut Reader, v: &Value, span: &Span) -> Option<MapDest> {
    let Value::Map(m) = v else {
        err(r, span, "Expected an entry for the mapping destination");
        return None;
    };
    let mut d = MapDest {
        dest: String::new(),
        weight: 0,
        cluster: None,
    };
    let mut seen_weight = false;
    let mut last = span.clone();
    for k in &m.entries {
        let at = &k.key_span;
        last = at.clone();
        match k.key.to_ascii_lowercase().as_str() {
            "dest" | "destination" => d.dest = r.ok(str_of(k))?,
            "weight" => {
                let w = match &k.value.value {
                    Value::String(s) => {
                        let ws = s.strip_suffix('%').unwrap_or(s);
                        match ws.parse::<i64>() {
                            Ok(w) => w,
                            Err(_) => {
                                err(
                                    r,
                                    at,
                                    format!("Invalid weight \"{ws}\" for mapping destination"),
                                );
                                return None;
                            }
                        }
                    }
                    Value::Integer(w) => *w,
                    v => {
                        err(
                            r,
                            at,
                            format!("Unknown entry type for weight of {}\n", value_text(v)),
                        );
                        return None;
                    }
                };
                if !(0..=100).contains(&w) {
                    err(r, at, format!("Invalid weight {w} for mapping destination"));
                    return None;
                }
                d.weight = w as u8;
                seen_weight = true;
            }
            "cluster" => d.cluster = r.ok(str_of(k)),
            _ => {
                let key = &k.key;
                err(
                    r,
                    at,
                    format!("Unknown field \"{key}\" for mapping destination"),
                );
                return None;
            }
        }
    }
    if !seen_weight {
        let dest = &d.dest;
        err(
            r,
            &last,
            format!("Missing weight for mapping destination \"{dest}\""),
        );
        return None;
    }
    Some(d)
}

/// nats-server `isSubsetMatch`: every subject `sub` matches is matched by
/// `filter` too.
pub fn subset_match(sub: &str, filter: &str) -> bool {
    let toks: Vec<&str> = sub.split('.').collect();
    let ftoks: Vec<&str> = filter.split('.').collect();
    for (i, f) in ftoks.iter().enumerate() {
        let Some(t) = toks.get(i) else { return false };
        if f.is_empty() || t.is_empty() {
            return false;
        }
        if *f == ">" {
            return true;
        }
        if *t == ">" {
            return false;
        }
        if *t == "*" {
            if *f != "*" {
                return false;
            }
            continue;
        }
        if *f != "*" && f != t {
            return false;
        }
    }
    toks.len() == ftoks.len()
}

/// Whether `importer` may import `subject` from `exports` (nats-server
/// `checkStreamExportApproved`/`checkServiceExportApproved`, `checkAuth`).
pub fn export_approved(exports: &[Export], importer: &str, subject: &str) -> bool {
    if validate_filter(subject.as_bytes()).is_err() {
        return false;
    }
    let ex = exports
        .iter()
        .find(|e| e.subject == subject)
        .or_else(|| exports.iter().find(|e| subset_match(subject, &e.subject)));
    let Some(ex) = ex else { return false };
    if ex.token_position > 0 {
        let toks: Vec<&str> = subject.split('.').collect();
        let p = ex.token_position as usize;
        return p <= toks.len() && toks[p - 1] == importer;
    }
    match &ex.accounts {
        None => true,
        Some(l) if l.is_empty() => true,
        Some(l) => l.iter().any(|a| a == importer),
    }
}

impl Options {
    /// `mappings`/`maps` at the top level: the global account's.
    pub(super) fn apply_mappings_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        if key != "mappings" && key != "maps" {
            return false;
        }
        self.mappings = parse_mappings(r, e);
        true
    }

    /// The cross-account checks of nats-server `parseAccounts` once every
    /// account is parsed (run only when nothing else failed, as there):
    /// exports to undefined accounts, imports from undefined accounts,
    /// unauthorized imports, bad prefixes and `to` transforms. Errors point
    /// at the `accounts` key.
    pub(super) fn check_links(&self, r: &mut Reader) {
        let Some(at) = self.accounts_span.clone() else {
            return;
        };
        let defined = |n: &str| self.accounts.iter().any(|a| a.name == n);
        let mut errs = Vec::new();
        for (kind, pick) in [
            (
                "stream",
                (|l: &AccountLinks| &l.stream_exports) as fn(&AccountLinks) -> &Vec<Export>,
            ),
            ("service", |l: &AccountLinks| &l.service_exports),
        ] {
            for a in &self.accounts {
                for ex in pick(&a.links) {
                    for n in ex.accounts.iter().flatten() {
                        if !defined(n) {
                            errs.push(format!("\"{n}\" account not defined for {kind} export"));
                        }
                    }
                    if ex.latency.is_some() {
                        // nats-server's text with `no_system_account`;
                        // otherwise natsws does not track latency yet.
                        let why = if self.no_system_account {
                            "system account not setup"
                        } else {
                            "service latency tracking is not supported by natsws yet"
                        };
                        errs.push(format!(
                            "Error adding service latency sampling for \"{}\": {why}",
                            ex.subject
                        ));
                    }
                }
            }
        }
        for a in &self.accounts {
            for (i, si) in a.links.stream_imports.iter().enumerate() {
                let Some(exp) = self.accounts.iter().find(|x| x.name == si.account) else {
                    errs.push(format!(
                        "\"{}\" account not defined for stream import",
                        si.account
                    ));
                    continue;
                };
                let fail = |e: &str| format!("Error adding stream import \"{}\": {e}", si.subject);
                let dup = a.links.stream_imports[..i]
                    .iter()
                    .any(|d| d.account == si.account && d.subject == si.subject);
                if !export_approved(&exp.links.stream_exports, &a.name, &si.subject) {
                    errs.push(fail("stream import not authorized"));
                } else if dup {
                    errs.push(fail("stream import already exists"));
                } else if si
                    .prefix
                    .as_deref()
                    .is_some_and(|p| p.split('.').any(|t| t == "*" || t == ">"))
                {
                    errs.push(fail("stream import prefix can not contain wildcard tokens"));
                } else if let Some(to) = &si.to {
                    if si.subject.split('.').any(|t| t == "*" || t == ">") && *to != si.subject {
                        if let Err(e) = Transform::new_strict(&si.subject, &tokenize(to)) {
                            errs.push(fail(&format!(
                                "failed to create mapping transform for stream import subject from \"{}\" to \"{to}\": {e}",
                                si.subject
                            )));
                        }
                    }
                }
            }
        }
        // Service imports added so far: (importer, exporter, local, remote).
        let mut added: Vec<(&str, &str, &str, &str)> = Vec::new();
        for a in &self.accounts {
            for si in &a.links.service_imports {
                let Some(exp) = self.accounts.iter().find(|x| x.name == si.account) else {
                    errs.push(format!(
                        "\"{}\" account not defined for service import",
                        si.account
                    ));
                    continue;
                };
                let fail = |e: &str| format!("Error adding service import \"{}\": {e}", si.subject);
                let valid = validate_filter(si.to.as_bytes()).is_ok();
                if !valid || !export_approved(&exp.links.service_exports, &a.name, &si.subject) {
                    errs.push(fail(if valid {
                        "service import not authorized"
                    } else {
                        "invalid subject"
                    }));
                } else if si.to != si.subject && si.to.split('.').any(|t| t == "*" || t == ">") {
                    if let Err(e) = Transform::new_strict(&si.to, &tokenize(&si.subject)) {
                        errs.push(fail(&format!(
                            "failed to create mapping transform for service import subject from \"{}\" to \"{}\": {e}",
                            si.to, si.subject
                        )));
                    }
                } else if let Err(e) =
                    service_cycle(&added, &si.account, &si.to, &mut vec![&a.name])
                {
                    errs.push(fail(e));
                } else {
                    added.push((&a.name, &si.account, &si.to, &si.subject));
                }
            }
        }
        for e in errs {
            err(r, &at, e);
        }
    }
}

/// nats-server `checkServiceImportsForCycles`: whether following the
/// service imports of `dest` that `from` may reach leads back to an
/// account in `visited`; `added` holds (importer, exporter, local subject,
/// exported subject) of the imports accepted so far.
fn service_cycle<'a>(
    added: &[(&'a str, &'a str, &'a str, &'a str)],
    dest: &'a str,
    from: &'a str,
    visited: &mut Vec<&'a str>,
) -> Result<(), &'static str> {
    if visited.len() >= 1024 {
        return Err("search cycle depth exhausted");
    }
    for &(imp, exp, local, remote) in added {
        if imp != dest || !collide(from, remote) {
            continue;
        }
        if visited.contains(&exp) {
            return Err("import forms a cycle");
        }
        visited.push(dest);
        let f = if subset_match(local, from) {
            local
        } else {
            from
        };
        service_cycle(added, exp, f, visited)?;
    }
    Ok(())
}

/// nats-server `SubjectsCollide`: whether two filters can match one
/// subject.
fn collide(a: &str, b: &str) -> bool {
    let (ta, tb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..ta.len().max(tb.len()) {
        match (ta.get(i), tb.get(i)) {
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (Some(x), Some(y)) if *x == "*" || *y == "*" || x == y => continue,
            _ => return false,
        }
    }
    true
}

/// nats-server `transformTokenize`: each `*` of `subject` becomes `$n`.
pub fn tokenize(subject: &str) -> String {
    let mut n = 0;
    subject
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions() {
        assert!(collide("a.*", "a.b"));
        assert!(collide("a.>", "a.b.c"));
        assert!(collide("*.b", "a.*"));
        assert!(!collide("a.b", "a.c"));
        assert!(!collide("a.*", "a.b.c"));
        assert!(!collide("a.>", "a"));
    }

    #[test]
    fn subset() {
        assert!(subset_match("a.b", "a.*"));
        assert!(subset_match("a.b.c", "a.>"));
        assert!(subset_match("a.*", "a.*"));
        assert!(!subset_match("a.*", "a.b"));
        assert!(!subset_match("a.>", "a.*"));
        assert!(!subset_match("a", "a.>"));
        assert!(subset_match("a.>", "a.>"));
    }
}
