//! Command line (nats-protocol.md §5), clap derive, and [`load`] which
//! merges the config file with command-line overrides as nats-server does
//! (flags win over the file).
//!
//! Go's `flag` package accepts every flag with one or two dashes; clap only
//! takes long flags with two. [`Cli::parse_from_args`] therefore rewrites
//! single-dash long flags (`-port 4222`, `-config=x`, `-ms`, `-sl`, `-VV`,
//! `-DVV`) to their double-dash form before clap sees them. Short
//! combinations such as `-DV` are plain clap short flags.
//!
//! There are no websocket flags (websocket.md §1.1), so there is no
//! `--ws_port`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::config::ConfigError;
use crate::options::Options;

/// The embedded default configuration printed by `--generate-config`:
/// client 127.0.0.1:4222, monitoring 127.0.0.1:8222, websocket
/// 127.0.0.1:8080 with `no_tls: true`.
pub const DEFAULT_CONFIG: &str = include_str!("default.conf");

/// natsws command line.
#[derive(Clone, Debug, Default, Parser, PartialEq)]
#[command(
    name = "natsws",
    disable_version_flag = true,
    about = "NATS server with WebSocket as a first-class transport"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Client port (default 4222; -1 random).
    #[arg(short = 'p', long = "port", allow_negative_numbers = true)]
    pub port: Option<i32>,
    /// Bind address (default 0.0.0.0).
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "HOST")]
    pub addr: Option<String>,
    /// Monitoring HTTP port.
    #[arg(short = 'm', long = "http_port", allow_negative_numbers = true)]
    pub http_port: Option<i32>,
    /// Monitoring HTTPS port (`-ms`; needs TLS).
    #[arg(
        long = "https_port",
        visible_alias = "ms",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i32>,
    /// Enable TLS on the client port (`--tls`).
    #[arg(long = "tls")]
    pub tls: bool,
    /// Server certificate file.
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Server private key file.
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Require and verify client certificates (implies `--tls`).
    #[arg(long = "tlsverify")]
    pub tlsverify: bool,
    /// CA for client certificates.
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Server name.
    #[arg(short = 'n', long = "name", visible_alias = "server_name")]
    pub name: Option<String>,
    /// Client advertise `host[:port]`.
    #[arg(long = "client_advertise")]
    pub client_advertise: Option<String>,
    /// Directory for the ports file.
    #[arg(long = "ports_file_dir")]
    pub ports_file_dir: Option<PathBuf>,
    /// Single user required for connections (with `--pass`).
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Password of `--user`.
    #[arg(long = "pass", value_name = "PASSWORD")]
    pub pass: Option<String>,
    /// Authorization token required for connections.
    #[arg(long = "auth", value_name = "TOKEN")]
    pub auth: Option<String>,
    /// Enable debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Enable protocol tracing.
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Verbose trace (`-VV`).
    #[arg(long = "VV", hide = true)]
    pub trace_verbose: bool,
    /// Debug and verbose trace (`-DVV`).
    #[arg(long = "DVV", hide = true)]
    pub debug_trace_verbose: bool,
    /// Timestamp log lines (default true; `-T=false` to disable).
    #[arg(short = 'T', long = "logtime", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub logtime: Option<bool>,
    /// Timestamps in UTC.
    #[arg(long = "logtime_utc")]
    pub logtime_utc: bool,
    /// Log file.
    #[arg(short = 'l', long = "log", value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// PID file.
    #[arg(short = 'P', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// Test the configuration and exit.
    #[arg(short = 't')]
    pub test_config: bool,
    /// Send a signal to a running server: `stop|quit|term|reopen|reload|ldm`,
    /// optionally `=<pid or pidfile>`.
    #[arg(long = "signal", visible_alias = "sl", value_name = "CMD[=PID]")]
    pub signal: Option<String>,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Print the embedded default configuration and exit.
    #[arg(long = "generate-config")]
    pub generate_config: bool,
    /// GET `<url>` (plain HTTP) and exit 0 on status 200, 1 otherwise,
    /// within 2 s: a container health check with no shell or curl.
    #[arg(long = "healthcheck", value_name = "URL")]
    pub healthcheck: Option<String>,
    /// `version` or `help` (other words are rejected).
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Long flags that Go accepts with a single dash.
const LONG_FLAGS: &[&str] = &[
    "config",
    "port",
    "addr",
    "net",
    "http_port",
    "https_port",
    "ms",
    "tls",
    "tlscert",
    "tlskey",
    "tlsverify",
    "tlscacert",
    "name",
    "server_name",
    "client_advertise",
    "ports_file_dir",
    "user",
    "pass",
    "auth",
    "debug",
    "trace",
    "VV",
    "DVV",
    "logtime",
    "logtime_utc",
    "log",
    "pid",
    "signal",
    "sl",
    "version",
    "help",
    "generate-config",
    "healthcheck",
];

/// Signal commands for `--signal` (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalCommand {
    /// SIGKILL.
    Stop,
    /// SIGINT.
    Quit,
    /// SIGTERM.
    Term,
    /// SIGUSR1 (reopen log).
    Reopen,
    /// SIGHUP (reload config).
    Reload,
    /// SIGUSR2 (lame duck mode).
    Ldm,
}

/// What the process should do after parsing the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Run the server.
    Run,
    /// `-v`/`version`: print `natsws: v<VERSION>` and exit 0.
    Version,
    /// `help` positional command: print the usage and exit 0 (`-h` is
    /// handled by clap as a `DisplayHelp` error).
    Help,
    /// `--generate-config`: print [`DEFAULT_CONFIG`] and exit 0.
    GenerateConfig,
    /// `--healthcheck <url>`: GET it and exit 0 on 200, 1 otherwise
    /// ([`crate::healthcheck::check`]).
    Healthcheck(String),
    /// `-t`: load + validate the config file and exit (0 when valid).
    TestConfig(PathBuf),
    /// `--signal`: send the signal to `target` (pid, pid file or `prefix*`;
    /// `None` = find the running process) and exit.
    Signal(SignalCommand, Option<String>),
}

impl Cli {
    /// Parse `args` (including the program name) with nats-style single-dash
    /// long flags accepted. Errors are clap errors (`--help` also arrives as
    /// a clap error of kind `DisplayHelp`).
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut out = Vec::with_capacity(args.len());
        for (i, a) in args.into_iter().enumerate() {
            if i == 0 {
                out.push(a);
                continue;
            }
            out.push(normalize_flag(a));
        }
        Cli::try_parse_from(out)
    }

    /// Decide the action; errors carry the nats-server texts
    /// (`unrecognized command: "x"`, `unknown signal "x"`,
    /// `must specify [-c, --config] option to check configuration file syntax`).
    pub fn action(&self) -> Result<Action, ConfigError> {
        for c in &self.command {
            match c.as_str() {
                "version" | "help" => {}
                other => {
                    return Err(ConfigError::bare(format!(
                        "unrecognized command: \"{other}\""
                    )))
                }
            }
        }
        if self.version || self.command.iter().any(|c| c == "version") {
            return Ok(Action::Version);
        }
        if self.command.iter().any(|c| c == "help") {
            return Ok(Action::Help);
        }
        if self.generate_config {
            return Ok(Action::GenerateConfig);
        }
        if let Some(url) = &self.healthcheck {
            return Ok(Action::Healthcheck(url.clone()));
        }
        if let Some(sig) = &self.signal {
            let (cmd, target) = match sig.split_once('=') {
                Some((c, t)) => (c, Some(t.to_string())),
                None => (sig.as_str(), None),
            };
            let cmd = match cmd {
                "stop" => SignalCommand::Stop,
                "quit" => SignalCommand::Quit,
                "term" => SignalCommand::Term,
                "reopen" => SignalCommand::Reopen,
                "reload" => SignalCommand::Reload,
                "ldm" => SignalCommand::Ldm,
                other => return Err(ConfigError::bare(format!("unknown signal \"{other}\""))),
            };
            return Ok(Action::Signal(cmd, target));
        }
        if self.test_config {
            return match &self.config {
                Some(c) => Ok(Action::TestConfig(c.clone())),
                None => Err(ConfigError::bare(
                    "must specify [-c, --config] option to check configuration file syntax",
                )),
            };
        }
        Ok(Action::Run)
    }

    /// Apply command-line values on top of `o` (flags override the file).
    pub fn apply(&self, o: &mut Options) {
        if let Some(p) = self.port {
            o.port = p;
        }
        if let Some(a) = &self.addr {
            o.host = a.clone();
        }
        if let Some(p) = self.http_port {
            o.http_port = p;
        }
        if let Some(p) = self.https_port {
            o.https_port = p;
        }
        // nats-server's overrideTLS: any TLS flag replaces the tls block.
        if self.tls
            || self.tlsverify
            || self.tlscert.is_some()
            || self.tlskey.is_some()
            || self.tlscacert.is_some()
        {
            o.tls = Some(crate::options::TlsConfig {
                cert_file: self.tlscert.clone(),
                key_file: self.tlskey.clone(),
                ca_file: self.tlscacert.clone(),
                verify: self.tlsverify,
                ..crate::options::TlsConfig::default()
            });
        }
        if let Some(n) = &self.name {
            o.server_name = Some(n.clone());
        }
        if let Some(c) = &self.client_advertise {
            o.client_advertise = Some(c.clone());
        }
        if let Some(d) = &self.ports_file_dir {
            o.ports_file_dir = Some(d.clone());
        }
        if self.debug || self.debug_trace_verbose {
            o.debug = true;
        }
        if self.trace || self.trace_verbose || self.debug_trace_verbose {
            o.trace = true;
        }
        if self.trace_verbose || self.debug_trace_verbose {
            o.trace_verbose = true;
        }
        if let Some(t) = self.logtime {
            o.logtime = t;
        }
        if self.logtime_utc {
            o.logtime_utc = true;
        }
        if let Some(l) = &self.log {
            o.log_file = Some(l.clone());
        }
        if let Some(p) = &self.pid {
            o.pid_file = Some(p.clone());
        }
        // --user/--pass/--auth override the authorization block's single
        // user and token (nats-server's flag handling).
        if self.user.is_some() || self.pass.is_some() || self.auth.is_some() {
            let a = o.authorization.get_or_insert_with(|| {
                crate::options::Authorization::new(crate::config::Span {
                    file: "command line".into(),
                    line: 0,
                    col: 0,
                })
            });
            if let Some(u) = &self.user {
                a.user = Some(u.clone());
            }
            if let Some(p) = &self.pass {
                a.password = Some(p.clone());
            }
            if let Some(t) = &self.auth {
                a.token = Some(t.clone());
            }
        }
    }
}

fn normalize_flag(a: OsString) -> OsString {
    let Some(s) = a.to_str() else { return a };
    if s.starts_with("--") || !s.starts_with('-') || s.len() < 3 {
        return a;
    }
    let body = &s[1..];
    let name = body.split_once('=').map_or(body, |(n, _)| n);
    if LONG_FLAGS.contains(&name) {
        OsString::from(format!("-{s}"))
    } else {
        a
    }
}

/// Load options: read the `-c` file (if any), convert, apply command-line
/// overrides, then run startup validation ([`Options::validate`]).
///
/// Does not check [`Options::unsupported`]; the caller must refuse to start
/// when it is non-empty.
pub fn load(cli: &Cli) -> Result<Options, ConfigError> {
    let mut o = match &cli.config {
        Some(path) => Options::from_file(path)?,
        None => Options::default(),
    };
    cli.apply(&mut o);
    o.validate()?;
    Ok(o)
}
