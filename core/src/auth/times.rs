//! JWT connect windows: a user JWT's `times` ranges in its `times_location`
//! time zone (nats-protocol.md §3.4; nats-server `validateTimes`).
//!
//! Core has no clock and no time-zone database: the time comes in as
//! [`Credentials::now_unix_secs`](super::Credentials::now_unix_secs) and
//! wall-clock conversions go through a [`TimeZones`] the caller supplies
//! (the server's reads the IANA database; [`UtcOnly`] knows UTC alone).

use super::jwt::TimeRange;

/// Wall-clock conversions for `times` windows.
pub trait TimeZones: core::fmt::Debug {
    /// Unix seconds of the wall-clock time `secs_of_day` (0..86 400) on the
    /// date `day_offset` days after the date that `now_unix_secs` falls on,
    /// both in the zone `zone`: an IANA name such as `America/New_York`, or
    /// `""` for the server's local zone (nats-server uses Go's
    /// `time.Local`). `None` when the zone is unknown (the connection is
    /// then refused, as nats-server refuses when `time.LoadLocation`
    /// fails). A wall-clock time skipped or repeated by a DST change maps
    /// to either of its neighbours (Go's `time.Date` does not promise which
    /// either).
    fn local_to_unix(
        &self,
        zone: &str,
        now_unix_secs: i64,
        day_offset: i32,
        secs_of_day: u32,
    ) -> Option<i64>;
}

/// [`TimeZones`] that knows only UTC: `""`, `UTC` and `Etc/UTC` (the
/// server's local zone is taken as UTC); every other name is unknown.
/// For tests and for builds without a time-zone database (the wasm
/// package).
#[derive(Debug, Clone, Copy, Default)]
pub struct UtcOnly;

impl TimeZones for UtcOnly {
    fn local_to_unix(
        &self,
        zone: &str,
        now_unix_secs: i64,
        day_offset: i32,
        secs_of_day: u32,
    ) -> Option<i64> {
        if !matches!(zone, "" | "UTC" | "Etc/UTC") {
            return None;
        }
        let day = now_unix_secs.div_euclid(86_400) + i64::from(day_offset);
        Some(day * 86_400 + i64::from(secs_of_day))
    }
}

/// Parses Go's `15:04:05` layout into seconds of the day: the hour has one
/// or two digits (0–23), minutes and seconds exactly two (0–59), nothing
/// else. `None` otherwise.
pub fn parse_clock(s: &str) -> Option<u32> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |p: &str, lens: core::ops::RangeInclusive<usize>, max: u32| -> Option<u32> {
        if !lens.contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse::<u32>().ok().filter(|&v| v <= max)
    };
    Some(num(h, 1..=2, 23)? * 3600 + num(m, 2..=2, 59)? * 60 + num(sec, 2..=2, 59)?)
}

/// Whether a connection may start now (nats-server `validateTimes`).
///
/// - `Ok(None)`: no windows, any time is fine.
/// - `Ok(Some(end))`: `now` is inside a window that closes at `end` (Unix
///   seconds): the connection is closed then, with `User Authentication
///   Expired`, unless the JWT expires first.
/// - `Err(())`: outside every window, a window that does not parse, or an
///   unknown zone.
///
/// A window is `start ≤ now < end` on today's date in the zone; when
/// `start` is after `end` the window crosses midnight: it ends on the next
/// day, and after midnight the window that opened the day before is still
/// open until `end` (nats-server 2.15.1 admits both, checked by
/// `server/tests/jwt.rs` against it).
#[allow(clippy::result_unit_err)]
pub fn check_times(
    ranges: &[TimeRange],
    zone: &str,
    now_unix_secs: u64,
    zones: &dyn TimeZones,
) -> Result<Option<u64>, ()> {
    if ranges.is_empty() {
        return Ok(None);
    }
    let now = i64::try_from(now_unix_secs).map_err(|_| ())?;
    let at = |day: i32, secs: u32| zones.local_to_unix(zone, now, day, secs).ok_or(());
    for r in ranges {
        let start = parse_clock(&r.start).ok_or(())?;
        let end = parse_clock(&r.end).ok_or(())?;
        // (day of the start, day of the end) relative to today.
        let days: &[(i32, i32)] = if start > end {
            &[(0, 1), (-1, 0)]
        } else {
            &[(0, 0)]
        };
        for &(d_start, d_end) in days {
            let (s, e) = (at(d_start, start)?, at(d_end, end)?);
            if s <= now && now < e {
                return Ok(Some(e as u64));
            }
        }
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn range(start: &str, end: &str) -> TimeRange {
        TimeRange {
            start: start.to_string(),
            end: end.to_string(),
        }
    }

    /// 2026-12-04 00:00:00 UTC.
    const DAY: u64 = 1_796_342_400;

    #[test]
    fn parse_clock_follows_the_go_layout() {
        assert_eq!(parse_clock("00:00:00"), Some(0));
        assert_eq!(parse_clock("9:05:07"), Some(9 * 3600 + 5 * 60 + 7));
        assert_eq!(parse_clock("23:59:59"), Some(86_399));
        for bad in [
            "",
            "24:00:00",
            "12:60:00",
            "12:00:60",
            "12:0:00",
            "12:00:0",
            "123:00:00",
            "12:00",
            "12:00:00:00",
            "+1:00:00",
            "12:00:00 ",
            "ab:cd:ef",
        ] {
            assert_eq!(parse_clock(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_day_window_admits_from_start_to_end() {
        let w = [range("09:00:00", "17:00:00")];
        let z = &UtcOnly;
        assert_eq!(check_times(&w, "", DAY + 9 * 3600 - 1, z), Err(()));
        assert_eq!(
            check_times(&w, "", DAY + 9 * 3600, z),
            Ok(Some(DAY + 17 * 3600))
        );
        assert_eq!(
            check_times(&w, "UTC", DAY + 16 * 3600, z),
            Ok(Some(DAY + 17 * 3600))
        );
        assert_eq!(check_times(&w, "", DAY + 17 * 3600, z), Err(()));
    }

    #[test]
    fn an_overnight_window_ends_the_next_day_and_admits_after_midnight() {
        let w = [range("22:00:00", "06:00:00")];
        let z = &UtcOnly;
        assert_eq!(
            check_times(&w, "", DAY + 23 * 3600, z),
            Ok(Some(DAY + 86_400 + 6 * 3600))
        );
        // 03:00: inside the window that opened yesterday at 22:00.
        assert_eq!(
            check_times(&w, "", DAY + 3 * 3600, z),
            Ok(Some(DAY + 6 * 3600))
        );
        assert_eq!(check_times(&w, "", DAY + 12 * 3600, z), Err(()));
    }

    #[test]
    fn the_first_matching_window_wins_and_no_windows_means_any_time() {
        let w = [range("01:00:00", "02:00:00"), range("10:00:00", "12:00:00")];
        assert_eq!(
            check_times(&w, "", DAY + 11 * 3600, &UtcOnly),
            Ok(Some(DAY + 12 * 3600))
        );
        assert_eq!(check_times(&[], "Mars/Olympus", DAY, &UtcOnly), Ok(None));
    }

    #[test]
    fn bad_windows_and_unknown_zones_refuse() {
        let z = &UtcOnly;
        assert_eq!(
            check_times(&[range("9am", "17:00:00")], "", DAY, z),
            Err(())
        );
        assert_eq!(check_times(&[range("", "")], "", DAY, z), Err(()));
        let w = vec![range("00:00:00", "23:59:59")];
        assert_eq!(check_times(&w, "Mars/Olympus", DAY + 60, z), Err(()));
        // A start equal to the end is an empty window.
        let w = [range("08:00:00", "08:00:00")];
        assert_eq!(check_times(&w, "", DAY + 8 * 3600, z), Err(()));
    }
}
