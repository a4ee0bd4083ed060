//! HTTP monitoring (spec `nats-protocol.md` §6): `/`, `/varz`, `/connz`,
//! `/subsz` (`/subscriptionsz`), `/healthz`, `/routez`, `/leafz`,
//! `/accountz`, and the natsws extension `/metrics` (Prometheus text,
//! spec `operations.md` §4). A small blocking HTTP/1.1 server on its own
//! thread: requests are rare and short, so it stays out of the event loops.
//!
//! This file holds the thread, the request parsing, the route table and
//! the query helpers; each endpoint builds its JSON in its own file.

mod account_links;
pub(crate) mod accountz;
pub(crate) mod connz;
mod connz_sort;
mod healthz;
pub(crate) mod leafz;
mod metrics;
mod mqttz;
pub(crate) mod subsz;
pub(crate) mod varz;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::shared::{Shared, VERSION};

/// Largest request head accepted, bytes.
const MAX_REQUEST: usize = 16 * 1024;

/// Query parameters of a request, `key → value` (no percent-decoding).
pub(crate) type Params = HashMap<String, String>;

/// Why an endpoint answers 400: its `Display` is the body, nats-server's
/// text for the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    /// A parameter that is not a Go `strconv.ParseBool` boolean.
    Bool {
        /// Parameter name.
        key: String,
        /// What was sent.
        value: String,
    },
    /// A parameter that is not a Go `strconv.Atoi` int.
    Int {
        /// Parameter name.
        key: String,
        /// What was sent.
        value: String,
    },
    /// A parameter that is not a Go `strconv.ParseUint` uint64.
    Uint {
        /// Parameter name.
        key: String,
        /// What was sent.
        value: String,
    },
    /// `/connz` `state` other than `open`, `closed`, `any`, `all`.
    State(String),
    /// `/connz` `sort` that is no sort option.
    Sort(String),
    /// `/connz` `sort=stop` or `sort=reason` without `state=closed`.
    SortClosedOnly(&'static str),
    /// `/subsz` `test` that is not a valid publish subject.
    TestSubject(String),
    /// `/accountz` `acc` naming no account.
    NoAccount(String),
    /// A poisoned lock.
    Internal,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Bool { key, value } => write!(
                f,
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing \"{value}\": invalid syntax"
            ),
            Error::Int { key, value } => write!(
                f,
                "Error decoding int for '{key}': strconv.Atoi: parsing \"{value}\": invalid syntax"
            ),
            Error::Uint { key, value } => write!(
                f,
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing \"{value}\": invalid syntax"
            ),
            Error::State(state) => write!(f, "Error decoding state for {state}"),
            Error::Sort(sort) => write!(f, "invalid sorting option: {sort}"),
            Error::SortClosedOnly(by) => {
                write!(f, "sort by {by} only valid on closed connections")
            }
            Error::TestSubject(t) => {
                write!(f, "invalid test subject, must be valid publish subject: {t}")
            }
            Error::NoAccount(name) => write!(f, "Account {name} does not exist"),
            Error::Internal => f.write_str("internal error"),
        }
    }
}

/// Starts the monitoring thread on a bound listener.
pub(crate) fn spawn(listener: TcpListener, shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("natsws-monitor".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if shared.shutdown.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("natsws-http".into())
                    .spawn(move || match shared.settings().https_tls.clone() {
                        None => {
                            if stream
                                .set_read_timeout(Some(Duration::from_secs(5)))
                                .is_ok()
                            {
                                let _ = serve(stream, &shared);
                            }
                        }
                        Some(tls) => serve_tls(stream, &tls, &shared),
                    });
            }
        })?;
    Ok(())
}

/// `https_port`: the TLS handshake (Go's 400 to a plaintext HTTP request),
/// then the same endpoints.
fn serve_tls(mut stream: TcpStream, tls: &crate::tls::TlsHolder, shared: &Shared) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .is_err()
    {
        return;
    }
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut head = [0u8; 5];
    let n = stream.peek(&mut head).unwrap_or(0);
    if n == 5 && crate::net::transport::HTTP_STARTS.contains(&&head) {
        let _ = stream.write_all(crate::net::transport::HTTP_ON_TLS_RESPONSE);
        crate::error!(
            "monitoring: TLS handshake error from {peer}: {}",
            crate::net::transport::HTTP_ON_TLS_REASON
        );
        return;
    }
    let conn = match rustls::ServerConnection::new(tls.current()) {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut s = rustls::StreamOwned::new(conn, stream);
    while s.conn.is_handshaking() {
        if let Err(e) = s.conn.complete_io(&mut s.sock) {
            crate::error!("monitoring: TLS handshake error from {peer}: {e}");
            return;
        }
    }
    let _ = serve(&mut s, shared);
    s.conn.send_close_notify();
    let _ = s.flush();
}

/// One HTTP answer: status code, `Content-Type`, body.
struct Response {
    status: u16,
    ctype: &'static str,
    body: Vec<u8>,
}

impl Response {
    /// A JSON endpoint's result: the pretty-printed object (200), or the
    /// error text as plain text (400), as nats-server's handlers answer.
    fn json(result: Result<Value, Error>) -> Response {
        match result {
            Ok(v) => Response {
                status: 200,
                ctype: "application/json",
                body: serde_json::to_vec_pretty(&v).unwrap_or_default(),
            },
            Err(e) => Response {
                status: 400,
                ctype: "text/plain; charset=utf-8",
                body: e.to_string().into_bytes(),
            },
        }
    }
}

/// Reads one request head and answers it.
fn serve<S: Read + Write>(mut stream: S, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (method, path, query) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let target = req.path.unwrap_or("/");
                let (p, q) = target.split_once('?').unwrap_or((target, ""));
                let m = req.method.unwrap_or("GET").to_string();
                break (m, p.to_string(), q.to_string());
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => continue,
            _ => return respond(&mut stream, 400, "text/plain", b"bad request"),
        }
    };
    let params = parse_query(&query);
    if method == "DELETE" && path == "/mqttz" {
        let (status, v) = mqttz::delete(shared, &params);
        let body = serde_json::to_vec_pretty(&v).unwrap_or_default();
        return respond(&mut stream, status, "application/json", &body);
    }
    let r = route(shared, &path, &params);
    respond(&mut stream, r.status, r.ctype, &r.body)
}

/// The path nats-server counts a request to `path` under in
/// `http_req_stats` (`/subscriptionsz` is `/subsz`); `None` for paths it
/// does not count.
fn counted_path(path: &str) -> Option<&'static str> {
    Some(match path {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/routez" => "/routez",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/leafz" => "/leafz",
        "/accountz" => "/accountz",
        "/healthz" => "/healthz",
        _ => return None,
    })
}

/// The route table: the answer to `path` with query `params`.
fn route(shared: &Shared, path: &str, params: &Params) -> Response {
    if let Some(p) = counted_path(path) {
        if let Ok(mut stats) = shared.http_req_stats.lock() {
            *stats.entry(p).or_insert(0) += 1;
        }
    }
    match path {
        "/" => Response {
            status: 200,
            ctype: "text/html; charset=utf-8",
            body: root_page().into_bytes(),
        },
        "/varz" => Response::json(Ok(varz::varz(shared))),
        "/connz" => Response::json(connz::connz(shared, params)),
        "/subsz" | "/subscriptionsz" => Response::json(subsz::subsz(shared, params)),
        "/healthz" => healthz::healthz(shared),
        "/routez" => Response::json(Ok(leafz::routez(shared))),
        "/leafz" => Response::json(
            param_bool(params, "subs")
                .map(|subs| leafz::leafz(shared, params.get("acc").map(String::as_str), subs)),
        ),
        "/accountz" => Response::json(accountz::accountz(shared, params)),
        "/metrics" => metrics::metrics(shared),
        "/mqttz" => Response::json(Ok(mqttz::mqttz(shared))),
        _ => Response {
            status: 404,
            ctype: "text/plain; charset=utf-8",
            body: b"404 page not found\n".to_vec(),
        },
    }
}

fn respond<S: Write>(stream: &mut S, status: u16, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn parse_query(q: &str) -> Params {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `key` as a Go boolean (absent or empty: false).
fn param_bool(params: &Params, key: &str) -> Result<bool, Error> {
    match params.get(key).map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "t" | "TRUE" | "True" | "T") => Ok(true),
        Some("0" | "false" | "f" | "FALSE" | "False" | "F") => Ok(false),
        Some(v) => Err(Error::Bool {
            key: key.to_string(),
            value: v.to_string(),
        }),
    }
}

/// `key` as an integer, `default` when absent.
fn param_int(params: &Params, key: &str, default: i64) -> Result<i64, Error> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| Error::Int {
            key: key.to_string(),
            value: v.clone(),
        }),
    }
}

/// `[Ny][Nd][Nh][Nm]Ns`, as nats-server prints uptimes.
pub(crate) fn uptime_string(d: Duration) -> String {
    let mut s = d.as_secs();
    let years = s / (365 * 86_400);
    s %= 365 * 86_400;
    let days = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    let mut out = String::new();
    if years > 0 {
        out.push_str(&format!("{years}y{days}d{h}h{m}m"));
    } else if days > 0 {
        out.push_str(&format!("{days}d{h}h{m}m"));
    } else if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{sec}s"));
    out
}

fn root_page() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>natsws</title></head>\n<body>\n\
         <h1>natsws v{VERSION}</h1>\n<ul>\n\
         <li><a href=\"./varz\">General /varz</a></li>\n\
         <li><a href=\"./connz\">Connections /connz</a></li>\n\
         <li><a href=\"./accountz\">Accounts /accountz</a></li>\n\
         <li><a href=\"./subsz\">Subscriptions /subsz</a></li>\n\
         <li><a href=\"./routez\">Routes /routez</a></li>\n\
         <li><a href=\"./leafz\">LeafNodes /leafz</a></li>\n\
         <li><a href=\"./healthz\">Health Probe /healthz</a></li>\n\
         <li><a href=\"./metrics\">Prometheus /metrics</a></li>\n\
         </ul>\n</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_strings_follow_nats_server() {
        assert_eq!(uptime_string(Duration::from_secs(45)), "45s");
        assert_eq!(uptime_string(Duration::from_secs(182)), "3m2s");
        assert_eq!(uptime_string(Duration::from_secs(3605)), "1h0m5s");
        assert_eq!(
            uptime_string(Duration::from_secs(2 * 86_400 + 3 * 3600 + 4 * 60 + 5)),
            "2d3h4m5s"
        );
    }

    #[test]
    fn bool_params_reject_garbage_with_go_text() {
        let mut p = HashMap::new();
        p.insert("subs".to_string(), "maybe".to_string());
        assert_eq!(
            param_bool(&p, "subs").unwrap_err().to_string(),
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

    #[test]
    fn error_texts_are_nats_servers() {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        let (key, value) = kv("limit", "x");
        assert_eq!(
            Error::Int { key, value }.to_string(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        let (key, value) = kv("cid", "-1");
        assert_eq!(
            Error::Uint { key, value }.to_string(),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            Error::State("gone".into()).to_string(),
            "Error decoding state for gone"
        );
        assert_eq!(
            Error::TestSubject("a.*".into()).to_string(),
            "invalid test subject, must be valid publish subject: a.*"
        );
        assert_eq!(
            Error::NoAccount("X".into()).to_string(),
            "Account X does not exist"
        );
        assert_eq!(Error::Internal.to_string(), "internal error");
    }
}
