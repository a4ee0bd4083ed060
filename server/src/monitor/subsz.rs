//! `/subsz` and `/subscriptionsz` (nats-server `Server.Subsz`): the
//! subscription count and, with `subs`, the subscriptions of every
//! account, paged with `offset`/`limit` and filtered by `test`.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::{param_bool, param_int, Error, Params};
use crate::log::rfc3339;
use crate::shared::Shared;

/// The `/subsz` object for the query `params`.
pub(crate) fn subsz(shared: &Shared, params: &Params) -> Result<Value, Error> {
    let subs = param_bool(params, "subs")?;
    let offset = param_int(params, "offset", 0)?.max(0) as usize;
    let limit = param_int(params, "limit", 1024)?.max(0) as usize;
    let test = params.get("test");
    if let Some(t) = test {
        if natsws_core::subject::validate_subject(t.as_bytes()).is_err() {
            return Err(Error::TestSubject(t.clone()));
        }
    }
    let mut list = Vec::new();
    let mut num_subscriptions = 0;
    let only = params.get("acc").filter(|a| !a.is_empty());
    for acc in shared.accounts.all() {
        if only.is_some_and(|a| *a != acc.name) {
            continue;
        }
        let router = acc.router.lock().map_err(|_| Error::Internal)?;
        num_subscriptions += router.len();
        if !subs {
            continue;
        }
        router.sublist().for_each(|_, _, s| {
            if test.is_some_and(|t| !s.matches(t.as_bytes())) {
                return;
            }
            // `account_tag`: the account's name tag, which is its name
            // unless a JWT names it (nats-server `getNameTag`; natsws
            // keeps no JWT name: docs/compat.md).
            let mut v = sub_detail(s);
            v["account"] = json!(acc.name);
            v["account_tag"] = json!(acc.name);
            list.push(v);
        });
    }
    let total = list.len();
    let page: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
    let mut v = json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "num_subscriptions": num_subscriptions,
        "num_cache": 0,
        "num_inserts": 0,
        "num_removes": 0,
        "num_matches": 0,
        "cache_hit_rate": 0.0,
        "max_fanout": 0,
        "avg_fanout": 0.0,
        "total": total,
        "offset": offset,
        "limit": limit,
    });
    if subs {
        v["subscriptions_list"] = json!(page);
    }
    Ok(v)
}

/// nats-server's `SubDetail` of one subscription without its account keys
/// (`newClientSubDetail`): `subject`, `sid`, `msgs`, `cid`, and `qgroup` and
/// `max` when set. `/subsz` adds `account` and `account_tag`; `/connz
/// ?subs=detail` lists it as is.
pub(super) fn sub_detail<T>(s: &natsws_core::router::Subscription<T>) -> Value {
    let mut v = json!({
        "subject": String::from_utf8_lossy(s.filter()),
        "sid": String::from_utf8_lossy(s.sid()),
        "msgs": s.delivered(),
        "cid": s.conn,
    });
    if let Some(q) = s.queue() {
        v["qgroup"] = json!(String::from_utf8_lossy(q));
    }
    if s.max_msgs() > 0 {
        v["max"] = json!(s.max_msgs());
    }
    v
}
