//! Leafnodes over TCP (spec `leafnode.md` §3–§4), the peer always the real
//! nats-server 2.15.1: the server under test as the soliciting leaf of a
//! nats-server hub, and as the hub of a nats-server leaf. Pub/sub both
//! ways, request/reply, queue groups (each message once), unsubscribe
//! propagation, headers, 1 MiB payloads, hub restart with interest
//! restored. Every test also passes with nats-server as the server under
//! test (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::leaf::{await_interest, leafz_with, wait_for};
use common::{Raw, Server, DEADLINE};

/// A nats-server hub with a leafnode listener on `leaf_port` (0: random).
fn hub(leaf_port: u16) -> Server {
    let port = if leaf_port == 0 {
        "-1".to_string()
    } else {
        leaf_port.to_string()
    };
    Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: {port} }}\n"
    ))
}

/// The server under test soliciting `hub_leaf_port` with extra remote keys.
fn leaf_of(hub_leaf_port: u16, extra: &str) -> Server {
    let s = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{hub_leaf_port}\" {extra} }} ] }}\n"
    ));
    s.expect_log("Leafnode connection created for account: $G");
    s
}

/// A raw client that has said CONNECT (headers and no_responders on).
fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

#[test]
fn solicited_pub_sub_both_ways_and_request_reply() {
    let h = hub(0);
    let l = leaf_of(h.leaf_port.expect("hub leaf port"), "");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);

    // hub → leaf
    on_leaf.send(b"SUB news.> 1\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "news.a");
    on_hub.send(b"PUB news.x reply.1 5\r\nhello\r\n");
    on_leaf.expect("MSG news.x 1 reply.1 5\r\nhello\r\n");

    // leaf → hub, with headers
    on_hub.send(b"SUB orders 7\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "orders");
    on_leaf.send(b"HPUB orders 20 24\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbody\r\n");
    on_hub.expect("HMSG orders 7 20 24\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbody\r\n");

    // request on the leaf, responder on the hub
    on_hub.send(b"SUB svc 8\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "svc");
    on_leaf.send(b"SUB _INBOX.r1 9\r\nPUB svc _INBOX.r1 3\r\nask\r\n");
    on_hub.expect("MSG svc 8 _INBOX.r1 3\r\nask\r\n");
    on_hub.send(b"PUB _INBOX.r1 6\r\nanswer\r\n");
    on_leaf.expect("MSG _INBOX.r1 9 6\r\nanswer\r\n");

    // request on the hub, responder on the leaf
    on_leaf.send(b"SUB api 10\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "api");
    on_hub.send(b"SUB _INBOX.r2 11\r\nPUB api _INBOX.r2 1\r\nq\r\n");
    on_leaf.expect("MSG api 10 _INBOX.r2 1\r\nq\r\n");
    on_leaf.send(b"PUB _INBOX.r2 1\r\na\r\n");
    on_hub.expect("MSG _INBOX.r2 11 1\r\na\r\n");
}

#[test]
fn solicited_large_payload_and_queue_group_each_message_once() {
    let h = hub(0);
    let l = leaf_of(h.leaf_port.expect("hub leaf port"), "");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB work grp 1\r\nSUB big 2\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "big");
    // The queue member may take the probes too: wait for work as well.
    let until = Instant::now() + DEADLINE;
    loop {
        on_leaf.send(b"PUB work 5\r\nprobe\r\n");
        if wait_for(
            &mut on_hub,
            "MSG work 1 5\r\nprobe\r\n",
            Duration::from_millis(200),
        ) {
            break;
        }
        assert!(Instant::now() < until);
    }
    on_leaf.send(b"PING\r\n");
    on_leaf.expect("PONG\r\n");
    while wait_for(&mut on_hub, "probe\r\n", Duration::from_millis(300)) {}
    on_hub.buf.clear();
    for i in 0..20 {
        on_leaf.send(format!("PUB work 2\r\n{i:02}\r\n").as_bytes());
    }
    for i in 0..20 {
        on_hub.expect(&format!("MSG work 1 2\r\n{i:02}\r\n"));
    }
    // 1 MiB (the default max_payload) crosses intact.
    let payload = vec![b'x'; 1024 * 1024];
    let mut m = format!("PUB big {}\r\n", payload.len()).into_bytes();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\n");
    on_leaf.send(&m);
    on_hub.expect(&format!("MSG big 2 {}\r\n", payload.len()));
    let until = Instant::now() + DEADLINE;
    while on_hub.buf.len() < payload.len() + 2 {
        assert!(Instant::now() < until);
        wait_for(&mut on_hub, "\u{0}", Duration::from_millis(100));
    }
    assert!(on_hub.buf[..payload.len()].iter().all(|&b| b == b'x'));
    assert_eq!(&on_hub.buf[payload.len()..payload.len() + 2], b"\r\n");
    // Nothing came twice.
    on_hub.buf.drain(..payload.len() + 2);
    on_hub.send(b"PING\r\n");
    let rest = on_hub.expect("PONG\r\n");
    assert!(!rest.contains("MSG"), "{rest}");
}

#[test]
fn solicited_unsubscribe_propagates_as_no_responders() {
    let h = hub(0);
    let l = leaf_of(h.leaf_port.expect("hub leaf port"), "");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB gone 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "gone");
    on_hub.send(b"UNSUB 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    // Once the LS- crossed, a request from the leaf finds no responders.
    on_leaf.send(b"SUB _INBOX.nr 5\r\n");
    let until = Instant::now() + DEADLINE;
    loop {
        on_leaf.send(b"PUB gone _INBOX.nr 1\r\nx\r\n");
        if wait_for(
            &mut on_leaf,
            "HMSG _INBOX.nr 5 ",
            Duration::from_millis(200),
        ) {
            break;
        }
        assert!(Instant::now() < until, "LS- never crossed");
    }
    assert!(wait_for(&mut on_leaf, "NATS/1.0 503", DEADLINE));
}

#[test]
fn solicited_link_comes_back_after_hub_restart_with_interest() {
    // A free port for the hub's leafnode listener, reused by the restart.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut h = hub(port);
    let l = leaf_of(port, "");
    let mut on_leaf = client(l.client_port);
    on_leaf.send(b"SUB keep 3\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    {
        let mut on_hub = client(h.client_port);
        await_interest(&mut on_hub, &mut on_leaf, "keep");
    }
    h.kill();
    l.expect_log("Leafnode connection closed");
    let h2 = hub(port);
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h2.client_port);
    await_interest(&mut on_hub, &mut on_leaf, "keep");
    on_hub.send(b"PUB keep 5\r\nagain\r\n");
    on_leaf.expect("MSG keep 3 5\r\nagain\r\n");
}

/// The server under test as the hub: a nats-server leaf solicits into it.
fn hub_under_test(auth: &str) -> Server {
    Server::start(&format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1 {auth} }}\n"
    ))
}

fn reference_leaf(hub_leaf_port: u16, userinfo: &str) -> Server {
    Server::start_reference(&format!(
        "server_name: RLEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://{userinfo}127.0.0.1:{hub_leaf_port}\" }} ] }}\n"
    ))
}

#[test]
fn accepted_nats_server_leaf_pub_sub_both_ways() {
    let h = hub_under_test("");
    let l = reference_leaf(h.leaf_port.expect("leaf port"), "");
    l.expect_log("Leafnode connection created for account: $G");
    h.expect_log("Leafnode connection created");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB a.* 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "a.b");
    on_leaf.send(b"PUB a.c r 2\r\nhi\r\n");
    on_hub.expect("MSG a.c 1 r 2\r\nhi\r\n");
    on_leaf.send(b"SUB b 2\r\nSUB q grp 3\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "b");
    on_hub.send(b"PUB b 2\r\nyo\r\n");
    on_leaf.expect("MSG b 2 2\r\nyo\r\n");
    // A queue group across the link gets each message once.
    let until = Instant::now() + DEADLINE;
    loop {
        on_hub.send(b"PUB q 5\r\nprobe\r\n");
        if wait_for(
            &mut on_leaf,
            "MSG q 3 5\r\nprobe\r\n",
            Duration::from_millis(200),
        ) {
            break;
        }
        assert!(Instant::now() < until);
    }
    on_hub.send(b"PING\r\n");
    on_hub.expect("PONG\r\n");
    while wait_for(&mut on_leaf, "probe\r\n", Duration::from_millis(300)) {}
    on_leaf.buf.clear();
    for i in 0..10 {
        on_hub.send(format!("PUB q 1\r\n{i}\r\n").as_bytes());
    }
    for i in 0..10 {
        on_leaf.expect(&format!("MSG q 3 1\r\n{i}\r\n"));
    }
}

#[test]
fn accepted_leaf_auth_success_binds_account_and_failure_is_refused() {
    let auth = r#", authorization { users: [ { user: edge, password: s3cret, account: SITES } ] }"#;
    let h = Server::start(&format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\naccounts {{ SITES: {{ users: [ {{ user: app, password: p }} ] }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 {auth} }}\n"
    ));
    let port = h.leaf_port.expect("leaf port");
    // Wrong password: the exact -ERR, then the close.
    let mut raw = Raw::connect(port);
    let info = common::parse_info(&raw.expect("\r\n"));
    assert_eq!(info["auth_required"], true);
    assert!(info["nonce"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(info["leafnode_urls"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert_eq!(info["info_on_connect"], true);
    raw.send(b"CONNECT {\"user\":\"edge\",\"pass\":\"bad\"}\r\n");
    assert!(raw
        .read_to_close()
        .contains("-ERR 'Authorization Violation'\r\n"));
    // Right credentials: bound to SITES, isolated from $G.
    let l = reference_leaf(port, "edge:s3cret@");
    l.expect_log("Leafnode connection created for account: $G");
    let mut in_sites = Raw::connect(h.client_port);
    in_sites.expect("\r\n");
    in_sites.send(
        b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nSUB x 1\r\nPING\r\n",
    );
    in_sites.expect("PONG\r\n");
    let mut on_leaf = client(l.client_port);
    await_interest(&mut on_leaf, &mut in_sites, "x");
    // A raw leaf: anything before CONNECT is an Authorization Violation.
    let mut raw = Raw::connect(port);
    raw.expect("\r\n");
    raw.send(b"LS+ foo\r\n");
    assert!(raw
        .read_to_close()
        .contains("-ERR 'Authorization Violation'\r\n"));
}

#[test]
fn accepted_raw_leaf_sees_interest_dump_and_lmsg_forms() {
    let h = hub_under_test("");
    let mut c = client(h.client_port);
    c.send(b"SUB foo 1\r\nSUB jobs grp 2\r\nSUB jobs grp 3\r\nPING\r\n");
    c.expect("PONG\r\n");
    let mut raw = TcpStream::connect(("127.0.0.1", h.leaf_port.unwrap())).unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut r = Raw {
        sock: raw.try_clone().unwrap(),
        buf: Vec::new(),
    };
    r.expect("\r\n");
    raw.write_all(b"CONNECT {\"name\":\"RAW\"}\r\n").unwrap();
    let info = common::parse_info(&r.expect("\r\n"));
    assert_eq!(info["connect_info"], true);
    // The dump: plain, queue with its weight, and the loop subject.
    let mut dump = String::from_utf8_lossy(&r.buf).into_owned();
    let until = Instant::now() + DEADLINE;
    while !(dump.contains("LS+ $LDS.")
        && dump.contains("LS+ jobs grp 2\r\n")
        && dump.contains("LS+ foo\r\n"))
    {
        assert!(Instant::now() < until, "dump: {dump}");
        let mut chunk = [0u8; 4096];
        if let Ok(n) = r.sock.read(&mut chunk) {
            dump.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }
    r.buf.clear();
    // LMSG forms: plain reaches foo; untargeted is not for the queue.
    raw.write_all(b"LMSG foo 2\r\nab\r\nLMSG jobs 1\r\nx\r\nLMSG jobs | grp 1\r\ny\r\n")
        .unwrap();
    c.expect("MSG foo 1 2\r\nab\r\n");
    let got = c.expect("\r\ny\r\n");
    assert!(!got.contains("\r\nx\r\n"), "{got}");
    // A client publish comes back as LMSG.
    raw.write_all(b"LS+ bar\r\nPING\r\n").unwrap();
    r.expect("PONG\r\n");
    c.send(b"PUB bar rep 3\r\nabc\r\n");
    r.expect("LMSG bar rep 3\r\nabc\r\n");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn leafz_varz_and_connz_on_both_sides() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let l = reference_leaf(h.leaf_port.unwrap(), "");
    l.expect_log("Leafnode connection created for account: $G");
    h.expect_log("Leafnode connection created");
    let v = leafz_with(&h, 1);
    let leaf = &v["leafs"][0];
    assert_eq!(leaf["name"], "RLEAF");
    assert_eq!(leaf["is_spoke"], false);
    assert_eq!(leaf["account"], "$G");
    assert_eq!(leaf["ip"], "127.0.0.1");
    let (_, body) = h.http_get("/varz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["leafnodes"], 1);
    assert_eq!(v["leaf"]["port"], h.leaf_port.unwrap());
    let (_, body) = h.http_get("/accountz?acc=$G");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["account_detail"]["leafnode_connections"], 1, "{v}");
    let (_, body) = h.http_get("/leafz?acc=OTHER");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["leafnodes"], 0);

    // The soliciting side: the server under test as the leaf of a hub.
    let hub = hub(0);
    let s = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    s.expect_log("Leafnode connection created for account: $G");
    let v = leafz_with(&s, 1);
    assert_eq!(v["leafs"][0]["name"], "HUB");
    assert_eq!(v["leafs"][0]["is_spoke"], true);
    assert_eq!(v["leafs"][0]["port"], hub.leaf_port.unwrap());
    let (_, body) = s.http_get("/varz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["leafnodes"], 1);
    assert_eq!(v["leaf"]["remotes"][0]["local_account"], "$G");
    assert_eq!(
        v["leaf"]["remotes"][0]["urls"][0],
        format!("127.0.0.1:{}", hub.leaf_port.unwrap())
    );
}

#[test]
fn two_servers_soliciting_each_other_detect_the_loop() {
    let (pa, pb) = (free_port(), free_port());
    let conf = |name: &str, mine: u16, other: u16| {
        format!(
            "server_name: {name}\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: {mine}, remotes [ {{ url: \"nats-leaf://127.0.0.1:{other}\" }} ] }}\n"
        )
    };
    let a = Server::start(&conf("A", pa, pb));
    let b = Server::start(&conf("B", pb, pa));
    let want = "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s";
    // One of the two detects it; the other hears the -ERR.
    let until = Instant::now() + DEADLINE;
    let mut seen = false;
    while !seen && Instant::now() < until {
        for s in [&a, &b] {
            while let Ok(line) = s.log.recv_timeout(Duration::from_millis(50)) {
                if line.contains(want) {
                    seen = true;
                }
            }
        }
    }
    assert!(seen, "no loop detected");
}

#[test]
fn deny_imports_and_deny_exports_filter_the_link_and_keep_it_up() {
    let h = hub(0);
    let l = leaf_of(
        h.leaf_port.unwrap(),
        r#", deny_exports: ["internal.>"], deny_imports: ["admin.>"]"#,
    );
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    // deny_exports: a leaf publish to internal.x does not reach the hub,
    // public.x does (sent after it on the same link, so it arrives later).
    on_hub.send(b"SUB internal.* 1\r\nSUB public.* 2\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "public.a");
    on_leaf.send(b"PUB internal.x 6\r\nsecret\r\nPUB public.x 4\r\nopen\r\n");
    let got = on_hub.expect("MSG public.x 2 4\r\nopen\r\n");
    assert!(!got.contains("secret"), "{got}");
    // deny_imports: a hub publish to admin.x does not reach the leaf.
    on_leaf.send(b"SUB admin.* 3\r\nSUB news.* 4\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "news.a");
    on_hub.send(b"PUB admin.x 4\r\nroot\r\nPUB news.x 2\r\nok\r\n");
    let got = on_leaf.expect("MSG news.x 4 2\r\nok\r\n");
    assert!(!got.contains("root"), "{got}");
    // The link stayed up: no close line.
    on_hub.send(b"PUB news.y 2\r\nok\r\n");
    on_leaf.expect("MSG news.y 4 2\r\nok\r\n");
}

#[test]
fn accepted_leaf_authenticates_as_a_global_user_allowed_leafnode() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\naccounts { A: { users: [ { user: lu, password: lp, allowed_connection_types: [\"LEAFNODE\"] }, { user: app, password: p } ] }, B: { users: [ { user: std, password: sp, allowed_connection_types: [\"STANDARD\"] } ] } }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let port = h.leaf_port.unwrap();
    // A user not allowed LEAFNODE is refused.
    let mut raw = Raw::connect(port);
    raw.expect("\r\n");
    raw.send(b"CONNECT {\"user\":\"std\",\"pass\":\"sp\"}\r\n");
    assert!(raw
        .read_to_close()
        .contains("-ERR 'Authorization Violation'\r\n"));
    // The leaf user binds the link to account A.
    let l = reference_leaf(port, "lu:lp@");
    l.expect_log("Leafnode connection created for account: $G");
    let mut in_a = Raw::connect(h.client_port);
    in_a.expect("\r\n");
    in_a.send(
        b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nSUB x 1\r\nPING\r\n",
    );
    in_a.expect("PONG\r\n");
    let mut on_leaf = client(l.client_port);
    await_interest(&mut on_leaf, &mut in_a, "x");
}

#[test]
fn hub_true_on_the_remote_swaps_the_roles() {
    // The server under test solicits with hub: true: it plays the hub
    // (is_spoke false) and the nats-server it dials plays the spoke.
    let h = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", hub: true }} ] }}\n",
        h.leaf_port.unwrap()
    ));
    l.expect_log("Leafnode connection created for account: $G");
    assert_eq!(leafz_with(&l, 1)["leafs"][0]["is_spoke"], false);
    assert_eq!(leafz_with(&h, 1)["leafs"][0]["is_spoke"], true);
    // And the other way round: a nats-server leaf with hub: true into the
    // server under test.
    let hub2 = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let l2 = Server::start_reference(&format!(
        "server_name: RLEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", hub: true }} ] }}\n",
        hub2.leaf_port.unwrap()
    ));
    l2.expect_log("Leafnode connection created for account: $G");
    assert_eq!(leafz_with(&hub2, 1)["leafs"][0]["is_spoke"], true);
}

#[test]
fn a_message_over_the_hubs_max_payload_is_refused_alone() {
    if common::is_reference() {
        // nats-server sends it; the hub closes the link (spec §4.1).
        return;
    }
    let h = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nmax_payload: 1024\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let l = leaf_of(h.leaf_port.unwrap(), "");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB big 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "big");
    let payload = vec![b'b'; 2000];
    let mut m = format!("PUB big {}\r\n", payload.len()).into_bytes();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\nPUB big 5\r\nsmall\r\n");
    on_leaf.send(&m);
    // The small one crosses on the same link; the large one never did.
    let got = on_hub.expect("MSG big 1 5\r\nsmall\r\n");
    assert!(!got.contains("bbbb"), "{got}");
    l.expect_log("Not sending a message on \"big\" to the leafnode: 2000 bytes is over its max_payload of 1024");
}

#[test]
fn several_urls_fail_over_to_the_live_one() {
    let h = hub(0);
    let dead = free_port();
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"100ms\", remotes [ {{ urls: [\"nats-leaf://127.0.0.1:{dead}\", \"nats-leaf://127.0.0.1:{}\"], no_randomize: true }} ] }}\n",
        h.leaf_port.unwrap()
    ));
    l.expect_log(&format!(
        "Error trying to connect as leafnode to remote server \"127.0.0.1:{dead}\" (attempt 1)"
    ));
    l.expect_log("Leafnode connection created for account: $G");
}

#[test]
fn a_hub_that_sends_no_info_is_dropped_after_first_info_timeout() {
    // A listener that accepts and never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"100ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", first_info_timeout: \"300ms\" }} ] }}\n"
    ));
    let (mut first, _) = silent.accept().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The leaf says nothing before INFO and closes after the timeout...
    let started = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(first.read(&mut b).unwrap_or(0), 0);
    assert!(started.elapsed() < Duration::from_secs(4));
    // ...then dials again (polled with a deadline: no hang if it does not).
    silent.set_nonblocking(true).unwrap();
    let until = Instant::now() + DEADLINE;
    loop {
        match silent.accept() {
            Ok(_) => break,
            Err(_) => {
                assert!(Instant::now() < until, "no second dial");
                // Wait on the first socket's (closed) read as a pause.
                let _ = first.read(&mut b);
                std::thread::yield_now();
            }
        }
    }
}

/// A leaf that never answers the hub's PINGs is closed as stale and
/// counted in `/varz` as a stale leaf, not a client (nats-server
/// `markConnAsClosed` counts by kind).
#[test]
fn a_stale_leaf_is_counted_as_a_leaf() {
    let hub = Server::start(
        "server_name: HUBS\nhost: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\nping_interval: \"200ms\"\nping_max: 1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let mut leaf = Raw::connect(hub.leaf_port.expect("leaf port"));
    leaf.expect("\r\n");
    leaf.send(b"CONNECT {\"name\":\"silent\"}\r\n");
    // It answers nothing, so the hub closes it.
    leaf.read_to_close();
    let until = Instant::now() + DEADLINE;
    let v = loop {
        let (status, body) = hub.http_get("/varz");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("varz json");
        if v["stale_connections"] == 1 || Instant::now() > until {
            break v;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(v["stale_connections"], 1, "{v}");
    let split = &v["stale_connection_stats"];
    assert_eq!(split["leafs"], 1, "{split}");
    assert_eq!(split["clients"], 0, "{split}");
}
