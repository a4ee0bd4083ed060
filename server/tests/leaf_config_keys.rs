//! Leafnode configuration keys nats-server 2.15.1 accepts that natsws
//! takes without acting on them (`remotes[].jetstream_cluster_migrate`,
//! `authorization.proxy_required: false`), with nats-server's type
//! errors; the isolation and write-deadline keys (acted on: see
//! `leaf_isolation.rs`); and the one natsws still refuses at start. Passes
//! with nats-server as the server under test (the refusal is natsws-only).

mod common;

use common::Server;

fn remote(extra: &str) -> String {
    format!("port: -1\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:1\", {extra} }} ] }}\n")
}

#[test]
fn js_cluster_migrate_is_accepted_as_bool_or_map() {
    for extra in [
        "jetstream_cluster_migrate: true",
        "js_cluster_migrate: false",
        "jetstream_cluster_migrate: { leader_migrate_delay: \"5s\" }",
    ] {
        let s = Server::try_start(&remote(extra));
        assert!(s.is_ok(), "{extra}: {:?}", s.err());
    }
}

#[test]
fn js_cluster_migrate_of_another_type_is_an_error() {
    let err = Server::try_start(&remote("jetstream_cluster_migrate: \"yes\""))
        .err()
        .expect("refused");
    assert!(
        err.contains(": Expected boolean or map for jetstream_cluster_migrate, got string")
            && !err.contains("natsws.conf:2:"),
        "{err}"
    );
}

#[test]
fn proxy_required_false_is_accepted() {
    let s = Server::try_start(
        "port: -1\nleafnodes { port: -1, authorization { user: a, password: b, proxy_required: false } }\n",
    );
    assert!(s.is_ok(), "{:?}", s.err());
}

#[test]
fn proxy_required_true_is_refused_by_name() {
    if common::is_reference() {
        return;
    }
    let err = Server::try_start(
        "port: -1\nleafnodes { port: -1, authorization { user: a, password: b, proxy_required: true } }\n",
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("leafnodes.authorization.proxy_required"),
        "{err}"
    );
}

#[test]
fn isolation_and_write_deadline_keys_start() {
    for conf in [
        "port: -1\nleafnodes { port: -1, isolate_leafnode_interest: true }\n".to_string(),
        "port: -1\nleafnodes { port: -1, isolate: false }\n".to_string(),
        remote("isolate_leafnode_interest: true"),
        remote("isolate: true"),
        remote("request_isolation: true"),
        "port: -1\nleafnodes { port: -1, write_deadline: \"5s\" }\n".to_string(),
        "port: -1\nleafnodes { port: -1, write_deadline: \"250ms\", write_timeout: \"retry\" }\n"
            .to_string(),
        "port: -1\nleafnodes { port: -1, write_timeout: \"close\" }\n".to_string(),
        "port: -1\nleafnodes { port: -1, write_timeout: \"default\" }\n".to_string(),
    ] {
        let s = Server::try_start(&conf);
        assert!(s.is_ok(), "{conf}: {:?}", s.err());
    }
}

#[test]
fn leaf_write_timeout_of_another_value_is_an_error() {
    for v in ["sometimes", "Retry"] {
        let err = Server::try_start(&format!(
            "port: -1\nleafnodes {{\n  port: -1\n  write_timeout: \"{v}\"\n}}\n"
        ))
        .err()
        .expect("refused");
        assert!(
            err.contains("natsws.conf:4:3: write_timeout must be 'default', 'close' or 'retry'"),
            "{v}: {err}"
        );
    }
}

#[test]
fn leaf_write_deadline_in_seconds_starts_with_a_warning() {
    let s =
        Server::try_start("port: -1\nleafnodes { port: -1, write_deadline: 7 }\n").expect("starts");
    // nats-server says `…:2:23: invalid use of field "write_deadline":
    // write_deadline should …`; natsws's warning for every duration in
    // seconds omits the middle part.
    assert!(
        s.startup_log
            .iter()
            .any(|l| l.contains("natsws.conf:2:23: ")
                && l.contains("write_deadline should be converted to a duration")),
        "{:?}",
        s.startup_log
    );
}
