//! The value readers every block shares: typed getters over config
//! entries with nats-server's error texts (`interface conversion: …`,
//! `… is out of range`), `listen`/`host:port` parsing, Go durations in both
//! directions, and the [`Reader`] that collects errors and warnings while
//! a document is converted.

use core::time::Duration;

use crate::config::{Diagnostic, Entry, Map, Value};

pub(super) fn conv_err(e: &Entry, want: &str) -> Diagnostic {
    Diagnostic::at(
        &e.key_span,
        format!(
            "interface conversion: interface {{}} is {}, not {want}",
            e.value.value.go_type()
        ),
    )
}

pub(super) fn int_of(e: &Entry) -> Result<i64, Diagnostic> {
    match &e.value.value {
        Value::Integer(i) => Ok(*i),
        _ => Err(conv_err(e, "int64")),
    }
}

pub(super) fn str_of(e: &Entry) -> Result<String, Diagnostic> {
    match &e.value.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(conv_err(e, "string")),
    }
}

pub(super) fn bool_of(e: &Entry) -> Result<bool, Diagnostic> {
    match &e.value.value {
        Value::Bool(b) => Ok(*b),
        _ => Err(conv_err(e, "bool")),
    }
}

pub(super) fn map_of<'a>(e: &'a Entry, what: &str) -> Result<&'a Map, Diagnostic> {
    match &e.value.value {
        Value::Map(m) => Ok(m),
        v => Err(Diagnostic::at(
            &e.key_span,
            format!("Expected {what} to be a map, got {}", v.go_type()),
        )),
    }
}

pub(super) fn int_range<T: TryFrom<i64>>(e: &Entry, min: i64, max: i64) -> Result<T, Diagnostic> {
    let v = int_of(e)?;
    if v < min || v > max {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("{} value {v} is out of range [{min}, {max}]", e.key),
        ));
    }
    T::try_from(v)
        .map_err(|_| Diagnostic::at(&e.key_span, format!("{} value {v} is out of range", e.key)))
}

/// `max_control_line`/`max_payload`: at most 2³¹−1 (`<key> value is too
/// big`, opts.go); negative values are rejected too (natsws).
pub(super) fn int32_size(e: &Entry) -> Result<usize, Diagnostic> {
    let v = int_of(e)?;
    if v > i32::MAX as i64 {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("{} value is too big", e.key),
        ));
    }
    int_range(e, 0, i32::MAX as i64)
}

/// A string or an array of strings.
pub(super) fn str_list(e: &Entry) -> Result<Vec<String>, Diagnostic> {
    match &e.value.value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|n| match &n.value {
                Value::String(s) => Ok(s.clone()),
                v => Err(Diagnostic::at(
                    &n.span,
                    format!(
                        "interface conversion: interface {{}} is {}, not string",
                        v.go_type()
                    ),
                )),
            })
            .collect(),
        _ => Err(conv_err(e, "string")),
    }
}

/// A duration option that does not parse. `Display` is Go's
/// `time.ParseDuration` text (the reader prefixes `error parsing <field>: `
/// where nats-server does).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a duration at all (empty, no number, too large): `time: invalid
    /// duration "<s>"`.
    Invalid(String),
    /// A number without a unit (`"5"`): `time: missing unit in duration
    /// "<s>"`.
    MissingUnit(String),
    /// A unit Go does not know (`"5d"`): `time: unknown unit "<unit>" in
    /// duration "<s>"`.
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole value.
        input: String,
    },
    /// A negative duration (natsws; no option accepts one): `negative
    /// duration "<s>" is not allowed`.
    Negative(String),
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationError::Invalid(s) => write!(f, "time: invalid duration \"{s}\""),
            DurationError::MissingUnit(s) => write!(f, "time: missing unit in duration \"{s}\""),
            DurationError::UnknownUnit { unit, input } => {
                write!(f, "time: unknown unit \"{unit}\" in duration \"{input}\"")
            }
            DurationError::Negative(s) => write!(f, "negative duration \"{s}\" is not allowed"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Go `time.ParseDuration`. Units: ns, us/µs/μs, ms, s, m, h. Negative
/// durations are rejected (no option accepts them).
///
/// # Errors
/// A [`DurationError`] with Go's text.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(DurationError::MissingUnit(s.to_string())),
            u => {
                return Err(DurationError::UnknownUnit {
                    unit: u.to_string(),
                    input: s.to_string(),
                })
            }
        };
        total += value * nanos_per;
    }
    if neg && total > 0.0 {
        return Err(DurationError::Negative(s.to_string()));
    }
    if total > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Split `host:port` like Go `net.SplitHostPort` (IPv6 in brackets).
pub(super) fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let idx = s.rfind(':')?;
    let host = &s[..idx];
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), s[idx + 1..].to_string()))
}

/// `listen`/`http` value: int port or `"host:port"` (opts.go parseListen).
pub(super) fn parse_listen(e: &Entry) -> Result<(Option<String>, i32), Diagnostic> {
    match &e.value.value {
        Value::Integer(p) => Ok((None, port_num(e, *p)?)),
        Value::String(s) => {
            let (host, port) = split_host_port(s).ok_or_else(|| {
                Diagnostic::at(
                    &e.key_span,
                    format!("could not parse address string \"{s}\""),
                )
            })?;
            let p: i64 = port.parse().map_err(|_| {
                Diagnostic::at(&e.key_span, format!("could not parse port \"{port}\""))
            })?;
            Ok((Some(host), port_num(e, p)?))
        }
        v => Err(Diagnostic::at(
            &e.key_span,
            format!("expected port or host:port, got {}", v.go_type()),
        )),
    }
}

/// A `port` value: an integer in [-1, 65535] (-1 = random, 0 = default or
/// off, by option).
pub(super) fn port_of(e: &Entry) -> Result<i32, Diagnostic> {
    int_of(e).and_then(|p| port_num(e, p))
}

fn port_num(e: &Entry, p: i64) -> Result<i32, Diagnostic> {
    if !(-1..=65535).contains(&p) {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("port {p} is out of range [-1, 65535]"),
        ));
    }
    Ok(p as i32)
}

fn unknown(e: &Entry) -> Option<Diagnostic> {
    (!e.used_as_variable)
        .then(|| Diagnostic::at(&e.key_span, format!("unknown field \"{}\"", e.key)))
}

/// Collects errors and warnings while converting.
#[derive(Default)]
pub(super) struct Reader {
    /// Errors so far; any one fails the conversion.
    pub(super) errors: Vec<Diagnostic>,
    /// Warnings so far; they end up in [`super::Options::warnings`].
    pub(super) warnings: Vec<Diagnostic>,
}

impl Reader {
    pub(super) fn ok<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    pub(super) fn unknown(&mut self, e: &Entry) {
        if let Some(d) = unknown(e) {
            self.errors.push(d);
        }
    }

    /// `listen` (opts.go parseListen): sets `port`, and `host` when the
    /// value names one.
    pub(super) fn listen(&mut self, e: &Entry, host: &mut String, port: &mut i32) {
        if let Some((h, p)) = self.ok(parse_listen(e)) {
            if let Some(h) = h {
                *host = h;
            }
            *port = p;
        }
    }

    pub(super) fn set<T>(&mut self, slot: &mut T, r: Result<T, Diagnostic>) {
        if let Some(v) = self.ok(r) {
            *slot = v;
        }
    }

    /// Duration option that also takes integer seconds with a warning
    /// (`ping_interval`, `write_deadline`; opts.go parseDuration).
    pub(super) fn duration_or_secs(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        match &e.value.value {
            Value::String(s) => {
                let r = parse_go_duration(s).map_err(|err| {
                    Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}"))
                });
                self.ok(r)
            }
            Value::Integer(i) if *i >= 0 => {
                self.warnings.push(Diagnostic::at(
                    &e.key_span,
                    format!("{field} should be converted to a duration"),
                ));
                Some(Duration::from_secs(*i as u64))
            }
            _ => {
                self.errors.push(conv_err(e, "string"));
                None
            }
        }
    }

    /// Duration option that only takes a duration string.
    pub(super) fn duration_str(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        let s = self.ok(str_of(e))?;
        let r = parse_go_duration(&s)
            .map_err(|err| Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}")));
        self.ok(r)
    }

    /// Seconds as int/float or a duration string (auth/tls `timeout`).
    pub(super) fn seconds(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        match &e.value.value {
            Value::Integer(i) if *i >= 0 => Some(Duration::from_secs(*i as u64)),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => Some(Duration::from_secs_f64(*f)),
            Value::String(s) => {
                let r = parse_go_duration(s).map_err(|err| {
                    Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}"))
                });
                self.ok(r)
            }
            v => {
                self.errors.push(Diagnostic::at(
                    &e.key_span,
                    format!("error parsing {field}: unsupported type {}", v.go_type()),
                ));
                None
            }
        }
    }
}

/// Go-style duration text (`2m0s`, `10s`, `1.5s`) for messages.
pub fn go_dur(d: Duration) -> String {
    let total = d.as_secs_f64();
    if d.is_zero() {
        return "0s".to_string();
    }
    if total < 1.0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let frac = d.subsec_nanos();
    let sec_txt = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{:.9}", frac as f64 / 1e9);
        format!("{s}{}s", f.trim_start_matches('0').trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{sec_txt}")
    } else if m > 0 {
        format!("{m}m{sec_txt}")
    } else {
        sec_txt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_units_and_errors() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("1h2m3s"), Duration::from_secs(3723));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("3us"), Duration::from_micros(3));
        assert_eq!(ok("3µs"), Duration::from_micros(3));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(
            parse_go_duration("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_go_duration("5d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"5d\""
        );
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("s").is_err());
    }

    #[test]
    fn go_duration_text() {
        assert_eq!(go_dur(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_dur(Duration::from_secs(10)), "10s");
        assert_eq!(go_dur(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_dur(Duration::from_millis(500)), "500ms");
        assert_eq!(go_dur(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_dur(Duration::ZERO), "0s");
    }

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("a:1"), Some(("a".into(), "1".into())));
        assert_eq!(split_host_port("[::1]:2"), Some(("::1".into(), "2".into())));
        assert_eq!(split_host_port(":3"), Some(("".into(), "3".into())));
        assert_eq!(split_host_port("noport"), None);
        assert_eq!(split_host_port("a:b:c"), None);
    }
}
