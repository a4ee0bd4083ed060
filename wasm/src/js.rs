//! Small helpers to build plain JS values from Rust data.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;

/// `obj[key] = val`. Setting a property on a fresh plain object cannot fail.
pub(crate) fn set(obj: &Object, key: &str, val: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), val);
}

/// A plain object `{ [tag_key]: tag }` to fill with [`set`].
pub(crate) fn tagged(tag_key: &str, tag: &str) -> Object {
    let o = Object::new();
    set(&o, tag_key, &JsValue::from_str(tag));
    o
}

/// A new `Uint8Array` holding a copy of `b`.
pub(crate) fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// `b` decoded as UTF-8 (invalid sequences become U+FFFD, like
/// `TextDecoder`). Valid UTF-8 is not copied on the Rust side.
pub(crate) fn text(b: &[u8]) -> JsValue {
    JsValue::from_str(&String::from_utf8_lossy(b))
}

/// [`text`] or `undefined`.
pub(crate) fn opt_text(b: Option<&[u8]>) -> JsValue {
    b.map_or(JsValue::UNDEFINED, text)
}

/// A 4-byte masking key from JS, or `None` for `undefined`.
pub(crate) fn mask(m: Option<Vec<u8>>) -> Result<Option<[u8; 4]>, JsValue> {
    match m {
        None => Ok(None),
        Some(v) => <[u8; 4]>::try_from(v.as_slice())
            .map(Some)
            .map_err(|_| js_sys::TypeError::new("a masking key is exactly 4 bytes").into()),
    }
}

/// A JS number that must be a whole number in `0..=max`.
pub(crate) fn whole(n: f64, what: &str, max: f64) -> Result<u64, JsValue> {
    if n.fract() == 0.0 && (0.0..=max).contains(&n) {
        Ok(n as u64)
    } else {
        Err(
            js_sys::RangeError::new(&format!("{what} must be a whole number from 0 to {max}"))
                .into(),
        )
    }
}
