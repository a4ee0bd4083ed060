//! The server under test as the leafnode hub, with the bound leaf user's
//! permissions on the link (spec `leafnode.md` §3.5 item 8, §3.6, §3.7,
//! §4.6, §6.4): swapped (the user's publish rights are what the leaf may
//! send in and which interest it is told; its subscribe rights are what
//! the hub sends out and which literal `LS+` it accepts), sent in the
//! `connect_info` INFO as `export`/`import`, violations answered with the
//! exact `-ERR`, log line and close. Users from `accounts`/`authorization`
//! (allowed `LEAFNODE`), nkey users, JWT users in operator mode and
//! `leafnodes.authorization.users`; leaves that are raw connections,
//! nats-server 2.15.1 or the server under test; credentials on the wrong
//! port. Everything passes with nats-server as the hub
//! (`NATSWS_TEST_SERVER_BIN`) except the reload test, a natsws addition.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::leaf::{await_interest, wait_for};
use common::{jwt, Raw, Server, DEADLINE};
use nkeys::KeyPair;

/// The leaf user's permissions: publish (→ INFO `export`, what the leaf
/// may send in) and subscribe (→ `import`, what the hub sends out).
const LU_PERMS: &str = r#"permissions: { publish: { allow: ["ok.>", "req.*", "q.>"], deny: ["ok.secret"] }, subscribe: { allow: ["ok.>", "q.>"], deny: ["ok.hidden"] } }"#;

/// A hub with account A holding the leaf user `lu` (allowed `LEAFNODE`
/// only), the client user `app` (standard and websocket only), a
/// websocket port and a leafnode port.
fn hub_conf(lu_perms: &str) -> String {
    format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nwebsocket {{ host: 127.0.0.1, port: -1, no_tls: true }}\naccounts {{ A: {{ users: [ {{ user: lu, password: lp, allowed_connection_types: [\"LEAFNODE\"], {lu_perms} }}, {{ user: app, password: p, allowed_connection_types: [\"STANDARD\", \"WEBSOCKET\"] }} ] }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n"
    )
}

fn hub() -> Server {
    Server::start(&hub_conf(LU_PERMS))
}

/// A client of account A on the hub.
fn app(h: &Server) -> Raw {
    let mut c = Raw::connect(h.client_port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// An anonymous client of a leaf server.
fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// A raw leaf on `port`: reads the INFO, sends the CONNECT `make`
/// builds from its nonce, returns the connection and the `connect_info`
/// INFO.
fn raw_leaf(port: u16, make: impl FnOnce(&str) -> String) -> (Raw, serde_json::Value) {
    let mut r = Raw::connect(port);
    let info = common::parse_info(&r.expect("\r\n"));
    let connect = make(info["nonce"].as_str().unwrap_or_default());
    r.send(format!("CONNECT {connect}\r\n").as_bytes());
    let line = r.expect("\r\n");
    assert!(line.starts_with("INFO "), "{line}");
    let ci = common::parse_info(&line);
    assert_eq!(ci["connect_info"], true, "{ci}");
    (r, ci)
}

fn set(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn strs(a: &[&str]) -> BTreeSet<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Reads `r` until PONG, returning what came before it.
fn until_pong(r: &mut Raw) -> String {
    r.send(b"PING\r\n");
    r.expect("PONG\r\n")
}

/// Asserts the `connect_info` INFO carries the swapped permissions of
/// [`LU_PERMS`].
fn assert_lu_perms(ci: &serde_json::Value) {
    assert_eq!(set(&ci["export"]["allow"]), strs(&["ok.>", "req.*", "q.>"]));
    assert_eq!(set(&ci["export"]["deny"]), strs(&["ok.secret"]));
    assert_eq!(set(&ci["import"]["allow"]), strs(&["ok.>", "q.>"]));
    assert_eq!(set(&ci["import"]["deny"]), strs(&["ok.hidden"]));
}

#[test]
fn connect_info_carries_the_swapped_permissions_and_only_permitted_interest_is_advertised() {
    let h = hub();
    let mut a = app(&h);
    // Interest before the link: the dump filters it.
    a.send(b"SUB ok.a 1\r\nSUB nope.a 2\r\nSUB ok.secret 3\r\nSUB ok.* 4\r\nSUB nope.* 5\r\nSUB > 6\r\nPING\r\n");
    a.expect("PONG\r\n");
    let (mut r, ci) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"lu","pass":"lp"}"#.into()
    });
    assert_eq!(ci["remote_account"], "A");
    assert_lu_perms(&ci);
    // The dump: what the leaf user may publish (a wildcard that covers
    // an allowed subject counts), and the loop subject.
    let mut dump = String::new();
    let until = Instant::now() + DEADLINE;
    while !dump.contains("LS+ $LDS.") {
        assert!(Instant::now() < until, "{dump}");
        dump.push_str(&until_pong(&mut r));
    }
    for want in ["LS+ ok.a\r\n", "LS+ ok.*\r\n", "LS+ >\r\n"] {
        assert!(dump.contains(want), "{want:?} missing from {dump}");
    }
    for not in ["nope.a", "ok.secret", "nope.*"] {
        assert!(!dump.contains(not), "{not} advertised: {dump}");
    }
    // Later interest: the denied subscription (made first) is never told.
    a.send(b"SUB nope.b 7\r\nSUB ok.secret 8\r\nSUB ok.b 9\r\nPING\r\n");
    a.expect("PONG\r\n");
    let got = r.expect("LS+ ok.b\r\n");
    assert!(
        !got.contains("nope.b") && !got.contains("ok.secret"),
        "{got}"
    );
}

#[test]
fn a_denied_lmsg_from_the_leaf_is_a_publish_violation_that_closes_the_link() {
    let h = hub();
    let mut a = app(&h);
    a.send(b"SUB ok.x 1\r\nSUB nope.x 2\r\nSUB _R_.abc 3\r\nPING\r\n");
    a.expect("PONG\r\n");
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"lu","pass":"lp"}"#.into()
    });
    // Allowed, and the always-allowed service reply prefix.
    r.send(b"LMSG ok.x 2\r\nhi\r\nLMSG _R_.abc 2\r\nre\r\n");
    a.expect("MSG ok.x 1 2\r\nhi\r\n");
    a.expect("MSG _R_.abc 3 2\r\nre\r\n");
    // ok.secret is denied, nope.x is outside the allow list.
    r.send(b"LMSG nope.x 2\r\nno\r\n");
    let rest = r.read_to_close();
    assert!(
        rest.contains("-ERR 'Permissions Violation for Publish to \"nope.x\"'\r\n"),
        "{rest}"
    );
    let line = h.expect_log("Publish Violation on \"nope.x\" - Check other side configuration");
    assert!(line.contains("[ERR]"), "{line}");
    h.expect_log("Leafnode connection closed");
    // The message went nowhere.
    let got = until_pong(&mut a);
    assert!(!got.contains("nope.x"), "{got}");
    // A second raw leaf with a denied subject inside an allowed prefix.
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW2","user":"lu","pass":"lp"}"#.into()
    });
    r.send(b"LMSG ok.secret 2\r\nno\r\n");
    assert!(r
        .read_to_close()
        .contains("-ERR 'Permissions Violation for Publish to \"ok.secret\"'\r\n"));
}

#[test]
fn a_literal_denied_ls_plus_is_a_subscription_violation_and_wildcards_are_filtered_per_message() {
    let h = hub();
    let mut a = app(&h);
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"lu","pass":"lp"}"#.into()
    });
    // A wildcard interest is accepted; what the user may not receive is
    // filtered from it per message.
    r.send(b"LS+ ok.>\r\nLS+ q.jobs workers 1\r\n");
    await_interest(&mut a, &mut r, "ok.probe");
    a.send(b"PUB ok.hidden 3\r\nbad\r\nPUB ok.y 4\r\ngood\r\n");
    let got = r.expect("LMSG ok.y 4\r\ngood\r\n");
    assert!(!got.contains("bad"), "{got}");
    // The queue interest: a message for it names the group.
    a.send(b"PUB q.jobs 1\r\nj\r\n");
    r.expect("LMSG q.jobs | workers 1\r\nj\r\n");
    // A literal interest the user may not subscribe to.
    r.send(b"LS+ ok.hidden\r\n");
    let rest = r.read_to_close();
    assert!(
        rest.contains("-ERR 'Permissions Violation for Subscription to \"ok.hidden\"'\r\n"),
        "{rest}"
    );
    let line =
        h.expect_log("Subscription Violation on \"ok.hidden\" - Check other side configuration");
    assert!(line.contains("[ERR]"), "{line}");
}

/// The leaf: nats-server 2.15.1 (`reference`) or the server under test,
/// soliciting `port` as `lu`.
fn leaf_of(port: u16, reference: bool) -> Server {
    let conf = format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://lu:lp@127.0.0.1:{port}\" }} ] }}\n"
    );
    let l = if reference {
        Server::start_reference(&conf)
    } else {
        Server::start(&conf)
    };
    l.expect_log("Leafnode connection created for account: $G");
    l
}

fn both_ways_with_a_real_leaf(reference: bool) {
    let h = hub();
    let l = leaf_of(h.leaf_port.unwrap(), reference);
    h.expect_log("Leafnode connection created");
    let mut a = app(&h);
    let mut on_leaf = client(l.client_port);
    // leaf → hub: ok.secret stays on the leaf (the leaf keeps to the
    // `export` it was sent, or the hub would close the link).
    a.send(b"SUB ok.* 1\r\nSUB req.* 2\r\nPING\r\n");
    a.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut a, "ok.a");
    on_leaf.send(b"PUB ok.secret 6\r\nsecret\r\nPUB ok.x 4\r\nopen\r\n");
    let got = a.expect("MSG ok.x 1 4\r\nopen\r\n");
    assert!(!got.contains("secret"), "{got}");
    // hub → leaf: ok.hidden is not delivered to the leaf's wildcard.
    on_leaf.send(b"SUB ok.* 11\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut a, &mut on_leaf, "ok.b");
    a.send(b"PUB ok.hidden 3\r\nbad\r\nPUB ok.y 4\r\ngood\r\n");
    let got = on_leaf.expect("MSG ok.y 11 4\r\ngood\r\n");
    assert!(!got.contains("bad"), "{got}");
    // Queue subscriptions through the link: the leaf's members get each
    // message once.
    on_leaf.send(b"SUB q.jobs workers 12\r\nSUB q.jobs workers 13\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let until = Instant::now() + DEADLINE;
    loop {
        a.send(b"PUB q.jobs 5\r\nprobe\r\n");
        if wait_for(&mut on_leaf, "probe\r\n", Duration::from_millis(200)) {
            break;
        }
        assert!(Instant::now() < until, "queue interest never crossed");
    }
    until_pong(&mut a);
    while wait_for(&mut on_leaf, "probe\r\n", Duration::from_millis(300)) {}
    on_leaf.buf.clear();
    for i in 0..20 {
        a.send(format!("PUB q.jobs 2\r\n{i:02}\r\n").as_bytes());
    }
    for i in 0..20 {
        on_leaf.expect(&format!("\r\n{i:02}\r\n"));
    }
    let extra = until_pong(&mut on_leaf);
    assert!(!extra.contains("MSG q.jobs"), "a message twice: {extra}");
    // The link is still the first one.
    while let Ok(line) = l.log.try_recv() {
        assert!(!line.contains("Leafnode connection closed"), "{line}");
    }
}

#[test]
fn a_nats_server_leaf_with_a_permissioned_user_both_ways_and_queues() {
    both_ways_with_a_real_leaf(true);
}

#[test]
fn the_leaf_under_test_with_a_permissioned_user_both_ways_and_queues() {
    both_ways_with_a_real_leaf(false);
}

#[test]
fn credentials_on_the_wrong_port_are_refused() {
    let h = hub();
    // The leaf user (LEAFNODE only) on the client port.
    let mut c = Raw::connect(h.client_port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"lu\",\"pass\":\"lp\"}\r\nPING\r\n");
    assert!(c
        .read_to_close()
        .contains("-ERR 'Authorization Violation'\r\n"));
    // … and on the websocket port.
    let (mut w, _) = common::Conn::ws(h.ws_port.unwrap(), &[]);
    w.send(b"CONNECT {\"verbose\":false,\"user\":\"lu\",\"pass\":\"lp\"}\r\nPING\r\n");
    let (text, _) = w.expect_end();
    assert!(text.contains("-ERR 'Authorization Violation'"), "{text}");
    // A client user (standard and websocket only) on the leafnode port.
    let mut r = Raw::connect(h.leaf_port.unwrap());
    r.expect("\r\n");
    r.send(b"CONNECT {\"user\":\"app\",\"pass\":\"p\"}\r\n");
    assert!(r
        .read_to_close()
        .contains("-ERR 'Authorization Violation'\r\n"));
    h.expect_log("authentication error - User \"app\"");
}

#[test]
fn global_authorization_and_nkey_users_carry_their_permissions_to_the_link() {
    let nk = KeyPair::new_user();
    let h = Server::start(&format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nauthorization {{ users: [ {{ user: lu, password: lp, allowed_connection_types: [\"LEAFNODE\"], permissions: {{ publish: \"up.>\", subscribe: {{ deny: \"down.no\" }} }} }}, {{ nkey: {}, permissions: {{ publish: {{ deny: \"x.>\" }} }} }}, {{ user: app, password: p }} ] }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        nk.public_key()
    ));
    let (mut r, ci) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"lu","pass":"lp"}"#.into()
    });
    assert_eq!(ci["remote_account"], "$G");
    assert_eq!(set(&ci["export"]["allow"]), strs(&["up.>"]));
    assert!(ci["export"].get("deny").is_none(), "{ci}");
    assert_eq!(set(&ci["import"]["deny"]), strs(&["down.no"]));
    assert!(ci["import"].get("allow").is_none(), "{ci}");
    r.send(b"LMSG other 1\r\nx\r\n");
    assert!(r
        .read_to_close()
        .contains("-ERR 'Permissions Violation for Publish to \"other\"'\r\n"));
    // The nkey user: signs the nonce; only `export` is sent (no
    // subscribe permissions).
    let (mut r, ci) = raw_leaf(h.leaf_port.unwrap(), |nonce| {
        format!(
            r#"{{"name":"RAWNK","nkey":"{}","sig":"{}"}}"#,
            nk.public_key(),
            jwt::sign_nonce(&nk, nonce)
        )
    });
    assert_eq!(set(&ci["export"]["deny"]), strs(&["x.>"]));
    assert!(ci.get("import").is_none(), "{ci}");
    let mut a = Raw::connect(h.client_port);
    a.expect("\r\n");
    a.send(b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nSUB y 1\r\nPING\r\n");
    a.expect("PONG\r\n");
    r.send(b"LMSG y 2\r\nok\r\n");
    a.expect("MSG y 1 2\r\nok\r\n");
    r.send(b"LMSG x.1 2\r\nno\r\n");
    assert!(r
        .read_to_close()
        .contains("-ERR 'Permissions Violation for Publish to \"x.1\"'\r\n"));
}

#[test]
fn leafnodes_authorization_users_have_no_permissions() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\naccounts { A: { users: [ { user: app, password: p } ] } }\nleafnodes { host: 127.0.0.1, port: -1, authorization { users: [ { user: edge, password: e, account: A } ] } }\n",
    );
    let (mut r, ci) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"edge","pass":"e"}"#.into()
    });
    assert_eq!(ci["remote_account"], "A");
    assert!(
        ci.get("import").is_none() && ci.get("export").is_none(),
        "{ci}"
    );
    let mut a = app(&h);
    a.send(b"SUB any.thing 1\r\nPING\r\n");
    a.expect("PONG\r\n");
    r.send(b"LS+ some.where\r\nLMSG any.thing 1\r\nz\r\n");
    a.expect("MSG any.thing 1 1\r\nz\r\n");
    a.send(b"PUB some.where 1\r\nw\r\n");
    r.expect("LMSG some.where 1\r\nw\r\n");
}

#[test]
fn an_operator_mode_jwt_users_pub_and_sub_permissions_apply_to_the_link() {
    let (op, acc, user) = (
        KeyPair::new_operator(),
        KeyPair::new_account(),
        KeyPair::new_user(),
    );
    let h = Server::start(&format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\noperator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{ {}: \"{}\" }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        jwt::operator(&op, None),
        acc.public_key(),
        jwt::account(&op, &acc, "A", &[]),
    ));
    let user_jwt = jwt::user(
        &acc,
        &user,
        jwt::User {
            nats: serde_json::json!({"pub": {"allow": ["j.>"]}, "sub": {"deny": ["k.no"]}}),
            ..Default::default()
        },
    );
    let (mut r, ci) = raw_leaf(h.leaf_port.unwrap(), |nonce| {
        format!(
            r#"{{"name":"RAWJ","jwt":"{user_jwt}","sig":"{}"}}"#,
            jwt::sign_nonce(&user, nonce)
        )
    });
    assert_eq!(ci["remote_account"], acc.public_key());
    assert_eq!(set(&ci["export"]["allow"]), strs(&["j.>"]));
    assert_eq!(set(&ci["import"]["deny"]), strs(&["k.no"]));
    r.send(b"LS+ k.no\r\n");
    assert!(r
        .read_to_close()
        .contains("-ERR 'Permissions Violation for Subscription to \"k.no\"'\r\n"));
}

/// The hub under test reloads: the leaf user's permissions change (the
/// link is closed and the leaf comes back with the new ones), then the
/// user is removed (the link is closed and refused). nats-server 2.15.1
/// does not re-check leaf links on reload (`reloadAuthorization` walks
/// client connections only): natsws-only.
#[test]
fn a_reload_rechecks_the_link_of_a_nats_server_leaf_like_a_client() {
    reload_rechecks(true);
}

#[test]
fn a_reload_rechecks_the_link_of_the_leaf_under_test_like_a_client() {
    reload_rechecks(false);
}

fn reload_rechecks(reference_leaf: bool) {
    if common::is_reference() {
        return;
    }
    let h = hub();
    let l = leaf_of(h.leaf_port.unwrap(), reference_leaf);
    h.expect_log("Leafnode connection created");
    let mut a = app(&h);
    let mut on_leaf = client(l.client_port);
    a.send(b"SUB ok.* 1\r\nSUB more.* 2\r\nPING\r\n");
    a.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut a, "ok.a");
    // A reload that changes nothing keeps the link.
    std::fs::write(h.conf_path(), hub_conf(LU_PERMS)).unwrap();
    h.hangup();
    h.expect_log("Reloaded server configuration");
    on_leaf.send(b"PUB ok.b 1\r\nb\r\n");
    a.expect("MSG ok.b 1 1\r\nb\r\n");
    // The user may now publish more.* too: the link closes and comes
    // back with the new permissions.
    let wider = LU_PERMS.replace(r#""q.>"], deny"#, r#""q.>", "more.>"], deny"#);
    assert_ne!(wider, LU_PERMS);
    std::fs::write(h.conf_path(), hub_conf(&wider)).unwrap();
    h.hangup();
    h.expect_log("Leafnode user permissions changed on reload");
    h.expect_log("Leafnode connection closed: Client Closed");
    l.expect_log("Leafnode connection created for account: $G");
    await_interest(&mut on_leaf, &mut a, "more.a");
    // The user is removed: the link is closed and refused from then on.
    let gone = hub_conf(LU_PERMS).replace(
        &format!(
            "{{ user: lu, password: lp, allowed_connection_types: [\"LEAFNODE\"], {LU_PERMS} }}, "
        ),
        "",
    );
    assert!(!gone.contains("user: lu"), "{gone}");
    std::fs::write(h.conf_path(), gone).unwrap();
    h.hangup();
    h.expect_log("Leafnode connection closed: Authentication Failure");
    l.expect_log("Leafnode Error 'Authorization Violation'");
}

/// A raw leaf bound to `$G` on a hub without auth.
fn open_leaf(port: u16, name: &str) -> Raw {
    raw_leaf(port, |_| format!(r#"{{"name":"{name}"}}"#)).0
}

/// Publishes `n` messages on `q.w` from `from`, then counts the LMSGs each
/// raw leaf got (everything up to its PONG).
fn spread(from: &mut Raw, leaves: &mut [&mut Raw], n: usize) -> Vec<usize> {
    for _ in 0..n {
        from.send(b"PUB q.w 1\r\nm\r\n");
    }
    until_pong(from);
    leaves
        .iter_mut()
        .map(|l| until_pong(l).matches("LMSG q.w ").count())
        .collect()
}

/// Queue weights (spec §4.2; nats-server shadows a leaf's queue
/// subscription `weight` times in the sublist and prefers local members):
/// two leaves with weights 9 and 1 share a group about 9:1, a weight
/// update rebalances it, the hub tells a third leaf the summed weight, and
/// a local member takes everything.
#[test]
fn queue_members_of_several_leaves_are_chosen_by_weight_and_local_members_first() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let port = h.leaf_port.unwrap();
    let mut l1 = open_leaf(port, "L1");
    let mut l2 = open_leaf(port, "L2");
    l1.send(b"LS+ q.w grp 9\r\n");
    l2.send(b"LS+ q.w grp 1\r\n");
    until_pong(&mut l1);
    until_pong(&mut l2);
    let mut pubr = client(h.client_port);
    // Both interests are in once a probe reaches each leaf.
    let until = Instant::now() + DEADLINE;
    loop {
        let got = spread(&mut pubr, &mut [&mut l1, &mut l2], 50);
        if got.iter().all(|&n| n > 0) {
            break;
        }
        assert!(Instant::now() < until, "interest never registered: {got:?}");
    }
    let got = spread(&mut pubr, &mut [&mut l1, &mut l2], 400);
    assert_eq!(got[0] + got[1], 400, "each message once: {got:?}");
    // Expected 360:40 (a uniform choice would give 200:200).
    assert!((10..=100).contains(&got[1]), "weights 9:1 gave {got:?}");
    // The hub tells another leaf the group's total weight.
    let mut l3 = open_leaf(port, "L3");
    let dump = until_pong(&mut l3);
    assert!(dump.contains("LS+ q.w grp 10\r\n"), "{dump}");
    // L2's weight becomes 9: the split evens out, L3 hears the new total.
    l2.send(b"LS+ q.w grp 9\r\n");
    until_pong(&mut l2);
    l3.expect("LS+ q.w grp 18\r\n");
    let got = spread(&mut pubr, &mut [&mut l1, &mut l2], 400);
    assert_eq!(got[0] + got[1], 400, "{got:?}");
    assert!((120..=280).contains(&got[1]), "weights 9:9 gave {got:?}");
    // A local member of the group takes every message.
    let mut local = client(h.client_port);
    local.send(b"SUB q.w grp 1\r\nPING\r\n");
    local.expect("PONG\r\n");
    let got = spread(&mut pubr, &mut [&mut l1, &mut l2], 100);
    assert_eq!(got, vec![0, 0]);
    assert_eq!(
        until_pong(&mut local).matches("MSG q.w 1 1\r\n").count(),
        100
    );
}

/// `allow_responses` on the leaf user (nats-server `leafMsgAllowed` →
/// `responseAllowed`): a reply subject delivered over the link may be
/// published back once; a second message on it is a publish violation.
#[test]
fn allow_responses_lets_one_reply_back_over_the_link() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\naccounts { A: { users: [ { user: lr, password: p, permissions: { subscribe: \"svc.>\", allow_responses: true } }, { user: app, password: p } ] } }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","user":"lr","pass":"p"}"#.into()
    });
    let mut a = app(&h);
    a.send(b"SUB _INBOX.r1 1\r\nPING\r\n");
    a.expect("PONG\r\n");
    r.send(b"LS+ svc.a\r\n");
    until_pong(&mut r);
    a.send(b"PUB svc.a _INBOX.r1 1\r\nq\r\n");
    r.expect("LMSG svc.a _INBOX.r1 1\r\nq\r\n");
    r.send(b"LMSG _INBOX.r1 1\r\nA\r\n");
    a.expect("MSG _INBOX.r1 1 1\r\nA\r\n");
    r.send(b"LMSG _INBOX.r1 1\r\nB\r\n");
    let rest = r.read_to_close();
    assert!(
        rest.contains("-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n"),
        "{rest}"
    );
    let got = until_pong(&mut a);
    assert!(!got.contains("\r\nB\r\n"), "{got}");
}

/// A leaf that said `"is_hub":true` makes the hub under test the spoke:
/// a message outside the user's publish rights is dropped silently (no
/// `-ERR`, the link stays), others pass (nats-server `leafPermViolation`
/// is a no-op for a spoke).
#[test]
fn as_the_spoke_of_an_is_hub_leaf_denied_messages_are_dropped_silently() {
    let h = hub();
    let mut a = app(&h);
    a.send(b"SUB ok.x 1\r\nSUB nope.x 2\r\nPING\r\n");
    a.expect("PONG\r\n");
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAWHUB","is_hub":true,"user":"lu","pass":"lp"}"#.into()
    });
    r.send(b"LMSG nope.x 2\r\nno\r\nLMSG ok.x 3\r\nyes\r\n");
    let got = a.expect("MSG ok.x 1 3\r\nyes\r\n");
    assert!(!got.contains("nope.x"), "{got}");
    let back = until_pong(&mut r);
    assert!(!back.contains("-ERR"), "{back}");
}

/// A nats-server leaf over WebSocket (`ws://` to the hub's websocket
/// port): the connection type is `LEAFNODE_WS`, so a user allowed only
/// `LEAFNODE` is refused, one allowed `LEAFNODE_WS` is bound with its
/// permissions applied to the link.
#[test]
fn a_websocket_leaf_is_leafnode_ws_and_gets_its_users_permissions() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\naccounts { A: { users: [ { user: lu, password: lp, allowed_connection_types: [\"LEAFNODE\"] }, { user: lw, password: lp, allowed_connection_types: [\"LEAFNODE_WS\"], permissions: { publish: { deny: \"ws.secret\" }, subscribe: { deny: \"ws.hidden\" } } }, { user: app, password: p } ] } }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let ws = h.ws_port.unwrap();
    let refused = Server::start_reference(&format!(
        "server_name: WSL0\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://lu:lp@127.0.0.1:{ws}\" }} ] }}\n"
    ));
    h.expect_log("authentication error - User \"lu\"");
    drop(refused);
    let l = Server::start_reference(&format!(
        "server_name: WSL\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://lw:lp@127.0.0.1:{ws}\" }} ] }}\n"
    ));
    l.expect_log("Leafnode connection created for account: $G");
    let mut a = app(&h);
    let mut on_leaf = client(l.client_port);
    a.send(b"SUB ws.* 1\r\nPING\r\n");
    a.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut a, "ws.a");
    on_leaf.send(b"PUB ws.secret 1\r\ns\r\nPUB ws.b 1\r\nb\r\n");
    let got = a.expect("MSG ws.b 1 1\r\nb\r\n");
    assert!(!got.contains("ws.secret"), "{got}");
    on_leaf.send(b"SUB ws.* 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut a, &mut on_leaf, "ws.c");
    a.send(b"PUB ws.hidden 1\r\nh\r\nPUB ws.d 1\r\nd\r\n");
    let got = on_leaf.expect("MSG ws.d 2 1\r\nd\r\n");
    assert!(!got.contains("ws.hidden"), "{got}");
}

/// A leaf's `deny_imports` arrive as CONNECT `deny_pub`; the hub then
/// never sends those subjects over the link, even to a wildcard interest
/// (spec §3.5 item 8, nats-server `mergeDenyPermissions`).
#[test]
fn deny_pub_in_connect_keeps_those_subjects_off_the_link() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |_| {
        r#"{"name":"RAW","deny_pub":["admin.>"]}"#.into()
    });
    let mut c = client(h.client_port);
    r.send(b"LS+ >\r\n");
    until_pong(&mut r);
    c.send(b"PUB admin.x 4\r\nroot\r\nPUB news.x 2\r\nok\r\n");
    let got = r.expect("LMSG news.x 2\r\nok\r\n");
    assert!(!got.contains("root"), "{got}");
}

/// Soliciting with `hub: true`, the server under test takes the hub role:
/// an LMSG from the accepting peer on a `deny_exports` subject is a
/// publish violation (exact `-ERR`, log line, close), others pass
/// (nats-server `TestLeafNodeSolicitedHubLMSGHonorsExportPermissions`).
/// The accepting peer is a scripted one.
#[test]
fn a_hub_true_solicitor_refuses_what_deny_exports_forbids() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let l = Server::start(&format!(
        "server_name: HUBSOL\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", hub: true, deny_exports: [\"secret.>\"] }} ] }}\n"
    ));
    let mut c = client(l.client_port);
    c.send(b"SUB ok.x 1\r\nSUB secret.x 2\r\nPING\r\n");
    c.expect("PONG\r\n");
    // The dial, taken on a thread so the wait has a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept().map(|(s, _)| s));
    });
    let sock = rx
        .recv_timeout(DEADLINE)
        .expect("the leaf never dialed")
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut peer = Raw {
        sock,
        buf: Vec::new(),
    };
    let info = format!(
        r#"{{"server_id":"NFAKE","server_name":"FAKE","version":"2.15.1","proto":3,"headers":true,"max_payload":1048576,"client_id":7,"nonce":"n0nce","info_on_connect":true,"leafnode_urls":["127.0.0.1:{port}"]}}"#
    );
    peer.send(format!("INFO {info}\r\n").as_bytes());
    let connect = peer.expect("\r\n");
    assert!(connect.starts_with("CONNECT "), "{connect}");
    assert!(connect.contains("\"is_hub\":true"), "{connect}");
    peer.send(
        format!(
            "INFO {}\r\n",
            info.replace(
                "\"nonce\":\"n0nce\"",
                "\"connect_info\":true,\"remote_account\":\"$G\""
            )
        )
        .as_bytes(),
    );
    peer.send(b"LMSG ok.x 2\r\nhi\r\n");
    c.expect("MSG ok.x 1 2\r\nhi\r\n");
    peer.send(b"LMSG secret.x 2\r\nno\r\n");
    let rest = peer.read_to_close();
    assert!(
        rest.contains("-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n"),
        "{rest}"
    );
    l.expect_log("Publish Violation on \"secret.x\" - Check other side configuration");
    let got = until_pong(&mut c);
    assert!(!got.contains("secret.x"), "{got}");
}

/// A link with both a plain and a queue interest matching a message gets
/// it once, as one LMSG naming the queue group (nats-server
/// `processMsgResults` collects a leaf's queue names into its one
/// delivery), so the leaf delivers it to its plain subscribers and its
/// queue member.
#[test]
fn a_link_with_plain_and_queue_interest_gets_one_lmsg_naming_the_group() {
    let h = Server::start(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let mut r = open_leaf(h.leaf_port.unwrap(), "RAW");
    r.send(b"LS+ both\r\nLS+ both grp 1\r\n");
    until_pong(&mut r);
    let mut c = client(h.client_port);
    c.send(b"PUB both 1\r\nx\r\nPUB both r 1\r\ny\r\n");
    until_pong(&mut c);
    let got = until_pong(&mut r);
    assert_eq!(
        got.matches("MSG both").count(),
        2,
        "one LMSG per message: {got}"
    );
    assert!(got.contains("LMSG both | grp 1\r\nx\r\n"), "{got}");
    assert!(got.contains("LMSG both + r grp 1\r\ny\r\n"), "{got}");
}

/// A JWT user with `exp` bound to an accepted link: when it expires the
/// hub sends `-ERR 'User Authentication Expired'` and closes the link
/// (`Authentication Expired`), as for a client.
#[test]
fn an_expiring_jwt_user_closes_the_link_when_it_expires() {
    let (op, acc, user) = (
        KeyPair::new_operator(),
        KeyPair::new_account(),
        KeyPair::new_user(),
    );
    let h = Server::start(&format!(
        "server_name: HUBT\nhost: 127.0.0.1\nport: -1\noperator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{ {}: \"{}\" }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        jwt::operator(&op, None),
        acc.public_key(),
        jwt::account(&op, &acc, "A", &[]),
    ));
    let user_jwt = jwt::user(
        &acc,
        &user,
        jwt::User {
            exp: Some(jwt::now() + 2),
            ..Default::default()
        },
    );
    let started = Instant::now();
    let (mut r, _) = raw_leaf(h.leaf_port.unwrap(), |nonce| {
        format!(
            r#"{{"name":"RAWJ","jwt":"{user_jwt}","sig":"{}"}}"#,
            jwt::sign_nonce(&user, nonce)
        )
    });
    // Still up right after the handshake.
    assert!(until_pong(&mut r).contains("LS+ $LDS."));
    // `exp` is at most 2 s after the handshake (whole seconds).
    r.expect("-ERR 'User Authentication Expired'\r\n");
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
    r.read_to_close();
    h.expect_log("Leafnode connection closed: Authentication Expired");
}
