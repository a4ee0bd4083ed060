//! Publish/subscribe permissions of one user (nats-protocol.md §3.5).
//!
//! Semantics follow nats-server (`client.go` `setPermissions`,
//! `canSubscribe`, `pubAllowedFullCheck`, `queueMatches`):
//!
//! * Publish: allowed iff (no allow list, or the subject is matched by an
//!   allow entry) and not matched by a deny entry. An allow list that is
//!   present but empty denies everything.
//! * Subscribe: the SUB subject is a *literal token list* matched against the
//!   patterns: SUB `foo.*` is allowed by `foo.*`, `foo.>` and `>`, not by
//!   `foo.bar`; SUB `foo.>` is matched by `foo.*` (a `*` pattern matches the
//!   literal token `>`). An empty subscribe allow list means "no allow list".
//! * Queue-qualified entries `"<subject> <queue>"` (queue may contain
//!   wildcards, compared with nats-server's subset match). A plain SUB is
//!   allowed only by plain allow entries. For a queue SUB, if any matching
//!   allow entry carries a queue, the queue must match one of them; else any
//!   queue is allowed by a matching plain entry. Deny: a matching plain entry
//!   denies; for a queue SUB, if a queue-qualified deny entry matches the
//!   subject, the result is "denied iff the queue matches one of them"
//!   (nats-server replaces the plain-deny result in that case). The queue
//!   name `_sys_` is always denied.
//! * `allow_responses`: publish allow becomes empty (deny all) unless a
//!   publish allow list is given; defaults max 1, expires 2 min.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::subject::validate_filter;

/// The queue group name nats-server reserves (`sysGroup`); a SUB with this
/// queue is always a subscription violation when checked here.
pub const SYS_QUEUE: &[u8] = b"_sys_";

/// Default `allow_responses` max messages per reply subject (nats-server
/// `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`).
pub const DEFAULT_RESPONSE_MAX: i64 = 1;
/// Default `allow_responses` expiry, in milliseconds (2 minutes,
/// nats-server `DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
pub const DEFAULT_RESPONSE_EXPIRES_MS: u64 = 120_000;

/// Response permission (`allow_responses`, nats-protocol.md §3.5): after a
/// message with a reply subject is delivered to the connection, it may publish
/// to that reply subject `max` times within `expires_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Messages allowed per reply subject. In a [`PermissionsSpec`], `0`
    /// means the default ([`DEFAULT_RESPONSE_MAX`] = 1). Negative =
    /// unlimited.
    pub max: i64,
    /// Lifetime of a reply permission in milliseconds. In a
    /// [`PermissionsSpec`], `0` means the default
    /// ([`DEFAULT_RESPONSE_EXPIRES_MS`] = 120 000, as nats-server treats a
    /// zero duration). [`ResponsePermission::NO_EXPIRY`] = never expires
    /// (nats-server: a negative duration).
    pub expires_ms: u64,
}

impl ResponsePermission {
    /// `expires_ms` value meaning "never expires".
    pub const NO_EXPIRY: u64 = u64::MAX;
}

impl Default for ResponsePermission {
    /// `allow_responses: true`: max 1, expires 2 min.
    fn default() -> Self {
        ResponsePermission {
            max: DEFAULT_RESPONSE_MAX,
            expires_ms: DEFAULT_RESPONSE_EXPIRES_MS,
        }
    }
}

/// What the configuration (or a user JWT) says about one user's permissions,
/// before compiling (nats-protocol.md §3.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionsSpec {
    /// Publish allow list. `None` = no allow list (everything not denied is
    /// allowed); `Some(empty)` = deny every publish.
    pub publish_allow: Option<Vec<String>>,
    /// Publish deny list.
    pub publish_deny: Vec<String>,
    /// Subscribe allow list; entries may be `"subject queue"`. `None` or
    /// `Some(empty)` = no allow list (nats-server ignores an empty one).
    pub subscribe_allow: Option<Vec<String>>,
    /// Subscribe deny list; entries may be `"subject queue"`.
    pub subscribe_deny: Vec<String>,
    /// `allow_responses` (`None` = off).
    pub allow_responses: Option<ResponsePermission>,
}

/// A list of subject patterns: literal entries in a sorted set (one lookup),
/// wildcard entries scanned.
#[derive(Clone, Debug, Default)]
struct SubjectList {
    literals: BTreeSet<Box<[u8]>>,
    wildcards: Vec<Box<[u8]>>,
}

impl SubjectList {
    fn insert(&mut self, pattern: &[u8]) {
        let is_wild = pattern
            .split(|&b| b == b'.')
            .any(|t| t == b"*" || t == b">");
        if is_wild {
            self.wildcards.push(pattern.into());
        } else {
            self.literals.insert(pattern.into());
        }
    }

    /// Whether `subject` (literal token list; `*`/`>` tokens are ordinary
    /// tokens) is matched by any pattern.
    fn matches(&self, subject: &[u8]) -> bool {
        if self.literals.contains(subject) && crate::subject::is_matchable(subject) {
            return true;
        }
        self.wildcards
            .iter()
            .any(|w| crate::subject::matches_valid(w, subject))
    }

    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.wildcards.is_empty()
    }

    /// The entries as text: literals (sorted), then wildcards (in order).
    fn entries(&self, out: &mut Vec<String>) {
        for e in self.literals.iter().chain(self.wildcards.iter()) {
            out.push(String::from_utf8_lossy(e).into_owned());
        }
    }
}

/// A queue-qualified entry: `(subject pattern, queue pattern)`.
type QueueEntry = (Box<[u8]>, Box<[u8]>);

/// Subscribe allow or deny list: plain entries plus queue-qualified ones.
#[derive(Clone, Debug, Default)]
struct SubList {
    plain: SubjectList,
    queued: Vec<QueueEntry>,
}

impl SubList {
    /// Result of nats-server's `Sublist.Match` on a queue SUB:
    /// `(any queue entry matched, queue matched one of them)`.
    fn queue_check(&self, subject: &[u8], queue: &[u8]) -> (bool, bool) {
        let mut any = false;
        for (pat, q) in &self.queued {
            if crate::subject::matches_valid(pat, subject) {
                any = true;
                if queue_matches(queue, q) {
                    return (true, true);
                }
            }
        }
        (any, false)
    }
}

/// nats-server `queueMatches` for one entry: equal names, or the entry has a
/// wildcard token and the queue is a subset match of it.
fn queue_matches(queue: &[u8], entry: &[u8]) -> bool {
    queue == entry || (has_wildcard(entry) && is_subset_match(queue, entry))
}

fn has_wildcard(s: &[u8]) -> bool {
    s.split(|&b| b == b'.').any(|t| t == b"*" || t == b">")
}

/// nats-server `subjectIsSubsetMatch(subject, test)`: whether every subject
/// matched by `subject` (which may contain wildcards) is also matched by
/// `test`. E.g. `foo.bar` ⊆ `foo.*`, `foo.*` ⊆ `foo.>`, `foo.>` ⊄ `foo.*`.
pub fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    let mut st = subject.split(|&b| b == b'.');
    for t2 in test.split(|&b| b == b'.') {
        let Some(t1) = st.next() else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == b">" {
            return true;
        }
        if t1.is_empty() || t1 == b">" {
            return false;
        }
        if t1 == b"*" {
            if t2 != b"*" {
                return false;
            }
            continue;
        }
        if t2 != b"*" && t1 != t2 {
            return false;
        }
    }
    // Same number of tokens.
    st.next().is_none()
}

/// Compiled publish/subscribe permissions of one user (nats-protocol.md
/// §3.5). Immutable; share it through `Arc`. See the module docs for the
/// exact rules.
#[derive(Clone, Debug, Default)]
pub struct Permissions {
    pub_allow: Option<SubjectList>,
    pub_deny: Option<SubjectList>,
    sub_allow: Option<SubList>,
    sub_deny: Option<SubList>,
    /// Raw subscribe deny entries (nats-server `darray`).
    deny_raw: Vec<Box<[u8]>>,
    resp: Option<ResponsePermission>,
}

/// nats-server `splitSubjectQueue`: whitespace-separated fields, 1 or 2.
fn split_subject_queue(entry: &str) -> Option<(&str, Option<&str>)> {
    let mut it = entry.split_ascii_whitespace();
    let s = it.next()?;
    let q = it.next();
    if it.next().is_some() {
        return None;
    }
    Some((s, q))
}

/// A permission entry that is neither a valid subject (or filter) nor
/// `"<subject> <queue>"` with a valid subject (nats-server
/// `checkPermSubjectArray`). `Display`: `subject "x" is not a valid
/// subject`, the config error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPermissionSubject {
    /// The entry (or its subject part) as configured.
    pub subject: String,
}

impl fmt::Display for InvalidPermissionSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subject {:?} is not a valid subject", self.subject)
    }
}

impl core::error::Error for InvalidPermissionSubject {}

fn invalid(s: &str) -> InvalidPermissionSubject {
    InvalidPermissionSubject { subject: s.into() }
}

/// A user's permissions as nats-server shows them (`publicPermissions`,
/// in `$SYS.REQ.USER.INFO`): each list holds the subjects of the compiled
/// list (`"<subject> <queue>"` for queue-qualified subscribe entries);
/// `None` where the list is not set. Order: literal subjects sorted, then
/// wildcard ones in configuration order (nats-server's order is its
/// sublist's, not the configuration's either).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicPermissions {
    /// Publish allow list (`Some(empty)` when `allow_responses` closed it).
    pub publish_allow: Option<Vec<String>>,
    /// Publish deny list.
    pub publish_deny: Option<Vec<String>>,
    /// Subscribe allow list.
    pub subscribe_allow: Option<Vec<String>>,
    /// Subscribe deny list.
    pub subscribe_deny: Option<Vec<String>>,
    /// `allow_responses`, with the defaults applied.
    pub responses: Option<ResponsePermission>,
}

impl Permissions {
    /// The compiled lists as text (see [`PublicPermissions`]).
    pub fn public(&self) -> PublicPermissions {
        fn plain(l: &Option<SubjectList>) -> Option<Vec<String>> {
            l.as_ref().map(|l| {
                let mut v = Vec::new();
                l.entries(&mut v);
                v
            })
        }
        fn queued(l: &Option<SubList>) -> Option<Vec<String>> {
            l.as_ref().map(|l| {
                let mut v = Vec::new();
                l.plain.entries(&mut v);
                for (s, q) in &l.queued {
                    let mut e = String::from_utf8_lossy(s).into_owned();
                    e.push(' ');
                    e.push_str(&String::from_utf8_lossy(q));
                    v.push(e);
                }
                v
            })
        }
        PublicPermissions {
            publish_allow: plain(&self.pub_allow),
            publish_deny: plain(&self.pub_deny),
            subscribe_allow: queued(&self.sub_allow),
            subscribe_deny: queued(&self.sub_deny),
            responses: self.resp,
        }
    }

    /// Compiles a [`PermissionsSpec`] the way nats-server applies a user's
    /// permissions (`validateResponsePermissions` + `setPermissions`):
    /// `allow_responses` without a publish allow list makes the publish allow
    /// list empty (deny all) and zero `max`/`expires_ms` become the defaults.
    ///
    /// # Errors
    /// [`InvalidPermissionSubject`] for an entry that is neither a valid
    /// subject/filter nor `"<subject> <queue>"` with a valid subject
    /// (nats-server `checkPermSubjectArray`).
    pub fn compile(spec: &PermissionsSpec) -> Result<Permissions, InvalidPermissionSubject> {
        Self::build(spec, true)
    }

    /// Like [`compile`](Self::compile) but skips invalid entries instead of
    /// failing (nats-server inserts JWT permission subjects unchecked; an
    /// invalid one never matches).
    pub(crate) fn compile_lenient(spec: &PermissionsSpec) -> Permissions {
        // Never fails in lenient mode.
        Self::build(spec, false).unwrap_or_default()
    }

    fn build(
        spec: &PermissionsSpec,
        strict: bool,
    ) -> Result<Permissions, InvalidPermissionSubject> {
        let mut p = Permissions::default();
        let mut pub_allow = spec.publish_allow.clone();
        let resp = spec.allow_responses.map(|r| ResponsePermission {
            max: if r.max == 0 {
                DEFAULT_RESPONSE_MAX
            } else {
                r.max
            },
            expires_ms: if r.expires_ms == 0 {
                DEFAULT_RESPONSE_EXPIRES_MS
            } else {
                r.expires_ms
            },
        });
        if resp.is_some() && pub_allow.is_none() {
            pub_allow = Some(Vec::new());
        }
        p.resp = resp;
        if let Some(list) = &pub_allow {
            p.pub_allow = Some(Self::pub_list(list, strict)?);
        }
        if !spec.publish_deny.is_empty() {
            p.pub_deny = Some(Self::pub_list(&spec.publish_deny, strict)?);
        }
        if let Some(list) = &spec.subscribe_allow {
            if !list.is_empty() {
                p.sub_allow = Some(Self::sub_list(list, strict)?);
            }
        }
        if !spec.subscribe_deny.is_empty() {
            p.sub_deny = Some(Self::sub_list(&spec.subscribe_deny, strict)?);
            p.deny_raw = spec
                .subscribe_deny
                .iter()
                .map(|s| s.as_bytes().into())
                .collect();
        }
        Ok(p)
    }

    fn check_entry(
        entry: &str,
        strict: bool,
    ) -> Result<Option<(&str, Option<&str>)>, InvalidPermissionSubject> {
        match split_subject_queue(entry) {
            Some((s, q)) if validate_filter(s.as_bytes()).is_ok() => Ok(Some((s, q))),
            Some((s, Some(_))) if strict => Err(invalid(s)),
            _ if strict => Err(invalid(entry)),
            _ => Ok(None),
        }
    }

    fn pub_list(list: &[String], strict: bool) -> Result<SubjectList, InvalidPermissionSubject> {
        let mut out = SubjectList::default();
        for e in list {
            // A queue-qualified publish entry passes the config check but
            // can never match a subject (nats-server inserts it verbatim).
            if let Some((s, None)) = Self::check_entry(e, strict)? {
                out.insert(s.as_bytes());
            }
        }
        Ok(out)
    }

    fn sub_list(list: &[String], strict: bool) -> Result<SubList, InvalidPermissionSubject> {
        let mut out = SubList::default();
        for e in list {
            match Self::check_entry(e, strict)? {
                Some((s, None)) => out.plain.insert(s.as_bytes()),
                Some((s, Some(q))) => out.queued.push((s.as_bytes().into(), q.as_bytes().into())),
                None => {}
            }
        }
        Ok(out)
    }

    /// Whether a PUB/HPUB to `subject` is allowed by the allow/deny lists
    /// (response permissions are the caller's per-connection state: when
    /// this returns false and [`allow_responses`](Self::allow_responses) is
    /// set, the caller checks its reply table). `*`/`>` tokens in `subject`
    /// are ordinary tokens. No allocation; literal allow entries are one
    /// ordered-set lookup.
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        if let Some(allow) = &self.pub_allow {
            if !allow.matches(subject) {
                return false;
            }
        }
        match &self.pub_deny {
            Some(deny) => !deny.matches(subject),
            None => true,
        }
    }

    /// Whether `SUB subject [queue]` is allowed (nats-protocol.md §3.5): the
    /// SUB subject is treated as a literal token list; queue rules as in the
    /// module docs; the `_sys_` queue is always denied.
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let queue = queue.filter(|q| !q.is_empty());
        if queue == Some(SYS_QUEUE) {
            return false;
        }
        let mut allowed = true;
        if let Some(allow) = &self.sub_allow {
            allowed = allow.plain.matches(subject);
            if let Some(q) = queue {
                let (any, ok) = allow.queue_check(subject, q);
                if any {
                    allowed = ok;
                }
            }
        }
        if allowed {
            if let Some(deny) = &self.sub_deny {
                allowed = !deny.plain.matches(subject);
                if let Some(q) = queue {
                    let (any, ok) = deny.queue_check(subject, q);
                    if any {
                        allowed = !ok;
                    }
                }
            }
        }
        allowed
    }

    /// Delivery-time filter: `false` when the message subject matches a
    /// plain subscribe deny pattern (queue-qualified deny entries never
    /// filter deliveries, as in nats-server). nats-server turns this filter
    /// on for a connection only once it made a wildcard subscription that
    /// [`delivery_filter_needed`](Self::delivery_filter_needed); applying it
    /// to every delivery of a user with deny entries differs only when a
    /// wildcard SUB overlaps a deny pattern without containing it (e.g. SUB
    /// `a.*`, deny `*.b`: nats-server delivers `a.b`).
    pub fn can_deliver(&self, subject: &[u8]) -> bool {
        match &self.sub_deny {
            Some(deny) => !deny.plain.matches(subject),
            None => true,
        }
    }

    /// nats-server's trigger for the delivery filter: an allowed SUB whose
    /// subject has a wildcard and contains (subset match) one of the raw
    /// subscribe deny entries. Once true for a connection, call
    /// [`can_deliver`](Self::can_deliver) on each of its deliveries.
    pub fn delivery_filter_needed(&self, sub_subject: &[u8]) -> bool {
        has_wildcard(sub_subject)
            && self
                .deny_raw
                .iter()
                .any(|d| is_subset_match(d, sub_subject))
    }

    /// Whether there is any subscribe deny entry.
    pub fn has_subscribe_deny(&self) -> bool {
        self.sub_deny.is_some()
    }

    /// The response permission, with defaults applied (`None` = off).
    pub fn allow_responses(&self) -> Option<ResponsePermission> {
        self.resp
    }

    /// Whether there is a publish allow list that is empty (deny all), as
    /// produced by `allow_responses` without a publish allow list.
    pub fn publish_denies_all(&self) -> bool {
        self.pub_allow.as_ref().is_some_and(SubjectList::is_empty)
    }
}
