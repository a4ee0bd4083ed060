//! Failover through the hub's `leafnode_urls` (spec `leafnode.md` §3.12):
//! the leaf is configured with one member of a nats-server cluster; that
//! member's INFO names the other's leafnode address; when the first goes
//! away the leaf reconnects to the other. `ignore_discovered_servers`
//! also passes with nats-server as the leaf; the failover is natsws's.

mod common;

use std::time::Instant;

use common::{Raw, Server, DEADLINE};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn member(name: &str, cluster_port: u16, routes: &str) -> Server {
    Server::start_reference(&format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: -1\ncluster {{ name: C, listen: \"127.0.0.1:{cluster_port}\"{routes} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n"
    ))
}

/// Waits until a client of `s` sees `leafnode_urls` with `n` entries in
/// the leaf port's INFO (the cluster has gossiped its members).
fn await_leafnode_urls(s: &Server, n: usize) {
    let until = Instant::now() + DEADLINE;
    loop {
        let mut raw = Raw::connect(s.leaf_port.unwrap());
        let info = common::parse_info(raw.expect("\r\n").trim_end());
        if info["leafnode_urls"].as_array().map_or(0, |a| a.len()) >= n {
            return;
        }
        assert!(Instant::now() < until, "{info}");
        // The next route/gossip log line (or a short wait) before asking again.
        let _ = s.log.recv_timeout(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_leaf_fails_over_to_a_member_it_learned_from_leafnode_urls() {
    // Observed: a nats-server 2.15.1 leaf in this setup keeps dialing the
    // dead member (20 attempts in 8 s, never B), although its source adds
    // `leafnode_urls` to the list; natsws fails over (docs/compat.md).
    if common::is_reference() {
        return;
    }
    let (ca, cb) = (free_port(), free_port());
    let mut a = member("A", ca, "");
    let b = member(
        "B",
        cb,
        &format!(", routes: [\"nats-route://127.0.0.1:{ca}\"]"),
    );
    await_leafnode_urls(&a, 2);
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        a.leaf_port.unwrap()
    ));
    leaf.expect_log("Leafnode connection created for account: $G");
    a.kill();
    // The leaf reaches B, which it was never configured with.
    b.expect_log("Leafnode connection created");
    leaf.expect_log("Leafnode connection created for account: $G");
}

#[test]
fn ignore_discovered_servers_keeps_to_the_configured_urls() {
    let (ca, cb) = (free_port(), free_port());
    let mut a = member("A", ca, "");
    let b = member(
        "B",
        cb,
        &format!(", routes: [\"nats-route://127.0.0.1:{ca}\"]"),
    );
    await_leafnode_urls(&a, 2);
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", ignore_discovered_servers: true }} ] }}\n",
        a.leaf_port.unwrap()
    ));
    // The leaf's own line (kept by the harness when it came before
    // `Server is ready`): A's log also has the lines of the raw probes of
    // `await_leafnode_urls`, so A's "created" line does not prove the
    // leaf's link is up, and killing A before it is would make the first
    // failed dial the only one logged.
    leaf.expect_log("Leafnode connection created");
    let a_port = a.leaf_port.unwrap();
    a.kill();
    // It keeps dialing A (two failed attempts), and B never got the leaf.
    leaf.expect_log(&format!("127.0.0.1:{a_port}\" (attempt 1)"));
    leaf.expect_log(&format!("127.0.0.1:{a_port}\" (attempt 2)"));
    while let Ok(line) = b.log.try_recv() {
        assert!(!line.contains("Leafnode connection created"), "{line}");
    }
}
