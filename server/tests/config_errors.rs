//! `include` and error locations (`file:line:col: reason`, §4).

use std::path::{Path, PathBuf};

use natsws_server::config::{parse_file, parse_str_with_env, Value};
use natsws_server::options::Options;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn err_of(src: &str) -> String {
    parse_str_with_env(src, "x.conf", Path::new("."), &no_env)
        .unwrap_err()
        .to_string()
}

#[test]
fn include_relative_nested_and_inside_block() {
    let path = fixture("include/main.conf");
    let doc = parse_file(&path).unwrap();
    assert_eq!(
        doc.root.get("port").unwrap().value.value,
        Value::Integer(4333)
    );
    assert_eq!(
        doc.root.get("max_payload").unwrap().value.value,
        Value::Integer(2 << 20)
    );
    assert_eq!(
        doc.root.get("ping_max").unwrap().value.value,
        Value::Integer(5)
    );
    let o = Options::from_file(&path).unwrap();
    let auth = o.authorization.as_ref().unwrap();
    assert_eq!(auth.users.len(), 2);
    assert_eq!(auth.users[1].user.as_deref(), Some("bob"));
    // Spans of included values name the included file.
    let e = doc.root.get("ping_max").unwrap();
    assert!(
        e.key_span.file.ends_with("more.conf") && e.key_span.file.contains("sub"),
        "{}",
        e.key_span
    );
    assert_eq!((e.key_span.line, e.key_span.col), (1, 1));
}

#[test]
fn include_error_is_wrapped_with_inner_location() {
    let e = parse_file(&fixture("include/bad_main.conf"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad_main.conf:2:1: error parsing include file 'bad_inner.conf', "),
        "{e}"
    );
    assert!(
        e.contains("bad_inner.conf:2:7: Unexpected array value terminator ','."),
        "{e}"
    );
}

#[test]
fn include_missing_file() {
    let e = parse_file(&fixture("include/missing.conf"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.conf:1:1: error parsing include file 'does_not_exist.conf', open "),
        "{e}"
    );
}

#[test]
fn include_recursion_is_bounded() {
    let e = parse_file(&fixture("include/self.conf"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested deeper than"), "{e}");
}

#[test]
fn include_value_errors() {
    assert!(err_of("include [a]\n").contains("Expected include value but found start of an array"));
    assert!(err_of("include 5\n").contains("Expected include value but found start of a number"));
}

#[test]
fn lexer_error_locations() {
    assert_eq!(
        err_of("a: 1\nb: \"bad\\q\"\n"),
        "x.conf:2:10: Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
    );
    assert_eq!(
        err_of("\n\n  = 1\n"),
        "x.conf:3:3: Unexpected key separator '='"
    );
    assert_eq!(
        err_of("m {\n  a: 1\n  : 2\n}\n"),
        "x.conf:3:3: Unexpected key separator ':'."
    );
    assert_eq!(err_of("a: [1\n  2 3]\n").lines().count(), 1);
    assert_eq!(
        err_of("a: [1\n  2 3]\n"),
        "x.conf:2:5: Expected an array value terminator ',' or an array terminator ']', but got '3' instead."
    );
}

#[test]
fn option_errors_point_at_the_key() {
    let e = Options::from_config_str("debug: true\n\n   bogus_key: 1\n", "o.conf").unwrap_err();
    assert_eq!(e.to_string(), "o.conf:3:4: unknown field \"bogus_key\"");
    let e = Options::from_config_str("websocket {\n  port: \"x\"\n}\n", "o.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "o.conf:2:3: interface conversion: interface {} is string, not int64"
    );
}

#[test]
fn all_option_errors_are_collected() {
    let e =
        Options::from_config_str("a1: 1\nport: x\nwebsocket { b2: 1 }\n", "o.conf").unwrap_err();
    assert_eq!(e.errors.len(), 3, "{e}");
    assert_eq!(e.errors[0].span.as_ref().unwrap().line, 1);
    assert_eq!(e.errors[2].to_string(), "o.conf:3:13: unknown field \"b2\"");
}

#[test]
fn key_used_as_variable_is_not_unknown() {
    let o = Options::from_config_str("my_port: 4555\nport: $my_port\n", "o.conf").unwrap();
    assert_eq!(o.port, 4555);
}
