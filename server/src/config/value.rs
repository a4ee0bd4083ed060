//! The value tree produced by the parser. Every value and every map key
//! carries the [`Span`] where it was written.

use super::error::Span;

/// A config value (nats-protocol.md §4.1). Sizes are already applied to
/// integers (`1KB` is `Integer(1024)`); durations stay strings (`"2s"`) and
/// are interpreted by the option layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Quoted, unquoted, block or IP-like string.
    String(String),
    /// Integer, size suffix applied.
    Integer(i64),
    /// Float (`1.5`).
    Float(f64),
    /// `true|yes|on` / `false|no|off` (unquoted, case-insensitive).
    Bool(bool),
    /// Zulu datetime kept as its text (`2016-05-04T18:53:41Z`).
    Datetime(String),
    /// `[ … ]`.
    Array(Vec<Node>),
    /// `{ … }`.
    Map(Map),
}

impl Value {
    /// The Go type name nats-server prints for this value in type errors
    /// (`string`, `int64`, `float64`, `bool`, `time.Time`, `[]interface {}`,
    /// `map[string]interface {}`).
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "int64",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Datetime(_) => "time.Time",
            Value::Array(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }
}

/// A value with the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts (for a value taken from a variable: where the
    /// `$name` reference is).
    pub span: Span,
}

/// One `key = value` entry of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as written (case preserved; option lookup is case-insensitive).
    pub key: String,
    /// Where the key starts; option errors point here, as nats-server does.
    pub key_span: Span,
    /// The value.
    pub value: Node,
    /// True when a later `$key` reference used this entry; such entries are
    /// exempt from "unknown field" errors (§4.1).
    pub used_as_variable: bool,
}

/// An ordered map. Duplicate keys: the last one wins (§4.1); keys are
/// compared exactly (case-sensitive), as variables are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    /// Entries in file order (a redefined key moves to its last position).
    pub entries: Vec<Entry>,
}

impl Map {
    /// Insert, replacing an entry with the same exact key.
    pub fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }

    /// Exact-key lookup.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Exact-key lookup, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// Case-insensitive lookup (last match wins), as option keys are matched.
    pub fn get_ci(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
