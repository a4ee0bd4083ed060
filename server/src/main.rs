//! The `natsws` command: nats-server's command line (spec
//! `nats-protocol.md` §5) over the natsws server.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use natsws_server::cli::{self, Action, Cli, SignalCommand, DEFAULT_CONFIG};
use natsws_server::config::ConfigError;
use natsws_server::options::{Options, Unsupported};
use natsws_server::server;
use natsws_server::settings::{Settings, SettingsError};
use natsws_server::VERSION;
use natsws_server::{error, info, log, warn};

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
        Action::TestConfig(path) => {
            match load(&cli).and_then(|o| {
                Settings::from_options(&o)
                    .map(|_| ())
                    .map_err(LoadError::Settings)
            }) {
                Ok(_) => {
                    eprintln!("natsws: configuration file {} is valid", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Action::Signal(cmd, target) => signal(cmd, target.as_deref()),
        Action::Healthcheck(url) => match natsws_server::healthcheck::check(&url) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Action::Run => run(&cli),
    }
}

/// Why the configuration was refused at startup (or by `-t`). `Display` is
/// what follows `natsws: ` on stderr.
#[derive(Debug)]
enum LoadError {
    /// The config file, the embedded default or a command-line flag is
    /// invalid (parse or validation errors, one per line).
    Config(ConfigError),
    /// Features configured that natsws does not enforce yet, one per line.
    Unsupported(Vec<Unsupported>),
    /// `-t`: valid options that cannot become settings (TLS files, hosts,
    /// `client_advertise`, auth).
    Settings(SettingsError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Config(e) => write!(f, "{e}"),
            LoadError::Unsupported(list) => {
                for (i, u) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{u}")?;
                }
                Ok(())
            }
            LoadError::Settings(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Options from `-c` (or the embedded default), command-line overrides,
/// validation, and the refusal of configured-but-unsupported features.
fn load(cli: &Cli) -> Result<Options, LoadError> {
    let opts = if cli.config.is_some() {
        cli::load(cli).map_err(LoadError::Config)?
    } else {
        let mut o = Options::from_config_str(DEFAULT_CONFIG, "<default config>")
            .map_err(LoadError::Config)?;
        cli.apply(&mut o);
        o.validate().map_err(LoadError::Config)?;
        o
    };
    let unsupported = opts.unsupported();
    if !unsupported.is_empty() {
        return Err(LoadError::Unsupported(unsupported));
    }
    Ok(opts)
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
    let settings = match Settings::from_options(&opts) {
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
    let running = match server::start_with(settings, |shared| {
        natsws_server::reload::install(shared, cli, &opts)
    }) {
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
            signal_hook::consts::SIGHUP => natsws_server::reload::on_hangup(&running.shared),
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
