//! Permissions on a leafnode link (spec `leafnode.md` §3.5 item 8, §3.7,
//! §3.8, §4.6; nats-server `processLeafNodeConnect`,
//! `sendPermsAndAccountInfo`, `leafMsgAllowed`, `leafSendAllowed`,
//! `processLeafSub`, `canSubscribeInternal`, `deliverMsg`).
//!
//! On the accepting side, when the leaf authenticated as a user with
//! permissions, they apply to the link **swapped**: the user's *publish*
//! rights ([`HubPerms::export`]) are what the leaf may send in (LMSG) and
//! which interest of the hub is advertised to it (LS+); the user's
//! *subscribe* rights ([`HubPerms::import`]) are what the hub delivers out
//! and which literal LS+ of the leaf it accepts. Both lists go to the leaf
//! in the `connect_info` INFO as `export` and `import`.
//!
//! On the soliciting side the hub's `export` plus the remote's
//! `deny_exports` decide what the link sends ([`Rules`] as the link's
//! delivery permissions).

use std::sync::Arc;

use natsws_core::auth::{Permissions, PermissionsSpec, PublicPermissions, ResponsePermission};
use natsws_core::subject::filter_matches;
use natsws_core::time::Millis;

use crate::auth::DeliveryPerms;
use crate::sink::ConnShared;

/// The allow and deny lists of one direction of a link, as configured
/// (nats-server `SubjectPermission`). Entries are subjects or filters;
/// a queue-qualified entry (`"subject queue"`) never matches a message
/// subject, as in nats-server (its sublist counts plain entries only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `None`: no allow list (everything not denied is allowed).
    pub allow: Option<Vec<String>>,
    /// Deny list.
    pub deny: Vec<String>,
}

fn has_wildcard(s: &[u8]) -> bool {
    s.split(|&b| b == b'.').any(|t| t == b"*" || t == b">")
}

impl Rules {
    /// Whether neither list is set.
    pub fn is_empty(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    /// Whether a message on the literal `subject` passes (nats-server
    /// `leafSendAllowed` / `pubAllowedFullCheck`): some allow entry
    /// matches it (skipped for `$MQTT.` subjects) and no deny entry does.
    /// Does not allocate.
    pub fn permits(&self, subject: &[u8]) -> bool {
        if let Some(allow) = &self.allow {
            if !subject.starts_with(b"$MQTT.")
                && !allow.iter().any(|a| filter_matches(a.as_bytes(), subject))
            {
                return false;
            }
        }
        !self
            .deny
            .iter()
            .any(|d| filter_matches(d.as_bytes(), subject))
    }

    /// Whether interest in `subject` (a subscription's subject, wildcards
    /// allowed) passes, as nats-server's `canSubscribeInternal` decides for
    /// a leaf connection: an allow entry matches it with its `*`/`>` taken
    /// as plain tokens, or — a leaf's broader interest — `subject` has a
    /// wildcard that covers an allow entry; and no deny entry matches it
    /// (again with its wildcards as plain tokens).
    pub fn permits_interest(&self, subject: &[u8]) -> bool {
        if let Some(allow) = &self.allow {
            let ok = subject.starts_with(b"$MQTT.")
                || allow.iter().any(|a| filter_matches(a.as_bytes(), subject))
                || (has_wildcard(subject)
                    && allow.iter().any(|a| filter_matches(subject, a.as_bytes())));
            if !ok {
                return false;
            }
        }
        !self
            .deny
            .iter()
            .any(|d| filter_matches(d.as_bytes(), subject))
    }

    /// `{"allow":[…],"deny":[…]}`, each list only when set (nats-server
    /// `SubjectPermission` with `omitempty`).
    pub fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(a) = self.allow.as_ref().filter(|a| !a.is_empty()) {
            m.insert("allow".into(), a.clone().into());
        }
        if !self.deny.is_empty() {
            m.insert("deny".into(), self.deny.clone().into());
        }
        serde_json::Value::Object(m)
    }

    /// The lists of `v`, an INFO `import`/`export` object (missing lists
    /// are unset).
    pub fn from_json(v: &serde_json::Value) -> Rules {
        let list = |k: &str| -> Option<Vec<String>> {
            v[k].as_array().map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
        };
        Rules {
            allow: list("allow").filter(|a| !a.is_empty()),
            deny: list("deny").unwrap_or_default(),
        }
    }

    /// These rules as a link's delivery permissions: what the link may
    /// send, checked on every delivery to it ([`DeliveryPerms::leaf_link`]),
    /// with `responses` tracking the reply subjects delivered (nats-server
    /// `allow_responses` on a hub's leaf user). `None` when nothing is
    /// restricted.
    pub fn delivery(&self, responses: Option<ResponsePermission>) -> Option<DeliveryPerms> {
        if self.is_empty() && responses.is_none() {
            return None;
        }
        // With `allow_responses`, compiling without a publish allow list
        // would deny everything: `>` keeps "no allow list".
        let allow = match (&self.allow, responses) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(_)) => Some(vec![">".to_string()]),
            (None, None) => None,
        };
        let spec = PermissionsSpec {
            publish_allow: allow.map(|a| a.into_iter().filter(|e| !e.contains(' ')).collect()),
            publish_deny: self
                .deny
                .iter()
                .filter(|e| !e.contains(' '))
                .cloned()
                .collect(),
            allow_responses: responses,
            ..Default::default()
        };
        let perms = Permissions::compile(&spec).ok()?;
        Some(DeliveryPerms {
            perms: Arc::new(perms),
            replies: Default::default(),
            leaf_link: true,
        })
    }
}

/// The bound user's permissions on an accepted link, swapped for the hub's
/// view (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HubPerms {
    /// The user's publish rights: what the leaf may send in, and which
    /// interest is advertised to it. INFO `export`.
    pub(crate) export: Rules,
    /// The user's subscribe rights: what the hub sends out, and which
    /// literal `LS+` it accepts. INFO `import`.
    pub(crate) import: Rules,
    /// The user's `allow_responses`: replies to requests delivered over
    /// the link may come back even when `export` denies them.
    pub(crate) responses: Option<ResponsePermission>,
}

impl HubPerms {
    /// The link's view of a user's compiled permissions; `None` when they
    /// restrict nothing.
    pub(crate) fn of(p: &Permissions) -> Option<HubPerms> {
        let PublicPermissions {
            publish_allow,
            publish_deny,
            subscribe_allow,
            subscribe_deny,
            responses,
        } = p.public();
        // `allow_responses` without a publish allow list leaves an empty
        // one (deny all), in nats-server too (`validateResponsePermissions`):
        // only replies come in, and `export` is sent as `{}`.
        let h = HubPerms {
            export: Rules {
                allow: publish_allow,
                deny: publish_deny.unwrap_or_default(),
            },
            import: Rules {
                allow: subscribe_allow.filter(|a| !a.is_empty()),
                deny: subscribe_deny.unwrap_or_default(),
            },
            responses,
        };
        (!h.export.is_empty() || !h.import.is_empty() || h.responses.is_some()).then_some(h)
    }

    /// Adds `import`/`export` to a `connect_info` INFO object, each only
    /// when its lists are set (nats-server `sendPermsAndAccountInfo`).
    pub(crate) fn add_to_info(&self, info: &mut serde_json::Map<String, serde_json::Value>) {
        if !self.import.is_empty() {
            info.insert("import".into(), self.import.json());
        }
        if !self.export.is_empty() {
            info.insert("export".into(), self.export.json());
        }
    }

    /// Whether an `LMSG` on `subject` from the leaf is allowed (nats-server
    /// `leafMsgAllowed` on the hub): service-import replies (`_R_.`) and
    /// JetStream acks (`$JS.ACK.`) always are; else `export` decides, and
    /// a denied subject may still be a reply the link was sent with
    /// `allow_responses` (one use of it).
    pub(crate) fn inbound(
        &self,
        conn: &ConnShared,
        subject: &[u8],
        now: impl FnOnce() -> Millis,
    ) -> bool {
        if subject.starts_with(b"_R_.") || subject.starts_with(b"$JS.ACK.") {
            return true;
        }
        if self.export.permits(subject) {
            return true;
        }
        if self.responses.is_none() {
            return false;
        }
        match conn.perms.lock().expect("perms").as_mut() {
            Some(p) => p.use_response(subject, now()),
            None => false,
        }
    }

    /// Whether a literal `LS+` of `subject` from the leaf is allowed
    /// (nats-server `processLeafSub`): loop-detection and gateway-reply
    /// subjects always are; a wildcard one is accepted and filtered per
    /// message; a literal one must pass `import`.
    pub(crate) fn interest_in(&self, subject: &[u8]) -> bool {
        if subject.starts_with(b"$LDS.")
            || subject.starts_with(b"$GR.")
            || subject.starts_with(b"_GR_.")
            || has_wildcard(subject)
        {
            return true;
        }
        self.import.permits(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: Option<&[&str]>, deny: &[&str]) -> Rules {
        Rules {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn permits_checks_allow_then_deny() {
        let r = rules(Some(&["foo.*", "bar"]), &["foo.secret"]);
        assert!(r.permits(b"foo.x"));
        assert!(r.permits(b"bar"));
        assert!(!r.permits(b"foo.secret"));
        assert!(!r.permits(b"baz"));
        assert!(!r.permits(b"foo.x.y"));
        // Queue-qualified entries match nothing.
        assert!(!rules(Some(&["q1 grp"]), &[]).permits(b"q1"));
        assert!(rules(None, &["q1 grp"]).permits(b"q1"));
    }

    #[test]
    fn interest_takes_wildcards_as_tokens_and_covers_allow_entries() {
        let r = rules(Some(&["foo.bar", "ok.>"]), &["billing.>"]);
        assert!(r.permits_interest(b"foo.bar"));
        // A broader wildcard covering an allowed subject is advertised.
        assert!(r.permits_interest(b"foo.*"));
        assert!(r.permits_interest(b">"));
        assert!(r.permits_interest(b"ok.*"));
        assert!(!r.permits_interest(b"baz.*"));
        assert!(!r.permits_interest(b"foo.baz"));
        // Deny: the interest's wildcards are plain tokens.
        let d = rules(None, &["billing.>"]);
        assert!(!d.permits_interest(b"billing.x"));
        assert!(!d.permits_interest(b"billing.*"));
        assert!(d.permits_interest(b">"));
        assert!(d.permits_interest(b"*.x"));
    }

    #[test]
    fn hub_perms_swap_and_render_as_nats_server() {
        let p = Permissions::compile(&PermissionsSpec {
            publish_deny: vec!["billing.>".into()],
            subscribe_allow: Some(vec!["ok.>".into()]),
            ..Default::default()
        })
        .unwrap();
        let h = HubPerms::of(&p).unwrap();
        let mut m = serde_json::Map::new();
        h.add_to_info(&mut m);
        assert_eq!(
            serde_json::Value::Object(m).to_string(),
            r#"{"export":{"deny":["billing.>"]},"import":{"allow":["ok.>"]}}"#
        );
        assert!(HubPerms::of(&Permissions::default()).is_none());
        assert!(h.interest_in(b"ok.x"));
        assert!(!h.interest_in(b"audit.x"));
        assert!(h.interest_in(b"audit.*"));
        assert!(h.interest_in(b"$LDS.abc"));
    }

    #[test]
    fn allow_responses_alone_lets_only_replies_in_and_everything_out() {
        let p = Permissions::compile(&PermissionsSpec {
            allow_responses: Some(ResponsePermission::default()),
            ..Default::default()
        })
        .unwrap();
        let h = HubPerms::of(&p).unwrap();
        assert_eq!(h.export.allow, Some(Vec::new()));
        assert!(!h.export.permits(b"any.thing"));
        let mut m = serde_json::Map::new();
        h.add_to_info(&mut m);
        assert_eq!(serde_json::Value::Object(m).to_string(), r#"{"export":{}}"#);
        assert!(h.import.is_empty());
        let d = h.import.delivery(h.responses).unwrap();
        assert!(d.perms.can_publish(b"any.thing"));
    }

    #[test]
    fn delivery_rules_deny_what_they_do_not_allow() {
        let d = rules(Some(&["ok.>"]), &["ok.no"]).delivery(None).unwrap();
        assert!(d.perms.can_publish(b"ok.x"));
        assert!(!d.perms.can_publish(b"ok.no"));
        assert!(!d.perms.can_publish(b"other"));
        assert!(rules(None, &[]).delivery(None).is_none());
    }
}
