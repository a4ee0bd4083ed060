//! natsws_core::auth: every non-JWT mode, precedence, the websocket
//! override matrix (websocket.md §5, §8 G), cookies, no_auth_user, nkeys,
//! bcrypt, TLS mapping, connection types, log labels.
#![cfg(feature = "auth")]

mod auth_common;

use std::sync::Arc;

use auth_common::{conn, creds, types};
use natsws_core::auth::{
    authenticate, compare_passwords, ct_eq, is_bcrypt, nkey, AuthConfig, AuthError, ConnectionType,
    ConnectionTypes, Cookies, Identity, Permissions, PermissionsSpec, TlsIdentity, User,
    WebsocketAuth,
};
use natsws_core::proto::Connect;

const WS: ConnectionType = ConnectionType::Websocket;
const TCP: ConnectionType = ConnectionType::Standard;

fn auth(cfg: &AuthConfig, c: &Connect, kind: ConnectionType) -> Result<Identity, AuthError> {
    authenticate(cfg, &creds(c, kind))
}

fn user(name: &str, pass: &str, account: &str) -> User {
    User {
        username: Some(name.into()),
        password: Some(pass.into()),
        account: account.into(),
        ..User::default()
    }
}

fn single(u: Option<&str>, p: Option<&str>, t: Option<&str>) -> AuthConfig {
    AuthConfig {
        username: u.map(Into::into),
        password: p.map(Into::into),
        token: t.map(Into::into),
        ..AuthConfig::default()
    }
}

fn ws(u: Option<&str>, p: Option<&str>, t: Option<&str>, no_auth: Option<&str>) -> WebsocketAuth {
    WebsocketAuth {
        username: u.map(Into::into),
        password: p.map(Into::into),
        token: t.map(Into::into),
        no_auth_user: no_auth.map(Into::into),
    }
}

// ---------------------------------------------------------------- basics

#[test]
fn connection_type_names_parse_case_insensitively() {
    for (s, t) in [
        ("STANDARD", ConnectionType::Standard),
        ("websocket", ConnectionType::Websocket),
        ("Leafnode", ConnectionType::Leafnode),
        ("leafnode_ws", ConnectionType::LeafnodeWs),
        ("mqtt", ConnectionType::Mqtt),
        ("MQTT_WS", ConnectionType::MqttWs),
        ("in_process", ConnectionType::InProcess),
    ] {
        assert_eq!(ConnectionType::parse(s), Some(t));
        assert_eq!(ConnectionType::parse(t.as_str()), Some(t));
        assert_eq!(t.as_str(), s.to_ascii_uppercase());
    }
    assert_eq!(ConnectionType::parse("FOO"), None);
    assert_eq!(ConnectionType::parse(""), None);
}

#[test]
fn connection_types_set_rules() {
    let empty = ConnectionTypes::default();
    assert!(empty.is_empty());
    assert!(empty.allows(WS) && empty.allows(TCP) && empty.allows(ConnectionType::MqttWs));
    let w = types(&[WS]);
    assert!(!w.is_empty());
    assert!(w.allows(WS));
    assert!(!w.allows(TCP));
    assert!(
        !w.allows(ConnectionType::MqttWs),
        "WEBSOCKET does not cover MQTT_WS"
    );
    assert!(
        !w.allows(ConnectionType::LeafnodeWs),
        "WEBSOCKET does not cover LEAFNODE_WS"
    );
    // JWT lists: unknown ignored if a known one remains, else reject.
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ConnectionTypes::from_jwt_list(&l(&["WEBSOCKET", "SomeNewType"])),
        Some(w)
    );
    assert_eq!(ConnectionTypes::from_jwt_list(&l(&["SomeNewType"])), None);
    assert_eq!(ConnectionTypes::from_jwt_list(&[]), Some(empty));
}

#[test]
fn bcrypt_detection_follows_the_regex() {
    assert!(is_bcrypt("$2a$10$abc"));
    assert!(is_bcrypt("$2b$04$"));
    assert!(is_bcrypt("$2x$12$x"));
    assert!(is_bcrypt("$2y$31$x"));
    assert!(!is_bcrypt("$2c$10$abc"));
    assert!(!is_bcrypt("$2a$1$abc"));
    assert!(!is_bcrypt("$2a$ab$abc"));
    assert!(!is_bcrypt("2a$10$abc"));
    assert!(!is_bcrypt("$2a$10"));
    assert!(!is_bcrypt("password"));
}

#[test]
fn constant_time_compare() {
    assert!(ct_eq(b"secret", b"secret"));
    assert!(!ct_eq(b"secret", b"secreT"));
    assert!(!ct_eq(b"secret", b"secret1"));
    assert!(ct_eq(b"", b""));
    assert!(compare_passwords("pwd", "pwd"));
    assert!(!compare_passwords("pwd", "pw"));
    assert!(!compare_passwords("pwd", ""));
}

#[test]
fn bcrypt_passwords_and_tokens() {
    let hash = bcrypt::hash("s3cr3t", 4).unwrap();
    assert!(is_bcrypt(&hash));
    assert!(compare_passwords(&hash, "s3cr3t"));
    assert!(!compare_passwords(&hash, "s3cr3T"));
    assert!(
        !compare_passwords(&hash, &hash),
        "the hash itself is not the password"
    );
    // A 2a/2y variant of the same hash verifies too.
    let y = hash.replacen("$2b$", "$2y$", 1);
    assert!(compare_passwords(&y, "s3cr3t"));
    // Over 72 bytes fails, as with Go's bcrypt.
    let long = "x".repeat(80);
    let h71 = bcrypt::hash(&long[..71], 4).unwrap();
    assert!(compare_passwords(&h71, &long[..71]));
    assert!(!compare_passwords(&h71, &long[..70]));
    let h = bcrypt::hash(&long, 4).unwrap(); // the crate truncates when hashing
    assert!(!compare_passwords(&h, &long));

    let cfg = AuthConfig {
        users: vec![user("bob", &hash, "")],
        ..AuthConfig::default()
    };
    assert_eq!(
        auth(&cfg, &conn("bob", "s3cr3t", ""), TCP).unwrap().user,
        "bob"
    );
    assert!(auth(&cfg, &conn("bob", "nope", ""), TCP).is_err());

    let tok = bcrypt::hash("tok", 4).unwrap();
    let cfg = single(None, None, Some(&tok));
    assert!(auth(&cfg, &conn("", "", "tok"), TCP).is_ok());
    assert!(auth(&cfg, &conn("", "", "tok2"), TCP).is_err());
}

// ---------------------------------------------------------------- modes

#[test]
fn no_auth_configured_accepts_anything_into_global_account() {
    let cfg = AuthConfig::default();
    for kind in [TCP, WS] {
        assert!(!cfg.auth_required(kind));
        assert!(!cfg.needs_nonce());
        let id = auth(&cfg, &conn("x", "y", "z"), kind).unwrap();
        assert_eq!(id.user, "");
        assert_eq!(id.account, "$G");
        assert!(id.permissions.is_none());
        assert!(cfg.no_auth_identity(kind).is_none());
    }
}

#[test]
fn single_user_password() {
    let cfg = single(Some("derek"), Some("foo"), None);
    assert!(cfg.auth_required(TCP));
    let id = auth(&cfg, &conn("derek", "foo", ""), TCP).unwrap();
    assert_eq!((id.user.as_str(), id.account.as_str()), ("derek", "$G"));
    let e = auth(&cfg, &conn("derek", "bar", ""), TCP).unwrap_err();
    assert_eq!(e.log, r#"User "derek""#);
    assert!(!e.expired);
    assert!(auth(&cfg, &conn("other", "foo", ""), TCP).is_err());
    assert_eq!(
        auth(&cfg, &conn("", "", ""), TCP).unwrap_err().log,
        r#"User "N/A""#
    );
    // A token does not help.
    assert!(auth(&cfg, &conn("", "", "foo"), TCP).is_err());
}

#[test]
fn single_token() {
    let cfg = single(None, None, Some("s3cr3t"));
    assert!(auth(&cfg, &conn("", "", "s3cr3t"), TCP).is_ok());
    let e = auth(&cfg, &conn("", "", "wrong"), TCP).unwrap_err();
    assert_eq!(e.log, r#"Token "[REDACTED]""#);
    assert!(!e.log.contains("wrong"));
    assert!(auth(&cfg, &conn("s3cr3t", "s3cr3t", ""), TCP).is_err());
}

#[test]
fn users_lookup_password_and_account() {
    let perms = Arc::new(
        Permissions::compile(&PermissionsSpec {
            publish_allow: Some(vec!["foo".into()]),
            ..PermissionsSpec::default()
        })
        .unwrap(),
    );
    let mut alice = user("alice", "pa", "A");
    alice.permissions = Some(perms);
    let cfg = AuthConfig {
        users: vec![alice, user("bob", "pb", "")],
        ..AuthConfig::default()
    };
    let id = auth(&cfg, &conn("alice", "pa", ""), TCP).unwrap();
    assert_eq!((id.user.as_str(), id.account.as_str()), ("alice", "A"));
    let p = id.permissions.unwrap();
    assert!(p.can_publish(b"foo") && !p.can_publish(b"bar"));
    let id = auth(&cfg, &conn("bob", "pb", ""), TCP).unwrap();
    assert_eq!(id.account, "$G");
    assert!(id.permissions.is_none());
    assert_eq!(
        auth(&cfg, &conn("bob", "pa", ""), TCP).unwrap_err().log,
        r#"User "bob""#
    );
    assert_eq!(
        auth(&cfg, &conn("carol", "pa", ""), TCP).unwrap_err().log,
        r#"User "carol""#
    );
    assert_eq!(
        auth(&cfg, &conn("", "", ""), TCP).unwrap_err().log,
        r#"User "N/A""#
    );
    // Users exist: a token is not accepted.
    assert!(auth(&cfg, &conn("", "", "pa"), TCP).is_err());
}

#[test]
fn user_without_password_needs_empty_password() {
    let cfg = AuthConfig {
        users: vec![User {
            username: Some("nopass".into()),
            ..User::default()
        }],
        ..AuthConfig::default()
    };
    assert!(auth(&cfg, &conn("nopass", "", ""), TCP).is_ok());
    assert!(auth(&cfg, &conn("nopass", "x", ""), TCP).is_err());
}

// ---------------------------------------------------------------- nkeys

fn nkey_cfg(kp: &nkeys::KeyPair, t: ConnectionTypes) -> AuthConfig {
    AuthConfig {
        users: vec![User {
            nkey: Some(kp.public_key()),
            connection_types: t,
            account: "NK".into(),
            ..User::default()
        }],
        ..AuthConfig::default()
    }
}

fn signed(kp: &nkeys::KeyPair, nonce: &[u8], url: bool) -> Connect {
    use base64::Engine;
    let sig = kp.sign(nonce).unwrap();
    let sig = if url {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    } else {
        base64::engine::general_purpose::STANDARD.encode(sig)
    };
    Connect {
        nkey: kp.public_key(),
        sig,
        ..Connect::default()
    }
}

#[test]
fn nkey_signature_over_nonce() {
    let kp = nkeys::KeyPair::new_user();
    let cfg = nkey_cfg(&kp, ConnectionTypes::default());
    assert!(cfg.needs_nonce());
    let nonce = b"PXoWU7zWAMt75FY";
    for url in [true, false] {
        let c = signed(&kp, nonce, url);
        let mut cr = creds(&c, TCP);
        cr.nonce = nonce;
        let id = authenticate(&cfg, &cr).unwrap();
        assert_eq!(id.user, kp.public_key());
        assert_eq!(id.account, "NK");
        // Another nonce: fails.
        cr.nonce = b"other-nonce";
        let e = authenticate(&cfg, &cr).unwrap_err();
        assert_eq!(e.log, format!("Nkey {:?}", kp.public_key()));
    }
    // Missing sig, bad base64, signature by another key, unknown key.
    let mut c = signed(&kp, nonce, true);
    c.sig.clear();
    let mut cr = creds(&c, TCP);
    cr.nonce = nonce;
    assert!(authenticate(&cfg, &cr).is_err());
    let mut c2 = signed(&kp, nonce, true);
    c2.sig = "!!!not base64!!!".into();
    cr.connect = &c2;
    assert!(authenticate(&cfg, &cr).is_err());
    let other = nkeys::KeyPair::new_user();
    let mut c3 = signed(&other, nonce, true);
    c3.nkey = kp.public_key();
    cr.connect = &c3;
    assert!(authenticate(&cfg, &cr).is_err());
    let c4 = signed(&other, nonce, true);
    cr.connect = &c4;
    assert_eq!(
        authenticate(&cfg, &cr).unwrap_err().log,
        format!("Nkey {:?}", other.public_key())
    );
}

#[test]
fn nkey_module_rejects_garbage_and_wrong_kinds() {
    let kp = nkeys::KeyPair::new_user();
    let pk = kp.public_key();
    assert!(nkey::is_valid_public_key(&pk, nkey::KeyKind::User));
    assert!(!nkey::is_valid_public_key(&pk, nkey::KeyKind::Account));
    let acc = nkeys::KeyPair::new_account().public_key();
    assert!(nkey::is_valid_public_key(&acc, nkey::KeyKind::Account));
    // Flip one character: CRC fails.
    let mut bad = pk.clone().into_bytes();
    bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(!nkey::is_valid_public_key(&bad, nkey::KeyKind::User));
    for s in ["", "U", "UAAAA", &"U".repeat(56), &"é".repeat(28)] {
        assert!(nkey::decode_public(s, nkey::KeyKind::User).is_err());
    }
    assert!(nkey::decode_signature("").is_err());
    assert_eq!(
        nkey::verify_nonce(&pk, b"n", "AAAA"),
        Err(nkey::Error::BadSignature)
    );
    let acc_kp = nkeys::KeyPair::new_account();
    let c = signed(&acc_kp, b"n", true);
    // A non-user key cannot sign the nonce.
    assert_eq!(
        nkey::verify_nonce(&acc_kp.public_key(), b"n", &c.sig),
        Err(nkey::Error::InvalidKey)
    );
}

#[test]
fn ws_nkey_auth_with_connection_types() {
    // TestWSNkeyAuth
    let kp = nkeys::KeyPair::new_user();
    let nonce = b"nonce";
    let c = signed(&kp, nonce, true);
    for (t, ws_ok, tcp_ok) in [
        (ConnectionTypes::default(), true, true),
        (types(&[WS]), true, false),
        (types(&[TCP]), false, true),
        (types(&[TCP, WS]), true, true),
    ] {
        let cfg = nkey_cfg(&kp, t);
        for (kind, ok) in [(WS, ws_ok), (TCP, tcp_ok)] {
            let mut cr = creds(&c, kind);
            cr.nonce = nonce;
            assert_eq!(authenticate(&cfg, &cr).is_ok(), ok, "{t:?} {kind:?}");
        }
    }
}

#[test]
fn nkeys_take_precedence_over_users_and_fall_back_to_them() {
    let kp = nkeys::KeyPair::new_user();
    let mut cfg = nkey_cfg(&kp, ConnectionTypes::default());
    cfg.users.push(user("bob", "pb", "U"));
    // No nkey in CONNECT: the users path.
    assert_eq!(
        auth(&cfg, &conn("bob", "pb", ""), TCP).unwrap().account,
        "U"
    );
    // nkey present: the nkey path decides, even with a good user/pass.
    let mut c = conn("bob", "pb", "");
    c.nkey = kp.public_key();
    let e = auth(&cfg, &c, TCP).unwrap_err();
    assert_eq!(e.log, format!("Nkey {:?}", kp.public_key()));
}

#[test]
fn no_auth_user_naming_an_nkey_user_needs_no_signature() {
    let kp = nkeys::KeyPair::new_user();
    let mut cfg = nkey_cfg(&kp, ConnectionTypes::default());
    cfg.no_auth_user = Some(kp.public_key());
    assert!(!cfg.auth_required(TCP));
    let id = auth(&cfg, &Connect::default(), TCP).unwrap();
    assert_eq!(id.user, kp.public_key());
    let id = cfg.no_auth_identity(TCP).unwrap().unwrap();
    assert_eq!(id.account, "NK");
}

// ---------------------------------------------------------------- no_auth_user

fn no_auth_cfg() -> AuthConfig {
    let mut wsonly = user("wsonly", "p", "W");
    wsonly.connection_types = types(&[WS]);
    AuthConfig {
        users: vec![
            user("normal", "n", "NORMAL"),
            user("wsuser", "w", "WS_ACC"),
            wsonly,
        ],
        no_auth_user: Some("normal".into()),
        ..AuthConfig::default()
    }
}

#[test]
fn no_auth_user_global() {
    let cfg = no_auth_cfg();
    assert!(!cfg.auth_required(TCP));
    assert!(!cfg.auth_required(WS));
    for kind in [TCP, WS] {
        let id = auth(&cfg, &Connect::default(), kind).unwrap();
        assert_eq!(
            (id.user.as_str(), id.account.as_str()),
            ("normal", "NORMAL")
        );
        let id = cfg.no_auth_identity(kind).unwrap().unwrap();
        assert_eq!(id.user, "normal");
    }
    // Explicit credentials still work, and are checked.
    assert_eq!(
        auth(&cfg, &conn("wsuser", "w", ""), TCP).unwrap().account,
        "WS_ACC"
    );
    assert!(auth(&cfg, &conn("wsuser", "x", ""), TCP).is_err());
    // A password alone is a credential: no no_auth_user then.
    assert!(auth(&cfg, &conn("", "n", ""), TCP).is_err());
}

#[test]
fn ws_no_auth_user_override() {
    // TestWSNoAuthUser / TestWSNoAuthUserOverride.
    let mut cfg = no_auth_cfg();
    cfg.websocket = ws(None, None, None, Some("wsuser"));
    let id = auth(&cfg, &Connect::default(), WS).unwrap();
    assert_eq!(
        (id.user.as_str(), id.account.as_str()),
        ("wsuser", "WS_ACC")
    );
    let id = auth(&cfg, &Connect::default(), TCP).unwrap();
    assert_eq!(id.user, "normal");
    // Pre-CONNECT fast path binds ws clients to the ws no_auth_user.
    assert_eq!(cfg.no_auth_identity(WS).unwrap().unwrap().account, "WS_ACC");
    assert_eq!(
        cfg.no_auth_identity(TCP).unwrap().unwrap().account,
        "NORMAL"
    );
    // Users still authenticate explicitly over ws.
    assert_eq!(
        auth(&cfg, &conn("normal", "n", ""), WS).unwrap().account,
        "NORMAL"
    );
    // Without a global no_auth_user only ws clients get one.
    cfg.no_auth_user = None;
    assert!(cfg.auth_required(TCP));
    assert!(!cfg.auth_required(WS));
    assert!(auth(&cfg, &Connect::default(), TCP).is_err());
    assert!(cfg.no_auth_identity(TCP).is_none());
    assert_eq!(auth(&cfg, &Connect::default(), WS).unwrap().user, "wsuser");
}

#[test]
fn no_auth_user_connection_types_are_enforced() {
    let mut cfg = no_auth_cfg();
    cfg.no_auth_user = Some("wsonly".into());
    assert_eq!(auth(&cfg, &Connect::default(), WS).unwrap().user, "wsonly");
    let e = auth(&cfg, &Connect::default(), TCP).unwrap_err();
    assert_eq!(e.log, r#"User "wsonly""#);
    assert!(cfg.no_auth_identity(TCP).unwrap().is_err());
    assert!(cfg.no_auth_identity(WS).unwrap().is_ok());
}

// ---------------------------------------------------------------- ws override matrix

#[test]
fn ws_basic_auth_matrix() {
    // TestWSBasicAuth: (top-level u/p, ws u/p, client u/p over ws, ok)
    type Up<'a> = Option<(&'a str, &'a str)>;
    let cases: [(Up, Up, (&str, &str), bool); 6] = [
        (
            Some(("normal", "client")),
            None,
            ("websocket", "client"),
            false,
        ),
        (Some(("normal", "client")), None, ("normal", "client"), true),
        (
            None,
            Some(("websocket", "client")),
            ("normal", "client"),
            false,
        ),
        (
            None,
            Some(("websocket", "client")),
            ("websocket", "client"),
            true,
        ),
        (
            Some(("normal", "client")),
            Some(("websocket", "client")),
            ("normal", "client"),
            false,
        ),
        (
            Some(("normal", "client")),
            Some(("websocket", "client")),
            ("websocket", "client"),
            true,
        ),
    ];
    for (top, wsu, (cu, cp), ok) in cases {
        let mut cfg = single(top.map(|t| t.0), top.map(|t| t.1), None);
        if let Some((u, p)) = wsu {
            cfg.websocket = ws(Some(u), Some(p), None, None);
        }
        assert!(cfg.auth_required(WS));
        let r = auth(&cfg, &conn(cu, cp, ""), WS);
        assert_eq!(r.is_ok(), ok, "top={top:?} ws={wsu:?} client={cu}/{cp}");
        if ok {
            assert_eq!(r.unwrap().user, cu);
        } else {
            assert_eq!(r.unwrap_err().log, format!("User {cu:?}"));
        }
        // TCP clients always use the top-level settings.
        let tcp = auth(&cfg, &conn("normal", "client", ""), TCP);
        assert!(tcp.is_ok(), "tcp top={top:?} ws={wsu:?}");
        if top.is_some() {
            assert!(auth(&cfg, &conn("websocket", "client", ""), TCP).is_err());
        }
    }
}

#[test]
fn ws_password_alone_is_not_an_override() {
    let mut cfg = single(Some("normal"), Some("client"), None);
    cfg.websocket = ws(None, Some("wspass"), None, None);
    assert!(!cfg.websocket.is_override());
    assert!(auth(&cfg, &conn("normal", "client", ""), WS).is_ok());
    let cfg = AuthConfig {
        websocket: ws(None, Some("wspass"), None, None),
        ..AuthConfig::default()
    };
    assert!(!cfg.auth_required(WS));
}

#[test]
fn ws_token_auth_matrix() {
    // TestWSTokenAuth: (top-level token, ws token, client token over ws, ok)
    let cases = [
        (Some("normal"), None, "websocket", false),
        (Some("normal"), None, "normal", true),
        (None, Some("websocket"), "normal", false),
        (None, Some("websocket"), "websocket", true),
        (Some("normal"), Some("websocket"), "normal", false),
        (Some("normal"), Some("websocket"), "websocket", true),
    ];
    for (top, wst, client, ok) in cases {
        let mut cfg = single(None, None, top);
        if let Some(t) = wst {
            cfg.websocket = ws(None, None, Some(t), None);
        }
        let r = auth(&cfg, &conn("", "", client), WS);
        assert_eq!(r.is_ok(), ok, "top={top:?} ws={wst:?} client={client}");
        if !ok {
            assert_eq!(r.unwrap_err().log, r#"Token "[REDACTED]""#);
        }
        // Over TCP: top-level token only (or nothing required).
        let tcp = auth(&cfg, &conn("", "", client), TCP).is_ok();
        assert_eq!(tcp, top.is_none() || top == Some(client));
    }
}

#[test]
fn ws_users_auth_with_connection_types() {
    // TestWSUsersAuth
    for (t, ws_ok) in [
        (ConnectionTypes::default(), true),
        (types(&[TCP]), false),
        (types(&[WS]), true),
        (types(&[TCP, WS]), true),
    ] {
        let mut u = user("user", "pwd", "");
        u.connection_types = t;
        let cfg = AuthConfig {
            users: vec![u],
            ..AuthConfig::default()
        };
        assert_eq!(
            auth(&cfg, &conn("user", "pwd", ""), WS).is_ok(),
            ws_ok,
            "{t:?}"
        );
        assert!(auth(&cfg, &conn("user", "wrong", ""), WS).is_err());
    }
}

#[test]
fn ws_bind_to_proper_account() {
    // TestWSBindToProperAccount: allowed_connection_types "websocket" (lower case)
    let mut u = user("user", "pwd", "a");
    u.connection_types = types(&[ConnectionType::parse("websocket").unwrap()]);
    let cfg = AuthConfig {
        users: vec![u],
        ..AuthConfig::default()
    };
    assert_eq!(
        auth(&cfg, &conn("user", "pwd", ""), WS).unwrap().account,
        "a"
    );
    assert!(auth(&cfg, &conn("user", "pwd", ""), TCP).is_err());
}

// ---------------------------------------------------------------- cookies

#[test]
fn cookies_fill_empty_connect_fields_for_websocket_only() {
    let cfg = single(Some("normal"), Some("client"), None);
    let empty = Connect::default();
    let mut cr = creds(&empty, WS);
    cr.cookies = Cookies {
        user: Some("normal"),
        pass: Some("client"),
        ..Cookies::default()
    };
    assert_eq!(authenticate(&cfg, &cr).unwrap().user, "normal");
    // Wrong cookie values fail.
    cr.cookies.pass = Some("wrong");
    assert_eq!(authenticate(&cfg, &cr).unwrap_err().log, r#"User "normal""#);
    // CONNECT fields win over cookies.
    let c = conn("normal", "client", "");
    let mut cr2 = creds(&c, WS);
    cr2.cookies = Cookies {
        user: Some("bad"),
        pass: Some("bad"),
        ..Cookies::default()
    };
    assert!(authenticate(&cfg, &cr2).is_ok());
    // Not a websocket connection: cookies ignored.
    let mut cr3 = creds(&empty, TCP);
    cr3.cookies = Cookies {
        user: Some("normal"),
        pass: Some("client"),
        ..Cookies::default()
    };
    assert!(authenticate(&cfg, &cr3).is_err());
    // Only the user cookie: pass stays empty.
    let mut cr4 = creds(&empty, WS);
    cr4.cookies.user = Some("normal");
    assert!(authenticate(&cfg, &cr4).is_err());
}

#[test]
fn token_cookie() {
    let cfg = single(None, None, Some("tok"));
    let empty = Connect::default();
    let mut cr = creds(&empty, WS);
    cr.cookies.token = Some("tok");
    assert!(authenticate(&cfg, &cr).is_ok());
    cr.cookies.token = Some("bad");
    assert_eq!(
        authenticate(&cfg, &cr).unwrap_err().log,
        r#"Token "[REDACTED]""#
    );
    // With ws override token.
    let mut cfg = single(None, None, Some("tok"));
    cfg.websocket = ws(None, None, Some("wstok"), None);
    cr.cookies.token = Some("wstok");
    assert!(authenticate(&cfg, &cr).is_ok());
    cr.cookies.token = Some("tok");
    assert!(authenticate(&cfg, &cr).is_err());
}

#[test]
fn jwt_is_ignored_outside_operator_mode() {
    let cfg = single(Some("u"), Some("p"), None);
    let mut c = conn("u", "p", "");
    c.jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.AAAA".into();
    assert!(auth(&cfg, &c, TCP).is_ok());
    c.pass = "x".into();
    assert_eq!(auth(&cfg, &c, TCP).unwrap_err().log, r#"User "u""#);
    let empty = Connect::default();
    let mut cr = creds(&empty, WS);
    cr.cookies.jwt = Some("garbage");
    assert_eq!(authenticate(&cfg, &cr).unwrap_err().log, r#"User "N/A""#);
}

// ---------------------------------------------------------------- TLS map

fn tls_cfg() -> AuthConfig {
    let mut tcp_only = user("CN=tcp,OU=NATS", "", "T");
    tcp_only.connection_types = types(&[TCP]);
    AuthConfig {
        users: vec![
            user("alice@example.com", "", "MAIL"),
            user("host.example.com", "", "DNS"),
            user("spiffe://example.org/svc", "", "URI"),
            user("CN=alice,OU=NATS,O=Synadia", "", "DN"),
            tcp_only,
            user("bob", "pb", "B"),
        ],
        ..AuthConfig::default()
    }
}

fn tls_auth(
    cfg: &AuthConfig,
    tls: &TlsIdentity,
    kind: ConnectionType,
) -> Result<Identity, AuthError> {
    let c = Connect::default();
    let mut cr = creds(&c, kind);
    cr.tls = Some(tls);
    authenticate(cfg, &cr)
}

#[test]
fn tls_verify_and_map() {
    let cfg = tls_cfg();
    let t = |dn: &str, emails: &[&str], dns: &[&str], uris: &[&str]| TlsIdentity {
        subject_dn: dn.into(),
        emails: emails.iter().map(|s| s.to_string()).collect(),
        dns_names: dns.iter().map(|s| s.to_string()).collect(),
        uris: uris.iter().map(|s| s.to_string()).collect(),
    };
    // Email first, then DNS, then URI, then the DN.
    let id = tls_auth(
        &cfg,
        &t(
            "CN=alice,OU=NATS,O=Synadia",
            &["alice@example.com"],
            &["host.example.com"],
            &[],
        ),
        WS,
    )
    .unwrap();
    assert_eq!(id.account, "MAIL");
    let id = tls_auth(
        &cfg,
        &t(
            "CN=alice,OU=NATS,O=Synadia",
            &["nobody@x"],
            &["host.example.com"],
            &[],
        ),
        WS,
    )
    .unwrap();
    assert_eq!(id.account, "DNS");
    let id = tls_auth(
        &cfg,
        &t("CN=zz", &[], &[], &["spiffe://example.org/svc"]),
        WS,
    )
    .unwrap();
    assert_eq!(id.account, "URI");
    let id = tls_auth(&cfg, &t("CN=alice,OU=NATS,O=Synadia", &[], &[], &[]), WS).unwrap();
    assert_eq!(
        (id.user.as_str(), id.account.as_str()),
        ("CN=alice,OU=NATS,O=Synadia", "DN")
    );
    // Reordered RDNs and different spacing/case of attribute types still map.
    let id = tls_auth(&cfg, &t("O=Synadia, ou=NATS, CN=alice", &[], &[], &[]), WS).unwrap();
    assert_eq!(id.account, "DN");
    // Unknown cert: fail.
    assert!(tls_auth(&cfg, &t("CN=mallory", &[], &[], &[]), WS).is_err());
    assert!(tls_auth(&cfg, &t("", &[], &[], &[]), WS).is_err());
    // Connection types: the TCP-only DN user is skipped over ws.
    assert!(tls_auth(&cfg, &t("CN=tcp,OU=NATS", &[], &[], &[]), WS).is_err());
    assert_eq!(
        tls_auth(&cfg, &t("CN=tcp,OU=NATS", &[], &[], &[]), TCP)
            .unwrap()
            .account,
        "T"
    );
    // A mapped user with a password still needs it.
    let e = tls_auth(&cfg, &t("CN=zz", &["bob"], &[], &[]), WS).unwrap_err();
    assert_eq!(e.log, r#"User "bob""#);
}

// ---------------------------------------------------------------- robustness

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn cfgs() -> Vec<AuthConfig> {
        let kp = nkeys::KeyPair::new_user();
        let ops = AuthConfig {
            operator: Some(natsws_core::auth::Operator {
                trusted_keys: vec!["OAAA".into()],
                accounts: Default::default(),
            }),
            ..AuthConfig::default()
        };
        vec![
            AuthConfig::default(),
            single(
                Some("u"),
                Some("$2a$04$abcdefghijklmnopqrstuu5Zf/0Xp0M9U/8Wsy3R3cQZHZ5eV2wVe"),
                None,
            ),
            single(None, None, Some("t")),
            nkey_cfg(&kp, ConnectionTypes::default()),
            no_auth_cfg(),
            tls_cfg(),
            ops,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn authenticate_never_panics(
            user in ".{0,20}", pass in ".{0,20}", token in ".{0,20}",
            nkey in prop_oneof![Just("UAAAA".to_string()), ".{0,60}"],
            sig in ".{0,90}", jwt in ".{0,120}", cookie in ".{0,20}", dn in ".{0,30}",
            ws_kind in any::<bool>(),
        ) {
            let c = Connect { user, pass, auth_token: token, nkey, sig, jwt, ..Connect::default() };
            let tls = TlsIdentity { subject_dn: dn, ..TlsIdentity::default() };
            for cfg in cfgs() {
                let mut cr = creds(&c, if ws_kind { WS } else { TCP });
                cr.cookies = Cookies { jwt: Some(&cookie), user: Some(&cookie), pass: Some(&cookie), token: Some(&cookie) };
                let _ = authenticate(&cfg, &cr);
                cr.tls = Some(&tls);
                if let Err(e) = authenticate(&cfg, &cr) {
                    prop_assert!(!e.log.is_empty());
                    if !c.pass.is_empty() && c.pass.len() > 3 && !c.user.contains(&c.pass) && !c.nkey.contains(&c.pass) {
                        let quoted = format!("{:?}", c.pass);
                        prop_assert!(!e.log.contains(&quoted));
                    }
                }
            }
        }
    }
}
