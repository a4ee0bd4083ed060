//! Leafnode nkey authentication (spec `leafnode.md` §2.2, §2.3, §3.6): a
//! remote's `nkey` seed signs the hub's INFO nonce; the accepting side's
//! `leafnodes.authorization { nkey }` checks the key and the signature.
//! Both roles against a nats-server peer; the whole file also passes with
//! nats-server as the server under test.

mod common;

use common::{Raw, Server};

/// Builds a CONNECT body from the INFO nonce.
type MakeConnect<'a> = dyn Fn(&str) -> String + 'a;

/// A hub accepting only the user nkey `public` (bound to `$G`).
fn nkey_hub(start: fn(&str) -> Server, public: &str) -> Server {
    start(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, authorization {{ nkey: \"{public}\" }} }}\n"
    ))
}

/// A leaf soliciting `port` with `nkey: <seed>`.
fn nkey_leaf(start: fn(&str) -> Server, port: u16, seed: &str) -> Server {
    start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", nkey: \"{seed}\" }} ] }}\n"
    ))
}

/// Round trip a message hub → leaf: the link carries traffic.
fn hub_to_leaf(hub: &Server, leaf: &Server) {
    let mut on_leaf = Raw::connect(leaf.client_port);
    on_leaf.expect("\r\n");
    on_leaf.send(b"CONNECT {\"verbose\":false}\r\nSUB nk.x 1\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let mut on_hub = Raw::connect(hub.client_port);
    on_hub.expect("\r\n");
    on_hub.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        on_hub.send(b"PUB nk.x 2\r\nhi\r\nPING\r\n");
        on_hub.expect("PONG\r\n");
        on_leaf.send(b"PING\r\n");
        if on_leaf
            .expect("PONG\r\n")
            .contains("MSG nk.x 1 2\r\nhi\r\n")
        {
            return;
        }
        assert!(std::time::Instant::now() < until, "nothing crossed");
    }
}

#[test]
fn solicited_nkey_remote_signs_the_nonce_for_a_nats_server_hub() {
    let kp = nkeys::KeyPair::new_user();
    let hub = nkey_hub(Server::start_reference, &kp.public_key());
    let leaf = nkey_leaf(Server::start, hub.leaf_port.unwrap(), &kp.seed().unwrap());
    hub_to_leaf(&hub, &leaf);
}

#[test]
fn accepted_nkey_leaf_from_nats_server_is_bound() {
    let kp = nkeys::KeyPair::new_user();
    let hub = nkey_hub(Server::start, &kp.public_key());
    let leaf = nkey_leaf(
        Server::start_reference,
        hub.leaf_port.unwrap(),
        &kp.seed().unwrap(),
    );
    hub.expect_log("Leafnode connection created");
    hub_to_leaf(&hub, &leaf);
}

#[test]
fn accepting_side_refuses_a_wrong_key_a_bad_signature_and_no_signature() {
    let kp = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let hub = nkey_hub(Server::start, &kp.public_key());
    let port = hub.leaf_port.unwrap();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let cases: Vec<Box<MakeConnect>> = vec![
        // Another key, correctly signed.
        Box::new(|nonce| {
            let sig = b64(&other.sign(nonce.as_bytes()).unwrap());
            format!("{{\"nkey\":\"{}\",\"sig\":\"{sig}\"}}", other.public_key())
        }),
        // The right key, signing another nonce.
        Box::new(|_| {
            let sig = b64(&kp.sign(b"not the nonce").unwrap());
            format!("{{\"nkey\":\"{}\",\"sig\":\"{sig}\"}}", kp.public_key())
        }),
        // The right key, no signature.
        Box::new(|_| format!("{{\"nkey\":\"{}\"}}", kp.public_key())),
        // No credentials at all.
        Box::new(|_| "{}".to_string()),
    ];
    for connect in &cases {
        let mut raw = Raw::connect(port);
        let info = raw.expect("\r\n");
        let info = common::parse_info(info.trim_end());
        let nonce = info["nonce"].as_str().expect("nonce").to_string();
        raw.send(format!("CONNECT {}\r\n", connect(&nonce)).as_bytes());
        let got = raw.read_to_close();
        assert!(got.contains("-ERR 'Authorization Violation'\r\n"), "{got}");
    }
    // The right key signing this connection's nonce is accepted.
    let mut raw = Raw::connect(port);
    let info = raw.expect("\r\n");
    let nonce = common::parse_info(info.trim_end())["nonce"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = b64(&kp.sign(nonce.as_bytes()).unwrap());
    raw.send(
        format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"protocol\":3}}\r\nPING\r\n",
            kp.public_key()
        )
        .as_bytes(),
    );
    let got = raw.expect("PONG\r\n");
    assert!(!got.contains("-ERR"), "{got}");
}

#[test]
fn config_errors_name_the_bad_seed_and_the_bad_public_key() {
    let err = Server::try_start(
        "port: -1\nleafnodes { remotes [ { url: \"nats-leaf://127.0.0.1:1\", nkey: \"SUnotaseed\" } ] }\n",
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("Remote leafnode nkey is not a valid seed: \"SUnotaseed\""),
        "{err}"
    );
    let err = Server::try_start(
        "port: -1\nleafnodes { port: -1, authorization { nkey: \"Unotakey\" } }\n",
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("Not a valid public nkey for leafnode authorization"),
        "{err}"
    );
}
