//! What a reload needs to remember between runs (kept on
//! [`crate::shared::Shared::reload`]): where the configuration comes from,
//! the options in force, and the outcome of the last reload for `/varz`
//! and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::cli::Cli;
use crate::options::Options;

/// The source and running options of a server started from a file.
#[derive(Debug, Clone)]
pub struct Source {
    /// The command line given at start (its flags win over the file on
    /// every reload, as at start).
    pub cli: Cli,
    /// The options in force (the last good load).
    pub options: Options,
    /// Digest of the TLS certificate and key files' content as last
    /// loaded (a replaced certificate is a change).
    pub tls_files: u64,
}

/// Reload bookkeeping. All fields are behind their own lock or atomic; the
/// `run` lock serializes reloads (nats-server `reloadMu`).
#[derive(Debug)]
pub struct ReloadState {
    /// `None` for a server started without `-c` (reload then fails with
    /// `can only reload config when a file is provided using -c or
    /// --config`).
    pub source: Mutex<Option<Source>>,
    /// When the configuration in force was loaded (`/varz`
    /// `config_load_time`).
    pub load_time: Mutex<SystemTime>,
    /// The error of the last failed reload, cleared by a successful one
    /// (`/varz` `natsws_last_reload_error`).
    pub last_error: Mutex<Option<String>>,
    /// Reloads that took effect.
    pub ok: AtomicU64,
    /// Reloads refused or failed.
    pub failed: AtomicU64,
}

impl Default for ReloadState {
    fn default() -> Self {
        ReloadState {
            source: Mutex::new(None),
            load_time: Mutex::new(SystemTime::now()),
            last_error: Mutex::new(None),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

impl ReloadState {
    /// Counts a successful reload at `at`.
    pub fn succeeded(&self, at: SystemTime) {
        *self.load_time.lock().expect("reload") = at;
        *self.last_error.lock().expect("reload") = None;
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed reload with its error text.
    pub fn failed(&self, error: String) {
        *self.last_error.lock().expect("reload") = Some(error);
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// `config_load_time`.
    pub fn load_time(&self) -> SystemTime {
        *self.load_time.lock().expect("reload")
    }

    /// The last reload's error, if it failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("reload").clone()
    }
}
