//! Logging in nats-server's line format (spec `nats-protocol.md` §7):
//! `[<pid>] <YYYY/MM/DD> <HH:MM:SS.uuuuuu> [<LVL>] <message>`, to stderr or a
//! log file. Timestamps are in the server's local zone (`TZ`, else
//! `/etc/localtime`), read once at the first line, as Go's `time.Local`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Log levels, as nats-server prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `[INF]`
    Info,
    /// `[WRN]`
    Warn,
    /// `[ERR]`
    Error,
    /// `[FTL]`
    Fatal,
    /// `[DBG]`, only with `debug`.
    Debug,
    /// `[TRC]`, only with `trace`.
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Info => "INF",
            Level::Warn => "WRN",
            Level::Error => "ERR",
            Level::Fatal => "FTL",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        }
    }
}

/// The log file and its path (reopened by [`reopen`], replaced by
/// [`set_file`]); `None` = stderr.
static FILE: Mutex<Option<(File, PathBuf)>> = Mutex::new(None);
/// Set once [`init`] has run: later calls only change the levels.
static INITIALIZED: OnceLock<()> = OnceLock::new();
static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static LOGTIME: AtomicBool = AtomicBool::new(true);

fn file() -> std::sync::MutexGuard<'static, Option<(File, PathBuf)>> {
    FILE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Configures the logger once: debug and trace levels, timestamps, and an
/// optional log file (appended to). Later calls only change the levels.
pub fn init(debug: bool, trace: bool, logtime: bool, file: Option<&str>) -> std::io::Result<()> {
    set_levels(debug, trace, logtime);
    if INITIALIZED.get().is_none() {
        if let Some(path) = file {
            let f = open(path.as_ref())?;
            *self::file() = Some((f, path.into()));
        }
        let _ = INITIALIZED.set(());
    }
    Ok(())
}

/// Changes the levels and the timestamp setting (a configuration reload).
pub fn set_levels(debug: bool, trace: bool, logtime: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
    LOGTIME.store(logtime, Ordering::Relaxed);
}

/// Opens `path` for appending, as the log file does.
///
/// # Errors
/// The file cannot be created or opened.
pub fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Sends later lines to `file` (opened with [`open`]) at `path`, or to
/// stderr with `None` (a configuration reload that changed `log_file`).
pub fn set_file(file: Option<(File, PathBuf)>) {
    *self::file() = file;
}

/// SIGUSR1 (log rotation): opens the log file's path again, so that lines
/// go to a new file once the old one was renamed. `Ok(false)` when logging
/// goes to stderr (nothing to reopen).
///
/// # Errors
/// The file cannot be opened; logging stays on the old file.
pub fn reopen() -> std::io::Result<bool> {
    let mut guard = file();
    let Some((f, path)) = guard.as_mut() else {
        return Ok(false);
    };
    *f = open(path)?;
    Ok(true)
}

/// Whether `[DBG]` lines are printed.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Whether `[TRC]` lines are printed.
pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Writes one line at `level` (dropped when the level is off).
pub fn log(level: Level, msg: std::fmt::Arguments<'_>) {
    match level {
        Level::Debug if !debug_enabled() => return,
        Level::Trace if !trace_enabled() => return,
        _ => {}
    }
    let mut line = format!("[{}] ", std::process::id());
    if LOGTIME.load(Ordering::Relaxed) {
        line.push_str(&timestamp(SystemTime::now()));
        line.push(' ');
    }
    line.push('[');
    line.push_str(level.tag());
    line.push_str("] ");
    line.push_str(&msg.to_string());
    line.push('\n');
    match file().as_mut() {
        Some((f, _)) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// `YYYY/MM/DD HH:MM:SS.uuuuuu` in the server's local zone.
pub fn timestamp(t: SystemTime) -> String {
    static LOCAL: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    timestamp_in(t, LOCAL.get_or_init(jiff::tz::TimeZone::system))
}

/// `YYYY/MM/DD HH:MM:SS.uuuuuu` in `zone`.
fn timestamp_in(t: SystemTime, zone: &jiff::tz::TimeZone) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let offset = jiff::Timestamp::try_from(t)
        .map(|ts| i64::from(zone.to_offset(ts).seconds()))
        .unwrap_or(0);
    let secs = (d.as_secs() as i64).saturating_add(offset).max(0) as u64;
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}/{m:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// RFC 3339 UTC with nanoseconds, as Go marshals `time.Time`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `[INF]` line.
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($t)*)) } }
/// `[WRN]` line.
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warn, format_args!($($t)*)) } }
/// `[ERR]` line.
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($t)*)) } }
/// `[DBG]` line.
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { if $crate::log::debug_enabled() { $crate::log::log($crate::log::Level::Debug, format_args!($($t)*)) } } }
/// `[TRC]` line.
#[macro_export]
macro_rules! trace { ($($t:tt)*) => { if $crate::log::trace_enabled() { $crate::log::log($crate::log::Level::Trace, format_args!($($t)*)) } } }

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_match_go_layouts() {
        let utc = jiff::tz::TimeZone::UTC;
        let t = UNIX_EPOCH + Duration::from_micros(1_767_366_245_123_456);
        assert_eq!(timestamp_in(t, &utc), "2026/01/02 15:04:05.123456");
        assert_eq!(rfc3339(t), "2026-01-02T15:04:05.123456000Z");
        assert_eq!(timestamp_in(UNIX_EPOCH, &utc), "1970/01/01 00:00:00.000000");
        // Local time: the wall clock of the zone, across the date line.
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(timestamp_in(t, &tokyo), "2026/01/03 00:04:05.123456");
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(timestamp_in(t, &ny), "2026/01/02 10:04:05.123456");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000000Z");
    }
}
