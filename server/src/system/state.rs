//! The system account's per-server state (operations spec §2): the
//! `ServerInfo` sequence, the connection count of every account (for the
//! `SERVER.CONNS` events and `STATZ`), the statsz heartbeat's stop signal
//! and the hook that gives a new account its automatic imports (§2.6).
//!
//! Kept below [`crate::shared`] (which holds one) and free of the server's
//! other modules, so that both the event publishers and the request
//! handlers above can reach it without an import circle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// Installs the automatic imports (operations spec §2.6) into the account
/// named by its argument, once per account.
pub(crate) type ImportHook = Box<dyn Fn(&str) + Send + Sync>;

/// Connection figures of one account (nats-server `Account.numLocalConnections`
/// and the account's `stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AccountConns {
    /// Client connections bound to the account now.
    pub conns: usize,
    /// Messages and payload bytes the account's closed connections
    /// published (`received` from the server's side).
    pub closed_in: (u64, u64),
    /// Messages and payload bytes delivered to the account's closed
    /// connections (`sent`).
    pub closed_out: (u64, u64),
}

/// See the module docs. `Default`: sequence 0, no account counted, not
/// stopped, no import hook.
#[derive(Default)]
pub struct SysState {
    /// `ServerInfo.seq`: bumped for every message the server publishes
    /// into `$SYS` (nats-server `sys.seq`).
    seq: AtomicU64,
    /// Connection counts by account name.
    accounts: Mutex<HashMap<String, AccountConns>>,
    /// Set when the server stops: the heartbeat thread exits.
    stopped: Mutex<bool>,
    /// Wakes the heartbeat thread out of its wait.
    stop_cv: Condvar,
    /// Installed by the request layer at start.
    pub(crate) import_hook: OnceLock<ImportHook>,
    /// The system account, set once at start when there is one.
    pub(crate) account: OnceLock<std::sync::Arc<crate::account::Account>>,
    /// When a requested STATSZ broadcast last went out.
    last_statsz: Mutex<Option<std::time::Instant>>,
}

impl SysState {
    /// The next `ServerInfo.seq` (starts at 1).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds `delta` (±1) to the connections of account `name`; returns the
    /// new figures. (An account's entry stays once made: it holds the
    /// totals of its closed connections; one per account used.)
    pub fn count_conn(&self, name: &str, delta: isize) -> AccountConns {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry(name.to_string()).or_default();
        e.conns = e.conns.saturating_add_signed(delta);
        *e
    }

    /// Adds a closed connection's counters (`in_msgs`, `in_bytes`,
    /// `out_msgs`, `out_bytes`) to account `name`'s totals.
    pub fn add_closed(&self, name: &str, counts: [u64; 4]) {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry(name.to_string()).or_default();
        e.closed_in.0 += counts[0];
        e.closed_in.1 += counts[1];
        e.closed_out.0 += counts[2];
        e.closed_out.1 += counts[3];
    }

    /// The connections of account `name` now.
    pub fn conns_of(&self, name: &str) -> AccountConns {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).copied().unwrap_or_default()
    }

    /// The names of the accounts with connections now, sorted.
    pub fn active_accounts(&self) -> Vec<String> {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = map
            .iter()
            .filter(|(_, c)| c.conns > 0)
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Gives account `name` its automatic imports (no-op without a system
    /// account, or when it has them already).
    pub fn ensure_imports(&self, name: &str) {
        if let Some(hook) = self.import_hook.get() {
            hook(name);
        }
    }

    /// Whether a requested STATSZ broadcast may go out now: at most one a
    /// second (nats-server `statszRateLimit`); records it when it may.
    pub fn statsz_allowed(&self, now: std::time::Instant) -> bool {
        let mut last = self.last_statsz.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now.duration_since(t) < std::time::Duration::from_secs(1) => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    /// Stops the heartbeat thread.
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop_cv.notify_all();
    }

    /// Waits up to `d`; true when the server stopped meanwhile.
    pub fn wait_stop(&self, d: std::time::Duration) -> bool {
        let g = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .stop_cv
            .wait_timeout_while(g, d, |s| !*s)
            .unwrap_or_else(|e| e.into_inner());
        *g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_up_and_down_and_accounts_without_connections_are_inactive() {
        let s = SysState::default();
        assert_eq!(s.count_conn("A", 1).conns, 1);
        assert_eq!(s.count_conn("A", 1).conns, 2);
        assert_eq!(s.count_conn("B", 1).conns, 1);
        assert_eq!(s.active_accounts(), vec!["A".to_string(), "B".to_string()]);
        assert_eq!(s.count_conn("B", -1).conns, 0);
        assert_eq!(s.active_accounts(), vec!["A".to_string()]);
        s.add_closed("B", [1, 5, 2, 7]);
        let b = s.conns_of("B");
        assert_eq!((b.closed_in, b.closed_out), ((1, 5), (2, 7)));
        assert_eq!(s.conns_of("A").conns, 2);
        assert_eq!(s.next_seq(), 1);
        assert_eq!(s.next_seq(), 2);
        let t = std::time::Instant::now();
        assert!(s.statsz_allowed(t));
        assert!(!s.statsz_allowed(t + std::time::Duration::from_millis(999)));
        assert!(s.statsz_allowed(t + std::time::Duration::from_secs(1)));
        s.stop();
        assert!(s.wait_stop(std::time::Duration::from_secs(5)));
    }
}
