//! `leafnodes { min_version }` (nats-server 2.15.1
//! `processLeafNodeConnect`, `leafProcessErr`,
//! `checkLeafMinVersionConfig`): a hub refuses an older leaf with `-ERR
//! 'connection rejected since minimum version required is "<v>"'`, and
//! the leaf waits 5 s before dialing again; a leaf at the minimum links.
//! Both roles against nats-server; the configuration errors carry
//! nats-server's texts. Passes with nats-server as the server under
//! test.

mod common;

use common::leaf::await_interest;
use common::{Raw, Server};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// The link is up: a message from the leaf reaches the hub.
fn crosses(h: &Server, l: &Server) {
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
}

fn hub_conf(min: &str) -> String {
    format!("server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, min_version: \"{min}\" }}\n")
}

fn leaf_conf(port: u16) -> String {
    format!("server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats://127.0.0.1:{port}\" }} ] }}\n")
}

#[test]
fn hub_under_test_refuses_an_older_nats_server_leaf() {
    let h = Server::start(&hub_conf("2.99.0"));
    let l = Server::start_reference(&leaf_conf(h.leaf_port.unwrap()));
    h.expect_log("connection rejected since minimum version required is \"2.99.0\"");
    l.expect_log("Leafnode connection dropped due to minimum version requirement. Delaying attempt to reconnect for 5s");
}

#[test]
fn hub_under_test_admits_a_nats_server_leaf_at_the_minimum() {
    let h = Server::start(&hub_conf("2.15.1"));
    let l = Server::start_reference(&leaf_conf(h.leaf_port.unwrap()));
    crosses(&h, &l);
}

#[test]
fn leaf_under_test_refused_by_a_nats_server_hub_waits() {
    let h = Server::start_reference(&hub_conf("2.99.0"));
    let l = Server::start(&leaf_conf(h.leaf_port.unwrap()));
    l.expect_log("connection rejected since minimum version required is \"2.99.0\"");
    l.expect_log("Leafnode connection dropped due to minimum version requirement. Delaying attempt to reconnect for 5s");
}

#[test]
fn leaf_under_test_links_to_a_nats_server_hub_with_a_minimum() {
    // The leaf's CONNECT `version` must pass a real minimum.
    let h = Server::start_reference(&hub_conf("2.12.0"));
    let l = Server::start(&leaf_conf(h.leaf_port.unwrap()));
    crosses(&h, &l);
}

#[test]
fn min_version_errors_have_nats_server_texts() {
    for (v, want) in [
        (
            "\"abc\"",
            "natsws.conf:2:23: invalid leafnode's minimum version: invalid semver",
        ),
        (
            "\"2.10\"",
            "natsws.conf:2:23: invalid leafnode's minimum version: invalid semver",
        ),
        (
            "\"2.7.9\"",
            "natsws.conf:2:23: the minimum version should be at least 2.8.0",
        ),
    ] {
        let err = Server::try_start(&format!(
            "port: -1\nleafnodes {{ port: -1, min_version: {v} }}\n"
        ))
        .err()
        .unwrap_or_else(|| panic!("{v}: started"));
        assert!(err.contains(want), "{v}: {err}");
    }
    assert!(
        Server::try_start("port: -1\nleafnodes { port: -1, minimum_version: \"2.8.0\" }\n").is_ok()
    );
}
