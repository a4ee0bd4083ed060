//! Subject transforms and weighted subject mappings: the destinations of
//! `mappings {}` (spec `operations.md` §3.4) and of stream imports' `to`
//! (§3.1), parsed once at configuration time and applied per message.
//!
//! A [`Transform`] pairs a source filter (`orders.*`, `a.>`) with a
//! destination. Destination tokens are literals, `>` (only when the source
//! ends with `>`: the rest of the subject), the legacy `$n` (the n-th `*`
//! of the source, 1-based) or a mustache function, names case-insensitive,
//! blanks allowed inside the braces (nats-server `subject_transform.go`,
//! `indexPlaceHolders`):
//!
//! | function | result |
//! |---|---|
//! | `{{wildcard(n)}}` | the token of the n-th `*` |
//! | `{{partition(N, i, j, …)}}` | FNV-1a 32 of the `*` tokens i, j, … concatenated, modulo N; `partition(N)` hashes the whole subject |
//! | `{{split(i, "d")}}` | the token split on `d` into several tokens (empty parts dropped) |
//! | `{{splitFromLeft(i, p)}}` / `{{splitFromRight(i, p)}}` | two tokens, cut `p` bytes from the left / right |
//! | `{{sliceFromLeft(i, s)}}` / `{{sliceFromRight(i, s)}}` | tokens of `s` bytes, the remainder last / first |
//! | `{{left(i, n)}}` / `{{right(i, n)}}` | the first / last `n` bytes |
//! | `{{random(N)}}` | a uniform bucket 0..N-1 |
//!
//! Errors carry nats-server's texts ([`TransformError`]'s `Display`). An
//! index below 1 selects the subject's first token, as in nats-server (its
//! lookup of a missing wildcard falls back to position 0).
//!
//! A [`Mapping`] is one `mappings` entry: a source and weighted
//! destinations (nats-server `AddWeightedMappings`, `selectMappedSubject`).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::{filter_matches, validate_filter};

/// What is wrong with a transform's source or destination.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransformErrorKind {
    /// `invalid subject`: the source or destination is not a valid
    /// subject, the destination has a `*` token, or only one side ends in
    /// `>`.
    BadSubject,
    /// `invalid mapping destination: invalid transform`: an empty token,
    /// a token after `>`, or whitespace.
    InvalidTransform,
    /// `…: not using all of the token wildcard(s)` (imports only).
    NotUsingAllWildcards,
    /// `…: unknown function`.
    UnknownFunction,
    /// `…: wildcard index out of range`.
    IndexOutOfRange,
    /// `…: not enough arguments passed to the function`.
    NotEnoughArgs,
    /// `…: too many arguments passed to the function`.
    TooManyArgs,
    /// `…: function argument is invalid or in the wrong format`.
    InvalidArg,
    /// `…: the only mapping function allowed for import transforms is
    /// {{Wildcard()}}`.
    NotSupportedForImport,
}

/// A transform that cannot be built: the kind and the destination token
/// (or destination) it was found in; empty when nats-server names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    /// What is wrong.
    pub kind: TransformErrorKind,
    /// Where: the offending token (`"{{foo(1)}}"`, `"$3: [3]"`), or empty.
    pub token: String,
}

impl TransformError {
    fn new(kind: TransformErrorKind, token: &str) -> Self {
        TransformError {
            kind,
            token: token.to_string(),
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TransformErrorKind as K;
        let what = match self.kind {
            K::BadSubject => return f.write_str("invalid subject"),
            K::InvalidTransform => "invalid transform",
            K::NotUsingAllWildcards => "not using all of the token wildcard(s)",
            K::UnknownFunction => "unknown function",
            K::IndexOutOfRange => "wildcard index out of range",
            K::NotEnoughArgs => "not enough arguments passed to the function",
            K::TooManyArgs => "too many arguments passed to the function",
            K::InvalidArg => "function argument is invalid or in the wrong format",
            K::NotSupportedForImport => {
                "the only mapping function allowed for import transforms is {{Wildcard()}}"
            }
        };
        write!(f, "invalid mapping destination: {what}")?;
        if !self.token.is_empty() {
            write!(f, " in {}", self.token)?;
        }
        Ok(())
    }
}

impl core::error::Error for TransformError {}

/// One destination token: what to write for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A literal token.
    Literal(Box<[u8]>),
    /// `>`: the subject's tokens from the source's `>` on.
    Rest,
    /// The token at this position of the subject.
    Wildcard(usize),
    /// FNV-1a of the tokens at these positions (all: the whole subject)
    /// modulo the bucket count.
    Partition(i32, Box<[usize]>),
    /// splitFromLeft(position of the token, bytes).
    SplitFromLeft(usize, i32),
    /// splitFromRight.
    SplitFromRight(usize, i32),
    /// sliceFromLeft.
    SliceFromLeft(usize, i32),
    /// sliceFromRight.
    SliceFromRight(usize, i32),
    /// left.
    Left(usize, i32),
    /// right.
    Right(usize, i32),
    /// split(position, delimiter).
    Split(usize, Box<[u8]>),
    /// random(buckets).
    Random(i32),
}

/// A parsed source → destination transform (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: Box<[u8]>,
    dest: Box<[u8]>,
    /// Number of tokens of the source (the `>` counts as one).
    src_tokens: usize,
    parts: Vec<Part>,
}

/// The function name and raw arguments of a mustache token, or None when
/// the token is not `{{…}}`.
fn mustache(token: &str) -> Option<Result<(String, Vec<&str>), ()>> {
    let b = token.as_bytes();
    if !(b.len() > 4 && token.starts_with("{{") && token.ends_with("}}")) {
        return None;
    }
    let inner = token[2..token.len() - 2].trim_start();
    let name_end = inner
        .find(|c: char| c == '(' || c.is_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let rest = inner[name_end..].trim_start();
    let Some(rest) = rest.strip_prefix('(') else {
        return Some(Err(()));
    };
    let Some(args) = rest.trim_end().strip_suffix(')') else {
        return Some(Err(()));
    };
    // nats-server splits on `,\s*`.
    let args = args
        .split(',')
        .enumerate()
        .map(|(i, a)| if i == 0 { a } else { a.trim_start() });
    Some(Ok((name, args.collect())))
}

/// Go's `strconv.Atoi` on an argument trimmed of spaces.
fn int_arg(a: &str) -> Option<i64> {
    a.trim_matches(' ').parse::<i64>().ok()
}

/// A function token before its wildcard indexes are resolved to source
/// positions: the kind (as a constructor), the wildcard indexes, the int
/// and string arguments.
struct Parsed {
    name: &'static str,
    indexes: Vec<i64>,
    int: i32,
    text: Box<[u8]>,
}

/// nats-server `indexPlaceHolders`: Ok(None) for a literal token.
fn placeholder(token: &str) -> Result<Option<Parsed>, TransformError> {
    use TransformErrorKind as K;
    let err = |k| Err(TransformError::new(k, token));
    let p = |name, indexes, int| {
        Ok(Some(Parsed {
            name,
            indexes,
            int,
            text: Box::default(),
        }))
    };
    if token.len() > 1 && token.starts_with('$') {
        return match token[1..].parse::<i64>() {
            Ok(n) => p("wildcard", alloc::vec![n], -1),
            Err(_) => Ok(None),
        };
    }
    let Some(m) = mustache(token) else {
        return Ok(None);
    };
    let Ok((name, args)) = m else {
        return err(K::UnknownFunction);
    };
    let index_int = |name: &'static str| -> Result<Option<Parsed>, TransformError> {
        match args.len() {
            0 | 1 => return err(K::NotEnoughArgs),
            2 => {}
            _ => return err(K::TooManyArgs),
        }
        let Some(i) = int_arg(args[0]) else {
            return err(K::InvalidArg);
        };
        let Ok(n) = args[1].trim_matches(' ').parse::<i32>() else {
            return err(K::InvalidArg);
        };
        p(name, alloc::vec![i], n)
    };
    match name.as_str() {
        "wildcard" => match args.as_slice() {
            [""] => err(K::NotEnoughArgs),
            [a] => match int_arg(a) {
                Some(i) => p("wildcard", alloc::vec![i], -1),
                None => err(K::InvalidArg),
            },
            _ => err(K::TooManyArgs),
        },
        "partition" => {
            let n = match int_arg(args[0]) {
                Some(n) if n <= i64::from(i32::MAX) => n as i32,
                _ => return err(K::InvalidArg),
            };
            let mut idx = Vec::with_capacity(args.len() - 1);
            for a in &args[1..] {
                match int_arg(a) {
                    Some(i) => idx.push(i),
                    None => return err(K::InvalidArg),
                }
            }
            p("partition", idx, n)
        }
        "splitfromleft" => index_int("splitfromleft"),
        "splitfromright" => index_int("splitfromright"),
        "slicefromleft" => index_int("slicefromleft"),
        "slicefromright" => index_int("slicefromright"),
        "left" => index_int("left"),
        "right" => index_int("right"),
        "split" => {
            match args.len() {
                0 | 1 => return err(K::NotEnoughArgs),
                2 => {}
                _ => return err(K::TooManyArgs),
            }
            let Some(i) = int_arg(args[0]) else {
                return err(K::InvalidArg);
            };
            if args[1].contains(' ') || args[1].contains('.') {
                return err(K::InvalidArg);
            }
            Ok(Some(Parsed {
                name: "split",
                indexes: alloc::vec![i],
                int: -1,
                text: args[1].as_bytes().into(),
            }))
        }
        "random" => {
            if args.len() != 1 {
                return err(K::NotEnoughArgs);
            }
            match int_arg(args[0]) {
                Some(n) if n <= i64::from(i32::MAX) => p("random", Vec::new(), n as i32),
                _ => err(K::InvalidArg),
            }
        }
        _ => err(K::UnknownFunction),
    }
}

/// nats-server `ValidateMapping`: empty tokens, tokens after `>` and
/// whitespace in the destination.
fn validate_dest(dest: &str) -> Result<(), TransformError> {
    let mut fwc = false;
    for t in dest.split('.') {
        if t.is_empty() || fwc {
            return Err(TransformError::new(TransformErrorKind::InvalidTransform, t));
        }
        if t.len() > 4 && t.starts_with("{{") && t.ends_with("}}") {
            continue;
        }
        if t == ">" {
            fwc = true;
        } else if t.contains(['\t', '\n', '\x0c', '\r', ' ']) {
            return Err(TransformError::new(
                TransformErrorKind::InvalidTransform,
                "",
            ));
        }
    }
    Ok(())
}

/// Number of `*` tokens, whether the last is `>`, and the tokens
/// (nats-server `subjectInfo`: tokens must be non-empty and `>` last;
/// other bytes are not checked).
fn info(s: &str) -> Option<(usize, bool, Vec<&str>)> {
    let toks: Vec<&str> = s.split('.').collect();
    if toks.iter().any(|t| t.is_empty()) || toks.iter().rev().skip(1).any(|t| *t == ">") {
        return None;
    }
    let pwcs = toks.iter().filter(|t| **t == "*").count();
    Some((pwcs, toks.last() == Some(&">"), toks))
}

impl Transform {
    /// A mapping transform (`mappings {}`): every function allowed, not
    /// every `*` need be used (nats-server `ValidateMapping` then
    /// `NewSubjectTransform`).
    pub fn new(src: &str, dest: &str) -> Result<Transform, TransformError> {
        validate_dest(dest)?;
        Self::build(src, dest, false)
    }

    /// An import transform (a stream import's `to`): only `wildcard`/`$n`,
    /// and every `*` of the source must be used (nats-server
    /// `NewSubjectTransformStrict`).
    pub fn new_strict(src: &str, dest: &str) -> Result<Transform, TransformError> {
        Self::build(src, dest, true)
    }

    fn build(src: &str, dest: &str, strict: bool) -> Result<Transform, TransformError> {
        use TransformErrorKind as K;
        let src = if src.is_empty() { ">" } else { src };
        let bad = || TransformError::new(K::BadSubject, "");
        let (npwcs, sfwc, stoks) = info(src).ok_or_else(bad)?;
        let (dpwcs, dfwc, dtoks) = info(dest).ok_or_else(bad)?;
        if dpwcs > 0 || sfwc != dfwc {
            return Err(bad());
        }
        // Source position of each `*`, 1-based.
        let star_pos: Vec<usize> = (0..stoks.len()).filter(|&i| stoks[i] == "*").collect();
        let pos_of = |i: i64| -> usize {
            if i >= 1 {
                star_pos.get(i as usize - 1).copied().unwrap_or(0)
            } else {
                0
            }
        };
        let wild = npwcs > 0 || sfwc;
        let mut used = 0usize;
        let mut parts = Vec::with_capacity(dtoks.len());
        for t in &dtoks {
            let Some(ph) = placeholder(t)? else {
                parts.push(if *t == ">" {
                    Part::Rest
                } else {
                    Part::Literal(t.as_bytes().into())
                });
                continue;
            };
            if strict && ph.name != "wildcard" {
                return Err(TransformError::new(K::NotSupportedForImport, t));
            }
            if !wild {
                match ph.name {
                    "random" => parts.push(Part::Random(ph.int)),
                    "partition" => parts.push(Part::Partition(ph.int, Box::default())),
                    _ => return Err(TransformError::new(K::IndexOutOfRange, t)),
                }
                continue;
            }
            used += ph.indexes.len();
            for &i in &ph.indexes {
                if i > npwcs as i64 {
                    return Err(TransformError {
                        kind: K::IndexOutOfRange,
                        token: alloc::format!("{t}: [{i}]"),
                    });
                }
            }
            let at = ph.indexes.first().map_or(0, |&i| pos_of(i));
            parts.push(match ph.name {
                "wildcard" => Part::Wildcard(at),
                "partition" => {
                    Part::Partition(ph.int, ph.indexes.iter().map(|&i| pos_of(i)).collect())
                }
                "splitfromleft" => Part::SplitFromLeft(at, ph.int),
                "splitfromright" => Part::SplitFromRight(at, ph.int),
                "slicefromleft" => Part::SliceFromLeft(at, ph.int),
                "slicefromright" => Part::SliceFromRight(at, ph.int),
                "left" => Part::Left(at, ph.int),
                "right" => Part::Right(at, ph.int),
                "split" => Part::Split(at, ph.text),
                _ => Part::Random(ph.int),
            });
        }
        if strict && wild && used < npwcs {
            return Err(TransformError::new(K::NotUsingAllWildcards, dest));
        }
        Ok(Transform {
            src: src.as_bytes().into(),
            dest: dest.as_bytes().into(),
            src_tokens: stoks.len(),
            parts,
        })
    }

    /// The source filter.
    pub fn source(&self) -> &[u8] {
        &self.src
    }

    /// The destination as configured.
    pub fn destination(&self) -> &[u8] {
        &self.dest
    }

    /// Whether `subject` matches the source (and can be transformed).
    pub fn matches(&self, subject: &[u8]) -> bool {
        filter_matches(&self.src, subject)
    }

    /// Appends the transform of `subject` (which must match the source,
    /// see [`Transform::matches`]) to `out`. `rand(n)` returns a uniform
    /// value in `0..n` for `random()`.
    pub fn apply(&self, subject: &[u8], rand: &mut impl FnMut(u32) -> u32, out: &mut Vec<u8>) {
        let tok = |i: usize| subject.split(|&b| b == b'.').nth(i).unwrap_or_default();
        let last = self.parts.len().saturating_sub(1);
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(t) => out.extend_from_slice(t),
                Part::Rest => {
                    let mut rest = subject;
                    for _ in 0..self.src_tokens - 1 {
                        match rest.iter().position(|&b| b == b'.') {
                            Some(p) => rest = &rest[p + 1..],
                            None => rest = &[],
                        }
                    }
                    out.extend_from_slice(rest);
                    break;
                }
                Part::Wildcard(p) => out.extend_from_slice(tok(*p)),
                Part::Partition(n, ps) => {
                    let mut h = Fnv1a::new();
                    if ps.is_empty() {
                        h.write(subject);
                    } else {
                        for &p in ps.iter() {
                            h.write(tok(p));
                        }
                    }
                    let bucket = if *n == 0 { 0 } else { h.0 % (*n as u32) };
                    crate::proto::encode::push_u64(out, u64::from(bucket));
                }
                Part::SplitFromLeft(p, n) | Part::SplitFromRight(p, n) => {
                    let t = tok(*p);
                    let n = *n as usize;
                    if n_pos(n, t.len()) {
                        let cut = if matches!(part, Part::SplitFromLeft(..)) {
                            n
                        } else {
                            t.len() - n
                        };
                        out.extend_from_slice(&t[..cut]);
                        out.push(b'.');
                        out.extend_from_slice(&t[cut..]);
                    } else {
                        out.extend_from_slice(t);
                    }
                }
                Part::SliceFromLeft(p, n) => {
                    let t = tok(*p);
                    let n = *n as usize;
                    if n_pos(n, t.len()) {
                        for (j, c) in t.chunks(n).enumerate() {
                            if j > 0 {
                                out.push(b'.');
                            }
                            out.extend_from_slice(c);
                        }
                    } else {
                        out.extend_from_slice(t);
                    }
                }
                Part::SliceFromRight(p, n) => {
                    let t = tok(*p);
                    let n = *n as usize;
                    if n_pos(n, t.len()) {
                        let rem = t.len() % n;
                        if rem > 0 {
                            out.extend_from_slice(&t[..rem]);
                            out.push(b'.');
                        }
                        for (j, c) in t[rem..].chunks(n).enumerate() {
                            if j > 0 {
                                out.push(b'.');
                            }
                            out.extend_from_slice(c);
                        }
                    } else {
                        out.extend_from_slice(t);
                    }
                }
                Part::Left(p, n) | Part::Right(p, n) => {
                    let t = tok(*p);
                    let n = *n as usize;
                    if n_pos(n, t.len()) {
                        if matches!(part, Part::Left(..)) {
                            out.extend_from_slice(&t[..n]);
                        } else {
                            out.extend_from_slice(&t[t.len() - n..]);
                        }
                    } else {
                        out.extend_from_slice(t);
                    }
                }
                Part::Split(p, d) => split(tok(*p), d, out),
                Part::Random(n) => {
                    let n = n.unsigned_abs();
                    crate::proto::encode::push_u64(
                        out,
                        u64::from(if n == 0 { 0 } else { rand(n) }),
                    );
                }
            }
            if i < last {
                out.push(b'.');
            }
        }
    }
}

/// Whether a size/position argument `n` (as usize; negative values wrap
/// to huge ones) is strictly inside a token of `len` bytes.
fn n_pos(n: usize, len: usize) -> bool {
    n > 0 && n < len
}

/// nats-server's `split`: the parts of `t` between delimiters, joined with
/// `.`, empty parts dropped.
fn split(t: &[u8], d: &[u8], out: &mut Vec<u8>) {
    if d.is_empty() {
        // Go's strings.Split with an empty separator: one part per UTF-8
        // sequence; bytes here.
        for (j, b) in t.iter().enumerate() {
            if j > 0 {
                out.push(b'.');
            }
            out.push(*b);
        }
        return;
    }
    let mut first = true;
    let mut rest = t;
    loop {
        let (part, next) = match rest.windows(d.len()).position(|w| w == d) {
            Some(p) => (&rest[..p], Some(&rest[p + d.len()..])),
            None => (rest, None),
        };
        if !part.is_empty() {
            if !first {
                out.push(b'.');
            }
            out.extend_from_slice(part);
            first = false;
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
}

/// FNV-1a, 32 bits.
struct Fnv1a(u32);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0x811c_9dc5)
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u32::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

/// One weighted destination of a mapping as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightedDest<'a> {
    /// The destination (`destination`/`dest`).
    pub dest: &'a str,
    /// Percentage of messages, 0–100.
    pub weight: u8,
    /// `cluster`: the entry applies only in that cluster.
    pub cluster: Option<&'a str>,
}

/// Why a mapping cannot be added (nats-server `AddWeightedMappings`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// `invalid subject`: the source is not a valid filter.
    BadSource,
    /// `duplicate entry for "<dest>"`.
    Duplicate(String),
    /// `individual weights need to be <= 100`.
    IndividualWeight,
    /// `total weight needs to be <= 100` (per cluster).
    TotalWeight,
    /// A destination's transform.
    Transform(TransformError),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::BadSource => f.write_str("invalid subject"),
            MappingError::Duplicate(d) => write!(f, "duplicate entry for \"{d}\""),
            MappingError::IndividualWeight => f.write_str("individual weights need to be <= 100"),
            MappingError::TotalWeight => f.write_str("total weight needs to be <= 100"),
            MappingError::Transform(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for MappingError {}

impl From<TransformError> for MappingError {
    fn from(e: TransformError) -> Self {
        MappingError::Transform(e)
    }
}

/// One subject mapping: a source and its destinations with cumulative
/// weights (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    src: Box<[u8]>,
    /// Destinations by ascending cumulative weight (the last is ≤ 100).
    dests: Vec<(Transform, u8)>,
}

/// What [`Mapping::select`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    /// The new subject was appended to the output.
    To,
    /// The weights chose no destination: the message goes nowhere.
    Dropped,
}

impl Mapping {
    /// Builds a mapping of `src` to `dests`. Only entries without a
    /// `cluster`, or for `cluster`, take part (nats-server falls back to
    /// the entries without a cluster when its cluster has none); all are
    /// checked. When the weights add to less than 100 and the source is
    /// not a destination itself, the rest keeps the subject.
    pub fn new(
        src: &str,
        dests: &[WeightedDest<'_>],
        cluster: Option<&str>,
    ) -> Result<Mapping, MappingError> {
        if validate_filter(src.as_bytes()).is_err() {
            return Err(MappingError::BadSource);
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut totals: Vec<(Option<&str>, u32)> = Vec::new();
        let mut main = Vec::new();
        let mut mine = Vec::new();
        for d in dests {
            if seen.contains(&d.dest) {
                return Err(MappingError::Duplicate(d.dest.to_string()));
            }
            seen.push(d.dest);
            if d.weight > 100 {
                return Err(MappingError::IndividualWeight);
            }
            let tot = match totals.iter_mut().find(|(c, _)| *c == d.cluster) {
                Some((_, t)) => t,
                None => {
                    totals.push((d.cluster, 0));
                    &mut totals.last_mut().expect("pushed").1
                }
            };
            *tot += u32::from(d.weight);
            if *tot > 100 {
                return Err(MappingError::TotalWeight);
            }
            let tr = Transform::new(src, d.dest)?;
            match d.cluster {
                None => main.push((tr, d.weight)),
                Some(c) if Some(c) == cluster => mine.push((tr, d.weight)),
                Some(_) => {}
            }
        }
        let chosen = if mine.is_empty() { main } else { mine };
        let has_src = seen.contains(&src);
        let dests = Self::finish(src, chosen, has_src)?;
        Ok(Mapping {
            src: src.as_bytes().into(),
            dests,
        })
    }

    /// nats-server `processDestinations`: the remainder to the source,
    /// ascending weights, cumulative.
    fn finish(
        src: &str,
        mut dests: Vec<(Transform, u8)>,
        has_src: bool,
    ) -> Result<Vec<(Transform, u8)>, MappingError> {
        let total: u32 = dests.iter().map(|(_, w)| u32::from(*w)).sum();
        if total != 100 && !has_src {
            let mut n = 0;
            let keep: Vec<String> = src
                .split('.')
                .map(|t| {
                    if t == "*" {
                        n += 1;
                        alloc::format!("${n}")
                    } else {
                        t.to_string()
                    }
                })
                .collect();
            let tr = Transform::new(src, &keep.join("."))?;
            let w = if dests.is_empty() {
                100
            } else {
                100 - total as u8
            };
            dests.push((tr, w));
        }
        dests.sort_by_key(|(_, w)| *w);
        let mut acc = 0u8;
        for (_, w) in dests.iter_mut() {
            *w += acc;
            acc = *w;
        }
        Ok(dests)
    }

    /// The source filter.
    pub fn source(&self) -> &[u8] {
        &self.src
    }

    /// Whether `subject` matches the source.
    pub fn matches(&self, subject: &[u8]) -> bool {
        filter_matches(&self.src, subject)
    }

    /// Picks a destination for `subject` (which must match, see
    /// [`Mapping::matches`]) with `rand(100)` unless one destination takes
    /// all, and appends the mapped subject to `out`.
    pub fn select(
        &self,
        subject: &[u8],
        rand: &mut impl FnMut(u32) -> u32,
        out: &mut Vec<u8>,
    ) -> Mapped {
        let d = match self.dests.as_slice() {
            [(tr, 100)] => Some(tr),
            all => {
                let w = rand(100);
                all.iter().find(|(_, c)| w < u32::from(*c)).map(|(t, _)| t)
            }
        };
        match d {
            Some(tr) => {
                tr.apply(subject, rand, out);
                Mapped::To
            }
            None => Mapped::Dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn map(src: &str, dest: &str, subject: &str) -> String {
        let t = Transform::new(src, dest).unwrap();
        assert!(t.matches(subject.as_bytes()), "{src} {subject}");
        let mut out = Vec::new();
        t.apply(subject.as_bytes(), &mut |_| 0, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn err(src: &str, dest: &str) -> String {
        Transform::new(src, dest).unwrap_err().to_string()
    }

    #[test]
    fn wildcards_and_rest() {
        assert_eq!(
            map("orders.*", "orders.v2.{{wildcard(1)}}", "orders.17"),
            "orders.v2.17"
        );
        assert_eq!(map("a.*.*", "b.$2.$1", "a.x.y"), "b.y.x");
        assert_eq!(map("a.*.*", "b.{{ Wildcard( 2 ) }}", "a.x.y"), "b.y");
        assert_eq!(map("a.*.>", "b.$1.>", "a.x.y.z"), "b.x.y.z");
        assert_eq!(map("a.>", "b.>", "a.x"), "b.x");
        assert_eq!(map("foo", "bar", "foo"), "bar");
        assert_eq!(map("a.*", "b.$x", "a.q"), "b.$x");
    }

    #[test]
    fn functions() {
        assert_eq!(map("p.*", "p.{{partition(3,1)}}", "p.k1"), "p.0");
        assert_eq!(map("p.*", "p.{{partition(3,1)}}", "p.k3"), "p.2");
        assert_eq!(map("p.*", "p.{{partition(3,1)}}", "p.order-42"), "p.2");
        assert_eq!(map("*", "{{partition(3)}}", "gamma"), "0");
        assert_eq!(map("*", "{{partition(3)}}", "alpha"), "2");
        assert_eq!(map("*", "{{partition(0,1)}}", "alpha"), "0");
        // A literal source: the whole subject is hashed (nats-server: only
        // when its random map order tried a wildcard mapping first).
        assert_eq!(map("pl", "pl.{{partition(3)}}", "pl"), "pl.2");
        assert_eq!(map("pw.*", "pw.{{partition(3)}}", "pw.k1"), "pw.2");
        assert_eq!(map("*", "{{split(1,-)}}", "-a--b-c-"), "a.b.c");
        assert_eq!(map("*", "{{splitFromLeft(1,2)}}", "abcde"), "ab.cde");
        assert_eq!(map("*", "{{SplitFromRight(1,2)}}", "abcde"), "abc.de");
        assert_eq!(map("*", "{{splitFromRight(1,9)}}", "abcde"), "abcde");
        assert_eq!(map("*", "{{sliceFromLeft(1,2)}}", "abcde"), "ab.cd.e");
        assert_eq!(map("*", "{{sliceFromRight(1,2)}}", "abcde"), "a.bc.de");
        assert_eq!(map("*", "{{sliceFromRight(1,2)}}", "abcd"), "ab.cd");
        assert_eq!(map("*", "{{left(1,2)}}.{{right(1,2)}}", "abcde"), "ab.de");
        assert_eq!(map("*", "{{random(1)}}", "abcde"), "0");
    }

    #[test]
    fn errors_have_the_reference_texts() {
        assert_eq!(err("a.*", "b.*"), "invalid subject");
        assert_eq!(err("a.>", "b"), "invalid subject");
        assert_eq!(err("a..b", "b"), "invalid subject");
        assert_eq!(
            err("a.*", "b..c"),
            "invalid mapping destination: invalid transform"
        );
        assert_eq!(
            err("a.*", "{{foo(1)}}"),
            "invalid mapping destination: unknown function in {{foo(1)}}"
        );
        assert_eq!(
            err("a.*", "{{wildcard(2)}}"),
            "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
        );
        assert_eq!(
            err("a", "{{wildcard(1)}}"),
            "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"
        );
        assert_eq!(
            err("a.*", "{{wildcard()}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
        );
        assert_eq!(
            err("a.*", "{{left(1)}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{left(1)}}"
        );
        assert_eq!(
            err("a.*", "{{left(1,2,3)}}"),
            "invalid mapping destination: too many arguments passed to the function in {{left(1,2,3)}}"
        );
        assert_eq!(
            err("a.*", "{{left(x,2)}}"),
            "invalid mapping destination: function argument is invalid or in the wrong format in {{left(x,2)}}"
        );
        assert_eq!(
            Transform::new_strict("a.*.*", "b.$1")
                .unwrap_err()
                .to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in b.$1"
        );
        assert_eq!(
            Transform::new_strict("a.*", "b.{{left(1,1)}}")
                .unwrap_err()
                .kind,
            TransformErrorKind::NotSupportedForImport
        );
        // Not every wildcard need be used by a mapping.
        assert!(Transform::new("a.*.*", "b.$1").is_ok());
    }

    fn wd(dest: &str, weight: u8) -> WeightedDest<'_> {
        WeightedDest {
            dest,
            weight,
            cluster: None,
        }
    }

    #[test]
    fn weighted_mappings() {
        let m = Mapping::new("s", &[wd("s.a", 30)], None).unwrap();
        let pick = |r: u32| {
            let mut out = Vec::new();
            assert_eq!(m.select(b"s", &mut |_| r, &mut out), Mapped::To);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(pick(0), "s.a");
        assert_eq!(pick(29), "s.a");
        assert_eq!(pick(30), "s");
        assert_eq!(pick(99), "s");
        let m = Mapping::new("w.*", &[wd("x.$1", 50), wd("y.$1", 50)], None).unwrap();
        let mut out = Vec::new();
        m.select(b"w.1", &mut |_| 70, &mut out);
        assert_eq!(out, b"y.1");
        // Loss on purpose: the source is listed with the rest of the weight.
        let m = Mapping::new("s", &[wd("s", 0), wd("t", 50)], None).unwrap();
        assert_eq!(
            m.select(b"s", &mut |_| 80, &mut Vec::new()),
            Mapped::Dropped
        );
        assert_eq!(
            Mapping::new("s", &[wd("a", 60), wd("b", 50)], None)
                .unwrap_err()
                .to_string(),
            "total weight needs to be <= 100"
        );
        assert_eq!(
            Mapping::new("s", &[wd("a", 101)], None)
                .unwrap_err()
                .to_string(),
            "individual weights need to be <= 100"
        );
        assert_eq!(
            Mapping::new("s", &[wd("a", 1), wd("a", 2)], None)
                .unwrap_err()
                .to_string(),
            "duplicate entry for \"a\""
        );
        let c = WeightedDest {
            dest: "c",
            weight: 100,
            cluster: Some("east"),
        };
        let m = Mapping::new("s", &[wd("a", 100), c], None).unwrap();
        let mut out = Vec::new();
        m.select(b"s", &mut |_| 0, &mut out);
        assert_eq!(out, b"a");
        let m = Mapping::new("s", &[wd("a", 100), c], Some("east")).unwrap();
        let mut out = Vec::new();
        m.select(b"s", &mut |_| 0, &mut out);
        assert_eq!(out, b"c");
        let _ = vec![0u8];
    }

    mod props {
        use super::super::*;
        use alloc::vec::Vec;
        use proptest::prelude::*;

        fn token() -> impl Strategy<Value = String> {
            "[a-z0-9-]{1,6}"
        }

        proptest! {
            /// A transform whose destination repeats the source's wildcards
            /// in order maps every matching subject to itself.
            #[test]
            fn identity(toks in proptest::collection::vec(prop_oneof![token(), Just("*".to_string())], 1..6),
                        fill in proptest::collection::vec(token(), 6),
                        rest in proptest::collection::vec(token(), 0..3), fwc: bool) {
                let mut src = toks.clone();
                let mut n = 0;
                let mut dest: Vec<String> = toks.iter().map(|t| if t == "*" { n += 1; alloc::format!("{{{{wildcard({n})}}}}") } else { t.clone() }).collect();
                let mut subj: Vec<String> = toks.iter().enumerate().map(|(i, t)| if t == "*" { fill[i].clone() } else { t.clone() }).collect();
                if fwc {
                    src.push(">".into());
                    dest.push(">".into());
                    subj.push("end".into());
                    subj.extend(rest.iter().cloned());
                }
                let tr = Transform::new_strict(&src.join("."), &dest.join(".")).unwrap();
                let s = subj.join(".");
                prop_assert!(tr.matches(s.as_bytes()));
                let mut out = Vec::new();
                tr.apply(s.as_bytes(), &mut |_| 0, &mut out);
                prop_assert_eq!(out, s.into_bytes());
            }

            /// Parsing never panics, and applying a transform to a subject
            /// its source matches never panics and gives a valid subject
            /// when the destination has no function that may empty a token.
            #[test]
            fn no_panic(src in "[a-z*>.${}(),0-9 ]{0,20}", dest in "[a-zA-Z*>.${}(),0-9 \"-]{0,30}", subj in "[a-z0-9]{1,4}(\\.[a-z0-9]{1,4}){0,5}") {
                if let Ok(tr) = Transform::new(&src, &dest) {
                    if tr.matches(subj.as_bytes()) {
                        let mut out = Vec::new();
                        tr.apply(subj.as_bytes(), &mut |n| n - 1, &mut out);
                    }
                }
                let _ = Transform::new_strict(&src, &dest);
            }

            /// Weighted picks land on a configured destination or the source.
            #[test]
            fn weighted(a in 0u8..=100, r in 0u32..100) {
                let b = 100 - a;
                let m = Mapping::new("w.*", &[WeightedDest { dest: "x.$1", weight: a, cluster: None }, WeightedDest { dest: "y.$1", weight: b, cluster: None }], None).unwrap();
                let mut out = Vec::new();
                prop_assert_eq!(m.select(b"w.q", &mut |_| r, &mut out), Mapped::To);
                let want: &[u8] = if r < u32::from(a.min(b)) { if a <= b { b"x.q" } else { b"y.q" } } else if a <= b { b"y.q" } else { b"x.q" };
                // Equal weights: the sort order decides, either is fine.
                if a != b { prop_assert_eq!(out, want.to_vec()); }
            }
        }
    }
}
