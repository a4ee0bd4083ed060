//! One test per syntax rule of nats-protocol.md §4.1.

use std::collections::HashMap;
use std::path::Path;

use natsws_server::config::{parse_str, parse_str_with_env, ConfigError, Document, Value};

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(src: &str) -> Document {
    parse_str_with_env(src, "t.conf", Path::new("."), &no_env).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(src: &str) -> ConfigError {
    parse_str_with_env(src, "t.conf", Path::new("."), &no_env).expect_err("should fail")
}

fn get<'a>(doc: &'a Document, key: &str) -> &'a Value {
    &doc.root
        .get(key)
        .unwrap_or_else(|| panic!("missing {key}"))
        .value
        .value
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

#[test]
fn separators_equal_colon_and_whitespace() {
    let d = parse("a = 1\nb: 2\nc 3\nd=4\ne:5\n");
    for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)] {
        assert_eq!(get(&d, k), &Value::Integer(v), "{k}");
    }
}

#[test]
fn block_style_map_key_without_separator() {
    let d = parse("websocket {\n  port: 8080\n}\ncluster\n{\n  port: 1\n}\n");
    let Value::Map(ws) = get(&d, "websocket") else {
        panic!()
    };
    assert_eq!(ws.get("port").unwrap().value.value, Value::Integer(8080));
    let Value::Map(c) = get(&d, "cluster") else {
        panic!()
    };
    assert_eq!(c.get("port").unwrap().value.value, Value::Integer(1));
}

#[test]
fn semicolons_and_commas_terminate_entries() {
    let d = parse("a: 1; b: 2, c: 3;\nm { x: 1; y: 2, z: 3; }\n");
    assert_eq!(get(&d, "b"), &Value::Integer(2));
    assert_eq!(get(&d, "c"), &Value::Integer(3));
    let Value::Map(m) = get(&d, "m") else {
        panic!()
    };
    assert_eq!(m.len(), 3);
}

#[test]
fn comments_hash_and_slashes() {
    let d = parse(
        "# top comment\n// other\na: 1 # trailing\nb: 2 // trailing\nm {\n # inside\n x: 1 // after\n}\nl [\n 1 # c\n // c\n 2\n]\n",
    );
    assert_eq!(get(&d, "a"), &Value::Integer(1));
    assert_eq!(get(&d, "b"), &Value::Integer(2));
    let Value::Array(l) = get(&d, "l") else {
        panic!()
    };
    assert_eq!(l.len(), 2);
}

#[test]
fn hash_does_not_end_unquoted_string() {
    // After a separator `#` starts an unquoted string, not a comment.
    let d = parse("a: b#c\nb: #x\n");
    assert_eq!(get(&d, "a"), &s("b#c"));
    assert_eq!(get(&d, "b"), &s("#x"));
}

#[test]
fn double_quoted_escapes() {
    let d = parse(r#"a: "t\tn\nr\rq\"b\\x\x41""#);
    assert_eq!(get(&d, "a"), &s("t\tn\nr\rq\"b\\xA"));
}

#[test]
fn invalid_escape_is_error() {
    let e = parse_err(r#"a: "bad\q""#);
    assert!(e.contains("Invalid escape character 'q'"), "{e}");
    let e = parse_err(r#"a: "\xZZ""#);
    assert!(
        e.contains("Expected two hexadecimal digits after '\\x', but got 'ZZ'"),
        "{e}"
    );
}

#[test]
fn single_quoted_is_raw() {
    let d = parse(r"a: 'no\tescape \d'");
    assert_eq!(get(&d, "a"), &s(r"no\tescape \d"));
}

#[test]
fn unquoted_string_terminators_and_apostrophe() {
    // `bar` after whitespace is not part of the value: error at top level.
    let e = parse_err("a: foo bar\n");
    assert!(e.contains("but got 'b' instead"), "{e}");
    let d = parse("l: [x,y]\nm {k: v}\nq: it'\n");
    let Value::Array(l) = get(&d, "l") else {
        panic!()
    };
    assert_eq!(l[0].value, s("x"));
    assert_eq!(l[1].value, s("y"));
    let Value::Map(m) = get(&d, "m") else {
        panic!()
    };
    assert_eq!(m.get("k").unwrap().value.value, s("v"));
    assert_eq!(get(&d, "q"), &s("it"));
}

#[test]
fn unquoted_string_processes_escapes() {
    let d = parse(r"a: x\ty");
    assert_eq!(get(&d, "a"), &s("x\ty"));
    // An escaped unquoted `true` stays a string.
    let d = parse(r"a: tru\x65");
    assert_eq!(get(&d, "a"), &s("true"));
}

#[test]
fn quoted_keys() {
    let d = parse("\"a b\": 1\n'c:d' = 2\nm { \"x y\": 3 }\n");
    assert_eq!(get(&d, "a b"), &Value::Integer(1));
    assert_eq!(get(&d, "c:d"), &Value::Integer(2));
}

#[test]
fn integers_and_negative() {
    let d = parse("a: 42\nb: -7\nc: 0\n");
    assert_eq!(get(&d, "a"), &Value::Integer(42));
    assert_eq!(get(&d, "b"), &Value::Integer(-7));
    assert_eq!(get(&d, "c"), &Value::Integer(0));
}

#[test]
fn sizes_decimal_vs_binary() {
    let d = parse(
        "k: 1K\nkb: 1KB\nki: 1ki\nkib: 1KiB\nm: 1M\nmb: 1MB\ng: 2g\ngb: 2GB\nt: 1t\ntb: 1TB\np: 1p\npb: 1pb\ne: 1e\neb: 1eb\nneg: -1k\n",
    );
    let want: &[(&str, i64)] = &[
        ("k", 1000),
        ("kb", 1024),
        ("ki", 1024),
        ("kib", 1024),
        ("m", 1_000_000),
        ("mb", 1 << 20),
        ("g", 2_000_000_000),
        ("gb", 2 << 30),
        ("t", 1_000_000_000_000),
        ("tb", 1 << 40),
        ("p", 1_000_000_000_000_000),
        ("pb", 1 << 50),
        ("e", 1_000_000_000_000_000_000),
        ("eb", 1 << 60),
        ("neg", -1000),
    ];
    for (k, v) in want {
        assert_eq!(get(&d, k), &Value::Integer(*v), "{k}");
    }
}

#[test]
fn size_overflow_and_bad_suffix() {
    let e = parse_err("a: 9999999999eb\n");
    assert!(
        e.contains("integer '9999999999eb' is out of the range"),
        "{e}"
    );
    let e = parse_err("a: 1kbib\n");
    assert!(e.contains("unknown number suffix 'kbib'"), "{e}");
    let e = parse_err("a: 99999999999999999999\n");
    assert!(e.contains("is out of the range"), "{e}");
}

#[test]
fn digit_led_words_are_strings() {
    let d = parse("a: 2s\nb: 500ms\nc: 1h\nd: 3xyz\ne: 1m30s\n");
    assert_eq!(get(&d, "a"), &s("2s"));
    assert_eq!(get(&d, "b"), &s("500ms"));
    assert_eq!(get(&d, "c"), &s("1h"));
    assert_eq!(get(&d, "d"), &s("3xyz"));
    assert_eq!(get(&d, "e"), &s("1m30s"));
}

#[test]
fn unquoted_2m_is_two_million() {
    let d = parse("ping_interval: 2m\n");
    assert_eq!(get(&d, "ping_interval"), &Value::Integer(2_000_000));
}

#[test]
fn floats_and_ip_addresses() {
    let d = parse("f: 1.5\nn: -0.25\nip: 127.0.0.1:4222\nip2: 0.0.0.0\n");
    assert_eq!(get(&d, "f"), &Value::Float(1.5));
    assert_eq!(get(&d, "n"), &Value::Float(-0.25));
    assert_eq!(get(&d, "ip"), &s("127.0.0.1:4222"));
    assert_eq!(get(&d, "ip2"), &s("0.0.0.0"));
    let e = parse_err("a: .5\n");
    assert!(e.contains("Floats must start with a digit"), "{e}");
    let e = parse_err("a: 1.x\n");
    assert!(
        e.contains("Floats must have a digit after the '.', but got 'x' instead."),
        "{e}"
    );
}

#[test]
fn datetime_zulu() {
    let d = parse("t: 2016-05-04T18:53:41Z\n");
    assert_eq!(
        get(&d, "t"),
        &Value::Datetime("2016-05-04T18:53:41Z".into())
    );
    let e = parse_err("t: 2016-05-04\n");
    assert!(e.contains("ISO8601"), "{e}");
    let e = parse_err("t: 16-05-04\n");
    assert!(
        e.contains("All ISO8601 dates must be in full Zulu form."),
        "{e}"
    );
}

#[test]
fn booleans_case_insensitive_and_quoted_stays_string() {
    let d = parse("a: true\nb: YES\nc: On\nd: false\ne: No\nf: OFF\ng: \"true\"\n");
    for k in ["a", "b", "c"] {
        assert_eq!(get(&d, k), &Value::Bool(true), "{k}");
    }
    for k in ["d", "e", "f"] {
        assert_eq!(get(&d, k), &Value::Bool(false), "{k}");
    }
    assert_eq!(get(&d, "g"), &s("true"));
}

#[test]
fn arrays_commas_newlines_trailing_comma_mixed() {
    let d = parse("a: [1, 2, 3,]\nb: [\n  x\n  \"y\"\n  1.5, true\n]\nc: []\n");
    let Value::Array(a) = get(&d, "a") else {
        panic!()
    };
    assert_eq!(a.len(), 3);
    let Value::Array(b) = get(&d, "b") else {
        panic!()
    };
    assert_eq!(
        b.iter().map(|n| n.value.clone()).collect::<Vec<_>>(),
        vec![s("x"), s("y"), Value::Float(1.5), Value::Bool(true)]
    );
    let Value::Array(c) = get(&d, "c") else {
        panic!()
    };
    assert!(c.is_empty());
}

#[test]
fn array_leading_comma_is_error() {
    let e = parse_err("a: [, 1]\n");
    assert!(e.contains("Unexpected array value terminator ','."), "{e}");
}

#[test]
fn nested_maps_and_arrays() {
    let d = parse("a { b { c: [ { d: [1, [2, 3]] } ] } }\n");
    let Value::Map(a) = get(&d, "a") else {
        panic!()
    };
    let Value::Map(b) = &a.get("b").unwrap().value.value else {
        panic!()
    };
    let Value::Array(c) = &b.get("c").unwrap().value.value else {
        panic!()
    };
    let Value::Map(m) = &c[0].value else { panic!() };
    let Value::Array(dd) = &m.get("d").unwrap().value.value else {
        panic!()
    };
    let Value::Array(inner) = &dd[1].value else {
        panic!()
    };
    assert_eq!(inner[1].value, Value::Integer(3));
}

#[test]
fn whole_file_in_braces_json() {
    let d = parse("{\n  \"port\": 4222,\n  \"websocket\": {\"port\": 8080, \"no_tls\": true}\n}\n");
    assert_eq!(get(&d, "port"), &Value::Integer(4222));
    let Value::Map(ws) = get(&d, "websocket") else {
        panic!()
    };
    assert_eq!(ws.get("no_tls").unwrap().value.value, Value::Bool(true));
}

#[test]
fn block_string() {
    let d = parse("a (\nline one\n  line (two)\n)\nb: 1\n");
    assert_eq!(get(&d, "a"), &s("\nline one\n  line (two)\n"));
    assert_eq!(get(&d, "b"), &Value::Integer(1));
}

#[test]
fn duplicate_keys_last_wins() {
    let d = parse("a: 1\na: 2\n");
    assert_eq!(get(&d, "a"), &Value::Integer(2));
    assert_eq!(d.root.len(), 1);
}

#[test]
fn variables_from_current_and_enclosing_blocks() {
    let d = parse("port_v: 4000\nouter {\n  x: $port_v\n  inner { y: 1\n z: $y }\n}\n");
    let Value::Map(o) = get(&d, "outer") else {
        panic!()
    };
    assert_eq!(o.get("x").unwrap().value.value, Value::Integer(4000));
    let Value::Map(i) = &o.get("inner").unwrap().value.value else {
        panic!()
    };
    assert_eq!(i.get("z").unwrap().value.value, Value::Integer(1));
    assert!(d.root.get("port_v").unwrap().used_as_variable);
}

#[test]
fn variable_inner_scope_shadows_outer() {
    let d = parse("v: 1\nm { v: 2\n w: $v }\nx: $v\n");
    let Value::Map(m) = get(&d, "m") else {
        panic!()
    };
    assert_eq!(m.get("w").unwrap().value.value, Value::Integer(2));
    assert_eq!(get(&d, "x"), &Value::Integer(1));
}

#[test]
fn variable_env_fallback_parses_value() {
    let env: HashMap<&str, &str> = [("NUM", "22"), ("STR", "'x y'"), ("SZ", "1KB")].into();
    let look = |k: &str| env.get(k).map(|v| v.to_string());
    let d = parse_str_with_env(
        "a: $NUM\nb: $STR\nc: $SZ\n",
        "t.conf",
        Path::new("."),
        &look,
    )
    .unwrap();
    assert_eq!(get(&d, "a"), &Value::Integer(22));
    assert_eq!(get(&d, "b"), &s("x y"));
    assert_eq!(get(&d, "c"), &Value::Integer(1024));
}

#[test]
fn variable_env_cycle_detected() {
    let env: HashMap<&str, &str> = [("A", "$B"), ("B", "$A")].into();
    let look = |k: &str| env.get(k).map(|v| v.to_string());
    let e = parse_str_with_env("a: $A\n", "t.conf", Path::new("."), &look).unwrap_err();
    assert!(e.contains("could not be parsed"), "{e}");
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn variable_process_env_fallback() {
    // Unique name: the process environment is shared by all tests.
    std::env::set_var("NATSWS_CFG_TEST_PORT_7F3A", "4333");
    let d = parse_str("port: $NATSWS_CFG_TEST_PORT_7F3A\n", "t.conf").unwrap();
    assert_eq!(get(&d, "port"), &Value::Integer(4333));
}

#[test]
fn variable_undefined_is_error_with_line() {
    let e = parse_err("a: 1\n\nb: $nope\n");
    assert_eq!(
        e.to_string(),
        "t.conf:3:4: variable reference for 'nope' on line 3 can not be found"
    );
}

#[test]
fn variables_are_case_sensitive() {
    let e = parse_err("Foo: 1\nb: $foo\n");
    assert!(e.contains("variable reference for 'foo'"), "{e}");
}

#[test]
fn bcrypt_unquoted_is_not_a_variable() {
    let d = parse("p: $2a$11$abcdefghijklmnopqrstuv\n");
    assert_eq!(get(&d, "p"), &s("$2a$11$abcdefghijklmnopqrstuv"));
    let e = parse_err("p: $2b$11$abc\n");
    assert!(e.contains("variable reference for '2b$11$abc'"), "{e}");
}

#[test]
fn newline_after_separator_is_error_at_top_level() {
    let e = parse_err("a =\n1\n");
    assert!(e.contains("Expected value but found new line"), "{e}");
}

#[test]
fn map_key_without_value_is_error() {
    let e = parse_err("m { ... }\n");
    assert!(e.contains("expected a value for key \"...\""), "{e}");
}

#[test]
fn top_level_value_must_end_properly() {
    let e = parse_err("a: \"x\" y\n");
    assert!(
        e.contains("Expected a top-level value to end with a new line, comment or EOF, but got 'y' instead."),
        "{e}"
    );
}

#[test]
fn map_value_terminator_error() {
    let e = parse_err("m { a: \"x\" b: 1 }\n");
    assert!(
        e.contains("Expected a map value terminator ',' or a map terminator '}'"),
        "{e}"
    );
}

#[test]
fn unterminated_constructs_are_errors() {
    for src in ["a: \"abc", "a: 'abc", "a: [1, 2", "m { a: 1", "a (\nabc\n"] {
        let e = parse_err(src);
        assert!(
            e.contains("Unexpected EOF.") || e.contains("EOF"),
            "{src}: {e}"
        );
    }
}

#[test]
fn empty_config_warns() {
    let d = parse("# only a comment\n");
    assert!(d.root.is_empty());
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].message, "config has no values or is empty");
}

#[test]
fn deep_nesting_is_error_not_crash() {
    let src = format!("a: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = parse_err(&src);
    assert!(e.contains("nested deeper"), "{e}");
}

#[test]
fn stray_top_level_close_brace_is_error() {
    let e = parse_err("a: 1\n}\nb: 2\n");
    assert_eq!(e.to_string(), "t.conf:2:1: Unexpected '}' at top level");
    // Trailing closing braces (JSON wrapping) are fine.
    let d = parse("{ a: 1 }\n");
    assert_eq!(get(&d, "a"), &Value::Integer(1));
}
