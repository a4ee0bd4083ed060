//! The `mqtt {}` block (mqtt spec §1.1–§1.2): start-up errors with
//! nats-server's texts, on natsws and nats-server 2.15.1 alike.
#![allow(missing_docs)]

mod common;

use common::mqtt::conf;
use common::{Server, TempDir};

/// The start-up failure log of `mqtt_extra`/`extra` (the server must not
/// start).
fn refused(mqtt_extra: &str, extra: &str) -> String {
    let dir = TempDir::new();
    match Server::try_start(&conf(&dir, mqtt_extra, extra)) {
        Ok(_) => panic!("started with {mqtt_extra:?} {extra:?}"),
        Err(log) => log,
    }
}

#[test]
fn startup_errors_match_the_reference_texts() {
    let cases = [
        ("max_ack_pending: 70000", "", "invalid value 70000, should in [0..65535] range"),
        ("bogus_key: 1", "", "unknown field \"bogus_key\""),
        ("no_auth_user: ghost", "", "no_auth_user: \"ghost\" present, but users/nkeys are not defined"),
        (
            "no_auth_user: ghost",
            "authorization { users: [{user: a, password: b}] }",
            "no_auth_user: \"ghost\" not present as user or nkey in authorization block or account configuration",
        ),
        (
            "authorization { user: x, password: y }",
            "authorization { users: [{user: a, password: b}] }",
            "mqtt authentication username not compatible with presence of users/nkeys",
        ),
        (
            "authorization { token: t }",
            "authorization { users: [{user: a, password: b}] }",
            "mqtt authentication token not compatible with presence of users/nkeys",
        ),
    ];
    for (m, e, want) in cases {
        let log = refused(m, e);
        assert!(log.contains(want), "{m:?} {e:?}: want {want:?} in {log}");
    }
}

#[test]
fn a_block_without_port_is_inert_and_reference_configs_start() {
    // No port: none of the validations run.
    let dir = TempDir::new();
    let c = format!(
        "host: 127.0.0.1\nport: -1\nserver_name: s\njetstream {{ store_dir: \"{}\" }}\nmqtt {{ no_auth_user: ghost }}\n",
        dir.0.display()
    );
    let s = Server::start(&c);
    assert!(s.mqtt_port.is_none());
    // JetStream-only tuning keys are accepted.
    let dir = TempDir::new();
    let s = Server::start(&conf(
        &dir,
        "js_api_timeout: \"5s\"\n  stream_replicas: 1\n  consumer_memory_storage: true\n  consumer_inactive_threshold: \"1h\"\n  ack_wait: \"10s\"\n  max_inflight: 100",
        "",
    ));
    assert!(s.mqtt_port.is_some());
}
