//! The natsws `metrics { … }` block (operations.md §4.5): how `/metrics`
//! names its series, as prometheus-nats-exporter's flags do.

use super::read::{bool_of, str_of, Reader};
use crate::config::{Diagnostic, Map};

/// `metrics { prefix: "nats", use_internal_server_name: true }` (natsws
/// keys; nats-server has no `/metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// `prefix`: the namespace that replaces `gnatsd` in the names
    /// (`nats_varz_in_msgs`), as the exporter's `-prefix` (the official
    /// Helm chart runs it with `-prefix=nats`). `None`: `gnatsd`. A valid
    /// Prometheus name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub prefix: Option<String>,
    /// `use_internal_server_name`: the `server_id` label holds the server
    /// name instead of the server id (the exporter's flag of that name).
    /// Default false.
    pub use_internal_server_name: bool,
}

/// Whether `s` is a valid Prometheus metric name.
fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Convert a `metrics` map.
pub(super) fn parse_metrics(r: &mut Reader, m: &Map) -> MetricsOptions {
    let mut o = MetricsOptions::default();
    for e in &m.entries {
        match e.key.to_ascii_lowercase().as_str() {
            "prefix" => {
                if let Some(p) = r.ok(str_of(e)) {
                    if is_metric_name(&p) {
                        o.prefix = Some(p);
                    } else {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!("metrics prefix {p:?} is not a valid Prometheus metric name"),
                        ));
                    }
                }
            }
            "use_internal_server_name" => r.set(&mut o.use_internal_server_name, bool_of(e)),
            _ => r.unknown(e),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    #[test]
    fn metrics_block() {
        let o = Options::from_config_str(
            "metrics { prefix: nats, use_internal_server_name: true }",
            "t",
        )
        .unwrap();
        assert_eq!(o.metrics.prefix.as_deref(), Some("nats"));
        assert!(o.metrics.use_internal_server_name);
        assert_eq!(Options::default().metrics, MetricsOptions::default());
        let e = Options::from_config_str("metrics { prefix: \"a-b\" }", "t").unwrap_err();
        assert_eq!(
            e.errors[0].message,
            "metrics prefix \"a-b\" is not a valid Prometheus metric name"
        );
        let e = Options::from_config_str("metrics { connz_detailed: true }", "t").unwrap_err();
        assert!(e.errors[0].message.contains("connz_detailed"), "{e:?}");
    }

    #[test]
    fn metric_names() {
        for ok in ["nats", "gnatsd", "_x", "a:b", "n4ts"] {
            assert!(is_metric_name(ok), "{ok}");
        }
        for bad in ["", "4nats", "na-ts", "na ts", "é"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
    }
}
