//! The imports, exports and mappings part of `/accountz?acc=<name>`'s
//! `account_detail` (nats-server `accountInfo`: `ExtExport`, `ExtImport`,
//! `ExtMap`), built from the configured links (`Settings::account_links`,
//! the top-level `mappings` for `$G`) and the automatic `$SYS` imports
//! (operations spec §2.6).

use serde_json::{json, Map, Value};

use crate::options::{AccountLinks, Export, MappingOpt, ResponseType};
use crate::settings::Settings;

/// The automatic service imports of a non-system account: (exporter's
/// subject with `<acc>` for the account, local subject, share).
const SYS_IMPORTS: &[(&str, &str, bool)] = &[
    (
        "$SYS.REQ.ACCOUNT.<acc>.CONNZ",
        "$SYS.REQ.ACCOUNT.PING.CONNZ",
        false,
    ),
    (
        "$SYS.REQ.ACCOUNT.<acc>.CONNZ",
        "$SYS.REQ.SERVER.PING.CONNZ",
        false,
    ),
    (
        "$SYS.REQ.ACCOUNT.<acc>.STATZ",
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        false,
    ),
    ("$SYS.REQ.USER.<acc>.INFO", "$SYS.REQ.USER.INFO", true),
];

/// The system account's service exports behind [`SYS_IMPORTS`] (subject,
/// response type). nats-server also exports `$SYS.DEBUG.SUBSCRIBERS`,
/// which natsws does not answer.
const SYS_EXPORTS: &[(&str, &str)] = &[
    ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"),
    ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
    ("$SYS.REQ.USER.*.INFO", "Singleton"),
];

/// nats-server's `ServiceRespType.String()`.
fn response_type(t: ResponseType) -> &'static str {
    match t {
        ResponseType::Singleton => "Singleton",
        ResponseType::Stream => "Streamed",
        ResponseType::Chunked => "Chunked",
    }
}

/// One `ExtExport`: `subject`, `type`, services' `response_type`, and
/// `approved_accounts` for a restricted export.
fn export(e: &Export, service: bool) -> Value {
    let mut m = Map::new();
    m.insert("subject".into(), json!(e.subject));
    m.insert(
        "type".into(),
        json!(if service { "service" } else { "stream" }),
    );
    if service {
        m.insert(
            "response_type".into(),
            json!(response_type(e.response_type)),
        );
    }
    if let Some(accs) = e.accounts.as_ref().filter(|a| !a.is_empty()) {
        m.insert("approved_accounts".into(), json!(accs));
    }
    Value::Object(m)
}

/// One service `ExtImport` (`to` and `local_subject` both the local
/// subject, as nats-server duplicates them).
fn service_import(subject: &str, account: &str, local: &str, share: bool) -> Value {
    json!({
        "subject": subject,
        "account": account,
        "to": local,
        "local_subject": local,
        "type": "service",
        "invalid": false,
        "share": share,
        "tracking": false,
    })
}

/// Adds `exports`, `imports` and `mappings` of account `name` to `detail`
/// (each omitted when empty, as nats-server's `omitempty`).
pub(crate) fn add(detail: &mut Value, settings: &Settings, name: &str) {
    let links = settings
        .account_links
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, l)| l);
    let empty = AccountLinks::default();
    let links = links.unwrap_or(&empty);
    let mut exports: Vec<Value> = links
        .service_exports
        .iter()
        .map(|e| export(e, true))
        .collect();
    exports.extend(links.stream_exports.iter().map(|e| export(e, false)));
    let mut imports: Vec<Value> = links
        .stream_imports
        .iter()
        .map(|i| {
            let local = match (&i.to, &i.prefix) {
                (Some(to), _) => to.clone(),
                (None, Some(p)) => format!("{p}.{}", i.subject),
                (None, None) => i.subject.clone(),
            };
            json!({
                "subject": i.subject,
                "account": i.account,
                "local_subject": local,
                "type": "stream",
                "invalid": false,
                "share": false,
                "tracking": false,
            })
        })
        .collect();
    match settings.system_account.as_deref() {
        Some(sys) if sys == name => {
            // The system account's exports behind the automatic imports,
            // and its own USER.INFO import.
            for (subject, rt) in SYS_EXPORTS {
                exports.push(json!({"subject": subject, "type": "service", "response_type": rt}));
            }
            let (subject, local, share) = SYS_IMPORTS[3];
            let subject = subject.replace("<acc>", name);
            imports.push(service_import(&subject, sys, local, share));
        }
        Some(sys) => {
            for (subject, local, share) in SYS_IMPORTS {
                let subject = subject.replace("<acc>", name);
                imports.push(service_import(&subject, sys, local, *share));
            }
        }
        None => {}
    }
    imports.extend(
        links
            .service_imports
            .iter()
            .map(|i| service_import(&i.subject, &i.account, &i.to, i.share)),
    );
    let mappings = if name == natsws_core::auth::GLOBAL_ACCOUNT {
        &settings.mappings
    } else {
        &links.mappings
    };
    let Value::Object(d) = detail else { return };
    if !mappings.is_empty() {
        d.insert("mappings".into(), mappings_json(mappings));
    }
    if !exports.is_empty() {
        d.insert("exports".into(), Value::Array(exports));
    }
    if !imports.is_empty() {
        d.insert("imports".into(), Value::Array(imports));
    }
}

/// `ExtMap`: source → `[{"subject","weight","cluster"?}]` as nats-server
/// holds them (`AddWeightedMappings`): per cluster (the unscoped ones
/// first), a destination back to the source itself takes the weight left
/// below 100 unless the source is listed, the destinations are sorted by
/// weight (stable) and each weight is the running total.
fn mappings_json(list: &[MappingOpt]) -> Value {
    let mut m = Map::new();
    for opt in list {
        let mut clusters: Vec<Option<&str>> = Vec::new();
        for d in &opt.dests {
            let c = d.cluster.as_deref().filter(|c| !c.is_empty());
            if !clusters.contains(&c) {
                clusters.push(c);
            }
        }
        if !clusters.contains(&None) {
            clusters.insert(0, None);
        }
        let mut out = Vec::new();
        for c in clusters {
            let mut dests: Vec<(&str, u32)> = opt
                .dests
                .iter()
                .filter(|d| d.cluster.as_deref().filter(|c| !c.is_empty()) == c)
                .map(|d| (d.dest.as_str(), u32::from(d.weight)))
                .collect();
            let total: u32 = dests.iter().map(|d| d.1).sum();
            let has_src = opt.dests.iter().any(|d| d.dest == opt.source);
            if total != 100 && !has_src {
                let left = if dests.is_empty() {
                    100
                } else {
                    100 - total.min(100)
                };
                dests.push((opt.source.as_str(), left));
            }
            dests.sort_by_key(|d| d.1);
            let mut running = 0;
            for (dest, w) in dests {
                running += w;
                let mut o = Map::new();
                o.insert("subject".into(), json!(dest));
                o.insert("weight".into(), json!(running));
                if let Some(c) = c {
                    o.insert("cluster".into(), json!(c));
                }
                out.push(Value::Object(o));
            }
        }
        m.insert(opt.source.clone(), Value::Array(out));
    }
    Value::Object(m)
}
