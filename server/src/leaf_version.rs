//! Server versions as nats-server compares them for `leafnodes {
//! min_version }` (`server.go: versionComponents`, `versionAtLeast`;
//! `leafnode.go: checkLeafMinVersionConfig`).

/// `major.minor.patch` of a semantic version (`v` prefix, `-pre` and
/// `+build` suffixes allowed); `None` where nats-server says `invalid
/// semver`.
pub(crate) fn components(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let suffix_ok = v[core.len()..]
        .split(['-', '+', '.'])
        .skip(1)
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let mut parts = core.split('.');
    let mut next = || {
        parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u64>().ok())
    };
    let (a, b, c) = (next()?, next()?, next()?);
    (parts.next().is_none() && suffix_ok).then_some((a, b, c))
}

/// Whether `version` is at least `min` (nats-server `versionAtLeast`: an
/// unreadable `version` is not).
pub(crate) fn at_least(version: &str, min: (u64, u64, u64)) -> bool {
    components(version).is_some_and(|v| v >= min)
}

/// The configuration check of `leafnodes { min_version }`: `Err` with
/// nats-server's text (`invalid leafnode's minimum version: invalid
/// semver`, `the minimum version should be at least 2.8.0`).
pub(crate) fn check_min_version(v: &str) -> Result<(), &'static str> {
    match components(v) {
        None => Err("invalid leafnode's minimum version: invalid semver"),
        Some(c) if c < (2, 8, 0) => Err("the minimum version should be at least 2.8.0"),
        Some(_) => Ok(()),
    }
}

/// The `-ERR` prefix of a rejected leaf (nats-server
/// `ErrLeafNodeMinVersionRejected`); the full text adds the version quoted.
pub(crate) const REJECTED: &str = "connection rejected since minimum version required is";

#[cfg(test)]
mod tests {
    use super::{at_least, check_min_version, components};

    #[test]
    fn versions_read_as_nats_server() {
        assert_eq!(components("2.15.1"), Some((2, 15, 1)));
        assert_eq!(components("v2.10.0-beta.1+x"), Some((2, 10, 0)));
        assert_eq!(components("2.10"), None);
        assert_eq!(components("abc"), None);
        assert_eq!(components("2.10.0.1"), None);
        assert_eq!(components("2.10.0-"), None);
        assert!(at_least("2.15.1", (2, 12, 0)));
        assert!(!at_least("2.11.9", (2, 12, 0)));
        assert!(!at_least("", (2, 8, 0)));
        assert_eq!(
            check_min_version("2.7.9"),
            Err("the minimum version should be at least 2.8.0")
        );
        assert!(check_min_version("2.8.0").is_ok());
        assert!(check_min_version("x").is_err());
    }
}
