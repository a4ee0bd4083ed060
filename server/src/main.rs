//! The `natsws` command: nats-server's command line (spec
//! `nats-protocol.md` §5) over the natsws server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use natsws_server::cli::{self, Action, Cli, SignalCommand, DEFAULT_CONFIG};
use natsws_server::options::{Options, TlsConfig};
use natsws_server::server;
use natsws_server::settings::Settings;
use natsws_server::shared::VERSION;
use natsws_server::tls::{TlsHolder, TlsListen};
use natsws_server::ws::WsListenConfig;
use natsws_server::{error, info, log, warn};

/// natsws default for `websocket { handshake_timeout }` when unset
/// (nats-server has none; pre-auth hardening, see docs/compat.md).
const DEFAULT_WS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("natsws: {msg}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = match Cli::parse_from_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let action = match cli.action() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    match action {
        Action::Version => {
            println!("natsws: v{VERSION}");
            ExitCode::SUCCESS
        }
        Action::Help => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
        Action::GenerateConfig => {
            print!("{DEFAULT_CONFIG}");
            ExitCode::SUCCESS
        }
        Action::TestConfig(path) => match load(&cli).and_then(|o| settings(&o).map(|_| ())) {
            Ok(_) => {
                eprintln!("natsws: configuration file {} is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Action::Signal(cmd, target) => signal(cmd, target.as_deref()),
        Action::Run => run(&cli),
    }
}

/// Options from `-c` (or the embedded default), command-line overrides,
/// validation, and the refusal of configured-but-unsupported features.
fn load(cli: &Cli) -> Result<Options, String> {
    let opts = if cli.config.is_some() {
        cli::load(cli).map_err(|e| e.to_string())?
    } else {
        let mut o = Options::from_config_str(DEFAULT_CONFIG, "<default config>")
            .map_err(|e| e.to_string())?;
        cli.apply(&mut o);
        o.validate().map_err(|e| e.to_string())?;
        o
    };
    let unsupported = opts.unsupported();
    if !unsupported.is_empty() {
        let lines: Vec<String> = unsupported.iter().map(ToString::to_string).collect();
        return Err(lines.join("\n"));
    }
    Ok(opts)
}

fn resolve(host: &str, port: i32) -> Result<SocketAddr, String> {
    // -1 asks for a random free port, as in nats-server.
    let port = if port < 0 { 0 } else { port as u16 };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))
}

/// A `tls { … }` block's error as nats-server reports it: at the block's
/// position.
fn tls_error(t: &TlsConfig, e: String) -> String {
    match &t.span {
        Some(s) => format!("{s}: {e}"),
        None => e,
    }
}

/// Resolves typed options into the runtime settings of the server.
fn settings(o: &Options) -> Result<Settings, String> {
    let tls = match &o.tls {
        Some(t) => Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?),
        None => None,
    };
    let websocket = if o.websocket.enabled() {
        let w = &o.websocket;
        let mut up = natsws_core::ws::handshake::UpgradeConfig::default();
        up.same_origin = w.same_origin;
        up.compression = w.compression;
        up.headers = w.headers.clone();
        if w.max_request_head > 0 {
            up.max_head_bytes = w.max_request_head;
        }
        up.health_path = w.health_path.clone();
        up.cookies = natsws_core::ws::handshake::CookieNames {
            jwt: w.jwt_cookie.clone(),
            user: w.user_cookie.clone(),
            pass: w.pass_cookie.clone(),
            token: w.token_cookie.clone(),
        };
        up.set_allowed_origins(&w.allowed_origins)?;
        Some(WsListenConfig {
            addr: resolve(w.bind_host(), w.port)?,
            no_tls: w.no_tls,
            tls: match &w.tls {
                Some(t) => Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?),
                None => None,
            },
            handshake_timeout: if w.handshake_timeout.is_zero() {
                DEFAULT_WS_HANDSHAKE_TIMEOUT
            } else {
                w.handshake_timeout
            },
            compression: w.compression,
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.clone(),
            ping_interval: w.ping_interval.unwrap_or(Duration::ZERO),
            upgrade: up,
            trusted_proxies: w.trusted_proxies.clone(),
            upgrade_rate_limit: (w.upgrade_rate_limit > 0).then(|| {
                Arc::new(natsws_server::ws::RateLimit::new(
                    w.upgrade_rate_limit,
                    std::time::Instant::now(),
                ))
            }),
            max_message: u64::MAX,
            #[cfg(feature = "autobahn")]
            echo: false,
        })
    } else {
        None
    };
    if o.http_port != 0 && o.https_port != 0 {
        return Err(format!(
            "Can't start monitoring: can't specify both HTTP ({}) and HTTPs ({}) ports",
            o.http_port, o.https_port
        ));
    }
    let mut https_tls = None;
    let monitor_port = if o.https_port != 0 {
        let Some(t) = &o.tls else {
            return Err("Can't start monitoring: TLS cert and key required for HTTPS".into());
        };
        https_tls = Some(Arc::new(
            TlsHolder::new(t, false).map_err(|e| tls_error(t, e))?,
        ));
        o.https_port
    } else {
        o.http_port
    };
    let http_addr = if monitor_port != 0 {
        Some(resolve(
            o.http_host.as_deref().unwrap_or(&o.host),
            monitor_port,
        )?)
    } else {
        None
    };
    let auth = natsws_server::auth::build(o)?.map(std::sync::Arc::new);
    Ok(Settings {
        auth,
        client_addr: resolve(&o.host, o.port)?,
        websocket,
        http_addr,
        tls,
        https_tls,
        server_name: o.server_name.clone(),
        client_advertise: match &o.client_advertise {
            Some(v) => natsws_server::settings::parse_client_advertise(v, o.port)?,
            None => None,
        },
        max_payload: o.max_payload,
        max_control_line: o.max_control_line,
        max_pending: usize::try_from(o.max_pending).unwrap_or(usize::MAX),
        max_subscriptions: o.max_subscriptions as usize,
        max_sub_tokens: usize::from(o.max_sub_tokens),
        max_connections: usize::try_from(o.max_connections).unwrap_or(0),
        ping_interval: o.ping_interval,
        ping_max: o.ping_max,
        write_deadline: o.write_deadline,
        ws_max_pending: o
            .websocket
            .max_pending
            .map_or(usize::try_from(o.max_pending).unwrap_or(usize::MAX), |v| {
                usize::try_from(v).unwrap_or(usize::MAX)
            }),
        ws_write_deadline: o.websocket.write_deadline.unwrap_or(o.write_deadline),
        no_header_support: o.no_header_support,
        max_pending_handshakes: o.max_pending_handshakes,
        loop_spin: o.loop_spin,
        lame_duck_duration: o.lame_duck_duration,
        lame_duck_grace_period: o.lame_duck_grace_period,
        ..Settings::default()
    })
}

fn run(cli: &Cli) -> ExitCode {
    let opts = match load(cli) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let log_file = opts
        .log_file
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    if let Err(e) = log::init(opts.debug, opts.trace, opts.logtime, log_file.as_deref()) {
        return fail(format!("cannot open log file: {e}"));
    }
    for w in &opts.warnings {
        warn!("{w}");
    }
    for w in opts.startup_warnings() {
        warn!("{w}");
    }
    let settings = match settings(&opts) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Some(pid) = &opts.pid_file {
        if let Err(e) = std::fs::write(pid, std::process::id().to_string()) {
            return fail(format!("could not write pidfile: {e}"));
        }
    }
    if let Some(path) = &opts.config_file {
        info!("Using configuration file: {}", path.display());
    }
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGUSR1,
        signal_hook::consts::SIGUSR2,
    ]) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot install signal handlers: {e}")),
    };
    let running = match server::start(settings) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // Lame duck mode runs on its own thread; SIGINT stops it, SIGTERM is
    // ignored while it runs (nats-server), and when it has closed every
    // client it ends this loop.
    let ldm_stop = Arc::new(AtomicBool::new(false));
    let mut ldm: Option<std::thread::JoinHandle<()>> = None;
    let signals_handle = signals.handle();
    for sig in signals.forever() {
        match sig {
            signal_hook::consts::SIGINT | signal_hook::consts::SIGTERM => {
                let name = if sig == signal_hook::consts::SIGINT {
                    "interrupt"
                } else {
                    "terminated"
                };
                info!("Trapped \"{name}\" signal");
                if sig == signal_hook::consts::SIGTERM && ldm.is_some() {
                    continue;
                }
                break;
            }
            signal_hook::consts::SIGHUP => {
                warn!("Trapped \"hangup\" signal: config reload is not supported by natsws yet");
            }
            signal_hook::consts::SIGUSR1 => {
                info!("Trapped \"user defined signal 1\" signal");
                match log::reopen() {
                    Ok(true) => info!("File log re-opened"),
                    Ok(false) => info!("File log re-open ignored, not a file logger"),
                    Err(e) => error!("File log re-open failed: {e}"),
                }
            }
            _ => {
                info!("Trapped \"user defined signal 2\" signal");
                if ldm.is_none() {
                    let (shared, stop) = (running.shared.clone(), ldm_stop.clone());
                    let handle = signals_handle.clone();
                    match std::thread::Builder::new()
                        .name("natsws-lame-duck".into())
                        .spawn(move || {
                            server::lame_duck(&shared, &stop);
                            handle.close();
                        }) {
                        Ok(t) => ldm = Some(t),
                        Err(e) => error!("cannot start lame duck mode: {e}"),
                    }
                }
            }
        }
    }
    if let Some(t) = ldm {
        ldm_stop.store(true, Ordering::Release);
        server::stop_lame_duck(&running.shared);
        let _ = t.join();
    }
    info!("Initiating Shutdown...");
    running.shutdown();
    if let Some(pid) = &opts.pid_file {
        let _ = std::fs::remove_file(pid);
    }
    info!("Server Exiting..");
    ExitCode::SUCCESS
}

/// `--signal <cmd>[=<pid|pidfile>]`: sends the signal with `kill`.
fn signal(cmd: SignalCommand, target: Option<&str>) -> ExitCode {
    let sig = match cmd {
        SignalCommand::Stop => "KILL",
        SignalCommand::Quit => "INT",
        SignalCommand::Term => "TERM",
        SignalCommand::Reopen => "USR1",
        SignalCommand::Reload => "HUP",
        SignalCommand::Ldm => "USR2",
    };
    let pids: Vec<String> = match target {
        Some(t) if t.chars().all(|c| c.is_ascii_digit()) => vec![t.to_string()],
        Some(t) => match std::fs::read_to_string(t) {
            Ok(s) => vec![s.trim().to_string()],
            Err(e) => return fail(format!("could not read pid file {t}: {e}")),
        },
        None => {
            let out = std::process::Command::new("pgrep")
                .arg("-x")
                .arg("natsws")
                .output();
            let me = std::process::id().to_string();
            let list: Vec<String> = out
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let list: Vec<String> = list.into_iter().filter(|p| *p != me).collect();
            match list.len() {
                0 => return fail("no natsws processes running"),
                1 => list,
                _ => {
                    return fail(format!(
                        "multiple natsws processes running:\n{}",
                        list.join("\n")
                    ))
                }
            }
        }
    };
    for pid in pids {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(&pid)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return fail(format!("could not send signal to process {pid}"));
        }
    }
    ExitCode::SUCCESS
}
