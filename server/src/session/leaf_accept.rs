//! The accepting side of a leafnode link (spec `leafnode.md` §3.2, §3.5,
//! §3.6, §3.7): the INFO sent on accept, CONNECT checks, authentication and
//! account binding, and the `connect_info` INFO answer.

use std::sync::Arc;

use natsws_core::auth::Permissions;
use natsws_core::router::ConnId;
use natsws_core::session::{Close, ClosedReason};
use natsws_core::time::Millis;

use super::leaf::{close, log_conn, Leaf};
use super::Cx;
use crate::leaf_perms::HubPerms;
use crate::shared::Shared;

/// The INFO a leaf gets on accept (spec §3.2): `auth_required` always,
/// a nonce, `info_on_connect`, and a non-empty `leafnode_urls` (nats-server
/// leafs refuse a server without one as the wrong port). No `compression`:
/// nats-server peers then stay in clear text (§3.11).
pub(crate) fn info_line(shared: &Shared, cid: ConnId, nonce: &str) -> Vec<u8> {
    let s = shared.settings();
    let addr = shared
        .leaf_addr
        .get()
        .copied()
        .unwrap_or(shared.client_addr);
    let host = addr.ip().to_string();
    let v = serde_json::json!({
        "server_id": shared.server_id,
        "server_name": shared.server_name,
        "version": natsws_core::proto::SERVER_VERSION,
        "proto": 3,
        "go": concat!("natsws ", env!("CARGO_PKG_VERSION")),
        "host": host,
        "port": addr.port(),
        "headers": !s.no_header_support,
        "auth_required": true,
        "max_payload": s.max_payload,
        "ip": format!("{host}:{}", addr.port()),
        "client_id": cid,
        "nonce": nonce,
        "info_on_connect": true,
        "leafnode_urls": [format!("{host}:{}", addr.port())],
    });
    let mut v = v;
    if let Some(t) = &s.leaf_tls {
        v["tls_required"] = true.into();
        if t.verify {
            v["tls_verify"] = true.into();
        }
    }
    let mut out = b"INFO ".to_vec();
    out.extend_from_slice(v.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// A leaf whose CONNECT does not authenticate (at CONNECT or on a
/// reload's re-check): `-ERR 'Authorization Violation'`, nats-server's
/// `authentication error [- User "<user>"]` line, and the close
/// (`Authentication Failure`).
fn refuse(cx: &mut Cx<'_>, user: &str, out: &mut Vec<u8>) -> Close {
    natsws_core::proto::encode_err(out, "Authorization Violation");
    let text = if user.is_empty() {
        "authentication error".to_string()
    } else {
        format!("authentication error - User \"{user}\"")
    };
    log_conn(cx, crate::log::Level::Error, &text);
    close(ClosedReason::AuthenticationFailure, None)
}

/// CONNECT from a soliciting leaf (spec §3.5 in nats-server's order):
/// authentication and binding (§3.6), the wrong-port check, then the
/// `connect_info` INFO, the registration and the interest dump.
pub(super) fn connect(
    leaf: &mut Leaf,
    cx: &mut Cx<'_>,
    json: &[u8],
    now: Millis,
    out: &mut Vec<u8>,
) -> Result<(), Close> {
    let v: serde_json::Value = match serde_json::from_slice(json) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => return Err(close(ClosedReason::ProtocolViolation, None)),
    };
    let user = v["user"].as_str().unwrap_or_default();
    let pass = v["pass"].as_str().unwrap_or_default();
    let Bound {
        account,
        perms,
        expires_at_unix,
    } = match bind(cx, user, pass, json) {
        Some(a) => a,
        None => return Err(refuse(cx, user, out)),
    };
    if v.get("lang").is_some() {
        natsws_core::proto::encode_err(out, "attempted to connect to leaf node port");
        return Err(close(ClosedReason::ProtocolViolation, None));
    }
    let cluster = v["cluster"].as_str().unwrap_or_default();
    if cluster.contains(' ') {
        natsws_core::proto::encode_err(out, "cluster name cannot contain spaces");
        return Err(close(ClosedReason::ProtocolViolation, None));
    }
    if !cluster.is_empty() && cluster == cx.shared.server_name {
        natsws_core::proto::encode_err(out, "remote leafnode has same cluster name");
        return Err(close(ClosedReason::ProtocolViolation, None));
    }
    if account != cx.account.name {
        *cx.account = cx.shared.accounts.get(&account);
    }
    leaf.connect_json = json.to_vec();
    set_perms(leaf, cx, perms.as_deref());
    leaf.set_expiry(expires_at_unix, now);
    let name = v["name"]
        .as_str()
        .or(v["server_id"].as_str())
        .unwrap_or_default();
    leaf.set_remote_name(name.to_string());
    leaf.peer_is_hub = v["is_hub"].as_bool() == Some(true);
    // The leaf asked to be isolated from our other leafs' interest (spec
    // §4.7, CONNECT `isolate`).
    leaf.isolated |= v["isolate"].as_bool() == Some(true);
    leaf.remote_domain = v["domain"].as_str().unwrap_or_default().to_string();
    {
        let mut meta = cx.me.client.lock().expect("meta");
        meta.set_names("", "", v["version"].as_str().unwrap_or_default());
    }
    // The connect_info INFO: the listener INFO plus the bound account.
    let mut info: serde_json::Value = {
        let line = info_line(cx.shared, cx.me.cid, "");
        serde_json::from_slice(&line[5..line.len() - 2]).unwrap_or_default()
    };
    if let Some(m) = info.as_object_mut() {
        m.remove("nonce");
        m.insert("connect_info".into(), true.into());
        m.insert("remote_account".into(), account.clone().into());
        if let Some(p) = &leaf.hub_perms {
            p.add_to_info(m);
        }
    }
    out.extend_from_slice(b"INFO ");
    out.extend_from_slice(info.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    min_version(cx, &v, out)?;
    // The INFO must precede the dump, which goes straight to the outbox.
    cx.turn.queue_out(cx.me, out);
    out.clear();
    leaf.finish(cx, now);
    Ok(())
}

/// `leafnodes { min_version }` (nats-server `processLeafNodeConnect`):
/// an older leaf, after the `connect_info` INFO already in `out`, gets
/// `-ERR 'connection rejected since minimum version required is "<v>"'`
/// (also logged) and is closed with `Minimum Version Required`.
fn min_version(cx: &Cx<'_>, v: &serde_json::Value, out: &mut Vec<u8>) -> Result<(), Close> {
    let settings = cx.shared.settings();
    let Some(mv) = settings
        .leafnodes
        .as_ref()
        .and_then(|l| l.min_version.as_deref())
    else {
        return Ok(());
    };
    let Some(min) = crate::leaf_version::components(mv) else {
        return Ok(());
    };
    if crate::leaf_version::at_least(v["version"].as_str().unwrap_or_default(), min) {
        return Ok(());
    }
    let text = format!("{} {mv:?}", crate::leaf_version::REJECTED);
    natsws_core::proto::encode_err(out, &text);
    log_conn(cx, crate::log::Level::Error, &text);
    Err(close(ClosedReason::MinimumVersionRequired, None))
}

/// The account a leaf with these credentials binds to (spec §3.6), or
/// `None`: not authorized. `leafnodes.authorization` `user` or `users`
/// decide when set; otherwise the server's client authentication runs
/// (users, nkeys, tokens, JWTs, `no_auth_user`) with the connection type
/// `LEAFNODE` or `LEAFNODE_WS`; with no auth at all the leaf binds to
/// `authorization.account` (or `$G`).
/// The user's permissions come with it (only client users have any:
/// `leafnodes.authorization` entries cannot, spec §2.2).
fn bind(cx: &Cx<'_>, user: &str, pass: &str, json: &[u8]) -> Option<Bound> {
    let settings = cx.shared.settings();
    let global = crate::account::GLOBAL_ACCOUNT.to_string();
    let Some(l) = settings.leafnodes.as_ref() else {
        return Some(Bound::account(global));
    };
    let a = &l.authorization;
    if a.user.is_none() && a.nkey.is_none() && a.users.is_empty() {
        if let Some(auth) = settings.auth.as_deref() {
            return global_user(cx, auth, json);
        }
    }
    leaf_user(a, user, pass, json, cx.nonce.as_bytes()).map(Bound::account)
}

/// Branches 1–3 and the no-auth case of spec §3.6: the account of the
/// `leafnodes.authorization` credentials the CONNECT matches.
fn leaf_user(
    a: &crate::options::leaf::LeafAuthorization,
    user: &str,
    pass: &str,
    json: &[u8],
    nonce: &[u8],
) -> Option<String> {
    let global = crate::account::GLOBAL_ACCOUNT.to_string();
    if let Some(u) = &a.user {
        let ok = u == user && password_ok(a.password.as_deref().unwrap_or(""), pass);
        return ok.then(|| a.account.clone().unwrap_or(global));
    }
    if let Some(nk) = &a.nkey {
        let ok = nkey_signed(json, nk, nonce);
        return ok.then(|| a.account.clone().unwrap_or(global));
    }
    if !a.users.is_empty() {
        return a
            .users
            .iter()
            .find(|u| u.user == user && password_ok(&u.password, pass))
            .map(|u| u.account.clone().unwrap_or(global));
    }
    Some(a.account.clone().unwrap_or(global))
}

/// Whether the CONNECT `json` names the public key `nkey` and its `sig`
/// (base64url, standard base64 also accepted) verifies over `nonce` (spec
/// §3.6 branch 2, nats-server `isLeafNodeAuthorized`).
fn nkey_signed(json: &[u8], nkey: &str, nonce: &[u8]) -> bool {
    use base64::Engine as _;
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return false;
    };
    let (Some(sent), Some(sig)) = (v["nkey"].as_str(), v["sig"].as_str()) else {
        return false;
    };
    if sent != nkey {
        return false;
    }
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig));
    let Ok(sig) = sig else {
        return false;
    };
    nkeys::KeyPair::from_public_key(nkey).is_ok_and(|kp| kp.verify(nonce, &sig).is_ok())
}

/// A configured password (plain, or a bcrypt hash) against the one sent
/// (nats-server `comparePasswords`).
fn password_ok(configured: &str, sent: &str) -> bool {
    natsws_core::auth::compare_passwords(configured, sent)
}

/// A reload reaches an accepted link (natsws; nats-server 2.15.1 does not
/// re-check leaf links): the stored CONNECT is authorized again against
/// the new configuration. Not authorized any more: `-ERR 'Authorization
/// Violation'`, the `authentication error` line and a close
/// (`Authentication Failure`); bound to another account, or the user's
/// permissions changed: a close (`Client Closed`), after an INF line for
/// the latter, so that the leaf redials and gets the new binding, its
/// `connect_info` INFO and interest dump (spec §3.5–§3.8).
pub(super) fn reauthorize(
    leaf: &mut Leaf,
    cx: &mut Cx<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Close> {
    let json = std::mem::take(&mut leaf.connect_json);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
    let user = v["user"].as_str().unwrap_or_default();
    let pass = v["pass"].as_str().unwrap_or_default();
    let bound = bind(cx, user, pass, &json);
    leaf.connect_json = json;
    let Some(Bound { account, perms, .. }) = bound else {
        return Err(refuse(cx, v["user"].as_str().unwrap_or_default(), out));
    };
    if account != cx.account.name {
        return Err(close(ClosedReason::ClientClosed, None));
    }
    let now = perms.as_deref().and_then(HubPerms::of);
    if now.as_ref() != leaf.hub_perms.as_deref() {
        log_conn(
            cx,
            crate::log::Level::Info,
            "Leafnode user permissions changed on reload: closing the connection so that it reconnects with them",
        );
        return Err(close(ClosedReason::ClientClosed, None));
    }
    Ok(())
}

/// Applies the bound user's permissions `perms` to the link (spec §3.5
/// item 8, §4.6): swapped into [`HubPerms`], the subscribe side, with the
/// CONNECT's `deny_pub` (the leaf's `deny_imports`) added to its deny
/// list, as the link's delivery permissions.
pub(super) fn set_perms(leaf: &mut Leaf, cx: &Cx<'_>, perms: Option<&Permissions>) {
    leaf.hub_perms = perms.and_then(HubPerms::of).map(Arc::new);
    let (mut out, responses) = match &leaf.hub_perms {
        Some(p) => (p.import.clone(), p.responses),
        None => (crate::leaf_perms::Rules::default(), None),
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&leaf.connect_json) {
        let deny_pub =
            crate::leaf_perms::Rules::from_json(&serde_json::json!({ "deny": v["deny_pub"] }));
        out.deny.extend(deny_pub.deny);
    }
    let delivery = out.delivery(responses);
    let mut dp = cx.me.perms.lock().expect("perms");
    *dp = delivery.map(Box::new);
    cx.me
        .has_perms
        .store(dp.is_some(), std::sync::atomic::Ordering::Release);
}

/// The server's client authentication for a leaf (spec §3.6 branch 4):
/// the account of the user the CONNECT names, and its permissions.
fn global_user(cx: &Cx<'_>, auth: &crate::auth::ServerAuth, json: &[u8]) -> Option<Bound> {
    let connect = natsws_core::proto::Connect::from_json(json).ok()?;
    let kind = cx.me.kind.connection_type();
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = natsws_core::auth::authenticate(
        &auth.cfg,
        &natsws_core::auth::Credentials {
            connect: &connect,
            kind,
            nonce: cx.nonce.as_bytes(),
            cookies: Default::default(),
            tls: None,
            now_unix_secs: now_unix,
            zones: &crate::auth::SystemZones,
            client_ip: Some(cx.me.client_ip()),
        },
    )
    .ok()?;
    Some(Bound {
        account: id.account,
        perms: id.permissions,
        expires_at_unix: id.expires_at_unix,
    })
}

/// What a leaf's CONNECT binds it to (spec §3.6).
struct Bound {
    /// The account's name.
    account: String,
    /// The bound user's permissions, if any.
    perms: Option<Arc<Permissions>>,
    /// A JWT user's `exp` (Unix seconds).
    expires_at_unix: Option<u64>,
}

impl Bound {
    /// Bound to `account`, no permissions, no expiry.
    fn account(account: String) -> Bound {
        Bound {
            account,
            perms: None,
            expires_at_unix: None,
        }
    }
}
