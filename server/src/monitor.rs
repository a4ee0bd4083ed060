//! HTTP monitoring (spec `nats-protocol.md` §6): `/`, `/varz`, `/connz`,
//! `/subsz` (`/subscriptionsz`), `/healthz`, `/routez`, `/leafz`,
//! `/accountz`. A small blocking HTTP/1.1 server on its own thread: requests
//! are rare and short, so it stays out of the event loops.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::log::rfc3339;
use crate::shared::{Shared, VERSION};

/// Largest request head accepted, bytes.
const MAX_REQUEST: usize = 16 * 1024;

/// Starts the monitoring thread on a bound listener.
pub fn spawn(listener: TcpListener, shared: Arc<Shared>) -> std::io::Result<()> {
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
                    .spawn(move || match shared.settings.https_tls.clone() {
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
    if n == 5 && [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"].contains(&&head) {
        let _ = stream.write_all(crate::transport::HTTP_ON_TLS_RESPONSE);
        crate::error!(
            "monitoring: TLS handshake error from {peer}: {}",
            crate::transport::HTTP_ON_TLS_REASON
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

fn serve<S: Read + Write>(mut stream: S, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (path, query) = loop {
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
                break (p.to_string(), q.to_string());
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => continue,
            _ => return respond(&mut stream, 400, "text/plain", b"bad request"),
        }
    };
    let params = parse_query(&query);
    let result = match path.as_str() {
        "/" => {
            return respond(
                &mut stream,
                200,
                "text/html; charset=utf-8",
                root_page().as_bytes(),
            )
        }
        "/varz" => Ok(varz(shared)),
        "/connz" => connz(shared, &params),
        "/subsz" | "/subscriptionsz" => subsz(shared, &params),
        "/healthz" => {
            if shared.in_lame_duck() {
                // The listeners are closed (nats-server
                // `readyForConnections`).
                let mut down = vec!["server"];
                if shared.ws_addr.is_some() {
                    down.push("websocket");
                }
                let err = format!(
                    "failed to be ready for connections after 1ms: {}",
                    down.join(", ")
                );
                crate::warn!("Healthcheck failed: {err:?}");
                // nats-server's field order.
                let body = format!(
                    "{{\"status\":\"error\",\"error\":{}}}",
                    serde_json::to_string(&err).unwrap_or_default()
                );
                let body = body.into_bytes();
                return respond(&mut stream, 500, "application/json", &body);
            }
            let body = serde_json::to_vec(&json!({"status": "ok"})).unwrap_or_default();
            return respond(&mut stream, 200, "application/json", &body);
        }
        "/routez" => Ok(json!({
            "server_id": shared.server_id, "server_name": shared.server_name,
            "now": rfc3339(SystemTime::now()), "num_routes": 0, "routes": []
        })),
        "/leafz" => Ok(json!({
            "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
            "leafnodes": 0, "leafs": []
        })),
        "/accountz" => Ok(json!({
            "server_id": shared.server_id, "now": rfc3339(SystemTime::now()),
            "system_account": "", "accounts": ["$G"]
        })),
        _ => {
            return respond(
                &mut stream,
                404,
                "text/plain; charset=utf-8",
                b"404 page not found\n",
            )
        }
    };
    match result {
        Ok(v) => {
            let body = serde_json::to_vec_pretty(&v).unwrap_or_default();
            respond(&mut stream, 200, "application/json", &body)
        }
        Err(msg) => respond(
            &mut stream,
            400,
            "text/plain; charset=utf-8",
            msg.as_bytes(),
        ),
    }
}

fn respond<S: Write>(stream: &mut S, status: u16, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
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

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn param_bool(params: &HashMap<String, String>, key: &str) -> Result<bool, String> {
    match params.get(key).map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "t" | "TRUE" | "True" | "T") => Ok(true),
        Some("0" | "false" | "f" | "FALSE" | "False" | "F") => Ok(false),
        Some(v) => Err(format!(
            "Error decoding boolean for '{key}': strconv.ParseBool: parsing \"{v}\": invalid syntax"
        )),
    }
}

fn param_int(params: &HashMap<String, String>, key: &str, default: i64) -> Result<i64, String> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            format!("Error decoding int for '{key}': strconv.Atoi: parsing \"{v}\": invalid syntax")
        }),
    }
}

/// `[Ny][Nd][Nh][Nm]Ns`, as nats-server prints uptimes.
pub fn uptime_string(d: Duration) -> String {
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

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Clock ticks per second in `/proc/<pid>/stat` (Linux `USER_HZ`, 100 on
/// every architecture Linux supports).
const USER_HZ: f64 = 100.0;

/// User + system CPU time of the process in clock ticks, from the text of
/// `/proc/self/stat` (fields 14 and 15; the command name in field 2 may
/// hold spaces and parentheses, so fields are counted after its last `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The last CPU sample: when, total ticks, and the percentage it gave.
static CPU_SAMPLE: std::sync::Mutex<Option<(std::time::Instant, u64, f64)>> =
    std::sync::Mutex::new(None);

/// `/varz` `cpu`: the process's CPU use in percent of one core (can exceed
/// 100 with several threads busy), as nats-server reports it: over the
/// interval since the previous sample, sampled at most once a second (a
/// request within a second of the last sample gets the same figure). The
/// first request gives the average since the server started. One decimal.
fn cpu_percent(uptime: Duration) -> f64 {
    let Some(total) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_ticks(&s))
    else {
        return 0.0;
    };
    let now = std::time::Instant::now();
    let mut last = CPU_SAMPLE.lock().unwrap_or_else(|e| e.into_inner());
    let (ticks, secs) = match *last {
        Some((at, _, pcpu)) if now.duration_since(at) < Duration::from_secs(1) => return pcpu,
        Some((at, prev, _)) => (total.saturating_sub(prev), now.duration_since(at)),
        None => (total, uptime),
    };
    let pcpu = percent(ticks, secs);
    *last = Some((now, total, pcpu));
    pcpu
}

/// `ticks` of CPU time over `over` wall time, in percent, one decimal.
fn percent(ticks: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    (ticks as f64 / USER_HZ / secs * 1000.0).round() / 10.0
}

fn varz(shared: &Shared) -> Value {
    let s = &shared.settings;
    let st = &shared.stats;
    let now = SystemTime::now();
    let uptime = now.duration_since(shared.start).unwrap_or_default();
    let connections = shared.conns.lock().map_or(0, |c| c.len());
    let subscriptions: usize = shared
        .accounts
        .all()
        .iter()
        .map(|a| a.router.lock().map_or(0, |r| r.len()))
        .sum();
    let https = s.https_tls.is_some();
    let monitor_port = shared.http_addr.map_or(0, |a| a.port());
    let mut ws = serde_json::Map::new();
    if let (Some(w), Some(a)) = (&s.websocket, shared.ws_addr) {
        ws.insert("host".into(), json!(a.ip().to_string()));
        ws.insert("port".into(), json!(a.port()));
        ws.insert(
            "handshake_timeout".into(),
            json!(w.handshake_timeout.as_nanos() as u64),
        );
        if w.no_tls {
            ws.insert("no_tls".into(), json!(true));
        }
        if let Some(t) = &w.tls {
            if t.verify_and_map {
                ws.insert("tls_map".into(), json!(true));
            }
            if !t.pinned_certs.is_empty() {
                ws.insert("tls_pinned_certs".into(), json!(t.pinned_certs));
            }
        }
        if w.compression {
            ws.insert("compression".into(), json!(true));
        }
        if w.same_origin {
            ws.insert("same_origin".into(), json!(true));
        }
        if !w.allowed_origins.is_empty() {
            ws.insert("allowed_origins".into(), json!(w.allowed_origins));
        }
    }
    let mut v = json!({
        "server_id": shared.server_id,
        "server_name": shared.server_name,
        "version": VERSION,
        "proto": 1,
        "go": concat!("natsws ", env!("CARGO_PKG_VERSION")),
        "host": shared.client_addr.ip().to_string(),
        "port": shared.client_addr.port(),
        "max_connections": s.max_connections,
        "ping_interval": s.ping_interval.as_nanos() as u64,
        "ping_max": s.ping_max,
        "http_host": shared.http_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        "http_port": if https { 0 } else { monitor_port },
        "http_base_path": "",
        "https_port": if https { monitor_port } else { 0 },
        "auth_timeout": 2.0,
        "max_control_line": s.max_control_line,
        "max_payload": s.max_payload,
        "max_pending": s.max_pending,
        "cluster": {},
        "gateway": {},
        "leaf": {},
        "mqtt": {},
        "websocket": Value::Object(ws),
        "jetstream": {},
        "tls_timeout": 2.0,
        "write_deadline": s.write_deadline.as_nanos() as u64,
        "start": rfc3339(shared.start),
        "now": rfc3339(now),
        "uptime": uptime_string(uptime),
        "mem": rss_bytes(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "gomaxprocs": s.threads,
        "cpu": cpu_percent(uptime),
        "connections": connections,
        "total_connections": st.total_connections.load(Ordering::Relaxed),
        "routes": 0,
        "remotes": 0,
        "leafnodes": 0,
        "in_msgs": st.in_msgs.load(Ordering::Relaxed),
        "out_msgs": st.out_msgs.load(Ordering::Relaxed),
        "in_bytes": st.in_bytes.load(Ordering::Relaxed),
        "out_bytes": st.out_bytes.load(Ordering::Relaxed),
        "in_client_msgs": st.in_msgs.load(Ordering::Relaxed),
        "out_client_msgs": st.out_msgs.load(Ordering::Relaxed),
        "in_client_bytes": st.in_bytes.load(Ordering::Relaxed),
        "out_client_bytes": st.out_bytes.load(Ordering::Relaxed),
        "slow_consumers": st.slow_consumers.load(Ordering::Relaxed),
        "stale_connections": 0,
        "stalled_clients": 0,
        "subscriptions": subscriptions,
        "http_req_stats": {},
        "slow_consumer_stats": {
            "clients": st.slow_consumers.load(Ordering::Relaxed),
            "routes": 0, "gateways": 0, "leafs": 0
        },
        "stale_connection_stats": {"clients": 0, "routes": 0, "gateways": 0, "leafs": 0},
    });
    // Client-port TLS (omitempty fields, §6.2).
    if let (Some(t), Value::Object(m)) = (&s.tls, &mut v) {
        m.insert("tls_required".into(), json!(true));
        if t.verify {
            m.insert("tls_verify".into(), json!(true));
        }
        m.insert("tls_timeout".into(), json!(t.timeout.as_secs_f64()));
    }
    v
}

fn connz(shared: &Shared, params: &HashMap<String, String>) -> Result<Value, String> {
    let subs = params.get("subs").is_some_and(|v| v != "0" && v != "false");
    let offset = param_int(params, "offset", 0)?.max(0) as usize;
    let mut limit = param_int(params, "limit", 1024)?.max(0) as usize;
    let cid = match params.get("cid") {
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            format!("Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"{v}\": invalid syntax")
        })?),
        None => None,
    };
    if cid.is_some() {
        limit = 1;
    }
    let state = params.get("state").map_or("open", String::as_str);
    let now = SystemTime::now();
    let mut list: Vec<(u64, Value)> = Vec::new();
    if matches!(state, "open" | "any" | "all") {
        let conns: Vec<_> = shared
            .conns
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        let accounts = shared.accounts.all();
        for c in conns {
            if cid.is_some_and(|x| x != c.cid) {
                continue;
            }
            let meta = c.client.lock().map(|m| m.clone()).unwrap_or_default();
            let pending = c.out.lock().map_or(0, |o| o.buf.len());
            let mut v = json!({
                "cid": c.cid,
                "kind": "Client",
                "type": c.kind.connz_type(),
                "ip": c.peer.ip().to_string(),
                "port": c.peer.port(),
                "start": rfc3339(c.start),
                "last_activity": rfc3339(now),
                "uptime": uptime_string(now.duration_since(c.start).unwrap_or_default()),
                "idle": "0s",
                "pending_bytes": pending,
                "in_msgs": c.in_msgs.load(Ordering::Relaxed),
                "out_msgs": c.out_msgs.load(Ordering::Relaxed),
                "in_bytes": c.in_bytes.load(Ordering::Relaxed),
                "out_bytes": c.out_bytes.load(Ordering::Relaxed),
                "subscriptions": c.subs.load(Ordering::Relaxed),
            });
            let obj = v.as_object_mut().expect("object");
            for (k, val) in [
                ("name", &meta.name),
                ("lang", &meta.lang),
                ("version", &meta.version),
            ] {
                if !val.is_empty() {
                    obj.insert(k.into(), json!(val));
                }
            }
            if let Some(f) = c.forwarded().filter(|f| f.trusted) {
                // natsws extension: the client behind trusted proxies
                // (`ip` stays the TCP peer, as in nats-server).
                obj.insert("client_ip".into(), json!(f.ip.to_string()));
            }
            if let Some(m) = c.upgrade.get() {
                // natsws extension: the WebSocket upgrade request.
                let mut w = json!({
                    "path": m.path,
                    "compression": m.compression,
                    "browser": m.browser,
                });
                let wo = w.as_object_mut().expect("object");
                if let Some(o) = &m.origin {
                    wo.insert("origin".into(), json!(o));
                }
                if let Some(ua) = &m.user_agent {
                    wo.insert("user_agent".into(), json!(ua));
                }
                obj.insert("websocket".into(), w);
            }
            if let Some(t) = c.tls.get() {
                obj.insert("tls_version".into(), json!(t.version));
                obj.insert("tls_cipher_suite".into(), json!(t.cipher));
            }
            if subs {
                let mut list = Vec::new();
                for acc in &accounts {
                    if let Ok(r) = acc.router.lock() {
                        r.sublist().for_each(|_, _, s| {
                            if s.conn == c.cid {
                                list.push(
                                    String::from_utf8_lossy(s.filter.as_bytes()).into_owned(),
                                );
                            }
                        });
                    }
                }
                obj.insert("subscriptions_list".into(), json!(list));
            }
            list.push((c.cid, v));
        }
    }
    if matches!(state, "closed" | "any" | "all") {
        let closed: Vec<_> = shared
            .closed
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        for c in closed {
            if cid.is_some_and(|x| x != c.cid) {
                continue;
            }
            list.push((
                c.cid,
                json!({
                    "cid": c.cid, "kind": "Client", "type": c.kind.connz_type(),
                    "ip": c.peer.ip().to_string(), "port": c.peer.port(),
                    "start": rfc3339(c.start), "stop": rfc3339(c.stop),
                    "reason": c.reason.as_str(),
                    "uptime": uptime_string(c.stop.duration_since(c.start).unwrap_or_default()),
                    "name": c.client.name, "lang": c.client.lang, "version": c.client.version,
                }),
            ));
        }
    } else if !matches!(state, "open") {
        return Err(format!("Error decoding state for {state}"));
    }
    list.sort_by_key(|(cid, _)| *cid);
    let total = list.len();
    let page: Vec<Value> = list
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    Ok(json!({
        "server_id": shared.server_id,
        "now": rfc3339(now),
        "num_connections": page.len(),
        "total": total,
        "offset": offset,
        "limit": limit,
        "connections": page,
    }))
}

fn subsz(shared: &Shared, params: &HashMap<String, String>) -> Result<Value, String> {
    let subs = param_bool(params, "subs")?;
    let offset = param_int(params, "offset", 0)?.max(0) as usize;
    let limit = param_int(params, "limit", 1024)?.max(0) as usize;
    let test = params.get("test");
    if let Some(t) = test {
        if natsws_core::subject::validate_subject(t.as_bytes()).is_err() {
            return Err(format!(
                "invalid test subject, must be valid publish subject: {t}"
            ));
        }
    }
    let mut list = Vec::new();
    let mut num_subscriptions = 0;
    for acc in shared.accounts.all() {
        let router = acc
            .router
            .lock()
            .map_err(|_| "internal error".to_string())?;
        num_subscriptions += router.len();
        if !subs {
            continue;
        }
        router.sublist().for_each(|_, _, s| {
            if test.is_some_and(|t| !s.filter.matches(t.as_bytes())) {
                return;
            }
            let mut v = json!({
                "account": acc.name,
                "subject": String::from_utf8_lossy(s.filter.as_bytes()),
                "sid": String::from_utf8_lossy(&s.sid),
                "msgs": s.delivered(),
                "cid": s.conn,
            });
            if let Some(q) = &s.queue {
                v["qgroup"] = json!(String::from_utf8_lossy(q));
            }
            if s.max_msgs() > 0 {
                v["max"] = json!(s.max_msgs());
            }
            list.push(v);
        });
    }
    let total = list.len();
    let page: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
    let mut v = json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "num_subscriptions": num_subscriptions,
        "num_cache": 0,
        "num_inserts": 0,
        "num_removes": 0,
        "num_matches": 0,
        "cache_hit_rate": 0.0,
        "max_fanout": 0,
        "avg_fanout": 0.0,
        "total": total,
        "offset": offset,
        "limit": limit,
    });
    if subs {
        v["subscriptions_list"] = json!(page);
    }
    Ok(v)
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
         </ul>\n</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_from_proc_stat() {
        // A command name with spaces and parentheses; utime 250, stime 70.
        let stat = "4242 (nat sws) (x)) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 70 0 0 20 0 \
                    3 0 123456 1000000 500 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(320));
        assert_eq!(cpu_ticks("4242 (natsws) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(cpu_ticks(&own).is_some(), "{own}");
    }

    #[test]
    fn cpu_percent_of_one_core() {
        assert_eq!(percent(50, Duration::from_secs(1)), 50.0);
        assert_eq!(percent(300, Duration::from_secs(2)), 150.0);
        assert_eq!(percent(1, Duration::from_secs(3)), 0.3);
        assert_eq!(percent(7, Duration::ZERO), 0.0);
    }

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
            param_bool(&p, "subs").unwrap_err(),
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }
}
