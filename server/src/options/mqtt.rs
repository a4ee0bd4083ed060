//! `mqtt { … }` (spec `mqtt.md` §1.1, nats-server `parseMQTT`): the MQTT
//! listener, its authorization override, QoS tuning and the natsws-only
//! store keys (§7.6). Keys that only tune the reference's JetStream
//! (`js_api_timeout`, `js_domain`, `stream_replicas`, `consumer_*`) are
//! accepted and ignored with a warning naming the key.

use std::time::Duration;

use super::read::{bool_of, int_of, map_of, port_of, str_of, Reader};
use super::tls::{parse_tls, TlsConfig};
use crate::config::{Diagnostic, Entry, Map, Span};

/// Where MQTT session state lives (natsws-only `store`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MqttStore {
    /// In memory: nothing survives a restart.
    #[default]
    Memory,
    /// On disk (`store_dir`).
    File,
}

/// The `mqtt {}` block.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttOptions {
    /// Position of the block's key.
    pub span: Span,
    /// `host`/`net` (default `0.0.0.0` once a port is set).
    pub host: String,
    /// `port`; 0 = MQTT off, -1 = random.
    pub port: i32,
    /// `tls {}`.
    pub tls: Option<TlsConfig>,
    /// `authorization { user }` override.
    pub username: Option<String>,
    /// `authorization { password }`.
    pub password: Option<String>,
    /// `authorization { token }`.
    pub token: Option<String>,
    /// `authorization { timeout }`.
    pub auth_timeout: Option<Duration>,
    /// `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// `ack_wait` (default 30 s): QoS 1/2 redelivery interval.
    pub ack_wait: Option<Duration>,
    /// `max_ack_pending` (default 1024, 0..65535).
    pub max_ack_pending: Option<u16>,
    /// `reject_qos2_publish`.
    pub reject_qos2_publish: bool,
    /// `downgrade_qos2_subscribe`.
    pub downgrade_qos2_subscribe: bool,
    /// natsws: `store` (`memory` or `file`).
    pub store: Option<MqttStore>,
    /// natsws: `store_dir`.
    pub store_dir: Option<String>,
    /// natsws: `connect_timeout` (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// natsws: `takeover_jail` (default 1 s).
    pub takeover_jail: Option<Duration>,
}

impl MqttOptions {
    fn new(span: Span) -> MqttOptions {
        MqttOptions {
            span,
            host: String::new(),
            port: 0,
            tls: None,
            username: None,
            password: None,
            token: None,
            auth_timeout: None,
            no_auth_user: None,
            ack_wait: None,
            max_ack_pending: None,
            reject_qos2_publish: false,
            downgrade_qos2_subscribe: false,
            store: None,
            store_dir: None,
            connect_timeout: None,
            takeover_jail: None,
        }
    }
}

/// Parses the `mqtt` entry.
pub(super) fn parse_mqtt(r: &mut Reader, e: &Entry) -> Option<MqttOptions> {
    let m = r.ok(map_of(e, "mqtt"))?;
    let mut o = MqttOptions::new(e.key_span.clone());
    for k in &m.entries {
        let key = k.key.to_ascii_lowercase();
        match key.as_str() {
            "listen" => r.listen(k, &mut o.host, &mut o.port),
            "port" => r.set(&mut o.port, port_of(k)),
            "host" | "net" => r.set(&mut o.host, str_of(k)),
            "tls" => {
                if let Some(tm) = r.ok(map_of(k, "tls")) {
                    o.tls = Some(parse_tls(r, tm, &k.key_span));
                }
            }
            "authorization" | "authentication" => {
                if let Some(am) = r.ok(map_of(k, "authorization")) {
                    parse_auth(r, am, &mut o);
                }
            }
            "no_auth_user" => o.no_auth_user = r.ok(str_of(k)),
            "ack_wait" | "ackwait" => {
                o.ack_wait = r.duration_str(k, "ack_wait");
            }
            "max_ack_pending" | "max_pending" | "max_inflight" => {
                if let Some(n) = r.ok(int_of(k)) {
                    if !(0..=65535).contains(&n) {
                        r.errors.push(Diagnostic::at(
                            &k.key_span,
                            format!("invalid value {n}, should in [0..65535] range"),
                        ));
                    } else {
                        o.max_ack_pending = Some(n as u16);
                    }
                }
            }
            "reject_qos2_publish" => r.set(&mut o.reject_qos2_publish, bool_of(k)),
            "downgrade_qos2_subscribe" => r.set(&mut o.downgrade_qos2_subscribe, bool_of(k)),
            "js_api_timeout"
            | "api_timeout"
            | "js_domain"
            | "stream_replicas"
            | "consumer_replicas"
            | "consumer_memory_storage"
            | "consumer_inactive_threshold"
            | "consumer_auto_cleanup" => r.warnings.push(Diagnostic::at(
                &k.key_span,
                format!(
                    "mqtt {}: ignored (natsws keeps MQTT state without JetStream)",
                    k.key
                ),
            )),
            "store" => {
                if let Some(s) = r.ok(str_of(k)) {
                    match s.to_ascii_lowercase().as_str() {
                        "memory" | "mem" => o.store = Some(MqttStore::Memory),
                        "file" => o.store = Some(MqttStore::File),
                        _ => r.errors.push(Diagnostic::at(
                            &k.key_span,
                            format!("mqtt store must be \"memory\" or \"file\", got {s:?}"),
                        )),
                    }
                }
            }
            "store_dir" => o.store_dir = r.ok(str_of(k)),
            "connect_timeout" => o.connect_timeout = r.duration_str(k, "connect_timeout"),
            "takeover_jail" => o.takeover_jail = r.duration_str(k, "takeover_jail"),
            _ => r.unknown(k),
        }
    }
    Some(o)
}

/// `mqtt { authorization { user, password, token, timeout } }`.
fn parse_auth(r: &mut Reader, m: &Map, o: &mut MqttOptions) {
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "user" | "username" => o.username = r.ok(str_of(k)),
            "pass" | "password" => o.password = r.ok(str_of(k)),
            "token" => o.token = r.ok(str_of(k)),
            "timeout" => o.auth_timeout = r.seconds(k, "timeout"),
            _ => r.unknown(k),
        }
    }
}

impl super::Options {
    /// Start-up checks of an MQTT block with a port (spec §1.2 rules 2–3,
    /// nats-server `validateMQTTOptions`); a block without a port is inert.
    pub(super) fn validate_mqtt(&self) -> Result<(), super::ConfigError> {
        let Some(m) = &self.mqtt else { return Ok(()) };
        if m.port == 0 {
            return Ok(());
        }
        if let Some(u) = &m.no_auth_user {
            self.check_no_auth_user(u)?;
        }
        if self.all_users().next().is_some() {
            if m.username.is_some() {
                return Err(super::ConfigError::bare(
                    "mqtt authentication username not compatible with presence of users/nkeys",
                ));
            }
            if m.token.is_some() {
                return Err(super::ConfigError::bare(
                    "mqtt authentication token not compatible with presence of users/nkeys",
                ));
            }
        }
        Ok(())
    }
}
