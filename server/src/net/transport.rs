//! A connection's socket: plain TCP, or TCP with a rustls session (a
//! server session on accepted connections; a client session, its handshake
//! already done, on a solicited leafnode link: [`Transport::tls_client`]).
//!
//! The event loop's semantics are kept: [`Transport::read`] returns
//! application bytes until `WouldBlock` (pumping TLS records and writing
//! handshake messages as they appear), [`Transport::write`] takes
//! application bytes (encrypted into rustls's queue, then one vectored write
//! of the queued records), and [`Transport::flush_pending`] reports whether
//! everything queued reached the socket (else the loop asks for write
//! interest). Bytes queued with [`Transport::queue_raw`] go out before any
//! TLS record: the plaintext INFO of a client port without
//! `handshake_first`, a `-ERR` before TLS, Go's 400 to a plaintext HTTP
//! request on a TLS websocket port.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::{ClientConnection, Connection, ServerConfig, ServerConnection};

/// Go net/http's answer to a plaintext HTTP request on a TLS port (written
/// on the raw connection, then closed).
pub(crate) const HTTP_ON_TLS_RESPONSE: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Go net/http's log reason for [`HTTP_ON_TLS_RESPONSE`].
pub(crate) const HTTP_ON_TLS_REASON: &str = "client sent an HTTP request to an HTTPS server";

/// Go crypto/tls's error when the first bytes are not a TLS record.
const NOT_TLS: &str = "tls: first record does not look like a TLS handshake";

/// The first five bytes Go's `tlsRecordHeaderLooksLikeHTTP` recognises.
pub(crate) const HTTP_STARTS: [&[u8; 5]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];

/// A TLS session over a socket.
pub(crate) struct TlsStream {
    sock: TcpStream,
    tls: Connection,
    /// Plaintext bytes to write before any TLS record.
    raw: Vec<u8>,
    raw_pos: usize,
    /// The first bytes have not been checked yet.
    first: bool,
    /// Answer a plaintext HTTP request with Go's 400 (websocket, https).
    http_check: bool,
    /// The handshake completed and [`Transport::take_handshake_done`] has
    /// not reported it yet.
    done_unreported: bool,
    /// Peer sent EOF.
    eof: bool,
    /// Bytes received from the peer (to tell a silent peer).
    received: bool,
}

/// A connection's socket.
pub(crate) enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TCP carrying TLS.
    Tls(Box<TlsStream>),
}

fn tls_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Go's wording for common rustls handshake failures.
fn go_tls_error(e: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match e {
        Error::NoCertificatesPresented => "tls: client didn't provide a certificate".into(),
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                .into()
        }
        Error::InvalidCertificate(CertificateError::Expired) => {
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
                .into()
        }
        e => e.to_string(),
    }
}

impl Transport {
    /// Wraps an accepted socket in a TLS server session; `http_check`
    /// answers plaintext HTTP requests with Go's 400.
    ///
    /// # Errors
    /// rustls refused the configuration.
    pub(crate) fn tls(
        sock: TcpStream,
        config: Arc<ServerConfig>,
        http_check: bool,
    ) -> Result<Transport, (TcpStream, rustls::Error)> {
        match ServerConnection::new(config) {
            Ok(tls) => Ok(Transport::Tls(Box::new(TlsStream {
                sock,
                tls: Connection::Server(tls),
                raw: Vec::new(),
                raw_pos: 0,
                first: true,
                http_check,
                done_unreported: false,
                eof: false,
                received: false,
            }))),
            Err(e) => Err((sock, e)),
        }
    }

    /// Wraps a solicited socket whose client handshake `tls` completed
    /// (a leafnode remote's dialer did it: `crate::net::leaf_dial`).
    pub(crate) fn tls_client(sock: TcpStream, tls: ClientConnection) -> Transport {
        Transport::Tls(Box::new(TlsStream {
            sock,
            tls: Connection::Client(tls),
            raw: Vec::new(),
            raw_pos: 0,
            first: false,
            http_check: false,
            done_unreported: false,
            eof: false,
            received: true,
        }))
    }

    /// The TCP socket.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    /// True for a TLS connection.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// True while a TLS handshake is in progress.
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.tls.is_handshaking(),
        }
    }

    /// True once the peer sent anything.
    pub(crate) fn received_any(&self) -> bool {
        match self {
            Transport::Plain(_) => true,
            Transport::Tls(t) => t.received,
        }
    }

    /// True once, right after the TLS handshake completed.
    pub(crate) fn take_handshake_done(&mut self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => std::mem::take(&mut t.done_unreported),
        }
    }

    /// The rustls server session (negotiated version, cipher, peer
    /// certificates); `None` for plain TCP and client sessions.
    pub(crate) fn session(&self) -> Option<&ServerConnection> {
        match self {
            Transport::Tls(t) => match &t.tls {
                Connection::Server(s) => Some(s),
                Connection::Client(_) => None,
            },
            Transport::Plain(_) => None,
        }
    }

    /// Queues bytes to write before any TLS record (plain: appended to the
    /// next writes through [`Transport::flush_pending`]).
    pub(crate) fn queue_raw(&mut self, b: &[u8]) {
        match self {
            Transport::Plain(_) => {}
            Transport::Tls(t) => t.raw.extend_from_slice(b),
        }
    }

    /// Application bytes from the peer. `Ok(0)` = the peer closed.
    ///
    /// # Errors
    /// Socket errors; TLS errors as `InvalidData` with Go's wording where
    /// known (the alert owed to the peer is queued: flush before closing).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }

    /// Reads and discards raw socket bytes (lingering close).
    ///
    /// # Errors
    /// Socket errors.
    pub(crate) fn read_discard(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.sock.read(buf),
        }
    }

    /// Takes application bytes for writing; returns how many were taken.
    /// TLS: queued records are written first (`WouldBlock` when they still
    /// block), then up to rustls's buffer limit is encrypted and written
    /// with one vectored write (what the socket does not take stays queued:
    /// see [`Transport::flush_pending`]).
    ///
    /// # Errors
    /// Socket errors.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(data),
            Transport::Tls(t) => {
                if !t.push()? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = t.tls.writer().write(data)?;
                // Best effort now; the rest goes out at the next call.
                let _ = t.push()?;
                Ok(n)
            }
        }
    }

    /// Plain TCP only: one `writev` of `bufs` (frame header + NATS bytes,
    /// without first copying them into one buffer). `None` for TLS, whose
    /// records are built from a copy anyway.
    ///
    /// # Errors
    /// Socket errors.
    pub(crate) fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> Option<io::Result<usize>> {
        match self {
            Transport::Plain(s) => Some(s.write_vectored(bufs)),
            Transport::Tls(_) => None,
        }
    }

    /// Writes queued raw bytes and TLS records. `Ok(true)` when nothing is
    /// left queued.
    ///
    /// # Errors
    /// Socket errors.
    pub(crate) fn flush_pending(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(t) => t.push(),
        }
    }

    /// True when queued bytes wait for the socket.
    pub(crate) fn has_pending(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.raw_pos < t.raw.len() || t.tls.wants_write(),
        }
    }

    /// Shuts the socket down. `Write` on an established TLS session sends
    /// `close_notify` first (best effort).
    ///
    /// # Errors
    /// Socket errors.
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.shutdown(how),
            Transport::Tls(t) => {
                if how == Shutdown::Write && !t.tls.is_handshaking() {
                    t.tls.send_close_notify();
                    let _ = t.push();
                }
                t.sock.shutdown(how)
            }
        }
    }
}

impl TlsStream {
    /// Writes raw bytes, then TLS records, until done or blocked.
    fn push(&mut self) -> io::Result<bool> {
        while self.raw_pos < self.raw.len() {
            match self.sock.write(&self.raw[self.raw_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.raw_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !self.raw.is_empty() {
            self.raw = Vec::new();
            self.raw_pos = 0;
        }
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Checks the first bytes (without consuming them): Go's 400 for a
    /// plaintext HTTP request, `first record does not look like a TLS
    /// handshake` for other non-TLS input. `Ok(false)`: wait for more.
    fn check_first(&mut self) -> io::Result<bool> {
        let mut head = [0u8; 5];
        let n = self.sock.peek(&mut head)?;
        if n == 0 {
            // EOF: the read below reports it.
            self.first = false;
            return Ok(true);
        }
        self.received = true;
        let head = &head[..n];
        if self.http_check {
            if HTTP_STARTS.iter().any(|h| h[..] == *head) {
                self.raw.extend_from_slice(HTTP_ON_TLS_RESPONSE);
                self.first = false;
                return Err(tls_err(HTTP_ON_TLS_REASON));
            }
            if n < 5 && HTTP_STARTS.iter().any(|h| h.starts_with(head)) {
                return Ok(false);
            }
        }
        // Handshake (22) or alert (21) records only, as Go.
        if head[0] != 22 && head[0] != 21 {
            self.first = false;
            return Err(tls_err(NOT_TLS));
        }
        self.first = false;
        Ok(true)
    }

    /// Fills `buf` with plaintext while the socket has records (rustls
    /// reads at most a few KiB per call), so one call yields as much as a
    /// plain read would.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            loop {
                match self.tls.reader().read(&mut buf[filled..]) {
                    // close_notify: report what came before it first.
                    Ok(0) => return Ok(filled),
                    Ok(n) => {
                        filled += n;
                        if filled == buf.len() {
                            return Ok(filled);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // EOF without close_notify: the peer closed.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                    Err(_) if filled > 0 => return Ok(filled),
                    Err(e) => return Err(e),
                }
            }
            if self.eof {
                return Ok(filled);
            }
            if self.first && !self.check_first()? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let was_handshaking = self.tls.is_handshaking();
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => self.eof = true,
                Ok(_) => self.received = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.tls.process_new_packets() {
                if filled > 0 {
                    // Deliver what came before; the error recurs next read.
                    return Ok(filled);
                }
                // The alert rustls queued goes out with the next flush.
                return Err(tls_err(go_tls_error(&e)));
            }
            if was_handshaking && !self.tls.is_handshaking() {
                self.done_unreported = true;
            }
            if self.tls.wants_write() {
                // Handshake messages; what blocks is written at the flush.
                self.push()?;
            }
            if self.eof && self.tls.is_handshaking() {
                return Err(tls_err("EOF"));
            }
        }
    }
}

impl Source for Transport {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.register(r, t, i),
            Transport::Tls(x) => x.sock.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.reregister(r, t, i),
            Transport::Tls(x) => x.sock.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.deregister(r),
            Transport::Tls(x) => x.sock.deregister(r),
        }
    }
}
