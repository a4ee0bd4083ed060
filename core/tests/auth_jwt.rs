//! natsws_core::auth operator mode: JWT chains built with `jwt::encode`
//! (operator → account → user), signing keys, scoped signing keys, bearer,
//! expiry, wrong issuer, tampering, revocation, src, connection types,
//! cookies (websocket.md §5.5, TestWSJWTCookieUser,
//! TestWSJWTWithAllowedConnectionTypes).
#![cfg(feature = "auth")]

use std::collections::BTreeMap;

use base64::Engine;
use natsws_core::auth::{
    authenticate, jwt, AuthConfig, AuthError, ConnectionType, Cookies, Credentials, Identity,
    Operator,
};
use natsws_core::proto::Connect;
use nkeys::KeyPair;
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const NONCE: &[u8] = b"kKtF8nXIctbBNUp";
const WS: ConnectionType = ConnectionType::Websocket;
const TCP: ConnectionType = ConnectionType::Standard;

struct Chain {
    op: KeyPair,
    acc: KeyPair,
    user: KeyPair,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            op: KeyPair::new_operator(),
            acc: KeyPair::new_account(),
            user: KeyPair::new_user(),
        }
    }

    fn account_claims(&self, nats: Value) -> Value {
        let mut n = json!({"limits": {"subs": -1, "payload": -1, "conn": -1}, "type": "account", "version": 2});
        merge(&mut n, nats);
        json!({"jti": "ACC", "iat": NOW - 100, "iss": self.op.public_key(), "sub": self.acc.public_key(),
               "name": "acc", "nats": n})
    }

    fn account_jwt(&self, nats: Value) -> String {
        jwt::encode(&self.account_claims(nats).to_string(), &self.op)
    }

    fn user_claims(&self, nats: Value) -> Value {
        let mut n = json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2});
        merge(&mut n, nats);
        json!({"jti": "USR", "iat": NOW - 50, "iss": self.acc.public_key(), "sub": self.user.public_key(),
               "name": "bob", "nats": n})
    }

    fn user_jwt(&self, nats: Value) -> String {
        jwt::encode(&self.user_claims(nats).to_string(), &self.acc)
    }

    fn cfg(&self, account_jwt: String) -> AuthConfig {
        let mut accounts = BTreeMap::new();
        accounts.insert(self.acc.public_key(), account_jwt);
        AuthConfig {
            operator: Some(Operator {
                trusted_keys: vec![self.op.public_key()],
                accounts,
            }),
            ..AuthConfig::default()
        }
    }

    fn connect(&self, user_jwt: &str, signer: Option<&KeyPair>) -> Connect {
        let sig = signer
            .map(|k| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.sign(NONCE).unwrap())
            })
            .unwrap_or_default();
        Connect {
            jwt: user_jwt.into(),
            sig,
            ..Connect::default()
        }
    }
}

fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

fn creds(c: &Connect, kind: ConnectionType) -> Credentials<'_> {
    Credentials {
        connect: c,
        kind,
        nonce: NONCE,
        cookies: Cookies::default(),
        tls: None,
        now_unix_secs: NOW,
        zones: &natsws_core::auth::UtcOnly,
        client_ip: None,
    }
}

fn auth(cfg: &AuthConfig, c: &Connect, kind: ConnectionType) -> Result<Identity, AuthError> {
    authenticate(cfg, &creds(c, kind))
}

#[test]
fn encode_decode_roundtrip_and_shape() {
    let ch = Chain::new();
    let t = ch.user_jwt(json!({}));
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(t.starts_with("eyJ"));
    assert!(!t.contains('='), "no padding");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[0])
        .unwrap();
    assert_eq!(header, br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let c = jwt::decode_user(&t).unwrap();
    assert_eq!(c.sub, ch.user.public_key());
    assert_eq!(c.iss, ch.acc.public_key());
    assert_eq!(c.name, "bob");
    assert_eq!(c.nats.limits.subs, -1);
    assert_eq!(jwt::peek_subject(&t), Some(ch.user.public_key()));
    let a = jwt::decode_account(&ch.account_jwt(json!({}))).unwrap();
    assert_eq!(a.sub, ch.acc.public_key());
    // Type confusion: an account JWT is not a user JWT and vice versa.
    assert_eq!(
        jwt::decode_user(&ch.account_jwt(json!({}))).unwrap_err(),
        jwt::Error::BadIssuer
    );
    assert!(jwt::decode_account(&t).is_err());
}

#[test]
fn decode_rejects_tampering_and_garbage() {
    let ch = Chain::new();
    let t = ch.user_jwt(json!({}));
    let parts: Vec<&str> = t.split('.').collect();
    // Tampered claims (re-encoded with another name), signature kept.
    let mut claims = ch.user_claims(json!({}));
    claims["name"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        jwt::decode_user(&forged).unwrap_err(),
        jwt::Error::BadSignature
    );
    // Flipped signature byte.
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    sig[0] ^= 1;
    let bad = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    );
    assert_eq!(
        jwt::decode_user(&bad).unwrap_err(),
        jwt::Error::BadSignature
    );
    // Signed by someone else than iss.
    let other = KeyPair::new_account();
    let t2 = jwt::encode(&ch.user_claims(json!({})).to_string(), &other);
    assert_eq!(jwt::decode_user(&t2).unwrap_err(), jwt::Error::BadSignature);
    // Bad header.
    let h =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    assert_eq!(
        jwt::decode_user(&format!("{h}.{}.{}", parts[1], parts[2])).unwrap_err(),
        jwt::Error::BadHeader
    );
    for g in [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "eyJ.eyJ.eyJ",
        &format!("{t}.x"),
        "\u{0}.\u{0}.\u{0}",
    ] {
        assert!(jwt::decode_user(g).is_err(), "{g:?}");
        assert!(jwt::decode_account(g).is_err(), "{g:?}");
        let _ = jwt::peek_subject(g);
    }
    // Claims with wrong JSON types.
    let c = json!({"iss": ch.acc.public_key(), "sub": ch.user.public_key(), "exp": "soon", "nats": {"type": "user"}});
    assert_eq!(
        jwt::decode_user(&jwt::encode(&c.to_string(), &ch.acc)).unwrap_err(),
        jwt::Error::BadClaims
    );
    // Not a user subject.
    let c =
        json!({"iss": ch.acc.public_key(), "sub": ch.acc.public_key(), "nats": {"type": "user"}});
    assert_eq!(
        jwt::decode_user(&jwt::encode(&c.to_string(), &ch.acc)).unwrap_err(),
        jwt::Error::BadSubject
    );
    // Wrong type.
    let c = json!({"iss": ch.acc.public_key(), "sub": ch.user.public_key(), "nats": {"type": "operator"}});
    assert_eq!(
        jwt::decode_user(&jwt::encode(&c.to_string(), &ch.acc)).unwrap_err(),
        jwt::Error::WrongType
    );
    // Public-key-only signer: empty signature, never verifies.
    let pub_only = KeyPair::from_public_key(&ch.acc.public_key()).unwrap();
    assert!(jwt::decode_user(&jwt::encode(
        &ch.user_claims(json!({})).to_string(),
        &pub_only
    ))
    .is_err());
}

#[test]
fn signed_user_jwt_authenticates() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    assert!(cfg.auth_required(TCP) && cfg.auth_required(WS));
    assert!(cfg.needs_nonce());
    let t = ch.user_jwt(json!({}));
    let id = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).unwrap();
    assert_eq!(id.user, ch.user.public_key());
    assert_eq!(id.account, ch.acc.public_key());
    assert!(id.permissions.is_none());
    assert_eq!(id.expires_at_unix, None);
    assert_eq!((id.max_subscriptions, id.max_payload), (None, None));
    // No sig, sig by another key, sig over another nonce.
    let e = auth(&cfg, &ch.connect(&t, None), TCP).unwrap_err();
    assert_eq!(e.log, format!("JWT User {:?}", ch.user.public_key()));
    assert!(!e.expired);
    assert!(auth(&cfg, &ch.connect(&t, Some(&KeyPair::new_user())), TCP).is_err());
    let c = ch.connect(&t, Some(&ch.user));
    let mut cr = creds(&c, TCP);
    cr.nonce = b"another";
    assert!(authenticate(&cfg, &cr).is_err());
}

#[test]
fn operator_mode_requires_a_jwt() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    let c = Connect {
        user: "bob".into(),
        pass: "x".into(),
        ..Connect::default()
    };
    assert!(auth(&cfg, &c, TCP).is_err());
    let e = auth(&cfg, &Connect::default(), TCP).unwrap_err();
    assert_eq!(e.log, r#"User "N/A""#);
    let c = Connect {
        jwt: "not a jwt".into(),
        ..Connect::default()
    };
    assert_eq!(auth(&cfg, &c, TCP).unwrap_err().log, r#"User "N/A""#);
}

#[test]
fn expiry_and_not_before() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    let mk = |exp: i64, nbf: i64| {
        let mut c = ch.user_claims(json!({}));
        c["exp"] = json!(exp);
        c["nbf"] = json!(nbf);
        jwt::encode(&c.to_string(), &ch.acc)
    };
    let now = NOW as i64;
    let id = auth(&cfg, &ch.connect(&mk(now + 60, 0), Some(&ch.user)), TCP).unwrap();
    assert_eq!(id.expires_at_unix, Some(NOW + 60));
    // exp == now is still valid (expired means now > exp).
    assert!(auth(&cfg, &ch.connect(&mk(now, 0), Some(&ch.user)), TCP).is_ok());
    let e = auth(&cfg, &ch.connect(&mk(now - 1, 0), Some(&ch.user)), TCP).unwrap_err();
    assert!(e.expired);
    assert_eq!(e.log, format!("JWT User {:?}", ch.user.public_key()));
    let e = auth(&cfg, &ch.connect(&mk(0, now + 10), Some(&ch.user)), TCP).unwrap_err();
    assert!(e.expired);
    assert!(auth(&cfg, &ch.connect(&mk(0, now), Some(&ch.user)), TCP).is_ok());
    // Expired account JWT.
    let mut a = ch.account_claims(json!({}));
    a["exp"] = json!(now - 1);
    let cfg2 = ch.cfg(jwt::encode(&a.to_string(), &ch.op));
    let e = auth(&cfg2, &ch.connect(&mk(0, 0), Some(&ch.user)), TCP).unwrap_err();
    assert!(e.expired);
}

#[test]
fn bearer_tokens_and_cookies() {
    // TestWSJWTCookieUser
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    let bearer = ch.user_jwt(json!({"bearer_token": true}));
    let signed = ch.user_jwt(json!({}));
    let empty = Connect::default();
    // Bearer cookie JWT: CONNECT {} succeeds.
    let mut cr = creds(&empty, WS);
    cr.cookies.jwt = Some(&bearer);
    assert_eq!(authenticate(&cfg, &cr).unwrap().user, ch.user.public_key());
    // Non-bearer cookie JWT needs sig.
    cr.cookies.jwt = Some(&signed);
    assert!(authenticate(&cfg, &cr).is_err());
    let with_sig = ch.connect("", Some(&ch.user));
    let mut cr2 = creds(&with_sig, WS);
    cr2.cookies.jwt = Some(&signed);
    assert!(authenticate(&cfg, &cr2).is_ok());
    // CONNECT jwt overrides the cookie: a bad CONNECT jwt fails even with a
    // good bearer cookie.
    let bad = Connect {
        jwt: ch
            .user_jwt(json!({"bearer_token": true}))
            .replace('.', ".x"),
        ..Connect::default()
    };
    let mut cr3 = creds(&bad, WS);
    cr3.cookies.jwt = Some(&bearer);
    assert!(authenticate(&cfg, &cr3).is_err());
    // Cookies are for websocket connections only.
    let mut cr4 = creds(&empty, TCP);
    cr4.cookies.jwt = Some(&bearer);
    assert!(authenticate(&cfg, &cr4).is_err());
    // Bearer over plain TCP in CONNECT works too.
    assert!(auth(&cfg, &ch.connect(&bearer, None), TCP).is_ok());
    // Account disallows bearer tokens.
    let cfg2 = ch.cfg(ch.account_jwt(json!({"limits": {"disallow_bearer": true}})));
    assert!(auth(&cfg2, &ch.connect(&bearer, None), TCP).is_err());
    assert!(auth(&cfg2, &ch.connect(&signed, Some(&ch.user)), TCP).is_ok());
}

#[test]
fn allowed_connection_types_in_jwt() {
    // TestWSJWTWithAllowedConnectionTypes
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    for (list, ws_ok, tcp_ok) in [
        (json!(["WEBSOCKET"]), true, false),
        (json!(["WEBSOCKET", "SomeNewType"]), true, false),
        (json!(["SomeNewType"]), false, false),
        (json!(["STANDARD"]), false, true),
        (json!(["standard", "websocket"]), true, true),
        (json!([]), true, true),
    ] {
        let t = ch.user_jwt(json!({"allowed_connection_types": list.clone()}));
        let c = ch.connect(&t, Some(&ch.user));
        assert_eq!(auth(&cfg, &c, WS).is_ok(), ws_ok, "{list} ws");
        assert_eq!(auth(&cfg, &c, TCP).is_ok(), tcp_ok, "{list} tcp");
    }
}

#[test]
fn untrusted_operator_and_unknown_account_fail() {
    let ch = Chain::new();
    let t = ch.user_jwt(json!({}));
    let c = ch.connect(&t, Some(&ch.user));
    // Account JWT signed by an untrusted operator.
    let rogue = KeyPair::new_operator();
    let mut a = ch.account_claims(json!({}));
    a["iss"] = json!(rogue.public_key());
    let cfg = ch.cfg(jwt::encode(&a.to_string(), &rogue));
    assert!(auth(&cfg, &c, TCP).is_err());
    // Account unknown to the resolver.
    let mut cfg = ch.cfg(ch.account_jwt(json!({})));
    cfg.operator.as_mut().unwrap().accounts.clear();
    assert!(auth(&cfg, &c, TCP).is_err());
    // Resolver entry under the key but with another account's JWT.
    let other = Chain::new();
    let mut cfg = ch.cfg(other.account_jwt(json!({})));
    cfg.operator
        .as_mut()
        .unwrap()
        .trusted_keys
        .push(other.op.public_key());
    assert!(auth(&cfg, &c, TCP).is_err());
    // User JWT issued by another account than claimed: wrong issuer.
    let mut u = ch.user_claims(json!({}));
    let stranger = KeyPair::new_account();
    u["iss"] = json!(stranger.public_key());
    let t = jwt::encode(&u.to_string(), &stranger);
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    assert!(auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).is_err());
}

#[test]
fn operator_signing_key_is_trusted_when_listed() {
    let ch = Chain::new();
    let op_sk = KeyPair::new_operator();
    let mut a = ch.account_claims(json!({}));
    a["iss"] = json!(op_sk.public_key());
    let mut cfg = ch.cfg(jwt::encode(&a.to_string(), &op_sk));
    let c = ch.connect(&ch.user_jwt(json!({})), Some(&ch.user));
    assert!(auth(&cfg, &c, TCP).is_err());
    cfg.operator
        .as_mut()
        .unwrap()
        .trusted_keys
        .push(op_sk.public_key());
    assert!(auth(&cfg, &c, TCP).is_ok());
}

#[test]
fn account_signing_keys() {
    let ch = Chain::new();
    let sk = KeyPair::new_account();
    let cfg = ch.cfg(ch.account_jwt(json!({"signing_keys": [sk.public_key()]})));
    let mut u = ch.user_claims(json!({"issuer_account": ch.acc.public_key()}));
    u["iss"] = json!(sk.public_key());
    let t = jwt::encode(&u.to_string(), &sk);
    let id = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).unwrap();
    assert_eq!(id.account, ch.acc.public_key());
    // Same user JWT, account without that signing key: rejected.
    let cfg2 = ch.cfg(ch.account_jwt(json!({})));
    assert!(auth(&cfg2, &ch.connect(&t, Some(&ch.user)), TCP).is_err());
    // Signing key without issuer_account: the resolver has no account by
    // the signing key.
    let mut u = ch.user_claims(json!({}));
    u["iss"] = json!(sk.public_key());
    let t = jwt::encode(&u.to_string(), &sk);
    assert!(auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).is_err());
}

#[test]
fn scoped_signing_key_template_replaces_permissions() {
    let ch = Chain::new();
    let sk = KeyPair::new_account();
    let scope = json!({"kind": "user_scope", "key": sk.public_key(), "role": "dev",
        "template": {"pub": {"allow": ["{{name()}}.>", "acct.{{account-name()}}"]},
                     "sub": {"allow": ["_INBOX.>", "team.{{tag(team)}}"], "deny": ["secret.>"]},
                     "subs": 10, "payload": 1024, "data": -1}});
    let cfg = ch.cfg(ch.account_jwt(json!({"signing_keys": [scope]})));
    let scoped_user = |nats: Value| {
        let mut n = json!({"issuer_account": ch.acc.public_key(), "type": "user", "version": 2, "tags": ["team:red", "team:blue"]});
        merge(&mut n, nats);
        let u = json!({"jti": "S", "iat": NOW - 5, "iss": sk.public_key(), "sub": ch.user.public_key(), "name": "bob", "nats": n});
        jwt::encode(&u.to_string(), &sk)
    };
    let t = scoped_user(json!({}));
    let id = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).unwrap();
    let p = id.permissions.expect("template permissions");
    assert!(p.can_publish(b"bob.x.y"));
    assert!(p.can_publish(b"acct.acc"));
    assert!(!p.can_publish(b"alice.x"));
    assert!(p.can_subscribe(b"_INBOX.abc", None));
    assert!(p.can_subscribe(b"team.red", None));
    assert!(p.can_subscribe(b"team.blue", None));
    assert!(!p.can_subscribe(b"team.green", None));
    assert!(!p.can_subscribe(b"secret.x", None));
    assert_eq!(id.max_subscriptions, Some(10));
    assert_eq!(id.max_payload, Some(1024));
    // A scoped user must not carry its own permissions or limits.
    let t = scoped_user(json!({"pub": {"allow": [">"]}}));
    assert!(auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).is_err());
    let t = scoped_user(json!({"subs": -1}));
    assert!(auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).is_err());
}

#[test]
fn jwt_permissions_and_limits() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({"limits": {"subs": 5, "payload": 2048}})));
    let t = ch.user_jwt(json!({
        "pub": {"allow": ["req.>"], "deny": ["req.secret"]},
        "sub": {"allow": ["resp.*", "work.> workers"], "deny": ["resp.private"]},
        "resp": {"max": 0, "ttl": 0},
        "subs": 100, "payload": 1000
    }));
    let id = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).unwrap();
    let p = id.permissions.unwrap();
    assert!(p.can_publish(b"req.a"));
    assert!(!p.can_publish(b"req.secret"));
    assert!(!p.can_publish(b"other"));
    assert!(p.can_subscribe(b"resp.x", None));
    assert!(!p.can_subscribe(b"resp.private", None));
    assert!(p.can_subscribe(b"work.a", Some(b"workers")));
    assert!(!p.can_subscribe(b"work.a", None));
    let r = p.allow_responses().unwrap();
    assert_eq!((r.max, r.expires_ms), (1, 120_000));
    // min(user, account) limits.
    assert_eq!(id.max_subscriptions, Some(5));
    assert_eq!(id.max_payload, Some(1000));
    // resp alone: publish denied except responses.
    let t = ch.user_jwt(json!({"resp": {"max": -1, "ttl": -1}}));
    let id = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP).unwrap();
    let p = id.permissions.unwrap();
    assert!(!p.can_publish(b"anything"));
    let r = p.allow_responses().unwrap();
    assert_eq!(r.max, -1);
    assert_eq!(
        r.expires_ms,
        natsws_core::auth::ResponsePermission::NO_EXPIRY
    );
    // ttl in nanoseconds → ms.
    let t = ch.user_jwt(json!({"resp": {"max": 3, "ttl": 5_000_000_000i64}}));
    let p = auth(&cfg, &ch.connect(&t, Some(&ch.user)), TCP)
        .unwrap()
        .permissions
        .unwrap();
    assert_eq!(p.allow_responses().unwrap().expires_ms, 5_000);
}

#[test]
fn revocations() {
    let ch = Chain::new();
    let iat = NOW as i64 - 50;
    let c = ch.connect(&ch.user_jwt(json!({})), Some(&ch.user));
    for (rev, ok) in [
        (json!({}), true),
        (json!({ch.user.public_key(): iat}), false),
        (json!({ch.user.public_key(): iat - 1}), true),
        (json!({"*": iat + 10}), false),
        (json!({"*": iat - 10}), true),
    ] {
        let cfg = ch.cfg(ch.account_jwt(json!({"revocations": rev.clone()})));
        assert_eq!(auth(&cfg, &c, TCP).is_ok(), ok, "{rev}");
    }
}

#[test]
fn src_cidrs() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    for (src, ip, ok) in [
        (json!(["127.0.0.0/8"]), Some("127.0.0.1"), true),
        (
            json!(["10.0.0.0/8", "192.168.1.0/24"]),
            Some("192.168.1.77"),
            true,
        ),
        (
            json!("10.0.0.0/8,192.168.1.0/24"),
            Some("192.168.1.77"),
            true,
        ),
        (json!(["10.0.0.0/8"]), Some("127.0.0.1"), false),
        (json!(["10.0.0.0/8"]), None, false),
        (json!(["::1/128"]), Some("::1"), true),
        (json!(["127.0.0.1/32"]), Some("::ffff:127.0.0.1"), true),
        (json!(["not-a-cidr"]), Some("127.0.0.1"), false),
        (json!(["0.0.0.0/0"]), Some("8.8.8.8"), true),
        (json!([]), None, true),
    ] {
        let t = ch.user_jwt(json!({"src": src.clone()}));
        let c = ch.connect(&t, Some(&ch.user));
        let mut cr = creds(&c, TCP);
        cr.client_ip = ip.map(|s| s.parse().unwrap());
        let res = authenticate(&cfg, &cr);
        assert_eq!(res.is_ok(), ok, "{src} {ip:?}");
        if let Err(e) = res {
            // nats-server logs `Bad src Ip <host>` before the auth error.
            let want = format!("Bad src Ip {}", ip.unwrap_or_default());
            assert_eq!(e.detail.as_deref(), Some(want.as_str()));
        }
    }
}

/// `times` connect windows (nats-server `validateTimes`): NOW is
/// 2023-11-14 22:13:20 UTC.
#[test]
fn times_windows() {
    let ch = Chain::new();
    let cfg = ch.cfg(ch.account_jwt(json!({})));
    let midnight = NOW - NOW % 86_400;
    let try_times = |limits: Value, exp: Option<u64>| {
        let mut c = ch.user_claims(limits);
        if let Some(exp) = exp {
            c["exp"] = json!(exp);
        }
        let t = jwt::encode(&c.to_string(), &ch.acc);
        auth(&cfg, &ch.connect(&t, Some(&ch.user)), WS)
    };
    let window = |start: &str, end: &str| json!({"times": [{"start": start, "end": end}]});

    // Inside: the connection expires when the window closes…
    let id = try_times(window("22:00:00", "23:00:00"), None).unwrap();
    assert_eq!(id.expires_at_unix, Some(midnight + 23 * 3600));
    // …or when the JWT does, whichever comes first.
    let id = try_times(window("22:00:00", "23:00:00"), Some(NOW + 60)).unwrap();
    assert_eq!(id.expires_at_unix, Some(NOW + 60));
    // A window crossing midnight ends the next day.
    let id = try_times(window("21:00:00", "02:30:00"), None).unwrap();
    assert_eq!(id.expires_at_unix, Some(midnight + 86_400 + 9000));
    // In UTC explicitly; several windows, the open one counts.
    let mut two = json!({"times": [{"start": "01:00:00", "end": "02:00:00"},
                                    {"start": "22:13:20", "end": "22:13:21"}]});
    two["times_location"] = json!("Etc/UTC");
    let id = try_times(two, None).unwrap();
    assert_eq!(id.expires_at_unix, Some(NOW + 1));

    // Outside, unparsable, or in a zone the server does not know: refused
    // (Authorization Violation, not an expiry).
    let mut unknown = window("00:00:00", "23:59:59");
    unknown["times_location"] = json!("Mars/Olympus");
    for limits in [
        window("08:00:00", "17:00:00"),
        window("22:13:21", "23:00:00"),
        window("10pm", "23:00:00"),
        unknown,
    ] {
        let e = try_times(limits.clone(), None).unwrap_err();
        assert!(!e.expired, "{limits}");
        assert_eq!(
            e.detail.as_deref(),
            Some("Outside connect times"),
            "{limits}"
        );
    }
    // No windows (absent, null or empty): any time, no expiry.
    for limits in [json!({}), json!({"times": null}), json!({"times": []})] {
        let id = try_times(limits, None).unwrap();
        assert_eq!(id.expires_at_unix, None);
    }
}

#[test]
fn ws_override_does_not_bypass_operator_mode() {
    let ch = Chain::new();
    let mut cfg = ch.cfg(ch.account_jwt(json!({})));
    cfg.websocket.username = Some("ws".into());
    cfg.websocket.password = Some("pw".into());
    let c = Connect {
        user: "ws".into(),
        pass: "pw".into(),
        ..Connect::default()
    };
    assert!(auth(&cfg, &c, WS).is_err());
    assert!(auth(
        &cfg,
        &ch.connect(&ch.user_jwt(json!({})), Some(&ch.user)),
        WS
    )
    .is_ok());
}
