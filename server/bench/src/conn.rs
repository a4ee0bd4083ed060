//! One client connection over tokio: TCP, or TCP + WebSocket upgrade, with
//! the NATS handshake (INFO, CONNECT, PING/PONG) and framed reads/writes.

use core::fmt;
use core::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::proto::{Op, Parser, ProtoError, CONNECT};
use crate::ws::{self, Control, Decoder, WsError, MAX_HEADER, OP_BINARY, OP_CLOSE, OP_PONG};

/// Any failure of a bench connection.
#[derive(Debug)]
pub(crate) enum Error {
    /// Socket error.
    Io(std::io::Error),
    /// Bad NATS stream from the server.
    Proto(ProtoError),
    /// Bad WebSocket frame or handshake.
    Ws(WsError),
    /// The server sent `-ERR`.
    Server(String),
    /// The server closed the connection (EOF or a close frame).
    Closed(String),
    /// Anything else (bad URL, refused target...).
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Proto(e) => e.fmt(f),
            Error::Ws(e) => e.fmt(f),
            Error::Server(e) => write!(f, "server sent -ERR {e}"),
            Error::Closed(e) => write!(f, "connection closed by server: {e}"),
            Error::Other(e) => f.write_str(e),
        }
    }
}

impl core::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
impl From<ProtoError> for Error {
    fn from(e: ProtoError) -> Self {
        Error::Proto(e)
    }
}
impl From<WsError> for Error {
    fn from(e: WsError) -> Self {
        Error::Ws(e)
    }
}

/// Where to connect: a loopback address, and whether to upgrade to
/// WebSocket (with the request path and Host header).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) ws: Option<WsTarget>,
}

/// WebSocket parameters of a [`Target`].
#[derive(Debug, Clone)]
pub(crate) struct WsTarget {
    pub(crate) host: String,
    pub(crate) path: String,
    /// Offer permessage-deflate and require the server to accept it.
    pub(crate) compress: bool,
}

impl Target {
    /// Parses `nats://host:port` or `ws://host:port[/path]` (default ports
    /// 4222 and 80). The host must resolve to loopback only: the bench never
    /// sends traffic anywhere else.
    pub(crate) async fn parse(url: &str) -> Result<Target, Error> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::Other(format!("URL without scheme: {url}")))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (is_ws, default_port) = match scheme {
            "nats" => (false, 4222),
            "ws" => (true, 80),
            "wss" | "tls" => return Err(Error::Other(format!("{scheme}:// is not supported yet"))),
            _ => return Err(Error::Other(format!("unknown scheme in {url}"))),
        };
        let has_port = hostport.rsplit_once(':').is_some_and(|(h, p)| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':')
        });
        let lookup = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:{default_port}")
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&lookup)
            .await
            .map_err(|e| Error::Other(format!("cannot resolve {lookup}: {e}")))?
            .collect();
        let addr = addrs
            .iter()
            .copied()
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| Error::Other(format!("{url}: only loopback targets are allowed")))?;
        if addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(Error::Other(format!(
                "{url}: resolves to a non-loopback address; only loopback targets are allowed"
            )));
        }
        Ok(Target {
            addr,
            ws: is_ws.then(|| WsTarget {
                host: lookup,
                path: path.to_string(),
                compress: false,
            }),
        })
    }

    /// "ws" or "tcp".
    pub(crate) fn transport(&self) -> &'static str {
        if self.ws.is_some() {
            "ws"
        } else {
            "tcp"
        }
    }
}

/// Read buffer size of a connection, in bytes.
pub(crate) const READ_BUF: usize = 64 * 1024;

/// An established NATS client connection (after CONNECT and a PONG).
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// WebSocket frame decoder; `None` on plain TCP.
    dec: Option<Decoder>,
    parser: Parser,
    rbuf: Vec<u8>,
    /// Scratch for framing small writes.
    wbuf: Vec<u8>,
    rng: fastrand::Rng,
    /// A NATS PING or WS ping arrived and must be answered.
    pending_pong: bool,
    ws_pong: Vec<u8>,
    /// permessage-deflate was negotiated.
    deflate: bool,
    /// Bytes read from / written to the socket (framing included).
    wire_in: u64,
    wire_out: u64,
}

impl Conn {
    /// Connects and completes the handshake: TCP connect, HTTP upgrade (ws),
    /// wait for INFO, send CONNECT + PING, wait for PONG.
    pub(crate) async fn connect(target: &Target) -> Result<Conn, Error> {
        Self::connect_with_buf(target, READ_BUF).await
    }

    /// As [`Conn::connect`] with a read buffer of `rbuf` bytes.
    pub(crate) async fn connect_with_buf(target: &Target, rbuf: usize) -> Result<Conn, Error> {
        let stream = TcpStream::connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            dec: None,
            parser: Parser::default(),
            rbuf: vec![0; rbuf.max(4096)],
            wbuf: Vec::new(),
            rng: fastrand::Rng::new(),
            pending_pong: false,
            ws_pong: Vec::new(),
            deflate: false,
            wire_in: 0,
            wire_out: 0,
        };
        let mut leftover = Vec::new();
        if let Some(w) = &target.ws {
            let key = ws::new_key(&mut c.rng);
            c.stream
                .write_all(ws::upgrade_request(&w.host, &w.path, &key, w.compress).as_bytes())
                .await?;
            let mut head = Vec::new();
            let end = loop {
                let n = c.stream.read(&mut c.rbuf).await?;
                if n == 0 {
                    return Err(Error::Closed("EOF during WebSocket upgrade".into()));
                }
                head.extend_from_slice(&c.rbuf[..n]);
                if let Some(end) = ws::head_len(&head) {
                    break end;
                }
                if head.len() > 16 * 1024 {
                    return Err(Error::Ws(WsError("response head too long".into())));
                }
            };
            c.deflate = ws::check_response(&head[..end], &key, w.compress)?;
            if w.compress && !c.deflate {
                return Err(Error::Ws(WsError(
                    "server did not accept permessage-deflate (is compression on?)".into(),
                )));
            }
            leftover = head.split_off(end);
            c.dec = Some(if c.deflate {
                Decoder::with_deflate()
            } else {
                Decoder::default()
            });
        }
        // Wait for INFO (it may already be in the bytes after the 101).
        let mut got_info = false;
        if !leftover.is_empty() {
            c.process(&mut leftover, |op| got_info |= matches!(op, Op::Info(_)))?;
        }
        while !got_info {
            c.read_ops(|op| got_info |= matches!(op, Op::Info(_)))
                .await?;
        }
        let mut hello = CONNECT.to_vec();
        hello.extend_from_slice(b"PING\r\n");
        c.send(&hello).await?;
        c.wait_pong().await?;
        Ok(c)
    }

    /// Sends `data` (NATS protocol bytes) in one write; on WebSocket as one
    /// masked binary frame with a fresh random key.
    pub(crate) async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.dec.is_some() {
            self.wbuf.clear();
            let key = self.rng.u32(..).to_ne_bytes();
            ws::push_masked_frame(&mut self.wbuf, OP_BINARY, data, key);
            self.stream.write_all(&self.wbuf).await?;
            self.wire_out += self.wbuf.len() as u64;
        } else {
            self.stream.write_all(data).await?;
            self.wire_out += data.len() as u64;
        }
        Ok(())
    }

    /// Sends a prepared [`Batch`] in one write (re-masked in place with a
    /// fresh key on WebSocket).
    pub(crate) async fn send_batch(&mut self, b: &mut Batch) -> Result<(), Error> {
        let start = if self.dec.is_some() {
            let key = self.rng.u32(..).to_ne_bytes();
            b.remask(key)
        } else {
            MAX_HEADER
        };
        self.stream.write_all(&b.buf[start..]).await?;
        self.wire_out += (b.buf.len() - start) as u64;
        Ok(())
    }

    /// Sends `PING` and reads until the matching `PONG`, ignoring messages
    /// (use [`Conn::read_ops`] directly when they must be counted).
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        self.send(b"PING\r\n").await?;
        self.wait_pong().await
    }

    async fn wait_pong(&mut self) -> Result<(), Error> {
        let mut pong = false;
        while !pong {
            self.read_ops(|op| pong |= matches!(op, Op::Pong)).await?;
        }
        Ok(())
    }

    /// One socket read; every complete operation goes to `on_op` except
    /// `PING` (answered here) and `-ERR` (returned as an error). EOF and a
    /// WebSocket close are errors.
    pub(crate) async fn read_ops<F: FnMut(Op<'_>)>(&mut self, on_op: F) -> Result<(), Error> {
        let n = self.stream.read(&mut self.rbuf).await?;
        if n == 0 {
            return Err(Error::Closed("EOF".into()));
        }
        self.wire_in += n as u64;
        let mut buf = core::mem::take(&mut self.rbuf);
        let r = self.process(&mut buf[..n], on_op);
        self.rbuf = buf;
        r?;
        if self.pending_pong {
            self.pending_pong = false;
            self.send(b"PONG\r\n").await?;
        }
        if !self.ws_pong.is_empty() {
            let payload = core::mem::take(&mut self.ws_pong);
            self.wbuf.clear();
            let key = self.rng.u32(..).to_ne_bytes();
            ws::push_masked_frame(&mut self.wbuf, OP_PONG, &payload, key);
            self.stream.write_all(&self.wbuf).await?;
        }
        Ok(())
    }

    /// Decodes bytes already read from the socket.
    fn process<F: FnMut(Op<'_>)>(&mut self, data: &mut [u8], mut on_op: F) -> Result<(), Error> {
        let mut err: Option<String> = None;
        let mut ping = false;
        let parser = &mut self.parser;
        let mut handle = |op: Op<'_>| match op {
            Op::Ping => ping = true,
            Op::Err(e) => {
                if err.is_none() {
                    err = Some(String::from_utf8_lossy(e).into_owned());
                }
            }
            op => on_op(op),
        };
        match &mut self.dec {
            None => parser.feed(data, &mut handle)?,
            Some(dec) => {
                let ws_pong = &mut self.ws_pong;
                dec.feed::<Error, _, _>(
                    data,
                    |d| Ok(parser.feed(d, &mut handle)?),
                    |c| match c {
                        Control::Ping(p) => {
                            ws_pong.clear();
                            ws_pong.extend_from_slice(p);
                            Ok(())
                        }
                        Control::Pong => Ok(()),
                        Control::Close(code, reason) => Err(Error::Closed(format!(
                            "close frame {} {:?}",
                            code.map_or_else(|| "(no status)".to_string(), |c| c.to_string()),
                            String::from_utf8_lossy(reason)
                        ))),
                    },
                )?
            }
        }
        if let Some(e) = err {
            return Err(Error::Server(e));
        }
        self.pending_pong |= ping;
        Ok(())
    }

    /// Ends the connection politely: a close frame (1000) on WebSocket,
    /// then shutdown of the write side.
    pub(crate) async fn close(mut self) {
        if self.dec.is_some() {
            self.wbuf.clear();
            let key = self.rng.u32(..).to_ne_bytes();
            ws::push_masked_frame(&mut self.wbuf, OP_CLOSE, &1000u16.to_be_bytes(), key);
            let _ = self.stream.write_all(&self.wbuf).await;
        }
        let _ = self.stream.shutdown().await;
    }

    /// A batch of `data` ready for [`Conn::send_batch`]: compressed once
    /// when this connection negotiated permessage-deflate.
    pub(crate) fn batch(&self, data: &[u8]) -> Batch {
        if self.deflate {
            Batch::compressed(data)
        } else {
            Batch::new(data)
        }
    }

    /// Whether permessage-deflate was negotiated.
    pub(crate) fn deflate(&self) -> bool {
        self.deflate
    }

    /// Bytes read from the socket so far (after the handshake too).
    pub(crate) fn wire_in(&self) -> u64 {
        self.wire_in
    }

    /// Bytes written to the socket so far.
    pub(crate) fn wire_out(&self) -> u64 {
        self.wire_out
    }

    /// Gives up the buffers and keeps only the socket (for idle connections).
    pub(crate) fn into_stream(self) -> TcpStream {
        self.stream
    }
}

/// A reusable batch of protocol bytes with room for a WebSocket header in
/// front, so a publisher writes the same batch many times with one write
/// each and no copy: on WebSocket the payload is re-masked in place.
#[derive(Debug)]
pub(crate) struct Batch {
    buf: Vec<u8>,
    /// Key the payload is currently masked with (all zero = plain).
    key: [u8; 4],
    /// First header byte's opcode bits (with RSV1 when compressed).
    opcode: u8,
}

impl Batch {
    /// A batch holding `data`.
    pub(crate) fn new(data: &[u8]) -> Batch {
        let mut buf = Vec::with_capacity(MAX_HEADER + data.len());
        buf.extend_from_slice(&[0; MAX_HEADER]);
        buf.extend_from_slice(data);
        Batch {
            buf,
            key: [0; 4],
            opcode: OP_BINARY,
        }
    }

    /// A batch holding `data` compressed as one permessage-deflate message
    /// (WebSocket only). The same bytes are sent every time: without context
    /// takeover equal input compresses to equal output.
    pub(crate) fn compressed(data: &[u8]) -> Batch {
        let mut b = Batch::new(&ws::deflate_message(data));
        b.opcode = OP_BINARY | ws::RSV1;
        b
    }

    /// Re-masks the payload with `key` (XOR with old ⊕ new, one pass),
    /// writes the frame header in front of it and returns where the frame
    /// starts in the buffer.
    fn remask(&mut self, key: [u8; 4]) -> usize {
        let delta = [
            self.key[0] ^ key[0],
            self.key[1] ^ key[1],
            self.key[2] ^ key[2],
            self.key[3] ^ key[3],
        ];
        ws::mask(&mut self.buf[MAX_HEADER..], delta);
        self.key = key;
        let len = self.buf.len() - MAX_HEADER;
        let mut h = [0u8; MAX_HEADER];
        let n = ws::header_into(&mut h, self.opcode, len, Some(key));
        self.buf[..MAX_HEADER].copy_from_slice(&h);
        MAX_HEADER - n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_remask_produces_valid_frames_each_time() {
        let data = b"PUB a 3\r\nabc\r\nPUB a 3\r\nxyz\r\n".to_vec();
        let mut b = Batch::new(&data);
        for key in [[1u8, 2, 3, 4], [0xff, 0, 0x10, 0x20], [9, 9, 9, 9]] {
            let start = b.remask(key);
            let frame = b.buf[start..].to_vec();
            let mut want = Vec::new();
            ws::push_masked_frame(&mut want, OP_BINARY, &data, key);
            assert_eq!(frame, want);
        }
    }

    #[tokio::test]
    async fn target_urls() {
        let t = Target::parse("nats://127.0.0.1:4333").await.unwrap();
        assert_eq!(t.addr, "127.0.0.1:4333".parse().unwrap());
        assert_eq!(t.transport(), "tcp");
        let t = Target::parse("ws://127.0.0.1:8080/some/path")
            .await
            .unwrap();
        let w = t.ws.unwrap();
        assert_eq!(
            (w.host.as_str(), w.path.as_str()),
            ("127.0.0.1:8080", "/some/path")
        );
        let t = Target::parse("ws://127.0.0.1").await.unwrap();
        assert_eq!(t.addr.port(), 80);
        assert!(Target::parse("nats://10.1.2.3:4222").await.is_err());
        assert!(Target::parse("http://127.0.0.1:1").await.is_err());
        assert!(Target::parse("127.0.0.1:1").await.is_err());
    }
}
