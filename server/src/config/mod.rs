//! The NATS configuration language (nats-protocol.md §4.1), hand-written.
//!
//! [`parse_file`] / [`parse_str`] turn text into a [`Document`]: a tree of
//! [`Value`]s where every value and key carries its [`Span`]
//! (`file:line:col`). Sizes are applied during parsing (`1K` = 1000,
//! `1KB` = `1Ki` = 1024, …); durations stay strings for the option layer
//! ([`crate::options`]). Variables (`$name`) resolve against keys defined
//! earlier in the current and enclosing maps, then the environment (whose
//! text is parsed as a config value); `include` merges another file's keys
//! into the current map.
//!
//! Deviations from nats-server `conf/` (all make bad input fail loudly
//! instead of hanging or producing a half-built tree):
//! * a key without a value inside a map (`{...}`) is an error
//!   `expected a value for key "..."`;
//! * an unterminated block string `(` is `Unexpected EOF.` (Go loops);
//! * `1m30s` unquoted is the string `"1m30s"` (newer lex.go may split it);
//!   `1]` ends a number;
//! * nesting is limited to [`parser::MAX_DEPTH`] and includes to
//!   [`parser::MAX_INCLUDE_DEPTH`];
//! * columns are 1-based on every line (Go: 0-based on line 1).

mod error;
mod lexer;
pub mod parser;
mod value;

use std::path::Path;
use std::sync::Arc;

pub use error::{ConfigError, Diagnostic, Span};
pub use parser::{Document, EnvLookup};
pub use value::{Entry, Map, Node, Value};

/// Process environment lookup (the default for `$VAR` fallback).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parse a config file; includes are resolved relative to its directory.
///
/// Errors: the file cannot be read (`error opening config file: <err>`) or
/// any syntax/variable/include error, as `file:line:col: reason`.
pub fn parse_file(path: &Path) -> Result<Document, ConfigError> {
    parse_file_with_env(path, &process_env)
}

/// [`parse_file`] with an explicit environment lookup.
pub fn parse_file_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Document, ConfigError> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::bare(format!("error opening config file: {e}")))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parser::Parser::new(&src, Arc::from(path.to_string_lossy().as_ref()), dir, env).parse()
}

/// Parse config text; `origin` names it in spans, includes resolve against
/// the current directory.
pub fn parse_str(src: &str, origin: &str) -> Result<Document, ConfigError> {
    parse_str_with_env(src, origin, Path::new("."), &process_env)
}

/// [`parse_str`] with an explicit include base directory and environment.
pub fn parse_str_with_env(
    src: &str,
    origin: &str,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Document, ConfigError> {
    parser::Parser::new(src, Arc::from(origin), base_dir.to_path_buf(), env).parse()
}
