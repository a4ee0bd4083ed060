//! A raw MQTT 3.1.1 client over TCP for the black-box tests: packets built
//! with core's client encoders, read back whole with deadlines (never
//! sleeps), and the configuration both natsws and nats-server (which needs
//! JetStream and a server name for MQTT) start with.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use natsws_core::mqtt::codec::client;

use super::{is_timeout, Server, TempDir, DEADLINE};

/// A config with a client port, an MQTT port and `extra` (inside the top
/// level); the reference gets the JetStream store it needs for MQTT in
/// `dir`.
pub fn conf(dir: &TempDir, mqtt_extra: &str, extra: &str) -> String {
    format!(
        r#"
host: 127.0.0.1
port: -1
server_name: mqtt_test
jetstream {{ store_dir: "{}" }}
mqtt {{
  host: 127.0.0.1
  port: -1
  {mqtt_extra}
}}
{extra}
"#,
        dir.0.display()
    )
}

/// Starts a server with [`conf`]; returns it, its store dir and the MQTT
/// port.
pub fn start(mqtt_extra: &str, extra: &str) -> (Server, TempDir, u16) {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, mqtt_extra, extra));
    let port = s.mqtt_port.expect("MQTT port logged");
    (s, dir, port)
}

/// One packet: byte 1 and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub b0: u8,
    pub body: Vec<u8>,
}

impl Pkt {
    /// Packet type.
    pub fn kind(&self) -> u8 {
        self.b0 >> 4
    }
    /// PUBLISH fields: (dup, qos, retain, topic, id, payload).
    pub fn publish(&self) -> (bool, u8, bool, String, u16, Vec<u8>) {
        assert_eq!(self.kind(), 3, "not a PUBLISH: {self:?}");
        let qos = (self.b0 >> 1) & 3;
        let tl = usize::from(u16::from_be_bytes([self.body[0], self.body[1]]));
        let topic = String::from_utf8(self.body[2..2 + tl].to_vec()).unwrap();
        let mut at = 2 + tl;
        let mut id = 0;
        if qos > 0 {
            id = u16::from_be_bytes([self.body[at], self.body[at + 1]]);
            at += 2;
        }
        (
            self.b0 & 8 != 0,
            qos,
            self.b0 & 1 != 0,
            topic,
            id,
            self.body[at..].to_vec(),
        )
    }
    /// The packet identifier of an acknowledgement.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.body[0], self.body[1]])
    }
}

/// A raw MQTT client.
pub struct Mqtt {
    pub sock: TcpStream,
    pub buf: Vec<u8>,
}

impl Mqtt {
    /// A TCP connection to `port` (nothing sent).
    pub fn open(port: u16) -> Mqtt {
        let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        sock.set_nodelay(true).unwrap();
        Mqtt {
            sock,
            buf: Vec::new(),
        }
    }

    /// Connects with a clean or persistent session and returns the CONNACK
    /// (session present, return code).
    pub fn connect(port: u16, id: &str, clean: bool) -> (Mqtt, (u8, u8)) {
        Self::connect_with(port, id, clean, 0, None, None, None)
    }

    /// Connects with every CONNECT field.
    pub fn connect_with(
        port: u16,
        id: &str,
        clean: bool,
        keep_alive: u16,
        will: Option<(&str, &[u8], u8, bool)>,
        user: Option<&str>,
        pass: Option<&str>,
    ) -> (Mqtt, (u8, u8)) {
        let mut m = Mqtt::open(port);
        let mut v = Vec::new();
        client::connect(
            &mut v,
            id.as_bytes(),
            clean,
            keep_alive,
            will.map(|(t, p, q, r)| (t.as_bytes(), p, q, r)),
            user.map(str::as_bytes),
            pass.map(str::as_bytes),
        );
        m.send(&v);
        let ack = m.read();
        assert_eq!(ack.b0, 0x20, "CONNACK expected: {ack:?}");
        let r = (ack.body[0], ack.body[1]);
        (m, r)
    }

    pub fn send(&mut self, b: &[u8]) {
        self.sock.write_all(b).expect("write");
    }

    /// Sends SUBSCRIBE (id) and returns the SUBACK codes.
    pub fn subscribe(&mut self, id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
        let f: Vec<(&[u8], u8)> = filters.iter().map(|(f, q)| (f.as_bytes(), *q)).collect();
        let mut v = Vec::new();
        client::subscribe(&mut v, id, &f);
        self.send(&v);
        let ack = self.read();
        assert_eq!(ack.b0, 0x90, "SUBACK expected: {ack:?}");
        assert_eq!(ack.id(), id);
        ack.body[2..].to_vec()
    }

    /// Sends a PUBLISH.
    pub fn publish(&mut self, qos: u8, retain: bool, topic: &str, id: u16, payload: &[u8]) {
        let mut v = Vec::new();
        client::publish(&mut v, qos, retain, topic.as_bytes(), id, payload);
        self.send(&v);
    }

    /// Sends a 4-byte acknowledgement (`t` the packet type).
    pub fn ack(&mut self, t: u8, id: u16) {
        let flags = if t == 6 { 2 } else { 0 };
        let [hi, lo] = id.to_be_bytes();
        self.send(&[(t << 4) | flags, 2, hi, lo]);
    }

    fn parse(&mut self) -> Option<Pkt> {
        if self.buf.len() < 2 {
            return None;
        }
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let b = *self.buf.get(i)?;
            len |= usize::from(b & 0x7f) << (7 * (i - 1));
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if self.buf.len() < i + len {
            return None;
        }
        let p = Pkt {
            b0: self.buf[0],
            body: self.buf[i..i + len].to_vec(),
        };
        self.buf.drain(..i + len);
        Some(p)
    }

    /// Reads the next packet within `wait`; `None` when none came.
    pub fn try_read(&mut self, wait: Duration) -> Option<Pkt> {
        let until = Instant::now() + wait;
        loop {
            if let Some(p) = self.parse() {
                return Some(p);
            }
            if Instant::now() >= until {
                return None;
            }
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => panic!("closed while reading; have {:x?}", self.buf),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read error {e}"),
            }
        }
    }

    /// Reads the next packet (fails after the deadline).
    pub fn read(&mut self) -> Pkt {
        self.try_read(DEADLINE)
            .expect("a packet within the deadline")
    }

    /// Reads until the server closes; returns what came before, and how
    /// long it took.
    pub fn read_to_close(&mut self) -> (Vec<u8>, Duration) {
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < DEADLINE, "server did not close");
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        (std::mem::take(&mut self.buf), start.elapsed())
    }
}

/// Reads one whole MQTT packet from a WebSocket connection's byte stream
/// (MQTT over WebSocket: packets may span frames and frames may hold
/// several packets).
pub fn ws_packet(w: &mut super::WsRaw) -> Vec<u8> {
    let complete = |b: &[u8]| -> Option<usize> {
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let x = *b.get(i)?;
            len |= usize::from(x & 0x7f) << (7 * (i - 1));
            i += 1;
            if x & 0x80 == 0 {
                break;
            }
        }
        (b.len() >= i + len).then_some(i + len)
    };
    w.read_until("an MQTT packet", |w| complete(&w.buf).is_some());
    let n = complete(&w.buf).unwrap();
    w.buf.drain(..n).collect()
}
