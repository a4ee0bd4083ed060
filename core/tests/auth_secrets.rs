//! natsws_core::auth: a user with a secret is never authenticated without
//! it, and a password-less user that a `verify_and_map` listener could map
//! is a certificate-only identity everywhere else (nats-server `canTLSMap`
//! and `processClientOrLeafAuthentication`; issue 13 §1). One test per way
//! a user can be matched, then a property over random configs.
#![cfg(feature = "auth")]

mod auth_common;

use auth_common::{conn, creds, types};
use natsws_core::auth::{
    authenticate, AuthConfig, AuthError, ConnectionType, ConnectionTypes, Cookies, Identity,
    TlsIdentity, User, WebsocketAuth,
};
use natsws_core::proto::Connect;

const WS: ConnectionType = ConnectionType::Websocket;
const TCP: ConnectionType = ConnectionType::Standard;
/// A bcrypt hash (cost 4) whose password no test sends.
const BCRYPT: &str = "$2a$04$abcdefghijklmnopqrstuu5Zf/0Xp0M9U/8Wsy3R3cQZHZ5eV2wVe";
const CERT_USER: &str = "CN=app,OU=web,O=example";

fn auth(cfg: &AuthConfig, c: &Connect, kind: ConnectionType) -> Result<Identity, AuthError> {
    authenticate(cfg, &creds(c, kind))
}

fn user(name: &str, pass: Option<&str>) -> User {
    User {
        username: Some(name.into()),
        password: pass.map(Into::into),
        ..User::default()
    }
}

/// The config: a certificate user without password and a TCP user,
/// with the listeners in `map` mapping certificates.
fn cert_cfg(map: &[ConnectionType]) -> AuthConfig {
    AuthConfig {
        users: vec![user(CERT_USER, None), user("tcpuser", Some("tcppass"))],
        tls_map: types(map),
        ..AuthConfig::default()
    }
}

/// Every empty or missing secret a client can present in CONNECT.
fn empty_secrets(name: &str) -> [Connect; 3] {
    [
        conn(name, "", ""),
        Connect {
            user: name.into(),
            pass: String::new(),
            ..Connect::default()
        },
        conn(name, "", "anything-but-a-password"),
    ]
}

#[test]
fn cert_user_is_refused_by_name_where_no_certificate_was_mapped() {
    // wss maps: the plain TCP port and a websocket connection that did not
    // map (no TlsIdentity) both refuse the user by name.
    for map in [&[WS][..], &[TCP], &[TCP, WS]] {
        let cfg = cert_cfg(map);
        for kind in [TCP, WS] {
            for c in empty_secrets(CERT_USER) {
                let e = auth(&cfg, &c, kind).unwrap_err();
                assert_eq!(e.log, format!("User {CERT_USER:?}"), "{map:?} {kind:?}");
            }
        }
        // The other user is unaffected.
        assert!(auth(&cfg, &conn("tcpuser", "tcppass", ""), TCP).is_ok());
    }
}

#[test]
fn cert_user_is_selected_by_its_certificate() {
    let cfg = cert_cfg(&[WS]);
    let tls = TlsIdentity {
        subject_dn: "O=example,OU=web,CN=app".into(),
        ..TlsIdentity::default()
    };
    let c = Connect::default();
    let mut cr = creds(&c, WS);
    cr.tls = Some(&tls);
    assert_eq!(authenticate(&cfg, &cr).unwrap().user, CERT_USER);
}

#[test]
fn passwordless_user_no_listener_can_map_logs_in_by_name_as_nats_server() {
    // nats-server compares two empty passwords as equal when no listener
    // could map the user: without any verify_and_map, or when the user's
    // allowed_connection_types exclude every mapping listener.
    assert!(auth(&cert_cfg(&[]), &conn(CERT_USER, "", ""), TCP).is_ok());
    let mut tcp_only = user("tcponly", None);
    tcp_only.connection_types = types(&[TCP]);
    let cfg = AuthConfig {
        users: vec![tcp_only],
        tls_map: types(&[WS]),
        ..AuthConfig::default()
    };
    assert!(auth(&cfg, &conn("tcponly", "", ""), TCP).is_ok());
    // Any other password is still wrong.
    assert!(auth(&cfg, &conn("tcponly", "x", ""), TCP).is_err());
}

#[test]
fn cert_user_as_no_auth_user_needs_no_secret() {
    let mut cfg = cert_cfg(&[WS]);
    cfg.no_auth_user = Some(CERT_USER.into());
    assert_eq!(
        auth(&cfg, &Connect::default(), TCP).unwrap().user,
        CERT_USER
    );
    // nats-server exempts the no_auth_user when named explicitly, too.
    assert_eq!(
        auth(&cfg, &conn(CERT_USER, "", ""), TCP).unwrap().user,
        CERT_USER
    );
}

#[test]
fn user_with_password_or_bcrypt_refuses_empty_password() {
    for secret in ["pw", BCRYPT] {
        let cfg = AuthConfig {
            users: vec![user("u", Some(secret))],
            ..AuthConfig::default()
        };
        for kind in [TCP, WS] {
            for c in empty_secrets("u") {
                assert!(auth(&cfg, &c, kind).is_err(), "{secret} {kind:?}");
            }
        }
    }
}

#[test]
fn single_user_token_and_bcrypt_token_refuse_empty_secret() {
    let single = |u: Option<&str>, p: Option<&str>, t: Option<&str>| AuthConfig {
        username: u.map(Into::into),
        password: p.map(Into::into),
        token: t.map(Into::into),
        ..AuthConfig::default()
    };
    for cfg in [
        single(Some("u"), Some("pw"), None),
        single(Some("u"), Some(BCRYPT), None),
        single(None, None, Some("tok")),
        single(None, None, Some(BCRYPT)),
    ] {
        for kind in [TCP, WS] {
            for c in empty_secrets("u") {
                assert!(auth(&cfg, &c, kind).is_err(), "{kind:?}");
            }
            assert!(auth(&cfg, &Connect::default(), kind).is_err());
        }
    }
}

#[test]
fn nkey_without_signature_is_refused() {
    let kp = nkeys::KeyPair::new_user();
    let cfg = AuthConfig {
        users: vec![User {
            nkey: Some(kp.public_key()),
            ..User::default()
        }],
        ..AuthConfig::default()
    };
    for kind in [TCP, WS] {
        for sig in ["", "AAAA", "not base64 at all"] {
            let c = Connect {
                nkey: kp.public_key(),
                sig: sig.into(),
                ..Connect::default()
            };
            let e = auth(&cfg, &c, kind).unwrap_err();
            assert_eq!(e.log, format!("Nkey {:?}", kp.public_key()));
        }
    }
}

#[test]
fn websocket_override_refuses_empty_secret_on_websocket_and_is_not_used_on_tcp() {
    let ws = |u: Option<&str>, p: Option<&str>, t: Option<&str>| WebsocketAuth {
        username: u.map(Into::into),
        password: p.map(Into::into),
        token: t.map(Into::into),
        no_auth_user: None,
    };
    for wsa in [ws(Some("wu"), Some("wp"), None), ws(None, None, Some("wt"))] {
        let cfg = AuthConfig {
            users: vec![user("tcpuser", Some("tcppass"))],
            websocket: wsa.clone(),
            ..AuthConfig::default()
        };
        for c in empty_secrets("wu") {
            assert!(auth(&cfg, &c, WS).is_err());
        }
        // The websocket credentials are no credentials on the client port.
        assert!(auth(&cfg, &conn("wu", "wp", ""), TCP).is_err());
        assert!(auth(&cfg, &conn("", "", "wt"), TCP).is_err());
    }
}

#[test]
fn cookies_without_their_secret_are_refused() {
    let cfg = cert_cfg(&[WS]);
    let c = Connect::default();
    // A user cookie naming the certificate user, no pass cookie.
    let mut cr = creds(&c, WS);
    cr.cookies = Cookies {
        user: Some(CERT_USER),
        ..Cookies::default()
    };
    assert!(authenticate(&cfg, &cr).is_err());
    // A user cookie naming a password user, with an empty pass cookie.
    cr.cookies = Cookies {
        user: Some("tcpuser"),
        pass: Some(""),
        ..Cookies::default()
    };
    assert!(authenticate(&cfg, &cr).is_err());
    // An empty token cookie against a token.
    let tok = AuthConfig {
        token: Some("tok".into()),
        ..AuthConfig::default()
    };
    cr.cookies = Cookies {
        token: Some(""),
        ..Cookies::default()
    };
    assert!(authenticate(&tok, &cr).is_err());
}

// JWT: a non-bearer user JWT without a signature is refused in
// core/tests/auth_jwt.rs (`signed_user_jwt_authenticates`,
// `bearer_tokens_and_cookies`) and over
// both transports against both servers in server/tests/auth_secrets.rs.

mod prop {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 3] = ["a", "b", CERT_USER];

    fn kind_of(b: bool) -> ConnectionType {
        if b {
            WS
        } else {
            TCP
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// For random users (no password, plain, bcrypt; any connection
        /// types), mapping listeners, no_auth_user and credentials that never
        /// hold a configured secret: a user with a secret is authenticated
        /// only as the no_auth_user of a client that sent nothing, and a
        /// password-less user that some listener could map only by its
        /// certificate or as the no_auth_user.
        #[test]
        fn a_secret_is_never_bypassed(
            secrets in proptest::collection::vec(0u8..3, 3),
            user_types in proptest::collection::vec(0u8..4, 3),
            map in 0u8..4,
            no_auth in 0usize..4,
            who in 0usize..4,
            pass in prop_oneof![Just(String::new()), Just("wrong".to_string())],
            ws_kind in any::<bool>(),
            with_cert in any::<bool>(),
        ) {
            let users: Vec<User> = NAMES.iter().enumerate().map(|(i, n)| {
                let mut u = user(n, match secrets[i] { 0 => None, 1 => Some("pw"), _ => Some(BCRYPT) });
                u.connection_types = match user_types[i] {
                    0 => ConnectionTypes::default(),
                    1 => types(&[TCP]),
                    2 => types(&[WS]),
                    _ => types(&[TCP, WS]),
                };
                u
            }).collect();
            let map_set = match map { 0 => types(&[]), 1 => types(&[TCP]), 2 => types(&[WS]), _ => types(&[TCP, WS]) };
            let cfg = AuthConfig {
                users: users.clone(),
                tls_map: map_set,
                no_auth_user: NAMES.get(no_auth).map(|n| n.to_string()),
                ..AuthConfig::default()
            };
            let kind = kind_of(ws_kind);
            let name = NAMES.get(who).copied().unwrap_or("");
            let c = conn(name, &pass, "");
            let tls = TlsIdentity { subject_dn: name.into(), ..TlsIdentity::default() };
            let mut cr = creds(&c, kind);
            // The server passes an identity only where the listener maps.
            let mapped = with_cert && map_set.contains(kind);
            if mapped {
                cr.tls = Some(&tls);
            }
            if let Ok(id) = authenticate(&cfg, &cr) {
                let u = users.iter().find(|u| u.username.as_deref() == Some(id.user.as_str()))
                    .expect("an identity names a configured user");
                let is_no_auth = cfg.no_auth_user.as_deref() == Some(id.user.as_str());
                let sent_nothing = c.user.is_empty() && c.pass.is_empty();
                let has_secret = u.password.as_deref().is_some_and(|p| !p.is_empty());
                if has_secret {
                    prop_assert!(is_no_auth && sent_nothing && !mapped, "{id:?} {c:?}");
                } else {
                    let mappable = [TCP, WS].iter().any(|t| map_set.contains(*t) && u.connection_types.allows(*t));
                    if mappable {
                        prop_assert!(mapped || is_no_auth, "{id:?} {c:?} mapped={mapped}");
                    }
                }
            }
        }
    }
}
