//! Command line (nats-protocol.md §5) and `load` merging.

use std::path::{Path, PathBuf};

use natsws_server::cli::{load, Action, Cli, SignalCommand, DEFAULT_CONFIG};

fn cli(args: &[&str]) -> Cli {
    let mut v = vec!["natsws"];
    v.extend_from_slice(args);
    Cli::parse_from_args(v).unwrap_or_else(|e| panic!("{e}"))
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

#[test]
fn short_and_long_flags() {
    let c = cli(&[
        "-c",
        "x.conf",
        "-p",
        "5000",
        "-a",
        "127.0.0.1",
        "-m",
        "8300",
        "-n",
        "srv",
        "-l",
        "l.log",
        "-P",
        "p.pid",
    ]);
    assert_eq!(c.config.as_deref(), Some(Path::new("x.conf")));
    assert_eq!(c.port, Some(5000));
    assert_eq!(c.addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(c.http_port, Some(8300));
    assert_eq!(c.name.as_deref(), Some("srv"));
    assert_eq!(c.log.as_deref(), Some(Path::new("l.log")));
    assert_eq!(c.pid.as_deref(), Some(Path::new("p.pid")));
    let c = cli(&[
        "--config=y.conf",
        "--port",
        "-1",
        "--net",
        "h",
        "--http_port=1",
        "--server_name",
        "s2",
    ]);
    assert_eq!(c.port, Some(-1));
    assert_eq!(c.addr.as_deref(), Some("h"));
    assert_eq!(c.name.as_deref(), Some("s2"));
}

#[test]
fn go_style_single_dash_long_flags() {
    let c = cli(&[
        "-port",
        "4999",
        "-config=z.conf",
        "-addr",
        "a",
        "-signal",
        "reload",
    ]);
    assert_eq!(c.port, Some(4999));
    assert_eq!(c.config.as_deref(), Some(Path::new("z.conf")));
    assert_eq!(c.addr.as_deref(), Some("a"));
    assert_eq!(c.signal.as_deref(), Some("reload"));
}

#[test]
fn debug_trace_combinations() {
    let c = cli(&["-DV"]);
    assert!(c.debug && c.trace);
    let c = cli(&["-D"]);
    assert!(c.debug && !c.trace);
    let mut o = natsws_server::options::Options::default();
    cli(&["-VV"]).apply(&mut o);
    assert!(o.trace && o.trace_verbose && !o.debug);
    let mut o = natsws_server::options::Options::default();
    cli(&["-DVV"]).apply(&mut o);
    assert!(o.debug && o.trace && o.trace_verbose);
    let mut o = natsws_server::options::Options::default();
    cli(&["-T=false"]).apply(&mut o);
    assert!(!o.logtime);
}

#[test]
fn actions() {
    assert_eq!(cli(&[]).action().unwrap(), Action::Run);
    assert_eq!(cli(&["-v"]).action().unwrap(), Action::Version);
    assert_eq!(cli(&["version"]).action().unwrap(), Action::Version);
    assert_eq!(cli(&["help"]).action().unwrap(), Action::Help);
    assert_eq!(
        cli(&["--generate-config"]).action().unwrap(),
        Action::GenerateConfig
    );
    assert_eq!(
        cli(&["-t", "-c", "a.conf"]).action().unwrap(),
        Action::TestConfig(PathBuf::from("a.conf"))
    );
    assert_eq!(
        cli(&["-t"]).action().unwrap_err().to_string(),
        "must specify [-c, --config] option to check configuration file syntax"
    );
    assert_eq!(
        cli(&["--signal", "stop"]).action().unwrap(),
        Action::Signal(SignalCommand::Stop, None)
    );
    assert_eq!(
        cli(&["--signal", "reload=1234"]).action().unwrap(),
        Action::Signal(SignalCommand::Reload, Some("1234".into()))
    );
    assert_eq!(
        cli(&["-sl", "quit=/var/run/n.pid"]).action().unwrap(),
        Action::Signal(SignalCommand::Quit, Some("/var/run/n.pid".into()))
    );
    assert_eq!(
        cli(&["--signal", "bogus"])
            .action()
            .unwrap_err()
            .to_string(),
        "unknown signal \"bogus\""
    );
    assert_eq!(
        cli(&["frobnicate"]).action().unwrap_err().to_string(),
        "unrecognized command: \"frobnicate\""
    );
}

#[test]
fn help_is_a_clap_display_help() {
    let e = Cli::parse_from_args(["natsws", "-h"]).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
    let e = Cli::parse_from_args(["natsws", "--ws_port", "1"]).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
}

#[test]
fn load_without_config_gives_defaults_plus_flags() {
    let o = load(&cli(&["-p", "4555", "-D"])).unwrap();
    assert_eq!(o.port, 4555);
    assert!(o.debug);
    assert_eq!(o.host, "0.0.0.0");
}

#[test]
fn flags_override_config_file() {
    let path = fixture("include/main.conf");
    let p = path.to_str().unwrap();
    let o = load(&cli(&["-c", p])).unwrap();
    assert_eq!(o.port, 4333);
    assert_eq!(o.config_file.as_deref(), Some(path.as_path()));
    let o = load(&cli(&[
        "-c",
        p,
        "-p",
        "4999",
        "-m",
        "8999",
        "-a",
        "127.0.0.1",
    ]))
    .unwrap();
    assert_eq!(
        (o.port, o.http_port, o.host.as_str()),
        (4999, 8999, "127.0.0.1")
    );
    // Values from the file that no flag touches remain.
    assert_eq!(o.max_payload, 2 << 20);
}

#[test]
fn load_runs_validation() {
    let e = load(&cli(&[
        "-c",
        fixture("seed_003_origins.conf").to_str().unwrap(),
    ]))
    .unwrap_err();
    assert_eq!(e.to_string(), "websocket requires TLS configuration");
    let e = load(&cli(&["-n", "has space"])).unwrap_err();
    assert_eq!(e.to_string(), "server name cannot contain spaces");
}

#[test]
fn load_missing_file() {
    let e = load(&cli(&["-c", "/nonexistent/natsws.conf"])).unwrap_err();
    assert!(
        e.to_string().starts_with("error opening config file: "),
        "{e}"
    );
}

#[test]
fn generate_config_is_the_embedded_default() {
    assert!(DEFAULT_CONFIG.contains("listen: 127.0.0.1:4222"));
    assert!(DEFAULT_CONFIG.contains("no_tls: true"));
}
