//! Leafnode configuration keys nats-server 2.15.1 accepts that natsws
//! takes without acting on them (`remotes[].jetstream_cluster_migrate`,
//! `authorization.proxy_required: false`), with nats-server's type
//! errors; and the ones natsws still refuses at start. Passes with
//! nats-server as the server under test (the refusals are natsws-only).

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
fn keys_natsws_does_not_implement_are_refused_by_name() {
    if common::is_reference() {
        return;
    }
    for (conf, name) in [
        (
            "port: -1\nleafnodes { port: -1, authorization { user: a, password: b, proxy_required: true } }\n".to_string(),
            "leafnodes.authorization.proxy_required",
        ),
        (
            "port: -1\nleafnodes { port: -1, isolate_leafnode_interest: true }\n".to_string(),
            "leafnodes.isolate_leafnode_interest",
        ),
        (remote("request_isolation: true"), "leafnodes.remotes.request_isolation"),
        (
            "port: -1\nleafnodes { port: -1, write_deadline: \"5s\" }\n".to_string(),
            "leafnodes.write_deadline",
        ),
    ] {
        let err = Server::try_start(&conf).err().expect("refused");
        assert!(err.contains(name), "{name}: {err}");
    }
}
