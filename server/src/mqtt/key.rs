//! The key of an MQTT session ([`SessionKey`]) and the account it holds
//! ([`Account`]).

use std::sync::Arc;

use super::Common;

/// (account, client id) of a session. The account is shared by every
/// session of the account ([`super::Registry::account_name`]); the client id is
/// one allocation shared by the registry, the session, the store's dirty
/// set and the connection's `/connz` entry (clones count references).
/// 24 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionKey(pub Arc<Account>, pub Arc<str>);

impl SessionKey {
    /// The key of client id `client_id` in account `account`, to look a
    /// session up (its account is not the registry's: see
    /// [`Account::common`]).
    pub(crate) fn new(account: &str, client_id: &str) -> SessionKey {
        let common = Arc::new(Common {
            dirty: None,
            max_pending: usize::MAX,
        });
        SessionKey(Arc::new(Account::new(account, common)), client_id.into())
    }
}

/// The account of MQTT sessions: its name and what the sessions of a
/// [`super::Registry`] share, reached from every session's key (one pointer per
/// session for both; issue #17: an idle session's memory). Compared,
/// hashed and shown by its name alone.
pub(crate) struct Account {
    /// The account's name.
    pub name: Box<str>,
    /// What every session of the registry shares (a lookup key's own:
    /// [`SessionKey::new`]).
    pub(super) common: Arc<Common>,
}

impl Account {
    /// The account `name` of a registry whose sessions share `common`.
    pub(super) fn new(name: &str, common: Arc<Common>) -> Account {
        Account {
            name: name.into(),
            common,
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.name, f)
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Account {
    fn eq(&self, other: &Account) -> bool {
        self.name == other.name
    }
}

impl Eq for Account {}

impl PartialOrd for Account {
    fn partial_cmp(&self, other: &Account) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Account {
    fn cmp(&self, other: &Account) -> std::cmp::Ordering {
        self.name.cmp(&other.name)
    }
}

impl std::hash::Hash for Account {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}
