//! Process figures from /proc: CPU time (own and the server's) and the
//! server's resident set size.

use core::time::Duration;

/// Clock ticks per second used by /proc/<pid>/stat. Linux reports these
/// fields in USER_HZ, which is 100 on every architecture the bench targets.
const USER_HZ: f64 = 100.0;

/// User and system CPU time of a process (all threads), in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTimes {
    pub(crate) user_s: f64,
    pub(crate) sys_s: f64,
}

impl CpuTimes {
    /// CPU used between `earlier` and `self`.
    pub(crate) fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
        }
    }

    /// Total CPU as a percentage of one core over `wall`.
    pub(crate) fn percent_of(self, wall: Duration) -> f64 {
        let w = wall.as_secs_f64();
        if w <= 0.0 {
            return 0.0;
        }
        100.0 * (self.user_s + self.sys_s) / w
    }
}

/// Parses the contents of /proc/<pid>/stat: fields 14 (utime) and 15
/// (stime), counted after the `)` that ends the command name (which may
/// itself contain spaces and parentheses).
pub(crate) fn parse_stat(stat: &str) -> Option<CpuTimes> {
    let after = &stat[stat.rfind(')')? + 1..];
    // after = " S ppid ..." : state is field 3, so utime (14) is index 11.
    let mut it = after.split_ascii_whitespace().skip(11);
    let utime: u64 = it.next()?.parse().ok()?;
    let stime: u64 = it.next()?.parse().ok()?;
    Some(CpuTimes {
        user_s: utime as f64 / USER_HZ,
        sys_s: stime as f64 / USER_HZ,
    })
}

/// CPU times of process `pid` ("self" for the bench), if readable.
pub(crate) fn cpu_times(pid: &str) -> Option<CpuTimes> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `VmRSS:` (KiB) out of /proc/<pid>/status.
pub(crate) fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut it = line["VmRSS:".len()..].split_ascii_whitespace();
    let v = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") | None => Some(v),
        _ => None,
    }
}

/// Resident set size of `pid` in KiB, if readable.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    parse_rss_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_tricky_command_name() {
        let stat = "1234 (nats (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 555 1000 200";
        let t = parse_stat(stat).unwrap();
        assert_eq!(t.user_s, 2.5);
        assert_eq!(t.sys_s, 0.37);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_stat_is_readable() {
        assert!(cpu_times("self").is_some());
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn rss_line_is_found() {
        let status = "Name:\tnats-server\nVmPeak:\t 9000 kB\nVmRSS:\t   12345 kB\nThreads:\t7\n";
        assert_eq!(parse_rss_kib(status), Some(12345));
        assert_eq!(parse_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn cpu_percentage() {
        let a = CpuTimes {
            user_s: 1.0,
            sys_s: 0.5,
        };
        let b = CpuTimes {
            user_s: 2.0,
            sys_s: 1.0,
        };
        let d = b.since(a);
        assert_eq!(d.percent_of(Duration::from_secs(3)), 50.0);
        assert_eq!(d.percent_of(Duration::ZERO), 0.0);
    }
}
