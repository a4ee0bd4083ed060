//! Incremental UTF-8 validation across fragments (RFC 6455 §5.6, §8.1): a
//! text message may be split anywhere, including inside a code point.

/// Validates a byte stream that arrives in pieces. Invalid bytes are reported
/// as soon as they are seen (fail fast, as Autobahn case 6 expects); an
/// incomplete code point at the end of the message is reported by
/// [`finish`](Self::finish). Holds at most 3 pending bytes; no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    pending: [u8; 4],
    len: u8,
}

/// The input is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            pending: [0; 4],
            len: 0,
        }
    }

    /// Checks the next piece of the message.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        // Complete a code point left over from the previous piece.
        while self.len > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return Ok(());
            };
            self.pending[self.len as usize] = b;
            self.len += 1;
            bytes = rest;
            match core::str::from_utf8(&self.pending[..self.len as usize]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) if self.len == 4 => return Err(InvalidUtf8),
                Err(_) => {}
            }
        }
        match core::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the message: fails if it stopped inside a code point. Resets the
    /// validator for the next message.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let ok = self.len == 0;
        self.len = 0;
        if ok {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}
