//! Config diagnostics: a position ([`Span`]) plus a message, collected into
//! [`ConfigError`] (nats-protocol.md §4: "errors read `<file>:<line>:<col>:
//! <reason>`; all errors and warnings are collected; any error aborts startup").

use core::fmt;
use std::sync::Arc;

/// Where a token starts: file name (as given, or `<string>` for in-memory
/// sources), 1-based line and 1-based column (in Unicode scalar values).
///
/// nats-server reports the column of the first line 0-based and of later lines
/// 1-based (a quirk of its lexer); natsws always uses 1-based columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The file the token comes from.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One error or warning: optional position and the reason text (nats-server
/// wording where one exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Position of the offending key or token; `None` for whole-config
    /// problems (for example cross-option validation in §1.4).
    pub span: Option<Span>,
    /// The reason, without position prefix.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span: Some(span.clone()),
            message: message.into(),
        }
    }

    /// A diagnostic without a position.
    pub fn bare(message: impl Into<String>) -> Self {
        Diagnostic {
            span: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(s) => write!(f, "{}: {}", s, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A failed config load: one or more [`Diagnostic`]s (never empty). Display
/// prints one diagnostic per line as `file:line:col: reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The collected errors, in file order.
    pub errors: Vec<Diagnostic>,
}

impl ConfigError {
    /// An error with one diagnostic at `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        ConfigError {
            errors: vec![Diagnostic::at(span, message)],
        }
    }

    /// An error with one diagnostic and no position.
    pub fn bare(message: impl Into<String>) -> Self {
        ConfigError {
            errors: vec![Diagnostic::bare(message)],
        }
    }

    /// True when any diagnostic's message contains `needle` (test helper).
    pub fn contains(&self, needle: &str) -> bool {
        self.errors.iter().any(|d| d.to_string().contains(needle))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl core::error::Error for ConfigError {}

impl From<Diagnostic> for ConfigError {
    fn from(d: Diagnostic) -> Self {
        ConfigError { errors: vec![d] }
    }
}
