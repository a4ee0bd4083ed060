//! A remote's `proxy { url, username, password, timeout }` block: an HTTP
//! CONNECT proxy the dialer tunnels through (nats-server 2.15.1
//! `opts.go: parseRemoteLeafNodes` case `proxy`, checked by
//! `leafnode.go: validateLeafNodeProxyOptions`).

use std::time::Duration;

use super::read::{parse_go_duration, str_of, Reader};
use crate::config::{Diagnostic, Entry, Span, Value};

/// `leafnodes.remotes[].proxy { … }`.
///
/// nats-server tunnels every URL of the remote through it, `nats://` and
/// `tls://` as well as `ws://`/`wss://` (`connectToRemoteLeafNode`), even
/// though its validation warns that it applies to WebSocket URLs only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafProxy {
    /// Position of the `proxy` key (where validation errors point).
    pub span: Span,
    /// `url` as written: `http://host:port` or `https://host:port` (the
    /// link to the proxy itself is plain TCP either way, as nats-server).
    pub url: String,
    /// The URL's host part (`host:port`, userinfo and path removed), the
    /// address dialed; Go's `url.URL.Host`.
    pub host: String,
    /// `username` (with `password`: `Proxy-Authorization: Basic …`).
    pub username: String,
    /// `password`.
    pub password: String,
    /// `timeout`: dialing the proxy and the CONNECT exchange together;
    /// `None` (or 0) = the remote's dial timeout.
    pub timeout: Option<Duration>,
}

/// Parses the `proxy` map of a remote. Unknown keys are errors (`unknown
/// field "<k>"`); the block is checked by [`validate`] once the whole
/// remote is read.
pub(super) fn parse(r: &mut Reader, e: &Entry) -> Option<(LeafProxy, bool)> {
    let Value::Map(m) = &e.value.value else {
        r.errors.push(Diagnostic::at(
            &e.key_span,
            format!(
                "Expected proxy to be a map, got {}",
                e.value.value.go_type()
            ),
        ));
        return None;
    };
    let mut p = LeafProxy {
        span: e.key_span.clone(),
        url: String::new(),
        host: String::new(),
        username: String::new(),
        password: String::new(),
        timeout: None,
    };
    let mut negative = false;
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "url" => r.set(&mut p.url, str_of(k)),
            "username" => r.set(&mut p.username, str_of(k)),
            "password" => r.set(&mut p.password, str_of(k)),
            "timeout" => match &k.value.value {
                Value::String(s) if s.trim_start().starts_with('-') => {
                    // Go parses the negative duration; the check below
                    // refuses it with its own text.
                    let abs = s.trim_start().trim_start_matches('-');
                    match parse_go_duration(abs) {
                        Ok(d) if !d.is_zero() => negative = true,
                        Ok(_) => p.timeout = None,
                        Err(err) => r.errors.push(Diagnostic::at(
                            &k.key_span,
                            format!("error parsing proxy timeout: {err}"),
                        )),
                    }
                }
                Value::Integer(i) if *i < 0 => negative = true,
                _ => p.timeout = r.duration_or_secs(k, "proxy timeout"),
            },
            _ => r.unknown(k),
        }
    }
    Some((p, negative))
}

/// nats-server `validateLeafNodeProxyOptions`: the error for a remote with
/// `urls` and the `proxy` block `p`, or fills `p.host`. Texts as
/// nats-server's: `invalid proxy URL: parse "<u>": missing protocol
/// scheme`, `proxy URL scheme must be http or https, got: <s>`, `proxy URL
/// must specify a host`, `proxy timeout must be >= 0`, `proxy username and
/// password must both be specified or both be empty`, and for a `wss://`
/// URL without a `tls { … }` block `proxy is configured but remote URL
/// <u> requires TLS and no TLS configuration is provided. …`.
pub(super) fn validate(
    p: &mut LeafProxy,
    negative_timeout: bool,
    urls: &[String],
    has_tls: bool,
) -> Result<(), String> {
    if p.url.is_empty() {
        return Ok(());
    }
    let (scheme, rest) = split_scheme(&p.url).ok_or_else(|| {
        format!(
            "invalid proxy URL: parse {:?}: missing protocol scheme",
            p.url
        )
    })?;
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "proxy URL scheme must be http or https, got: {scheme}"
        ));
    }
    let authority = rest
        .strip_prefix("//")
        .map(|a| a.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return Err("proxy URL must specify a host".to_string());
    }
    if negative_timeout {
        return Err("proxy timeout must be >= 0".to_string());
    }
    if p.username.is_empty() != p.password.is_empty() {
        return Err(
            "proxy username and password must both be specified or both be empty".to_string(),
        );
    }
    for u in urls {
        let wss = u
            .split_once("://")
            .is_some_and(|(s, _)| s.eq_ignore_ascii_case("wss"));
        if wss && !has_tls {
            return Err(format!("proxy is configured but remote URL {} requires TLS and no TLS configuration is provided. When using proxy with TLS endpoints, ensure TLS is properly configured for the leafnode remote", u.trim()));
        }
    }
    p.host = host.to_string();
    Ok(())
}

/// Go's `url.Parse` scheme rule: letters first, then letters, digits,
/// `+`, `-`, `.`, up to the first `:`; lower-cased. `None` when the text
/// starts with `:`; a text without one has the empty scheme.
fn split_scheme(url: &str) -> Option<(String, &str)> {
    for (i, c) in url.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return None,
            ':' => return Some((url[..i].to_ascii_lowercase(), &url[i + 1..])),
            _ => return Some((String::new(), url)),
        }
    }
    Some((String::new(), url))
}

#[cfg(test)]
mod tests {
    use super::split_scheme;

    #[test]
    fn schemes_as_go_reads_them() {
        assert_eq!(split_scheme("HTTP://h:1").unwrap().0, "http");
        assert_eq!(split_scheme("socks5://h").unwrap().0, "socks5");
        assert_eq!(split_scheme("h").unwrap().0, "");
        assert_eq!(split_scheme("1h:2").unwrap().0, "");
        assert!(split_scheme("::bad").is_none());
    }
}
