//! Configuration reload (operations spec §1; nats-server `Reload`,
//! `reloadOptions`, `diffOptions`, `applyOptions`): SIGHUP or `natsws
//! --signal reload` re-reads the file given with `-c`, applies the
//! command-line flags over it again, validates it as at start, compares it
//! option by option with the running configuration ([`diff`]) and either
//! refuses it as a whole or puts it in force at once:
//!
//! 1. the new [`Settings`] (TLS configurations loaded from their files,
//!    authorization rebuilt) are built before anything changes, so a
//!    missing certificate or a bad permission subject is a reload error
//!    and the old configuration stays;
//! 2. the settings are swapped ([`crate::settings::SettingsHolder::swap`]):
//!    new connections (accept, TLS handshakes on every listener, INFO)
//!    take the new ones; each event loop picks the new generation up at its
//!    next turn and re-evaluates its open connections there (limits,
//!    authorization, permissions: `crate::session::reload`);
//! 3. one `Reloaded: …` line per changed option, then `Reloaded server
//!    configuration` (INF); a failure logs `Failed to reload server
//!    configuration: <error>` (ERR).
//!
//! Reloads are serialized. `/varz` shows `config_load_time` and natsws's
//! `natsws_last_reload_error`; `/metrics` counts
//! `natsws_config_reloads_total{result}`.

pub mod diff;
pub mod state;

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cli::Cli;
use crate::config::ConfigError;
use crate::options::{Options, Unsupported};
use crate::settings::{Settings, SettingsError};
use crate::shared::Shared;

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The `Reloaded: …` lines logged, one per changed option (users and
    /// accounts always, as nats-server).
    pub changes: Vec<String>,
}

/// Why a reload did not happen; the running configuration is untouched.
/// `Display` is the text after `Failed to reload server configuration: `.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// The server was started without `-c`: `can only reload config when a
    /// file is provided using -c or --config`.
    NoConfigFile,
    /// The file does not parse or does not validate.
    Config(ConfigError),
    /// The file configures features natsws does not implement.
    Unsupported(Vec<Unsupported>),
    /// A changed option cannot be reloaded (nats-server's text).
    Refused(diff::Refused),
    /// The options cannot become settings (TLS files, hosts, auth).
    Settings(SettingsError),
    /// The new `log_file` cannot be opened: `cannot open log file <path>:
    /// <error>`.
    LogFile {
        /// The configured path.
        path: std::path::PathBuf,
        /// Why it could not be opened.
        source: std::io::Error,
    },
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::NoConfigFile => {
                f.write_str("can only reload config when a file is provided using -c or --config")
            }
            ReloadError::Config(e) => write!(f, "{e}"),
            ReloadError::Unsupported(list) => {
                let texts: Vec<String> = list.iter().map(ToString::to_string).collect();
                f.write_str(&texts.join("; "))
            }
            ReloadError::Refused(e) => write!(f, "{e}"),
            ReloadError::Settings(e) => write!(f, "{e}"),
            ReloadError::LogFile { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Config(e) => Some(e),
            ReloadError::Refused(e) => Some(e),
            ReloadError::Settings(e) => Some(e),
            ReloadError::LogFile { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Makes `shared` reloadable from the command line it was started with and
/// the options then in force. Without `-c` (`cli.config` unset) a reload
/// fails with [`ReloadError::NoConfigFile`].
pub fn install(shared: &Shared, cli: &Cli, options: &Options) {
    if cli.config.is_none() {
        return;
    }
    *shared.reload.source.lock().expect("reload") = Some(state::Source {
        cli: cli.clone(),
        options: options.clone(),
        tls_files: tls_files_digest(options),
    });
}

/// SIGHUP (and `natsws --signal reload`): logs `Trapped "hangup" signal`,
/// reloads, and logs the outcome (the failure at ERR).
pub fn on_hangup(shared: &Shared) {
    crate::info!("Trapped \"hangup\" signal");
    // The outcome is logged by `reload`.
    let _ = reload(shared);
}

/// Reloads the configuration file (see the module docs). Logs every
/// changed option and the final `Reloaded server configuration`, or
/// `Failed to reload server configuration: <error>` at ERR.
///
/// # Errors
/// The reload was refused or failed; nothing changed.
pub(crate) fn reload(shared: &Shared) -> Result<ReloadOutcome, ReloadError> {
    let res = reload_inner(shared);
    match &res {
        // Recorded before the line is logged: whoever waits for the line
        // sees the outcome in `/varz`.
        Ok(_) => {
            shared.reload.succeeded(SystemTime::now());
            crate::info!("Reloaded server configuration");
        }
        Err(e) => {
            shared.reload.failed(e.to_string());
            crate::error!("Failed to reload server configuration: {e}");
        }
    }
    res
}

fn reload_inner(shared: &Shared) -> Result<ReloadOutcome, ReloadError> {
    // Held for the whole reload: reloads are serialized.
    let mut guard = shared.reload.source.lock().expect("reload");
    let Some(src) = guard.as_mut() else {
        return Err(ReloadError::NoConfigFile);
    };
    let new = crate::cli::load(&src.cli).map_err(ReloadError::Config)?;
    let unsupported = new.unsupported();
    if !unsupported.is_empty() {
        return Err(ReloadError::Unsupported(unsupported));
    }
    let tls_files = tls_files_digest(&new);
    let bound = diff::Bound {
        client: shared.client_addr,
        ws: shared.ws_addr,
        mqtt: shared.mqtt_addr,
    };
    let changes = diff::diff(&src.options, &new, bound, tls_files != src.tls_files)
        .map_err(ReloadError::Refused)?;
    let mut settings = Settings::from_options(&new).map_err(ReloadError::Settings)?;
    let log_file = match (&new.log_file, changes.log_file) {
        (Some(path), true) => match crate::log::open(path) {
            Ok(f) => Some((f, path.clone())),
            Err(source) => {
                let path = path.clone();
                return Err(ReloadError::LogFile { path, source });
            }
        },
        _ => None,
    };
    let old = shared.settings();
    let same_rate = src.options.websocket.upgrade_rate_limit == new.websocket.upgrade_rate_limit;
    keep_runtime(&old, &mut settings, same_rate);
    // Nothing can fail from here on.
    for name in &settings.accounts {
        shared.accounts.get(name);
    }
    if changes.logger {
        crate::log::set_levels(new.debug, new.trace || new.trace_verbose, new.logtime);
    }
    if changes.pid_file {
        if let Some(pid) = &new.pid_file {
            if let Err(e) = std::fs::write(pid, std::process::id().to_string()) {
                crate::error!("Could not write pidfile: {e}");
            }
        }
    }
    let old_settings = shared.settings_holder.swap(settings);
    // Exports, imports and mappings (operations spec §3.4: reloadable).
    crate::imports::install_settings(&shared.accounts, &shared.settings());
    shared.refresh_info_templates();
    let unpinned = recheck_pinned_certs(shared, &old_settings);
    if unpinned > 0 {
        crate::info!("Disconnect {unpinned} clients due to pinned certs reload");
    }
    if new.max_connections != src.options.max_connections && new.max_connections > 0 {
        let closed = enforce_max_connections(shared, new.max_connections as usize);
        if closed > 0 {
            crate::info!("Closed {closed} connections to fall within max_connections");
        }
    }
    for line in &changes.lines {
        crate::info!("{line}");
    }
    // The logger is reconfigured after the option lines (nats-server), so
    // the final line already goes to the new file.
    if changes.log_file {
        crate::log::set_file(log_file);
    }
    // Each loop re-evaluates its connections at its next turn.
    for l in &shared.loops {
        let _ = l.waker.wake();
    }
    src.options = new;
    src.tls_files = tls_files;
    Ok(ReloadOutcome {
        changes: changes.lines,
    })
}

/// Closes connections (any, as nats-server's map order) until at most
/// `max` are open, each with `-ERR 'maximum connections exceeded'`;
/// returns how many.
fn enforce_max_connections(shared: &Shared, max: usize) -> usize {
    let surplus: Vec<_> = {
        let conns = shared.conns.lock().expect("conns");
        let n = conns.len().saturating_sub(max);
        conns.values().take(n).cloned().collect()
    };
    for c in &surplus {
        shared.kill(c, crate::sink::Kill::MaxConnections);
    }
    surplus.len()
}

/// Closes the TLS clients whose certificate is not in a changed, non-empty
/// `pinned_certs` of their listener (nats-server `recheckPinnedCerts`,
/// which checks against the old set by mistake; natsws uses the new one,
/// docs/compat.md); returns how many.
fn recheck_pinned_certs(shared: &Shared, old: &Settings) -> usize {
    let new = shared.settings();
    let pinned = |s: &Settings, k| s.tls_for(k).map(|t| t.pinned_certs.clone());
    let mut closed = 0;
    for kind in crate::kind::ConnKind::ALL {
        let Some(set) = pinned(&new, kind).filter(|p| !p.is_empty()) else {
            continue;
        };
        if pinned(old, kind).as_ref() == Some(&set) {
            continue;
        }
        let conns: Vec<_> = shared
            .conns
            .lock()
            .expect("conns")
            .values()
            .filter(|c| c.kind == kind)
            .cloned()
            .collect();
        for c in conns {
            let ok = c
                .tls()
                .and_then(|t| t.spki.as_ref())
                .is_some_and(|k| set.contains(k));
            // A connection still in its handshake is checked at its end.
            if !ok && c.tls().is_some() {
                shared.kill(&c, crate::sink::Kill::PinnedCert);
                closed += 1;
            }
        }
    }
    closed
}

/// What the new settings must take from the running ones: the bound
/// listener addresses (a port of -1 stays the one chosen at start) and the
/// loop count.
fn keep_runtime(old: &Arc<Settings>, new: &mut Settings, same_rate: bool) {
    new.client_addr = old.client_addr;
    new.http_addr = old.http_addr;
    new.threads = old.threads;
    if let (Some(o), Some(n)) = (&old.websocket, new.websocket.as_mut()) {
        n.addr = o.addr;
        // The upgrade rate keeps its bucket unless the rate changed.
        if same_rate {
            n.upgrade_rate_limit.clone_from(&o.upgrade_rate_limit);
        }
    }
    #[cfg(feature = "autobahn")]
    {
        new.autobahn_echo = old.autobahn_echo;
    }
}

/// A digest of the content of every certificate, key and CA file the
/// options name (client port, websocket), so that a certificate replaced
/// at the same path counts as a change.
fn tls_files_digest(o: &Options) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in [&o.tls, &o.websocket.tls].into_iter().flatten() {
        for p in [&t.cert_file, &t.key_file, &t.ca_file]
            .into_iter()
            .flatten()
        {
            p.hash(&mut h);
            std::fs::read(p).unwrap_or_default().hash(&mut h);
        }
    }
    h.finish()
}
