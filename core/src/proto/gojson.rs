//! Go `encoding/json` semantics on top of serde_json, for the JSON that
//! nats-server decodes into Go structs (CONNECT, INFO) and encodes (INFO).
//!
//! Decoding (`json.Unmarshal` into a struct):
//! - object keys match field names case-insensitively (Go folds ASCII
//!   letters, and four non-ASCII letters onto ASCII ones: `ſ`→s, Kelvin
//!   sign→k, `ı`/`İ`→i);
//! - unknown keys are ignored; of duplicate keys the last wins, but every
//!   occurrence is type-checked (Go reports the first type error after
//!   decoding everything);
//! - `null` leaves the field unchanged; a top-level `null` leaves the whole
//!   struct unchanged;
//! - invalid UTF-8 and lone UTF-16 surrogate escapes inside strings become
//!   U+FFFD.
//!
//! Encoding (`json.Marshal`): `<`, `>`, `&`, U+2028 and U+2029 inside strings
//! are escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Error;

/// Go's key folding, reduced to what can match an ASCII field name.
pub(super) fn fold_key(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{017F}' => 's',
            '\u{212A}' => 'k',
            '\u{0130}' | '\u{0131}' => 'i',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The members of a top-level object, keys folded, `null` members dropped,
/// in document order; `None` for a top-level `null`.
struct Members(Option<Vec<(String, Value)>>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let v: Value = m.next_value()?;
                    if !v.is_null() {
                        out.push((fold_key(&k), v));
                    }
                }
                Ok(Members(Some(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Decodes `json` into `T` (a `#[serde(default)]` struct with lower-case
/// field names) with Go's rules. `check` is called for every member (folded
/// key, value) for nested types serde cannot check alone.
/// Whether `json` is an object whose keys are already in folded form,
/// distinct, none of them in `slow_keys`, and whose values are never
/// `null`: then a plain serde decode of `T` gives exactly what the Go rules
/// give (no key folding, duplicate or `null` handling needed). Any parse
/// problem (invalid UTF-8, lone surrogates, not an object) answers false, so
/// the general path decides. Allocates nothing for keys without escapes.
fn is_canonical_object(json: &[u8], slow_keys: &[&str]) -> bool {
    struct NullCheck(bool);
    impl<'de> Deserialize<'de> for NullCheck {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = NullCheck;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_unit<E: de::Error>(self) -> Result<NullCheck, E> {
                    Ok(NullCheck(true))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<NullCheck, E> {
                    Ok(NullCheck(false))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<NullCheck, E> {
                    Ok(NullCheck(false))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<NullCheck, E> {
                    Ok(NullCheck(false))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<NullCheck, E> {
                    Ok(NullCheck(false))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<NullCheck, E> {
                    Ok(NullCheck(false))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<NullCheck, A::Error> {
                    while a.next_element::<de::IgnoredAny>()?.is_some() {}
                    Ok(NullCheck(false))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<NullCheck, A::Error> {
                    while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                    Ok(NullCheck(false))
                }
            }
            d.deserialize_any(V)
        }
    }
    /// A key borrowed from the input when it has no escapes.
    struct Key<'de>(Cow<'de, str>);
    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.into())))
                }
            }
            d.deserialize_str(V)
        }
    }
    struct Canonical<'a>(&'a [&'a str]);
    impl<'de> de::DeserializeSeed<'de> for Canonical<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            struct V<'a>(&'a [&'a str]);
            impl<'de> Visitor<'de> for V<'_> {
                type Value = bool;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
                    let mut seen: Vec<Cow<'de, str>> = Vec::with_capacity(16);
                    let mut ok = true;
                    while let Some(Key(k)) = m.next_key::<Key<'de>>()? {
                        let NullCheck(null) = m.next_value()?;
                        ok &= !null
                            && k.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
                            && !self.0.contains(&&*k)
                            && !seen.contains(&k);
                        if ok {
                            seen.push(k);
                        }
                    }
                    Ok(ok)
                }
            }
            d.deserialize_map(V(self.0))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    matches!(
        de::DeserializeSeed::deserialize(Canonical(slow_keys), &mut de),
        Ok(true)
    ) && de.end().is_ok()
}

pub(super) fn from_go_json<T: DeserializeOwned + Default>(
    json: &[u8],
    check: fn(&str, &Value) -> Result<(), Error>,
    slow_keys: &[&str],
) -> Result<T, Error> {
    // Fast path (every client's CONNECT): keys already lower-case, distinct
    // and not null, so serde's own decoding is Go's.
    if is_canonical_object(json, slow_keys) {
        if let Ok(t) = serde_json::from_slice::<T>(json) {
            return Ok(t);
        }
    }
    let Some(map) = go_members::<T>(json, check)? else {
        return Ok(T::default());
    };
    serde_json::from_value(Value::Object(map)).map_err(|_| Error::InvalidJson)
}

/// Decodes `json` over an existing `base`, as Go's `json.Unmarshal` into a
/// struct that already holds values: members present in `json` replace the
/// fields, absent (and `null`) members keep `base`'s values, a top-level
/// `null` keeps all of them. Same rules as [`from_go_json`] otherwise.
/// `base` serialises to an object whose keys are its (lower-case) field
/// names; fields it omits must deserialise to the omitted value by default.
pub(super) fn merge_go_json<T: DeserializeOwned + Serialize + Clone>(
    base: &T,
    json: &[u8],
    check: fn(&str, &Value) -> Result<(), Error>,
) -> Result<T, Error> {
    let Some(members) = go_members::<T>(json, check)? else {
        return Ok(base.clone());
    };
    let Ok(Value::Object(mut map)) = serde_json::to_value(base) else {
        return Err(Error::InvalidJson);
    };
    map.extend(members);
    serde_json::from_value(Value::Object(map)).map_err(|_| Error::InvalidJson)
}

/// The members of the top-level object of `json`, keys folded, `null`
/// members dropped, the last of duplicate keys kept (the earlier ones are
/// type-checked against `T` as Go does); `None` for a top-level `null`.
fn go_members<T: DeserializeOwned>(
    json: &[u8],
    check: fn(&str, &Value) -> Result<(), Error>,
) -> Result<Option<Map<String, Value>>, Error> {
    let text = String::from_utf8_lossy(json);
    let text = fix_lone_surrogates(&text);
    let Members(members) = serde_json::from_str(&text).map_err(|_| Error::InvalidJson)?;
    let Some(members) = members else {
        return Ok(None);
    };
    let mut map = Map::new();
    for (k, v) in members {
        check(&k, &v)?;
        if let Some(old) = map.insert(k.clone(), v) {
            // Overwritten: still type-checked, as Go does.
            let mut one = Map::new();
            one.insert(k, old);
            serde_json::from_value::<T>(Value::Object(one)).map_err(|_| Error::InvalidJson)?;
        }
    }
    Ok(Some(map))
}

/// Replaces `\uXXXX` escapes of lone UTF-16 surrogates inside strings by
/// `\uFFFD` (Go decodes them to U+FFFD; serde_json rejects them).
fn fix_lone_surrogates(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    if !b
        .windows(3)
        .any(|w| w[0] == b'\\' && (w[1] == b'u' || w[1] == b'U') && (w[2] | 0x20) == b'd')
    {
        return Cow::Borrowed(text);
    }
    let hex4 = |i: usize| -> Option<u16> {
        let s = b.get(i..i + 4)?;
        let s = core::str::from_utf8(s).ok()?;
        u16::from_str_radix(s, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_str = !in_str;
                i += 1;
            }
            b'\\' if in_str => {
                if b.get(i + 1) == Some(&b'u') {
                    if let Some(u) = hex4(i + 2) {
                        if (0xD800..0xDC00).contains(&u) {
                            let low = if b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u')
                            {
                                hex4(i + 8)
                            } else {
                                None
                            };
                            if low.is_some_and(|l| (0xDC00..0xE000).contains(&l)) {
                                i += 12;
                                continue;
                            }
                        }
                        if (0xD800..0xE000).contains(&u) {
                            out.push_str(&text[last..i]);
                            out.push_str("\\uFFFD");
                            i += 6;
                            last = i;
                            continue;
                        }
                        i += 6;
                        continue;
                    }
                }
                // Any other escape: skip the escaped byte (`\"`, `\\`, …).
                i += 2;
            }
            _ => i += 1,
        }
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Rewrites serde_json output to Go's escaping. These bytes only occur
/// inside strings in JSON text, so a byte-wise rewrite is exact.
pub(super) fn go_escape(json: Vec<u8>) -> Vec<u8> {
    let is_sep = |i: usize| {
        json.get(i) == Some(&0xE2)
            && json.get(i + 1) == Some(&0x80)
            && matches!(json.get(i + 2), Some(0xA8 | 0xA9))
    };
    let needs = (0..json.len()).any(|i| matches!(json[i], b'<' | b'>' | b'&') || is_sep(i));
    if !needs {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ if is_sep(i) => {
                out.extend_from_slice(if json[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// For structs without nested types to check.
pub(super) fn no_check(_: &str, _: &Value) -> Result<(), Error> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold_key("VERBOSE"), "verbose");
        assert_eq!(fold_key("\u{017F}ig"), "sig");
        assert_eq!(fold_key("n\u{212A}ey"), "nkey");
        assert_eq!(fold_key("s\u{0131}g"), "sig");
        assert_eq!(fold_key("S\u{0130}G"), "sig");
        assert_eq!(fold_key("\u{00C9}x"), "\u{00C9}x");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            go_escape(b"{\"a\":\"<&>\"}".to_vec()),
            b"{\"a\":\"\\u003c\\u0026\\u003e\"}".to_vec()
        );
        assert_eq!(
            go_escape("\"\u{2028}\u{2029}\"".as_bytes().to_vec()),
            b"\"\\u2028\\u2029\"".to_vec()
        );
        assert_eq!(go_escape(b"{}".to_vec()), b"{}".to_vec());
    }

    #[test]
    fn lone_surrogates() {
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\ud800"}"#),
            r#"{"a":"\uFFFD"}"#
        );
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\udc00x"}"#),
            r#"{"a":"\uFFFDx"}"#
        );
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\ud800\u0041"}"#),
            r#"{"a":"\uFFFD\u0041"}"#
        );
        // A valid pair and an escaped backslash are left alone.
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\ud83d\ude00"}"#),
            r#"{"a":"\ud83d\ude00"}"#
        );
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\\ud800"}"#),
            r#"{"a":"\\ud800"}"#
        );
        assert_eq!(
            fix_lone_surrogates(r#"{"a":"\"\ud800"}"#),
            r#"{"a":"\"\uFFFD"}"#
        );
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use crate::proto::Connect;

    /// The general path alone (what `from_go_json` does without its fast
    /// path).
    fn general(json: &[u8]) -> Result<Connect, Error> {
        match go_members::<Connect>(json, |_, _| Ok(()))? {
            None => Ok(Connect::default()),
            Some(map) => serde_json::from_value(Value::Object(map)).map_err(|_| Error::InvalidJson),
        }
    }

    #[test]
    fn fast_path_agrees_with_the_general_path() {
        let cases: &[&[u8]] = &[
            br#"{"verbose":false,"pedantic":false,"lang":"rust","version":"0.1","protocol":1,"echo":true,"headers":true,"no_responders":true,"name":"b"}"#,
            br#"{"user":"a","pass":"b","auth_token":"t","tls_required":false}"#,
            br#"{"Verbose":false}"#,
            br#"{"verbose":false,"verbose":true}"#,
            br#"{"verbose":null,"name":"x"}"#,
            br#"{"verb\u006fse":false}"#,
            br#"{"protocol":1.5}"#,
            br#"{"protocol":"1"}"#,
            br#"{"unknown":{"deep":[1,2,{"x":null}]},"echo":false}"#,
            br#"null"#,
            br#"[]"#,
            br#"{"name":"\ud800"}"#,
            b"{\"name\":\"\xff\"}",
            "{\"\u{17f}ecure\":true,\"echo\":false}".as_bytes(),
            br#"{}"#,
            br#"{"echo":false} x"#,
        ];
        for &json in cases {
            let fast = Connect::from_json(json);
            let slow = general(json);
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(json));
        }
    }

    #[test]
    fn canonical_detection() {
        assert!(is_canonical_object(br#"{"a":1,"b":{"c":null}}"#, &[]));
        assert!(!is_canonical_object(br#"{"A":1}"#, &[]));
        assert!(!is_canonical_object(br#"{"a":1,"a":2}"#, &[]));
        assert!(!is_canonical_object(br#"{"a":null}"#, &[]));
        assert!(!is_canonical_object(br#"{"import":{}}"#, &["import"]));
        assert!(!is_canonical_object(br#"null"#, &[]));
        assert!(!is_canonical_object(br#"{"a":1} {"#, &[]));
    }
}
