//! A leafnode remote's `credentials` file (spec `leafnode.md` §2.3, §3.6):
//! the user JWT and the user seed between `-----BEGIN …-----` and
//! `------END …------` lines (the layout `nsc` writes; nats-server reads it
//! with nats-io/jwt `ParseDecoratedJWT`/`ParseDecoratedNKey`). Read again
//! on every connect, as nats-server does.

use std::fmt;

/// The two parts of a credentials file.
pub(crate) struct Creds {
    /// The user JWT (first framed block).
    pub(crate) jwt: String,
    /// The user seed (`SU…`), as a key pair.
    pub(crate) key: nkeys::KeyPair,
}

/// Why a credentials file is not usable; the texts are nats-server's
/// (`sendLeafConnect`), each naming the file.
#[derive(Debug)]
pub(crate) enum CredsError {
    /// The file could not be read.
    Read(String, std::io::Error),
    /// No framed block at all.
    Malformed(String),
    /// No block holds a valid seed.
    Seed(String),
    /// The first block is not a JWT (three dot-separated parts).
    Jwt(String),
}

impl fmt::Display for CredsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredsError::Read(p, e) => {
                write!(
                    f,
                    "Error reading LeafNode Remote Credentials file {p:?}: {e}"
                )
            }
            CredsError::Malformed(p) => {
                write!(f, "LeafNode Remote Credentials file {p:?} malformed")
            }
            CredsError::Seed(p) => {
                write!(
                    f,
                    "LeafNode Remote Credentials file {p:?} has malformed seed"
                )
            }
            CredsError::Jwt(p) => {
                write!(
                    f,
                    "LeafNode Remote Credentials file {p:?} has malformed user jwt"
                )
            }
        }
    }
}

/// Reads and parses the credentials file at `path`.
pub(crate) fn read(path: &str) -> Result<Creds, CredsError> {
    let text = std::fs::read_to_string(path).map_err(|e| CredsError::Read(path.into(), e))?;
    parse(path, &text)
}

/// Parses credentials `text` (of the file `path`, for the errors): the
/// bodies are the first non-empty lines after each `---…BEGIN…---` line;
/// the first body is the JWT, the first body that is a seed is the key.
pub(crate) fn parse(path: &str, text: &str) -> Result<Creds, CredsError> {
    let mut bodies = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if l.starts_with("---") && l.contains("BEGIN") {
            if let Some(b) = lines.by_ref().find(|x| !x.is_empty()) {
                if !b.starts_with("---") {
                    bodies.push(b);
                }
            }
        }
    }
    let Some(jwt) = bodies.first() else {
        return Err(CredsError::Malformed(path.into()));
    };
    if jwt.split('.').count() != 3 {
        return Err(CredsError::Jwt(path.into()));
    }
    let key = bodies
        .iter()
        .skip(1)
        .find_map(|b| nkeys::KeyPair::from_seed(b).ok())
        .ok_or_else(|| CredsError::Seed(path.into()))?;
    Ok(Creds {
        jwt: (*jwt).to_string(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(jwt: &str, seed: &str, nl: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----{nl}{jwt}{nl}------END NATS USER JWT------{nl}{nl}************************* IMPORTANT *************************{nl}NKEY Seed printed below can be used to sign and prove identity.{nl}{nl}-----BEGIN USER NKEY SEED-----{nl}{seed}{nl}------END USER NKEY SEED------{nl}"
        )
    }

    #[test]
    fn parses_both_line_endings_and_names_each_error() {
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        for nl in ["\n", "\r\n"] {
            let c = parse("f", &file("a.b.c", &seed, nl)).unwrap();
            assert_eq!(c.jwt, "a.b.c");
            assert_eq!(c.key.public_key(), kp.public_key());
        }
        let e = parse("f", "no blocks").err().unwrap();
        assert_eq!(
            e.to_string(),
            "LeafNode Remote Credentials file \"f\" malformed"
        );
        let e = parse("f", &file("notajwt", &seed, "\n")).err().unwrap();
        assert_eq!(
            e.to_string(),
            "LeafNode Remote Credentials file \"f\" has malformed user jwt"
        );
        let e = parse("f", &file("a.b.c", "SUbad", "\n")).err().unwrap();
        assert_eq!(
            e.to_string(),
            "LeafNode Remote Credentials file \"f\" has malformed seed"
        );
    }
}
