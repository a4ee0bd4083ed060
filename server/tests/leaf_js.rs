//! JetStream through a leafnode hub (spec `leafnode.md` §4.10): the server
//! under test has no JetStream of its own; it solicits a nats-server hub
//! with `jetstream { domain: HUB }`, and `default_js_domain { $G: HUB }`
//! maps its clients' plain `$JS.API`/`$KV` subjects to the hub's domain.
//! Plain JetStream API requests, a KV bucket, put and get, from a client
//! of the leaf. Also passes with nats-server as the leaf.

mod common;

use std::time::Instant;

use common::{find, Raw, Server, TempDir, DEADLINE};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// Sends a request (`subject`, `body`) with reply `inbox` and waits for
/// its answer; a no-responders status (`NATS/1.0 503`: the hub's interest
/// has not reached the leaf yet) sends it again. Returns the answer from
/// the inbox on (the header line and the body). The inbox's interest must
/// already be at the hub (`await_inbox`), so an answer is never dropped
/// and a request is resent only after a definite 503, never on a timer.
fn request(c: &mut Raw, subject: &str, inbox: &str, body: &str) -> String {
    let until = Instant::now() + DEADLINE;
    let key = format!(" {inbox} ");
    loop {
        c.send(format!("PUB {subject} {inbox} {}\r\n{body}\r\n", body.len()).as_bytes());
        c.expect(&key);
        // The answer was written before the PONG to a later PING.
        c.send(b"PING\r\n");
        let rest = format!("{key}{}", c.expect("PONG\r\n"));
        let status = rest.split("\r\n").nth(1).unwrap_or("");
        if !status.starts_with("NATS/1.0 503") {
            return rest;
        }
        assert!(Instant::now() < until, "no responders for {subject}");
    }
}

/// Subscribes the leaf's client `c` to `<prefix>.*` and waits until the
/// interest has crossed to the hub: a hub client's probe to `<prefix>.0`
/// arrives (each probe is followed by a PING round trip on both sides).
fn await_inbox(c: &mut Raw, hub_port: u16, prefix: &str) {
    c.send(format!("SUB {prefix}.* 1\r\nPING\r\n").as_bytes());
    c.expect("PONG\r\n");
    let mut h = client(hub_port);
    let until = Instant::now() + DEADLINE;
    let needle = format!("MSG {prefix}.0 1 5\r\nprobe\r\n");
    loop {
        h.send(format!("PUB {prefix}.0 5\r\nprobe\r\nPING\r\n").as_bytes());
        h.expect("PONG\r\n");
        c.send(b"PING\r\n");
        let got = c.expect("PONG\r\n");
        if got.contains(&needle) {
            break;
        }
        assert!(
            Instant::now() < until,
            "interest in {prefix}.* never crossed"
        );
    }
}

#[test]
fn leaf_clients_use_the_hubs_jetstream_and_kv_through_default_js_domain() {
    let store = TempDir::new();
    let hub = Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\njetstream {{ store_dir: \"{}\", domain: HUB }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        store.0.display()
    ));
    let leaf = Server::start(&format!(
        "server_name: EDGE\nhost: 127.0.0.1\nport: -1\ndefault_js_domain: {{ \"$G\": HUB }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    // The hub's log (started earlier, so its lines follow its own ready
    // line): a nats-server leaf may log its link before `Server is ready`.
    hub.expect_log("Leafnode connection created");
    let mut c = client(leaf.client_port);
    await_inbox(&mut c, hub.client_port, "_INBOX.js");
    // Plain $JS.API.INFO reaches the hub's JetStream.
    let info = request(&mut c, "$JS.API.INFO", "_INBOX.js.1", "");
    assert!(
        info.contains("io.nats.jetstream.api.v1.account_info_response"),
        "{info}"
    );
    assert!(info.contains("\"domain\":\"HUB\""), "{info}");
    // A KV bucket is a stream KV_<bucket> on $KV.<bucket>.>.
    let cfg = r#"{"name":"KV_cfg","subjects":["$KV.cfg.>"],"max_msgs_per_subject":1,"allow_direct":true,"allow_rollup_hdrs":true,"deny_delete":true,"discard":"new","storage":"file","num_replicas":1}"#;
    let created = request(&mut c, "$JS.API.STREAM.CREATE.KV_cfg", "_INBOX.js.2", cfg);
    assert!(created.contains("stream_create_response"), "{created}");
    assert!(!created.contains("\"error\""), "{created}");
    // Put: the publish ack comes from the hub's stream.
    let ack = request(&mut c, "$KV.cfg.color", "_INBOX.js.3", "blue");
    assert!(ack.contains("\"stream\":\"KV_cfg\""), "{ack}");
    assert!(ack.contains("\"seq\":1"), "{ack}");
    // Get (direct get of the last message on the key).
    let got = request(
        &mut c,
        "$JS.API.DIRECT.GET.KV_cfg.$KV.cfg.color",
        "_INBOX.js.4",
        "",
    );
    assert!(got.contains("Nats-Subject: $KV.cfg.color"), "{got}");
    assert!(find(got.as_bytes(), b"\r\n\r\nblue\r\n").is_some(), "{got}");
}

#[test]
fn without_a_domain_mapping_a_bad_domain_finds_no_responders() {
    let store = TempDir::new();
    let hub = Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\njetstream {{ store_dir: \"{}\", domain: HUB }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        store.0.display()
    ));
    let leaf = Server::start(&format!(
        "server_name: EDGE\nhost: 127.0.0.1\nport: -1\ndefault_js_domain: {{ \"$G\": OTHER }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    // The hub's log (started earlier, so its lines follow its own ready
    // line): a nats-server leaf may log its link before `Server is ready`.
    hub.expect_log("Leafnode connection created");
    let mut c = client(leaf.client_port);
    // The domain the leaf maps to is not the hub's: nobody answers.
    c.send(b"SUB _INBOX.n.* 1\r\nPUB $JS.API.INFO _INBOX.n.1 0\r\n\r\n");
    c.expect("HMSG _INBOX.n.1 1 ");
    c.expect("NATS/1.0 503");
}

#[test]
fn pull_consumer_deliveries_are_shown_with_the_stream_subject() {
    let store = TempDir::new();
    let hub = Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\njetstream {{ store_dir: \"{}\", domain: HUB }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        store.0.display()
    ));
    let leaf = Server::start(&format!(
        "server_name: EDGE\nhost: 127.0.0.1\nport: -1\ndefault_js_domain: {{ \"$G\": HUB }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    // The hub's log (started earlier, so its lines follow its own ready
    // line): a nats-server leaf may log its link before `Server is ready`.
    hub.expect_log("Leafnode connection created");
    let mut c = client(leaf.client_port);
    await_inbox(&mut c, hub.client_port, "_INBOX.p");
    let created = request(
        &mut c,
        "$JS.API.STREAM.CREATE.S",
        "_INBOX.p.1",
        r#"{"name":"S","subjects":["jsd.>"],"storage":"memory","num_replicas":1}"#,
    );
    assert!(!created.contains("\"error\""), "{created}");
    let ack = request(&mut c, "jsd.m", "_INBOX.p.2", "hello");
    assert!(ack.contains("\"seq\":1"), "{ack}");
    let dur = request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.S.dur",
        "_INBOX.p.3",
        r#"{"stream_name":"S","config":{"durable_name":"dur","ack_policy":"explicit"}}"#,
    );
    assert!(!dur.contains("\"error\""), "{dur}");
    // Fetch one: the hub sends `LMSG _INBOX.p.4 $JS.ACK.…@jsd.m`; the
    // client sees the stream subject and the plain ack reply.
    c.send(b"PUB $JS.API.CONSUMER.MSG.NEXT.S.dur _INBOX.p.4 11\r\n{\"batch\":1}\r\n");
    let got = c.expect("\r\nhello\r\n");
    assert!(got.contains("MSG jsd.m 1 $JS.ACK.S.dur.1.1.1."), "{got}");
    assert!(!got.contains('@'), "{got}");
}

#[test]
fn logs_name_the_domains_and_hint_at_default_js_domain() {
    let store = TempDir::new();
    let hub = Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\njetstream {{ store_dir: \"{}\", domain: HUB }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        store.0.display()
    ));
    let leaf = Server::start(&format!(
        "server_name: EDGE\nhost: 127.0.0.1\nport: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    leaf.expect_log("JetStream using domains: local \"\", remote \"HUB\"");
    if common::is_reference() {
        return;
    }
    // natsws: a plain $JS.API request that finds nobody (a hub without
    // JetStream) gets a hint. (With the JetStream hub above, natsws, which
    // does not deny $JS.API on its side, reaches it: docs/compat.md.)
    let mut c = client(leaf.client_port);
    await_inbox(&mut c, hub.client_port, "_INBOX.h");
    let info = request(&mut c, "$JS.API.INFO", "_INBOX.h.1", "");
    assert!(info.contains("account_info_response"), "{info}");
    let plain = Server::start_reference(
        "server_name: PLAIN\nhost: 127.0.0.1\nport: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let leaf = Server::start(&format!(
        "server_name: EDGE2\nhost: 127.0.0.1\nport: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        plain.leaf_port.unwrap()
    ));
    leaf.expect_log("JetStream using domains: local \"\", remote \"\"");
    let mut c = client(leaf.client_port);
    c.send(b"SUB _INBOX.h.* 1\r\nPUB $JS.API.INFO _INBOX.h.2 0\r\n\r\n");
    c.expect("NATS/1.0 503");
    leaf.expect_log("set `default_js_domain: { \"$G\": <hub domain> }`");
}
