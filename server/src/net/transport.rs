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
//!
//! Reads take ciphertext from the socket in large chunks (up to
//! [`TLS_READ`] bytes into the event loop's [`TlsScratch`]) and feed rustls
//! from that slice: rustls's own `read_tls` takes at most 4 KiB per call,
//! one syscall per 4 KiB. Ciphertext that could not be fed because the
//! caller's buffer filled is kept per connection (allocated only then,
//! released once fed) and goes to rustls first on the next read.

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

/// Largest socket read of TLS ciphertext, bytes (the size of
/// [`TlsScratch`]).
pub(crate) const TLS_READ: usize = 64 * 1024;

/// Plaintext one partly received TLS record may still yield, bytes (RFC
/// 8446 section 5.1: at most 2^14): a socket read leaves this much room in
/// the caller's buffer so the plaintext it completes fits.
const RECORD_PLAINTEXT: usize = 16 * 1024;

/// Smallest socket read worth a syscall once some plaintext is ready,
/// bytes: with less room left the read returns what it has.
const MIN_READ: usize = 4 * 1024;

/// Ciphertext scratch shared by the TLS connections of one event loop:
/// [`TLS_READ`] bytes, allocated at the first TLS read.
#[derive(Default)]
pub(crate) struct TlsScratch {
    buf: Vec<u8>,
}

impl TlsScratch {
    /// The scratch bytes (allocated on first use).
    fn get(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = vec![0; TLS_READ];
        }
        &mut self.buf
    }
}

/// What a TLS session runs over: the accepted TCP socket (a scripted
/// socket in the unit tests).
pub(crate) trait Wire: Read + Write {
    /// Copies the first unread bytes without consuming them (`recv` with
    /// `MSG_PEEK`).
    ///
    /// # Errors
    /// Socket errors, `WouldBlock` when nothing arrived yet.
    fn peek(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl Wire for TcpStream {
    fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::peek(self, buf)
    }
}

/// A TLS session over a socket.
pub(crate) struct TlsStream<S = TcpStream> {
    sock: S,
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
    /// Ciphertext read from the socket but not yet fed to rustls (the
    /// caller's buffer filled first); empty, unallocated, most of the time.
    backlog: Vec<u8>,
    /// How much of `backlog` rustls has taken.
    backlog_pos: usize,
    /// rustls failed after plaintext that was delivered first: the next
    /// read reports the (sticky) error.
    error_pending: bool,
    /// The last read ended on the socket's `WouldBlock` with nothing
    /// buffered: more input raises a new readable event.
    drained: bool,
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
            Ok(tls) => Ok(Transport::Tls(Box::new(TlsStream::server(
                sock, tls, http_check,
            )))),
            Err(e) => Err((sock, e)),
        }
    }

    /// Wraps a solicited socket whose client handshake `tls` completed
    /// (a leafnode remote's dialer did it: `crate::net::leaf_dial`).
    pub(crate) fn tls_client(sock: TcpStream, tls: ClientConnection) -> Transport {
        let mut t = TlsStream::new(sock, Connection::Client(tls));
        t.first = false;
        t.received = true;
        Transport::Tls(Box::new(t))
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

    /// Application bytes from the peer. `Ok(0)` = the peer closed. TLS
    /// reads its ciphertext through `scratch` (see [`TlsScratch`]).
    ///
    /// # Errors
    /// Socket errors; TLS errors as `InvalidData` with Go's wording where
    /// known (the alert owed to the peer is queued: flush before closing).
    pub(crate) fn read(&mut self, buf: &mut [u8], scratch: &mut TlsScratch) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf, scratch.get()),
        }
    }

    /// After a [`Transport::read`] that returned fewer bytes than asked:
    /// true when that read emptied the socket and nothing is buffered, so
    /// edge-triggered polling signals the next input and the read that
    /// would only say `WouldBlock` can be skipped. Plain TCP: always (a
    /// short read empties the socket). TLS: only when the socket said
    /// `WouldBlock` during the read (a short TLS read may also mean room
    /// was left for a record in progress, or that data is held back).
    pub(crate) fn drained(&self) -> bool {
        match self {
            Transport::Plain(_) => true,
            Transport::Tls(t) => t.drained,
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

impl<S: Wire> TlsStream<S> {
    /// A fresh session over `sock`: nothing received or buffered.
    fn new(sock: S, tls: Connection) -> TlsStream<S> {
        TlsStream {
            sock,
            tls,
            raw: Vec::new(),
            raw_pos: 0,
            first: true,
            http_check: false,
            done_unreported: false,
            eof: false,
            received: false,
            backlog: Vec::new(),
            backlog_pos: 0,
            error_pending: false,
            drained: false,
        }
    }

    /// An accepted connection's server session; its first bytes are
    /// checked ([`TlsStream::check_first`]).
    fn server(sock: S, tls: ServerConnection, http_check: bool) -> TlsStream<S> {
        let mut t = TlsStream::new(sock, Connection::Server(tls));
        t.http_check = http_check;
        t
    }

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

    /// Fills `buf` with plaintext: what rustls holds, then the backlog,
    /// then socket reads into `scratch` while the socket fills them and
    /// `buf` has room for a read plus one record in progress, until it
    /// says `WouldBlock` ([`TlsStream::drained`] then). Errors come
    /// after the plaintext that preceded them (the next call reports
    /// them); close_notify and EOF likewise (`Ok(0)` on the next call).
    fn read(&mut self, buf: &mut [u8], scratch: &mut [u8]) -> io::Result<usize> {
        self.drained = false;
        let mut filled = 0;
        if self.drain(buf, &mut filled)? {
            return Ok(filled);
        }
        if self.error_pending {
            if filled > 0 {
                return Ok(filled);
            }
            if let Err(e) = self.tls.process_new_packets() {
                return Err(tls_err(go_tls_error(&e)));
            }
            self.error_pending = false;
        }
        if self.eof {
            return Ok(filled);
        }
        if self.first && !self.check_first()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.feed_backlog(buf, &mut filled)? {
            return Ok(filled);
        }
        loop {
            let mut want = (buf.len() - filled)
                .saturating_sub(RECORD_PLAINTEXT)
                .min(scratch.len());
            if want < MIN_READ {
                if filled > 0 {
                    return Ok(filled);
                }
                // A small caller buffer: what does not fit waits in the
                // backlog.
                want = MIN_READ.min(scratch.len());
            }
            let n = match self.sock.read(&mut scratch[..want]) {
                Ok(0) => {
                    self.eof = true;
                    if self.tls.is_handshaking() {
                        return Err(tls_err("EOF"));
                    }
                    return Ok(filled);
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.drained = true;
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
                Err(_) if filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            };
            self.received = true;
            let mut data = &scratch[..n];
            if self.feed(&mut data, buf, &mut filled)? {
                self.backlog.extend_from_slice(data);
                return Ok(filled);
            }
            // Even after a short read the socket is read again: only
            // `WouldBlock` proves it empty (a FIN that came with the data
            // raises no new edge).
        }
    }

    /// Feeds the backlog to rustls first; `Ok(true)`: stop reading (see
    /// [`TlsStream::feed`]). The backlog is released once fed.
    fn feed_backlog(&mut self, buf: &mut [u8], filled: &mut usize) -> io::Result<bool> {
        if self.backlog_pos == self.backlog.len() {
            return Ok(false);
        }
        let backlog = std::mem::take(&mut self.backlog);
        let mut rest = &backlog[self.backlog_pos..];
        let stop = self.feed(&mut rest, buf, filled);
        let left = rest.len();
        if left == 0 {
            self.backlog_pos = 0;
        } else {
            self.backlog_pos = backlog.len() - left;
            self.backlog = backlog;
        }
        stop
    }

    /// Feeds ciphertext to rustls (it takes up to a few KiB per call),
    /// processing records and moving their plaintext into `buf` as it goes.
    /// `Ok(true)`: stop reading (`buf` is full, the peer closed, or an
    /// error waits behind plaintext); `data` then holds what was not fed.
    ///
    /// # Errors
    /// TLS errors (with no plaintext before them), socket errors writing
    /// handshake messages.
    fn feed(&mut self, data: &mut &[u8], buf: &mut [u8], filled: &mut usize) -> io::Result<bool> {
        while !data.is_empty() {
            if self.drain(buf, filled)? {
                return Ok(true);
            }
            let was_handshaking = self.tls.is_handshaking();
            match self.tls.read_tls(data) {
                // After close_notify rustls takes nothing more.
                Ok(0) => *data = &[],
                Ok(_) => {}
                // The error recurs when the rest is fed next time.
                Err(_) if *filled > 0 => return Ok(true),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.tls.process_new_packets() {
                // Records before the bad one were decrypted: deliver them.
                self.drain(buf, filled)?;
                if *filled > 0 {
                    self.error_pending = true;
                    return Ok(true);
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
        }
        self.drain(buf, filled)
    }

    /// Moves the plaintext rustls holds into `buf[*filled..]`. `Ok(true)`:
    /// stop reading (`buf` is full, close_notify or EOF reached, or a read
    /// error after some plaintext).
    fn drain(&mut self, buf: &mut [u8], filled: &mut usize) -> io::Result<bool> {
        loop {
            if *filled == buf.len() {
                return Ok(true);
            }
            match self.tls.reader().read(&mut buf[*filled..]) {
                // close_notify: what came before it is reported first.
                Ok(0) => return Ok(true),
                Ok(n) => *filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                // EOF without close_notify: the peer closed.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(true),
                Err(_) if *filled > 0 => return Ok(true),
                Err(e) => return Err(e),
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

#[cfg(test)]
mod tests;
