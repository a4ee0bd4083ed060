//! NATS JWT decoding on arbitrary input (auth::jwt): total (no panic), and
//! whatever decodes satisfies the claim-type rules. The input is also fed
//! to `authenticate` in operator mode as the CONNECT `jwt` and as a cookie.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::auth::nkey::{is_valid_public_key, KeyKind};
use natsws_core::auth::{
    authenticate, jwt, AuthConfig, ConnectionType, Cookies, Credentials, Operator,
};
use natsws_core::proto::Connect;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = jwt::peek_subject(&s);
    if let Ok(v) = jwt::verify(&s) {
        assert!(
            is_valid_public_key(&v.issuer, KeyKind::Account)
                || is_valid_public_key(&v.issuer, KeyKind::Operator)
        );
    }
    if let Ok(c) = jwt::decode_user(&s) {
        assert!(is_valid_public_key(&c.sub, KeyKind::User));
        assert!(is_valid_public_key(&c.iss, KeyKind::Account));
        assert_eq!(c.nats.kind, "user");
        let _ = c.is_expired(0);
        let _ = c.nats.limits.is_empty();
    }
    if let Ok(c) = jwt::decode_account(&s) {
        assert!(is_valid_public_key(&c.sub, KeyKind::Account));
        assert_eq!(c.nats.kind, "account");
        let _ = c.signing_keys();
        let _ = c.is_revoked("U", 0);
    }
    let mut cfg = AuthConfig::default();
    let mut op = Operator::default();
    op.trusted_keys.push("OAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    cfg.operator = Some(op);
    let c = Connect { jwt: s.to_string(), ..Connect::default() };
    let empty = Connect::default();
    for (connect, cookie) in [(&c, None), (&empty, Some(&*s))] {
        let cr = Credentials {
            connect,
            kind: ConnectionType::Websocket,
            nonce: b"nonce",
            cookies: Cookies { jwt: cookie, ..Cookies::default() },
            tls: None,
            now_unix_secs: 1_700_000_000,
            zones: &natsws_core::auth::UtcOnly,
            client_ip: None,
        };
        // No trusted account can exist for a fuzzed token.
        assert!(authenticate(&cfg, &cr).is_err());
    }
});
