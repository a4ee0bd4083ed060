//! The TLS read path against a scripted socket: a real rustls client
//! makes the ciphertext, the socket hands it over in the pieces a script
//! says (data, `WouldBlock`, EOF), and the plaintext read back is compared.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::*;

/// One step of the scripted socket.
enum Step {
    /// Bytes readable now (a read takes what fits, the rest stays).
    Data(Vec<u8>),
    /// One read says `WouldBlock`.
    Block,
    /// The peer closed: every read says `Ok(0)`.
    Eof,
}

/// A socket that plays a script and records what is written to it.
#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    out: Vec<u8>,
    /// Read calls (syscalls on a real socket).
    reads: usize,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        match self.steps.front_mut() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Step::Block) => {
                self.steps.pop_front();
                Err(io::ErrorKind::WouldBlock.into())
            }
            Some(Step::Eof) => Ok(0),
            Some(Step::Data(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                d.drain(..n);
                if d.is_empty() {
                    self.steps.pop_front();
                }
                Ok(n)
            }
        }
    }
}

impl Write for Script {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Wire for Script {
    fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.steps.front() {
            None | Some(Step::Block) => Err(io::ErrorKind::WouldBlock.into()),
            Some(Step::Eof) => Ok(0),
            Some(Step::Data(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
        }
    }
}

fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::try_from(ck.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(der).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Moves everything the client has queued into `out`.
fn client_out(c: &mut ClientConnection, out: &mut Vec<u8>) {
    while c.wants_write() {
        c.write_tls(out).unwrap();
    }
}

/// A server session over a script, its handshake done with `c`.
fn established(http_check: bool) -> (ClientConnection, TlsStream<Script>, TlsScratch) {
    let (sc, cc) = configs();
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(cc, name).unwrap();
    c.set_buffer_limit(None);
    let server = ServerConnection::new(sc).unwrap();
    let mut s = TlsStream::server(Script::default(), server, http_check);
    let mut scratch = TlsScratch::default();
    let mut buf = [0u8; 1024];
    for _ in 0..10 {
        if !c.is_handshaking() && !s.tls.is_handshaking() {
            break;
        }
        let mut out = Vec::new();
        client_out(&mut c, &mut out);
        if !out.is_empty() {
            s.sock.steps.push_back(Step::Data(out));
        }
        match s.read(&mut buf, scratch.get()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => panic!("handshake read: {r:?}"),
        }
        let back = std::mem::take(&mut s.sock.out);
        let mut rd = &back[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets().unwrap();
        }
    }
    assert!(!c.is_handshaking() && !s.tls.is_handshaking());
    assert!(std::mem::take(&mut s.done_unreported), "handshake reported");
    // The client's Finished (TLS 1.3) may still be queued.
    let mut out = Vec::new();
    client_out(&mut c, &mut out);
    if !out.is_empty() {
        s.sock.steps.push_back(Step::Data(out));
    }
    (c, s, scratch)
}

/// `plain` encrypted by the client.
fn seal(c: &mut ClientConnection, plain: &[u8]) -> Vec<u8> {
    c.writer().write_all(plain).unwrap();
    let mut out = Vec::new();
    client_out(c, &mut out);
    out
}

/// A recognisable pattern of `n` bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Reads with `buf_len`-byte buffers until the socket blocks, EOF or an
/// error; returns the plaintext and how the reads ended.
fn read_all(
    s: &mut TlsStream<Script>,
    scratch: &mut TlsScratch,
    buf_len: usize,
) -> (Vec<u8>, io::Result<usize>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; buf_len];
    for _ in 0..1_000_000 {
        match s.read(&mut buf, scratch.get()) {
            Ok(0) => return (got, Ok(0)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && s.sock.steps.is_empty() => {
                return (got, Err(e))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return (got, Err(e)),
        }
    }
    panic!("read loop did not end");
}

#[test]
fn burst_is_read_in_large_socket_reads() {
    let (mut c, mut s, mut scratch) = established(false);
    let plain = pattern(2 << 20);
    let cipher = seal(&mut c, &plain);
    s.sock.steps.push_back(Step::Data(cipher.clone()));
    s.sock.reads = 0;
    let (got, end) = read_all(&mut s, &mut scratch, 64 * 1024);
    assert_eq!(got.len(), plain.len());
    assert!(got == plain, "plaintext intact and in order");
    assert_eq!(end.unwrap_err().kind(), io::ErrorKind::WouldBlock);
    // 64 KiB buffer: 48 KiB per socket read (room for a record in
    // progress), where rustls's own read_tls would take 4 KiB (513
    // reads); a few more for the client's Finished and the WouldBlocks.
    assert!(
        s.sock.reads <= cipher.len() / (32 * 1024),
        "{} socket reads for {} bytes",
        s.sock.reads,
        cipher.len()
    );
    assert_eq!(s.backlog.capacity(), 0, "no backlog with a 64 KiB buffer");
    assert!(s.drained, "the last read ran the socket dry");
}

#[test]
fn small_buffer_keeps_ciphertext_in_a_backlog_until_fed() {
    let (mut c, mut s, mut scratch) = established(false);
    let plain = pattern(300_000);
    s.sock.steps.push_back(Step::Data(seal(&mut c, &plain)));
    let mut buf = [0u8; 100];
    assert_eq!(s.read(&mut buf, scratch.get()).unwrap(), 100);
    assert_eq!(buf[..], plain[..100]);
    assert!(s.backlog.len() > s.backlog_pos, "ciphertext held back");
    assert!(!s.drained, "buffered input: the loop must read again");
    let (got, end) = read_all(&mut s, &mut scratch, 100);
    assert_eq!(end.unwrap_err().kind(), io::ErrorKind::WouldBlock);
    assert!(got[..] == plain[100..], "plaintext intact and in order");
    assert_eq!(s.backlog.capacity(), 0, "backlog released once fed");
    assert_eq!(s.backlog_pos, 0);
}

#[test]
fn ciphertext_in_odd_pieces_and_buffer_sizes() {
    let (mut c, mut s, mut scratch) = established(false);
    let plain = pattern(200_000);
    let cipher = seal(&mut c, &plain);
    let sizes = [1usize, 7, 4096, 5, 18_000, 3, 70_000, 16_389, 2];
    let mut rest = &cipher[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        s.sock.steps.push_back(Step::Data(rest[..n].to_vec()));
        s.sock.steps.push_back(Step::Block);
        rest = &rest[n..];
        i += 1;
    }
    for buf_len in [64 * 1024, 3000, 17] {
        let (mut c2, mut s2, mut scratch2) = established(false);
        let cipher2 = seal(&mut c2, &plain);
        let mut rest = &cipher2[..];
        let mut i = buf_len;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            s2.sock.steps.push_back(Step::Data(rest[..n].to_vec()));
            s2.sock.steps.push_back(Step::Block);
            rest = &rest[n..];
            i += 1;
        }
        let (got, end) = read_all(&mut s2, &mut scratch2, buf_len);
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(got == plain, "buffer {buf_len}: plaintext intact");
    }
    let (got, _) = read_all(&mut s, &mut scratch, 64 * 1024);
    assert!(got == plain);
}

#[test]
fn drained_only_once_the_socket_ran_dry() {
    let (mut c, mut s, mut scratch) = established(false);
    s.sock
        .steps
        .push_back(Step::Data(seal(&mut c, &pattern(200_000))));
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf, scratch.get()).unwrap();
    assert!(n < buf.len(), "room left for a record in progress");
    assert!(!s.drained, "the socket still has data");
    let mut total = n;
    while !s.drained {
        match s.read(&mut buf, scratch.get()) {
            Ok(n) => total += n,
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                assert!(s.drained, "WouldBlock means drained");
            }
        }
    }
    assert_eq!(total, 200_000);
    // Nothing buffered anywhere: the next read only finds WouldBlock.
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn error_comes_after_the_plaintext_before_it() {
    let (mut c, mut s, mut scratch) = established(false);
    let mut input = seal(&mut c, b"PING\r\n");
    // An application-data record that does not decrypt.
    input.extend_from_slice(&[23, 3, 3, 0, 40]);
    input.extend_from_slice(&[0x55; 40]);
    s.sock.steps.push_back(Step::Data(input));
    let mut buf = [0u8; 1024];
    assert_eq!(s.read(&mut buf, scratch.get()).unwrap(), 6);
    assert_eq!(&buf[..6], b"PING\r\n");
    // The socket has nothing more: the error still surfaces.
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(s.tls.wants_write(), "the alert is queued for the peer");
}

#[test]
fn error_with_nothing_before_it_is_immediate() {
    let (_c, mut s, mut scratch) = established(false);
    let mut input = vec![23, 3, 3, 0, 40];
    input.extend_from_slice(&[0x55; 40]);
    s.sock.steps.push_back(Step::Data(input));
    let mut buf = [0u8; 1024];
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn close_notify_after_data_reads_data_then_zero() {
    let (mut c, mut s, mut scratch) = established(false);
    let mut input = seal(&mut c, &pattern(100_000));
    c.send_close_notify();
    client_out(&mut c, &mut input);
    s.sock.steps.push_back(Step::Data(input));
    let (got, end) = read_all(&mut s, &mut scratch, 64 * 1024);
    assert!(got == pattern(100_000));
    assert_eq!(end.unwrap(), 0);
}

#[test]
fn eof_after_data_reads_data_then_zero() {
    let (mut c, mut s, mut scratch) = established(false);
    s.sock
        .steps
        .push_back(Step::Data(seal(&mut c, &pattern(70_000))));
    s.sock.steps.push_back(Step::Eof);
    for buf_len in [64 * 1024, 1000] {
        let (got, end) = read_all(&mut s, &mut scratch, buf_len);
        assert_eq!(end.unwrap(), 0);
        if buf_len == 1000 {
            assert!(got.is_empty(), "EOF again");
        } else {
            assert!(got == pattern(70_000));
        }
    }
}

#[test]
fn eof_during_handshake_is_an_error() {
    let (sc, _) = configs();
    let mut s = TlsStream::server(Script::default(), ServerConnection::new(sc).unwrap(), false);
    s.sock
        .steps
        .push_back(Step::Data(vec![22, 3, 1, 0, 200, 1]));
    s.sock.steps.push_back(Step::Eof);
    let mut scratch = TlsScratch::default();
    let mut buf = [0u8; 1024];
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.to_string(), "EOF");
}

#[test]
fn first_bytes_checked_before_tls() {
    let (sc, _) = configs();
    let mut scratch = TlsScratch::default();
    let mut buf = [0u8; 1024];
    // Plain HTTP on a TLS websocket port: Go's 400, queued raw.
    let mut s = TlsStream::server(
        Script::default(),
        ServerConnection::new(sc.clone()).unwrap(),
        true,
    );
    s.sock
        .steps
        .push_back(Step::Data(b"GET / HTTP/1.1\r\n\r\n".to_vec()));
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.to_string(), HTTP_ON_TLS_REASON);
    assert_eq!(s.raw, HTTP_ON_TLS_RESPONSE);
    // A prefix of an HTTP method: wait for more.
    let mut s = TlsStream::server(
        Script::default(),
        ServerConnection::new(sc.clone()).unwrap(),
        true,
    );
    s.sock.steps.push_back(Step::Data(b"GE".to_vec()));
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    // Anything else that is not a handshake record: Go's crypto/tls error.
    let mut s = TlsStream::server(Script::default(), ServerConnection::new(sc).unwrap(), false);
    s.sock
        .steps
        .push_back(Step::Data(b"CONNECT {}\r\n".to_vec()));
    let e = s.read(&mut buf, scratch.get()).unwrap_err();
    assert_eq!(e.to_string(), NOT_TLS);
}
