//! A leafnode remote's `credentials` file (spec `leafnode.md` §2.3, §3.6):
//! the server under test solicits a nats-server hub in operator mode with
//! a user JWT + seed file; the JWT and the nonce signature bind the link
//! to the JWT's account. Also passes with nats-server as the leaf.

mod common;

use std::time::Instant;

use common::{jwt, Raw, Server, TempDir, DEADLINE};
use nkeys::KeyPair;

fn creds_file(dir: &TempDir, name: &str, user_jwt: &str, seed: &str) -> String {
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\nNKEYs are sensitive and should be treated as secrets.\n\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n*************************************************************\n"
    );
    let path = dir.0.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A nats-server hub trusting `op` with the one account `acc`.
fn operator_hub(op: &KeyPair, acc: &KeyPair) -> Server {
    Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\noperator: \"{}\"\nresolver: MEMORY\nresolver_preload: {{ {}: \"{}\" }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        jwt::operator(op, None),
        acc.public_key(),
        jwt::account(op, acc, "A", &[]),
    ))
}

#[test]
fn credentials_remote_binds_to_the_jwt_account_of_an_operator_mode_hub() {
    let (op, acc, user) = (
        KeyPair::new_operator(),
        KeyPair::new_account(),
        KeyPair::new_user(),
    );
    let hub = operator_hub(&op, &acc);
    let dir = TempDir::new();
    let user_jwt = jwt::user(&acc, &user, jwt::User::default());
    let path = creds_file(&dir, "leaf.creds", &user_jwt, &user.seed().unwrap());
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", credentials: \"{path}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    // The hub's log (started earlier, so its lines follow its own ready
    // line): a nats-server leaf may log its link before `Server is ready`.
    hub.expect_log("Leafnode connection created");
    // A client of account A on the hub (a JWT user of its own) hears the
    // leaf's publishes: the link is bound to A.
    let me = KeyPair::new_user();
    let my_jwt = jwt::user(&acc, &me, jwt::User::default());
    let mut on_hub = Raw::connect(hub.client_port);
    let info = common::parse_info(on_hub.expect("\r\n").trim_end());
    let sig = jwt::sign_nonce(&me, info["nonce"].as_str().unwrap());
    on_hub.send(
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{my_jwt}\",\"sig\":\"{sig}\"}}\r\nSUB cr.x 1\r\nPING\r\n")
            .as_bytes(),
    );
    on_hub.expect("PONG\r\n");
    let mut on_leaf = Raw::connect(leaf.client_port);
    on_leaf.expect("\r\n");
    on_leaf.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let until = Instant::now() + DEADLINE;
    loop {
        on_leaf.send(b"PUB cr.x 2\r\nhi\r\nPING\r\n");
        on_leaf.expect("PONG\r\n");
        on_hub.send(b"PING\r\n");
        if on_hub.expect("PONG\r\n").contains("MSG cr.x 1 2\r\nhi\r\n") {
            break;
        }
        assert!(Instant::now() < until, "nothing crossed");
    }
}

#[test]
fn a_user_of_an_unknown_account_is_refused_by_the_hub() {
    let (op, acc, user) = (
        KeyPair::new_operator(),
        KeyPair::new_account(),
        KeyPair::new_user(),
    );
    let hub = operator_hub(&op, &acc);
    let dir = TempDir::new();
    let stranger = KeyPair::new_account();
    let user_jwt = jwt::user(&stranger, &user, jwt::User::default());
    let path = creds_file(&dir, "bad.creds", &user_jwt, &user.seed().unwrap());
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", credentials: \"{path}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    leaf.expect_log("Leafnode Error 'Authorization Violation'");
}

#[test]
fn credentials_and_nkey_together_are_refused() {
    let kp = KeyPair::new_user();
    let err = Server::try_start(&format!(
        "port: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:1\", credentials: \"/nonexistent.creds\", nkey: \"{}\" }} ] }}\n",
        kp.seed().unwrap()
    ))
    .err()
    .expect("refused");
    assert!(
        err.contains("Remote leafnode can not have both creds and nkey defined"),
        "{err}"
    );
}

#[test]
fn an_unreadable_credentials_file_is_logged_at_connect() {
    // nats-server logs the same line once while it starts (before the
    // harness sees it ready); natsws logs it on each connect attempt.
    if common::is_reference() {
        return;
    }
    let (op, acc) = (KeyPair::new_operator(), KeyPair::new_account());
    let hub = operator_hub(&op, &acc);
    let dir = TempDir::new();
    let path = dir.0.join("missing.creds").display().to_string();
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", credentials: \"{path}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    leaf.expect_log(&format!(
        "Error reading LeafNode Remote Credentials file \"{path}\""
    ));
}
