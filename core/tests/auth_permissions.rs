//! natsws_core::auth::Permissions: the §3.5 matrix (nats-protocol.md):
//! publish allow/deny, SUB subjects as literal token lists, queue-qualified
//! entries, `_sys_`, delivery-time deny, allow_responses defaults.
#![cfg(feature = "auth")]

use natsws_core::auth::{is_subset_match, Permissions, PermissionsSpec, ResponsePermission};
use natsws_core::subject::filter_matches;
use proptest::prelude::*;

fn v(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn perms(pa: Option<&[&str]>, pd: &[&str], sa: Option<&[&str]>, sd: &[&str]) -> Permissions {
    Permissions::compile(&PermissionsSpec {
        publish_allow: pa.map(v),
        publish_deny: v(pd),
        subscribe_allow: sa.map(v),
        subscribe_deny: v(sd),
        allow_responses: None,
    })
    .unwrap()
}

#[test]
fn empty_spec_allows_everything() {
    let p = Permissions::compile(&PermissionsSpec::default()).unwrap();
    assert!(p.can_publish(b"a.b"));
    assert!(p.can_subscribe(b">", None));
    assert!(p.can_subscribe(b"foo", Some(b"q")));
    assert!(p.can_deliver(b"x"));
    assert!(!p.has_subscribe_deny());
    assert!(p.allow_responses().is_none());
    assert!(!p.delivery_filter_needed(b"foo.*"));
}

#[test]
fn publish_allow_and_deny() {
    let p = perms(Some(&["a.>", "b"]), &["a.secret"], None, &[]);
    assert!(p.can_publish(b"a.x"));
    assert!(p.can_publish(b"a.x.y"));
    assert!(p.can_publish(b"b"));
    assert!(!p.can_publish(b"a"));
    assert!(!p.can_publish(b"a.secret"));
    assert!(p.can_publish(b"a.secret.more"));
    assert!(!p.can_publish(b"b.c"));
    assert!(!p.can_publish(b"c"));
    // Deny only.
    let p = perms(None, &["x.*"], None, &[]);
    assert!(p.can_publish(b"x"));
    assert!(!p.can_publish(b"x.y"));
    assert!(p.can_publish(b"x.y.z"));
    // Empty allow list = deny all.
    let p = perms(Some(&[]), &[], None, &[]);
    assert!(!p.can_publish(b"anything"));
    assert!(p.publish_denies_all());
    // Wildcard tokens in a published subject are ordinary tokens.
    let p = perms(Some(&["foo.*"]), &[], None, &[]);
    assert!(p.can_publish(b"foo.*"));
    assert!(p.can_publish(b"foo.>"));
    let p = perms(Some(&["foo.bar"]), &[], None, &[]);
    assert!(!p.can_publish(b"foo.*"));
    assert!(!p.can_publish(b"foo..bar"));
}

#[test]
fn large_literal_allow_list() {
    let list: Vec<String> = (0..10_000).map(|i| format!("svc.{i}.req")).collect();
    let p = Permissions::compile(&PermissionsSpec {
        publish_allow: Some(list),
        ..PermissionsSpec::default()
    })
    .unwrap();
    assert!(p.can_publish(b"svc.0.req"));
    assert!(p.can_publish(b"svc.9999.req"));
    assert!(!p.can_publish(b"svc.10000.req"));
    assert!(!p.can_publish(b"svc.1.req.x"));
}

#[test]
fn subscribe_subject_is_a_literal_token_list() {
    // Allowed by foo.*, foo.>, > — not by foo.bar.
    for allow in ["foo.*", "foo.>", ">"] {
        assert!(
            perms(None, &[], Some(&[allow]), &[]).can_subscribe(b"foo.*", None),
            "{allow}"
        );
    }
    assert!(!perms(None, &[], Some(&["foo.bar"]), &[]).can_subscribe(b"foo.*", None));
    let p = perms(None, &[], Some(&["foo.bar", "baz.*"]), &[]);
    assert!(p.can_subscribe(b"foo.bar", None));
    assert!(p.can_subscribe(b"baz.x", None));
    // The `*` pattern matches the literal token `>` (nats-server quirk).
    assert!(p.can_subscribe(b"baz.>", None));
    assert!(!p.can_subscribe(b"baz", None));
    assert!(!p.can_subscribe(b">", None));
    // Deny the same way: SUB foo.> is denied by deny foo.*; SUB foo.* is not
    // denied by deny foo.bar.
    let p = perms(None, &[], None, &["foo.*"]);
    assert!(!p.can_subscribe(b"foo.>", None));
    assert!(!p.can_subscribe(b"foo.*", None));
    assert!(!p.can_subscribe(b"foo.bar", None));
    assert!(p.can_subscribe(b"foo.bar.baz", None));
    let p = perms(None, &[], None, &["foo.bar"]);
    assert!(p.can_subscribe(b"foo.*", None));
    assert!(!p.can_subscribe(b"foo.bar", None));
    // Empty subscribe allow list = no allow list.
    assert!(perms(None, &[], Some(&[]), &[]).can_subscribe(b"x", None));
}

#[test]
fn delivery_time_deny() {
    let p = perms(None, &[], None, &["foo.bar", "q.x grp"]);
    assert!(p.has_subscribe_deny());
    assert!(p.can_subscribe(b"foo.*", None));
    assert!(p.delivery_filter_needed(b"foo.*"));
    assert!(p.delivery_filter_needed(b">"));
    assert!(
        !p.delivery_filter_needed(b"foo.bar.baz"),
        "literal subs never need it"
    );
    assert!(!p.delivery_filter_needed(b"other.*"));
    assert!(!p.can_deliver(b"foo.bar"));
    assert!(p.can_deliver(b"foo.baz"));
    // Queue-qualified deny entries never filter deliveries.
    assert!(p.can_deliver(b"q.x"));
}

#[test]
fn queue_qualified_entries() {
    // allow = ["foo"] -> plain or any queue.
    let p = perms(None, &[], Some(&["foo"]), &[]);
    assert!(p.can_subscribe(b"foo", None));
    assert!(p.can_subscribe(b"foo", Some(b"any")));
    // allow = ["foo v1"] -> only queue v1, no plain subs.
    let p = perms(None, &[], Some(&["foo v1"]), &[]);
    assert!(!p.can_subscribe(b"foo", None));
    assert!(p.can_subscribe(b"foo", Some(b"v1")));
    assert!(!p.can_subscribe(b"foo", Some(b"v2")));
    // allow = ["foo", "foo v1"] -> plain foo ok, queue only v1.
    let p = perms(None, &[], Some(&["foo", "foo v1"]), &[]);
    assert!(p.can_subscribe(b"foo", None));
    assert!(p.can_subscribe(b"foo", Some(b"v1")));
    assert!(!p.can_subscribe(b"foo", Some(b"v2")));
    // Wildcard subjects and queues in entries.
    let p = perms(None, &[], Some(&["foo.* v1.*", "bar.>"]), &[]);
    assert!(p.can_subscribe(b"foo.x", Some(b"v1.a")));
    assert!(
        p.can_subscribe(b"foo.x", Some(b"v1.*")),
        "literal queue name equal to entry"
    );
    assert!(!p.can_subscribe(b"foo.x", Some(b"v2.a")));
    assert!(!p.can_subscribe(b"foo.x", Some(b"v1")));
    assert!(p.can_subscribe(b"bar.x", Some(b"whatever")));
    let p = perms(None, &[], Some(&["foo q.>"]), &[]);
    assert!(p.can_subscribe(b"foo", Some(b"q.a.b")));
    assert!(!p.can_subscribe(b"foo", Some(b"q")));
    // Deny: plain entry denies every queue; queue entry only that queue.
    let p = perms(None, &[], None, &["foo"]);
    assert!(!p.can_subscribe(b"foo", Some(b"q")));
    assert!(!p.can_subscribe(b"foo", None));
    let p = perms(None, &[], None, &["foo bad"]);
    assert!(p.can_subscribe(b"foo", None));
    assert!(p.can_subscribe(b"foo", Some(b"good")));
    assert!(!p.can_subscribe(b"foo", Some(b"bad")));
    let p = perms(None, &[], None, &["foo.* bad.*"]);
    assert!(!p.can_subscribe(b"foo.x", Some(b"bad.1")));
    assert!(p.can_subscribe(b"foo.x", Some(b"good.1")));
}

#[test]
fn sys_queue_always_denied() {
    let p = perms(None, &[], None, &[]);
    assert!(!p.can_subscribe(b"foo", Some(b"_sys_")));
    let p = perms(None, &[], Some(&["foo _sys_"]), &[]);
    assert!(!p.can_subscribe(b"foo", Some(b"_sys_")));
    assert!(!p.can_subscribe(b"foo", Some(b"other")));
    // An empty queue is a plain SUB.
    assert!(perms(None, &[], Some(&["foo"]), &[]).can_subscribe(b"foo", Some(b"")));
}

#[test]
fn allow_responses_defaults() {
    let p = Permissions::compile(&PermissionsSpec {
        allow_responses: Some(ResponsePermission {
            max: 0,
            expires_ms: 0,
        }),
        ..PermissionsSpec::default()
    })
    .unwrap();
    assert_eq!(
        p.allow_responses(),
        Some(ResponsePermission {
            max: 1,
            expires_ms: 120_000
        })
    );
    assert_eq!(
        ResponsePermission::default(),
        ResponsePermission {
            max: 1,
            expires_ms: 120_000
        }
    );
    // Publish allow becomes empty (deny all) without an allow list.
    assert!(!p.can_publish(b"foo"));
    assert!(p.publish_denies_all());
    // With an allow list it is kept.
    let p = Permissions::compile(&PermissionsSpec {
        publish_allow: Some(v(&["foo"])),
        allow_responses: Some(ResponsePermission {
            max: 5,
            expires_ms: 1000,
        }),
        ..PermissionsSpec::default()
    })
    .unwrap();
    assert!(p.can_publish(b"foo"));
    assert!(!p.can_publish(b"bar"));
    assert_eq!(
        p.allow_responses(),
        Some(ResponsePermission {
            max: 5,
            expires_ms: 1000
        })
    );
    // Deny only + responses: publish allow still becomes empty.
    let p = Permissions::compile(&PermissionsSpec {
        publish_deny: v(&["x"]),
        allow_responses: Some(ResponsePermission {
            max: -1,
            expires_ms: ResponsePermission::NO_EXPIRY,
        }),
        ..PermissionsSpec::default()
    })
    .unwrap();
    assert!(!p.can_publish(b"y"));
    assert_eq!(p.allow_responses().unwrap().max, -1);
}

#[test]
fn invalid_entries_are_config_errors() {
    for bad in ["foo..bar", "", " ", "foo.>.bar", "a b c", "foo. q"] {
        let e = Permissions::compile(&PermissionsSpec {
            subscribe_allow: Some(v(&[bad])),
            ..PermissionsSpec::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("is not a valid subject"),
            "{bad:?}: {e}"
        );
        assert!(Permissions::compile(&PermissionsSpec {
            publish_deny: v(&[bad]),
            ..PermissionsSpec::default()
        })
        .is_err());
    }
    // "subject queue" is valid in subscribe lists (and accepted, never
    // matching, in publish lists).
    let p = perms(Some(&["foo q"]), &[], Some(&["foo q"]), &[]);
    assert!(!p.can_publish(b"foo"));
}

#[test]
fn subset_match_rules() {
    assert!(is_subset_match(b"foo.bar", b"foo.*"));
    assert!(is_subset_match(b"foo.bar", b"foo.>"));
    assert!(is_subset_match(b"foo.*", b"foo.>"));
    assert!(is_subset_match(b"foo.*", b"foo.*"));
    assert!(is_subset_match(b"foo.>", b">"));
    assert!(!is_subset_match(b"foo.>", b"foo.*"));
    assert!(!is_subset_match(b"foo.*", b"foo.bar"));
    assert!(!is_subset_match(b"foo", b"foo.*"));
    assert!(!is_subset_match(b"foo.bar.baz", b"foo.*"));
    assert!(is_subset_match(b"foo", b"foo"));
    assert!(!is_subset_match(b"foo", b"bar"));
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("*".to_string()),
        Just("c".to_string())
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    (prop::collection::vec(token(), 1..4), any::<bool>()).prop_map(|(mut t, fwc)| {
        if fwc {
            t.push(">".into());
        }
        t.join(".")
    })
}

fn literal() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")],
        1..5,
    )
    .prop_map(|t| t.join("."))
}

proptest! {
    /// can_publish agrees with a naive scan over every entry.
    #[test]
    fn publish_matches_naive_scan(
        allow in prop::option::of(prop::collection::vec(prop_oneof![pattern(), literal()], 0..6)),
        deny in prop::collection::vec(prop_oneof![pattern(), literal()], 0..4),
        subject in literal(),
    ) {
        let p = Permissions::compile(&PermissionsSpec {
            publish_allow: allow.clone(),
            publish_deny: deny.clone(),
            ..PermissionsSpec::default()
        }).unwrap();
        let s = subject.as_bytes();
        let naive = allow.as_ref().is_none_or(|a| a.iter().any(|e| filter_matches(e.as_bytes(), s)))
            && !deny.iter().any(|e| filter_matches(e.as_bytes(), s));
        prop_assert_eq!(p.can_publish(s), naive);
    }

    /// A literal subject is a subset of a pattern iff the pattern matches it.
    #[test]
    fn subset_of_literal_is_matching(pat in pattern(), subject in literal()) {
        prop_assert_eq!(
            is_subset_match(subject.as_bytes(), pat.as_bytes()),
            filter_matches(pat.as_bytes(), subject.as_bytes())
        );
    }

    /// Subset match is sound: if sub ⊆ test, every literal matched by sub is
    /// matched by test.
    #[test]
    fn subset_is_sound(sub in pattern(), test in pattern(), subject in literal()) {
        if is_subset_match(sub.as_bytes(), test.as_bytes()) && filter_matches(sub.as_bytes(), subject.as_bytes()) {
            prop_assert!(filter_matches(test.as_bytes(), subject.as_bytes()));
        }
    }

    /// Arbitrary bytes never panic.
    #[test]
    fn arbitrary_inputs_never_panic(
        entries in prop::collection::vec(".{0,12}", 0..5),
        subject in prop::collection::vec(any::<u8>(), 0..16),
        queue in prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
    ) {
        let spec = PermissionsSpec {
            publish_allow: Some(entries.clone()),
            publish_deny: entries.clone(),
            subscribe_allow: Some(entries.clone()),
            subscribe_deny: entries.clone(),
            allow_responses: None,
        };
        if let Ok(p) = Permissions::compile(&spec) {
            let _ = p.can_publish(&subject);
            let _ = p.can_subscribe(&subject, queue.as_deref());
            let _ = p.can_deliver(&subject);
            let _ = p.delivery_filter_needed(&subject);
        }
        let _ = is_subset_match(&subject, queue.as_deref().unwrap_or(b""));
    }
}

#[test]
fn public_lists_show_the_compiled_entries() {
    use natsws_core::auth::PublicPermissions;
    let p = perms(
        Some(&["b", "a.>", "a"]),
        &["x.*"],
        Some(&["s.>", "q.* grp"]),
        &[],
    );
    assert_eq!(
        p.public(),
        PublicPermissions {
            publish_allow: Some(v(&["a", "b", "a.>"])),
            publish_deny: Some(v(&["x.*"])),
            subscribe_allow: Some(v(&["s.>", "q.* grp"])),
            subscribe_deny: None,
            responses: None,
        }
    );
    // allow_responses without a publish allow list: an empty one, and the
    // defaults applied.
    let p = Permissions::compile(&PermissionsSpec {
        allow_responses: Some(ResponsePermission {
            max: 0,
            expires_ms: 0,
        }),
        ..PermissionsSpec::default()
    })
    .unwrap();
    let public = p.public();
    assert_eq!(public.publish_allow, Some(Vec::new()));
    assert_eq!(public.responses, Some(ResponsePermission::default()));
    assert_eq!(
        Permissions::default().public(),
        PublicPermissions::default()
    );
}
