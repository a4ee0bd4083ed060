//! NATS JWTs (nats-protocol.md §3.4): decoding, signature verification and
//! the claim shapes nats-server reads (user and account claims, version 2).
//!
//! Encoding: `base64url(header).base64url(claims).base64url(sig)` without
//! padding; header `{"typ":"JWT","alg":"ed25519-nkey"}`; `sig` is the
//! Ed25519 signature by the issuer nkey (`iss`) over the ASCII text
//! `header.claims`. Decoding accepts the URL alphabet without padding and
//! falls back to standard base64; the legacy `alg` `ed25519` is accepted.
//!
//! Every decoder is total: arbitrary strings give [`Error`], never a panic
//! (fuzz target `jwt_decode`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use core::fmt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::nkey::{self, KeyKind};

/// The v2 JWT header algorithm.
pub const ALG_NKEY: &str = "ed25519-nkey";
/// The v1 JWT header algorithm (still accepted by nats-server).
pub const ALG_NKEY_V1: &str = "ed25519";

/// Why a JWT was rejected. Display texts are lower-case, for debug logs
/// (clients see `Authorization Violation`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Not three dot-separated base64 parts.
    Malformed,
    /// The header is not JSON, `typ` is not `JWT` or `alg` is unknown.
    BadHeader,
    /// The claims are not the expected JSON shape.
    BadClaims,
    /// `iss` is not a public nkey of a kind allowed for this claim type.
    BadIssuer,
    /// `sub` is not a public nkey of the kind this claim type needs.
    BadSubject,
    /// `nats.type` is not the expected claim type.
    WrongType,
    /// The signature does not verify with `iss`.
    BadSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Malformed => "jwt is not three base64 parts",
            Error::BadHeader => "jwt header not valid",
            Error::BadClaims => "jwt claims not valid",
            Error::BadIssuer => "jwt issuer not valid",
            Error::BadSubject => "jwt subject not valid",
            Error::WrongType => "jwt claim type not expected",
            Error::BadSignature => "jwt signature not verified",
        })
    }
}

impl core::error::Error for Error {}

/// The fields every NATS JWT carries (times in Unix seconds; 0 = unset).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Claims<N> {
    /// `jti`: claim id.
    pub jti: String,
    /// `iat`: issued at (Unix seconds).
    pub iat: i64,
    /// `iss`: issuer public nkey.
    pub iss: String,
    /// `sub`: subject public nkey.
    pub sub: String,
    /// `name`.
    pub name: String,
    /// `exp`: expires at (Unix seconds, 0 = never).
    pub exp: i64,
    /// `nbf`: not before (Unix seconds, 0 = unset).
    pub nbf: i64,
    /// `nats`: the type-specific part.
    pub nats: N,
}

impl<N> Claims<N> {
    /// nats-server's time validation: expired when `exp > 0 && now > exp`.
    pub fn is_expired(&self, now_unix_secs: u64) -> bool {
        self.exp > 0 && i128::from(now_unix_secs) > i128::from(self.exp)
    }

    /// Not yet valid when `nbf > 0 && nbf > now`.
    pub fn is_not_yet_valid(&self, now_unix_secs: u64) -> bool {
        self.nbf > 0 && i128::from(self.nbf) > i128::from(now_unix_secs)
    }
}

/// One `pub`/`sub` permission of a user JWT.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Permission {
    /// `allow` subjects (subscribe entries may be `"subject queue"`).
    pub allow: Option<Vec<String>>,
    /// `deny` subjects.
    pub deny: Option<Vec<String>>,
}

impl Permission {
    fn is_empty(&self) -> bool {
        self.allow.as_ref().is_none_or(Vec::is_empty)
            && self.deny.as_ref().is_none_or(Vec::is_empty)
    }
}

/// `resp` of a user JWT: `max` messages, `ttl` in nanoseconds.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ResponsePermission {
    /// `max` (0 = default 1, negative = unlimited).
    pub max: i64,
    /// `ttl` in nanoseconds (0 = default 2 min, negative = no expiry).
    pub ttl: i64,
}

/// `src`: a list of CIDRs, as a JSON array or one comma-separated string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CidrList(pub Vec<String>);

impl<'de> Deserialize<'de> for CidrList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(String),
            Many(Vec<String>),
            Null(()),
        }
        Ok(CidrList(match Either::deserialize(d)? {
            Either::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Either::Many(v) => v,
            Either::Null(()) => Vec::new(),
        }))
    }
}

/// The permission and limit part of a user JWT (also the template of a
/// scoped signing key), nats jwt `UserPermissionLimits`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct UserPermissionLimits {
    /// `pub` permission.
    #[serde(rename = "pub")]
    pub publish: Permission,
    /// `sub` permission.
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    /// `resp`.
    pub resp: Option<ResponsePermission>,
    /// `src` CIDRs the client IP must be in (empty = any).
    pub src: CidrList,
    /// `times`: connect windows (wall-clock `HH:MM:SS` ranges in
    /// `times_location`; see [`super::times::check_times`]).
    pub times: Option<Vec<TimeRange>>,
    /// `times_location`: the IANA zone of `times` (`""` = the server's
    /// local zone).
    pub times_location: String,
    /// `locale` (not a field nats jwt writes; kept for older tokens, not
    /// used).
    pub locale: String,
    /// `subs`: max subscriptions (-1 = unlimited; absent = 0 as in nats-server).
    pub subs: i64,
    /// `data`: max bytes (not enforced here).
    pub data: i64,
    /// `payload`: max payload bytes (-1 = unlimited; absent = 0).
    pub payload: i64,
    /// `bearer_token`: no nonce signature needed.
    pub bearer_token: bool,
    /// `allowed_connection_types`.
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// nats jwt `HasEmptyPermissions`: everything unset (a user issued by a
    /// scoped signing key must have this).
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty()
            && self.subscribe.is_empty()
            && self.resp.is_none()
            && self.src.0.is_empty()
            && self.times.as_ref().is_none_or(Vec::is_empty)
            && self.times_location.is_empty()
            && self.locale.is_empty()
            && self.subs == 0
            && self.data == 0
            && self.payload == 0
            && !self.bearer_token
            && self.allowed_connection_types.is_empty()
    }
}

/// One `times` connect window of a user JWT (nats jwt `TimeRange`): Go
/// `15:04:05` wall-clock times.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TimeRange {
    /// `start`, `HH:MM:SS`.
    pub start: String,
    /// `end`, `HH:MM:SS`; before `start` for a window that crosses
    /// midnight.
    pub end: String,
}

/// `nats` part of a user JWT.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct UserNats {
    /// Permissions and limits.
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// `issuer_account`: the account, when `iss` is one of its signing keys.
    pub issuer_account: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `type`: `"user"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `version`.
    pub version: i64,
}

/// A decoded user JWT.
pub type UserClaims = Claims<UserNats>;

/// `limits` of an account JWT (only what auth uses). `None` = absent.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AccountLimits {
    /// `subs`: max subscriptions per account (-1 = unlimited).
    pub subs: Option<i64>,
    /// `payload`: max payload (-1 = unlimited).
    pub payload: Option<i64>,
    /// `disallow_bearer`: bearer user JWTs are rejected.
    pub disallow_bearer: bool,
}

/// `nats` part of an account JWT.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AccountNats {
    /// `signing_keys`: strings, or objects `{"kind":"user_scope","key":…,
    /// "template":{…}}` (scoped signing keys).
    pub signing_keys: Vec<serde_json::Value>,
    /// `revocations`: user key (or `*`) → revoked before (Unix seconds).
    pub revocations: BTreeMap<String, i64>,
    /// `limits`.
    pub limits: AccountLimits,
    /// `tags`.
    pub tags: Vec<String>,
    /// `type`: `"account"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `version`.
    pub version: i64,
}

/// A decoded account JWT.
pub type AccountClaims = Claims<AccountNats>;

/// One signing key of an account: plain, or scoped with a user template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// The `A…` public key.
    pub key: String,
    /// The scope template (`Some` for `kind: "user_scope"`).
    pub template: Option<UserPermissionLimits>,
}

impl AccountClaims {
    /// The account's signing keys; malformed entries are skipped.
    pub fn signing_keys(&self) -> Vec<SigningKey> {
        let mut out = Vec::new();
        for v in &self.nats.signing_keys {
            if let Some(k) = v.as_str() {
                out.push(SigningKey {
                    key: k.into(),
                    template: None,
                });
            } else if let Some(obj) = v.as_object() {
                let Some(key) = obj.get("key").and_then(|k| k.as_str()) else {
                    continue;
                };
                let template = obj
                    .get("template")
                    .cloned()
                    .and_then(|t| serde_json::from_value::<UserPermissionLimits>(t).ok())
                    .unwrap_or_default();
                out.push(SigningKey {
                    key: key.into(),
                    template: Some(template),
                });
            }
        }
        out
    }

    /// nats jwt `RevocationList.IsRevoked`: the user `sub` issued at `iat` is
    /// revoked when `revocations[sub] >= iat` or `revocations["*"] >= iat`.
    pub fn is_revoked(&self, user: &str, iat: i64) -> bool {
        let r = &self.nats.revocations;
        r.get("*").is_some_and(|&t| t >= iat) || r.get(user).is_some_and(|&t| t >= iat)
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Common {
    iss: String,
}

fn b64(part: &str) -> Result<Vec<u8>, Error> {
    let b = part.as_bytes();
    URL_SAFE_NO_PAD
        .decode(b)
        .or_else(|_| STANDARD.decode(b))
        .or_else(|_| STANDARD_NO_PAD.decode(b))
        .map_err(|_| Error::Malformed)
}

/// A JWT split into its parts, signature verified by `iss`, claims still
/// raw JSON bytes.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The claims JSON.
    pub claims_json: Vec<u8>,
    /// The issuer public key (`iss`).
    pub issuer: String,
}

/// Splits a JWT, checks the header, and verifies the signature with the
/// claims' `iss` key (which must be an account or operator key).
///
/// # Errors
/// [`Error::Malformed`], [`Error::BadHeader`], [`Error::BadClaims`],
/// [`Error::BadIssuer`], [`Error::BadSignature`].
pub fn verify(token: &str) -> Result<Verified, Error> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed);
    };
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|_| Error::BadHeader)?;
    if !header.typ.eq_ignore_ascii_case("JWT")
        || (header.alg != ALG_NKEY && header.alg != ALG_NKEY_V1)
    {
        return Err(Error::BadHeader);
    }
    let claims_json = b64(c)?;
    let common: Common = serde_json::from_slice(&claims_json).map_err(|_| Error::BadClaims)?;
    let sig = b64(s)?;
    let kind = match common.iss.as_bytes().first() {
        Some(b'A') => KeyKind::Account,
        Some(b'O') => KeyKind::Operator,
        _ => return Err(Error::BadIssuer),
    };
    let signed_len = h.len() + 1 + c.len();
    let signed = token.as_bytes().get(..signed_len).ok_or(Error::Malformed)?;
    match nkey::verify_raw(&common.iss, kind, signed, &sig) {
        Ok(()) => Ok(Verified {
            claims_json,
            issuer: common.iss,
        }),
        Err(nkey::Error::InvalidKey) => Err(Error::BadIssuer),
        Err(_) => Err(Error::BadSignature),
    }
}

fn decode_typed<N: DeserializeOwned + Default>(token: &str) -> Result<Claims<N>, Error> {
    let v = verify(token)?;
    serde_json::from_slice(&v.claims_json).map_err(|_| Error::BadClaims)
}

/// Decodes and verifies a user JWT: signature by `iss`, `iss` an account
/// key (`A…`), `sub` a user key (`U…`), `nats.type == "user"`. Time
/// validity is not checked here ([`Claims::is_expired`]).
///
/// # Errors
/// Any [`Error`].
pub fn decode_user(token: &str) -> Result<UserClaims, Error> {
    let c: UserClaims = decode_typed(token)?;
    if !nkey::is_valid_public_key(&c.iss, KeyKind::Account) {
        return Err(Error::BadIssuer);
    }
    if !nkey::is_valid_public_key(&c.sub, KeyKind::User) {
        return Err(Error::BadSubject);
    }
    if c.nats.kind != "user" {
        return Err(Error::WrongType);
    }
    Ok(c)
}

/// Decodes and verifies an account JWT: signature by `iss` (operator or
/// account key), `sub` an account key, `nats.type == "account"`.
///
/// # Errors
/// Any [`Error`].
pub fn decode_account(token: &str) -> Result<AccountClaims, Error> {
    let c: AccountClaims = decode_typed(token)?;
    if !nkey::is_valid_public_key(&c.sub, KeyKind::Account) {
        return Err(Error::BadSubject);
    }
    if c.nats.kind != "account" {
        return Err(Error::WrongType);
    }
    Ok(c)
}

/// The user key (`sub`) of a user JWT *without* verifying anything, for log
/// labels (`JWT User "U…"`). `None` when it cannot be read.
pub fn peek_subject(token: &str) -> Option<String> {
    let c = token.split('.').nth(1)?;
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Sub {
        sub: String,
    }
    let s: Sub = serde_json::from_slice(&b64(c).ok()?).ok()?;
    (!s.sub.is_empty()).then_some(s.sub)
}

/// Encodes and signs a JWT over `claims_json` with `signer` (which must hold
/// a seed), for tests and tooling. The claims text is used as is (its `iss`
/// should be `signer`'s public key). If `signer` has no seed the signature
/// part is empty and the token never verifies.
pub fn encode(claims_json: &str, signer: &nkeys::KeyPair) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims_json.as_bytes());
    let mut out = String::with_capacity(header.len() + claims.len() + 90);
    out.push_str(&header);
    out.push('.');
    out.push_str(&claims);
    let sig = signer.sign(out.as_bytes()).unwrap_or_default();
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    out
}
