//! A `remotes` entry's dialing state (spec `leafnode.md` §2.3, §3.12),
//! shared by its dialer thread (`crate::net`) and the link it made
//! (`crate::session::leaf`).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::options::leaf::RemoteLeaf;

/// One `remotes` entry's dialing state, shared by its dialer thread
/// (`crate::net`) and the connection it made.
#[derive(Debug)]
pub(crate) struct Remote {
    /// The configuration.
    pub cfg: RemoteLeaf,
    /// The URL being used: (`host:port`, user, password).
    pub current: Mutex<Option<RemoteUrl>>,
    /// Set when the connection closed, with a delay owed before the next
    /// dial (a loop: 30 s); the dialer waits on `cv`.
    pub closed: Mutex<Option<Option<Duration>>>,
    /// Signals `closed`.
    pub cv: Condvar,
}

/// A parsed remote URL (`nats-leaf://user:pass@host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteUrl {
    /// `host:port` (port 7422 when none).
    pub host_port: String,
    /// Userinfo user.
    pub user: Option<String>,
    /// Userinfo password.
    pub pass: Option<String>,
}

impl RemoteUrl {
    /// Parses `scheme://[user[:pass]@]host[:port][/path]`; any scheme not
    /// starting with `ws` is plain TCP (spec §2.3).
    pub(crate) fn parse(url: &str) -> Option<RemoteUrl> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.split('/').next()?;
        let (userinfo, hp) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if hp.is_empty() {
            return None;
        }
        let has_port = match hp.rfind(':') {
            Some(i) => !hp.ends_with(']') && hp[i + 1..].parse::<u16>().is_ok(),
            None => false,
        };
        let host_port = if has_port {
            hp.to_string()
        } else {
            format!("{hp}:{}", crate::options::leaf::DEFAULT_LEAF_PORT)
        };
        let (user, pass) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        Some(RemoteUrl {
            host_port,
            user,
            pass,
        })
    }
}

impl Remote {
    /// The connection ended; the dialer may go on after `delay` (or the
    /// `reconnect` interval).
    pub(crate) fn notify_closed(&self, delay: Option<Duration>) {
        *self.closed.lock().expect("remote") = Some(delay);
        self.cv.notify_all();
    }
}
