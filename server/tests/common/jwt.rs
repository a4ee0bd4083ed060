//! A minimal NATS JWT (nats-io/jwt v2) encoder for tests: operator,
//! account and user claims signed with nkeys.
//!
//! Shape: `base64url(header).base64url(claims).base64url(sig)`, no
//! padding; header `{"typ":"JWT","alg":"ed25519-nkey"}`; the signature is
//! ed25519 by the issuer over `header.claims`. `jti` is what nats-io/jwt
//! computes (base32, no padding, of SHA-512/256 over the standard claims
//! with `jti` empty); nats-server does not check it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512_256};

/// `{"typ":"JWT","alg":"ed25519-nkey"}`.
const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn base32(data: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Encodes and signs claims. `std` holds the standard claims (`iss` is set
/// from `issuer`, `iat` to now unless given, `jti` computed); `nats` is the
/// `nats` object (its `version` is forced to 2).
pub fn encode(issuer: &KeyPair, sub: &str, name: &str, exp: Option<i64>, nats: Value) -> String {
    // Field order as Go's ClaimsData: aud, exp, jti, iat, iss, name, nbf, sub.
    let mut std = Map::new();
    if let Some(e) = exp {
        std.insert("exp".into(), json!(e));
    }
    std.insert("iat".into(), json!(now()));
    std.insert("iss".into(), json!(issuer.public_key()));
    std.insert("name".into(), json!(name));
    std.insert("sub".into(), json!(sub));
    let jti = base32(&Sha512_256::digest(
        serde_json::to_vec(&Value::Object(std.clone())).unwrap(),
    ));
    let mut claims = Map::new();
    if let Some(e) = exp {
        claims.insert("exp".into(), json!(e));
    }
    claims.insert("jti".into(), json!(jti));
    for (k, v) in std {
        if k != "exp" {
            claims.insert(k, v);
        }
    }
    let mut nats = nats;
    nats["version"] = json!(2);
    claims.insert("nats".into(), nats);
    let h = URL_SAFE_NO_PAD.encode(HEADER);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Value::Object(claims)).unwrap());
    let to_sign = format!("{h}.{c}");
    let sig = issuer.sign(to_sign.as_bytes()).expect("sign");
    format!("{to_sign}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A self-signed operator JWT (optionally with signing keys and a system
/// account).
pub fn operator(op: &KeyPair, system_account: Option<&str>) -> String {
    let mut nats = json!({"type": "operator"});
    if let Some(a) = system_account {
        nats["system_account"] = json!(a);
    }
    encode(op, &op.public_key(), "test-operator", None, nats)
}

/// An account JWT issued by `op` with unlimited limits (as
/// `jwt.NewAccountClaims`) and the given signing keys.
pub fn account(op: &KeyPair, acc: &KeyPair, name: &str, signing_keys: &[String]) -> String {
    let mut nats = json!({
        "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                   "wildcards": true, "conn": -1, "leaf": -1},
        "default_permissions": {"pub": {}, "sub": {}},
        "type": "account",
    });
    if !signing_keys.is_empty() {
        nats["signing_keys"] = json!(signing_keys);
    }
    encode(op, &acc.public_key(), name, None, nats)
}

/// User claims builder (defaults as `jwt.NewUserClaims`: no limits).
pub struct User {
    /// Extra fields merged into the `nats` object (e.g. `bearer_token`,
    /// `allowed_connection_types`, `pub`, `sub`).
    pub nats: Value,
    /// `exp`, seconds since the epoch.
    pub exp: Option<i64>,
    /// `issuer_account` (set when signing with an account signing key).
    pub issuer_account: Option<String>,
}

impl Default for User {
    fn default() -> User {
        User {
            nats: json!({}),
            exp: None,
            issuer_account: None,
        }
    }
}

/// A user JWT for `user` issued by `issuer` (the account or one of its
/// signing keys).
pub fn user(issuer: &KeyPair, user: &KeyPair, u: User) -> String {
    let mut nats = json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1});
    if let Value::Object(m) = u.nats {
        for (k, v) in m {
            nats[k] = v;
        }
    }
    if let Some(a) = u.issuer_account {
        nats["issuer_account"] = json!(a);
    }
    nats["type"] = json!("user");
    encode(issuer, &user.public_key(), "test-user", u.exp, nats)
}

/// Signs an INFO nonce as clients do: base64url without padding.
pub fn sign_nonce(kp: &KeyPair, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes()).expect("sign"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(super::base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(super::base32(b"f"), "MY");
    }
}
