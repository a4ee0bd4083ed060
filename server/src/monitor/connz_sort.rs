//! `/connz` `sort` (nats-server `SortOpt`, monitor_sort_opts.go): the
//! order of the connection list before paging.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::Error;

/// What a row is sorted by besides the numbers of its object: when the
/// connection started, its last activity (`last_activity`), the end of
/// its uptime, and its RTT.
pub(super) struct Row {
    /// Connection id.
    pub cid: u64,
    /// Accepted at.
    pub start: SystemTime,
    /// Last activity.
    pub last: SystemTime,
    /// Closed at (`None` while open).
    pub stop: Option<SystemTime>,
    /// `rtt` as shown.
    pub rtt: Duration,
    /// The connection's object.
    pub v: Value,
}

/// Checks `sort` for the `state` asked for, with nats-server's errors:
/// `invalid sorting option: <sort>` for an unknown option, `sort by
/// stop|reason only valid on closed connections` unless `state=closed`.
pub(super) fn check(sort: &str, state: &str) -> Result<(), Error> {
    match sort {
        "" | "cid" | "start" | "subs" | "pending" | "msgs_to" | "msgs_from" | "bytes_to"
        | "bytes_from" | "last" | "idle" | "uptime" | "rtt" => Ok(()),
        "stop" | "reason" if state == "closed" => Ok(()),
        "stop" => Err(Error::SortClosedOnly("stop")),
        "reason" => Err(Error::SortClosedOnly("reason")),
        other => Err(Error::Sort(other.to_string())),
    }
}

/// A number of a connection's object (0 when absent).
fn num(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Sorts `rows` (already by `cid`) for `sort`, at time `now`: `cid` and
/// `start` ascending by cid, `uptime` ascending, `reason` ascending by
/// text, every other option descending (nats-server `Connz`). Ties keep
/// the cid order.
pub(super) fn sort(rows: &mut [Row], sort: &str, now: SystemTime) {
    let uptime = |r: &Row| {
        r.stop
            .unwrap_or(now)
            .duration_since(r.start)
            .unwrap_or_default()
    };
    match sort {
        "subs" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "subscriptions"))),
        "pending" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "pending_bytes"))),
        "msgs_to" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "out_msgs"))),
        "msgs_from" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "in_msgs"))),
        "bytes_to" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "out_bytes"))),
        "bytes_from" => rows.sort_by_key(|r| std::cmp::Reverse(num(&r.v, "in_bytes"))),
        "last" => rows.sort_by_key(|r| std::cmp::Reverse(r.last)),
        // Longest idle first: the oldest last activity.
        "idle" => rows.sort_by_key(|r| r.last),
        "uptime" => rows.sort_by_key(uptime),
        "stop" => rows.sort_by_key(|r| std::cmp::Reverse(r.stop)),
        "reason" => rows.sort_by(|a, b| {
            a.v["reason"]
                .as_str()
                .unwrap_or("")
                .cmp(b.v["reason"].as_str().unwrap_or(""))
        }),
        "rtt" => rows.sort_by_key(|r| std::cmp::Reverse(r.rtt)),
        _ => {}
    }
}
