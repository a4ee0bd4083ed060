//! Accounts: isolated subject spaces, each one `Mutex<Router>`
//! (nats-protocol.md §3.6).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use natsws_core::router::Router;

use crate::sink::Sink;

/// One account: an isolated subject space (spec `nats-protocol.md` §3.6).
pub struct Account {
    /// Account name (`$G` for the global account; the account public key in
    /// operator mode).
    pub name: String,
    /// The same name, shared: a connection's monitoring record
    /// ([`crate::sink::ClientMeta`]) points at it rather than copying it.
    pub shared_name: Arc<String>,
    /// Its subscriptions.
    pub router: Mutex<Router<Sink>>,
    /// Its exports, imports and mappings (`crate::imports::Links`),
    /// type-erased so this floor does not depend on the module that reads
    /// them; set at start.
    links: RwLock<Option<Arc<dyn Any + Send + Sync>>>,
    /// Whether `links` is set: the one check a publish without links pays.
    has_links: AtomicBool,
    /// Its leafnode links and the interest they were shown.
    pub leafs: crate::leaf_interest::LeafLinks,
}

impl Account {
    /// An empty account named `name`.
    fn new(name: &str) -> Account {
        Account {
            name: name.to_string(),
            shared_name: Arc::new(name.to_string()),
            router: Mutex::new(Router::new()),
            links: RwLock::new(None),
            has_links: AtomicBool::new(false),
            leafs: Default::default(),
        }
    }

    /// Whether the account has links (one atomic load).
    pub(crate) fn has_links(&self) -> bool {
        self.has_links.load(Ordering::Acquire)
    }

    /// The account's links, if set.
    pub(crate) fn links(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        if !self.has_links() {
            return None;
        }
        self.links.read().expect("links").clone()
    }

    /// Sets the account's links.
    pub(crate) fn set_links(&self, links: Arc<dyn Any + Send + Sync>) {
        *self.links.write().expect("links") = Some(links);
        self.has_links.store(true, Ordering::Release);
    }

    /// Removes the account's links (a reload that dropped them).
    pub(crate) fn clear_links(&self) {
        self.has_links.store(false, Ordering::Release);
        *self.links.write().expect("links") = None;
    }
}

/// The name of the default (global) account: `$G`.
pub(crate) use natsws_core::auth::GLOBAL_ACCOUNT;

/// Every account, created on first use. Lock order: `Accounts::map` →
/// nothing (never held while a router is locked).
pub struct Accounts {
    global: Arc<Account>,
    map: Mutex<HashMap<String, Arc<Account>>>,
}

impl Accounts {
    pub(crate) fn new() -> Self {
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let mut map = HashMap::new();
        map.insert(GLOBAL_ACCOUNT.to_string(), global.clone());
        Accounts {
            global,
            map: Mutex::new(map),
        }
    }

    /// The global account `$G`.
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account named `name`, created empty on first use.
    pub fn get(&self, name: &str) -> Arc<Account> {
        if name == GLOBAL_ACCOUNT {
            return self.global.clone();
        }
        let mut map = self.map.lock().expect("accounts");
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(Account::new(name)))
            .clone()
    }

    /// Every account, `$G` first then by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let map = self.map.lock().expect("accounts");
        let mut v: Vec<_> = map.values().cloned().collect();
        v.sort_by(|a, b| {
            (a.name != GLOBAL_ACCOUNT, &a.name).cmp(&(b.name != GLOBAL_ACCOUNT, &b.name))
        });
        v
    }
}
