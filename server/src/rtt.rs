//! Round-trip time of a connection, as nats-server measures it for `/connz`
//! and `/leafz` `rtt` (nats-server `client.rtt`, `rttStart`,
//! `computeRTT`, `processConnect`, `processPong`, `getRTT`).
//!
//! A client's CONNECT gives the first estimate: the time since the
//! connection started (the accept, or the WebSocket upgrade), as
//! nats-server's `processConnect` does for clients (not MQTT, not leaf
//! links). Then every PONG sets the RTT to the time since the last server
//! PING. The owning loop records both ([`note_pings`], [`Rtt::connected`]);
//! the monitor reads [`Rtt::get`] from its own thread. Nanosecond
//! resolution from a monotonic clock: Go prints `"123µs"`, which the
//! session's milliseconds cannot give.
//!
//! nats-server's `getRTT` also PINGs a client with a `lang` whose RTT is
//! still zero; the CONNECT estimate makes that branch unreachable for a
//! connection with a `lang`, so natsws has no such PING.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One connection's RTT state, in atomics: written by the owning loop,
/// read by the monitor.
#[derive(Debug)]
pub struct Rtt {
    /// When the connection started (accept, WebSocket upgrade): ns since
    /// [`epoch`] plus one.
    started_ns: AtomicU64,
    /// When the last server PING went out, the same way (0 = never).
    ping_ns: AtomicU64,
    /// The last RTT in ns; 0 = none yet.
    rtt_ns: AtomicU64,
}

/// Go's largest `time.Duration`, in ns (`math.MaxInt64`).
const GO_MAX_DURATION_NS: u64 = i64::MAX as u64;

/// The process's monotonic time origin.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`], plus one so that 0 means "never".
fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

impl Default for Rtt {
    fn default() -> Rtt {
        Rtt::new()
    }
}

impl Rtt {
    /// A connection starting now, with no RTT yet.
    pub fn new() -> Rtt {
        Rtt {
            started_ns: AtomicU64::new(now_ns()),
            ping_ns: AtomicU64::new(0),
            rtt_ns: AtomicU64::new(0),
        }
    }

    /// The connection starts again now (WebSocket: the upgrade completed;
    /// nats-server creates the client then).
    pub fn restart(&self) {
        self.started_ns.store(now_ns(), Ordering::Release);
    }

    /// The client's CONNECT was accepted now: the first estimate is the
    /// time since the start, at least 1 ns (nats-server `processConnect`).
    pub fn connected(&self) {
        let since = now_ns().saturating_sub(self.started_ns.load(Ordering::Acquire));
        self.rtt_ns.store(since.max(1), Ordering::Release);
    }

    /// A server PING goes out now (nats-server `sendPing`: `rttStart`).
    pub fn ping_sent(&self) {
        self.ping_ns.store(now_ns(), Ordering::Release);
    }

    /// A PONG came now: the RTT is the time since the last server PING, at
    /// least 1 ns (nats-server `processPong`, `computeRTT`). A PONG before
    /// any server PING gives Go's largest duration, as nats-server's time
    /// since its zero `rttStart` does (`2562047h47m16.854775807s`).
    pub fn pong_received(&self) {
        let start = self.ping_ns.load(Ordering::Acquire);
        let rtt = if start == 0 {
            GO_MAX_DURATION_NS
        } else {
            now_ns().saturating_sub(start).max(1)
        };
        self.rtt_ns.store(rtt, Ordering::Release);
    }

    /// The last RTT measured in ns, untruncated (nats-server
    /// `getClientInfo`: `c.rtt`); 0 when none yet.
    pub fn nanos(&self) -> u64 {
        self.rtt_ns.load(Ordering::Acquire)
    }

    /// The last RTT measured, zero when none yet, with nats-server
    /// `getRTT`'s truncation: to whole microseconds between 1 µs and 1 ms.
    pub fn get(&self) -> Duration {
        let ns = self.nanos();
        let ns = if ns > 1_000 && ns < 1_000_000 {
            ns - ns % 1_000
        } else {
            ns
        };
        Duration::from_nanos(ns)
    }
}

/// Times what one protocol call did: `before` and `after` are the
/// (server PINGs sent, PONGs received) counts around it.
pub(crate) fn note_pings(rtt: &Rtt, before: (u64, u64), after: (u64, u64)) {
    if after.0 != before.0 {
        rtt.ping_sent();
    }
    if after.1 != before.1 {
        rtt.pong_received();
    }
}

/// `d` as Go's `time.Duration.String()`: `"0s"`, `"850ns"`, `"1.5µs"`,
/// `"12.003ms"`, `"1.5s"`, `"2m3s"`, `"1h0m0.5s"` (fractions without
/// trailing zeros). Durations beyond Go's range (~292 years) saturate.
pub(crate) fn go_duration(d: Duration) -> String {
    let u = u64::try_from(d.as_nanos()).unwrap_or(i64::MAX as u64);
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0..=999 => return format!("{u}ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        return format!("{}{}{unit}", u / 10u64.pow(prec), frac(u, prec));
    }
    let secs = u / 1_000_000_000;
    let f = frac(u, 9);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}{f}s")
    } else if secs >= 60 {
        format!("{m}m{s}{f}s")
    } else {
        format!("{s}{f}s")
    }
}

/// The fraction of `u / 10^prec` as `.ddd` without trailing zeros, empty
/// when it is zero (Go `fmtFrac`).
fn frac(u: u64, prec: u32) -> String {
    let f = u % 10u64.pow(prec);
    if f == 0 {
        return String::new();
    }
    let digits = format!("{f:0width$}", width = prec as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go() {
        let ns = Duration::from_nanos;
        for (d, want) in [
            (ns(0), "0s"),
            (ns(1), "1ns"),
            (ns(999), "999ns"),
            (ns(1_000), "1µs"),
            (ns(1_500), "1.5µs"),
            (ns(123_000), "123µs"),
            (ns(999_999), "999.999µs"),
            (ns(1_000_000), "1ms"),
            (ns(12_003_000), "12.003ms"),
            (ns(1_234_567), "1.234567ms"),
            (ns(1_000_000_000), "1s"),
            (ns(1_500_000_000), "1.5s"),
            (ns(61_000_000_001), "1m1.000000001s"),
            (ns(3_600_000_000_000), "1h0m0s"),
            (ns(3_723_500_000_000), "1h2m3.5s"),
        ] {
            assert_eq!(go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn rtt_truncates_like_get_rtt() {
        let r = Rtt::new();
        assert_eq!(r.get(), Duration::ZERO);
        r.rtt_ns.store(123_456, Ordering::Relaxed);
        assert_eq!(r.get(), Duration::from_micros(123));
        r.rtt_ns.store(1_000, Ordering::Relaxed);
        assert_eq!(r.get(), Duration::from_nanos(1_000));
        r.rtt_ns.store(1_234_567, Ordering::Relaxed);
        assert_eq!(r.get(), Duration::from_nanos(1_234_567));
        r.rtt_ns.store(999, Ordering::Relaxed);
        assert_eq!(r.get(), Duration::from_nanos(999));
    }

    #[test]
    fn pong_without_ping_is_go_max_and_after_ping_at_least_1ns() {
        let r = Rtt::new();
        r.pong_received();
        assert_eq!(go_duration(r.get()), "2562047h47m16.854775807s");
        r.ping_sent();
        r.pong_received();
        assert!(r.get() >= Duration::from_nanos(1));
    }

    #[test]
    fn connect_estimates_from_the_start() {
        let r = Rtt::new();
        r.started_ns.store(1, Ordering::Relaxed);
        let t = now_ns();
        r.connected();
        // The time since the start (the clock's origin here).
        assert!(r.rtt_ns.load(Ordering::Relaxed) >= t - 1);
        r.restart();
        r.connected();
        assert!(r.rtt_ns.load(Ordering::Relaxed) >= 1);
    }
}
