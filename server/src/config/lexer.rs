//! Character-level scanning for the NATS config language, following the
//! states of nats-server `conf/lex.go` (nats-protocol.md §4.1). The parser
//! ([`super::parser`]) drives it; this file knows how single tokens look.
//!
//! Character classes (as in lex.go): *space* = any Unicode white space
//! including newlines (`unicode.IsSpace`); *blank* = space or tab
//! (`isWhitespace`); *newline* = `\n` or `\r` (`isNL`).

use std::sync::Arc;

use super::error::{ConfigError, Span};

/// A scalar token produced by [`Cursor::scan_scalar`].
#[derive(Debug)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    /// `$name` (name without the `$`).
    Var(String),
}

pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

pub(crate) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

pub(crate) fn is_nl(c: char) -> bool {
    c == '\n' || c == '\r'
}

pub(crate) fn is_key_sep(c: char) -> bool {
    c == '=' || c == ':'
}

fn is_number_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Characters that end a number (lex.go's list, plus `]` so `[1]` is an
/// integer array; newer lex.go omits `]` and would lex `1]` as a string).
fn ends_number(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => is_nl(c) || is_blank(c) || matches!(c, '}' | ']' | ';' | ','),
    }
}

/// Characters that end an unquoted string (lexString).
fn ends_unquoted(c: char) -> bool {
    is_nl(c) || is_blank(c) || matches!(c, ';' | ',' | ']' | '}')
}

/// Read position over the source characters.
pub(crate) struct Cursor {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
    file: Arc<str>,
}

impl Cursor {
    pub(crate) fn new(src: &str, file: Arc<str>) -> Self {
        Cursor {
            chars: src.chars().collect(),
            pos: 0,
            line: 1,
            col: 1,
            file,
        }
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    pub(crate) fn span(&self) -> Span {
        Span {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    pub(crate) fn file(&self) -> &Arc<str> {
        &self.file
    }

    pub(crate) fn err(&self, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.span(), msg)
    }

    /// True at `#` or `//`.
    pub(crate) fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_at(1) == Some('/'),
            _ => false,
        }
    }

    /// Skip a comment up to (not including) the newline.
    pub(crate) fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_nl(c) {
                break;
            }
            self.bump();
        }
    }

    pub(crate) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    pub(crate) fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
    }

    /// A key (lexKeyStart / lexMapKeyStart). Returns the key and whether it
    /// was bare (only bare keys can be the `include` keyword).
    pub(crate) fn scan_key(&mut self) -> Result<(String, bool), ConfigError> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut key = String::new();
                loop {
                    match self.bump() {
                        None => return Err(self.err("Unexpected EOF.")),
                        Some(c) if c == q => return Ok((key, false)),
                        Some(c) => key.push(c),
                    }
                }
            }
            Some(c) if is_key_sep(c) => Err(self.err(format!("Unexpected key separator '{c}'"))),
            _ => {
                let mut key = String::new();
                while let Some(c) = self.peek() {
                    if is_space(c) || is_key_sep(c) {
                        break;
                    }
                    key.push(c);
                    self.bump();
                }
                if self.peek().is_none() {
                    return Err(self.err(format!("expected a value for key \"{key}\"")));
                }
                Ok((key, true))
            }
        }
    }

    /// The path after the `include` keyword (lexIncludeStart / lexInclude).
    pub(crate) fn scan_include_path(&mut self) -> Result<String, ConfigError> {
        self.skip_blanks();
        let mut path = String::new();
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                loop {
                    match self.bump() {
                        None => return Err(self.err("Unexpected EOF.")),
                        Some(c) if c == q => return Ok(path),
                        Some(c) => path.push(c),
                    }
                }
            }
            Some('[') => Err(self.err("Expected include value but found start of an array")),
            Some('{') => Err(self.err("Expected include value but found start of a map")),
            Some('(') => Err(self.err("Expected include value but found start of a block")),
            Some(c) if c.is_ascii_digit() || c == '-' => {
                Err(self.err("Expected include value but found start of a number"))
            }
            Some('\\') => Err(self.err("Expected include value but found escape sequence")),
            Some(c) if is_nl(c) => Err(self.err("Expected include value but found new line")),
            None => Err(self.err("Unexpected EOF.")),
            _ => {
                while let Some(c) = self.peek() {
                    if is_nl(c) || is_blank(c) || c == ';' || c == '}' {
                        break;
                    }
                    self.bump();
                    if c == '\'' {
                        break;
                    }
                    path.push(c);
                }
                Ok(path)
            }
        }
    }

    /// A single-quoted string: raw, no escapes. The opening quote is current.
    pub(crate) fn scan_sq_string(&mut self) -> Result<String, ConfigError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("Unexpected EOF.")),
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// A double-quoted string with escapes. The opening quote is current.
    pub(crate) fn scan_dq_string(&mut self) -> Result<String, ConfigError> {
        self.bump();
        let mut buf = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.err("Unexpected EOF.")),
                Some('"') => return Ok(String::from_utf8_lossy(&buf).into_owned()),
                Some('\\') => self.scan_escape(&mut buf)?,
                Some(c) => push_char(&mut buf, c),
            }
        }
    }

    /// After a backslash (lexStringEscape / lexStringBinary).
    fn scan_escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfigError> {
        match self.bump() {
            Some('t') => buf.push(b'\t'),
            Some('n') => buf.push(b'\n'),
            Some('r') => buf.push(b'\r'),
            Some('"') => buf.push(b'"'),
            Some('\\') => buf.push(b'\\'),
            Some('x') => {
                let mut hex = String::new();
                for _ in 0..2 {
                    match self.bump() {
                        Some(c) if is_nl(c) => {
                            return Err(self.err(
                                "Expected two hexadecimal digits after '\\x', but hit end of line",
                            ))
                        }
                        None => return Err(self.err("Unexpected EOF.")),
                        Some(c) => hex.push(c),
                    }
                }
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.chars().all(|c| c.is_ascii_hexdigit()) => buf.push(b),
                    _ => {
                        return Err(self.err(format!(
                            "Expected two hexadecimal digits after '\\x', but got '{hex}'"
                        )))
                    }
                }
            }
            other => {
                let shown = match other {
                    Some('\n') => "\\n".to_string(),
                    Some(c) => c.to_string(),
                    None => String::new(),
                };
                return Err(self.err(format!(
                    "Invalid escape character '{shown}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
                )));
            }
        }
        Ok(())
    }

    /// A block string `( … )`: the `(` is current. The value is the raw text
    /// between `(` and a `)` that stands alone at the start of a line
    /// (followed by newline or EOF), including both surrounding newlines.
    pub(crate) fn scan_block(&mut self) -> Result<String, ConfigError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("Unexpected EOF.")),
                Some(')') if s.ends_with('\n') && matches!(self.peek_at(1), None | Some('\n')) => {
                    self.bump();
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.bump();
                }
            }
        }
    }

    /// An unquoted string starting at the current character, with `prefix`
    /// already consumed (used when a number turns out to be a word). Returns
    /// a bool, variable or string token (lexString).
    fn scan_unquoted(&mut self, prefix: String) -> Result<Scalar, ConfigError> {
        let mut buf = prefix.into_bytes();
        let mut escaped = false;
        loop {
            match self.peek() {
                None => break,
                Some(c) if ends_unquoted(c) => break,
                Some('\\') => {
                    self.bump();
                    self.scan_escape(&mut buf)?;
                    escaped = true;
                }
                Some('\'') => {
                    // An apostrophe ends an unquoted string and is consumed.
                    self.bump();
                    return Ok(Scalar::Str(String::from_utf8_lossy(&buf).into_owned()));
                }
                Some(c) => {
                    push_char(&mut buf, c);
                    self.bump();
                }
            }
        }
        let s = String::from_utf8_lossy(&buf).into_owned();
        if escaped {
            return Ok(Scalar::Str(s));
        }
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => return Ok(Scalar::Bool(true)),
            "false" | "no" | "off" => return Ok(Scalar::Bool(false)),
            _ => {}
        }
        if let Some(name) = s.strip_prefix('$') {
            return Ok(Scalar::Var(name.to_string()));
        }
        Ok(Scalar::Str(s))
    }

    /// Any scalar value at the current (non-blank) character: quoted strings,
    /// block strings, numbers, sizes, floats, IP-like strings, datetimes,
    /// booleans, variables and unquoted strings (lexValue).
    pub(crate) fn scan_scalar(&mut self) -> Result<Scalar, ConfigError> {
        let start = self.span();
        match self.peek() {
            Some('\'') => self.scan_sq_string().map(Scalar::Str),
            Some('"') => self.scan_dq_string().map(Scalar::Str),
            Some('(') => self.scan_block().map(Scalar::Str),
            Some('-') => self.scan_negative(&start),
            Some(c) if c.is_ascii_digit() => self.scan_number(&start),
            Some('.') => Err(self.err("Floats must start with a digit")),
            Some(c) if is_nl(c) => Err(self.err("Expected value but found new line")),
            None => Err(self.err("Unexpected EOF.")),
            Some(_) => self.scan_unquoted(String::new()),
        }
    }

    fn take_digits(&mut self, text: &mut String) {
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            text.push(c);
            self.bump();
        }
    }

    /// lexNegNumberStart / lexNegNumber.
    fn scan_negative(&mut self, start: &Span) -> Result<Scalar, ConfigError> {
        self.bump();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.err("Floats must start with a digit, not '.'.")),
            other => {
                return Err(self.err(format!(
                    "Expected a digit but got '{}'.",
                    other.map(String::from).unwrap_or_default()
                )))
            }
        }
        let mut text = String::from("-");
        self.take_digits(&mut text);
        match self.peek() {
            Some('.') => self.scan_float(text, start),
            Some(c) if is_number_suffix(c) => self.scan_suffix(text, start),
            _ => int_value(&text, start),
        }
    }

    /// lexNumberOrDateOrIP.
    fn scan_number(&mut self, start: &Span) -> Result<Scalar, ConfigError> {
        let mut text = String::new();
        self.take_digits(&mut text);
        match self.peek() {
            Some('-') => {
                if text.len() != 4 {
                    return Err(self.err("All ISO8601 dates must be in full Zulu form."));
                }
                self.scan_datetime(text)
            }
            Some('.') => self.scan_float(text, start),
            Some(c) if is_number_suffix(c) => self.scan_suffix(text, start),
            c if ends_number(c) => int_value(&text, start),
            // A digit-led word that is not a number (`2s`, `1h`, `3xyz`):
            // an unquoted string.
            _ => self.scan_unquoted(text),
        }
    }

    /// lexConvenientNumber: `k`, `kb`, `ki`, `kib`, … then a terminator.
    fn scan_suffix(&mut self, mut text: String, start: &Span) -> Result<Scalar, ConfigError> {
        let mut suffix = String::new();
        if let Some(c) = self.bump() {
            suffix.push(c);
        }
        while let Some(c) = self.peek().filter(|c| matches!(c, 'b' | 'B' | 'i' | 'I')) {
            suffix.push(c);
            self.bump();
        }
        if !ends_number(self.peek()) {
            // `500ms`, `1m30s`: not a size, an unquoted string.
            text.push_str(&suffix);
            return self.scan_unquoted(text);
        }
        let num = parse_i64(&text, &format!("{text}{suffix}"), start)?;
        let mult: i64 = match suffix.to_ascii_lowercase().as_str() {
            "k" => 1_000,
            "kb" | "ki" | "kib" => 1 << 10,
            "m" => 1_000_000,
            "mb" | "mi" | "mib" => 1 << 20,
            "g" => 1_000_000_000,
            "gb" | "gi" | "gib" => 1 << 30,
            "t" => 1_000_000_000_000,
            "tb" | "ti" | "tib" => 1 << 40,
            "p" => 1_000_000_000_000_000,
            "pb" | "pi" | "pib" => 1 << 50,
            "e" => 1_000_000_000_000_000_000,
            "eb" | "ei" | "eib" => 1 << 60,
            other => {
                return Err(ConfigError::at(
                    start,
                    format!("unknown number suffix '{other}'"),
                ))
            }
        };
        num.checked_mul(mult).map(Scalar::Int).ok_or_else(|| {
            ConfigError::at(
                start,
                format!("integer '{text}{suffix}' is out of the range"),
            )
        })
    }

    /// lexFloatStart / lexFloat / lexIPAddr.
    fn scan_float(&mut self, mut text: String, start: &Span) -> Result<Scalar, ConfigError> {
        text.push('.');
        self.bump();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            other => {
                return Err(self.err(format!(
                    "Floats must have a digit after the '.', but got '{}' instead.",
                    other.map(String::from).unwrap_or_default()
                )))
            }
        }
        self.take_digits(&mut text);
        if self.peek() == Some('.') {
            // An IP address like 127.0.0.1:4222 is a string.
            while let Some(c) = self
                .peek()
                .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
            {
                text.push(c);
                self.bump();
            }
            return Ok(Scalar::Str(text));
        }
        text.parse::<f64>()
            .map(Scalar::Float)
            .map_err(|_| ConfigError::at(start, format!("expected float, but got '{text}'")))
    }

    /// lexDateAfterYear: `YYYY-` already read.
    fn scan_datetime(&mut self, mut text: String) -> Result<Scalar, ConfigError> {
        text.push('-');
        self.bump();
        for f in "00-00T00:00:00Z".chars() {
            let c = self.bump();
            let shown = c.map(String::from).unwrap_or_default();
            if f == '0' {
                if !c.is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.err(format!(
                        "Expected digit in ISO8601 datetime, but found '{shown}' instead."
                    )));
                }
            } else if c != Some(f) {
                return Err(self.err(format!(
                    "Expected '{f}' in ISO8601 datetime, but found '{shown}' instead."
                )));
            }
            text.push_str(&shown);
        }
        Ok(Scalar::Datetime(text))
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

fn parse_i64(digits: &str, whole: &str, start: &Span) -> Result<i64, ConfigError> {
    digits.parse::<i64>().map_err(|e| {
        use core::num::IntErrorKind;
        match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                ConfigError::at(start, format!("integer '{whole}' is out of the range"))
            }
            _ => ConfigError::at(start, format!("expected integer, but got '{whole}'")),
        }
    })
}

fn int_value(text: &str, start: &Span) -> Result<Scalar, ConfigError> {
    parse_i64(text, text, start).map(Scalar::Int)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(src: &str) -> Result<Scalar, ConfigError> {
        Cursor::new(src, Arc::from("t")).scan_scalar()
    }

    #[test]
    fn numbers_and_words() {
        assert!(matches!(scalar("12"), Ok(Scalar::Int(12))));
        assert!(matches!(scalar("12,"), Ok(Scalar::Int(12))));
        assert!(matches!(scalar("12]"), Ok(Scalar::Int(12))));
        assert!(matches!(scalar("4k;"), Ok(Scalar::Int(4000))));
        assert!(matches!(scalar("4KiB}"), Ok(Scalar::Int(4096))));
        assert!(matches!(scalar("-3"), Ok(Scalar::Int(-3))));
        assert!(matches!(scalar("2.5"), Ok(Scalar::Float(f)) if f == 2.5));
        assert!(matches!(scalar("10ms"), Ok(Scalar::Str(s)) if s == "10ms"));
        assert!(matches!(scalar("1.2.3.4"), Ok(Scalar::Str(s)) if s == "1.2.3.4"));
        assert!(scalar("-x")
            .unwrap_err()
            .to_string()
            .contains("Expected a digit but got 'x'."));
        assert!(scalar("-.5")
            .unwrap_err()
            .to_string()
            .contains("Floats must start with a digit, not '.'."));
    }

    #[test]
    fn unquoted_kinds() {
        assert!(matches!(scalar("$abc"), Ok(Scalar::Var(v)) if v == "abc"));
        assert!(matches!(scalar("Yes"), Ok(Scalar::Bool(true))));
        assert!(matches!(scalar("OFF"), Ok(Scalar::Bool(false))));
        assert!(matches!(scalar("truex"), Ok(Scalar::Str(s)) if s == "truex"));
        assert!(matches!(scalar("a\\nb"), Ok(Scalar::Str(s)) if s == "a\nb"));
    }

    #[test]
    fn cursor_positions() {
        let mut c = Cursor::new("ab\ncd", Arc::from("f"));
        c.bump();
        c.bump();
        assert_eq!((c.span().line, c.span().col), (1, 3));
        c.bump();
        assert_eq!((c.span().line, c.span().col), (2, 1));
        assert_eq!(c.span().to_string(), "f:2:1");
    }

    #[test]
    fn include_paths() {
        let mut c = Cursor::new("  'a b.conf'", Arc::from("f"));
        assert_eq!(c.scan_include_path().unwrap(), "a b.conf");
        let mut c = Cursor::new(" plain.conf;", Arc::from("f"));
        assert_eq!(c.scan_include_path().unwrap(), "plain.conf");
        let mut c = Cursor::new(" \n", Arc::from("f"));
        assert!(c.scan_include_path().is_err());
    }
}
