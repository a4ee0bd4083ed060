//! `/accountz` (nats-server `Server.Accountz`): the names of the accounts,
//! or with `?acc=<name>` that account's detail.
//!
//! `system_account` names the system account (omitted with
//! `no_system_account`), which is listed like any other.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::{Error, Params};
use crate::account::Account;
use crate::log::rfc3339;
use crate::shared::Shared;

/// `account_detail` (nats-server `AccountInfo`), the part natsws knows:
/// `account_name`, `update_time` (when the configuration was loaded),
/// `is_system` (only when true), `expired` (false), `complete` (true),
/// `jetstream_enabled` (false), `leafnode_connections` (its open leafnode
/// links), `client_connections` (its other open connections),
/// `subscriptions` (the account's subscription count), `name_tag` (the
/// name), `sublist_stats` (the count; the cache figures are zero as in
/// `/subsz`), and the configured `exports`, `imports` (with the automatic
/// `$SYS` ones) and `mappings` ([`super::account_links`]).
fn detail(shared: &Shared, acc: &Account) -> Value {
    let settings = shared.settings();
    let subs = acc.router.lock().map_or(0, |r| r.len());
    let clients = shared.conns.lock().map_or(0, |c| {
        c.values()
            .filter(|cs| !cs.kind.is_leaf())
            .filter(|cs| cs.client.lock().is_ok_and(|m| m.account() == acc.name))
            .count()
    });
    let mut v = json!({
        "account_name": acc.name,
        "update_time": rfc3339(shared.reload.load_time()),
        "expired": false,
        "complete": true,
        "jetstream_enabled": false,
        "leafnode_connections": acc.leafs.all().len(),
        "client_connections": clients,
        "subscriptions": subs,
        "name_tag": acc.name,
        "sublist_stats": {
            "num_subscriptions": subs,
            "num_cache": 0,
            "num_inserts": 0,
            "num_removes": 0,
            "num_matches": 0,
            "cache_hit_rate": 0.0,
            "max_fanout": 0,
            "avg_fanout": 0.0,
        },
    });
    if settings.system_account.as_deref() == Some(acc.name.as_str()) {
        v["is_system"] = json!(true);
    }
    super::account_links::add(&mut v, &settings, &acc.name);
    v
}

/// The `/accountz` object: `server_id`, `now`, and either `accounts` (every
/// account's name: `$G`, the configured accounts, and in operator mode the
/// accounts used so far) or, for `acc`, `account_detail`. An unknown `acc`
/// is nats-server's error `Account <name> does not exist` (a 400).
pub(crate) fn accountz(shared: &Shared, params: &Params) -> Result<Value, Error> {
    let mut v = json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
    });
    if let Some(sys) = &shared.settings().system_account {
        v["system_account"] = json!(sys);
    }
    let accounts = shared.accounts.all();
    match params.get("acc").filter(|a| !a.is_empty()) {
        None => {
            let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
            v["accounts"] = json!(names);
        }
        Some(name) => {
            let acc = accounts
                .iter()
                .find(|a| a.name == *name)
                .ok_or_else(|| Error::NoAccount(name.clone()))?;
            v["account_detail"] = detail(shared, acc);
        }
    }
    Ok(v)
}
