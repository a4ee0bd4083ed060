//! Operator mode: the user JWT chain (nats-protocol.md §3.4, websocket.md
//! §5.5), in nats-server's order of checks.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::IpAddr;

use super::jwt::{self, AccountClaims, UserClaims, UserPermissionLimits};
use super::{
    nkey, times, ConnectionTypes, Credentials, Identity, Operator, Permissions, PermissionsSpec,
    ResponsePermission,
};

/// Why a user JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JwtFail {
    /// Not valid, not trusted, wrong signature, revoked, type not allowed…
    Invalid,
    /// The user or account JWT is expired or not yet valid.
    Expired,
    /// The client IP is outside `src`.
    Src,
    /// No `times` window is open now.
    Times,
}

/// The user JWT chain in nats-server's order of checks.
pub(super) fn authenticate_jwt(
    op: &Operator,
    creds: &Credentials<'_>,
    token: &str,
    sig: &str,
) -> Result<Identity, JwtFail> {
    use JwtFail::{Expired, Invalid};
    if token.is_empty() {
        return Err(Invalid);
    }
    let mut juc: UserClaims = jwt::decode_user(token).map_err(|_| Invalid)?;
    let now = creds.now_unix_secs;
    if juc.is_expired(now) || juc.is_not_yet_valid(now) {
        return Err(Expired);
    }
    // Connection types come from the user's own claims (checked before a
    // scope template replaces them, as nats-server does).
    let types =
        ConnectionTypes::from_jwt_list(&juc.nats.limits.allowed_connection_types).ok_or(Invalid)?;
    if !types.allows(creds.kind) {
        return Err(Invalid);
    }
    let issuer = if juc.nats.issuer_account.is_empty() {
        juc.iss.clone()
    } else {
        juc.nats.issuer_account.clone()
    };
    let acc_jwt = op.accounts.get(&issuer).ok_or(Invalid)?;
    let acc: AccountClaims = jwt::decode_account(acc_jwt).map_err(|_| Invalid)?;
    if acc.sub != issuer {
        return Err(Invalid);
    }
    if !op.trusted_keys.contains(&acc.iss) {
        return Err(Invalid);
    }
    // User issuer: the account itself or one of its signing keys.
    if juc.iss != acc.sub {
        let sk = acc
            .signing_keys()
            .into_iter()
            .find(|k| k.key == juc.iss)
            .ok_or(Invalid)?;
        if let Some(template) = sk.template {
            if !juc.nats.limits.is_empty() {
                return Err(Invalid);
            }
            juc.nats.limits = apply_template(template, &juc, &acc).ok_or(Invalid)?;
        }
    } else if !juc.nats.issuer_account.is_empty() && juc.nats.issuer_account != juc.iss {
        return Err(Invalid);
    }
    if acc.is_expired(now) {
        return Err(Expired);
    }
    let lim = &juc.nats.limits;
    if lim.bearer_token && acc.nats.limits.disallow_bearer {
        return Err(Invalid);
    }
    if !lim.bearer_token && nkey::verify_nonce(&juc.sub, creds.nonce, sig).is_err() {
        return Err(Invalid);
    }
    if acc.is_revoked(&juc.sub, juc.iat) {
        return Err(Invalid);
    }
    if !src_allows(&lim.src.0, creds.client_ip) {
        return Err(JwtFail::Src);
    }
    let window_end = times::check_times(
        lim.times.as_deref().unwrap_or_default(),
        &lim.times_location,
        now,
        creds.zones,
    )
    .map_err(|()| JwtFail::Times)?;
    let permissions = permissions_from_jwt(lim).map(Arc::new);
    let limit = |user: i64, account: Option<i64>| -> Option<i64> {
        let u = (user >= 0).then_some(user);
        match (u, account.filter(|a| *a >= 0)) {
            (Some(u), Some(a)) => Some(u.min(a)),
            (u, a) => u.or(a),
        }
    };
    Ok(Identity {
        user: juc.sub.clone(),
        account: acc.sub.clone(),
        permissions,
        // The JWT's expiry or the end of the connect window, whichever
        // comes first (nats-server `setExpiration`).
        expires_at_unix: match ((juc.exp > 0).then_some(juc.exp as u64), window_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        max_subscriptions: limit(lim.subs, acc.nats.limits.subs),
        max_payload: limit(lim.payload, acc.nats.limits.payload),
    })
}

/// nats-server `buildPermissionsFromJwt` (+ `validateResponsePermissions`).
fn permissions_from_jwt(l: &UserPermissionLimits) -> Option<Permissions> {
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let mut spec = PermissionsSpec::default();
    let mut any = false;
    if non_empty(&l.publish.allow) || non_empty(&l.publish.deny) {
        any = true;
        spec.publish_allow = l.publish.allow.clone();
        spec.publish_deny = l.publish.deny.clone().unwrap_or_default();
    }
    if non_empty(&l.subscribe.allow) || non_empty(&l.subscribe.deny) {
        any = true;
        spec.subscribe_allow = l.subscribe.allow.clone();
        spec.subscribe_deny = l.subscribe.deny.clone().unwrap_or_default();
    }
    if let Some(r) = l.resp {
        any = true;
        let expires_ms = if r.ttl < 0 {
            ResponsePermission::NO_EXPIRY
        } else if r.ttl == 0 {
            0
        } else {
            (r.ttl as u64 / 1_000_000).max(1)
        };
        spec.allow_responses = Some(ResponsePermission {
            max: r.max,
            expires_ms,
        });
    }
    any.then(|| Permissions::compile_lenient(&spec))
}

/// nats-server `validateSrc`: no `src` = any; else the client IP must be in
/// one of the CIDRs (an unparsable CIDR or unknown IP rejects).
fn src_allows(src: &[String], ip: Option<IpAddr>) -> bool {
    if src.is_empty() {
        return true;
    }
    let Some(ip) = ip else {
        return false;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    for cidr in src {
        let Some((addr, bits)) = cidr.trim().split_once('/') else {
            return false;
        };
        let (Ok(net), Ok(bits)) = (addr.parse::<IpAddr>(), bits.parse::<u32>()) else {
            return false;
        };
        let contains = match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            (IpAddr::V4(_), _) if bits > 32 => return false,
            (IpAddr::V6(_), _) if bits > 128 => return false,
            _ => false,
        };
        if contains {
            return true;
        }
    }
    false
}

/// nats-server `processUserPermissionsTemplate`: the scope template replaces
/// the user's permissions and limits; `{{name()}}`, `{{subject()}}`,
/// `{{account-name()}}`, `{{account-subject()}}`, `{{tag(x)}}` and
/// `{{account-tag(x)}}` tokens are expanded (tags: every value of a
/// `x:value` tag, cartesian product). A generated invalid subject is dropped
/// from allow lists and fails the user in deny lists (`None`); an allow list
/// that becomes empty adds `>` to the deny list.
fn apply_template(
    mut lim: UserPermissionLimits,
    juc: &UserClaims,
    acc: &AccountClaims,
) -> Option<UserPermissionLimits> {
    let sub_allow_set = lim.subscribe.allow.as_ref().is_some_and(|v| !v.is_empty());
    let pub_allow_set = lim.publish.allow.as_ref().is_some_and(|v| !v.is_empty());
    let ctx = Ctx { juc, acc };
    if let Some(v) = lim.subscribe.allow.take() {
        lim.subscribe.allow = Some(ctx.expand(v, false)?);
    }
    if let Some(v) = lim.subscribe.deny.take() {
        lim.subscribe.deny = Some(ctx.expand(v, true)?);
    }
    if let Some(v) = lim.publish.allow.take() {
        lim.publish.allow = Some(ctx.expand(v, false)?);
    }
    if let Some(v) = lim.publish.deny.take() {
        lim.publish.deny = Some(ctx.expand(v, true)?);
    }
    if sub_allow_set && lim.subscribe.allow.as_ref().is_none_or(Vec::is_empty) {
        lim.subscribe
            .deny
            .get_or_insert_with(Vec::new)
            .push(">".into());
    }
    if pub_allow_set && lim.publish.allow.as_ref().is_none_or(Vec::is_empty) {
        lim.publish
            .deny
            .get_or_insert_with(Vec::new)
            .push(">".into());
    }
    Some(lim)
}

struct Ctx<'a> {
    juc: &'a UserClaims,
    acc: &'a AccountClaims,
}

/// One token after expansion: a fixed string or a list of tag values.
enum Tok {
    Fixed(String),
    Tags(Vec<String>),
}

/// Max subjects one template entry may expand to (bounds the product).
const MAX_EXPANSION: usize = 4096;

impl Ctx<'_> {
    fn expand(&self, list: Vec<String>, fail_on_bad: bool) -> Option<Vec<String>> {
        let is_tmpl = |t: &str| t.starts_with("{{") && t.ends_with("}}") && t.len() >= 4;
        if !list.iter().any(|e| e.split('.').any(is_tmpl)) {
            return Some(list);
        }
        let mut out = Vec::new();
        for entry in &list {
            let toks: Vec<Tok> = entry
                .split('.')
                .map(|t| {
                    if is_tmpl(t) {
                        self.op(&t[2..t.len() - 2])
                    } else {
                        Tok::Fixed(t.into())
                    }
                })
                .collect();
            let mut acc: Vec<String> = alloc::vec![String::new()];
            for (i, t) in toks.iter().enumerate() {
                let choices: Vec<&str> = match t {
                    Tok::Fixed(s) => alloc::vec![s.as_str()],
                    Tok::Tags(v) if v.is_empty() => alloc::vec![""],
                    Tok::Tags(v) => v.iter().map(String::as_str).collect(),
                };
                if acc.len().saturating_mul(choices.len()) > MAX_EXPANSION {
                    return None;
                }
                let mut next = Vec::with_capacity(acc.len() * choices.len());
                for prefix in &acc {
                    for c in &choices {
                        let mut s = prefix.clone();
                        if i > 0 {
                            s.push('.');
                        }
                        s.push_str(c);
                        next.push(s);
                    }
                }
                acc = next;
            }
            for s in acc {
                let valid = crate::subject::validate_filter(s.as_bytes()).is_ok() || {
                    // "subject queue" entries: validate the subject part.
                    let mut f = s.split_ascii_whitespace();
                    matches!((f.next(), f.next(), f.next()), (Some(a), Some(_), None)
                        if crate::subject::validate_filter(a.as_bytes()).is_ok())
                };
                if valid {
                    out.push(s);
                } else if fail_on_bad {
                    return None;
                }
            }
        }
        Some(out)
    }

    fn op(&self, raw: &str) -> Tok {
        let op = raw.to_ascii_lowercase();
        let tags = |list: &[String], name: &str| {
            let prefix = alloc::format!("{name}:");
            Tok::Tags(
                list.iter()
                    .filter_map(|t| t.strip_prefix(prefix.as_str()).map(String::from))
                    .collect(),
            )
        };
        match op.as_str() {
            "name()" => Tok::Fixed(self.juc.name.clone()),
            "subject()" => Tok::Fixed(self.juc.sub.clone()),
            "account-name()" => Tok::Fixed(self.acc.name.clone()),
            "account-subject()" => Tok::Fixed(self.juc.nats.issuer_account.clone()),
            _ => {
                if let Some(n) = op
                    .strip_prefix("account-tag(")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    tags(&self.acc.nats.tags, n)
                } else if let Some(n) = op.strip_prefix("tag(").and_then(|r| r.strip_suffix(')')) {
                    tags(&self.juc.nats.tags, n)
                } else {
                    // Unknown macro: nats-server makes the subject invalid on purpose.
                    Tok::Fixed(" ".into())
                }
            }
        }
    }
}
