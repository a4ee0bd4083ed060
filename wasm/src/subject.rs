//! Subjects for JavaScript: validation, wildcard matching and the
//! [`Sublist`] subscription index (core `subject`, spec §1.2 and §2.1).

use js_sys::{Array, Object};
use natsws_core::subject::{self as core_subject, Filter};
use wasm_bindgen::prelude::*;

use crate::error;
use crate::js::{set, text};

#[wasm_bindgen(typescript_custom_section)]
const MATCH_TYPES: &'static str = r#"
/** What `Sublist.match` returns: every plain subscription id, and per queue
 *  group (sorted by name) its matching members, of which one should
 *  receive the message. */
export interface SublistMatch<T = any> {
  plain: T[];
  queues: { name: string; members: T[] }[];
}
"#;

/// Checks a literal (publish) subject: non-empty tokens, no `*`/`>` token,
/// no whitespace (spec §2.1). Throws the subject error `Empty`,
/// `EmptyToken`, `WildcardInSubject` or `Whitespace` (the first problem from
/// the left).
#[wasm_bindgen(js_name = validateSubject)]
pub fn validate_subject(subject: &str) -> Result<(), JsValue> {
    core_subject::validate_subject(subject.as_bytes()).map_err(|e| error::subject(e).into())
}

/// Checks a subscription filter: `*` and `>` only as whole tokens, `>` only
/// last (spec §1.2 "SUB"). Throws `Empty`, `EmptyToken`,
/// `FullWildcardNotLast` or `Whitespace`.
#[wasm_bindgen(js_name = validateFilter)]
pub fn validate_filter(filter: &str) -> Result<(), JsValue> {
    core_subject::validate_filter(filter.as_bytes()).map_err(|e| error::subject(e).into())
}

/// Checks a queue group name: non-empty, no whitespace. Throws `Empty` or
/// `Whitespace`.
#[wasm_bindgen(js_name = validateQueueGroup)]
pub fn validate_queue_group(queue: &str) -> Result<(), JsValue> {
    core_subject::validate_queue_group(queue.as_bytes()).map_err(|e| error::subject(e).into())
}

/// Whether a message published to `subject` reaches a subscription on
/// `filter` (spec §2.1). False for an invalid filter, an empty subject or
/// one with an empty token; `*`/`>` in `subject` are ordinary tokens.
#[wasm_bindgen(js_name = filterMatches)]
pub fn filter_matches(filter: &str, subject: &str) -> bool {
    core_subject::filter_matches(filter.as_bytes(), subject.as_bytes())
}

fn filter(f: &str) -> Result<Filter, JsValue> {
    Filter::try_from(f).map_err(|e| error::subject(e).into())
}

fn queue(q: &Option<String>) -> Result<Option<&[u8]>, JsValue> {
    match q.as_deref() {
        None => Ok(None),
        Some(q) => {
            core_subject::validate_queue_group(q.as_bytes()).map_err(error::subject)?;
            Ok(Some(q.as_bytes()))
        }
    }
}

/// The subscription index of a NATS server (core `Sublist`: a token trie
/// with a match cache). Subscription ids are any JS values, compared with
/// `===` (so numbers by value, objects by identity; `NaN` never matches
/// itself).
#[wasm_bindgen]
pub struct Sublist {
    inner: core_subject::Sublist<JsValue>,
}

impl Default for Sublist {
    fn default() -> Self {
        Sublist::new(None)
    }
}

#[wasm_bindgen]
impl Sublist {
    /// An empty sublist whose match cache holds at most `cacheCapacity`
    /// results (default core's `DEFAULT_CACHE_CAPACITY`; 0 disables it).
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(js_name = cacheCapacity)] cache_capacity: Option<u32>) -> Sublist {
        let inner = match cache_capacity {
            None => core_subject::Sublist::new(),
            Some(n) => core_subject::Sublist::with_cache_capacity(n as usize),
        };
        Sublist { inner }
    }

    /// Adds subscription `id` on `filter`, optionally in queue group
    /// `queue`. Throws the subject error of an invalid filter or queue
    /// name.
    pub fn insert(
        &mut self,
        filter: &str,
        id: JsValue,
        queue: Option<String>,
    ) -> Result<(), JsValue> {
        let f = self::filter(filter)?;
        let q = self::queue(&queue)?;
        self.inner.insert(&f, q, id);
        Ok(())
    }

    /// Removes one subscription `id` inserted with the same `filter` and
    /// `queue`; returns whether one was found. Throws the subject error of
    /// an invalid filter or queue name.
    pub fn remove(
        &mut self,
        filter: &str,
        id: JsValue,
        queue: Option<String>,
    ) -> Result<bool, JsValue> {
        let f = self::filter(filter)?;
        let q = self::queue(&queue)?;
        Ok(self.inner.remove(&f, q, &id))
    }

    /// The subscriptions a message published to `subject` goes to
    /// (`SublistMatch`). A subject that is empty or has an empty token
    /// matches nothing.
    #[wasm_bindgen(js_name = match, unchecked_return_type = "SublistMatch")]
    pub fn match_subject(&mut self, subject: &str) -> Object {
        let r = self.inner.match_subject(subject.as_bytes());
        let o = Object::new();
        let plain: Array = r.plain.iter().collect();
        set(&o, "plain", &plain);
        let queues = Array::new();
        for g in &r.queues {
            let q = Object::new();
            set(&q, "name", &text(&g.name));
            let members: Array = g.members.iter().collect();
            set(&q, "members", &members);
            queues.push(&q);
        }
        set(&o, "queues", &queues);
        o
    }

    /// Number of subscriptions held.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// Bumps on every insert and successful remove.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> f64 {
        self.inner.generation() as f64
    }
}
