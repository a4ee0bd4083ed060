//! `/metrics` (natsws extension; nats-server has none, spec
//! `operations.md` §4): the Prometheus text exposition format 0.0.4 with
//! the names and labels prometheus-nats-exporter gives for `-varz -connz
//! -subz -routez -leafz -healthz`, so dashboards built on the exporter
//! work without it, plus natsws's own counters under `natsws_`.
//!
//! Every value comes from the objects `/varz`, `/connz`, `/subsz`,
//! `/routez`, `/leafz` and `/healthz` answer (their functions are called
//! here), so the JSON and the metrics never disagree. The label
//! `server_id` on every series is the server's id (the exporter's
//! `-use_internal_server_id`), or its name with `metrics {
//! use_internal_server_name: true }`; the namespace is the exporter's
//! default `gnatsd`, or `metrics { prefix }` (Helm dashboards: `nats`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value};

use super::{connz, healthz, leafz, subsz, varz, Params, Response};
use crate::kind::ConnKind;
use crate::shared::Shared;

/// The exporter's default namespace (its `CoreSystem`, kept by the
/// exporter for old dashboards; `metrics { prefix }` replaces it, as the
/// exporter's `-prefix` does).
const NAMESPACE: &str = "gnatsd";

/// The `Content-Type` of the 0.0.4 text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// String keys the exporter's generic collector keeps (all other strings
/// are skipped): an RFC 3339 time becomes epoch milliseconds, any other
/// string a label gauge `{value="<string>"} 1`.
const STRING_KEYS: [&str; 8] = [
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
    "start",
    "config_load_time",
];

/// Flattened keys the exporter's generic collector never exports.
const SKIPPED: [&str; 9] = [
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// A metric family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Gauge,
    Counter,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
        }
    }
}

/// One metric family: its HELP text, TYPE and samples, each sample being
/// its labels after `server_id` (name, value) and its value as written.
struct Family {
    help: String,
    kind: Type,
    samples: Vec<(Vec<(&'static str, String)>, String)>,
}

/// The families of one scrape, by name (so the output is sorted and each
/// name appears once), every sample labelled `server_id`; `ns` is the
/// namespace of the exporter's names.
struct Exposition {
    ns: String,
    server_id: String,
    families: BTreeMap<String, Family>,
}

impl Exposition {
    /// Adds a sample of family `name`; the first sample of a family fixes
    /// its HELP and TYPE.
    fn add(
        &mut self,
        name: String,
        help: &str,
        kind: Type,
        labels: Vec<(&'static str, String)>,
        value: String,
    ) {
        let family = self.families.entry(name).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            samples: Vec::new(),
        });
        family.samples.push((labels, value));
    }

    /// The exporter's generic collector over the object `/<endpoint>`
    /// answers: a gauge `gnatsd_<endpoint>_<key>` per numeric leaf, nested
    /// objects flattened with `_`, HELP the flattened key.
    fn generic(&mut self, endpoint: &str, v: &Value) {
        if let Value::Object(m) = v {
            self.flatten(endpoint, "", m);
        }
    }

    fn flatten(&mut self, endpoint: &str, prefix: &str, m: &Map<String, Value>) {
        for (k, v) in m {
            let key = metric_key(prefix, k);
            if key.is_empty() || SKIPPED.contains(&key.as_str()) {
                continue;
            }
            match v {
                Value::Object(inner) => self.flatten(endpoint, &key, inner),
                Value::Number(n) => {
                    let name = format!("{}_{endpoint}_{key}", self.ns);
                    self.add(name, &key, Type::Gauge, Vec::new(), number(n));
                }
                Value::String(s) if STRING_KEYS.contains(&key.as_str()) => {
                    self.string_leaf(endpoint, &key, s);
                }
                _ => {}
            }
        }
    }

    /// A kept string: epoch milliseconds when it is an RFC 3339 time, else
    /// a label gauge with `value="<string>"` and value 1.
    fn string_leaf(&mut self, endpoint: &str, key: &str, s: &str) {
        let name = format!("{}_{endpoint}_{key}", self.ns);
        match s.parse::<jiff::Timestamp>() {
            Ok(t) => {
                let ms = t.as_millisecond().to_string();
                self.add(name, key, Type::Gauge, Vec::new(), ms);
            }
            Err(_) => {
                let labels = vec![("value", s.to_string())];
                self.add(name, key, Type::Gauge, labels, "1".into());
            }
        }
    }

    /// The exporter's connz collector over a `/connz` object: gauges
    /// `num_connections`, `total`, `offset`, `limit`, and sums over the
    /// listed connections (the first `limit`) of `pending_bytes` and
    /// `subscriptions` (gauges) and `in_bytes`, `out_bytes`, `in_msgs`,
    /// `out_msgs` (counters).
    fn connz(&mut self, v: &Value) {
        for key in ["num_connections", "total", "offset", "limit"] {
            let n = v[key].as_u64().unwrap_or(0);
            self.add(
                format!("{}_connz_{key}", self.ns),
                key,
                Type::Gauge,
                Vec::new(),
                n.to_string(),
            );
        }
        let conns = v["connections"].as_array().map_or(&[][..], Vec::as_slice);
        for (key, kind) in [
            ("pending_bytes", Type::Gauge),
            ("subscriptions", Type::Gauge),
            ("in_bytes", Type::Counter),
            ("out_bytes", Type::Counter),
            ("in_msgs", Type::Counter),
            ("out_msgs", Type::Counter),
        ] {
            let sum: u64 = conns.iter().filter_map(|c| c[key].as_u64()).sum();
            self.add(
                format!("{}_connz_{key}", self.ns),
                key,
                kind,
                Vec::new(),
                sum.to_string(),
            );
        }
    }

    /// The exporter's healthz collector over a `/healthz` body:
    /// `gnatsd_healthz_status` 0 when `ok`, 1 otherwise (inverted), and
    /// the label gauge `gnatsd_healthz_status_value{value="ok"|<error>}` 1.
    fn healthz(&mut self, body: &[u8]) {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let ok = v["status"] == "ok";
        let text = match (ok, v["error"].as_str()) {
            (true, _) => "ok".to_string(),
            (false, Some(e)) => e.to_string(),
            (false, None) => v["status"].as_str().unwrap_or("error").to_string(),
        };
        let name = format!("{}_healthz_status", self.ns);
        let status = if ok { "0" } else { "1" };
        self.add(name, "status", Type::Gauge, Vec::new(), status.into());
        let name = format!("{}_healthz_status_value", self.ns);
        let labels = vec![("value", text)];
        self.add(name, "status_value", Type::Gauge, labels, "1".into());
    }

    /// The exporter's leafz collector's summary over a `/leafz` object:
    /// `gnatsd_leafz_conn_nodes_total` (natsws has no leafnodes yet, so
    /// there are no per-leaf series).
    fn leafz(&mut self, v: &Value) {
        let n = v["leafnodes"].as_u64().unwrap_or(0);
        let name = format!("{}_leafz_conn_nodes_total", self.ns);
        self.add(
            name,
            "conn_nodes_total",
            Type::Gauge,
            Vec::new(),
            n.to_string(),
        );
    }

    /// natsws's own series (spec §4.5 "beyond"), under `natsws_` so they
    /// never collide with a dashboard's names:
    /// * `natsws_connections{type="nats"|"websocket"}` (gauge): open
    ///   connections by `/connz` `type`;
    /// * `natsws_slow_consumers_total` (counter): connections closed as
    ///   slow consumers since start;
    /// * `natsws_pre_auth_rejected_total` (counter): sockets closed at
    ///   accept by the `max_pending_handshakes` cap since start.
    /// * `natsws_ws_pings_total` (counter): WebSocket keepalive ping
    ///   frames sent;
    /// * `natsws_ws_handshake_failures_total` (counter): WebSocket upgrades
    ///   refused or timed out;
    /// * `natsws_config_reloads_total{result="ok"|"error"}` (counter):
    ///   configuration reloads that took effect, and those refused or
    ///   failed (operations spec §1.8).
    /// * `natsws_closed_connections_total{reason}` (counter): connections
    ///   closed, by the `/connz` closed reason (every reason, from 0).
    fn natsws(&mut self, shared: &Shared) {
        let mut open = [0u64; ConnKind::ALL.len()];
        if let Ok(conns) = shared.conns.lock() {
            for c in conns.values() {
                open[c.kind.index()] += 1;
            }
        }
        for kind in ConnKind::ALL {
            let labels = vec![("type", kind.connz_type().to_string())];
            let n = open[kind.index()].to_string();
            let help = "open connections by type";
            self.add("natsws_connections".into(), help, Type::Gauge, labels, n);
        }
        let st = &shared.stats;
        for (name, help, n) in [
            (
                "natsws_slow_consumers_total",
                "connections closed as slow consumers",
                &st.slow_consumers,
            ),
            (
                "natsws_pre_auth_rejected_total",
                "sockets closed at accept by max_pending_handshakes",
                &st.pre_auth_rejected,
            ),
            (
                "natsws_ws_pings_total",
                "WebSocket keepalive ping frames sent",
                &st.ws_pings,
            ),
            (
                "natsws_ws_handshake_failures_total",
                "WebSocket upgrades that failed (refused, timed out, rate limited)",
                &st.ws_handshake_failures,
            ),
        ] {
            let n = n.load(Ordering::Relaxed).to_string();
            self.add(name.into(), help, Type::Counter, Vec::new(), n);
        }
        for (result, n) in [("ok", &shared.reload.ok), ("error", &shared.reload.failed)] {
            let labels = vec![("result", result.to_string())];
            let n = n.load(Ordering::Relaxed).to_string();
            let help = "configuration reloads, by result (error: refused or failed)";
            let name = "natsws_config_reloads_total".into();
            self.add(name, help, Type::Counter, labels, n);
        }
        for reason in natsws_core::session::ClosedReason::ALL {
            let labels = vec![("reason", reason.as_str().to_string())];
            let n = st.closed[reason.index()]
                .load(Ordering::Relaxed)
                .to_string();
            let help = "connections closed, by reason (the /connz closed reasons)";
            self.add(
                "natsws_closed_connections_total".into(),
                help,
                Type::Counter,
                labels,
                n,
            );
        }
    }

    /// The text: per family `# HELP`, `# TYPE`, then its samples.
    fn render(&self) -> String {
        let mut out = String::new();
        let id = escape_label(&self.server_id);
        for (name, f) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {name} {}", f.kind.as_str());
            for (labels, value) in &f.samples {
                let _ = write!(out, "{name}{{server_id=\"{id}\"");
                for (k, v) in labels {
                    let _ = write!(out, ",{k}=\"{}\"", escape_label(v));
                }
                let _ = writeln!(out, "}} {value}");
            }
        }
        out
    }
}

/// The exporter's flattened key: `<prefix>_<key>` with `/` as `_`,
/// leading and trailing `_` trimmed and `__` collapsed. Any other
/// character a metric name cannot hold also becomes `_` (the exporter
/// would emit an invalid name; none occurs in natsws's objects).
fn metric_key(prefix: &str, key: &str) -> String {
    let raw = format!("{prefix}_{key}");
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        let ch = if ch.is_ascii_alphanumeric() { ch } else { '_' };
        if !(ch == '_' && (out.is_empty() || out.ends_with('_'))) {
            out.push(ch);
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A JSON number as a sample value: integers exactly, floats as Go
/// prints them for Prometheus (`NaN`, `+Inf`, `-Inf` never occur in JSON).
fn number(n: &serde_json::Number) -> String {
    if let Some(u) = n.as_u64() {
        u.to_string()
    } else if let Some(i) = n.as_i64() {
        i.to_string()
    } else {
        n.as_f64().unwrap_or(0.0).to_string()
    }
}

/// A HELP text: `\` as `\\`, newline as `\n`.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label value: `\` as `\\`, `"` as `\"`, newline as `\n`.
fn escape_label(s: &str) -> String {
    escape_help(s).replace('"', "\\\"")
}

/// The `/metrics` answer: every family of one scrape, text format 0.0.4.
pub(super) fn metrics(shared: &Shared) -> Response {
    let none = Params::new();
    let settings = shared.settings();
    let m = &settings.metrics;
    let mut exp = Exposition {
        ns: m.prefix.clone().unwrap_or_else(|| NAMESPACE.to_string()),
        server_id: if m.use_internal_server_name {
            shared.server_name.clone()
        } else {
            shared.server_id.clone()
        },
        families: BTreeMap::new(),
    };
    exp.generic("varz", &varz::varz(shared));
    if let Ok(v) = connz::connz(shared, &none) {
        exp.connz(&v);
    }
    if let Ok(v) = subsz::subsz(shared, &none) {
        exp.generic("subsz", &v);
    }
    exp.generic("routez", &leafz::routez(shared));
    exp.leafz(&leafz::leafz(shared, None, false));
    exp.healthz(&healthz::healthz(shared).body);
    exp.natsws(shared);
    Response {
        status: 200,
        ctype: CONTENT_TYPE,
        body: exp.render().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exposition() -> Exposition {
        Exposition {
            ns: NAMESPACE.into(),
            server_id: "N\"1".into(),
            families: BTreeMap::new(),
        }
    }

    #[test]
    fn keys_flatten_as_the_exporter_does() {
        assert_eq!(metric_key("", "in_msgs"), "in_msgs");
        assert_eq!(
            metric_key("slow_consumer_stats", "clients"),
            "slow_consumer_stats_clients"
        );
        assert_eq!(metric_key("http_req_stats", "/varz"), "http_req_stats_varz");
        assert_eq!(metric_key("", "/"), "");
        assert_eq!(metric_key("a", "_b__c_"), "a_b_c");
    }

    #[test]
    fn generic_collector_keeps_numbers_and_listed_strings() {
        let mut e = exposition();
        e.generic(
            "varz",
            &json!({
                "in_msgs": 3, "cpu": 1.5, "version": "2.1",
                "start": "1970-01-01T00:00:01.5Z", "host": "0.0.0.0",
                "tls_required": true, "urls": [1], "leaf": {"port": 1},
                "slow_consumer_stats": {"clients": 2}
            }),
        );
        let names: Vec<&str> = e.families.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "gnatsd_varz_cpu",
                "gnatsd_varz_in_msgs",
                "gnatsd_varz_slow_consumer_stats_clients",
                "gnatsd_varz_start",
                "gnatsd_varz_version",
            ]
        );
        let text = e.render();
        assert!(
            text.contains("gnatsd_varz_start{server_id=\"N\\\"1\"} 1500\n"),
            "{text}"
        );
        assert!(
            text.contains("gnatsd_varz_cpu{server_id=\"N\\\"1\"} 1.5\n"),
            "{text}"
        );
        assert!(
            text.contains("gnatsd_varz_version{server_id=\"N\\\"1\",value=\"2.1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP gnatsd_varz_in_msgs in_msgs\n# TYPE gnatsd_varz_in_msgs gauge\n")
        );
    }

    #[test]
    fn connz_sums_are_counters() {
        let mut e = exposition();
        e.connz(&json!({
            "num_connections": 2, "total": 2, "offset": 0, "limit": 1024,
            "connections": [{"in_msgs": 3, "pending_bytes": 1}, {"in_msgs": 4}]
        }));
        let text = e.render();
        assert!(
            text.contains("# TYPE gnatsd_connz_in_msgs counter\n"),
            "{text}"
        );
        assert!(
            text.contains("gnatsd_connz_in_msgs{server_id=\"N\\\"1\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE gnatsd_connz_pending_bytes gauge\n"),
            "{text}"
        );
    }

    #[test]
    fn healthz_status_is_inverted() {
        let mut e = exposition();
        e.healthz(br#"{"status":"error","error":"down"}"#);
        let text = e.render();
        assert!(
            text.contains("gnatsd_healthz_status{server_id=\"N\\\"1\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(",value=\"down\"} 1\n"), "{text}");
    }
}
