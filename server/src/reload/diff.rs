//! The option-by-option comparison of a reload (operations spec §1.2 step
//! 4, §1.3, §1.4; nats-server `diffOptions`): every top-level option is
//! either reloadable (with the INF line nats-server prints when it
//! changed), refused (`config reload not supported for <GoField>: old=…,
//! new=…`), or special (`no_auth_user`, the account resolver). The first
//! refused field, in nats-server's `Options` field order, refuses the whole
//! reload.

use std::net::SocketAddr;

use crate::options::{go_dur, Options, TlsConfig, WebsocketOptions};

/// Why a reload was refused by the comparison. `Display` is nats-server's
/// text (after `Failed to reload server configuration: `).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// A field without a reload rule: `config reload not supported for
    /// <field>: old=<old>, new=<new>`, `field` the Go option name (`Port`,
    /// `Host`, `HTTPPort`, `ServerName`, `ProxyProtocol`, `Websocket`, …).
    NotSupported {
        /// nats-server's `Options` field name.
        field: &'static str,
        /// The running value, as nats-server prints it.
        old: String,
        /// The new file's value.
        new: String,
    },
    /// `resolver` set on one side only: `config reload does not support
    /// moving to or from an account resolver`.
    Resolver,
    /// A `leafnodes {}` change other than TLS: `config reload not supported
    /// for LeafNode: <detail>`, `detail` naming the first field as
    /// `field "<Name>": old=<old>, new=<new>`.
    LeafNode {
        /// What changed.
        detail: String,
    },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotSupported { field, old, new } => {
                write!(
                    f,
                    "config reload not supported for {field}: old={old}, new={new}"
                )
            }
            Refused::Resolver => {
                f.write_str("config reload does not support moving to or from an account resolver")
            }
            Refused::LeafNode { detail } => {
                write!(f, "config reload not supported for LeafNode: {detail}")
            }
        }
    }
}

impl std::error::Error for Refused {}

/// What the running server had bound, which the options alone do not say
/// (a port of `-1` at start is the port chosen then).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The client listener.
    pub client: SocketAddr,
    /// The WebSocket listener.
    pub ws: Option<SocketAddr>,
    /// The MQTT listener.
    pub mqtt: Option<SocketAddr>,
}

/// The changes a reload applies, in the order nats-server logs them: one
/// `Reloaded: …` line each (`lines`), plus what the apply step must do
/// besides swapping the settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The INF lines, e.g. `Reloaded: max_payload = 2048`.
    pub lines: Vec<String>,
    /// The logger's levels changed (`debug`, `trace`, `trace_verbose`,
    /// `logtime`).
    pub logger: bool,
    /// `pid_file` changed: write the new file.
    pub pid_file: bool,
    /// `log_file` changed: log to the new file (or stderr).
    pub log_file: bool,
}

fn refuse(field: &'static str, old: impl ToString, new: impl ToString) -> Refused {
    Refused::NotSupported {
        field,
        old: old.to_string(),
        new: new.to_string(),
    }
}

fn opt_str<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// A `tls {}` block without its position, for comparing content.
fn tls_unspanned(t: &Option<TlsConfig>) -> Option<TlsConfig> {
    t.clone().map(|mut t| {
        t.span = None;
        t
    })
}

/// The websocket block reduced to what decides its listener (host, port,
/// `no_tls`), which a reload may not change (natsws reloads the rest, spec
/// §1.6 IMPL).
fn ws_listener(w: &WebsocketOptions) -> (String, i32, bool) {
    (w.host.clone(), w.port, w.no_tls)
}

/// The websocket block without its position and TLS (compared apart).
fn ws_rest(w: &WebsocketOptions) -> WebsocketOptions {
    let mut w = w.clone();
    w.span = None;
    w.tls = None;
    w.allowed_origins.sort();
    w
}

/// Compares the running options with a reloaded file's. `tls_files_changed`
/// says whether a certificate or key file's content changed since the
/// last load (nats-server compares the loaded configurations, so a
/// replaced certificate logs `Reloaded: tls = enabled`).
///
/// # Errors
/// The first refused change, as nats-server names it.
pub fn diff(
    old: &Options,
    new: &Options,
    bound: Bound,
    tls_files_changed: bool,
) -> Result<Changes, Refused> {
    let mut c = Changes::default();
    // nats-server's Options field order: ServerName, Host, Port, …
    if old.server_name != new.server_name {
        return Err(refuse(
            "ServerName",
            opt_str(&old.server_name),
            opt_str(&new.server_name),
        ));
    }
    if old.host != new.host {
        return Err(refuse("Host", &old.host, &new.host));
    }
    if new.port != old.port
        && new.port != -1
        && i64::from(new.port) != i64::from(bound.client.port())
    {
        return Err(refuse("Port", bound.client.port(), new.port));
    }
    if old.client_advertise != new.client_advertise {
        c.lines.push(format!(
            "Reload: client_advertise = {}",
            opt_str(&new.client_advertise)
        ));
    }
    let flags = [
        ("trace", old.trace, new.trace),
        ("debug", old.debug, new.debug),
        ("trace_verbose", old.trace_verbose, new.trace_verbose),
        ("logtime", old.logtime, new.logtime),
        ("logtime_utc", old.logtime_utc, new.logtime_utc),
    ];
    for (name, o, n) in flags {
        if o != n {
            c.lines.push(format!("Reloaded: {name} = {n}"));
            c.logger = true;
        }
    }
    if old.no_header_support != new.no_header_support {
        return Err(refuse(
            "NoHeaderSupport",
            old.no_header_support,
            new.no_header_support,
        ));
    }
    limits_and_auth(old, new, &mut c)?;
    websocket(old, new, bound, &mut c)?;
    mqtt(old, new, bound, &mut c)?;
    files_and_tls(old, new, tls_files_changed, &mut c)?;
    operator(old, new)?;
    if old.server_tags != new.server_tags {
        c.lines.push("Reloaded: tags".into());
    }
    natsws_lines(old, new, &mut c);
    Ok(c)
}

/// From `max_connections` to the JetStream switch, in nats-server's field
/// order.
fn limits_and_auth(old: &Options, new: &Options, c: &mut Changes) -> Result<(), Refused> {
    if old.max_connections != new.max_connections {
        c.lines.push(format!(
            "Reloaded: max_connections = {}",
            new.max_connections
        ));
    }
    if old.max_subscriptions != new.max_subscriptions {
        return Err(refuse(
            "MaxSubs",
            old.max_subscriptions,
            new.max_subscriptions,
        ));
    }
    if old.max_sub_tokens != new.max_sub_tokens {
        return Err(refuse(
            "MaxSubTokens",
            old.max_sub_tokens,
            new.max_sub_tokens,
        ));
    }
    // Users and accounts hold runtime state in nats-server and are never
    // compared: every reload rebuilds them and says so.
    c.lines.push("Reloaded: authorization users".into());
    c.lines.push("Reloaded: accounts".into());
    let old_na = old.no_auth_user.as_ref().map(|s| s.value.clone());
    let new_na = new.no_auth_user.as_ref().map(|s| s.value.clone());
    if old_na != new_na {
        // Only dropping it is allowed, and only with its user gone.
        let gone = match (&old_na, &new_na) {
            (Some(name), None) => !user_exists(new, name),
            _ => false,
        };
        if !gone {
            return Err(refuse("NoAuthUser", opt_str(&old_na), opt_str(&new_na)));
        }
    }
    // Only dropping an explicit default `$SYS` passes (nats-server).
    let sys_dropped = old.system_account.as_deref() == Some("$SYS") && new.system_account.is_none();
    if old.system_account != new.system_account && !sys_dropped {
        return Err(refuse(
            "SystemAccount",
            opt_str(&old.system_account),
            opt_str(&new.system_account),
        ));
    }
    if old.no_system_account != new.no_system_account {
        let (o, n) = (old.no_system_account, new.no_system_account);
        return Err(refuse("NoSystemAccount", o, n));
    }
    auth_lines(old, new, c);
    if old.proxy_protocol != new.proxy_protocol {
        return Err(refuse(
            "ProxyProtocol",
            old.proxy_protocol,
            new.proxy_protocol,
        ));
    }
    if old.ping_interval != new.ping_interval {
        c.lines.push(format!(
            "Reloaded: ping_interval = {}",
            go_dur(new.ping_interval)
        ));
    }
    if old.ping_max != new.ping_max {
        c.lines
            .push(format!("Reloaded: ping_max = {}", new.ping_max));
    }
    if old.http_host != new.http_host {
        return Err(refuse(
            "HTTPHost",
            opt_str(&old.http_host),
            opt_str(&new.http_host),
        ));
    }
    if old.http_port != new.http_port && new.http_port != -1 {
        return Err(refuse("HTTPPort", old.http_port, new.http_port));
    }
    if old.http_base_path != new.http_base_path {
        return Err(refuse(
            "HTTPBasePath",
            &old.http_base_path,
            &new.http_base_path,
        ));
    }
    if old.https_port != new.https_port && new.https_port != -1 {
        return Err(refuse("HTTPSPort", old.https_port, new.https_port));
    }
    // AuthTimeout comes after HTTPSPort in nats-server's field order.
    let timeout = |o: &Options| o.authorization.as_ref().and_then(|a| a.timeout);
    if timeout(old) != timeout(new) {
        let t = timeout(new).unwrap_or(crate::options::DEFAULT_AUTH_TIMEOUT);
        let secs = t.as_secs_f64();
        c.lines
            .push(format!("Reloaded: authorization timeout = {secs}"));
    }
    if old.max_control_line != new.max_control_line {
        c.lines.push(format!(
            "Reloaded: max_control_line = {}",
            new.max_control_line
        ));
    }
    if old.max_payload != new.max_payload {
        c.lines
            .push(format!("Reloaded: max_payload = {}", new.max_payload));
    }
    if old.max_pending != new.max_pending {
        return Err(refuse("MaxPending", old.max_pending, new.max_pending));
    }
    for (field, o, n) in [
        ("Cluster", &old.cluster, &new.cluster),
        ("Gateway", &old.gateway, &new.gateway),
        ("LeafNode", &old.leafnodes, &new.leafnodes),
    ] {
        if o.is_some() != n.is_some() {
            return Err(refuse(field, format!("{o:?}"), format!("{n:?}")));
        }
    }
    leafnode(old, new)?;
    if old.jetstream.as_ref().map(|j| j.value) != new.jetstream.as_ref().map(|j| j.value) {
        let v = |j: &Option<crate::options::Spanned<bool>>| j.as_ref().is_some_and(|j| j.value);
        return Err(refuse("JetStream", v(&old.jetstream), v(&new.jetstream)));
    }
    Ok(())
}

/// From `mqtt` to the lame duck options, in nats-server's field order.
fn files_and_tls(
    old: &Options,
    new: &Options,
    tls_files_changed: bool,
    c: &mut Changes,
) -> Result<(), Refused> {
    if old.mqtt.is_some() != new.mqtt.is_some() {
        return Err(refuse(
            "MQTT",
            format!("{:?}", old.mqtt),
            format!("{:?}", new.mqtt),
        ));
    }
    if old.pid_file != new.pid_file {
        let p = new.pid_file.as_ref().map(|p| p.display().to_string());
        c.lines
            .push(format!("Reloaded: pid_file = {}", opt_str(&p)));
        c.pid_file = true;
    }
    if old.ports_file_dir != new.ports_file_dir {
        let p = new.ports_file_dir.as_ref().map(|p| p.display().to_string());
        c.lines
            .push(format!("Reloaded: ports_file_dir = {}", opt_str(&p)));
    }
    if old.log_file != new.log_file {
        let p = new.log_file.as_ref().map(|p| p.display().to_string());
        c.lines
            .push(format!("Reloaded: log_file = {}", opt_str(&p)));
        c.log_file = true;
    }
    tls_lines(old, new, tls_files_changed, c);
    if old.write_deadline != new.write_deadline {
        c.lines.push(format!(
            "Reloaded: write_deadline = {}",
            go_dur(new.write_deadline)
        ));
    }
    if old.max_closed_clients != new.max_closed_clients {
        return Err(refuse(
            "MaxClosedClients",
            old.max_closed_clients,
            new.max_closed_clients,
        ));
    }
    // Refused by nats-server; natsws reloads them (docs/compat.md): they
    // only matter once lame duck mode starts.
    if old.lame_duck_duration != new.lame_duck_duration {
        let d = go_dur(new.lame_duck_duration);
        c.lines.push(format!("Reloaded: lame_duck_duration = {d}"));
    }
    if old.lame_duck_grace_period != new.lame_duck_grace_period {
        let d = go_dur(new.lame_duck_grace_period);
        c.lines
            .push(format!("Reloaded: lame_duck_grace_period = {d}"));
    }
    Ok(())
}

/// The `leafnodes {}` block (nats-server `getLeafNodeOptionsChanges`):
/// only its TLS content reloads (new handshakes); any other change is
/// refused as `config reload not supported for LeafNode: field "<Name>":
/// old=<old>, new=<new>` (a leaf's links are set up at start).
fn leafnode(old: &Options, new: &Options) -> Result<(), Refused> {
    use crate::options::leaf::LeafnodeOptions;
    let leaf = |field: &str, o: String, n: String| Refused::LeafNode {
        detail: format!("field {field:?}: old={o}, new={n}"),
    };
    let (o, n) = match (&old.leaf, &new.leaf) {
        (None, None) => return Ok(()),
        (Some(o), Some(n)) => (o, n),
        (o, n) => {
            let port = |l: &Option<LeafnodeOptions>| l.as_ref().and_then(|l| l.port).unwrap_or(0);
            return Err(leaf("Port", port(o).to_string(), port(n).to_string()));
        }
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    if o.host != n.host {
        return Err(leaf("Host", text(&o.host), text(&n.host)));
    }
    let (op, np) = (o.port.unwrap_or(0), n.port.unwrap_or(0));
    if op != np && np != -1 {
        return Err(leaf("Port", op.to_string(), np.to_string()));
    }
    let (oa, na) = (&o.authorization, &n.authorization);
    if oa.users != na.users {
        return Err(leaf(
            "Users",
            format!("{:?}", oa.users.len()),
            format!("{:?}", na.users.len()),
        ));
    }
    for (field, ov, nv) in [
        ("Username", &oa.user, &na.user),
        ("Password", &oa.password, &na.password),
        ("Account", &oa.account, &na.account),
        ("Nkey", &oa.nkey, &na.nkey),
    ] {
        if ov != nv {
            let secret = |v: &Option<String>| {
                if field == "Password" && v.is_some() {
                    "[REDACTED]".into()
                } else {
                    text(v)
                }
            };
            return Err(leaf(field, secret(ov), secret(nv)));
        }
    }
    if oa.timeout != na.timeout {
        let secs = |t: Option<std::time::Duration>| t.map_or(0.0, |d| d.as_secs_f64()).to_string();
        return Err(leaf("AuthTimeout", secs(oa.timeout), secs(na.timeout)));
    }
    if o.reconnect != n.reconnect {
        return Err(leaf(
            "ReconnectInterval",
            go_dur(o.reconnect),
            go_dur(n.reconnect),
        ));
    }
    let wd = |l: &LeafnodeOptions| go_dur(l.write_deadline.unwrap_or_default());
    if o.write_deadline != n.write_deadline {
        return Err(leaf("WriteDeadline", wd(o), wd(n)));
    }
    if o.write_timeout != n.write_timeout {
        return Err(leaf(
            "WriteTimeout",
            o.write_timeout.go_name().into(),
            n.write_timeout.go_name().into(),
        ));
    }
    if o.remotes != n.remotes {
        let urls = |l: &LeafnodeOptions| {
            format!(
                "{:?}",
                l.remotes.iter().map(|r| r.urls.clone()).collect::<Vec<_>>()
            )
        };
        return Err(leaf("Remotes", urls(o), urls(n)));
    }
    if o.isolate_leafnode_interest != n.isolate_leafnode_interest {
        return Err(leaf(
            "IsolateLeafnodeInterest",
            o.isolate_leafnode_interest.to_string(),
            n.isolate_leafnode_interest.to_string(),
        ));
    }
    if o.dial_timeout != n.dial_timeout {
        return Err(leaf(
            "DialTimeout",
            go_dur(o.dial_timeout),
            go_dur(n.dial_timeout),
        ));
    }
    // natsws's own key, named as a Go field would be.
    if o.proxy_protocol != n.proxy_protocol {
        return Err(leaf(
            "ProxyProtocol",
            o.proxy_protocol.to_string(),
            n.proxy_protocol.to_string(),
        ));
    }
    Ok(())
}

/// Whether `name` is a user (or nkey) of `o`'s authorization or accounts.
fn user_exists(o: &Options, name: &str) -> bool {
    let auth = o.authorization.iter().flat_map(|a| a.users.iter());
    let accs = o.accounts.iter().flat_map(|a| a.users.iter());
    auth.chain(accs)
        .any(|u| u.user.as_deref() == Some(name) || u.nkey.as_deref() == Some(name))
}

/// The single-user and token lines of `authorization {}`.
fn auth_lines(old: &Options, new: &Options, c: &mut Changes) {
    let (o, n) = (old.authorization.as_ref(), new.authorization.as_ref());
    let get = |a: Option<&crate::options::Authorization>| {
        a.map(|a| (a.user.clone(), a.password.clone(), a.token.clone()))
            .unwrap_or_default()
    };
    let (ou, op, ot) = get(o);
    let (nu, np, nt) = get(n);
    if ou != nu {
        c.lines.push("Reloaded: authorization username".into());
    }
    if op != np {
        c.lines.push("Reloaded: authorization password".into());
    }
    if ot != nt {
        c.lines.push("Reloaded: authorization token".into());
    }
}

/// The client-port `tls {}` lines.
fn tls_lines(old: &Options, new: &Options, files_changed: bool, c: &mut Changes) {
    let (o, n) = (tls_unspanned(&old.tls), tls_unspanned(&new.tls));
    if o != n || (n.is_some() && files_changed) {
        let state = if n.is_some() { "enabled" } else { "disabled" };
        c.lines.push(format!("Reloaded: tls = {state}"));
    }
    let timeout = |t: &Option<TlsConfig>| t.as_ref().and_then(|t| t.timeout);
    if timeout(&o) != timeout(&n) {
        let secs = timeout(&n).map_or(2.0, |d| d.as_secs_f64());
        c.lines.push(format!("Reloaded: tls timeout = {secs}"));
    }
    let pinned = |t: &Option<TlsConfig>| t.as_ref().map(|t| t.pinned_certs.clone());
    if pinned(&o) != pinned(&n) {
        let k = pinned(&n).map_or(0, |p| p.len());
        c.lines.push(format!("Reloaded: {k} pinned_certs"));
    }
    let first = |t: &Option<TlsConfig>| t.as_ref().is_some_and(|t| t.handshake_first);
    if first(&o) != first(&n) {
        let v = if first(&n) { "enabled" } else { "disabled" };
        c.lines
            .push(format!("Reloaded: Client TLS handshake first: {v}"));
    }
}

/// The `websocket {}` block: its listener (host, port, `no_tls`) is
/// refused with nats-server's `Websocket` text; natsws reloads the rest for
/// new handshakes (spec §1.6 IMPL).
fn websocket(old: &Options, new: &Options, bound: Bound, c: &mut Changes) -> Result<(), Refused> {
    let (ow, nw) = (&old.websocket, &new.websocket);
    let (oh, op, ot) = ws_listener(ow);
    let (nh, np, nt) = ws_listener(nw);
    let bound_port = bound.ws.map_or(i64::from(op), |a| i64::from(a.port()));
    let port_same = np == op || (np == -1 && op == -1) || i64::from(np) == bound_port;
    if oh != nh || !port_same || ot != nt || ow.enabled() != nw.enabled() {
        return Err(refuse(
            "Websocket",
            format!("{{host:{oh} port:{bound_port} no_tls:{ot}}}"),
            format!("{{host:{nh} port:{np} no_tls:{nt}}}"),
        ));
    }
    if tls_unspanned(&ow.tls) != tls_unspanned(&nw.tls) {
        c.lines.push("Reloaded: websocket tls".into());
    }
    if ws_rest(ow) != ws_rest(nw) {
        let mut o = ws_rest(ow);
        let n = ws_rest(nw);
        (o.host, o.port, o.no_tls) = (n.host.clone(), n.port, n.no_tls);
        if o != n {
            c.lines.push("Reloaded: websocket options".into());
        }
    }
    Ok(())
}

/// The `mqtt {}` block (nats-server `diffOptions`, case `mqtt`): `ack_wait`
/// and `max_ack_pending` reload (one `Reloaded: MQTT …` line each, for MQTT
/// connections made after the reload) and so does its `tls {}`; any other
/// change, the listener's host and port first, is refused as
/// `config reload not supported for MQTT: old={host:… port:…}, new={…}`
/// (nats-server prints its whole `MQTTOpts` there).
fn mqtt(old: &Options, new: &Options, bound: Bound, c: &mut Changes) -> Result<(), Refused> {
    // An empty host is the top-level one (nats-server
    // `setBaselineOptions`).
    let listener = |o: &Options| {
        o.mqtt.as_ref().map_or((String::new(), 0), |m| {
            let h = if m.host.is_empty() { &o.host } else { &m.host };
            (h.clone(), m.port)
        })
    };
    let rest = |m: &Option<crate::options::MqttOptions>| {
        m.clone().map(|mut m| {
            m.tls = None;
            m.ack_wait = None;
            m.max_ack_pending = None;
            m
        })
    };
    let ((oh, op), (nh, np)) = (listener(old), listener(new));
    let bound_port = bound.mqtt.map_or(i64::from(op), |a| i64::from(a.port()));
    let port_same = np == op || i64::from(np) == bound_port;
    let (mut ro, rn) = (rest(&old.mqtt), rest(&new.mqtt));
    if let (Some(o), Some(n)) = (ro.as_mut(), rn.as_ref()) {
        // The port is compared above (a random port's bound value is no
        // change), and the block's position is no change.
        o.port = n.port;
        o.span = n.span.clone();
    }
    if oh != nh || !port_same || ro != rn {
        return Err(refuse(
            "MQTT",
            format!("{{host:{oh} port:{bound_port}}}"),
            format!("{{host:{nh} port:{np}}}"),
        ));
    }
    let (Some(o), Some(n)) = (&old.mqtt, &new.mqtt) else {
        return Ok(());
    };
    if o.ack_wait != n.ack_wait {
        let d = n.ack_wait.unwrap_or(crate::settings::DEFAULT_MQTT_ACK_WAIT);
        c.lines
            .push(format!("Reloaded: MQTT ack_wait = {}", go_dur(d)));
    }
    if o.max_ack_pending != n.max_ack_pending {
        let m = n
            .max_ack_pending
            .unwrap_or(crate::settings::DEFAULT_MQTT_MAX_ACK_PENDING);
        c.lines
            .push(format!("Reloaded: MQTT max_ack_pending = {m}"));
    }
    Ok(())
}

/// Operator mode and the account resolver.
fn operator(old: &Options, new: &Options) -> Result<(), Refused> {
    if old.trusted_keys != new.trusted_keys {
        return Err(refuse(
            "TrustedKeys",
            format!("{:?}", old.trusted_keys),
            format!("{:?}", new.trusted_keys),
        ));
    }
    let ops = |o: &Options| {
        o.operators
            .iter()
            .map(|s| s.value.clone())
            .collect::<Vec<_>>()
    };
    if ops(old) != ops(new) {
        return Err(refuse(
            "TrustedOperators",
            format!("{:?}", ops(old)),
            format!("{:?}", ops(new)),
        ));
    }
    let res = |o: &Options| o.resolver.as_ref().map(|r| r.value.to_ascii_uppercase());
    match (res(old), res(new)) {
        (Some(_), None) | (None, Some(_)) => Err(Refused::Resolver),
        (Some(a), Some(b)) if a != b => Err(refuse("AccountResolver", a, b)),
        _ => Ok(()),
    }
}

/// natsws's own top-level keys.
fn natsws_lines(old: &Options, new: &Options, c: &mut Changes) {
    if old.max_pending_handshakes != new.max_pending_handshakes {
        let n = new.max_pending_handshakes;
        c.lines
            .push(format!("Reloaded: max_pending_handshakes = {n}"));
    }
    if old.trusted_proxies != new.trusted_proxies {
        c.lines.push("Reloaded: trusted_proxies".into());
    }
    if old.metrics != new.metrics {
        c.lines.push("Reloaded: metrics".into());
    }
    if old.loop_spin != new.loop_spin {
        c.lines
            .push(format!("Reloaded: loop_spin = {}", go_dur(new.loop_spin)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(conf: &str) -> Options {
        Options::from_config_str(conf, "test.conf").expect("conf")
    }

    fn bound() -> Bound {
        Bound {
            client: "127.0.0.1:4222".parse().unwrap(),
            ws: Some("127.0.0.1:8080".parse().unwrap()),
            mqtt: Some("127.0.0.1:1883".parse().unwrap()),
        }
    }

    fn run(old: &str, new: &str) -> Result<Changes, Refused> {
        diff(&opts(old), &opts(new), bound(), false)
    }

    #[test]
    fn first_refused_field_in_reference_order_wins() {
        let e = run(
            "host: a\nport: 4222\n",
            "host: b\nport: 4223\nmax_payload: 10\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for Host: old=a, new=b"
        );
        let e = run("port: 4222\n", "port: 4223\nserver_name: x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for ServerName: old=, new=x"
        );
    }

    #[test]
    fn random_port_and_the_bound_port_are_no_change() {
        let c = run("port: -1\n", "port: -1\n").unwrap();
        assert_eq!(
            c.lines,
            ["Reloaded: authorization users", "Reloaded: accounts"]
        );
        // The file names the port chosen at start: unchanged too.
        assert!(run("port: -1\n", "port: 4222\n").is_ok());
        let e = run("port: -1\n", "port: 4300\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for Port: old=4222, new=4300"
        );
    }

    #[test]
    fn leafnode_isolation_and_write_deadline_changes_are_refused() {
        // nats-server 2.15.1's texts (checked with SIGHUP).
        for (new, detail) in [
            (
                "isolate: true",
                "field \"IsolateLeafnodeInterest\": old=false, new=true",
            ),
            (
                "write_deadline: \"5s\"",
                "field \"WriteDeadline\": old=0s, new=5s",
            ),
            (
                "write_timeout: retry",
                "field \"WriteTimeout\": old=, new=retry",
            ),
        ] {
            let e = run(
                "leafnodes { port: 7422 }\n",
                &format!("leafnodes {{ port: 7422, {new} }}\n"),
            )
            .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("config reload not supported for LeafNode: {detail}")
            );
        }
    }

    #[test]
    fn reloadable_options_give_one_line_each() {
        let c = run(
            "max_payload: 100\nping_interval: \"2m\"\ndebug: false\n",
            "max_payload: 200\nping_interval: \"30s\"\ndebug: true\nwrite_deadline: \"3s\"\n",
        )
        .unwrap();
        assert_eq!(
            c.lines,
            [
                "Reloaded: debug = true",
                "Reloaded: authorization users",
                "Reloaded: accounts",
                "Reloaded: ping_interval = 30s",
                "Reloaded: max_payload = 200",
                "Reloaded: write_deadline = 3s",
            ]
        );
        assert!(c.logger);
    }

    #[test]
    fn websocket_listener_is_refused_and_the_rest_reloads() {
        let ws = |extra: &str| format!("websocket {{ port: 8080, no_tls: true{extra} }}\n");
        let c = run(&ws(""), &ws(", compression: true")).unwrap();
        assert!(c.lines.contains(&"Reloaded: websocket options".to_string()));
        let e = run(&ws(""), &ws(", no_tls: false, same_origin: true")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config reload not supported for Websocket: old={"),
            "{e}"
        );
        let e = run(
            "websocket { port: 8080, no_tls: true }\n",
            "websocket { port: 9090, no_tls: true }\n",
        )
        .unwrap_err();
        assert!(matches!(
            e,
            Refused::NotSupported {
                field: "Websocket",
                ..
            }
        ));
    }

    #[test]
    fn mqtt_listener_is_refused_and_ack_settings_reload() {
        let m = |extra: &str| format!("mqtt {{ port: 1883{extra} }}\n");
        let c = run(&m(""), &m(", ack_wait: \"1m\", max_ack_pending: 10")).unwrap();
        assert!(
            c.lines
                .contains(&"Reloaded: MQTT ack_wait = 1m0s".to_string()),
            "{c:?}"
        );
        assert!(
            c.lines
                .contains(&"Reloaded: MQTT max_ack_pending = 10".to_string()),
            "{c:?}"
        );
        let e = run(&m(""), "mqtt { port: 1884 }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for MQTT: old={host:0.0.0.0 port:1883}, new={host:0.0.0.0 port:1884}"
        );
        let e = run(&m(""), "mqtt { host: 127.0.0.1, port: 1883 }\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config reload not supported for MQTT: "),
            "{e}"
        );
        // Adding, removing or changing another key is refused too.
        assert!(run("", &m("")).is_err());
        assert!(run(&m(""), "").is_err());
        assert!(run(&m(""), &m(", reject_qos2_publish: true")).is_err());
        // A random port: the bound one in the new file is no change.
        assert!(run("mqtt { port: -1 }\n", &m("")).is_ok());
        assert!(run("mqtt { port: -1 }\n", "mqtt { port: -1 }\n").is_ok());
    }

    #[test]
    fn no_auth_user_may_only_go_with_its_user() {
        let users =
            |u: &str| format!("authorization {{ users = [ {{ user: {u}, password: p }} ] }}\n");
        let with = format!("no_auth_user: a\n{}", users("a"));
        let e = run(&with, &users("a")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for NoAuthUser: old=a, new="
        );
        assert!(run(&with, &users("b")).is_ok());
    }

    #[test]
    fn moving_to_a_resolver_has_its_own_text() {
        assert_eq!(
            Refused::Resolver.to_string(),
            "config reload does not support moving to or from an account resolver"
        );
        let e = operator(&opts(""), &opts("resolver: MEMORY\n")).unwrap_err();
        assert_eq!(e, Refused::Resolver);
    }

    #[test]
    fn system_account_changes() {
        assert!(run("system_account: \"$SYS\"\n", "").is_ok());
        let e = run("", "system_account: SYS2\naccounts { SYS2: {} }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for SystemAccount: old=, new=SYS2"
        );
        let e = run("", "no_system_account: true\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config reload not supported for NoSystemAccount: old=false, new=true"
        );
    }
}
