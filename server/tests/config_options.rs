//! Typed options: defaults, keys and aliases, overrides, startup validation
//! (nats-protocol.md §1.8, §4.2–4.4).

use core::time::Duration;

use natsws_server::options::{ConnectionType, Options, DEFAULT_MAX_PAYLOAD};

fn opts(src: &str) -> Options {
    Options::from_config_str(src, "o.conf").unwrap_or_else(|e| panic!("{e}"))
}

fn opts_err(src: &str) -> String {
    Options::from_config_str(src, "o.conf")
        .unwrap_err()
        .to_string()
}

fn validate_err(src: &str) -> String {
    opts(src).validate().unwrap_err().to_string()
}

#[test]
fn defaults_match_nats_server() {
    let o = Options::default();
    assert_eq!(o.host, "0.0.0.0");
    assert_eq!(o.port, 4222);
    assert_eq!(o.http_port, 0);
    assert_eq!(o.max_payload, 1_048_576);
    assert_eq!(o.max_pending, 67_108_864);
    assert_eq!(o.max_control_line, 4096);
    assert_eq!(o.max_connections, 65_536);
    assert_eq!(o.max_subscriptions, 0);
    assert_eq!(o.ping_interval, Duration::from_secs(120));
    assert_eq!(o.ping_max, 2);
    assert_eq!(o.write_deadline, Duration::from_secs(10));
    assert!(o.logtime);
    assert!(!o.debug && !o.trace && !o.no_header_support);
    assert!(!o.websocket.enabled());
    assert!(o.validate().is_ok());
    assert!(o.unsupported().is_empty());
}

#[test]
fn listen_sets_host_and_port() {
    let o = opts("listen: 127.0.0.1:4333\n");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
    let o = opts("listen: 5222\n");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 5222));
    let o = opts("listen: \"[::1]:4000\"\n");
    assert_eq!((o.host.as_str(), o.port), ("::1", 4000));
    let o = opts("listen: localhost:4001\n");
    assert_eq!((o.host.as_str(), o.port), ("localhost", 4001));
}

#[test]
fn listen_errors() {
    assert!(opts_err("listen: true\n").contains("expected port or host:port, got bool"));
    assert!(
        opts_err("listen: nohostport\n").contains("could not parse address string \"nohostport\"")
    );
    assert!(opts_err("listen: \"h:xx\"\n").contains("could not parse port \"xx\""));
}

#[test]
fn host_net_port_aliases_case_insensitive() {
    let o = opts("NET: 10.0.0.1\nPort: -1\n");
    assert_eq!((o.host.as_str(), o.port), ("10.0.0.1", -1));
    let o = opts("host: example\n");
    assert_eq!(o.host, "example");
}

#[test]
fn monitoring_http_forms() {
    let o = opts("http: 127.0.0.1:8222\n");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.1"), 8222)
    );
    let o = opts("http_port: 8223\n");
    assert_eq!((o.http_host, o.http_port), (None, 8223));
    let o = opts("monitor_port: 8224\n");
    assert_eq!(o.http_port, 8224);
    let o = opts("http: 8225\n");
    assert_eq!(o.http_port, 8225);
}

#[test]
fn limits_with_sizes() {
    let o = opts("max_payload: 2MB\nmax_pending: 128MB\nmax_control_line: 8KB\nmax_subscriptions: 10\nmax_conn: 5\n");
    assert_eq!(o.max_payload, 2 << 20);
    assert_eq!(o.max_pending, 128 << 20);
    assert_eq!(o.max_control_line, 8192);
    assert_eq!(o.max_subscriptions, 10);
    assert_eq!(o.max_connections, 5);
    let o = opts("max_subs: 3\nmax_connections: 7\n");
    assert_eq!((o.max_subscriptions, o.max_connections), (3, 7));
}

#[test]
fn max_connections_zero_rejects_everyone() {
    // nats-server turns 0 into -1, which rejects every client.
    assert_eq!(opts("max_connections: 0\n").max_connections, -1);
}

#[test]
fn max_payload_range() {
    assert!(opts_err("max_payload: 3GB\n").contains("max_payload value is too big"));
}

#[test]
fn max_payload_over_max_pending_is_startup_error() {
    assert_eq!(
        validate_err("max_payload: 2MB\nmax_pending: 1MB\n"),
        "max_payload (2097152) cannot be higher than max_pending (1048576)"
    );
}

#[test]
fn max_payload_over_8mib_warns() {
    let o = opts("max_payload: 9MB\n");
    assert!(o.validate().is_ok());
    assert!(o
        .startup_warnings()
        .iter()
        .any(|w| w.contains("Maximum payloads over 8.00 MB are generally discouraged")));
    assert!(opts("max_payload: 8MB\n").startup_warnings().is_empty());
    assert_eq!(Options::default().max_payload, DEFAULT_MAX_PAYLOAD);
}

#[test]
fn durations_strings_and_integer_seconds() {
    let o = opts("ping_interval: \"30s\"\nwrite_deadline: \"1m30s\"\n");
    assert_eq!(o.ping_interval, Duration::from_secs(30));
    assert_eq!(o.write_deadline, Duration::from_secs(90));
    assert!(o.warnings.is_empty());
    let o = opts("ping_interval: 45\nwrite_deadline: 500ms\n");
    assert_eq!(o.ping_interval, Duration::from_secs(45));
    assert_eq!(o.write_deadline, Duration::from_millis(500));
    assert_eq!(o.warnings.len(), 1);
    assert_eq!(
        o.warnings[0].to_string(),
        "o.conf:1:1: ping_interval should be converted to a duration"
    );
}

#[test]
fn unquoted_2m_ping_interval_is_two_million_seconds() {
    // §4.1 quirk: `2m` is the integer 2,000,000 → seconds, with a warning.
    let o = opts("ping_interval: 2m\n");
    assert_eq!(o.ping_interval, Duration::from_secs(2_000_000));
    assert_eq!(o.warnings.len(), 1);
}

#[test]
fn bad_duration_errors() {
    assert!(opts_err("ping_interval: \"abc\"\n")
        .contains("error parsing ping_interval: time: invalid duration \"abc\""));
    assert!(opts_err("write_deadline: \"5x\"\n").contains("unknown unit \"x\""));
    // lame_duck_duration takes only a duration string.
    assert!(opts_err("lame_duck_duration: 60\n").contains("not string"));
    assert!(opts_err("lame_duck_duration: \"10s\"\n").contains("minimum is 30 seconds"));
}

#[test]
fn lame_duck_grace_must_be_lower() {
    assert_eq!(
        validate_err("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"30s\"\n"),
        "lame duck grace period (30s) should be strictly lower than lame duck duration (30s)"
    );
}

#[test]
fn logging_and_files() {
    let o = opts("debug: true\ntrace: yes\nlogtime: false\nlog_file: /tmp/n.log\npid_file: \"/tmp/n.pid\"\nno_header_support: on\n");
    assert!(o.debug && o.trace && !o.logtime && o.no_header_support);
    assert_eq!(o.log_file.unwrap().to_str(), Some("/tmp/n.log"));
    assert_eq!(o.pid_file.unwrap().to_str(), Some("/tmp/n.pid"));
    let o = opts("logfile: a.log\npidfile: a.pid\ntrace_verbose: true\n");
    assert!(o.trace && o.trace_verbose);
    assert_eq!(o.log_file.unwrap().to_str(), Some("a.log"));
}

#[test]
fn server_name_spaces_rejected() {
    assert_eq!(
        validate_err("server_name: \"a b\"\n"),
        "server name cannot contain spaces"
    );
    assert_eq!(opts("server_name: n1\n").server_name.as_deref(), Some("n1"));
}

#[test]
fn type_errors_use_go_wording() {
    assert_eq!(
        opts_err("debug: 1\n"),
        "o.conf:1:1: interface conversion: interface {} is int64, not bool"
    );
}

#[test]
fn unknown_top_level_key_is_error() {
    assert_eq!(
        opts_err("no_such_thing: 1\n"),
        "o.conf:1:1: unknown field \"no_such_thing\""
    );
}

#[test]
fn authorization_block_typed() {
    let o = opts(
        "authorization {\n  users: [\n    {user: a, password: p, permissions: {publish: {allow: [\"x.>\"], deny: \"x.y\"}, subscribe: \"s.*\", allow_responses: {max: 3, expires: \"1m\"}}, allowed_connection_types: [\"websocket\", \"STANDARD\"]}\n    {nkey: UABC}\n  ]\n  timeout: 1.5\n}\n",
    );
    let a = o.authorization.as_ref().unwrap();
    assert_eq!(a.timeout, Some(Duration::from_millis(1500)));
    let u = &a.users[0];
    let p = u.permissions.as_ref().unwrap();
    assert_eq!(p.publish.as_ref().unwrap().allow, vec!["x.>"]);
    assert_eq!(p.publish.as_ref().unwrap().deny, vec!["x.y"]);
    assert_eq!(p.subscribe.as_ref().unwrap().allow, vec!["s.*"]);
    let rp = p.allow_responses.as_ref().unwrap();
    assert_eq!((rp.max, rp.expires), (3, Duration::from_secs(60)));
    assert_eq!(
        u.allowed_connection_types,
        vec![ConnectionType::Websocket, ConnectionType::Standard]
    );
    assert_eq!(a.users[1].nkey.as_deref(), Some("UABC"));
    // Enforced now: nothing left to refuse.
    assert!(o.unsupported().is_empty());
    // auth_callout is still refused, at the block's position.
    let o = opts("authorization {\n  auth_callout { issuer: AB }\n}\n");
    let un = o.unsupported();
    assert_eq!(
        un.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["o.conf:1:1: \"authorization.auth_callout\" is configured but not supported by natsws yet"]
    );
}

#[test]
fn authorization_errors() {
    assert!(opts_err(
        "authorization { users: [{user: a, allowed_connection_types: [\"FOO\"]}] }\n"
    )
    .contains("invalid connection types [\"FOO\"]"));
    assert!(
        opts_err("authorization { users: [{nkey: UA, password: x}] }\n")
            .contains("Nkey users do not take usernames or passwords")
    );
    assert!(opts_err("authorization { bogus: 1 }\n").contains("unknown field \"bogus\""));
    assert_eq!(
        validate_err("authorization { user: a, password: b, users: [{user: c}] }\n"),
        "Can not have a single user/pass and a users array"
    );
    assert_eq!(
        validate_err("authorization { token: t, users: [{user: c}] }\n"),
        "Can not have a token and a users array"
    );
    assert_eq!(
        validate_err("authorization { user: a, token: t }\n"),
        "Cannot have a user/pass and token"
    );
    assert_eq!(
        validate_err("authorization { users: [{user: a}, {user: a}] }\n"),
        "Duplicate user \"a\" detected"
    );
}

#[test]
fn plaintext_password_warning() {
    let o = opts("authorization { user: a, password: b }\n");
    assert!(o
        .startup_warnings()
        .iter()
        .any(|w| w == "Plaintext passwords detected, use nkeys or bcrypt"));
    let o = opts("authorization { user: a, password: $2a$11$abcdefghijklmnopqrstuv }\n");
    assert!(o.startup_warnings().is_empty());
}

#[test]
fn no_auth_user_validation() {
    assert_eq!(
        validate_err("no_auth_user: x\n"),
        "no_auth_user: \"x\" present, but users/nkeys are not defined"
    );
    assert_eq!(
        validate_err("no_auth_user: x\nauthorization { users: [{user: y}] }\n"),
        "no_auth_user: \"x\" not present as user or nkey in authorization block or account configuration"
    );
    // Users in accounts count.
    assert!(
        opts("no_auth_user: x\naccounts { A { users: [{user: x}] } }\n")
            .validate()
            .is_ok()
    );
}

#[test]
fn accounts_forms_and_reserved() {
    let o = opts("accounts: [A, B]\n");
    assert_eq!(o.accounts.len(), 2);
    assert_eq!(
        validate_err("accounts { $G { } }\n".replace("$G", "\"$G\"").as_str()),
        "o.conf:1:12: \"$G\" is a Reserved Account"
    );
}

#[test]
fn unsupported_features_listed_never_ignored() {
    let o = opts(
        "tls { cert_file: c, key_file: k }\ncluster { port: 6222 }\nleafnodes { port: 7422 }\nmqtt { port: 1883 }\njetstream: enabled\nsystem_account: SYS\ngateway { name: g }\n",
    );
    let names: Vec<String> = o.unsupported().into_iter().map(|u| u.feature).collect();
    // mqtt is served; jetstream is accepted with a warning (its store_dir
    // holds the MQTT store).
    assert_eq!(names, vec!["cluster", "gateway"]);
    assert_eq!(o.mqtt.as_ref().unwrap().port, 1883);
    // leafnodes are served; keys natsws does not implement yet are listed.
    assert_eq!(o.leaf.as_ref().unwrap().port, Some(7422));
    let l = opts(
        "leafnodes { port: 7422, authorization { user: a, password: b, proxy_required: true } }\n",
    );
    let names: Vec<String> = l.unsupported().into_iter().map(|u| u.feature).collect();
    assert_eq!(names, vec!["leafnodes.authorization.proxy_required"]);
    assert!(opts_err("leafnodes { port: 7422, bogus: 1 }\n").contains("unknown field \"bogus\""));
    assert!(
        opts_err("leafnodes { remotes [ { url: \"nats://h\", bogus: 1 } ] }\n")
            .contains("unknown field \"bogus\"")
    );
    // system_account is accepted (recorded; no system account services).
    assert_eq!(o.system_account.as_deref(), Some("SYS"));
    assert_eq!(o.cluster.as_ref().unwrap().port, Some(6222));
    // jetstream explicitly disabled is fine.
    assert!(opts("jetstream: false\n").unsupported().is_empty());
}

#[test]
fn tls_block_checks() {
    assert!(opts_err("tls { cert_file: c, bogus: 1 }\n")
        .contains("error parsing tls config, unknown field \"bogus\""));
    assert!(opts_err("tls { cert_file: c }\n").contains("missing 'key_file' in TLS configuration"));
    let o = opts("tls { cert_file: c, key_file: k, verify: true, timeout: 3 }\n");
    let t = o.tls.unwrap();
    assert!(t.verify);
    assert_eq!(t.timeout, Some(Duration::from_secs(3)));
}

#[test]
fn loop_spin_natsws_key() {
    assert_eq!(Options::default().loop_spin, Duration::from_micros(50));
    assert_eq!(
        opts("loop_spin: \"200us\"\n").loop_spin,
        Duration::from_micros(200)
    );
    assert_eq!(opts("loop_spin: \"0s\"\n").loop_spin, Duration::ZERO);
    assert!(opts_err("loop_spin: \"2ms\"\n").contains("loop_spin must be at most 1ms"));
    assert!(opts_err("loop_spin: 5\n").contains("not string"));
}
