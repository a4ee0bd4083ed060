//! Top-level keys that are not blocks: the client and monitoring
//! listeners and the server's identity, logging, and the limits and timers
//! (nats-protocol.md §4.2, §1.8). Each `apply_*_key` takes one lower-cased
//! key and returns `false` when the key is not one of its own, so
//! `Options::apply_top` (in `mod.rs`) can try the next block.

use core::time::Duration;
use std::path::PathBuf;

use super::leaf::WriteTimeoutPolicy;
use super::read::{
    bool_of, go_dur, int32_size, int_of, int_range, parse_listen, port_of, str_list, str_of, Reader,
};
use super::{Options, MAX_LOOP_SPIN};
use crate::config::{Diagnostic, Entry};

impl Options {
    /// `listen`/`host`/`port`, `client_advertise`, `server_name`,
    /// `server_tags` and the monitoring listeners (`http`, `https`, their
    /// `_port` forms, `http_base_path`).
    pub(super) fn apply_listen_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "listen" => r.listen(e, &mut self.host, &mut self.port),
            "host" | "net" => r.set(&mut self.host, str_of(e)),
            "port" => r.set(&mut self.port, port_of(e)),
            "client_advertise" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.client_advertise = Some(s);
                }
            }
            "server_name" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.server_name = Some(s);
                }
            }
            "server_tags" => r.set(&mut self.server_tags, str_list(e)),
            "http" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    self.http_host = h;
                    self.http_port = p;
                }
            }
            "http_port" | "monitor_port" => r.set(&mut self.http_port, port_of(e)),
            "https" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    self.http_host = h;
                    self.https_port = p;
                }
            }
            "https_port" => r.set(&mut self.https_port, port_of(e)),
            "http_base_path" => r.set(&mut self.http_base_path, str_of(e)),
            _ => return false,
        }
        true
    }

    /// `debug`, `trace`, `trace_verbose`, `logtime`, `logtime_utc` and the
    /// log, pid and ports files.
    pub(super) fn apply_log_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "debug" => r.set(&mut self.debug, bool_of(e)),
            "trace" => r.set(&mut self.trace, bool_of(e)),
            "trace_verbose" => {
                if let Some(b) = r.ok(bool_of(e)) {
                    self.trace_verbose = b;
                    self.trace |= b;
                }
            }
            "logtime" => r.set(&mut self.logtime, bool_of(e)),
            "logtime_utc" => r.set(&mut self.logtime_utc, bool_of(e)),
            "logfile" | "log_file" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.log_file = Some(PathBuf::from(s));
                }
            }
            "pidfile" | "pid_file" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.pid_file = Some(PathBuf::from(s));
                }
            }
            "ports_file_dir" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.ports_file_dir = Some(PathBuf::from(s));
                }
            }
            _ => return false,
        }
        true
    }

    /// Protocol limits (`max_*`), ping and write timers (`write_deadline`
    /// and its `write_timeout` policy), lame duck,
    /// `loop_spin` and `no_header_support`.
    pub(super) fn apply_limit_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "max_control_line" => r.set(&mut self.max_control_line, int32_size(e)),
            "max_payload" => r.set(&mut self.max_payload, int32_size(e)),
            "max_pending" => r.set(&mut self.max_pending, int_range(e, 0, i64::MAX)),
            "max_connections" | "max_conn" => {
                if let Some(v) = r.ok(int_of(e)) {
                    self.max_connections = if v == 0 { -1 } else { v };
                }
            }
            "max_subscriptions" | "max_subs" => r.set(
                &mut self.max_subscriptions,
                int_range(e, 0, u32::MAX as i64),
            ),
            "max_sub_tokens" | "max_subscription_tokens" => {
                r.set(&mut self.max_sub_tokens, int_range(e, 0, 255))
            }
            "ping_interval" => {
                if let Some(d) = r.duration_or_secs(e, "ping_interval") {
                    self.ping_interval = d;
                }
            }
            "ping_max" => r.set(&mut self.ping_max, int_range(e, 0, u32::MAX as i64)),
            "write_deadline" => {
                if let Some(d) = r.duration_or_secs(e, "write_deadline") {
                    self.write_deadline = d;
                }
            }
            "write_timeout" => {
                if let Some(p) = WriteTimeoutPolicy::read(r, e) {
                    self.write_timeout = p;
                }
            }
            "lame_duck_duration" => {
                if let Some(d) = r.duration_str(e, "lame_duck_duration") {
                    if d < Duration::from_secs(30) {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!(
                                "invalid lame_duck_duration of {s}, minimum is 30 seconds",
                                s = go_dur(d)
                            ),
                        ));
                    } else {
                        self.lame_duck_duration = d;
                    }
                }
            }
            "lame_duck_grace_period" => {
                if let Some(d) = r.duration_str(e, "lame_duck_grace_period") {
                    self.lame_duck_grace_period = d;
                }
            }
            "max_closed_clients" => r.set(&mut self.max_closed_clients, int_range(e, 0, i64::MAX)),
            "max_pending_handshakes" => {
                r.set(&mut self.max_pending_handshakes, int_range(e, 0, i64::MAX))
            }
            "loop_spin" => {
                if let Some(d) = r.duration_str(e, "loop_spin") {
                    if d > MAX_LOOP_SPIN {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!("loop_spin must be at most {}", go_dur(MAX_LOOP_SPIN)),
                        ));
                    } else {
                        self.loop_spin = d;
                    }
                }
            }
            "no_header_support" => r.set(&mut self.no_header_support, bool_of(e)),
            "proxy_protocol" => r.set(&mut self.proxy_protocol, bool_of(e)),
            "trusted_proxies" => {
                if let Some(cidrs) = super::websocket::parse_trusted_proxies(r, e) {
                    self.trusted_proxies = cidrs;
                }
            }
            _ => return false,
        }
        true
    }
}
