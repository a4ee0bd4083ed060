//! The subscription index: a token trie with a match-result cache, after
//! nats-server's `sublist.go`.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use super::cache::{self, Cache};
use super::{
    is_literal, is_matchable, matches_valid, tokens, Filter, FULL_WILDCARD, PARTIAL_WILDCARD,
    TOKEN_SEPARATOR,
};

/// Default bound of the match-result cache, in entries (nats-server's
/// `slCacheMax` is 1024 as well).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// What a published subject matches: the subscriptions to deliver to.
///
/// `plain` holds every matching plain subscription once per matching
/// insertion. `queues` holds one entry per queue group name, gathering the
/// members of that group across all matching filters (`foo.*` in `q1` and
/// `foo.bar` in `q1` form one group for `foo.bar`, spec §2.2); exactly one
/// member of each group should receive the message.
///
/// The order of `plain` (the order the copies go out in) is nats-server's
/// trie walk (`matchLevel`): at each level before the last token, the `>`
/// subscriptions, then every match below the `*` child, then every match
/// below the literal child; at the last token, the `>`, the literal, then
/// the `*` subscriptions. For `foo.bar`: `>`, `foo.>`, `foo.bar`, `foo.*`.
/// Subscriptions on one filter keep insertion order until a removal (Go's
/// order there is random). `queues` is sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SublistResult<T> {
    /// Plain (non-queue) subscriptions.
    pub plain: Vec<T>,
    /// Queue groups, one entry per distinct name, sorted by name.
    pub queues: Vec<QueueMatch<T>>,
}

impl<T> SublistResult<T> {
    /// A result with no subscriptions.
    pub const fn new() -> Self {
        SublistResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

impl<T> Default for SublistResult<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The matching members of one queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMatch<T> {
    /// The queue group name, as given to [`Sublist::insert`].
    pub name: Box<[u8]>,
    /// The group's matching subscriptions (never empty).
    pub members: Vec<T>,
}

/// Match-result cache counters, for tests and monitoring (`/subsz`
/// `num_cache`, `cache_hit_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Matches answered from the cache.
    pub hits: u64,
    /// Matches that walked the trie (including uncacheable subjects).
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
    /// Maximum entries.
    pub capacity: usize,
}

struct QueueSubs<T> {
    name: Box<[u8]>,
    members: Vec<T>,
}

/// One token's place in the trie: 24 bytes with a pointer `T` (as
/// [`crate::router::SubRef`]), held inline in its parent's children (a
/// subject's own node is most of what an idle subscription costs the
/// sublist).
struct Node<T> {
    next: Option<Box<Level<T>>>,
    /// The first plain subscription, inline, without an allocation (most
    /// subjects have one subscriber: a reply inbox, an MQTT client's own
    /// topic); `None` when the node has no plain subscription.
    one: Option<T>,
    /// The other plain subscriptions and the queue groups, boxed: most
    /// nodes have neither, and a thin pointer costs them 8 bytes where two
    /// empty `Vec`s cost 48. `None` when both are empty.
    more: Option<Box<More<T>>>,
}

/// The plain subscriptions of a [`Node`] after its first, and its queue
/// groups.
struct More<T> {
    plain: Vec<T>,
    queues: Vec<QueueSubs<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            next: None,
            one: None,
            more: None,
        }
    }
}

impl<T> Node<T> {
    /// The plain subscriptions, in insertion order until a removal.
    fn plain(&self) -> impl Iterator<Item = &T> {
        let rest = self.more.as_deref().map_or(&[][..], |m| &m.plain[..]);
        self.one.iter().chain(rest)
    }

    /// How many plain subscriptions.
    fn plain_len(&self) -> usize {
        usize::from(self.one.is_some()) + self.more.as_deref().map_or(0, |m| m.plain.len())
    }

    fn queue_groups(&self) -> &[QueueSubs<T>] {
        self.more.as_deref().map_or(&[], |m| &m.queues)
    }

    /// [`Node::more`], made at first use.
    fn more(&mut self) -> &mut More<T> {
        self.more.get_or_insert_with(|| {
            Box::new(More {
                plain: Vec::new(),
                queues: Vec::new(),
            })
        })
    }

    /// Gives back what a removal left empty.
    fn trim(&mut self) {
        let Some(m) = self.more.as_deref_mut() else {
            return;
        };
        if m.plain.is_empty() {
            m.plain = Vec::new();
        }
        if m.queues.is_empty() {
            m.queues = Vec::new();
        }
        if m.plain.capacity() == 0 && m.queues.capacity() == 0 {
            self.more = None;
        }
    }
}

impl<T: PartialEq> Node<T> {
    fn has_subs(&self) -> bool {
        self.one.is_some() || self.more.is_some()
    }

    fn add(&mut self, queue: Option<&[u8]>, value: T) {
        match queue {
            None if self.one.is_none() => self.one = Some(value),
            None => self.more().plain.push(value),
            Some(q) => {
                let queues = &mut self.more().queues;
                match queues.iter().position(|g| *g.name == *q) {
                    Some(i) => queues[i].members.push(value),
                    None => queues.push(QueueSubs {
                        name: q.into(),
                        members: alloc::vec![value],
                    }),
                }
            }
        }
    }

    fn remove(&mut self, queue: Option<&[u8]>, value: &T) -> bool {
        let removed = match queue {
            // The last of the others takes the first's place (as a
            // `swap_remove`: the order is kept until a removal only).
            None if self.one.as_ref() == Some(value) => {
                self.one = self.more.as_deref_mut().and_then(|m| m.plain.pop());
                true
            }
            None => self
                .more
                .as_deref_mut()
                .is_some_and(|m| remove_from(&mut m.plain, value)),
            Some(q) => {
                let Some(m) = self.more.as_deref_mut() else {
                    return false;
                };
                let Some(gi) = m.queues.iter().position(|g| *g.name == *q) else {
                    return false;
                };
                let removed = remove_from(&mut m.queues[gi].members, value);
                if m.queues[gi].members.is_empty() {
                    m.queues.swap_remove(gi);
                }
                removed
            }
        };
        self.trim();
        removed
    }
}

/// Removes one `value` from `v` (order is not kept), giving memory back when
/// the vector gets sparse.
fn remove_from<T: PartialEq>(v: &mut Vec<T>, value: &T) -> bool {
    let Some(i) = v.iter().position(|x| x == value) else {
        return false;
    };
    v.swap_remove(i);
    if v.capacity() > 8 && v.len() < v.capacity() / 4 {
        v.shrink_to(v.len() * 2);
    }
    true
}

/// Up to this many literal children, a level keeps them in a vector.
const SMALL_MAX: usize = 8;

/// The longest token a [`Tok`] holds inline (a NUID, as in an inbox
/// subject, is 22 bytes).
const INLINE_TOK: usize = 22;

/// A literal child's token: inline up to [`INLINE_TOK`] bytes, so that a
/// subscription's own node costs its level no allocation of its own (issue
/// #17: a 32-byte heap chunk per idle subscription); longer ones boxed.
/// 24 bytes. Compares as its bytes.
enum Tok {
    Inline { len: u8, bytes: [u8; INLINE_TOK] },
    Heap(Box<[u8]>),
}

impl Tok {
    fn new(tok: &[u8]) -> Tok {
        match u8::try_from(tok.len()) {
            Ok(len) if tok.len() <= INLINE_TOK => {
                let mut bytes = [0; INLINE_TOK];
                bytes[..tok.len()].copy_from_slice(tok);
                Tok::Inline { len, bytes }
            }
            _ => Tok::Heap(tok.into()),
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Tok::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Tok::Heap(b) => b,
        }
    }
}

impl core::borrow::Borrow<[u8]> for Tok {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Tok {
    fn eq(&self, other: &Tok) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Tok {}

impl PartialOrd for Tok {
    fn partial_cmp(&self, other: &Tok) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tok {
    fn cmp(&self, other: &Tok) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

enum Children<T> {
    Small(Vec<(Tok, Node<T>)>),
    Large(BTreeMap<Tok, Node<T>>),
}

impl<T> Children<T> {
    fn len(&self) -> usize {
        match self {
            Children::Small(v) => v.len(),
            Children::Large(m) => m.len(),
        }
    }

    #[inline]
    fn get(&self, tok: &[u8]) -> Option<&Node<T>> {
        match self {
            Children::Small(v) => v.iter().find(|(k, _)| k.as_bytes() == tok).map(|(_, n)| n),
            Children::Large(m) => m.get(tok),
        }
    }

    fn get_mut(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match self {
            Children::Small(v) => v
                .iter_mut()
                .find(|(k, _)| k.as_bytes() == tok)
                .map(|(_, n)| n),
            Children::Large(m) => m.get_mut(tok),
        }
    }

    fn get_or_insert(&mut self, tok: &[u8]) -> &mut Node<T> {
        if let Children::Small(v) = self {
            if v.len() >= SMALL_MAX && !v.iter().any(|(k, _)| k.as_bytes() == tok) {
                *self = Children::Large(core::mem::take(v).into_iter().collect());
            }
        }
        match self {
            Children::Small(v) => {
                let i = match v.iter().position(|(k, _)| k.as_bytes() == tok) {
                    Some(i) => i,
                    None => {
                        v.push((Tok::new(tok), Node::default()));
                        v.len() - 1
                    }
                };
                &mut v[i].1
            }
            Children::Large(m) => m.entry(Tok::new(tok)).or_default(),
        }
    }

    fn remove(&mut self, tok: &[u8]) {
        match self {
            Children::Small(v) => {
                if let Some(i) = v.iter().position(|(k, _)| k.as_bytes() == tok) {
                    v.swap_remove(i);
                }
            }
            Children::Large(m) => {
                m.remove(tok);
                if m.len() <= SMALL_MAX / 2 {
                    *self = Children::Small(core::mem::take(m).into_iter().collect());
                }
            }
        }
    }

    fn for_each_mut(&mut self, mut f: impl FnMut(&[u8], &mut Node<T>)) {
        match self {
            Children::Small(v) => v.iter_mut().for_each(|(k, n)| f(k.as_bytes(), n)),
            Children::Large(m) => m.iter_mut().for_each(|(k, n)| f(k.as_bytes(), n)),
        }
    }

    fn for_each<'a>(&'a self, mut f: impl FnMut(&'a [u8], &'a Node<T>)) {
        match self {
            Children::Small(v) => v.iter().for_each(|(k, n)| f(k.as_bytes(), n)),
            Children::Large(m) => m.iter().for_each(|(k, n)| f(k.as_bytes(), n)),
        }
    }
}

struct Level<T> {
    literals: Children<T>,
    /// The `*` child.
    pwc: Option<Box<Node<T>>>,
    /// The `>` child.
    fwc: Option<Box<Node<T>>>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            literals: Children::Small(Vec::new()),
            pwc: None,
            fwc: None,
        }
    }
}

impl<T> Level<T> {
    fn child_count(&self) -> usize {
        self.literals.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    #[inline]
    fn child(&self, tok: &[u8]) -> Option<&Node<T>> {
        match tok {
            b"*" => self.pwc.as_deref(),
            b">" => self.fwc.as_deref(),
            _ => self.literals.get(tok),
        }
    }

    fn child_mut(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match tok {
            b"*" => self.pwc.as_deref_mut(),
            b">" => self.fwc.as_deref_mut(),
            _ => self.literals.get_mut(tok),
        }
    }

    fn child_or_insert(&mut self, tok: &[u8]) -> &mut Node<T> {
        match tok {
            b"*" => self.pwc.get_or_insert_with(Default::default),
            b">" => self.fwc.get_or_insert_with(Default::default),
            _ => self.literals.get_or_insert(tok),
        }
    }

    fn remove_child(&mut self, tok: &[u8]) {
        match tok {
            b"*" => self.pwc = None,
            b">" => self.fwc = None,
            _ => self.literals.remove(tok),
        }
    }

    /// Moves every child's next level into `out` (for iterative drop).
    #[allow(clippy::vec_box)] // moving the boxes avoids moving the levels
    fn take_next_levels(&mut self, out: &mut Vec<Box<Level<T>>>) {
        let mut take = |n: &mut Node<T>| {
            if let Some(l) = n.next.take() {
                out.push(l);
            }
        };
        self.literals.for_each_mut(|_, n| take(n));
        if let Some(n) = self.pwc.as_deref_mut() {
            take(n);
        }
        if let Some(n) = self.fwc.as_deref_mut() {
            take(n);
        }
    }

    fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a [u8], &'a Node<T>)) {
        self.literals.for_each(&mut f);
        if let Some(n) = self.pwc.as_deref() {
            f(PARTIAL_WILDCARD, n);
        }
        if let Some(n) = self.fwc.as_deref() {
            f(FULL_WILDCARD, n);
        }
    }
}

/// Drops deep tries without recursion (filters may have ~2000 tokens).
impl<T> Drop for Level<T> {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.take_next_levels(&mut stack);
        while let Some(mut l) = stack.pop() {
            l.take_next_levels(&mut stack);
        }
    }
}

/// The subscription index of one account: filters (with optional queue
/// group) → values, matched against published subjects.
///
/// A token trie as nats-server's `sublist.go`: each level holds its literal
/// children (a small vector, or a B-tree map above 8 children), a `*` child
/// and a `>` child; each node holds its plain subscriptions and its queue
/// subscriptions grouped by queue name. Removing the last subscription of a
/// path prunes the path's empty nodes, so memory returns after unsubscribe.
/// No operation recurses, so deep filters cannot exhaust the stack.
///
/// Values are compared with `PartialEq` (the router uses `Arc` pointer
/// equality). Inserting the same (filter, queue, value) twice stores it
/// twice: it then matches twice and needs two removals.
///
/// [`match_subject`](Self::match_subject) keeps a bounded cache of results
/// keyed by subject bytes ([`DEFAULT_CACHE_CAPACITY`] entries, 4-way
/// set-associative, evicting within a set when full). A cached match does
/// not allocate. Every insert and successful remove bumps
/// [`generation`](Self::generation) and drops the cached results it could
/// change: for a literal filter the one entry with the same bytes, for a
/// wildcard filter every entry the filter matches. Results already handed
/// out are immutable snapshots.
///
/// Costs: insert is O(tokens) (plus O(entries) cache scan for wildcard
/// filters); remove is O(tokens + subscriptions on that exact filter);
/// an uncached match visits only the trie branches that can match.
///
/// ```
/// use natsws_core::subject::{Filter, Sublist};
///
/// let mut subs = Sublist::new();
/// subs.insert(&Filter::from_static("orders.*"), None, "audit");
/// subs.insert(&Filter::from_static("orders.>"), Some(b"workers"), "w1");
/// subs.insert(&Filter::from_static("orders.new"), Some(b"workers"), "w2");
///
/// let r = subs.match_subject(b"orders.new");
/// assert_eq!(r.plain, ["audit"]);
/// // One group gathered across `orders.>` and `orders.new`.
/// assert_eq!(r.queues.len(), 1);
/// assert_eq!(&*r.queues[0].name, b"workers");
/// assert_eq!(r.queues[0].members.len(), 2);
///
/// assert!(subs.match_subject(b"orders").is_empty()); // `>` needs a token
/// assert!(subs.remove(&Filter::from_static("orders.*"), None, &"audit"));
/// assert!(subs.match_subject(b"orders.new").plain.is_empty());
/// ```
pub struct Sublist<T: Clone + PartialEq> {
    root: Level<T>,
    count: usize,
    generation: u64,
    cache: Cache<SublistResult<T>>,
    empty: Arc<SublistResult<T>>,
}

impl<T: Clone + PartialEq> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq> fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("len", &self.count)
            .field("generation", &self.generation)
            .field("cache", &self.cache_stats())
            .finish_non_exhaustive()
    }
}

impl<T: Clone + PartialEq> Sublist<T> {
    /// An empty sublist with a cache of [`DEFAULT_CACHE_CAPACITY`] entries.
    /// Allocates only the shared empty result; the cache table is allocated
    /// on first use.
    pub fn new() -> Self {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty sublist whose cache holds at most `entries` results (rounded
    /// up to a power of two times four, as the table is 4-way
    /// set-associative); 0 disables the cache.
    pub fn with_cache_capacity(entries: usize) -> Self {
        Sublist {
            root: Level::default(),
            count: 0,
            generation: 0,
            cache: Cache::new(entries),
            empty: Arc::new(SublistResult::new()),
        }
    }

    /// Number of subscriptions held (insertions minus successful removals).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bumps on every insert and every successful remove. Callers that keep
    /// their own derived caches compare it to know when to drop them.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            hits: self.cache.hits,
            misses: self.cache.misses,
            entries: self.cache.len(),
            capacity: self.cache.capacity(),
        }
    }

    /// Adds a subscription: `value` receives messages whose subject `filter`
    /// matches; with `queue`, as a member of that queue group (queue names
    /// are opaque bytes, spec §1.2).
    pub fn insert(&mut self, filter: &Filter, queue: Option<&[u8]>, value: T) {
        self.insert_valid(filter.as_bytes(), queue, value);
    }

    /// [`Sublist::insert`] with the bytes of a filter known to be valid
    /// (a [`crate::router::Subscription`] keeps its filter's bytes, not a
    /// [`Filter`]).
    pub(crate) fn insert_valid(&mut self, filter: &[u8], queue: Option<&[u8]>, value: T) {
        let mut toks = tokens(filter).peekable();
        let mut level = &mut self.root;
        while let Some(tok) = toks.next() {
            let node = level.child_or_insert(tok);
            if toks.peek().is_none() {
                node.add(queue, value);
                break;
            }
            level = node.next.get_or_insert_with(Default::default);
        }
        self.count += 1;
        self.changed(filter);
    }

    /// Removes one subscription equal to `value` inserted with the same
    /// filter and queue. Returns whether one was found. Prunes nodes left
    /// empty.
    pub fn remove(&mut self, filter: &Filter, queue: Option<&[u8]>, value: &T) -> bool {
        self.remove_valid(filter.as_bytes(), queue, value)
    }

    /// [`Sublist::remove`] with the bytes of a filter known to be valid.
    pub(crate) fn remove_valid(&mut self, bytes: &[u8], queue: Option<&[u8]>, value: &T) -> bool {
        let mut toks = tokens(bytes).peekable();
        let mut level = &mut self.root;
        let removed = loop {
            let Some(tok) = toks.next() else {
                return false;
            };
            let Some(node) = level.child_mut(tok) else {
                return false;
            };
            if toks.peek().is_none() {
                break node.remove(queue, value);
            }
            let Some(next) = node.next.as_deref_mut() else {
                return false;
            };
            level = next;
        };
        if !removed {
            return false;
        }
        self.prune(bytes);
        self.count -= 1;
        self.changed(bytes);
        true
    }

    fn changed(&mut self, filter: &[u8]) {
        self.generation = self.generation.wrapping_add(1);
        if is_literal(filter) {
            self.cache.remove(filter);
        } else {
            self.cache
                .remove_matching(|subject| matches_valid(filter, subject));
        }
    }

    /// After a removal at the end of `path`: removes the longest chain of
    /// nodes ending at that node that hold no subscription and no other
    /// child.
    fn prune(&mut self, path: &[u8]) {
        let ntoks = tokens(path).count();
        // Depth (0-based) of the shallowest node to cut, if any.
        let mut cut = None;
        let mut level = &self.root;
        for (depth, tok) in tokens(path).enumerate() {
            let Some(node) = level.child(tok) else {
                return;
            };
            let last = depth + 1 == ntoks;
            let children = node.next.as_deref().map_or(0, Level::child_count);
            let removable = !node.has_subs() && children == usize::from(!last);
            if !removable {
                cut = None;
            } else if cut.is_none() {
                cut = Some(depth);
            }
            if last {
                break;
            }
            match node.next.as_deref() {
                Some(next) => level = next,
                None => return,
            }
        }
        let Some(cut) = cut else {
            return;
        };
        let mut toks = tokens(path);
        if cut == 0 {
            if let Some(tok) = toks.next() {
                self.root.remove_child(tok);
            }
            return;
        }
        // Walk to the parent node of the cut, then cut below it.
        let mut level = &mut self.root;
        for _ in 0..cut - 1 {
            let Some(next) = toks
                .next()
                .and_then(|t| level.child_mut(t))
                .and_then(|n| n.next.as_deref_mut())
            else {
                return;
            };
            level = next;
        }
        let Some(parent) = toks.next().and_then(|t| level.child_mut(t)) else {
            return;
        };
        let Some(tok) = toks.next() else {
            return;
        };
        if let Some(next) = parent.next.as_deref_mut() {
            next.remove_child(tok);
            if next.child_count() == 0 {
                parent.next = None;
            }
        }
    }

    /// The subscriptions a message published to `subject` goes to. Answers
    /// from the cache when it can (no allocation); otherwise walks the trie
    /// and caches the result. A subject that is empty or has an empty token
    /// matches nothing; `*`/`>` tokens in `subject` are ordinary tokens
    /// (spec §1.2).
    pub fn match_subject(&mut self, subject: &[u8]) -> Arc<SublistResult<T>> {
        if !self.cache.enabled() {
            self.cache.misses += 1;
            return self.match_shared(subject);
        }
        let hash = cache::hash(subject);
        if let Some(hit) = self.cache.get(subject, hash) {
            return hit;
        }
        if !is_matchable(subject) {
            return Arc::clone(&self.empty);
        }
        let result = self.match_shared(subject);
        self.cache.insert(subject, hash, Arc::clone(&result));
        result
    }

    fn match_shared(&self, subject: &[u8]) -> Arc<SublistResult<T>> {
        let r = self.match_uncached(subject);
        if r.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::new(r)
        }
    }

    /// Matches without the cache (and without touching it): walks the trie.
    pub fn match_uncached(&self, subject: &[u8]) -> SublistResult<T> {
        if !is_matchable(subject) {
            return SublistResult::new();
        }
        let mut nodes: Vec<&Node<T>> = Vec::new();
        // nats-server's `matchLevel` order: at a level that is not the last,
        // the `>` node, then everything under the `*` child, then everything
        // under the literal child; at the last level the `>` node, the
        // literal node, then the `*` node. The branch being walked is in
        // `cur`; a literal branch waiting for its `*` sibling's subtree is on
        // `stack`, so a match that meets no `*` child never pushes.
        let mut stack: Vec<(&Level<T>, usize)> = Vec::new();
        let mut cur = Some((&self.root, 0));
        while let Some((level, start)) = cur.take().or_else(|| stack.pop()) {
            let rest = &subject[start..];
            let (tok, next) = match rest.iter().position(|&b| b == TOKEN_SEPARATOR) {
                Some(i) => (&rest[..i], Some(start + i + 1)),
                None => (rest, None),
            };
            if let Some(n) = level.fwc.as_deref() {
                nodes.push(n);
            }
            let literal = level.literals.get(tok);
            match next {
                None => {
                    if let Some(n) = literal {
                        nodes.push(n);
                    }
                    if let Some(n) = level.pwc.as_deref() {
                        nodes.push(n);
                    }
                }
                Some(off) => {
                    cur = literal.and_then(|n| n.next.as_deref()).map(|l| (l, off));
                    if let Some(l) = level.pwc.as_deref().and_then(|n| n.next.as_deref()) {
                        if let Some(c) = cur.replace((l, off)) {
                            stack.push(c);
                        }
                    }
                }
            }
        }
        build_result(&nodes)
    }

    /// Calls `f(filter, queue, value)` for every subscription held, in no
    /// particular order (for monitoring, `/subsz`). The filter bytes are
    /// rebuilt from the trie path.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, &T)) {
        let mut path: Vec<u8> = Vec::new();
        // (node, path length before this node's token, token)
        let mut stack: Vec<(&Node<T>, usize, &[u8])> = Vec::new();
        self.root.for_each_child(|tok, n| stack.push((n, 0, tok)));
        while let Some((node, prefix, tok)) = stack.pop() {
            path.truncate(prefix);
            if prefix > 0 {
                path.push(TOKEN_SEPARATOR);
            }
            path.extend_from_slice(tok);
            for v in node.plain() {
                f(&path, None, v);
            }
            for g in node.queue_groups() {
                for v in &g.members {
                    f(&path, Some(&g.name), v);
                }
            }
            if let Some(next) = node.next.as_deref() {
                let len = path.len();
                next.for_each_child(|t, n| stack.push((n, len, t)));
            }
        }
    }

    /// Number of trie nodes (for tests and memory monitoring): 0 when empty,
    /// and back to 0 after every subscription is removed.
    pub fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack: Vec<&Level<T>> = alloc::vec![&self.root];
        while let Some(level) = stack.pop() {
            level.for_each_child(|_, n| {
                count += 1;
                if let Some(l) = n.next.as_deref() {
                    stack.push(l);
                }
            });
        }
        count
    }
}

fn build_result<T: Clone>(nodes: &[&Node<T>]) -> SublistResult<T> {
    let nplain = nodes.iter().map(|n| n.plain_len()).sum();
    let mut plain = Vec::with_capacity(nplain);
    for n in nodes {
        plain.extend(n.plain().cloned());
    }
    let mut groups: Vec<&QueueSubs<T>> = nodes.iter().flat_map(|n| n.queue_groups()).collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let mut queues: Vec<QueueMatch<T>> = Vec::new();
    for g in groups {
        match queues.last_mut() {
            Some(last) if last.name == g.name => last.members.extend_from_slice(&g.members),
            _ => queues.push(QueueMatch {
                name: g.name.clone(),
                members: g.members.clone(),
            }),
        }
    }
    SublistResult { plain, queues }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &'static str) -> Filter {
        Filter::from_static(s)
    }

    /// One subscriber costs no allocation and no more room than the
    /// vector it replaces (the enum packs into the vector's niche).
    #[test]
    fn plain_one_is_inline() {
        assert_eq!(core::mem::size_of::<Node<Arc<u8>>>(), 24);
        // A literal child's token inline up to 22 bytes (no allocation).
        assert_eq!(core::mem::size_of::<Tok>(), 24);
        for n in [0, 1, 21, 22, 23, 300] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let t = Tok::new(&b);
            assert_eq!(t.as_bytes(), &b[..]);
            assert_eq!(matches!(t, Tok::Inline { .. }), n <= INLINE_TOK);
        }
        assert!(Tok::new(b"ab") < Tok::new(b"abc") && Tok::new(&[1; 30]) > Tok::new(b"\x01"));
        let plain = |n: &Node<usize>| n.plain().copied().collect::<Vec<_>>();
        let mut p = Node::default();
        p.add(None, 1usize);
        assert!(p.one == Some(1) && p.more.is_none());
        p.add(None, 2);
        p.add(None, 3);
        assert_eq!(plain(&p), [1, 2, 3]);
        assert!(p.remove(None, &1));
        assert!(!p.remove(None, &1));
        assert_eq!(plain(&p), [3, 2]);
        assert!(p.remove(None, &3));
        assert!(p.one == Some(2) && p.more.is_none());
        // Queue members share the box with the other plain ones.
        p.add(Some(b"q"), 7);
        p.add(None, 4);
        assert!(p.remove(None, &2));
        assert_eq!(plain(&p), [4]);
        assert_eq!(p.queue_groups()[0].members, [7]);
        assert!(!p.remove(Some(b"r"), &7));
        assert!(p.remove(Some(b"q"), &7));
        assert!(p.one == Some(4) && p.more.is_none());
        assert!(p.remove(None, &4));
        assert!(!p.has_subs());
        assert!(!p.remove(None, &4));
    }

    #[test]
    fn prune_returns_to_empty() {
        let mut s = Sublist::new();
        s.insert(&f("a.b.c"), None, 1);
        s.insert(&f("a.b"), None, 2);
        s.insert(&f("a.*.>"), Some(b"q"), 3);
        assert_eq!(s.node_count(), 5);
        assert!(s.remove(&f("a.b.c"), None, &1));
        assert_eq!(s.node_count(), 4);
        assert!(s.remove(&f("a.b"), None, &2));
        assert_eq!(s.node_count(), 3);
        assert!(!s.remove(&f("a.*.>"), None, &3));
        assert!(!s.remove(&f("a.*.>"), Some(b"p"), &3));
        assert!(s.remove(&f("a.*.>"), Some(b"q"), &3));
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.len(), 0);
        assert_eq!(s.root.child_count(), 0);
    }

    #[test]
    fn children_switch_between_small_and_large() {
        let mut s = Sublist::new();
        let filters: Vec<Filter> = (0..40)
            .map(|i| Filter::try_from(alloc::format!("x.{i}").as_str()).unwrap())
            .collect();
        for (i, fl) in filters.iter().enumerate() {
            s.insert(fl, None, i);
        }
        for (i, fl) in filters.iter().enumerate() {
            assert_eq!(s.match_uncached(fl.as_bytes()).plain, [i]);
        }
        for (i, fl) in filters.iter().enumerate().skip(5) {
            assert!(s.remove(fl, None, &i));
        }
        for (i, fl) in filters.iter().enumerate().take(5) {
            assert_eq!(s.match_uncached(fl.as_bytes()).plain, [i]);
        }
        for (i, fl) in filters.iter().enumerate().take(5) {
            assert!(s.remove(fl, None, &i));
        }
        assert_eq!(s.node_count(), 0);
    }

    /// Tokens held inline and boxed (around [`INLINE_TOK`]) under one
    /// level, small and large: each matches only itself, prefixes and
    /// extensions of a token included, and removal finds it.
    #[test]
    fn inline_and_boxed_tokens() {
        let mut s = Sublist::new();
        let mut toks: Vec<alloc::string::String> = Vec::new();
        for n in [1, 21, 22, 23, 40] {
            for c in ['a', 'b'] {
                toks.push(core::iter::repeat_n(c, n).collect());
            }
        }
        let filters: Vec<Filter> = toks
            .iter()
            .map(|t| Filter::try_from(alloc::format!("k.{t}").as_str()).unwrap())
            .collect();
        for (i, fl) in filters.iter().enumerate() {
            s.insert(fl, None, i);
        }
        assert_eq!(core::mem::size_of::<Tok>(), 24);
        for (i, fl) in filters.iter().enumerate() {
            assert_eq!(s.match_uncached(fl.as_bytes()).plain, [i], "{fl:?}");
        }
        assert!(s
            .match_uncached(b"k.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .plain
            .is_empty());
        for (i, fl) in filters.iter().enumerate() {
            assert!(s.remove(fl, None, &i));
        }
        assert_eq!(s.node_count(), 0);
    }

    #[test]
    fn deep_filter_no_stack_overflow() {
        let mut deep = Vec::new();
        for _ in 0..20_000 {
            deep.extend_from_slice(b"a.");
        }
        deep.extend_from_slice(b">");
        let fl = Filter::try_from(deep.clone()).unwrap();
        let mut s = Sublist::new();
        s.insert(&fl, None, 1u8);
        deep.pop();
        deep.push(b'z');
        assert_eq!(s.match_subject(&deep).plain, [1]);
        let mut n = 0;
        s.for_each(|_, _, _| n += 1);
        assert_eq!(n, 1);
        drop(s);
        let mut s = Sublist::new();
        s.insert(&fl, None, 1u8);
        assert!(s.remove(&fl, None, &1));
        assert_eq!(s.node_count(), 0);
    }
}
