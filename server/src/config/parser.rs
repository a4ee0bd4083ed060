//! Structure of the NATS config language (nats-server `conf/parse.go` and the
//! structural states of `conf/lex.go`; nats-protocol.md §4.1): top level,
//! maps, arrays, variables, includes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, Diagnostic, Span};
use super::lexer::{is_blank, is_key_sep, is_nl, is_space, Cursor, Scalar};
use super::value::{Entry, Map, Node, Value};

/// Maximum nesting of maps and arrays (protects the stack; nats-server has
/// no limit).
pub const MAX_DEPTH: usize = 64;
/// Maximum nesting of `include` (nats-server has no limit and recurses
/// forever on a self-include).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Environment lookup used for `$VAR` fallback.
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// A parsed config: the top-level map plus parse warnings.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Top-level entries.
    pub root: Map,
    /// Warnings (for example `config has no values or is empty`).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    Map,
}

pub(crate) struct Parser<'e> {
    cur: Cursor,
    /// Maps being built, outermost first (variable scopes).
    scopes: Vec<Map>,
    base_dir: PathBuf,
    depth: usize,
    include_depth: usize,
    env: EnvLookup<'e>,
    env_stack: Vec<String>,
}

impl<'e> Parser<'e> {
    pub(crate) fn new(src: &str, file: Arc<str>, base_dir: PathBuf, env: EnvLookup<'e>) -> Self {
        Parser {
            cur: Cursor::new(src, file),
            scopes: vec![Map::default()],
            base_dir,
            depth: 0,
            include_depth: 0,
            env,
            env_stack: Vec::new(),
        }
    }

    pub(crate) fn parse(mut self) -> Result<Document, ConfigError> {
        self.parse_top()?;
        let root = self.scopes.pop().unwrap_or_default();
        let mut warnings = Vec::new();
        if root.is_empty() {
            warnings.push(Diagnostic::at(
                &Span {
                    file: self.cur.file().clone(),
                    line: 1,
                    col: 1,
                },
                "config has no values or is empty",
            ));
        }
        Ok(Document { root, warnings })
    }

    /// lexTop / lexTopValueEnd.
    fn parse_top(&mut self) -> Result<(), ConfigError> {
        // Position of a top-level `}` once seen: only the end of the file
        // may follow it (JSON-style wrapping braces).
        let mut closed: Option<Span> = None;
        loop {
            match self.cur.peek() {
                None => return Ok(()),
                Some(c) if is_space(c) => {
                    self.cur.bump();
                }
                // The whole file may be wrapped in braces (JSON).
                Some('{') if closed.is_none() => {
                    self.cur.bump();
                }
                Some('}') => {
                    closed.get_or_insert_with(|| self.cur.span());
                    self.cur.bump();
                }
                _ if self.cur.at_comment() => self.cur.skip_comment(),
                _ => {
                    if let Some(span) = closed {
                        return Err(ConfigError::at(&span, "Unexpected '}' at top level"));
                    }
                    self.parse_entry(Ctx::Top)?;
                    if self.top_value_end()? {
                        closed = Some(self.cur.span());
                    }
                }
            }
        }
    }

    /// lexTopValueEnd; returns true when the value was ended by `}`.
    fn top_value_end(&mut self) -> Result<bool, ConfigError> {
        loop {
            match self.cur.peek() {
                Some(c) if is_blank(c) => {
                    self.cur.bump();
                }
                _ if self.cur.at_comment() => return Ok(false),
                None => return Ok(false),
                Some('}') => {
                    self.cur.bump();
                    return Ok(true);
                }
                Some(c) if is_nl(c) || matches!(c, ';' | ',') => {
                    self.cur.bump();
                    return Ok(false);
                }
                Some(c) => {
                    return Err(self.cur.err(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, but got '{c}' instead."
                    )))
                }
            }
        }
    }

    /// One `key sep value` (or `include path`) into the innermost scope.
    fn parse_entry(&mut self, ctx: Ctx) -> Result<(), ConfigError> {
        let key_span = self.cur.span();
        let (key, bare) = self.cur.scan_key()?;
        if bare && key.eq_ignore_ascii_case("include") && self.cur.peek().is_some_and(is_space) {
            let path = self.cur.scan_include_path()?;
            return self.include(&path, &key_span);
        }
        // lexKeyEnd / lexMapKeyEnd: any space, then an optional separator.
        self.cur.skip_spaces();
        if self.cur.peek().is_some_and(is_key_sep) {
            self.cur.bump();
        }
        match ctx {
            // lexValue: blanks only; a newline here is an error.
            Ctx::Top => self.cur.skip_blanks(),
            // lexMapValue: any space.
            Ctx::Map => {
                self.cur.skip_spaces();
                match self.cur.peek() {
                    Some(',') => return Err(self.cur.err("Unexpected map value terminator ','.")),
                    Some('}') | None => {
                        return Err(ConfigError::at(
                            &key_span,
                            format!("expected a value for key \"{key}\""),
                        ))
                    }
                    _ => {}
                }
            }
        }
        if self.cur.peek().is_none() {
            return Err(ConfigError::at(
                &key_span,
                format!("expected a value for key \"{key}\""),
            ));
        }
        let value = self.parse_value()?;
        self.scope().insert(Entry {
            key,
            key_span,
            value,
            used_as_variable: false,
        });
        Ok(())
    }

    fn scope(&mut self) -> &mut Map {
        // The stack always has the top-level map at index 0.
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// lexValue.
    fn parse_value(&mut self) -> Result<Node, ConfigError> {
        self.cur.skip_blanks();
        let span = self.cur.span();
        let value = match self.cur.peek() {
            Some('[') => {
                self.cur.bump();
                self.enter()?;
                let v = self.parse_array();
                self.depth -= 1;
                v?
            }
            Some('{') => {
                self.cur.bump();
                self.enter()?;
                let v = self.parse_map();
                self.depth -= 1;
                v?
            }
            _ => match self.cur.scan_scalar()? {
                Scalar::Str(s) => Value::String(s),
                Scalar::Int(i) => Value::Integer(i),
                Scalar::Float(f) => Value::Float(f),
                Scalar::Bool(b) => Value::Bool(b),
                Scalar::Datetime(d) => Value::Datetime(d),
                Scalar::Var(name) => return self.resolve(&name, span),
            },
        };
        Ok(Node { value, span })
    }

    fn enter(&mut self) -> Result<(), ConfigError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.cur.err(format!(
                "maps and arrays nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// lexArrayValue / lexArrayValueEnd; `[` consumed.
    fn parse_array(&mut self) -> Result<Value, ConfigError> {
        let mut items = Vec::new();
        loop {
            // lexArrayValue
            match self.cur.peek() {
                Some(c) if is_space(c) => {
                    self.cur.bump();
                    continue;
                }
                _ if self.cur.at_comment() => {
                    self.cur.skip_comment();
                    continue;
                }
                Some(',') => return Err(self.cur.err("Unexpected array value terminator ','.")),
                Some(']') => {
                    self.cur.bump();
                    return Ok(Value::Array(items));
                }
                None => return Err(self.cur.err("Unexpected EOF.")),
                _ => {}
            }
            items.push(self.parse_value()?);
            // lexArrayValueEnd
            loop {
                match self.cur.peek() {
                    Some(c) if is_blank(c) => {
                        self.cur.bump();
                    }
                    _ if self.cur.at_comment() => self.cur.skip_comment(),
                    Some(c) if c == ',' || is_nl(c) => {
                        self.cur.bump();
                        break;
                    }
                    Some(']') => {
                        self.cur.bump();
                        return Ok(Value::Array(items));
                    }
                    other => {
                        return Err(self.cur.err(format!(
                            "Expected an array value terminator ',' or an array terminator ']', but got '{}' instead.",
                            shown(other)
                        )))
                    }
                }
            }
        }
    }

    /// lexMapKeyStart / lexMapValueEnd; `{` consumed.
    fn parse_map(&mut self) -> Result<Value, ConfigError> {
        self.scopes.push(Map::default());
        let r = self.parse_map_body();
        let map = self.scopes.pop().unwrap_or_default();
        r.map(|()| Value::Map(map))
    }

    fn parse_map_body(&mut self) -> Result<(), ConfigError> {
        loop {
            match self.cur.peek() {
                Some(c) if is_space(c) => {
                    self.cur.bump();
                    continue;
                }
                _ if self.cur.at_comment() => {
                    self.cur.skip_comment();
                    continue;
                }
                Some('}') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some(c) if is_key_sep(c) => {
                    return Err(self.cur.err(format!("Unexpected key separator '{c}'.")))
                }
                Some(']') => return Err(self.cur.err("Unexpected array end ']' processing map.")),
                None => return Err(self.cur.err("Unexpected EOF.")),
                _ => {}
            }
            self.parse_entry(Ctx::Map)?;
            loop {
                match self.cur.peek() {
                    Some(c) if is_blank(c) => {
                        self.cur.bump();
                    }
                    _ if self.cur.at_comment() => self.cur.skip_comment(),
                    Some(c) if matches!(c, ';' | ',') || is_nl(c) => {
                        self.cur.bump();
                        break;
                    }
                    Some('}') => {
                        self.cur.bump();
                        return Ok(());
                    }
                    other => {
                        return Err(self.cur.err(format!(
                            "Expected a map value terminator ',' or a map terminator '}}', but got '{}' instead.",
                            shown(other)
                        )))
                    }
                }
            }
        }
    }

    /// Variable lookup (parse.go lookupVariable): bcrypt special case, then
    /// enclosing maps innermost first, then the environment.
    fn resolve(&mut self, name: &str, span: Span) -> Result<Node, ConfigError> {
        if name.starts_with("2a$") {
            return Ok(Node {
                value: Value::String(format!("${name}")),
                span,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(e) = scope.get_mut(name) {
                e.used_as_variable = true;
                return Ok(Node {
                    value: e.value.value.clone(),
                    span,
                });
            }
        }
        let line = span.line;
        if let Some(text) = (self.env)(name) {
            if self.env_stack.iter().any(|n| n == name) {
                return Err(ConfigError::at(
                    &span,
                    format!(
                        "variable reference for '{name}' on line {line} could not be parsed: variable reference cycle for '{name}'"
                    ),
                ));
            }
            let mut sub = Parser::new(
                &format!("pk={text}"),
                Arc::from(format!("${name}")),
                self.base_dir.clone(),
                self.env,
            );
            sub.env_stack = self.env_stack.clone();
            sub.env_stack.push(name.to_string());
            sub.include_depth = MAX_INCLUDE_DEPTH; // no includes from env values
            return match sub.parse() {
                Ok(doc) => match doc.root.get("pk") {
                    Some(e) => Ok(Node {
                        value: e.value.value.clone(),
                        span,
                    }),
                    None => Err(not_found(name, &span)),
                },
                Err(e) => Err(ConfigError::at(
                    &span,
                    format!(
                        "variable reference for '{name}' on line {line} could not be parsed: {}",
                        e.errors.first().map(|d| d.message.as_str()).unwrap_or("")
                    ),
                )),
            };
        }
        Err(not_found(name, &span))
    }

    /// `include path`: parse the file (relative to the including file's
    /// directory) as a full config and merge its keys into the current map.
    fn include(&mut self, path: &str, span: &Span) -> Result<(), ConfigError> {
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                span,
                format!("error parsing include file '{path}', includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            ));
        }
        let full = self.base_dir.join(path);
        let wrap =
            |e: String| ConfigError::at(span, format!("error parsing include file '{path}', {e}"));
        let src = std::fs::read_to_string(&full)
            .map_err(|e| wrap(format!("open {}: {e}", full.display())))?;
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut sub = Parser::new(
            &src,
            Arc::from(full.to_string_lossy().as_ref()),
            dir,
            self.env,
        );
        sub.include_depth = self.include_depth + 1;
        sub.env_stack = self.env_stack.clone();
        let doc = sub.parse().map_err(|e| wrap(e.to_string()))?;
        for entry in doc.root.entries {
            self.scope().insert(entry);
        }
        Ok(())
    }
}

fn not_found(name: &str, span: &Span) -> ConfigError {
    ConfigError::at(
        span,
        format!(
            "variable reference for '{name}' on line {} can not be found",
            span.line
        ),
    )
}

fn shown(c: Option<char>) -> String {
    match c {
        None => "EOF".to_string(),
        Some('\n') => "\\n".to_string(),
        Some(c) => c.to_string(),
    }
}
