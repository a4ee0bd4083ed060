//! NKey public keys and nonce signatures (nats-protocol.md §3.3).
//!
//! A public key is 56 characters of base32 (RFC 4648 alphabet, no padding)
//! over `prefix ‖ 32-byte Ed25519 key ‖ CRC-16/XMODEM (little-endian)`; the
//! first character names the kind (`U` user, `A` account, `O` operator,
//! `N` server, `C` cluster). Decoding and Ed25519 verification use the
//! `nkeys` crate. Every function is total: arbitrary input gives an error,
//! never a panic.

use alloc::vec::Vec;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use core::fmt;

/// Kind of a public nkey, by its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `U…` (prefix byte `20<<3`).
    User,
    /// `A…` (prefix byte `0`).
    Account,
    /// `O…` (prefix byte `14<<3`).
    Operator,
    /// `N…` (prefix byte `13<<3`).
    Server,
    /// `C…` (prefix byte `2<<3`).
    Cluster,
}

impl KeyKind {
    fn letter(self) -> u8 {
        match self {
            KeyKind::User => b'U',
            KeyKind::Account => b'A',
            KeyKind::Operator => b'O',
            KeyKind::Server => b'N',
            KeyKind::Cluster => b'C',
        }
    }
}

/// Why a key or signature was rejected. Display texts are lower-case, for
/// debug logs only (clients see `Authorization Violation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Not a valid public nkey of the expected kind (length, base32, CRC,
    /// prefix).
    InvalidKey,
    /// The signature is empty or neither base64url nor standard base64.
    InvalidSignatureEncoding,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidKey => "invalid public nkey",
            Error::InvalidSignatureEncoding => "signature not valid base64",
            Error::BadSignature => "signature not verified",
        })
    }
}

impl core::error::Error for Error {}

/// Decodes a public nkey of the given kind to its 32 Ed25519 key bytes.
///
/// # Errors
/// [`Error::InvalidKey`].
pub fn decode_public(key: &str, kind: KeyKind) -> Result<[u8; 32], Error> {
    if key.as_bytes().first() != Some(&kind.letter()) {
        return Err(Error::InvalidKey);
    }
    nkeys::from_public_key(key)
        .map(|(_, raw)| raw)
        .map_err(|_| Error::InvalidKey)
}

/// Whether `key` is a valid public nkey of the given kind.
pub fn is_valid_public_key(key: &str, kind: KeyKind) -> bool {
    decode_public(key, kind).is_ok()
}

/// Decodes a signature as sent in CONNECT `sig`: base64 URL alphabet without
/// padding first, then standard base64 (nats-server falls back to
/// `StdEncoding`); padded URL-safe and unpadded standard are accepted too.
///
/// # Errors
/// [`Error::InvalidSignatureEncoding`] for an empty or undecodable string.
pub fn decode_signature(sig: &str) -> Result<Vec<u8>, Error> {
    if sig.is_empty() {
        return Err(Error::InvalidSignatureEncoding);
    }
    let b = sig.as_bytes();
    URL_SAFE_NO_PAD
        .decode(b)
        .or_else(|_| STANDARD.decode(b))
        .or_else(|_| URL_SAFE.decode(b))
        .or_else(|_| STANDARD_NO_PAD.decode(b))
        .map_err(|_| Error::InvalidSignatureEncoding)
}

/// Verifies an Ed25519 signature (raw bytes) of `message` by the public
/// nkey `key` of kind `kind`.
///
/// # Errors
/// [`Error::InvalidKey`], [`Error::BadSignature`] (also for a signature that
/// is not 64 bytes).
pub fn verify_raw(key: &str, kind: KeyKind, message: &[u8], sig: &[u8]) -> Result<(), Error> {
    decode_public(key, kind)?;
    let kp = nkeys::KeyPair::from_public_key(key).map_err(|_| Error::InvalidKey)?;
    kp.verify(message, sig).map_err(|_| Error::BadSignature)
}

/// The nkey handshake check (nats-protocol.md §3.3): `sig` (CONNECT `sig`,
/// base64) must be the Ed25519 signature of the INFO `nonce` bytes by the
/// user key `key` (`U…`).
///
/// # Errors
/// [`Error::InvalidSignatureEncoding`] (missing or bad base64),
/// [`Error::InvalidKey`], [`Error::BadSignature`].
pub fn verify_nonce(key: &str, nonce: &[u8], sig: &str) -> Result<(), Error> {
    let raw = decode_signature(sig)?;
    verify_raw(key, KeyKind::User, nonce, &raw)
}
