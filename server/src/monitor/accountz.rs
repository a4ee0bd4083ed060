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
/// `account_name`, `is_system` (only when true), `jetstream_enabled`
/// (false), `leafnode_connections` (its open leafnode links), `subscriptions` (the account's
/// subscription count), `name_tag` (the name), and the configured
/// `exports`, `imports` (with the automatic `$SYS` ones) and `mappings`
/// ([`super::account_links`]). natsws does not track `update_time`,
/// `expired`, `complete`, `client_connections` or `sublist_stats` per
/// account, so those are absent.
fn detail(shared: &Shared, acc: &Account) -> Value {
    let settings = shared.settings();
    let mut v = json!({
        "account_name": acc.name,
        "jetstream_enabled": false,
        "leafnode_connections": acc.leafs.all().len(),
        "subscriptions": acc.router.lock().map_or(0, |r| r.len()),
        "name_tag": acc.name,
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
