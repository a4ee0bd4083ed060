//! The `$SYS` request options ([`natsws_core::sysreq`]) as the
//! monitoring endpoints' query parameters.

use natsws_core::sysreq::Body;

use crate::monitor::Params;

/// `ConnzOptions` as `/connz` query parameters.
pub(crate) fn connz_params(b: &Body) -> Params {
    let mut p = Params::new();
    for key in ["sort", "user", "acc", "filter_subject", "mqtt_client"] {
        if let Some(v) = b.str(key) {
            p.insert(key.into(), v.into());
        }
    }
    for key in ["offset", "limit", "cid"] {
        if let Some(n) = b.int(key) {
            p.insert(key.into(), n.to_string());
        }
    }
    if b.flag("auth") {
        p.insert("auth".into(), "true".into());
    }
    if b.flag("subscriptions") || b.flag("subscriptions_detail") {
        p.insert("subs".into(), "true".into());
    }
    // ConnState: 0 open, 1 closed, 2 any.
    let state = match b.int("state") {
        Some(1) => "closed",
        Some(2) => "any",
        _ => "open",
    };
    p.insert("state".into(), state.into());
    p
}

/// `SubszOptions` as `/subsz` query parameters.
pub(crate) fn subsz_params(b: &Body) -> Params {
    let mut p = Params::new();
    for key in ["offset", "limit"] {
        if let Some(n) = b.int(key) {
            p.insert(key.into(), n.to_string());
        }
    }
    if b.flag("subscriptions") {
        p.insert("subs".into(), "true".into());
    }
    if let Some(t) = b.str("test") {
        p.insert("test".into(), t.into());
    }
    if let Some(a) = b.str("account") {
        p.insert("acc".into(), a.into());
    }
    p
}

/// `AccountzOptions` as `/accountz` query parameters.
pub(crate) fn accountz_params(b: &Body) -> Params {
    let mut p = Params::new();
    if let Some(a) = b.str("account") {
        p.insert("acc".into(), a.into());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use natsws_core::sysreq::{parse, Opts};

    #[test]
    fn connz_options_become_query_parameters() {
        let b = parse(
            br#"{"state":1,"auth":true,"limit":5,"acc":"APP","subscriptions":true}"#,
            Opts::Connz,
        )
        .unwrap();
        let p = connz_params(&b);
        assert_eq!(p["state"], "closed");
        assert_eq!(p["auth"], "true");
        assert_eq!(p["limit"], "5");
        assert_eq!(p["acc"], "APP");
        assert_eq!(p["subs"], "true");
        let b = parse(
            br#"{"subscriptions":true,"account":"A","test":"x"}"#,
            Opts::Subsz,
        )
        .unwrap();
        let p = subsz_params(&b);
        assert_eq!(
            (p["subs"].as_str(), p["acc"].as_str(), p["test"].as_str()),
            ("true", "A", "x")
        );
        assert!(!connz_params(&Body::default()).contains_key("auth"));
    }
}
